package challenge

import (
	"crypto/rand"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/i18n"
	"github.com/palisadehq/palisade/internal/routes"
)

//go:embed assets/worker.js assets/palisade.js
var assets embed.FS

// Prefix is where the challenge endpoints live on every protected site: the
// web server routes it to Palisade (see deploy/).
const Prefix = "/_palisade/"

// Outcome is reported for every challenge verified.
type Outcome struct {
	Policy  *engine.Policy
	Client  Client
	Path    string
	Solved  bool
	Reason  string // why it failed
	SolveMS int    // how long the browser worked, as it reported
	// Ref is the reference ID the failed check's page showed ("" when
	// solved or answered as JSON).
	Ref string
}

// Web renders challenge and deny pages and serves the endpoints under Prefix.
type Web struct {
	Issuer *Issuer
	// Resolve finds the website and client address of a request to Prefix
	// (by server key or Host, through trusted web servers).
	Resolve func(r *http.Request) (*engine.Policy, netip.Addr)
	// Report is told each outcome (events, metrics); may be nil.
	Report func(Outcome)
	// Secure marks cookies Secure when the original request was HTTPS; by
	// default it trusts X-Forwarded-Proto from the web server.
	Secure func(r *http.Request) bool
	// BrandName is the operator's name (core.Config.BrandName), shown on
	// pages for requests no website answers; "" shows none.
	BrandName string
}

// reasonKey groups what decided a verdict into the few reasons a page
// explains in plain words; the rule, list or limit's own name stays with
// the site's owner, who finds it in the event by the reference ID.
func reasonKey(v engine.Verdict) string {
	switch v.Source {
	case engine.SourceRule:
		return "rule"
	case engine.SourceList:
		return "list"
	case engine.SourceRateLimit:
		return "rate_limit"
	case engine.SourceWAF:
		return "waf"
	case engine.SourceCategory:
		switch v.Category {
		case engine.Humans:
			return "humans"
		case engine.SecurityIssues:
			return "attack"
		case engine.SearchEngines, engine.SocialNetworks, engine.ServicesAndPayments, engine.AICrawlers:
			return "bot"
		case engine.ContentScrapers, engine.AutomationTools:
			return "tool"
		case engine.EmulatedHumans, engine.SuspiciousBehaviour:
			return "unusual"
		}
	}
	return "other"
}

// errKey names a failed check's cause for its page (ch.err.<key>); the
// outcome keeps the error's English text for the site's owner.
func errKey(err error) string {
	switch {
	case errors.Is(err, ErrExpired):
		return "expired"
	case errors.Is(err, ErrMismatch):
		return "mismatch"
	case errors.Is(err, ErrWrong):
		return "wrong"
	case errors.Is(err, ErrReplayed):
		return "replayed"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	case errors.Is(err, ErrTooEarly):
		return "too_early"
	}
	return "malformed"
}

// pageLang is the language of a page for visitor request r: the best
// of its Accept-Language we speak, else the website's partner's default
// language (pol may be nil), else English.
func pageLang(r *http.Request, pol *engine.Policy) string {
	if l := i18n.Negotiate(r.Header.Get("Accept-Language")); l != "" {
		return l
	}
	if pol != nil && pol.Lang != "" {
		return i18n.Pick(pol.Lang)
	}
	return "en"
}

type pageData struct {
	Lang  string
	Brand string // the partner's name (the operator's --brand-name for no website), or ""
	Logo  string
	Color string // the partner's #rrggbb colour, or ""
	// PoweredBy: the partner shows "Powered by Palisade".
	PoweredBy bool
	Why       string // the reason in plain words ("" on a failed check's page)
	Ref       string // the reference ID, as stored with the event
	// Retry is the "try again" link: "" (this very address) on a page
	// shown in place of the visitor's request, the return target on a
	// failed check's page.
	Retry      string
	Token      string
	Difficulty int
	Return     string
	Nonce      string
	NoJSDelay  int
	NoJSURL    string
	Error      string // the failed check's cause in the visitor's language
	Message    string // an error page's message
	Title      string // an error page's title ("": the deny page's)
}

// pageStyle is the pages' whole look: without it they read in order as
// plain HTML, and a visitor who asks for less motion gets no animation.
// The partner's colour is a stripe above the page, never the colour of
// text (whose contrast it could not promise).
const pageStyle = `<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:0 auto;padding:4rem 1rem 2rem;color:#1d2330;border-top:6px solid {{if .Color}}{{.Color}}{{else}}#5b6477{{end}}}
a{color:#1d4ed8}.brand{color:#4a5263;font-size:14px;margin-top:3rem}.brand img{vertical-align:middle;margin-right:.4rem}
.powered{color:#4a5263;font-size:12px}.ref{font-size:1.05rem;border:1px solid #c9ced8;border-radius:6px;padding:.6rem .8rem;overflow-wrap:anywhere}
progress{width:100%;height:.6rem}code{font-size:1.1em;letter-spacing:.05em}
@media (prefers-reduced-motion: reduce){*{animation:none!important;transition:none!important}progress{display:none}}</style>`

// pageHelp is the way forward every page offers: try again, or quote the
// reference ID to the website's owner; then whose protection it is.
const pageHelp = `{{define "help"}}{{if not .Message}}<p>{{if .Token}}{{t .Lang "ch.stuck"}} {{end}}<a href="{{.Retry}}">{{t .Lang "ch.retry"}}</a></p>{{end}}
{{if .Ref}}<p>{{t .Lang "ch.contact"}}</p>
<p class="ref">{{t .Lang "ch.ref_label"}}: <strong><code>{{.Ref}}</code></strong></p>{{else if not .Message}}<p>{{t .Lang "ch.contact_noref"}}</p>{{end}}
{{if .Brand}}<p class="brand">{{if .Logo}}<img src="{{.Logo}}" alt="" height="24">{{end}}{{tf .Lang "ch.protected" "Brand" .Brand}}</p>{{end}}
{{if .PoweredBy}}<p class="powered">{{t .Lang "common.poweredby"}}</p>{{end}}{{end}}`

var pageFuncs = template.FuncMap{
	"t": func(lang, id string) string { return i18n.T(lang, id) },
	"tf": func(lang, id, k string, v any) string {
		return i18n.T(lang, id, map[string]any{k: v})
	},
	"tn": func(lang, id string, n int) string { return i18n.N(lang, id, int64(n)) },
}

var challengeTmpl = template.Must(template.New("challenge").Funcs(pageFuncs).Parse(pageHelp + `<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
{{if .NoJSDelay}}<noscript><meta http-equiv="refresh" content="{{.NoJSDelay}};url={{.NoJSURL}}"></noscript>{{end}}
<title>{{t .Lang "ch.title"}}{{if .Brand}} · {{.Brand}}{{end}}</title>
` + pageStyle + `</head>
<body><main>
<h1>{{t .Lang "ch.title"}}</h1>
<p>{{t .Lang "ch.explain"}}</p>
{{if .Why}}<p>{{tf .Lang "ch.why" "Reason" .Why}}</p>{{end}}
{{if .Error}}<p role="alert"><strong>{{tf .Lang "ch.failed" "Error" .Error}}</strong></p>{{end}}
<p id="status" role="status" aria-live="polite"></p>
<progress id="bar" hidden aria-hidden="true"></progress>
<noscript><p role="alert">{{if .NoJSDelay}}{{tn .Lang "ch.nojs_wait" .NoJSDelay}}{{else}}{{t .Lang "ch.nojs"}}{{end}}</p></noscript>
<form id="form" method="post" action="/_palisade/verify">
<input type="hidden" name="token" value="{{.Token}}">
<input type="hidden" name="counter" value="">
<input type="hidden" name="ms" value="">
<input type="hidden" name="return" value="{{.Return}}">
</form>
{{template "help" .}}
</main>
<script nonce="{{.Nonce}}">
(function () {
  var f = document.getElementById("form"), s = document.getElementById("status");
  s.textContent = {{t .Lang "ch.working"}};
  document.getElementById("bar").hidden = false;
  var w = new Worker("/_palisade/worker.js");
  w.onmessage = function (ev) {
    if (ev.data.counter === undefined) return;
    f.counter.value = ev.data.counter; f.ms.value = ev.data.ms;
    s.textContent = {{t .Lang "ch.done"}};
    f.submit();
  };
  w.postMessage({ token: {{.Token}}, difficulty: {{.Difficulty}} });
})();
</script>
</body></html>
`))

var denyTmpl = template.Must(template.New("deny").Funcs(pageFuncs).Parse(pageHelp + `<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex"><title>{{if .Title}}{{.Title}}{{else}}{{t .Lang "ch.denied_title"}}{{end}}{{if .Brand}} · {{.Brand}}{{end}}</title>
` + pageStyle + `</head>
<body><main><h1>{{if .Title}}{{.Title}}{{else}}{{t .Lang "ch.denied_title"}}{{end}}</h1>
{{if .Message}}<p>{{.Message}}</p>{{else}}<p>{{t .Lang "ch.denied"}}</p>
<p>{{tf .Lang "ch.why" "Reason" .Why}}</p>{{end}}
{{template "help" .}}</main>
</body></html>
`))

// brand fills d's branding from the website's partner, or, for a request
// no website answers, the operator's own name.
func (wb *Web) brand(d *pageData, pol *engine.Policy) {
	if pol == nil {
		d.Brand = wb.BrandName
		return
	}
	d.Brand, d.Logo, d.Color, d.PoweredBy = pol.Brand, pol.BrandLogo, pol.BrandColor, pol.PoweredBy
}

// Messages of ErrorPage: the page's title and text, by catalogue id.
const (
	// MsgUnknownSite: this address is not (or no longer) protected here.
	MsgUnknownSite = "ch.err.unknown_site"
	// MsgUnreachable: the website's own server does not answer.
	MsgUnreachable = "ch.err.unreachable"
	// MsgBodyTimeout: the request's body did not arrive in time.
	MsgBodyTimeout = "ch.err.body_timeout"
	// MsgBadBody: the request's body could not be read.
	MsgBadBody = "ch.err.bad_body"
)

// errorTitles are the titles of ErrorPage's messages (the deny page's
// title for the others).
var errorTitles = map[string]string{MsgUnreachable: "ch.err.unreachable_title", MsgBodyTimeout: "ch.err.title", MsgBadBody: "ch.err.title", "ch.err.form": "ch.err.title"}

// ErrorPage answers a visitor's request that cannot go on (a website not
// protected here, an upstream that does not answer, a body that cannot be
// read) with a short page in the visitor's language, branded by pol's
// partner or, for nil, the operator: msg is one of the Msg… ids.
func (wb *Web) ErrorPage(w http.ResponseWriter, r *http.Request, pol *engine.Policy, status int, msg string) {
	wb.errorPage(w, r, pol, status, msg)
}

// errorPage is ErrorPage for any message id of the ch.err area.
func (wb *Web) errorPage(w http.ResponseWriter, r *http.Request, pol *engine.Policy, status int, msg string) {
	l := pageLang(r, pol)
	title := errorTitles[msg]
	if title == "" {
		title = "ch.denied_title"
	}
	d := pageData{Lang: l, Message: i18n.T(l, msg), Title: i18n.T(l, title)}
	wb.brand(&d, pol)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Robots-Tag", "noindex")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src https:")
	w.WriteHeader(status)
	_ = denyTmpl.Execute(w, d)
}

// safeReturn keeps a return target on the same site: a clean path of this
// origin, or "/". Browsers drop tabs and newlines from a Location and read
// a backslash as a slash, so "/\t/evil.example" or "/\\evil.example" would
// leave the site; web servers and frameworks that decode once more would
// do the same with "%09" or "%2F". So the target must be printable ASCII
// with no space or backslash, start with exactly one '/', parse as a URL
// without scheme, host or user, and, percent-decoded, still hold no control
// character or backslash and not start with "//". Anything else is "/".
func safeReturn(s string) string {
	if len(s) == 0 || len(s) > 2048 || s[0] != '/' || strings.HasPrefix(s, Prefix) {
		return "/"
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return "/"
		}
	}
	if len(s) > 1 && s[1] == '/' {
		return "/"
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return "/"
	}
	dec, err := url.PathUnescape(s)
	if err != nil || strings.HasPrefix(dec, "//") || strings.HasPrefix(dec, Prefix) {
		return "/"
	}
	for _, c := range dec {
		if c < ' ' || c == 0x7f || c == '\\' || (c >= 0x80 && c <= 0x9f) || c == 0xa0 || c == 0x2028 || c == 0x2029 {
			return "/"
		}
	}
	return s
}

func newNonce() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// Page writes the page for a verdict that is not a grant: the challenge for
// challenge and captcha (with a fresh or shared challenge for this client),
// the deny page otherwise. r is the visitor's request (for its language),
// returnTo where to go after solving.
func (wb *Web) Page(w http.ResponseWriter, r *http.Request, pol *engine.Policy, v engine.Verdict, c Client, returnTo string, status int) {
	l := pageLang(r, pol)
	d := pageData{Lang: l, Why: i18n.T(l, "ch.reason."+reasonKey(v)), Ref: v.Ref, Return: safeReturn(returnTo)}
	wb.brand(&d, pol)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Robots-Tag", "noindex")
	act := v.Enforced()
	// Scripts (palisade.js) tell Palisade's answer from the site's own 403 by it.
	h.Set("X-Palisade-Action", act.String())
	if pol == nil || (act != engine.Challenge && act != engine.Captcha) {
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src https:")
		w.WriteHeader(status)
		_ = denyTmpl.Execute(w, d)
		return
	}
	wb.challengePage(w, d, pol, c, status)
}

func (wb *Web) challengePage(w http.ResponseWriter, d pageData, pol *engine.Policy, c Client, status int) {
	ch := wb.Issuer.Issue(c, pol.ChallengeDifficulty())
	d.Token, d.Difficulty, d.Nonce = ch.Token, ch.Difficulty, newNonce()
	if n := pol.NoJSDelay(); n > 0 {
		d.NoJSDelay = n
		d.NoJSURL = Prefix + "nojs?token=" + queryEscape(wb.Issuer.IssueNoJS(c)) + "&return=" + queryEscape(d.Return)
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src https:; script-src 'nonce-"+d.Nonce+"'; worker-src 'self'; form-action 'self'; connect-src 'self'")
	w.WriteHeader(status)
	_ = challengeTmpl.Execute(w, d)
}

// Register adds the endpoints under Prefix to mux.
func (wb *Web) Register(mux routes.Mux) {
	mux.HandleFunc("GET "+Prefix+"worker.js", wb.asset("assets/worker.js"))
	mux.HandleFunc("GET "+Prefix+"palisade.js", wb.asset("assets/palisade.js"))
	mux.HandleFunc("POST "+Prefix+"verify", wb.verify)
	mux.HandleFunc("GET "+Prefix+"nojs", wb.nojs)
	mux.HandleFunc("GET "+Prefix+"challenge", wb.challengeJSON)
	mux.HandleFunc("POST "+Prefix+"token", wb.tokenJSON)
}

func (wb *Web) asset(name string) http.HandlerFunc {
	body, err := assets.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(body)
	}
}

func (wb *Web) client(r *http.Request) (*engine.Policy, Client, bool) {
	pol, ip := wb.Resolve(r)
	if pol == nil || !ip.IsValid() {
		return nil, Client{}, false
	}
	return pol, Client{Website: pol.WebsiteID, IP: ip, UserAgent: r.UserAgent()}, true
}

func (wb *Web) report(o Outcome) {
	if wb.Report != nil {
		wb.Report(o)
	}
}

func (wb *Web) setClearance(w http.ResponseWriter, r *http.Request, pol *engine.Policy, c Client) string {
	v := wb.Issuer.Clearance(c, pol.ClearanceLifetime())
	secure := strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") || r.TLS != nil
	if wb.Secure != nil {
		secure = wb.Secure(r)
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: v, Path: "/", MaxAge: int(pol.ClearanceLifetime() / time.Second),
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
	return v
}

// verify checks a solution posted by the challenge page; on success it sets
// the clearance cookie and sends the browser back where it was going.
func (wb *Web) verify(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		wb.errorPage(w, r, nil, http.StatusBadRequest, "ch.err.form")
		return
	}
	pol, c, ok := wb.client(r)
	if !ok {
		wb.errorPage(w, r, pol, http.StatusNotFound, MsgUnknownSite)
		return
	}
	returnTo := safeReturn(r.PostForm.Get("return"))
	ms, _ := strconv.Atoi(r.PostForm.Get("ms"))
	_, err := wb.Issuer.Verify(c, r.PostForm.Get("token"), r.PostForm.Get("counter"))
	ref := failedRef(err)
	wb.report(Outcome{Policy: pol, Client: c, Path: returnTo, Solved: err == nil, Reason: errString(err), SolveMS: ms, Ref: ref})
	if err != nil {
		wb.failedPage(w, r, pol, c, returnTo, err, ref)
		return
	}
	wb.setClearance(w, r, pol, c)
	http.Redirect(w, r, returnTo, http.StatusSeeOther)
}

// failedPage answers a failed check with a fresh challenge, the cause in
// the visitor's words and the reference ID the outcome reported.
func (wb *Web) failedPage(w http.ResponseWriter, r *http.Request, pol *engine.Policy, c Client, returnTo string, err error, ref string) {
	l := pageLang(r, pol)
	d := pageData{Lang: l, Return: returnTo, Error: i18n.T(l, "ch.err."+errKey(err)), Ref: ref, Retry: returnTo}
	wb.brand(&d, pol)
	wb.challengePage(w, d, pol, c, http.StatusForbidden)
}

// failedRef is the reference ID of a failed check's page ("" for none).
func failedRef(err error) string {
	if err == nil {
		return ""
	}
	return core.NewRef()
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// nojs is where the meta refresh of a website that allows browsers without
// JavaScript lands after its delay.
func (wb *Web) nojs(w http.ResponseWriter, r *http.Request) {
	pol, c, ok := wb.client(r)
	if !ok {
		wb.errorPage(w, r, pol, http.StatusNotFound, MsgUnknownSite)
		return
	}
	if pol.NoJSDelay() == 0 {
		wb.errorPage(w, r, pol, http.StatusForbidden, "ch.err.needs_js")
		return
	}
	returnTo := safeReturn(r.URL.Query().Get("return"))
	err := wb.Issuer.VerifyNoJS(c, r.URL.Query().Get("token"), time.Duration(pol.NoJSDelay())*time.Second)
	ref := failedRef(err)
	wb.report(Outcome{Policy: pol, Client: c, Path: returnTo, Solved: err == nil, Reason: errString(err), SolveMS: pol.NoJSDelay() * 1000, Ref: ref})
	if err != nil {
		wb.failedPage(w, r, pol, c, returnTo, err, ref)
		return
	}
	wb.setClearance(w, r, pol, c)
	http.Redirect(w, r, returnTo, http.StatusSeeOther)
}

// challengeJSON gives palisade.js a challenge to solve.
func (wb *Web) challengeJSON(w http.ResponseWriter, r *http.Request) {
	pol, c, ok := wb.client(r)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "this site is not protected here"})
		return
	}
	ch := wb.Issuer.Issue(c, pol.ChallengeDifficulty())
	writeJSON(w, http.StatusOK, map[string]any{"token": ch.Token, "difficulty": ch.Difficulty, "expires": ch.Expires.UTC().Format(time.RFC3339)})
}

// tokenJSON verifies palisade.js's solution and answers the clearance, which
// the script sends as X-Palisade-Token (and which is also set as cookie).
func (wb *Web) tokenJSON(w http.ResponseWriter, r *http.Request) {
	pol, c, ok := wb.client(r)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "this site is not protected here"})
		return
	}
	var body struct {
		Token   string `json:"token"`
		Counter string `json:"counter"`
		MS      int    `json:"ms"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 8<<10)).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "send JSON {token, counter}"})
		return
	}
	_, err := wb.Issuer.Verify(c, body.Token, body.Counter)
	wb.report(Outcome{Policy: pol, Client: c, Path: r.URL.Path, Solved: err == nil, Reason: errString(err), SolveMS: body.MS})
	if err != nil {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": err.Error()})
		return
	}
	v := wb.setClearance(w, r, pol, c)
	writeJSON(w, http.StatusOK, map[string]any{"token": v, "expires_in": int(pol.ClearanceLifetime() / time.Second)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Cleared implements engine.ClearanceChecker.
func (is *Issuer) Cleared(websiteID int64, r *engine.Request) bool {
	return is.Valid(Client{Website: websiteID, IP: r.IP, UserAgent: r.UserAgent}, r.Clearance)
}
