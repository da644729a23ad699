package client

import (
	"context"
	"net/url"
	"strconv"
	"time"
)

func listQuery(o ListOptions) url.Values {
	q := url.Values{}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	return q
}

func idPath(id int64) string { return strconv.FormatInt(id, 10) }

// ---- BotGuard-compatible routes ----

// Websites lists every website (not deleted).
//
// Operation: GET /website
func (c *Client) Websites(ctx context.Context) ([]Website, error) {
	var out []Website
	return out, c.call(ctx, "GET", "/website", nil, nil, Options{}, &out)
}

// CreateWebsite registers a website and charges its plan.
//
// Operation: POST /website
func (c *Client) CreateWebsite(ctx context.Context, w WebsiteCreate, o ...Options) (Website, error) {
	var out Website
	return out, c.call(ctx, "POST", "/website", nil, w, opts(o), &out)
}

// Website returns one website.
//
// Operation: GET /website/{domain}
func (c *Client) Website(ctx context.Context, domain string) (Website, error) {
	var out Website
	return out, c.call(ctx, "GET", "/website/"+pathEscape(domain), nil, nil, Options{}, &out)
}

// SetWebsiteStatus pauses ("paused") or resumes ("online") a website.
//
// Operation: PUT /website/{domain}
func (c *Client) SetWebsiteStatus(ctx context.Context, domain, status string, o ...Options) (Website, error) {
	var out Website
	return out, c.call(ctx, "PUT", "/website/"+pathEscape(domain), nil, map[string]string{"status": status}, opts(o), &out)
}

// DeleteWebsite deregisters a website (final; nothing is refunded).
//
// Operation: DELETE /website/{domain}
func (c *Client) DeleteWebsite(ctx context.Context, domain string, o ...Options) (Website, error) {
	var out Website
	return out, c.call(ctx, "DELETE", "/website/"+pathEscape(domain), nil, nil, opts(o), &out)
}

// FindUsers lists subaccounts, or the one with email ("" for all).
//
// Operation: GET /user
func (c *Client) FindUsers(ctx context.Context, email string) ([]User, error) {
	var q url.Values
	if email != "" {
		q = url.Values{"email": {email}}
	}
	var out []User
	return out, c.call(ctx, "GET", "/user", q, nil, Options{}, &out)
}

// CreateUserCompat creates a subaccount through the compatible route.
//
// Operation: POST /user
func (c *Client) CreateUserCompat(ctx context.Context, u UserCreate, o ...Options) (User, error) {
	var out User
	return out, c.call(ctx, "POST", "/user", nil, u, opts(o), &out)
}

// DeleteUserCompat deletes a subaccount without websites.
//
// Operation: DELETE /user/{id}
func (c *Client) DeleteUserCompat(ctx context.Context, id int64) (Deleted, error) {
	var out Deleted
	return out, c.call(ctx, "DELETE", "/user/"+idPath(id), nil, nil, Options{}, &out)
}

// ---- /v1 ----

// Plans lists the plans on sale.
//
// Operation: GET /v1/plans
func (c *Client) Plans(ctx context.Context) ([]Plan, error) {
	var out Page[Plan]
	return out.Data, c.call(ctx, "GET", "/v1/plans", nil, nil, Options{}, &out)
}

// WebsiteFilter narrows ListWebsites.
type WebsiteFilter struct {
	Status string // setup, online, paused, deleted
	User   int64
	Domain string // contains
	Plan   string
	ListOptions
}

// ListWebsites lists websites a page at a time.
//
// Operation: GET /v1/websites
func (c *Client) ListWebsites(ctx context.Context, f WebsiteFilter) (Page[Website], error) {
	q := listQuery(f.ListOptions)
	for k, v := range map[string]string{"status": f.Status, "domain": f.Domain, "plan": f.Plan} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.User > 0 {
		q.Set("user", idPath(f.User))
	}
	var out Page[Website]
	return out, c.call(ctx, "GET", "/v1/websites", q, nil, Options{}, &out)
}

// RegisterWebsite is CreateWebsite on /v1 (unknown fields refused).
//
// Operation: POST /v1/websites
func (c *Client) RegisterWebsite(ctx context.Context, w WebsiteCreate, o ...Options) (Website, error) {
	var out Website
	return out, c.call(ctx, "POST", "/v1/websites", nil, w, opts(o), &out)
}

// GetWebsite returns one website; its ETag serves Options.IfMatch.
//
// Operation: GET /v1/websites/{domain}
func (c *Client) GetWebsite(ctx context.Context, domain string) (Website, error) {
	var out Website
	return out, c.call(ctx, "GET", "/v1/websites/"+pathEscape(domain), nil, nil, Options{}, &out)
}

// WebsiteUpdate changes a website; nil (or empty) fields stay as they
// are. The server applies all of them in one transaction, or none.
type WebsiteUpdate struct {
	Status *string `json:"status,omitempty"` // paused or online
	User   *int64  `json:"user,omitempty"`   // 0 detaches
	Plan   string  `json:"plan,omitempty"`   // another plan, as ChangePlan
}

// UpdateWebsite changes a website's status, owner or plan, all at once.
//
// Operation: PATCH /v1/websites/{domain}
func (c *Client) UpdateWebsite(ctx context.Context, domain string, u WebsiteUpdate, o ...Options) (Website, error) {
	var out Website
	return out, c.call(ctx, "PATCH", "/v1/websites/"+pathEscape(domain), nil, u, opts(o), &out)
}

// DeregisterWebsite is DeleteWebsite on /v1.
//
// Operation: DELETE /v1/websites/{domain}
func (c *Client) DeregisterWebsite(ctx context.Context, domain string, o ...Options) (Website, error) {
	var out Website
	return out, c.call(ctx, "DELETE", "/v1/websites/"+pathEscape(domain), nil, nil, opts(o), &out)
}

// ChangePlan moves a website to another plan, charging an upgrade pro
// rata; a downgrade is ErrForbidden unless the operator allowed it.
//
// Operation: POST /v1/websites/{domain}/plan
func (c *Client) ChangePlan(ctx context.Context, domain, plan string, o ...Options) (Website, error) {
	var out Website
	return out, c.call(ctx, "POST", "/v1/websites/"+pathEscape(domain)+"/plan", nil, map[string]string{"plan": plan}, opts(o), &out)
}

// Renew extends a website by months (1 to 36), charging the plan.
//
// Operation: POST /v1/websites/{domain}/renew
func (c *Client) Renew(ctx context.Context, domain string, months int, o ...Options) (Website, error) {
	var out Website
	return out, c.call(ctx, "POST", "/v1/websites/"+pathEscape(domain)+"/renew", nil, map[string]int{"months": months}, opts(o), &out)
}

// GetSettings returns a website's protection settings.
//
// Operation: GET /v1/websites/{domain}/settings
func (c *Client) GetSettings(ctx context.Context, domain string) (SettingsView, error) {
	var out SettingsView
	return out, c.call(ctx, "GET", "/v1/websites/"+pathEscape(domain)+"/settings", nil, nil, Options{}, &out)
}

// PutSettings replaces a website's settings; an invalid document is
// ErrInvalid with every problem in Error.Errors.
//
// Operation: PUT /v1/websites/{domain}/settings
func (c *Client) PutSettings(ctx context.Context, domain string, s Settings, o ...Options) (SettingsView, error) {
	var out SettingsView
	return out, c.call(ctx, "PUT", "/v1/websites/"+pathEscape(domain)+"/settings", nil, s, opts(o), &out)
}

// Events lists a website's events, newest first.
//
// Operation: GET /v1/websites/{domain}/events
func (c *Client) Events(ctx context.Context, domain string, f EventFilter) (Page[Event], error) {
	q := listQuery(f.ListOptions)
	if !f.From.IsZero() {
		q.Set("from", f.From.UTC().Format(time.RFC3339))
	}
	if !f.To.IsZero() {
		q.Set("to", f.To.UTC().Format(time.RFC3339))
	}
	for k, v := range map[string]string{"action": f.Action, "ip": f.IP, "rule": f.Rule, "ref": f.Ref, "waf_class": f.WAFClass} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var out Page[Event]
	return out, c.call(ctx, "GET", "/v1/websites/"+pathEscape(domain)+"/events", q, nil, Options{}, &out)
}

// Stats returns a website's decision counts per period (minute, hour,
// day; "" for hour) in [from, to) (zero: the server's defaults).
//
// Operation: GET /v1/websites/{domain}/stats
func (c *Client) Stats(ctx context.Context, domain, period string, from, to time.Time) (Stats, error) {
	q := url.Values{}
	if period != "" {
		q.Set("period", period)
	}
	if !from.IsZero() {
		q.Set("from", from.UTC().Format(time.RFC3339))
	}
	if !to.IsZero() {
		q.Set("to", to.UTC().Format(time.RFC3339))
	}
	var out Stats
	return out, c.call(ctx, "GET", "/v1/websites/"+pathEscape(domain)+"/stats", q, nil, Options{}, &out)
}

// WAFStats returns how many of a website's requests the website firewall
// blocked and only detected in [from, to), by attack class (zero times:
// the server's defaults, the day before now).
//
// Operation: GET /v1/websites/{domain}/waf/stats
func (c *Client) WAFStats(ctx context.Context, domain string, from, to time.Time) (WAFStats, error) {
	q := url.Values{}
	if !from.IsZero() {
		q.Set("from", from.UTC().Format(time.RFC3339))
	}
	if !to.IsZero() {
		q.Set("to", to.UTC().Format(time.RFC3339))
	}
	var out WAFStats
	return out, c.call(ctx, "GET", "/v1/websites/"+pathEscape(domain)+"/waf/stats", q, nil, Options{}, &out)
}

// Lists returns the partner's allow and deny lists.
//
// Operation: GET /v1/lists
func (c *Client) Lists(ctx context.Context) (Lists, error) {
	var out Lists
	return out, c.call(ctx, "GET", "/v1/lists", nil, nil, Options{}, &out)
}

// PutLists replaces the partner's allow and deny lists.
//
// Operation: PUT /v1/lists
func (c *Client) PutLists(ctx context.Context, l Lists) (Lists, error) {
	var out Lists
	return out, c.call(ctx, "PUT", "/v1/lists", nil, l, Options{}, &out)
}

// ListUsers lists subaccounts a page at a time (email "" for all).
//
// Operation: GET /v1/users
func (c *Client) ListUsers(ctx context.Context, email string, o ListOptions) (Page[User], error) {
	q := listQuery(o)
	if email != "" {
		q.Set("email", email)
	}
	var out Page[User]
	return out, c.call(ctx, "GET", "/v1/users", q, nil, Options{}, &out)
}

// CreateUser creates a subaccount; its API key is in the answer, once.
//
// Operation: POST /v1/users
func (c *Client) CreateUser(ctx context.Context, u UserCreate, o ...Options) (User, error) {
	var out User
	return out, c.call(ctx, "POST", "/v1/users", nil, u, opts(o), &out)
}

// GetUser returns one subaccount.
//
// Operation: GET /v1/users/{id}
func (c *Client) GetUser(ctx context.Context, id int64) (User, error) {
	var out User
	return out, c.call(ctx, "GET", "/v1/users/"+idPath(id), nil, nil, Options{}, &out)
}

// DeleteUser deletes a subaccount that has no websites (else ErrConflict).
//
// Operation: DELETE /v1/users/{id}
func (c *Client) DeleteUser(ctx context.Context, id int64) error {
	return c.call(ctx, "DELETE", "/v1/users/"+idPath(id), nil, nil, Options{}, nil)
}

// Credit returns the partner's balance.
//
// Operation: GET /v1/credit
func (c *Client) Credit(ctx context.Context) (Credit, error) {
	var out Credit
	return out, c.call(ctx, "GET", "/v1/credit", nil, nil, Options{}, &out)
}

// Ledger lists the credit ledger, oldest first.
//
// Operation: GET /v1/credit/ledger
func (c *Client) Ledger(ctx context.Context, o ListOptions) (Page[LedgerEntry], error) {
	var out Page[LedgerEntry]
	return out, c.call(ctx, "GET", "/v1/credit/ledger", listQuery(o), nil, Options{}, &out)
}

// Emails lists the outbox, oldest first (status "" for all).
//
// Operation: GET /v1/emails
func (c *Client) Emails(ctx context.Context, status string, o ListOptions) (Page[Email], error) {
	q := listQuery(o)
	if status != "" {
		q.Set("status", status)
	}
	var out Page[Email]
	return out, c.call(ctx, "GET", "/v1/emails", q, nil, Options{}, &out)
}

// MarkEmailSent records that the partner delivered an email.
//
// Operation: POST /v1/emails/{id}/sent
func (c *Client) MarkEmailSent(ctx context.Context, id int64) (Email, error) {
	var out Email
	return out, c.call(ctx, "POST", "/v1/emails/"+idPath(id)+"/sent", nil, nil, Options{}, &out)
}

// EmailTemplates lists the email templates in use.
//
// Operation: GET /v1/email-templates
func (c *Client) EmailTemplates(ctx context.Context) ([]EmailTemplate, error) {
	var out struct {
		Data []EmailTemplate `json:"data"`
	}
	return out.Data, c.call(ctx, "GET", "/v1/email-templates", nil, nil, Options{}, &out)
}

// PutEmailTemplate replaces one kind's template.
//
// Operation: PUT /v1/email-templates/{kind}
func (c *Client) PutEmailTemplate(ctx context.Context, kind, subject, body string) (EmailTemplate, error) {
	var out EmailTemplate
	return out, c.call(ctx, "PUT", "/v1/email-templates/"+pathEscape(kind), nil, map[string]string{"subject": subject, "body": body}, Options{}, &out)
}

// Branding returns the partner's branding.
//
// Operation: GET /v1/branding
func (c *Client) Branding(ctx context.Context) (Branding, error) {
	var out Branding
	return out, c.call(ctx, "GET", "/v1/branding", nil, nil, Options{}, &out)
}

// PutBranding replaces the partner's branding.
//
// Operation: PUT /v1/branding
func (c *Client) PutBranding(ctx context.Context, b Branding) (Branding, error) {
	var out Branding
	return out, c.call(ctx, "PUT", "/v1/branding", nil, b, Options{}, &out)
}

// WebsiteLoginLink returns a single-use link that signs the website's
// customer in to its pages (valid five minutes): never hand out keys.
//
// Operation: POST /v1/websites/{domain}/login-link
func (c *Client) WebsiteLoginLink(ctx context.Context, domain string) (LoginLink, error) {
	var out LoginLink
	return out, c.call(ctx, "POST", "/v1/websites/"+pathEscape(domain)+"/login-link", nil, nil, Options{}, &out)
}

// UserLoginLink returns a single-use link to the subaccount's first website.
//
// Operation: POST /v1/users/{id}/login-link
func (c *Client) UserLoginLink(ctx context.Context, id int64) (LoginLink, error) {
	var out LoginLink
	return out, c.call(ctx, "POST", "/v1/users/"+idPath(id)+"/login-link", nil, nil, Options{}, &out)
}

// UserAPIConfig returns the partner's User API configuration and routes.
//
// Operation: GET /v1/userapi
func (c *Client) UserAPIConfig(ctx context.Context) (UserAPIState, error) {
	var out UserAPIState
	return out, c.call(ctx, "GET", "/v1/userapi", nil, nil, Options{}, &out)
}

// PutUserAPIConfig replaces the partner's User API configuration.
//
// Operation: PUT /v1/userapi
func (c *Client) PutUserAPIConfig(ctx context.Context, u UserAPIConfig) (UserAPIState, error) {
	var out UserAPIState
	return out, c.call(ctx, "PUT", "/v1/userapi", nil, u, Options{}, &out)
}

// UserAPILog lists logged User API requests.
//
// Operation: GET /v1/userapi/log
func (c *Client) UserAPILog(ctx context.Context, o ListOptions) (Page[UserAPILogEntry], error) {
	var out Page[UserAPILogEntry]
	return out, c.call(ctx, "GET", "/v1/userapi/log", listQuery(o), nil, Options{}, &out)
}

// Audit lists the audit log of the partner's objects.
//
// Operation: GET /v1/audit
func (c *Client) Audit(ctx context.Context, o ListOptions) (Page[AuditEntry], error) {
	var out Page[AuditEntry]
	return out, c.call(ctx, "GET", "/v1/audit", listQuery(o), nil, Options{}, &out)
}

// WAFPatches lists the virtual patches on the partner's websites: its own
// (scope partner) and the operator's (scope all, read-only).
//
// Operation: GET /v1/waf/patches
func (c *Client) WAFPatches(ctx context.Context) ([]WAFPatch, error) {
	var out struct {
		Data []WAFPatch `json:"data"`
	}
	return out.Data, c.call(ctx, "GET", "/v1/waf/patches", nil, nil, Options{}, &out)
}

// CreateWAFPatch pushes a virtual patch to all the partner's websites. A
// patch the server refuses is ErrInvalid, with the precise reason (for
// SecLang: the directive, its line and Coraza's words) in the message.
//
// Operation: POST /v1/waf/patches
func (c *Client) CreateWAFPatch(ctx context.Context, p WAFPatchCreate) (WAFPatch, error) {
	var out WAFPatch
	return out, c.call(ctx, "POST", "/v1/waf/patches", nil, p, Options{}, &out)
}

// DeleteWAFPatch deletes one of the partner's virtual patches (another's,
// or the operator's, is ErrNotFound).
//
// Operation: DELETE /v1/waf/patches/{id}
func (c *Client) DeleteWAFPatch(ctx context.Context, id int64) error {
	return c.call(ctx, "DELETE", "/v1/waf/patches/"+idPath(id), nil, nil, Options{}, nil)
}

// WAFDefaults returns the partner's website-firewall defaults.
//
// Operation: GET /v1/waf/defaults
func (c *Client) WAFDefaults(ctx context.Context) (WAFDefaults, error) {
	var out WAFDefaults
	return out, c.call(ctx, "GET", "/v1/waf/defaults", nil, nil, Options{}, &out)
}

// PutWAFDefaults sets the partner's website-firewall defaults (for
// websites created from now on).
//
// Operation: PUT /v1/waf/defaults
func (c *Client) PutWAFDefaults(ctx context.Context, d WAFDefaults) (WAFDefaults, error) {
	var out WAFDefaults
	return out, c.call(ctx, "PUT", "/v1/waf/defaults", nil, d, Options{}, &out)
}
