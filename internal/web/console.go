package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/palisadehq/palisade/internal/api/userapi"
	"github.com/palisadehq/palisade/internal/core"
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

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	h.renderConsole(w, "login", http.StatusOK, view{Lang: "en", Title: "Sign in", Brand: core.Branding{Name: "Palisade", Color: "#2f5bd3"}, Assets: "/_assets/",
		Data: map[string]any{"Email": "", "Error": "", "TOTP": false}})
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
	data := map[string]any{"Email": email, "Error": "", "TOTP": true}
	v := view{Lang: "en", Title: "Sign in", Brand: core.Branding{Name: "Palisade", Color: "#2f5bd3"}, Assets: "/_assets/", Data: data}
	l, err := h.svc.ConsoleLogin(r.Context(), core.ConsoleSignIn{Email: email, Password: r.PostFormValue("password"), Code: r.PostFormValue("code"),
		Addr: netutil.ClientAddr(r, h.trusted)})
	switch core.ErrorCode(err) {
	case "":
		h.setSessionCookie(w, r, l)
		http.Redirect(w, r, l.Next, http.StatusSeeOther)
	case core.ERATELIMITED:
		data["Error"] = core.ErrorMessage(err)
		h.renderConsole(w, "login", http.StatusTooManyRequests, v)
	case core.EUNAUTHORIZED:
		data["Error"] = core.ErrorMessage(err)
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
	Partner   core.Partner
	Sites     []core.Website
	Customers []core.Subaccount
	Ledger    []core.LedgerEntry
	Keys      []core.APIKey
	NewKey    string
	Plans     []core.Plan
	Emails    []core.Email
	Audit     []core.AuditEntry
	Branding  core.Branding
	Query     string
	Status    string
	Error     string
	Notice    string
	TOTPOn    bool
	Secret    string
	SecretURI string
	Email     string
	UserAPI   core.UserAPIConfig
	APIBase   string // the base URL the partner gives its customers: its User API scope
	APILog    []core.UserAPILogEntry
	WAF       *wafConsole // the firewall page
}

func (h *Handler) console(page string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, value, ok := h.staff(w, r, core.ScopePartner)
		if !ok {
			return
		}
		h.consolePage(w, r, s, value, page, &consoleData{Notice: r.URL.Query().Get("notice")}, http.StatusOK)
	}
}

func (h *Handler) consolePage(w http.ResponseWriter, r *http.Request, s core.Session, value, page string, d *consoleData, status int) {
	ctx, c := r.Context(), callerOf(s)
	p, err := h.svc.Partner(ctx, c)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	d.Partner, d.Branding = p, p.Branding()
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
		d.Ledger, err = h.svc.Ledger(ctx, c, 0, 500)
	case "keys":
		d.Keys, err = h.svc.PartnerKeys(ctx, c, s.PartnerID)
	case "plans":
		d.Plans, err = h.svc.Plans(ctx)
	case "emails":
		d.Emails, err = h.svc.Emails(ctx, c, core.EmailFilter{Limit: 500})
	case "audit":
		d.Audit, err = h.svc.Audit(ctx, c, 0, 500)
	case "userapi":
		d.APIBase = userapi.ScopeBase(h.svc.Config().PublicURL, p.Name)
		if d.UserAPI, err = h.svc.UserAPIConfigOf(ctx, s.PartnerID); err == nil {
			d.APILog, err = h.svc.UserAPILog(ctx, c, 0, 200)
		}
	case "firewall":
		err = h.wafConsoleData(r, s, d)
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
	v := view{Lang: "en", Title: strings.ToUpper(page[:1]) + page[1:], Brand: p.Branding(), CSRF: csrfToken(value), Assets: "/_assets/", Tab: page, Data: d}
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

func (h *Handler) consolePost(w http.ResponseWriter, r *http.Request) {
	s, value, ok := h.staffPost(w, r, core.ScopePartner)
	if !ok {
		return
	}
	ctx, c, f := r.Context(), callerOf(s), r.PostForm
	back := func(page, notice string) {
		u := "/console"
		if page != "websites" {
			u += "/" + page
		}
		http.Redirect(w, r, u+"?notice="+url.QueryEscape(notice), http.StatusSeeOther)
	}
	redo := func(page string, d *consoleData, err error) {
		var status int
		status, d.Error = h.problem(w, r, err, true)
		h.consolePage(w, r, s, value, page, d, status)
	}
	switch r.PathValue("action") {
	case "status":
		st := f.Get("status")
		if _, err := h.svc.UpdateWebsite(ctx, c, f.Get("domain"), core.WebsiteUpdate{Status: &st}, core.Match{}); err != nil {
			redo("websites", &consoleData{}, err)
			return
		}
		back("websites", f.Get("domain")+": "+st)
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
		back("keys", "revoked "+f.Get("prefix"))
	case "branding":
		b := core.Branding{Name: f.Get("name"), Logo: strings.TrimSpace(f.Get("logo")), Color: strings.TrimSpace(f.Get("color")),
			SupportURL: strings.TrimSpace(f.Get("support_url")), EmbedOrigins: splitLines(f.Get("embed_origins"))}
		if _, err := h.svc.SetBranding(ctx, c, s.PartnerID, b); err != nil {
			redo("branding", &consoleData{}, err)
			return
		}
		back("branding", "saved")
	case "totp":
		if s.UserID == 0 {
			h.fail(w, r, nil, core.Errorf(core.EFORBIDDEN, "sign in with your email and password to set up a second factor"))
			return
		}
		if err := h.svc.EnableTOTP(ctx, s.UserID, f.Get("secret"), f.Get("code")); err != nil {
			redo("security", &consoleData{Secret: f.Get("secret")}, err)
			return
		}
		back("security", "two-factor sign-in is on")
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

// ---- operator ----

