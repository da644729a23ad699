// Package web serves the pages people open in a browser: the single-sign-on
// landing (/sso), a customer's website overview and the partner's overview,
// behind the session cookie a login link sets. Server-rendered HTML, no
// JavaScript. The full dashboards (charts, event browser, rule editor,
// console) build on these routes.
package web

import (
	"html/template"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/palisadehq/palisade/internal/api/gp"
	"github.com/palisadehq/palisade/internal/core"
)

// Handler serves the pages.
type Handler struct {
	svc *core.Service
	log *slog.Logger
}

// New returns the page handler.
func New(svc *core.Service, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	return &Handler{svc: svc, log: log}
}

// Register adds the routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /sso", h.sso)
	mux.HandleFunc("POST /logout", h.logout)
	mux.HandleFunc("GET /partner", h.partner)
	mux.HandleFunc("GET /{lang}/website/{domain}/{page}", h.website)
}

func (h *Handler) sso(w http.ResponseWriter, r *http.Request) {
	l, err := h.svc.LoginWithToken(r.Context(), r.URL.Query().Get("token"))
	if err != nil {
		h.fail(w, err)
		return
	}
	gp.SetSessionCookie(w, r, l)
	// The token leaves the address bar (and any Referer) at once.
	http.Redirect(w, r, l.Next, http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(gp.SessionCookie); err == nil {
		_ = h.svc.Logout(r.Context(), c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: gp.SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
	page(w, http.StatusOK, "Signed out", "<p>You are signed out. Open the dashboard from your hosting panel to sign in again.</p>")
}

// session returns the request's session, or writes the reason there is none.
func (h *Handler) session(w http.ResponseWriter, r *http.Request) (core.Session, bool) {
	v := ""
	if c, err := r.Cookie(gp.SessionCookie); err == nil {
		v = c.Value
	}
	s, err := h.svc.SessionByValue(r.Context(), v)
	if err != nil {
		h.fail(w, err)
		return core.Session{}, false
	}
	return s, true
}

func callerOf(s core.Session) core.Caller {
	actor := "partner:" + strconv.FormatInt(s.PartnerID, 10) + " (dashboard)"
	if s.Scope == core.ScopeCustomer {
		actor = "customer:" + strconv.FormatInt(s.SubaccountID, 10) + " (dashboard)"
	}
	return core.Caller{PartnerID: s.PartnerID, Actor: actor, Protocol: core.ProtocolSSO}
}

type overview struct {
	Site     core.Website
	Counts   []count
	Total    int64
	Events   []core.Event
	Pass     core.ChallengeStats
	Customer bool
}

type count struct {
	Action string
	N      int64
}

var websiteTmpl = template.Must(template.New("w").Parse(`<h1>{{.Site.Domain}}</h1>
<dl><dt>Status</dt><dd>{{.Site.Status}}</dd><dt>Plan</dt><dd>{{.Site.Plan.Name}} ({{.Site.Plan.MonthlyQuota}} requests a month)</dd>
<dt>Protected until</dt><dd>{{.Site.ExpiresAt.Format "2006-01-02"}}</dd></dl>
<h2>Last 24 hours</h2>
{{if .Total}}<table><thead><tr><th scope="col">Decision</th><th scope="col">Requests</th></tr></thead><tbody>
{{range .Counts}}<tr><td>{{.Action}}</td><td>{{.N}}</td></tr>{{end}}</tbody></table>
<p>Browser challenges: {{.Pass.Issued}} issued, {{.Pass.Solved}} solved, {{.Pass.Failed}} failed.</p>
{{else}}<p>No traffic seen yet. Once your web server asks Palisade about requests, they appear here.</p>{{end}}
<h2>Latest blocked and challenged requests</h2>
{{if .Events}}<table><thead><tr><th scope="col">Time (UTC)</th><th scope="col">Decision</th><th scope="col">Reason</th><th scope="col">Client</th><th scope="col">Path</th></tr></thead><tbody>
{{range .Events}}<tr><td>{{.At.Format "2006-01-02 15:04:05"}}</td><td>{{.Action}}</td><td>{{.Reason}}</td><td>{{.IP}}</td><td>{{.Path}}</td></tr>{{end}}</tbody></table>
{{else}}<p>None.</p>{{end}}
<form method="post" action="/logout"><button>Sign out</button></form>`))

func (h *Handler) website(w http.ResponseWriter, r *http.Request) {
	switch r.PathValue("page") {
	case "statistics", "events", "edit":
	default:
		h.fail(w, core.Errorf(core.ENOTFOUND, "no such page: %s", r.PathValue("page")))
		return
	}
	s, ok := h.session(w, r)
	if !ok {
		return
	}
	c := callerOf(s)
	site, err := h.svc.Website(r.Context(), c, r.PathValue("domain"))
	if err != nil {
		h.fail(w, err)
		return
	}
	// A customer's session opens its own websites only.
	if s.Scope == core.ScopeCustomer && site.ID != s.WebsiteID && (s.SubaccountID == 0 || site.SubaccountID != s.SubaccountID) {
		h.fail(w, core.Errorf(core.ENOTFOUND, "website %s not found", site.Domain))
		return
	}
	now := time.Now()
	pts, err := h.svc.Stats(r.Context(), c, site.Domain, "hour", now.Add(-24*time.Hour), now)
	if err != nil {
		h.fail(w, err)
		return
	}
	byAction := map[string]int64{}
	ov := overview{Site: site, Pass: core.SummarizeChallenges(pts), Customer: s.Scope == core.ScopeCustomer}
	for _, p := range pts {
		if p.Category == "challenge" {
			continue
		}
		byAction[p.Action] += p.Count
		ov.Total += p.Count
	}
	for a, n := range byAction {
		ov.Counts = append(ov.Counts, count{a, n})
	}
	sort.Slice(ov.Counts, func(i, j int) bool { return ov.Counts[i].N > ov.Counts[j].N })
	if ov.Events, err = h.svc.Events(r.Context(), c, site.Domain, core.EventFilter{Limit: 20}); err != nil {
		h.fail(w, err)
		return
	}
	render(w, site.Domain, websiteTmpl, ov)
}

var partnerTmpl = template.Must(template.New("p").Parse(`<h1>{{.Partner.Name}}</h1>
<p>Credit: {{.Partner.Balance}}</p>
<h2>Websites</h2>
{{if .Sites}}<table><thead><tr><th scope="col">Domain</th><th scope="col">Status</th><th scope="col">Plan</th><th scope="col">Until</th></tr></thead><tbody>
{{range .Sites}}<tr><td><a href="/en/website/{{.Domain}}/statistics">{{.Domain}}</a></td><td>{{.Status}}</td><td>{{.Plan.Name}}</td><td>{{.ExpiresAt.Format "2006-01-02"}}</td></tr>{{end}}
</tbody></table>{{else}}<p>No websites yet.</p>{{end}}
<form method="post" action="/logout"><button>Sign out</button></form>`))

func (h *Handler) partner(w http.ResponseWriter, r *http.Request) {
	s, ok := h.session(w, r)
	if !ok {
		return
	}
	if s.Scope != core.ScopePartner {
		h.fail(w, core.Errorf(core.EFORBIDDEN, "this page is for the hosting provider's staff"))
		return
	}
	c := callerOf(s)
	p, err := h.svc.Partner(r.Context(), c)
	if err != nil {
		h.fail(w, err)
		return
	}
	sites, err := h.svc.Websites(r.Context(), c, core.WebsiteFilter{Limit: 500})
	if err != nil {
		h.fail(w, err)
		return
	}
	render(w, p.Name, partnerTmpl, map[string]any{"Partner": p, "Sites": sites})
}

func (h *Handler) fail(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch core.ErrorCode(err) {
	case core.EUNAUTHORIZED:
		code = http.StatusUnauthorized
	case core.EFORBIDDEN:
		code = http.StatusForbidden
	case core.ENOTFOUND:
		code = http.StatusNotFound
	case core.EINVALID:
		code = http.StatusBadRequest
	default:
		h.log.Error("page failed", "err", err)
	}
	page(w, code, "Palisade", "<p>"+template.HTMLEscapeString(core.ErrorMessage(err))+"</p>")
}

var layout = template.Must(template.New("layout").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{{.Title}}</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2330}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #dde1e8}
dt{font-weight:600}dd{margin:0 0 .5rem}</style></head>
<body><main>{{.Body}}</main></body></html>`))

func render(w http.ResponseWriter, title string, t *template.Template, data any) {
	var b templateBuffer
	if err := t.Execute(&b, data); err != nil {
		page(w, http.StatusInternalServerError, "Palisade", "<p>internal error</p>")
		return
	}
	page(w, http.StatusOK, title, string(b))
}

type templateBuffer []byte

func (b *templateBuffer) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

func page(w http.ResponseWriter, status int, title, body string) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
	hd.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_ = layout.Execute(w, map[string]any{"Title": title, "Body": template.HTML(body)})
}
