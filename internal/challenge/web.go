package challenge

import (
	"crypto/rand"
	"embed"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
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
}

type lang struct {
	Code, Title, Explain, Working, Done, NoScript, NoScriptWait, Failed, Retry, DeniedTitle, Denied, Protected string
	Why, Stuck, Contact, ContactNoRef, RefLabel                                                                string
	// Reasons says in plain words why a request was challenged or denied,
	// by reasonKey.
	Reasons map[string]string
}

var langs = map[string]lang{
	"en": {Code: "en", Title: "Checking your browser",
		Explain:      "This website protects itself from automated traffic. Your browser is doing a short calculation to show it is not a bot; no personal data is involved.",
		Working:      "Checking… this usually takes less than a second.",
		Done:         "Done. Taking you to the page…",
		NoScript:     "This check needs JavaScript. Please enable JavaScript for this site and reload the page.",
		NoScriptWait: "JavaScript is off: please wait %d seconds; the page will continue by itself.",
		Failed:       "The check did not succeed: %s.",
		Retry:        "Try again",
		DeniedTitle:  "Access denied",
		Denied:       "This website's protection refused your request.",
		Protected:    "Protected by %s",
		Why:          "Why: %s",
		Stuck:        "Not going on?",
		Contact:      "If you still cannot get through, or think this is a mistake, contact the website's owner and quote the reference ID below.",
		ContactNoRef: "If you still cannot get through, or think this is a mistake, contact the website's owner.",
		RefLabel:     "Reference ID",
		Reasons: map[string]string{
			"rule":       "A rule the website's owner set up matches your request.",
			"list":       "Your address or network is on this website's block list.",
			"rate_limit": "Too many requests came from your address in a short time; wait a minute before you try again.",
			"attack":     "Your request looked like an attack on the website.",
			"waf":        "The website's firewall found something in your request that looks like an attack, such as code or database commands in a form field or the address. If you were only filling in a form, tell the website's owner the reference below: they can allow it.",
			"bot":        "Your request identified itself as a crawler or service, and this website does not admit automated clients of that kind.",
			"tool":       "Your request came from a program for automated access rather than a browser.",
			"unusual":    "Your browser sent a request unlike what browsers usually send (privacy extensions or an unusual set-up can cause this).",
			"humans":     "This website asks every visitor to pass a short browser check.",
			"other":      "The website's protection judged your request to be automated.",
		}},
	"de": {Code: "de", Title: "Ihr Browser wird geprüft",
		Explain:      "Diese Website schützt sich vor automatisierten Zugriffen. Ihr Browser führt eine kurze Berechnung aus, um zu zeigen, dass er kein Bot ist; persönliche Daten werden dabei nicht verwendet.",
		Working:      "Prüfung läuft… das dauert meist weniger als eine Sekunde.",
		Done:         "Fertig. Sie werden weitergeleitet…",
		NoScript:     "Diese Prüfung benötigt JavaScript. Bitte aktivieren Sie JavaScript für diese Website und laden Sie die Seite neu.",
		NoScriptWait: "JavaScript ist ausgeschaltet: Bitte warten Sie %d Sekunden; die Seite geht dann von selbst weiter.",
		Failed:       "Die Prüfung ist fehlgeschlagen: %s.",
		Retry:        "Erneut versuchen",
		DeniedTitle:  "Zugriff verweigert",
		Denied:       "Der Schutz dieser Website hat Ihre Anfrage abgelehnt.",
		Protected:    "Geschützt von %s",
		Why:          "Grund: %s",
		Stuck:        "Es geht nicht weiter?",
		Contact:      "Wenn Sie weiterhin nicht auf die Seite kommen oder das für einen Fehler halten, wenden Sie sich an den Betreiber der Website und nennen Sie die Referenz-ID unten.",
		ContactNoRef: "Wenn Sie weiterhin nicht auf die Seite kommen oder das für einen Fehler halten, wenden Sie sich an den Betreiber der Website.",
		RefLabel:     "Referenz-ID",
		Reasons: map[string]string{
			"rule":       "Eine Regel, die der Betreiber der Website eingerichtet hat, trifft auf Ihre Anfrage zu.",
			"list":       "Ihre Adresse oder Ihr Netz steht auf der Sperrliste dieser Website.",
			"rate_limit": "Zu viele Anfragen kamen in kurzer Zeit von Ihrer Adresse; warten Sie eine Minute, bevor Sie es erneut versuchen.",
			"attack":     "Ihre Anfrage sah wie ein Angriff auf die Website aus.",
			"waf":        "Die Firewall der Website hat in Ihrer Anfrage etwas gefunden, das wie ein Angriff aussieht, etwa Programmcode oder Datenbankbefehle in einem Formularfeld oder in der Adresse. Wenn Sie nur ein Formular ausgefüllt haben, nennen Sie dem Betreiber der Website die Referenz unten: Er kann es freigeben.",
			"bot":        "Ihre Anfrage gab sich als Crawler oder Dienst zu erkennen, und diese Website lässt automatisierte Zugriffe dieser Art nicht zu.",
			"tool":       "Ihre Anfrage kam von einem Programm für automatisierte Zugriffe, nicht von einem Browser.",
			"unusual":    "Ihr Browser hat eine Anfrage gesendet, die anders aussieht als bei Browsern üblich (Datenschutz-Erweiterungen oder eine ungewöhnliche Einrichtung können das verursachen).",
			"humans":     "Diese Website bittet jeden Besucher um eine kurze Browser-Prüfung.",
			"other":      "Der Schutz der Website hat Ihre Anfrage als automatisiert eingestuft.",
		}},
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

// pickLang chooses a language from Accept-Language (English by default).
func pickLang(accept string) lang {
	best, bestQ := "en", -1.0
	for _, part := range strings.Split(accept, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if _, ok := langs[base]; ok && q > bestQ {
			best, bestQ = base, q
		}
	}
	return langs[best]
}

type pageData struct {
	L     lang
	Brand string
	Logo  string
	Why   string // the reason in plain words ("" on a failed check's page)
	Ref   string // the reference ID, as stored with the event
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
	Error      string
}

// pageStyle is the pages' whole look: without it they read in order as
// plain HTML, and a visitor who asks for less motion gets no animation.
const pageStyle = `<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1d2330}
.brand{color:#5b6477;font-size:14px;margin-top:3rem}.brand img{vertical-align:middle;margin-right:.4rem}
progress{width:100%;height:.6rem}code{font-size:1.1em;letter-spacing:.05em}
@media (prefers-reduced-motion: reduce){*{animation:none!important;transition:none!important}progress{display:none}}</style>`

// pageHelp is the way forward every page offers: try again, or quote the
// reference ID to the website's owner.
const pageHelp = `{{define "help"}}<p>{{if .Token}}{{.L.Stuck}} {{end}}<a href="{{.Retry}}">{{.L.Retry}}</a></p>
{{if .Ref}}<p>{{.L.Contact}}</p>
<p>{{.L.RefLabel}}: <strong><code>{{.Ref}}</code></strong></p>{{else}}<p>{{.L.ContactNoRef}}</p>{{end}}
{{if .Brand}}<p class="brand">{{if .Logo}}<img src="{{.Logo}}" alt="" height="24">{{end}}{{printf .L.Protected .Brand}}</p>{{end}}{{end}}`

var challengeTmpl = template.Must(template.New("challenge").Funcs(template.FuncMap{"printf": sprintf}).Parse(pageHelp + `<!doctype html>
<html lang="{{.L.Code}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
{{if .NoJSDelay}}<noscript><meta http-equiv="refresh" content="{{.NoJSDelay}};url={{.NoJSURL}}"></noscript>{{end}}
<title>{{.L.Title}}</title>
` + pageStyle + `</head>
<body><main>
<h1>{{.L.Title}}</h1>
<p>{{.L.Explain}}</p>
{{if .Why}}<p>{{printf .L.Why .Why}}</p>{{end}}
{{if .Error}}<p role="alert"><strong>{{printf .L.Failed .Error}}</strong></p>{{end}}
<p id="status" role="status" aria-live="polite"></p>
<progress id="bar" hidden aria-hidden="true"></progress>
<noscript><p role="alert">{{if .NoJSDelay}}{{printf .L.NoScriptWait .NoJSDelay}}{{else}}{{.L.NoScript}}{{end}}</p></noscript>
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
  s.textContent = {{.L.Working}};
  document.getElementById("bar").hidden = false;
  var w = new Worker("/_palisade/worker.js");
  w.onmessage = function (ev) {
    if (ev.data.counter === undefined) return;
    f.counter.value = ev.data.counter; f.ms.value = ev.data.ms;
    s.textContent = {{.L.Done}};
    f.submit();
  };
  w.postMessage({ token: {{.Token}}, difficulty: {{.Difficulty}} });
})();
</script>
</body></html>
`))

var denyTmpl = template.Must(template.New("deny").Funcs(template.FuncMap{"printf": sprintf}).Parse(pageHelp + `<!doctype html>
<html lang="{{.L.Code}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex"><title>{{.L.DeniedTitle}}</title>
` + pageStyle + `</head>
<body><main><h1>{{.L.DeniedTitle}}</h1>
<p>{{.L.Denied}}</p>
<p>{{printf .L.Why .Why}}</p>
{{template "help" .}}</main>
</body></html>
`))

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
	l := pickLang(r.Header.Get("Accept-Language"))
	d := pageData{L: l, Why: l.Reasons[reasonKey(v)], Ref: v.Ref, Return: safeReturn(returnTo)}
	if pol != nil {
		d.Brand, d.Logo = pol.Brand, pol.BrandLogo
	}
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
		http.Error(w, "palisade: the form could not be read", http.StatusBadRequest)
		return
	}
	pol, c, ok := wb.client(r)
	if !ok {
		http.Error(w, "palisade: this site is not protected here", http.StatusNotFound)
		return
	}
	returnTo := safeReturn(r.PostForm.Get("return"))
	ms, _ := strconv.Atoi(r.PostForm.Get("ms"))
	_, err := wb.Issuer.Verify(c, r.PostForm.Get("token"), r.PostForm.Get("counter"))
	ref := failedRef(err)
	wb.report(Outcome{Policy: pol, Client: c, Path: returnTo, Solved: err == nil, Reason: errString(err), SolveMS: ms, Ref: ref})
	if err != nil {
		d := pageData{L: pickLang(r.Header.Get("Accept-Language")), Brand: pol.Brand, Logo: pol.BrandLogo, Return: returnTo, Error: err.Error(), Ref: ref, Retry: returnTo}
		wb.challengePage(w, d, pol, c, http.StatusForbidden)
		return
	}
	wb.setClearance(w, r, pol, c)
	http.Redirect(w, r, returnTo, http.StatusSeeOther)
}

// failedRef is the reference ID of a failed check's page ("" for none).
func failedRef(err error) string {
	if err == nil {
		return ""
	}
	return NewRef()
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
	if !ok || pol.NoJSDelay() == 0 {
		http.Error(w, "palisade: this site requires JavaScript for its check", http.StatusForbidden)
		return
	}
	returnTo := safeReturn(r.URL.Query().Get("return"))
	err := wb.Issuer.VerifyNoJS(c, r.URL.Query().Get("token"), time.Duration(pol.NoJSDelay())*time.Second)
	ref := failedRef(err)
	wb.report(Outcome{Policy: pol, Client: c, Path: returnTo, Solved: err == nil, Reason: errString(err), SolveMS: pol.NoJSDelay() * 1000, Ref: ref})
	if err != nil {
		d := pageData{L: pickLang(r.Header.Get("Accept-Language")), Brand: pol.Brand, Logo: pol.BrandLogo, Return: returnTo, Error: err.Error(), Ref: ref, Retry: returnTo}
		wb.challengePage(w, d, pol, c, http.StatusForbidden)
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
