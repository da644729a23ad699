// Package xmlapi serves the XML provisioning API in the style of SiteLock
// Online Provisioning: POST /v1/partner with a <SiteLockOnlineRequest>
// naming a method (by <methodName>, or as a wrapper element holding its
// parameters), answered by a <SiteLockOnlineResponse> holding an element
// named after the method, with the method's fields or an <error>. Every
// method calls the same core.Service as the partner REST API; this package
// only parses and writes XML. docs/RESELLER.md documents each method.
package xmlapi

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/netutil"
	"github.com/palisadehq/palisade/internal/routes"
	"github.com/palisadehq/palisade/internal/scan"
)

// Handler serves POST /v1/partner.
type Handler struct {
	svc     *core.Service
	trusted netutil.Proxies
	log     *slog.Logger
	scanner *scan.Scanner
}

// New returns the handler; trusted are reverse proxies whose
// X-Forwarded-For is believed; scanner runs freeScan (nil: the default,
// public addresses only).
func New(svc *core.Service, trusted netutil.Proxies, scanner *scan.Scanner, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	if scanner == nil {
		scanner = &scan.Scanner{}
	}
	return &Handler{svc: svc, trusted: trusted, scanner: scanner, log: log}
}

// Register adds the route to mux.
func (h *Handler) Register(mux routes.Mux) {
	mux.HandleFunc("POST /v1/partner", h.serve)
	// With the trailing slash too: SiteLock's scan endpoint is written so.
	mux.HandleFunc("POST /v1/partner/{$}", h.serve)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody+1)
	req, err := Parse(r.Body, r.Header.Get("Content-Type"))
	if err != nil {
		writeDoc(w, http.StatusBadRequest, &Node{Name: "error", Text: err.Error()})
		return
	}
	// The answer is in the request's shape: the methodName shape names
	// the method first; the wrapper shape answers with the method's
	// element alone, as SiteLock does.
	answer := func(status int, kids []*Node) {
		nodes := []*Node{{Name: "methodName", Text: req.Name}, {Name: req.Name, Kids: kids}}
		if req.Wrapped {
			nodes = nodes[1:]
		}
		writeDoc(w, status, nodes...)
	}
	if !known(req.Method) {
		answer(http.StatusBadRequest, []*Node{{Name: "error", Text: "unknown method " + req.Name + "; one of " + strings.Join(Methods, ", ")}})
		return
	}
	ip := netutil.ClientAddr(r, h.trusted)
	c, err := h.svc.AuthenticateXML(r.Context(), req.Auth.User, req.Auth.Password, ip)
	if err == nil {
		var out []*Node
		out, err = h.dispatch(r.Context(), c, req)
		if err == nil {
			answer(http.StatusOK, out)
			return
		}
	}
	status, msg := h.errorAnswer(r.Context(), w, req.Method, err)
	answer(status, []*Node{{Name: "error", Text: msg}})
}

func known(m string) bool {
	for _, x := range Methods {
		if x == m {
			return true
		}
	}
	return false
}

func id(name, v string) (int64, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, methodError(name + " is required")
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, methodError(name + " must be a positive number, not " + strconv.Quote(v))
	}
	return n, nil
}

func optID(name, v string) (int64, error) {
	if strings.TrimSpace(v) == "" {
		return 0, nil
	}
	return id(name, v)
}

// emailTime parses the email filters' YYYY-MM-DD HH:MM:SS (UTC).
func emailTime(name, v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse("2006-01-02 15:04:05", v)
	if err != nil {
		return time.Time{}, methodError(name + " must be a date and time as YYYY-MM-DD HH:MM:SS (UTC), not " + strconv.Quote(v))
	}
	return t, nil
}

// ids reads the optional account_id and site_id.
func (req *Request) ids() (accountID, siteID int64, err error) {
	if accountID, err = optID("account_id", req.AccountID); err != nil {
		return 0, 0, err
	}
	siteID, err = optID("site_id", req.SiteID)
	return accountID, siteID, err
}

func (h *Handler) dispatch(ctx context.Context, c core.Caller, req *Request) ([]*Node, error) {
	switch req.Method {
	case "provisionAccount":
		return h.provisionAccount(ctx, c, req)
	case "modifyAccount":
		return h.modifyAccount(ctx, c, req)
	case "deleteAccount":
		accountID, siteID, err := req.ids()
		if err != nil {
			return nil, err
		}
		switch {
		case accountID != 0 && siteID != 0:
			return nil, methodError("give account_id (the account and all its sites) or site_id (one site), not both")
		case accountID != 0:
			n, err := h.svc.DeleteAccount(ctx, c, accountID)
			if err != nil {
				return nil, err
			}
			return []*Node{text("account_id", accountID), text("sites_deleted", n), text("status", "deleted")}, nil
		case siteID != 0:
			w, err := h.svc.WebsiteByID(ctx, c, siteID)
			if err != nil {
				return nil, err
			}
			if _, err := h.svc.DeleteWebsite(ctx, c, w.Domain, core.Match{}); err != nil {
				return nil, err
			}
			return []*Node{text("site_id", siteID), text("status", "deleted")}, nil
		}
		return nil, methodError("account_id or site_id is required")
	case "createToken":
		accountID, siteID, err := req.ids()
		if err != nil {
			return nil, err
		}
		var u string
		var exp time.Time
		if accountID == 0 && siteID == 0 {
			u, exp, err = h.svc.CreateLoginToken(ctx, c, core.ScopePartner, "")
		} else {
			if accountID == 0 {
				a, _, aerr := h.account(ctx, c, accountRef{siteID: siteID})
				if aerr != nil {
					return nil, aerr
				}
				accountID = a.ID
			}
			u, exp, err = h.svc.CreateCustomerLoginToken(ctx, c, accountID, siteID)
		}
		if err != nil {
			return nil, err
		}
		return []*Node{text("url", u), text("expires", exp.UTC().Format(time.RFC3339))}, nil
	case "getAccounts":
		return h.getAccounts(ctx, c, req)
	case "getStatus":
		return h.getStatus(ctx, c, req)
	case "getPendingEmails":
		before, err := emailTime("before", req.Before)
		if err != nil {
			return nil, err
		}
		after, err := emailTime("after", req.After)
		if err != nil {
			return nil, err
		}
		es, err := h.svc.Emails(ctx, c, core.EmailFilter{Status: core.EmailPending, Before: before, After: after, Limit: 500})
		if err != nil {
			return nil, err
		}
		list := &Node{Name: "emails"}
		for _, e := range es {
			list.Kids = append(list.Kids, &Node{Name: "email", Kids: []*Node{
				text("queue_id", e.ID), text("kind", e.Kind), text("to", e.To), text("subject", e.Subject), text("body", e.Body),
				text("account_id", e.SubaccountID), text("domain", e.Domain), text("created", e.CreatedAt.UTC().Format("2006-01-02 15:04:05")),
			}})
		}
		return []*Node{text("count", len(es)), list}, nil
	case "markEmailSent":
		qid, err := id("queue_id", req.QueueID)
		if err != nil {
			return nil, err
		}
		if _, err := h.svc.MarkEmailSent(ctx, c, qid); err != nil {
			return nil, err
		}
		return []*Node{text("queue_id", qid), text("status", "sent")}, nil
	case "passwordReset":
		if req.Password == "" {
			return nil, methodError("password is required")
		}
		accountID, siteID, err := req.ids()
		if err != nil {
			return nil, err
		}
		a, _, err := h.account(ctx, c, accountRef{accountID: accountID, siteID: siteID})
		if err != nil {
			return nil, err
		}
		// The core's one password rule: strength, and none of the
		// account's email name or its websites' domains.
		if err := h.svc.SetSubaccountPassword(ctx, c, a.ID, req.Password); err != nil {
			return nil, err
		}
		return []*Node{text("account_id", a.ID), text("status", "ok")}, nil
	case "provisionAddon":
		siteID, err := id("site_id", req.SiteID)
		if err != nil {
			return nil, err
		}
		qty, err := id("quantity", req.Quantity)
		if err != nil {
			return nil, err
		}
		a, err := h.svc.ProvisionAddon(ctx, c, siteID, strings.TrimSpace(req.Addon), qty)
		if err != nil {
			return nil, err
		}
		return addonNodes(a), nil
	case "modifyAddon":
		aid, err := id("addon_id", req.AddonID)
		if err != nil {
			return nil, err
		}
		qty, err := id("quantity", req.Quantity)
		if err != nil {
			return nil, err
		}
		a, err := h.svc.ModifyAddon(ctx, c, aid, qty)
		if err != nil {
			return nil, err
		}
		return addonNodes(a), nil
	case "deleteAddon":
		aid, err := id("addon_id", req.AddonID)
		if err != nil {
			return nil, err
		}
		if err := h.svc.DeleteAddon(ctx, c, aid); err != nil {
			return nil, err
		}
		return []*Node{text("addon_id", aid), text("status", "deleted")}, nil
	case "getIpAddresses":
		ips := h.svc.Config().EgressIPs
		if len(ips) == 0 {
			return nil, methodError("no addresses are configured on this Palisade; its operator sets them with --egress-ip")
		}
		list := &Node{Name: "ip_addresses"}
		for _, ip := range ips {
			list.Kids = append(list.Kids, text("ip", ip))
		}
		return []*Node{list}, nil
	case "freeScan":
		d := strings.TrimSpace(req.Domain)
		if d == "" && req.Site != nil {
			d = strings.TrimSpace(req.Site.Domain)
		}
		if d == "" {
			return nil, methodError("domain is required")
		}
		domain, err := core.NormalizeDomain(d)
		if err != nil {
			return nil, err
		}
		res, err := h.scanner.Scan(ctx, domain)
		if err != nil {
			return nil, methodError("scan of " + domain + " failed: " + err.Error())
		}
		probe := func(name string, p scan.Probe) *Node {
			n := &Node{Name: name, Kids: []*Node{text("answers", yesNo(p.OK))}}
			if p.OK {
				n.Kids = append(n.Kids, text("status", p.Status))
			} else {
				n.Kids = append(n.Kids, text("error", p.Error))
			}
			return n
		}
		return []*Node{text("domain", domain), text("addresses", strings.Join(res.Addresses, " ")), probe("http", res.HTTP), probe("https", res.HTTPS),
			text("palisade", map[bool]string{true: "detected", false: "not detected"}[res.Palisade]), text("note", res.PalisadeNote)}, nil
	case "getWafSettings", "setWafSettings":
		return h.wafSettings(ctx, c, req)
	case "getSmartSettings", "setSmartSettings", "getSmartPatchSettings", "setSmartPatchSettings", "getSmartDatabaseSettings", "setSmartDatabaseSettings",
		"getBackupSettings", "setBackupSettings":
		return h.scanSettings(ctx, c, req)
	case "startScan":
		return h.startScan(ctx, c, req)
	case "getScanResults":
		return h.getScanResults(ctx, c, req)
	case "getBackups":
		return h.getBackups(ctx, c, req)
	case "restoreBackup":
		return h.restoreBackup(ctx, c, req)
	}
	return nil, methodError("unknown method " + req.Method)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func addonNodes(a core.Addon) []*Node {
	return []*Node{text("addon_id", a.ID), text("site_id", a.WebsiteID), text("addon", a.Product), text("quantity", a.Quantity), text("status", a.Status)}
}

func (h *Handler) provisionAccount(ctx context.Context, c core.Caller, req *Request) ([]*Node, error) {
	if req.Account == nil {
		return nil, methodError("account information (<account>) is required")
	}
	acc := req.Account
	var domain, plan string
	if req.Site != nil {
		domain, plan = strings.TrimSpace(req.Site.Domain), strings.TrimSpace(req.Site.Subscription)
		if domain == "" {
			return nil, methodError("site information needs a domain")
		}
		if plan == "" {
			return nil, methodError("site information needs a subscription")
		}
	}
	in := core.Provision{
		Account:  core.SubaccountCreate{Email: acc.Email, FirstName: acc.FirstName, LastName: acc.LastName, Company: acc.Company, Country: acc.Country, Address: acc.Address, Lang: acc.Lang},
		Password: acc.Password, Domain: domain, Plan: plan, MustBeNew: true,
	}
	if acc.AccountID != "" {
		// A site for an existing account: the account is found by its id.
		aid, err := id("account_id", acc.AccountID)
		if err != nil {
			return nil, err
		}
		a, _, err := h.account(ctx, c, accountRef{accountID: aid})
		if err != nil {
			return nil, err
		}
		if domain == "" {
			return nil, methodError("site information (<site>) is required to add a site to an account")
		}
		in.Account = core.SubaccountCreate{Email: a.Email}
		in.MustBeNew, in.Password = false, ""
	}
	// Refusals are worded by errorAnswer: Subscription doesn't exist,
	// Account already exists, Site already exists.
	a, w, err := h.svc.ProvisionAccount(ctx, c, in)
	if err != nil {
		return nil, err
	}
	out := []*Node{text("account_id", a.ID), text("login", a.Email)}
	if domain != "" {
		out = append(out, text("site_id", w.ID), text("domain", w.Domain), text("status", siteStatus(w.Status)), text("subscription", w.Plan.Name),
			text("server_key", w.ServerKey), text("expires", w.ExpiresAt.UTC().Format("2006-01-02")))
	}
	return out, nil
}

func (h *Handler) modifyAccount(ctx context.Context, c core.Caller, req *Request) ([]*Node, error) {
	siteKind := req.Subscription != "" || req.RenewalDate != "" || req.Status != ""
	accountKind := req.Email != ""
	switch {
	case siteKind && accountKind:
		return nil, methodError("modifyAccount changes either a site (subscription, renewal_date, status) or the account's email, not both at once")
	case accountKind:
		aid, err := id("account_id", req.AccountID)
		if err != nil {
			return nil, err
		}
		a, err := h.svc.UpdateSubaccountEmail(ctx, c, aid, req.Email)
		if err != nil {
			return nil, err
		}
		return []*Node{text("account_id", a.ID), text("login", a.Email)}, nil
	case !siteKind:
		return nil, methodError("nothing to change: give subscription, renewal_date or status (with site_id), or email (with account_id)")
	}
	siteID, err := id("site_id", req.SiteID)
	if err != nil {
		return nil, err
	}
	// Every change of the call is read first and then applied in one
	// transaction: a refused part (a downgrade, too little credit) leaves
	// the site as it was, status included.
	var ch core.WebsiteChange
	if s := strings.TrimSpace(req.Status); s != "" {
		st := map[string]string{"active": core.StatusOnline, "suspended": core.StatusPaused}[strings.ToLower(s)]
		if st == "" {
			return nil, methodError("status must be active or suspended, not " + strconv.Quote(s))
		}
		ch.Status = &st
	}
	ch.Plan = strings.TrimSpace(req.Subscription)
	if d := strings.TrimSpace(req.RenewalDate); d != "" {
		until, perr := time.Parse("2006-01-02", d)
		if perr != nil {
			return nil, methodError("renewal_date must be a date as YYYY-MM-DD, not " + strconv.Quote(d))
		}
		ch.RenewUntil = until
	}
	w, err := h.svc.WebsiteByID(ctx, c, siteID)
	if err != nil {
		return nil, err
	}
	if w, _, err = h.svc.ModifyWebsite(ctx, c, w.Domain, ch, core.Match{}, core.Idem{}); err != nil {
		return nil, err
	}
	return siteNodes(w), nil
}

func siteNodes(w core.Website) []*Node {
	return []*Node{text("site_id", w.ID), text("domain", w.Domain), text("status", siteStatus(w.Status)), text("subscription", w.Plan.Name),
		text("expires", w.ExpiresAt.UTC().Format("2006-01-02"))}
}

// siteStatus words a website's status for this protocol.
func siteStatus(s string) string {
	switch s {
	case core.StatusPaused:
		return "suspended"
	case core.StatusDeleted:
		return "deleted"
	case core.StatusSetup:
		return "pending"
	}
	return "active"
}

func (h *Handler) accountNode(ctx context.Context, c core.Caller, a core.Subaccount) (*Node, error) {
	ws, err := h.svc.Websites(ctx, c, core.WebsiteFilter{SubaccountID: a.ID})
	if err != nil {
		return nil, err
	}
	return accountNode(a, ws), nil
}

// accountNode is an account with its websites ws.
func accountNode(a core.Subaccount, ws []core.Website) *Node {
	sites := &Node{Name: "sites"}
	for _, w := range ws {
		sites.Kids = append(sites.Kids, &Node{Name: "site", Kids: siteNodes(w)})
	}
	return &Node{Name: "account", Kids: []*Node{text("account_id", a.ID), text("login", a.Email), text("first_name", a.FirstName),
		text("last_name", a.LastName), text("company", a.Company), sites}}
}

func (h *Handler) getAccounts(ctx context.Context, c core.Caller, req *Request) ([]*Node, error) {
	limit, offset := 50, 0
	if req.Limit != "" {
		n, err := strconv.Atoi(strings.TrimSpace(req.Limit))
		if err != nil || n < 1 || n > 500 {
			return nil, methodError("limit must be between 1 and 500")
		}
		limit = n
	}
	if req.Offset != "" {
		n, err := strconv.Atoi(strings.TrimSpace(req.Offset))
		if err != nil || n < 0 {
			return nil, methodError("offset must be 0 or more")
		}
		offset = n
	}
	// One page: a count and two indexed queries, however many accounts.
	page, err := h.svc.AccountsPage(ctx, c, limit, offset)
	if err != nil {
		return nil, err
	}
	list := &Node{Name: "accounts"}
	for _, a := range page.Accounts {
		list.Kids = append(list.Kids, accountNode(a, page.Websites[a.ID]))
	}
	return []*Node{text("total", page.Total), text("limit", limit), text("offset", min(offset, page.Total)), list}, nil
}

func (h *Handler) getStatus(ctx context.Context, c core.Caller, req *Request) ([]*Node, error) {
	var a core.Subaccount
	switch {
	case req.AccountID != "", req.Login == "" && (req.SiteID != "" || req.Domain != ""):
		accountID, siteID, err := req.ids()
		if err != nil {
			return nil, err
		}
		ref := accountRef{accountID: accountID, siteID: siteID, domain: req.Domain, siteAlone: true}
		var w core.Website
		if a, w, err = h.account(ctx, c, ref); err != nil {
			return nil, err
		}
		if a.ID == 0 {
			return []*Node{{Name: "site", Kids: siteNodes(w)}}, nil
		}
	case req.Login != "":
		as, err := h.svc.Subaccounts(ctx, c, core.SubaccountFilter{Email: req.Login, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(as) == 0 {
			return nil, methodError("login not found")
		}
		a = as[0]
	default:
		return nil, methodError("give account_id, login, domain or site_id")
	}
	n, err := h.accountNode(ctx, c, a)
	if err != nil {
		return nil, err
	}
	return []*Node{n}, nil
}

// accountRef names a customer account: by its id, or as the owner of a
// site (by site_id or domain).
type accountRef struct {
	accountID, siteID int64
	domain            string
	// siteAlone accepts a site without an account: the answer is then
	// the zero account with the site.
	siteAlone bool
}

// account is the one way this API finds a customer account: by
// account_id, else as the owner of site_id or domain (which site it also
// returns). An account_id that is not the partner's is "account_id not
// found"; a site with no account is refused unless ref.siteAlone. Every
// other error (the store unavailable, say) passes through as it is.
func (h *Handler) account(ctx context.Context, c core.Caller, ref accountRef) (core.Subaccount, core.Website, error) {
	accountID := ref.accountID
	var w core.Website
	if accountID == 0 {
		var err error
		switch {
		case ref.siteID != 0:
			w, err = h.svc.WebsiteByID(ctx, c, ref.siteID)
		case strings.TrimSpace(ref.domain) != "":
			w, err = h.svc.Website(ctx, c, ref.domain)
		default:
			return core.Subaccount{}, w, methodError("account_id or site_id is required")
		}
		if err != nil {
			return core.Subaccount{}, w, err
		}
		if w.SubaccountID == 0 {
			if ref.siteAlone {
				return core.Subaccount{}, w, nil
			}
			return core.Subaccount{}, w, methodError("site_id " + strconv.FormatInt(w.ID, 10) + " has no account")
		}
		accountID = w.SubaccountID
	}
	a, err := h.svc.Subaccount(ctx, c, accountID)
	if core.ErrorCode(err) == core.ENOTFOUND {
		return a, w, methodError("account_id not found")
	}
	return a, w, err
}
