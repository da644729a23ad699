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
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/api/gp"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
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
	}
	for k, f := range i18nFuncs() {
		funcs[k] = f
	}
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	for _, p := range []string{"statistics", "events", "event", "rules", "integration", "console", "operator", "overview", "login", "message", "switch"} {
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
	mux.HandleFunc("GET /_assets/{file}", h.asset)
	mux.HandleFunc("GET /_assets/vendor/{file}", h.asset)
	mux.HandleFunc("GET /{lang}/website/{domain}/{page}", h.website)
	mux.HandleFunc("POST /{lang}/website/{domain}/edit", h.editPost)
	mux.HandleFunc("GET /{lang}/website/{domain}/events/{id}", h.eventDetail)
	mux.HandleFunc("POST /{lang}/website/{domain}/events/{id}/allow", h.eventAllow)
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
			h.fail(w, r, nil, core.Errorf(core.EFORBIDDEN, "the form expired; reload the page and try again"))
			return
		}
		_ = h.svc.Logout(r.Context(), c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: gp.SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
	h.message(w, r, nil, http.StatusOK, "Signed out. Open the dashboard from your hosting panel to sign in again.")
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
		h.fail(w, r, nil, core.Errorf(core.EINVALID, "the form could not be read"))
		return view{}, core.Session{}, "", false
	}
	v, s, value, ok := h.site(w, r)
	if !ok {
		return v, s, value, false
	}
	if !h.csrfOK(r, value) {
		h.fail(w, r, nil, core.Errorf(core.EFORBIDDEN, "the form expired; reload the page and try again"))
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
	return v, s, value, true
}

func (h *Handler) website(w http.ResponseWriter, r *http.Request) {
	page := r.PathValue("page")
	switch page {
	case "statistics", "events", "edit", "integration":
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

// write renders page name with the layout; frame is the branding whose
// embed origins may frame it (nil: none).
func (h *Handler) write(w http.ResponseWriter, name string, status int, v view, frame *core.Branding) {
	headers(w, frame)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var b strings.Builder
	if err := h.pages[name].ExecuteTemplate(&b, "layout.html", v); err != nil {
		h.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

func (h *Handler) message(w http.ResponseWriter, r *http.Request, p *core.Partner, status int, msg string) {
	v := view{Lang: lang(r.PathValue("lang")), Title: "Palisade", Assets: "/_assets/", Data: msg}
	if p != nil && p.ID != 0 {
		v.Brand = p.Branding()
	} else {
		v.Brand = core.Branding{Name: "Palisade", Color: "#2f5bd3"}
	}
	h.render(w, "message", status, v)
}

// fail answers err with a message page, through ErrorTable.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, p *core.Partner, err error) {
	code, msg := h.problem(w, r, err, false)
	if p == nil {
		// Branded as the visitor's own partner when signed in. Before
		// sign-in the answer is Palisade's, unframed, and the same for a
		// registered website and an unknown domain: it must not tell
		// who serves a domain (or whether anyone does).
		if s, _, serr := h.cookieSession(r); serr == nil {
			if bp, perr := h.svc.Partner(r.Context(), callerOf(s)); perr == nil {
				p = &bp
			}
		}
	}
	h.message(w, r, p, code, msg)
}
