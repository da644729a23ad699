package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/api/userapi"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/i18n"
	"github.com/palisadehq/palisade/internal/netutil"
	"github.com/palisadehq/palisade/internal/routes"
)

// The partner console (/console) and the operator pages (/operator).

func (h *Handler) registerConsole(mux routes.Mux) {
	mux.HandleFunc("GET /console/login", h.loginPage)
	mux.HandleFunc("POST /console/login", h.loginPost)
	mux.HandleFunc("GET /partner", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/console", http.StatusSeeOther) })
	mux.HandleFunc("GET /console", h.console("websites"))
	for _, p := range []string{"customers", "credit", "keys", "plans", "emails", "audit", "branding", "security", "userapi", "firewall"} {
		mux.HandleFunc("GET /console/"+p, h.console(p))
	}
	mux.HandleFunc("POST /console/{action}", h.consolePost)
	h.registerOperator(mux)
}

// loginPage is the console's (and the operator pages') sign-in form: in
// the visitor's language, headed by the operator's own name (none by
// default), never the product's.
func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	l := h.consoleLang(w, r, "en")
	h.renderConsole(w, "login", http.StatusOK, view{Lang: l, Title: i18n.T(l, "console.login.title"), Brand: h.operatorBrand(), Assets: "/_assets/",
		Langs: staffLangLinks(l, "/console/login", nil), Data: loginData{}})
}

// loginData is the sign-in page's data.
type loginData struct {
	Email string
	Error string // a message id of console.login.*
}

// loginPost signs a console user in. The form asks everyone for email,
// password and the authenticator code ("if you set one up"), and every
// failure — unknown email, wrong password, right password with a missing
// or wrong code — gets the same page with the same status, so the code
// field never confirms a password. The limits (per address, per account,
// checked before the password is hashed) and the hashing gate are the
// core's (ConsoleLogin).
func (h *Handler) loginPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	_ = r.ParseForm()
	email := strings.TrimSpace(r.PostFormValue("email"))
	if len(email) > 254 {
		email = "" // not an address; not worth echoing back
	}
	lg := h.consoleLang(w, r, "en")
	data := loginData{Email: email}
	v := view{Lang: lg, Title: i18n.T(lg, "console.login.title"), Brand: h.operatorBrand(), Assets: "/_assets/", Langs: staffLangLinks(lg, "/console/login", nil)}
	l, err := h.svc.ConsoleLogin(r.Context(), core.ConsoleSignIn{Email: email, Password: r.PostFormValue("password"), Code: r.PostFormValue("code"),
		Addr: netutil.ClientAddr(r, h.trusted)})
	switch core.ErrorCode(err) {
	case "":
		h.setSessionCookie(w, r, l)
		http.Redirect(w, r, l.Next, http.StatusSeeOther)
	case core.ERATELIMITED:
		data.Error = "console.login.toomany"
		if errors.Is(err, core.ErrPasswordChecksBusy) {
			data.Error = "console.login.busy"
		}
		v.Data = data
		h.renderConsole(w, "login", http.StatusTooManyRequests, v)
	case core.EUNAUTHORIZED:
		data.Error = "console.login.wrong"
		v.Data = data
		h.renderConsole(w, "login", http.StatusUnauthorized, v)
	default:
		h.fail(w, r, nil, err)
	}
}

// staff returns the session of a partner's staff (a console user, or a
// partner single-sign-on link).
func (h *Handler) staff(w http.ResponseWriter, r *http.Request, scope string) (core.Session, string, bool) {
	s, v, err := h.cookieSession(r)
	if err != nil {
		http.Redirect(w, r, "/console/login", http.StatusSeeOther)
		return s, "", false
	}
	if s.Scope != scope {
		h.fail(w, r, nil, core.Errorf(core.EFORBIDDEN, "this page is for %s staff", map[string]string{core.ScopePartner: "the hosting provider's", core.ScopeOperator: "the operator's"}[scope]))
		return s, "", false
	}
	return s, v, true
}

type consoleData struct {
	Lang      string
	Tabs      []consoleTab
	Partner   core.Partner
	Sites     []core.Website
	Customers []core.Subaccount
	Ledger    []core.LedgerEntry
	Keys      []core.APIKey
	NewKey    string
	Plans     []core.Plan
	Emails    []core.Email
	Audit     []auditRow
	// Truncated: the log has older entries than the latest logPage the
	// console shows; the API named in TruncatedAPI lists all of it.
	Truncated    bool
	TruncatedAPI string
	Branding     core.Branding
	Languages    []langChoice // the branding page's default language, its choice marked
	Query        string
	Status       string
	Error        string // what went wrong, in the page's language
	Detail       string // and the service's own words (English), when a form was refused
	Notice       string // the notice in the page's language
	TOTPOn       bool
	Secret       string
	SecretURI    string
	Email        string
	UserAPI      core.UserAPIConfig
	APIBase      string // the base URL the partner gives its customers: its User API scope
	APILog       []core.UserAPILogEntry
	WAF          *wafConsole // the firewall page
	names        *auditNames // who is who, for the audit log and the patches' authors
}

// Money formats an amount of credit in the page's language (1,234.50 ·
// 1.234,50).
func (d *consoleData) Money(c core.Cents) string { return money(d.Lang, c) }

// Num formats a count in the page's language.
func (d *consoleData) Num(n int64) string { return i18n.Number(d.Lang, n) }

// Period says a rate limit's period (a Go duration, "1m") in words: "minute",
// "10 seconds".
func (d *consoleData) Period(p string) string {
	v, err := time.ParseDuration(p)
	if err != nil || v <= 0 {
		return p
	}
	switch {
	case v%time.Hour == 0:
		return i18n.N(d.Lang, "console.per.hours", int64(v/time.Hour))
	case v%time.Minute == 0:
		return i18n.N(d.Lang, "console.per.minutes", int64(v/time.Minute))
	case v%time.Second == 0:
		return i18n.N(d.Lang, "console.per.seconds", int64(v/time.Second))
	}
	return p
}

// CustomerEmail is a customer's email by id, for the User API's log.
func (d *consoleData) CustomerEmail(id int64) string {
	if d.names != nil && d.names.customers[id] != "" {
		return d.names.customers[id]
	}
	return i18n.T(d.Lang, "console.who.customerno", map[string]any{"ID": id})
}

// RecipientLang is the language of an email to customer id (its subject
// is in that language).
func (d *consoleData) RecipientLang(id int64) string {
	if d.names != nil && d.names.langs[id] != "" {
		return d.names.langs[id]
	}
	return d.Partner.Language()
}

// Who says in words who an actor of the audit log (or a patch's author)
// is.
func (d *consoleData) Who(actor string) string { return d.names.who(d.Lang, actor) }

// LedgerWhat says what a credit entry was for, in the page's language.
func (d *consoleData) LedgerWhat(e core.LedgerEntry) string { return ledgerWhat(d.Lang, e) }

// logPage is how many entries of the audit log or the ledger the
// console lists, the latest first; the APIs page through all of them.
const logPage = 500

// latest returns the last logPage entries, newest first, read by fetch
// (asked for one more, so that truncated can say the log goes on).
func latest[T any](fetch func(limit int) ([]T, error)) (out []T, truncated bool, err error) {
	out, err = fetch(logPage + 1)
	if err != nil {
		return nil, false, err
	}
	if len(out) > logPage {
		return out[:logPage], true, nil
	}
	return out, false, nil
}

// money formats cents as a decimal with two places in lang's way.
func money(lang string, c core.Cents) string {
	v, sign := int64(c), ""
	if v < 0 {
		v, sign = -v, "-"
	}
	dec, _ := i18n.Separators(lang)
	return sign + i18n.Number(lang, v/100) + dec + fmt.Sprintf("%02d", v%100)
}

// consoleNotices are the notices a console redirect may name (?notice=id,
// with ?arg= filling its placeholder): the words are the page's, never the
// address's.
var consoleNotices = map[string]bool{"paused": true, "resumed": true, "revoked": true, "branding": true, "totp": true,
	"waf_block": true, "waf_detect": true, "patch": true, "patch_deleted": true}

// notice returns the notice ?notice= names in lang, or "".
func notice(lang string, q url.Values) string {
	id := q.Get("notice")
	if !consoleNotices[id] {
		return ""
	}
	arg := q.Get("arg")
	if len(arg) > 200 {
		arg = arg[:200]
	}
	return i18n.T(lang, "console.notice."+id, map[string]any{"Arg": arg})
}

func (h *Handler) console(page string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, value, ok := h.staff(w, r, core.ScopePartner)
		if !ok {
			return
		}
		h.consolePage(w, r, s, value, page, &consoleData{Notice: "?"}, http.StatusOK)
	}
}

// consoleCaller is who a console form acts as: the session's partner, with
// the console user's email (or the sign-on link it came through) and the
// client's address recorded in the audit log.
func (h *Handler) consoleCaller(r *http.Request, s core.Session) core.Caller {
	c := callerOf(s)
	c.Protocol, c.SourceIP = core.ProtocolConsole, netutil.ClientAddr(r, h.trusted).String()
	if s.UserID != 0 {
		if u, err := h.svc.ConsoleUserOf(r.Context(), s); err == nil {
			c.Actor = "user:" + u.Email
		}
	}
	return c
}

func (h *Handler) consolePage(w http.ResponseWriter, r *http.Request, s core.Session, value, page string, d *consoleData, status int) {
	ctx, c := r.Context(), callerOf(s)
	p, err := h.svc.Partner(ctx, c)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	d.Lang = h.consoleLang(w, r, p.Language())
	d.Tabs = consoleTabs(d.Lang, page)
	if d.Notice == "?" {
		d.Notice = notice(d.Lang, r.URL.Query())
	}
	if strings.HasPrefix(d.Error, "common.err.") || strings.HasPrefix(d.Error, "console.") {
		d.Error = i18n.T(d.Lang, d.Error)
	}
	d.Partner, d.Branding = p, p.Branding()
	d.Languages = langChoices(d.Branding.DefaultLang)
	q := r.URL.Query()
	switch page {
	case "websites":
		d.Query, d.Status = q.Get("q"), q.Get("status")
		d.Sites, err = h.svc.Websites(ctx, c, core.WebsiteFilter{DomainContains: strings.ToLower(d.Query), Status: d.Status, Limit: 500})
	case "customers":
		d.Query = q.Get("q")
		var all []core.Subaccount
		all, err = h.svc.Subaccounts(ctx, c, core.SubaccountFilter{})
		for _, a := range all {
			if d.Query == "" || strings.Contains(a.Email, strings.ToLower(d.Query)) || strings.Contains(strings.ToLower(a.FirstName+" "+a.LastName+" "+a.Company), strings.ToLower(d.Query)) {
				d.Customers = append(d.Customers, a)
			}
		}
	case "credit":
		d.Ledger, d.Truncated, err = latest(func(n int) ([]core.LedgerEntry, error) { return h.svc.LatestLedger(ctx, c, n) })
		d.TruncatedAPI = "GET /v1/credit/ledger"
	case "keys":
		d.Keys, err = h.svc.PartnerKeys(ctx, c, s.PartnerID)
	case "plans":
		d.Plans, err = h.svc.Plans(ctx)
	case "emails":
		if d.Emails, err = h.svc.Emails(ctx, c, core.EmailFilter{Limit: 500}); err == nil && len(d.Emails) > 0 {
			d.names, err = h.auditNames(r, s)
		}
	case "audit":
		var entries []core.AuditEntry
		d.TruncatedAPI = "GET /v1/audit"
		if entries, d.Truncated, err = latest(func(n int) ([]core.AuditEntry, error) { return h.svc.LatestAudit(ctx, c, n) }); err == nil {
			if d.names, err = h.auditNames(r, s); err == nil {
				for _, e := range entries {
					d.Audit = append(d.Audit, d.names.row(d.Lang, e))
				}
			}
		}
	case "userapi":
		d.APIBase = userapi.ScopeBase(h.svc.Config().PublicURL, p.Name)
		if d.UserAPI, err = h.svc.UserAPIConfigOf(ctx, s.PartnerID); err == nil {
			if d.APILog, err = h.svc.UserAPILog(ctx, c, 0, 200); err == nil && len(d.APILog) > 0 {
				d.names, err = h.auditNames(r, s)
			}
		}
	case "firewall":
		if d.names, err = h.auditNames(r, s); err == nil {
			err = h.wafConsoleData(r, s, d)
		}
	case "security":
		if s.UserID != 0 {
			u, uerr := h.svc.ConsoleUserOf(ctx, s)
			if uerr == nil {
				d.TOTPOn, d.Email = u.TOTPSecret != "", u.Email
				if !d.TOTPOn && d.Secret == "" {
					d.Secret, d.SecretURI = core.NewTOTPSecret(p.Branding().Name, u.Email)
				}
			}
		}
	}
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	path, query := "/console/"+page, r.URL.Query()
	if page == "websites" {
		path = "/console"
	}
	if r.Method != http.MethodGet {
		query = nil
	}
	v := view{Lang: d.Lang, Title: i18n.T(d.Lang, "console.tab."+page), Brand: p.Branding(), CSRF: csrfToken(value), Assets: "/_assets/", Tab: page, Data: d,
		Langs: staffLangLinks(d.Lang, path, query)}
	h.renderConsole(w, "console", status, v)
}

func (h *Handler) renderConsole(w http.ResponseWriter, name string, status int, v view) {
	h.write(w, name, status, v, nil) // the console is never framed
}

// staffPost reads a staff form: bounded, from a session of scope, with
// its CSRF token. It writes the answer when any of that is missing.
func (h *Handler) staffPost(w http.ResponseWriter, r *http.Request, scope string) (core.Session, string, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, 256<<10)
	_ = r.ParseForm()
	s, value, ok := h.staff(w, r, scope)
	if !ok {
		return s, "", false
	}
	if !h.csrfOK(r, value) {
		h.fail(w, r, nil, core.Errorf(core.EFORBIDDEN, "the form expired; reload the page and try again"))
		return s, "", false
	}
	return s, value, true
}

// formError readies a refused console form's message: the error's kind
// in the page's language (common.err.*, said once the page knows its
// language), the service's own words as the detail; it returns the
// status.
func (h *Handler) formError(w http.ResponseWriter, r *http.Request, d *consoleData, err error) int {
	status, detail := h.problem(w, r, err, true)
	kind := core.ErrorCode(err)
	if _, ok := ErrorTable[kind]; !ok {
		kind = core.EINTERNAL
	}
	if d.Error == "" {
		d.Error = "common.err." + kind
	}
	if kind != core.EINTERNAL && d.Detail == "" && !strings.HasPrefix(d.Error, "console.") { // our own words need no detail
		d.Detail = detail
	}
	return status
}

// consoleBack redirects to a console page with a notice (an id of
// consoleNotices) and the value its words name.
func consoleBack(w http.ResponseWriter, r *http.Request, page, id, arg string) {
	u := "/console"
	if page != "websites" {
		u += "/" + page
	}
	q := url.Values{"notice": {id}}
	if arg != "" {
		q.Set("arg", arg)
	}
	http.Redirect(w, r, u+"?"+q.Encode(), http.StatusSeeOther)
}

func (h *Handler) consolePost(w http.ResponseWriter, r *http.Request) {
	s, value, ok := h.staffPost(w, r, core.ScopePartner)
	if !ok {
		return
	}
	ctx, c, f := r.Context(), h.consoleCaller(r, s), r.PostForm
	redo := func(page string, d *consoleData, err error) {
		h.consolePage(w, r, s, value, page, d, h.formError(w, r, d, err))
	}
	switch r.PathValue("action") {
	case "status":
		st := f.Get("status")
		if _, err := h.svc.UpdateWebsite(ctx, c, f.Get("domain"), core.WebsiteUpdate{Status: &st}, core.Match{}); err != nil {
			redo("websites", &consoleData{}, err)
			return
		}
		id := "paused"
		if st == core.StatusOnline {
			id = "resumed"
		}
		consoleBack(w, r, "websites", id, f.Get("domain"))
	case "keys":
		key, _, err := h.svc.CreateAPIKey(ctx, c, f.Get("name"), splitLines(f.Get("allowed_ips")))
		if err != nil {
			redo("keys", &consoleData{}, err)
			return
		}
		// Shown once, on this answer only (not in a redirect URL).
		h.consolePage(w, r, s, value, "keys", &consoleData{NewKey: key}, http.StatusOK)
	case "revoke":
		if err := h.svc.RevokeKey(ctx, c, s.PartnerID, f.Get("prefix")); err != nil {
			redo("keys", &consoleData{}, err)
			return
		}
		consoleBack(w, r, "keys", "revoked", f.Get("prefix"))
	case "branding":
		b := core.Branding{Name: f.Get("name"), Logo: strings.TrimSpace(f.Get("logo")), Color: strings.TrimSpace(f.Get("color")),
			SupportURL: strings.TrimSpace(f.Get("support_url")), EmbedOrigins: splitLines(f.Get("embed_origins")),
			DefaultLang: f.Get("default_lang"), PoweredBy: f.Get("powered_by") != ""}
		if _, err := h.svc.SetBranding(ctx, c, s.PartnerID, b); err != nil {
			redo("branding", &consoleData{}, err)
			return
		}
		consoleBack(w, r, "branding", "branding", "")
	case "totp":
		if s.UserID == 0 {
			h.fail(w, r, nil, core.Errorf(core.EFORBIDDEN, "sign in with your email and password to set up a second factor"))
			return
		}
		if err := h.svc.EnableTOTP(ctx, s.UserID, f.Get("secret"), f.Get("code")); err != nil {
			redo("security", &consoleData{Secret: f.Get("secret")}, err)
			return
		}
		consoleBack(w, r, "security", "totp", "")
	case "waf-mode", "patch", "patch-delete":
		h.consoleWAF(w, r, s, value, r.PathValue("action"))
	case "signout-all":
		if s.UserID != 0 {
			if err := h.svc.SignOutEverywhere(ctx, s.UserID); err != nil {
				h.fail(w, r, nil, err)
				return
			}
		}
		http.Redirect(w, r, "/console/login", http.StatusSeeOther)
	default:
		h.fail(w, r, nil, core.Errorf(core.ENOTFOUND, "no such action"))
	}
}

// ---- the audit log in words ----

// auditRow is an audit entry as the console lists it.
type auditRow struct {
	core.AuditEntry
	Who, Through, What string
}

// auditNames are the names behind the ids an audit entry keeps: the
// partner's keys by prefix, its customers' emails and its websites'
// domains by id.
type auditNames struct {
	keys      map[string]string
	customers map[int64]string
	langs     map[int64]string // the customers' languages
	sites     map[int64]string
}

func (h *Handler) auditNames(r *http.Request, s core.Session) (*auditNames, error) {
	ctx, c := r.Context(), callerOf(s)
	n := &auditNames{keys: map[string]string{}, customers: map[int64]string{}, langs: map[int64]string{}, sites: map[int64]string{}}
	keys, err := h.svc.PartnerKeys(ctx, c, s.PartnerID)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		n.keys[k.Prefix] = k.Name
	}
	subs, err := h.svc.Subaccounts(ctx, c, core.SubaccountFilter{})
	if err != nil {
		return nil, err
	}
	for _, a := range subs {
		n.customers[a.ID], n.langs[a.ID] = a.Email, i18n.Pick(a.Lang)
	}
	sites, err := h.svc.Websites(ctx, c, core.WebsiteFilter{Limit: 5000})
	if err != nil {
		return nil, err
	}
	for _, w := range sites {
		n.sites[w.ID] = w.Domain
	}
	return n, nil
}

func (n *auditNames) customer(lang, id string) string {
	if i, err := strconv.ParseInt(id, 10, 64); err == nil && n != nil && n.customers[i] != "" {
		return n.customers[i]
	}
	return i18n.T(lang, "console.who.customerno", map[string]any{"ID": id})
}

// who says who actor is: "partner:3 key:pk_ab12" (an API key), "user:EMAIL"
// (a console user), "partner:3 (dashboard)" or "partner:3" (the console
// opened by a sign-on link), "customer:7 …", "operator…", "system", and
// "session", which sign-ins recorded before their customer or partner was.
func (n *auditNames) who(lang, actor string) string {
	head, rest, _ := strings.Cut(strings.TrimSuffix(actor, " (dashboard)"), " ")
	kind, id, _ := strings.Cut(head, ":")
	switch {
	case kind == "partner" && strings.HasPrefix(rest, "key:"):
		prefix := strings.TrimPrefix(rest, "key:")
		if n != nil && n.keys[prefix] != "" {
			return i18n.T(lang, "console.who.key", map[string]any{"Name": n.keys[prefix], "Prefix": prefix})
		}
		return i18n.T(lang, "console.who.keyunnamed", map[string]any{"Prefix": prefix})
	case kind == "partner":
		return i18n.T(lang, "console.who.link")
	case kind == "user":
		return i18n.T(lang, "console.who.user", map[string]any{"Email": id})
	case kind == "customer" && id != "":
		return i18n.T(lang, "console.who.customer", map[string]any{"Email": n.customer(lang, id)})
	case kind == "customer":
		return i18n.T(lang, "console.who.customeranon")
	case kind == "operator" && id != "":
		return i18n.T(lang, "console.who.operatoremail", map[string]any{"Email": id})
	case kind == "operator":
		return i18n.T(lang, "console.who.operator")
	case kind == "system":
		return i18n.T(lang, "console.who.system")
	case kind == "session":
		return i18n.T(lang, "console.who.session")
	}
	return actor
}

// through says how a change came: the protocol in words.
func through(lang, actor, protocol string) string {
	if protocol == core.ProtocolSSO && strings.HasSuffix(actor, " (dashboard)") {
		protocol = "dashboard" // a page of a session a sign-on link opened
	}
	switch protocol {
	case core.ProtocolREST, core.ProtocolV1, core.ProtocolCLI, core.ProtocolGP, core.ProtocolXML, core.ProtocolSSO,
		core.ProtocolUserAPI, core.ProtocolConsole, core.ProtocolKeyLink, "engine", "dashboard":
		return i18n.T(lang, "console.via."+protocol)
	}
	return protocol
}

// row describes entry e in lang.
func (n *auditNames) row(lang string, e core.AuditEntry) auditRow {
	return auditRow{AuditEntry: e, Who: n.who(lang, e.Actor), Through: through(lang, e.Actor, e.Protocol), What: n.what(lang, e)}
}

// auditWords are the entries the console says in words: object type →
// actions (a website's "pause+renew" is said action by action).
var auditWords = map[string]map[string]bool{
	"website": {"create": true, "pause": true, "resume": true, "change_plan": true, "renew": true, "update": true, "update_settings": true, "delete": true, "first_traffic": true,
		// Scanning and backups (issue 22).
		"set_scan_settings": true, "request_scan": true, "request_finding_action": true, "request_restore": true, "malware_found": true,
		"finding_ignored": true, "finding_open": true, "finding_quarantined": true, "finding_cleaned": true},
	"user":           {"create": true, "delete": true, "change_email": true, "set_password": true},
	"addon":          {"create": true, "modify": true, "delete": true},
	"console_user":   {"create": true, "enable_totp": true},
	"api_key":        {"create": true, "rotate": true, "revoke": true, "allow_ip": true, "deny_ip": true},
	"email":          {"mark_sent": true},
	"email_template": {"set": true, "reset": true},
	"plan":           {"create": true, "set_waf": true, "seed": true},
	"partner":        {"create": true, "topup": true, "allow_downgrade": true, "branding": true, "deny_ip": true, "waf_new_site_mode": true},
	"partner_lists":  {"update": true},
	"challenge_key":  {"rotate": true},
	"userapi":        {"configure": true},
	"waf_patch":      {"create": true, "delete": true},
}

// what says what entry e changed, in words.
func (n *auditNames) what(lang string, e core.AuditEntry) string {
	var state struct {
		Scope   string `json:"scope"`
		Website int64  `json:"website"`
		Name    string `json:"name"`
		Email   string `json:"email"`
		Balance string `json:"balance"`
		Mode    string `json:"new_site_mode"`
	}
	for _, s := range []string{e.OldState, e.NewState} { // the state after wins
		if s != "" {
			_ = json.Unmarshal([]byte(s), &state)
		}
	}
	obj := e.ObjectID
	switch e.ObjectType {
	case "user":
		obj = n.customer(lang, e.ObjectID)
		if state.Email != "" && e.Action == "delete" {
			obj = state.Email
		}
	case "console_user":
		obj = state.Email
	case "api_key":
		if n != nil && n.keys[e.ObjectID] != "" {
			obj = n.keys[e.ObjectID] + " (" + e.ObjectID + "…)"
		} else {
			obj = e.ObjectID + "…"
		}
	case "waf_patch":
		if state.Name != "" {
			obj = state.Name
		}
	case "session", "login_token":
		obj = ""
		if n != nil && state.Website != 0 {
			obj = n.sites[state.Website]
		}
		key := "console.audit." + e.ObjectType + "." + e.Action + "." + state.Scope
		if state.Scope == core.ScopeCustomer && obj == "" {
			key += ".any"
		}
		if (e.Action == "login" || e.Action == "create") && (state.Scope == core.ScopePartner || state.Scope == core.ScopeCustomer || state.Scope == core.ScopeOperator) {
			return i18n.T(lang, key, map[string]any{"Object": obj})
		}
	case "partner":
		if e.Action == "topup" && state.Balance != "" {
			if c, err := core.ParseCents(state.Balance); err == nil {
				obj = money(lang, c)
			}
		}
	}
	var parts []string
	for _, a := range strings.Split(e.Action, "+") {
		if !auditWords[e.ObjectType][a] {
			return i18n.T(lang, "console.audit.other", map[string]any{"Action": e.Action, "Type": e.ObjectType, "Object": e.ObjectID})
		}
		parts = append(parts, i18n.T(lang, "console.audit."+e.ObjectType+"."+a, map[string]any{"Object": obj}))
	}
	return strings.Join(parts, "; ")
}

// ---- the credit ledger in words ----

// The core writes a charge's reason in English; these read it back.
var (
	ledgerRegister = regexp.MustCompile(`^register (\S+) on plan (.+) for 1 month$`)
	ledgerRenew    = regexp.MustCompile(`^renew (\S+) on plan (.+) for (\d+) month\(s\)(?: with (\d+) add-on unit\(s\))?(?: with add-ons ([a-z_, ]+))?$`)
	ledgerUpgrade  = regexp.MustCompile(`^upgrade (\S+) from (.+) to (.+) for the .+ left of the term$`)
	ledgerAddon    = regexp.MustCompile(`^.+ on (\S+): (\d+) × (\d+) extra requests a month for the .+ left of the term$`)
	// A scanning add-on (smart, smart_patch, smart_database, backup).
	ledgerScanAddon = regexp.MustCompile(`^(?:more )?add-on ([a-z_]+) on (\S+): .+ at (\d+\.\d\d) a month for the .+ left of the term$`)
)

// ledgerWhat says what a credit entry was for: a charge in words (the
// core's English reason read back), a top-up with the operator's note.
func ledgerWhat(lang string, e core.LedgerEntry) string {
	n := func(s string) int64 { v, _ := strconv.ParseInt(s, 10, 64); return v }
	if m := ledgerRegister.FindStringSubmatch(e.Reason); m != nil {
		return i18n.T(lang, "console.ledger.register", map[string]any{"Domain": m[1], "Plan": m[2]})
	}
	if m := ledgerRenew.FindStringSubmatch(e.Reason); m != nil {
		s := i18n.N(lang, "console.ledger.renew", n(m[3]), map[string]any{"Domain": m[1], "Plan": m[2]})
		if m[4] != "" {
			s += " " + i18n.N(lang, "console.ledger.renewaddons", n(m[4]))
		}
		if m[5] != "" {
			s += " " + i18n.T(lang, "console.ledger.renewfeatures", map[string]any{"Addons": m[5]})
		}
		return s
	}
	if m := ledgerUpgrade.FindStringSubmatch(e.Reason); m != nil {
		return i18n.T(lang, "console.ledger.upgrade", map[string]any{"Domain": m[1], "From": m[2], "To": m[3]})
	}
	if m := ledgerScanAddon.FindStringSubmatch(e.Reason); m != nil {
		return i18n.T(lang, "console.ledger.scanaddon", map[string]any{"Addon": m[1], "Domain": m[2], "Price": m[3]})
	}
	if m := ledgerAddon.FindStringSubmatch(e.Reason); m != nil {
		return i18n.N(lang, "console.ledger.addon", n(m[2]), map[string]any{"Domain": m[1], "Requests": i18n.Number(lang, n(m[3]))})
	}
	kind := e.Kind
	switch kind {
	case core.LedgerTopUp, core.LedgerCharge, core.LedgerRefund, core.LedgerAdjustment:
	default:
		return e.Reason
	}
	label := i18n.T(lang, "console.ledger."+kind)
	if e.Reason != "" && e.Reason != "top-up" { // the core's note when the operator gave none
		return label + ": " + e.Reason
	}
	return label
}
