// Package web serves the pages people open in a browser: the customer
// pages of a website (statistics, events, protection rules, integration
// guide) that partners link to or embed in their panels, the single-sign-on
// landing (/sso), and the partner's overview. Server-rendered HTML
// (html/template); htmx and uPlot, vendored from the npm registry and
// embedded, add live updates and the chart; every page works without
// JavaScript except the chart, which has a table twin.
package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/api/gp"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/i18n"
	"github.com/palisadehq/palisade/internal/netutil"
	"github.com/palisadehq/palisade/internal/routes"
	"github.com/palisadehq/palisade/internal/web/signin"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Explainer says what the engine would decide for a request under given
// settings (the rule editor's "test a request").
type Explainer interface {
	Explain(site engine.Site, r *engine.Request) (engine.Verdict, error)
}

// Handler serves the pages.
type Handler struct {
	svc          *core.Service
	log          *slog.Logger
	explain      Explainer
	trusted      netutil.Proxies // --trusted-proxy: who may tell the client's address
	pages        map[string]*template.Template
	assetVersion string
	now          func() time.Time // the service's clock (statistics periods, sign-in limits)
}

// New returns the page handler; explain may be nil (no "test a request");
// trusted are the reverse proxies in front (for sign-in rate limits).
func New(svc *core.Service, explain Explainer, trusted netutil.Proxies, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	h := &Handler{svc: svc, log: log, explain: explain, trusted: trusted, pages: map[string]*template.Template{}, now: svc.Now}
	funcs := template.FuncMap{
		"join":  strings.Join,
		"lines": func(v []string) string { return strings.Join(v, "\n") },
		"time":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
		"date":  func(t time.Time) string { return t.UTC().Format("2006-01-02") },
		"pct":   func(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" },
		"add":   func(a, b int) int { return a + b },
		"int64": func(i int) int64 { return int64(i) },
		"list4": func(a, b, c, d string) []string { return []string{a, b, c, d} },
		"list9": func(v ...string) []string { return v },
		"dict2": func(l string, rows []core.TopRow) map[string]any { return map[string]any{"Lang": l, "Rows": rows} },
		"actions": func() []string {
			return []string{"grant", "deny", "challenge", "captcha", "redirect", "return_fake_data"}
		},
		"wbrpath":  wbrPath,
		"readable": readableBrand,
		"dict": func(kv ...any) map[string]any {
			m := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				if k, ok := kv[i].(string); ok {
					m[k] = kv[i+1]
				}
			}
			return m
		},
		"label":  label,
		"size":   func(l string, n int64) string { return byteSize(l, n) },
		"reason": reasonLabel,
	}
	for k, f := range i18nFuncs() {
		funcs[k] = f
	}
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	for _, p := range []string{"statistics", "events", "event", "rules", "integration", "console", "operator", "overview", "login", "message", "switch", "scan", "backups"} {
		h.pages[p] = template.Must(template.Must(layout.Clone()).ParseFS(templateFS, "templates/"+p+".html"))
	}
	h.pages["rows"] = template.Must(template.New("rows.html").Funcs(funcs).ParseFS(templateFS, "templates/events.html"))
	// Assets are cached for a year under a name that changes with them.
	sum := sha256.New()
	_ = fs.WalkDir(staticFS, "static", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := staticFS.ReadFile(path)
			sum.Write(b)
		}
		return nil
	})
	h.assetVersion = hex.EncodeToString(sum.Sum(nil))[:12]
	return h
}

// setSessionCookie sets the dashboard session cookie; it is Secure when
// --public-url is https or the request came over HTTPS as a trusted proxy
// (--trusted-proxy) says, never because a client says so.
func (h *Handler) setSessionCookie(w http.ResponseWriter, r *http.Request, l core.Login) {
	gp.SessionCookies{PublicURL: h.svc.Config().PublicURL, Proxies: h.trusted}.Set(w, r, l)
}

// Register adds the routes to mux.
func (h *Handler) Register(mux routes.Mux) {
	mux.HandleFunc("GET /sso", h.sso)
	mux.HandleFunc("GET "+signin.ConfirmPath, h.switchPage)
	mux.HandleFunc("POST "+signin.ConfirmPath, h.switchPost)
	mux.HandleFunc("POST /logout", h.logout)
	h.registerConsole(mux)
	h.registerOverview(mux)
	h.registerGuide(mux)
	mux.HandleFunc("GET /favicon.ico", h.favicon)
	mux.HandleFunc("GET /favicon.svg", h.favicon)
	mux.HandleFunc("GET /_assets/{file}", h.asset)
	mux.HandleFunc("GET /_assets/vendor/{file}", h.asset)
	mux.HandleFunc("GET /{lang}/website/{domain}/{page}", h.website)
	mux.HandleFunc("POST /{lang}/website/{domain}/edit", h.editPost)
	mux.HandleFunc("GET /{lang}/website/{domain}/events/{id}", h.eventDetail)
	mux.HandleFunc("POST /{lang}/website/{domain}/events/{id}/allow", h.eventAllow)
	h.registerEventAllow(mux)
	h.registerScan(mux)
}

func (h *Handler) asset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if strings.HasPrefix(r.URL.Path, "/_assets/vendor/") {
		name = "vendor/" + name
	}
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil || strings.Contains(name, "..") {
		http.NotFound(w, r)
		return
	}
	switch {
	case strings.HasSuffix(name, ".js"):
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case strings.HasSuffix(name, ".css"):
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case strings.HasSuffix(name, ".svg"):
		w.Header().Set("Content-Type", "image/svg+xml")
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(b)
}

func (h *Handler) sso(w http.ResponseWriter, r *http.Request) {
	l, err := h.svc.LoginWithToken(r.Context(), r.URL.Query().Get("token"))
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	// The token leaves the address bar (and any Referer) at once; a
	// session of someone else in this browser is not replaced unasked.
	signin.Link(w, r, h.svc, l, l.Next, h.setSessionCookie)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(gp.SessionCookie); err == nil {
		if !h.csrfOK(r, c.Value) {
			h.fail(w, r, nil, core.Errorf(core.EFORBIDDEN, "%s", tr(pageLang(r), "common.formexpired")))
			return
		}
		_ = h.svc.Logout(r.Context(), c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: gp.SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
	l := pageLang(r)
	h.message(w, r, nil, http.StatusOK, tr(l, "common.signedout.title"), tr(l, "common.signedout"))
}

// csrfToken is derived from the session's secret value, so it needs no
// storage and dies with the session.
func csrfToken(sessionValue string) string {
	m := hmac.New(sha256.New, []byte(sessionValue))
	m.Write([]byte("palisade csrf"))
	return hex.EncodeToString(m.Sum(nil))[:32]
}

func (h *Handler) csrfOK(r *http.Request, sessionValue string) bool {
	got := r.PostFormValue("csrf")
	if got == "" {
		got = r.Header.Get("X-CSRF-Token")
	}
	return got != "" && hmac.Equal([]byte(got), []byte(csrfToken(sessionValue)))
}

// view is what every page template sees.
type view struct {
	Lang, Title, Tab, Base, CSRF, Assets string
	Brand                                core.Branding
	Site                                 core.Website
	Customer                             bool
	Data                                 any
	// Langs are the language switch's links (the same page in every
	// language); empty: no switch.
	Langs []langLink
	// PoweredBy shows "Powered by Palisade" in the footer: only when the
	// partner chose it (render sets it from the branding).
	PoweredBy bool
	// Icon is the favicon's address, in the brand's colour.
	Icon string
}

// hexColor is a colour as six hex digits (the favicon's ?c=).
var hexColor = regexp.MustCompile(`^[0-9a-fA-F]{6}$`)

// langLink is one entry of the language switch.
type langLink struct {
	Code, Name, Href string
	Current          bool
}

// langLinks are the links to the page of path (which starts with
// /{lang}/) in every language, keeping the query.
func langLinks(cur, path, rawQuery string) []langLink {
	rest := path
	if i := strings.IndexByte(strings.TrimPrefix(path, "/"), '/'); i >= 0 {
		rest = path[i+1:]
	}
	var out []langLink
	for _, l := range i18n.Languages {
		u := url.URL{Path: "/" + l + rest, RawQuery: rawQuery}
		out = append(out, langLink{Code: l, Name: i18n.Names[l], Href: u.String(), Current: l == cur})
	}
	return out
}

// pageLang is the language of a page: the address's /{lang}/ (an unknown
// code is English), else, for pages without one (sign-out, the switch
// confirmation, the console's), the ?lang= or the language a staff page
// remembered (langCookie), else the browser's Accept-Language, else
// English.
func pageLang(r *http.Request) string {
	if l := r.PathValue("lang"); l != "" {
		return lang(l)
	}
	l, _ := chosenLang(r, "en")
	return l
}

// operatorBrand is the branding of pages no partner owns (before sign-in,
// unknown domains): the operator's own name (core.Config's BrandName,
// --brand-name) or none at all, a neutral page. Never the product's name.
func (h *Handler) operatorBrand() core.Branding {
	b := core.Branding{Color: "#2f5bd3", EmbedOrigins: []string{}}
	if h.svc != nil {
		b.Name = configBrandName(h.svc.Config())
	}
	return b
}

// wbrPath escapes a path for HTML and lets it break only after each "/"
// (<wbr>), so "/shop/cart" wraps as "/shop/ cart", never "/shop/car t".
func wbrPath(p string) template.HTML {
	parts := strings.Split(p, "/")
	for i := range parts {
		parts[i] = template.HTMLEscapeString(parts[i])
	}
	return template.HTML(strings.Join(parts, "/<wbr>"))
}

// label is the human label of an API name in l: the message prefix+v
// ("catname." + "humans"), or v itself when there is none (a rule's own
// name, a category added later).
func label(l, prefix, v string) string {
	if v != "" && i18n.Has(l, prefix+v) {
		return i18n.T(l, prefix+v)
	}
	if v != "" && i18n.Has("en", prefix+v) {
		return i18n.T("en", prefix+v)
	}
	return v
}

// session finds the request's session: from ?api-key= or ?token= (both
// exchanged for the cookie at once, with a redirect that drops them from the
// address), else from the cookie. It writes the answer when there is none.
func (h *Handler) session(w http.ResponseWriter, r *http.Request) (core.Session, string, bool) {
	q := r.URL.Query()
	if key, tok := q.Get("api-key"), q.Get("token"); key != "" || tok != "" {
		var l core.Login
		var err error
		if key != "" {
			l, err = h.svc.LoginWithSubaccountKey(r.Context(), key, r.PathValue("domain"))
		} else {
			l, err = h.svc.LoginWithToken(r.Context(), tok)
		}
		if err != nil {
			h.fail(w, r, nil, err)
			return core.Session{}, "", false
		}
		q.Del("api-key")
		q.Del("token")
		u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
		// A session of someone else in this browser is not replaced
		// unasked: signin.Link asks first (see package signin).
		signin.Link(w, r, h.svc, l, u.String(), h.setSessionCookie)
		return core.Session{}, "", false
	}
	s, v, err := h.cookieSession(r)
	if err != nil {
		h.fail(w, r, nil, err)
		return core.Session{}, "", false
	}
	return s, v, true
}

// cookieSession returns the live session the request's cookie names, and
// the cookie's value (the CSRF token derives from it).
func (h *Handler) cookieSession(r *http.Request) (core.Session, string, error) {
	v := ""
	if c, err := r.Cookie(gp.SessionCookie); err == nil {
		v = c.Value
	}
	s, err := h.svc.SessionByValue(r.Context(), v)
	return s, v, err
}

// callerOf is who a session acts as; the core decides what it may do.
func callerOf(s core.Session) core.Caller { return core.SessionCaller(s) }

// site loads the page's website and checks the session may see it.
// sitePost reads a customer page's form (at most limit bytes), finds the
// website of the page and checks the form's CSRF token; when it returns
// false it has answered the request.
func (h *Handler) sitePost(w http.ResponseWriter, r *http.Request, limit int64) (view, core.Session, string, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, nil, core.Errorf(core.EINVALID, "%s", tr(pageLang(r), "common.formunreadable")))
		return view{}, core.Session{}, "", false
	}
	v, s, value, ok := h.site(w, r)
	if !ok {
		return v, s, value, false
	}
	if !h.csrfOK(r, value) {
		h.fail(w, r, nil, core.Errorf(core.EFORBIDDEN, "%s", tr(pageLang(r), "common.formexpired")))
		return v, s, value, false
	}
	return v, s, value, true
}

func (h *Handler) site(w http.ResponseWriter, r *http.Request) (view, core.Session, string, bool) {
	s, value, ok := h.session(w, r)
	if !ok {
		return view{}, s, "", false
	}
	c := callerOf(s)
	// A customer's session opens its own websites only.
	site, err := h.svc.OwnedWebsite(r.Context(), c, r.PathValue("domain"))
	p, perr := h.svc.Partner(r.Context(), c)
	if err == nil {
		err = perr
	}
	if err != nil {
		h.fail(w, r, &p, err)
		return view{}, s, "", false
	}
	l := lang(r.PathValue("lang"))
	v := view{Lang: l, Brand: p.Branding(), Site: site, Customer: s.Scope == core.ScopeCustomer, CSRF: csrfToken(value),
		Base: "/" + l + "/website/" + url.PathEscape(site.Domain), Assets: "/_assets/", Tab: r.PathValue("page")}
	if r.Method == http.MethodGet {
		v.Langs = langLinks(l, r.URL.Path, r.URL.RawQuery)
	} else {
		v.Langs = langLinks(l, r.URL.Path, "")
	}
	return v, s, value, true
}

func (h *Handler) website(w http.ResponseWriter, r *http.Request) {
	page := r.PathValue("page")
	switch page {
	case "statistics", "events", "edit", "integration", "scan", "backups":
	default:
		h.fail(w, r, nil, core.Errorf(core.ENOTFOUND, "no such page: %s", page))
		return
	}
	v, s, _, ok := h.site(w, r)
	if !ok {
		return
	}
	switch page {
	case "statistics":
		h.statistics(w, r, v, s)
	case "events":
		h.events(w, r, v, s)
	case "edit":
		h.rulesPage(w, r, v, s, nil)
	case "integration":
		h.integration(w, r, v, s)
	case "scan":
		h.scanPage(w, r, v, s, nil)
	case "backups":
		h.backupsPage(w, r, v, s, nil)
	}
}

// headers are every page's security headers: framing only by the partner's
// embed origins.
func headers(w http.ResponseWriter, b *core.Branding) {
	ancestors := "'none'"
	if b != nil && len(b.EmbedOrigins) > 0 {
		ancestors = "'self' " + strings.Join(b.EmbedOrigins, " ")
	}
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; "+
		"connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors "+ancestors)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
}

func (h *Handler) render(w http.ResponseWriter, name string, status int, v view) {
	h.write(w, name, status, v, &v.Brand)
}

// favicon is a neutral shield (no vendor's mark), in the colour ?c=rrggbb
// (the partner's; the pages link it), for /favicon.svg and for browsers
// that ask for /favicon.ico before reading a page.
func (h *Handler) favicon(w http.ResponseWriter, r *http.Request) {
	b, _ := staticFS.ReadFile("static/favicon.svg")
	if c := r.URL.Query().Get("c"); hexColor.MatchString(c) {
		b = []byte(strings.Replace(string(b), "#2f5bd3", "#"+strings.ToLower(c), 1))
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(b)
}

// write renders page name with the layout; frame is the branding whose
// embed origins may frame it (nil: none).
func (h *Handler) write(w http.ResponseWriter, name string, status int, v view, frame *core.Branding) {
	headers(w, frame)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	v.PoweredBy = poweredBy(v.Brand)
	v.Icon = "/favicon.svg"
	if c := strings.TrimPrefix(v.Brand.Color, "#"); hexColor.MatchString(c) {
		v.Icon += "?c=" + strings.ToLower(c)
	}
	var b strings.Builder
	if err := h.pages[name].ExecuteTemplate(&b, "layout.html", v); err != nil {
		h.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// messageView is the message page's: a heading, what happened in words,
// and (for a signed-in person only) the service's own detail.
type messageView struct {
	Heading, Text, Detail string
}

// message answers with a page saying text under heading (both already in
// the page's language), branded as partner p when given, else as the
// operator (a neutral page when the operator set no name).
func (h *Handler) message(w http.ResponseWriter, r *http.Request, p *core.Partner, status int, heading, text string) {
	h.messagePage(w, r, p, status, messageView{Heading: heading, Text: text})
}

func (h *Handler) messagePage(w http.ResponseWriter, r *http.Request, p *core.Partner, status int, m messageView) {
	v := view{Lang: pageLang(r), Title: m.Heading, Assets: "/_assets/", Data: m}
	if p != nil && p.ID != 0 {
		v.Brand = p.Branding()
	} else {
		v.Brand = h.operatorBrand()
	}
	h.render(w, "message", status, v)
}

// fail answers err with a message page, through ErrorTable: a heading and
// sentence in the page's language for the error's kind, and, for a
// signed-in person, the service's detail.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, p *core.Partner, err error) {
	code, msg := h.problem(w, r, err, false)
	signedIn := p != nil
	if p == nil && h.svc != nil {
		// Branded as the visitor's own partner when signed in. Before
		// sign-in the answer is the operator's (its --brand-name, or no
		// name), unframed, and the same for a registered website and an
		// unknown domain: it must not tell who serves a domain (or
		// whether anyone does), nor repeat the domain asked for.
		if s, _, serr := h.cookieSession(r); serr == nil {
			if bp, perr := h.svc.Partner(r.Context(), callerOf(s)); perr == nil {
				p, signedIn = &bp, true
			}
		}
	}
	l := pageLang(r)
	kind := core.ErrorCode(err)
	if _, ok := ErrorTable[kind]; !ok {
		kind = core.EINTERNAL
	}
	m := messageView{Heading: tr(l, "common.err."+kind+".title"), Text: tr(l, "common.err."+kind)}
	if signedIn {
		// The detail is the core's safe message (or the table's fixed
		// one); before sign-in it could name the domain asked for.
		m.Detail = msg
	}
	h.messagePage(w, r, p, code, m)
}

// configBrandName is the operator's name for pages no partner owns
// (core.Config.BrandName, --brand-name); "" when unset.
func configBrandName(c core.Config) string { return c.BrandName }

// poweredBy says whether the partner chose to show "Powered by Palisade"
// (core.Branding.PoweredBy, off by default).
func poweredBy(b core.Branding) bool { return b.PoweredBy }

// reasonLabel says in lang what decided a request, from an event's or
// verdict's source and reason: a category's or list's label, the website
// firewall, a built-in grant, or the customer's own rule or rate limit by
// its name.
func reasonLabel(l, source, reason string) string {
	switch source {
	case engine.SourceCategory:
		return label(l, "catname.", reason)
	case engine.SourceList:
		return label(l, "reason.", strings.ReplaceAll(reason, " ", "_"))
	case engine.SourceWAF:
		if reason == "waf" {
			return tr(l, "waf")
		}
		return label(l, "reason.", strings.ReplaceAll(reason, " ", "_"))
	case engine.SourceBuiltin:
		return i18n.T(l, "reason.builtin", map[string]any{"Name": reason})
	case engine.SourceRule:
		return i18n.T(l, "reason.rule", map[string]any{"Name": reason})
	case engine.SourceRateLimit:
		return i18n.T(l, "reason.ratelimit", map[string]any{"Name": reason})
	}
	return reason
}
