package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/testenv"
)

type browser struct {
	t      *testing.T
	c      *http.Client
	base   string
	lastCT string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar, Timeout: 10 * time.Second}, base: base}
}

func (b *browser) get(path string) (int, string, *http.Response) {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp
}

func (b *browser) post(path string, form url.Values) (int, string) {
	b.t.Helper()
	resp, err := b.c.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

var csrfRe = regexp.MustCompile(`name="csrf-token" content="([0-9a-f]+)"`)

func csrf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in %s", page)
	}
	return m[1]
}

// fixture: a partner with embed origins, two customers with a site each.
func fixture(t *testing.T) (*testenv.Stack, core.Subaccount, core.Subaccount, core.Website) {
	t.Helper()
	e := testenv.New(t)
	ctx := context.Background()
	if _, err := e.Service.SetBranding(ctx, e.Caller, e.Caller.PartnerID, core.Branding{Name: "Acme Shield", Color: "#aa3300", EmbedOrigins: []string{"https://panel.acme.example"}}); err != nil {
		t.Fatal(err)
	}
	jane, _, err := e.Service.CreateSubaccount(ctx, e.Caller, core.SubaccountCreate{Email: "jane@example.com", Lang: "de"}, core.Idem{})
	if err != nil {
		t.Fatal(err)
	}
	bob, _, _ := e.Service.CreateSubaccount(ctx, e.Caller, core.SubaccountCreate{Email: "bob@example.com"}, core.Idem{})
	site, _, err := e.Service.CreateWebsite(ctx, e.Caller, core.WebsiteCreate{Domain: "shop.example.com", SubaccountID: jane.ID, Plan: "10k"}, core.Idem{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Service.CreateWebsite(ctx, e.Caller, core.WebsiteCreate{Domain: "bob.example.org", SubaccountID: bob.ID}, core.Idem{}); err != nil {
		t.Fatal(err)
	}
	if err := e.Protector.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	return e, jane, bob, site
}

func forwardAuth(t *testing.T, e *testenv.Stack, key, ua, uri string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", e.URL+"/forward-auth", nil)
	req.Header.Set("X-Palisade-Key", key)
	req.Header.Set("X-Original-Uri", uri)
	req.Header.Set("X-Original-Method", "GET")
	req.Header.Set("X-Original-Host", "shop.example.com")
	req.Header.Set("X-Real-Ip", "203.0.113.50")
	testenv.AsBrowser(req, ua)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestCustomerPages(t *testing.T) {
	e, jane, bob, site := fixture(t)
	ctx := context.Background()
	br := newBrowser(t, e.URL)

	// The api-key is exchanged for a cookie and leaves the address.
	code, page, resp := br.get("/de/website/shop.example.com/statistics?api-key=" + jane.APIKey + "&period=day")
	if code != 200 || resp.Request.URL.Query().Get("api-key") != "" || resp.Request.URL.Query().Get("period") != "day" {
		t.Fatalf("api-key login: %d %s", code, resp.Request.URL)
	}
	for _, want := range []string{"Statistik", "Acme Shield", "--brand: #aa3300", "10k"} {
		if !strings.Contains(page, want) {
			t.Fatalf("statistics page lacks %q", want)
		}
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'self' https://panel.acme.example") || !strings.Contains(csp, "script-src 'self'") {
		t.Fatalf("CSP %q", csp)
	}
	token := csrf(t, page)

	// A single-sign-on token on a page URL works the same way, once.
	link, _, err := e.Service.CreateLoginToken(ctx, e.Caller, core.ScopeCustomer, "shop.example.com")
	if err != nil {
		t.Fatal(err)
	}
	tok := link[strings.Index(link, "token=")+len("token="):]
	viaToken := newBrowser(t, e.URL)
	if code, _, resp := viaToken.get("/en/website/shop.example.com/events?token=" + tok); code != 200 || resp.Request.URL.RawQuery != "" {
		t.Fatalf("token login: %d %s", code, resp.Request.URL)
	}
	if code, _, _ := newBrowser(t, e.URL).get("/en/website/shop.example.com/events?token=" + tok); code != 401 {
		t.Fatalf("token reused: %d", code)
	}

	// Tenant isolation: Jane's session does not open Bob's site, Bob's key
	// does not open Jane's, and a wrong key opens nothing.
	if code, _, _ := br.get("/en/website/bob.example.org/statistics"); code != 404 {
		t.Fatalf("Jane opened Bob's site: %d", code)
	}
	other := newBrowser(t, e.URL)
	if code, _, _ := other.get("/en/website/shop.example.com/statistics?api-key=" + bob.APIKey); code != 401 {
		t.Fatalf("Bob's key opened Jane's site: %d", code)
	}
	if code, _, _ := other.get("/en/website/shop.example.com/events?api-key=ck_nope"); code != 401 {
		t.Fatalf("a wrong key: %d", code)
	}
	if code, _, _ := other.get("/en/website/shop.example.com/events"); code != 401 {
		t.Fatalf("no session: %d", code)
	}

	// The rule editor: add a rule; it takes effect on forward-auth.
	edit := "/en/website/shop.example.com/edit"
	// Each form posts the version of the page it is on (see rules_test.go
	// for what a stale one gets); version follows the last page seen.
	_, page, _ = br.get(edit)
	version := formVersion(t, page)
	save := func(form url.Values) (int, string) {
		t.Helper()
		form.Set("csrf", token)
		form.Set("version", version)
		code, page := br.post(edit, form)
		if v := versionRe.FindStringSubmatch(page); v != nil {
			version = v[1]
		}
		return code, page
	}
	if code, _ := br.post(edit, url.Values{"form": {"rule"}, "name": {"block-admin"}, "action": {"deny"}, "enabled": {"1"},
		"cond.0.field": {"path"}, "cond.0.op": {"starts_with"}, "cond.0.value": {"/admin"}}); code != 403 {
		t.Fatalf("a post without the CSRF token: %d", code)
	}
	code, page = save(url.Values{"form": {"rule"}, "name": {"block-admin"}, "action": {"deny"}, "enabled": {"1"},
		"cond.0.field": {"path"}, "cond.0.op": {"starts_with"}, "cond.0.value": {"/admin"}})
	if code != 200 || !strings.Contains(page, "Saved.") || !strings.Contains(page, "block-admin") {
		t.Fatalf("add rule: %d %s", code, page)
	}
	browserUA := testenv.ChromeUA
	deadline := time.Now().Add(2 * time.Second)
	var fa *http.Response
	for time.Now().Before(deadline) {
		if fa = forwardAuth(t, e, site.ServerKey, browserUA, "/admin/login"); fa.StatusCode == 403 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if fa.StatusCode != 403 || fa.Header.Get("X-Palisade-Reason") != "block-admin" {
		t.Fatalf("the new rule did not take effect within a second: %d %v", fa.StatusCode, fa.Header)
	}
	// That first decision moves the website from setup to online in the
	// background, which changes its version: a form posted with the page's
	// earlier version would (rightly) be told "changed elsewhere". Wait for
	// it, then take the editor's current version, as a person reloading
	// would.
	for deadline := time.Now().Add(5 * time.Second); ; {
		w, err := e.Service.Website(ctx, e.Caller, "shop.example.com")
		if err == nil && w.Status == core.StatusOnline {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the website did not go online after its first traffic: %+v %v", w, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, page, _ = br.get(edit)
	version = formVersion(t, page)
	// A bad regex is refused next to its field; nothing is saved.
	code, page = save(url.Values{"form": {"rule"}, "name": {"bad"}, "action": {"deny"}, "enabled": {"1"},
		"cond.0.field": {"user_agent"}, "cond.0.op": {"regex"}, "cond.0.value": {"(unclosed"}})
	if code != 422 || !regexp.MustCompile(`name="cond.0.value" value="\(unclosed"[\s\S]{0,400}?<span class="field-error" role="alert">`).MatchString(page) {
		t.Fatalf("bad regex: %d %s", code, page)
	}
	_, st, _ := e.Service.WebsiteSettings(ctx, e.Caller, "shop.example.com")
	if len(st.Rules) != 1 {
		t.Fatalf("a refused rule was saved: %+v", st.Rules)
	}
	// Test a request.
	code, page = br.post(edit, url.Values{"csrf": {token}, "form": {"test"}, "ip": {"198.51.100.4"}, "method": {"GET"}, "path": {"/admin/x"}, "ua": {browserUA}})
	if code != 200 || !regexp.MustCompile(`<span class="badge act-deny">[^<]+</span>[\s\S]{0,160}?block-admin`).MatchString(page) {
		t.Fatalf("test a request: %d %s", code, page)
	}
	// Disable, move and delete the rule; general settings.
	code, page = save(url.Values{"form": {"rule-toggle"}, "index": {"0"}})
	if _, st, _ = e.Service.WebsiteSettings(ctx, e.Caller, "shop.example.com"); st.Rules[0].Enabled == nil || *st.Rules[0].Enabled {
		t.Fatalf("the rule was not disabled: %d %.2000s", code, page)
	}
	if code, page = save(url.Values{"form": {"general"}, "mode": {"monitor"}, "fail_mode": {"closed"}, "difficulty": {"40"}}); code != 422 || !regexp.MustCompile(`(?s)name="difficulty"[^>]*value="40"[^>]*>.{0,80}class="field-error"[^>]*>[^<]*\b24\b`).MatchString(page) ||
		!strings.Contains(page, `name="difficulty"`) || !strings.Contains(page, `<option value="monitor" selected>`) {
		t.Fatalf("difficulty 40 (refused, the input shown again): %d %s", code, page)
	}
	for _, form := range []url.Values{
		{"form": {"general"}, "mode": {"protect"}, "fail_mode": {"closed"}, "difficulty": {"12"}, "lifetime": {"2h"}},
		{"form": {"categories"}, "cat.ai_crawlers": {"challenge"}},
		{"form": {"lists"}, "allow": {"192.0.2.0/24\n"}, "deny": {"198.51.100.66"}},
		{"form": {"limit"}, "name": {"login"}, "requests": {"5"}, "period": {"1m"}, "key": {"ip_path"}, "path_prefix": {"/login"}, "action": {"deny"}},
	} {
		if code, page := save(form); code != 200 || !strings.Contains(page, "Saved.") {
			t.Fatalf("form %s: %d", form.Get("form"), code)
		}
	}
	_, st, _ = e.Service.WebsiteSettings(ctx, e.Caller, "shop.example.com")
	if st.FailMode != "closed" || st.Challenge.Difficulty != 12 || st.Categories["ai_crawlers"] != "challenge" || len(st.Allow) != 1 || len(st.Deny) != 1 ||
		len(st.RateLimits) != 1 || st.RateLimits[0].PathPrefix != "/login" {
		t.Fatalf("settings after the forms: %+v", st)
	}
	save(url.Values{"form": {"rule-delete"}, "index": {"0"}})
	if _, st, _ = e.Service.WebsiteSettings(ctx, e.Caller, "shop.example.com"); len(st.Rules) != 0 {
		t.Fatal("rule not deleted")
	}

	// Events: the blocked request is there, filterable, exportable. (Who
	// denies it, the website firewall or the security_issues category, is
	// the engine's business: the firewall comes first since issue 19.)
	forwardAuth(t, e, site.ServerKey, "sqlmap/1.7", "/search?q=1'--")
	e.Recorder.Flush(ctx)
	code, page, _ = br.get("/en/website/shop.example.com/events?action=deny")
	denied := page
	if code != 200 || !strings.Contains(page, "sqlmap/1.7") || !strings.Contains(page, "block-admin") {
		t.Fatalf("events: %d %s", code, page)
	}
	if _, page, _ = br.get("/en/website/shop.example.com/events?path=/admin"); strings.Contains(page, "sqlmap/1.7") || !strings.Contains(page, "block-admin") {
		t.Fatalf("path filter: %s", page)
	}
	if code, page, _ = br.get("/en/website/shop.example.com/events?ip=nope"); code != 200 || !strings.Contains(page, `&#34;nope&#34; is not an IP address`) {
		t.Fatalf("bad ip filter: %d", code)
	}
	code, csvBody, resp := br.get("/en/website/shop.example.com/events?action=deny&format=csv")
	if code != 200 || !strings.HasPrefix(csvBody, `"id","time","action"`) || !strings.Contains(csvBody, "sqlmap/1.7") || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("csv: %d %s", code, csvBody)
	}
	id := regexp.MustCompile(`/events/(\d+)`).FindStringSubmatch(denied)
	if id == nil {
		t.Fatal("no event link")
	}
	if code, page, _ = br.get("/en/website/shop.example.com/events/" + id[1]); code != 200 || !strings.Contains(page, "203.0.113.50") {
		t.Fatalf("event detail: %d", code)
	}
	if code, page, _ = br.get("/en/website/shop.example.com/events?live=1&fragment=rows"); code != 200 || !strings.HasPrefix(strings.TrimSpace(page), `<tbody id="rows" hx-get=`) {
		t.Fatalf("live rows: %d %s", code, page)
	}
	// The reference ID on a visitor's deny page finds its event (issue 18).
	req, _ := http.NewRequest("GET", e.URL+"/forward-auth", nil)
	req.Header.Set("X-Palisade-Key", site.ServerKey)
	req.Header.Set("X-Original-Uri", "/wp-login.php?x=1'--")
	req.Header.Set("X-Original-Host", "shop.example.com")
	req.Header.Set("X-Real-Ip", "203.0.113.51")
	testenv.AsBrowser(req, "sqlmap/1.7")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	denyPage, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	ref := regexp.MustCompile(`<code>([A-Z2-7]{10})</code>`).FindSubmatch(denyPage)
	if resp.StatusCode != 403 || ref == nil {
		t.Fatalf("deny page without a reference ID: %d %s", resp.StatusCode, denyPage)
	}
	e.Recorder.Flush(ctx)
	code, page, _ = br.get("/en/website/shop.example.com/events?ref=" + strings.ToLower(string(ref[1])))
	if code != 200 || !strings.Contains(page, "203.0.113.51") || strings.Contains(page, "203.0.113.50") || !strings.Contains(page, `name="ref" value="`+strings.ToLower(string(ref[1]))) {
		t.Fatalf("events by ref %s: %d %s", ref[1], code, page)
	}
	id = regexp.MustCompile(`/events/(\d+)`).FindStringSubmatch(page)
	if code, page, _ = br.get("/en/website/shop.example.com/events/" + id[1]); code != 200 || !regexp.MustCompile(`<code[^>]*>`+string(ref[1])+`</code>`).MatchString(page) {
		t.Fatalf("event detail without its reference ID: %d %s", code, page)
	}
	if code, page, _ = br.get("/en/website/shop.example.com/events?ref=nope"); code != 200 || !strings.Contains(page, "is not a reference ID") {
		t.Fatalf("bad ref filter: %d %s", code, page)
	}

	// Statistics with traffic: chart data and top lists.
	if _, page, _ = br.get("/en/website/shop.example.com/statistics"); !strings.Contains(page, `id="chart"`) || !strings.Contains(page, "203.0.113.50") {
		t.Fatalf("statistics with traffic: %s", page)
	}
	if _, page, _ = br.get("/en/website/shop.example.com/statistics?by=category&period=month"); !strings.Contains(page, `<td class="label">Your custom rules <code class="api">custom_rules</code></td>`) || !strings.Contains(page, `value="category" selected`) {
		t.Fatalf("chart by category: %s", page)
	}
	// With a GeoIP database, events carry countries and the page ranks them.
	if err := e.Service.RecordDecisions(ctx, []core.Event{{PartnerID: site.PartnerID, WebsiteID: site.ID, At: e.Clock.Now(), IP: "198.51.100.9",
		Method: "GET", Host: "shop.example.com", Path: "/", Action: "deny", Category: "security_issues", Source: "category", Reason: "security_issues", Country: "NL"}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, page, _ = br.get("/en/website/shop.example.com/statistics"); !strings.Contains(page, "Top blocked countries") || !strings.Contains(page, ">NL<") {
		t.Fatalf("countries: %s", page)
	}
	// Integration guide: this site's values, and the live indicator.
	if _, page, _ = br.get("/en/website/shop.example.com/integration"); !strings.Contains(page, site.ServerKey) || !strings.Contains(page, "include protection.conf;") ||
		!strings.Contains(page, "We have seen traffic") {
		t.Fatalf("integration: %s", page)
	}
	// Assets are served.
	for _, a := range []string{"/_assets/app.css", "/_assets/dashboard.js", "/_assets/vendor/htmx.min.js", "/_assets/vendor/uPlot.iife.min.js"} {
		if code, _, _ := br.get(a); code != 200 {
			t.Fatalf("%s: %d", a, code)
		}
	}
	// A partner without embed origins is not framed at all.
	e.Service.SetBranding(ctx, e.Caller, e.Caller.PartnerID, core.Branding{})
	if _, _, resp = br.get("/en/website/shop.example.com/statistics"); !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("CSP without origins: %q", resp.Header.Get("Content-Security-Policy"))
	}

}

func login(t *testing.T, br *browser, email, password, code string) (int, string) {
	t.Helper()
	f := url.Values{"email": {email}, "password": {password}}
	if code != "" {
		f.Set("code", code)
	}
	return br.post("/console/login", f)
}

func TestConsoleAndOperator(t *testing.T) {
	e, _, _, _ := fixture(t)
	ctx := context.Background()
	if _, err := e.Service.CreateConsoleUser(ctx, core.Operator(), e.Caller.PartnerID, "ops@acme.example", "S3cure-Passw0rd"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.CreateConsoleUser(ctx, e.Caller, e.Caller.PartnerID, "x@acme.example", "S3cure-Passw0rd"); core.ErrorCode(err) != core.EFORBIDDEN {
		t.Fatalf("a partner created a console user: %v", err)
	}
	br := newBrowser(t, e.URL)
	if code, page, _ := br.get("/console"); code != 200 || !strings.Contains(page, "Sign in") {
		t.Fatalf("console without a session: %d", code)
	}
	if code, page := login(t, br, "ops@acme.example", "wrong", ""); code != 401 || !strings.Contains(page, "wrong email, password or code") {
		t.Fatalf("wrong password: %d", code)
	}
	for i := 0; i < 5; i++ {
		login(t, br, "nobody@acme.example", "x", "")
	}
	if code, page := login(t, br, "nobody@acme.example", "x", ""); code != 429 || !strings.Contains(page, "too many failed sign-ins") {
		t.Fatalf("rate limit: %d", code)
	}
	code, page := login(t, br, "ops@acme.example", "S3cure-Passw0rd", "")
	if code != 200 || !strings.Contains(page, "shop.example.com") || !strings.Contains(page, "bob.example.org") {
		t.Fatalf("console: %d %s", code, page)
	}
	token := csrf(t, page)
	// Suspend a website from the list.
	if code, _ = br.post("/console/status", url.Values{"csrf": {token}, "domain": {"bob.example.org"}, "status": {"paused"}}); code != 200 {
		t.Fatalf("suspend: %d", code)
	}
	if w, _ := e.Service.Website(ctx, e.Caller, "bob.example.org"); w.Status != core.StatusPaused {
		t.Fatalf("status %s", w.Status)
	}
	if code, _ = br.post("/console/status", url.Values{"domain": {"bob.example.org"}, "status": {"online"}}); code != 403 {
		t.Fatalf("a post without the CSRF token: %d", code)
	}
	// API keys: created with a name and addresses (within those the
	// operator allows the partner), shown once, revoked.
	if err := e.Service.AllowIP(ctx, core.Operator(), e.Caller.PartnerID, "203.0.113.0/24"); err != nil {
		t.Fatal(err)
	}
	code, page = br.post("/console/keys", url.Values{"csrf": {token}, "name": {"WHMCS"}, "allowed_ips": {"203.0.113.0/24"}})
	key := regexp.MustCompile(`id="new-key">(pk_[^<]+)<`).FindStringSubmatch(page)
	if code != 200 || key == nil || !strings.Contains(page, "WHMCS") || !strings.Contains(page, "203.0.113.0/24") {
		t.Fatalf("create key: %d", code)
	}
	if _, err := e.Service.Authenticate(ctx, key[1], netip.MustParseAddr("203.0.113.9"), core.ProtocolV1); err != nil {
		t.Fatalf("the new key does not work: %v", err)
	}
	prefix := key[1][:len(regexp.MustCompile(`<code>(pk_[^<…]+)…</code>`).FindStringSubmatch(page)[1])]
	if code, _ = br.post("/console/revoke", url.Values{"csrf": {token}, "prefix": {prefix}}); code != 200 {
		t.Fatalf("revoke: %d", code)
	}
	if _, err := e.Service.Authenticate(ctx, key[1], netip.MustParseAddr("203.0.113.9"), core.ProtocolV1); err == nil {
		t.Fatal("a revoked key still works")
	}
	// Branding: checked, then saved.
	if code, page = br.post("/console/branding", url.Values{"csrf": {token}, "name": {"Acme"}, "color": {"red"}}); code != 422 || !strings.Contains(page, "#rrggbb") {
		t.Fatalf("bad colour: %d", code)
	}
	br.post("/console/branding", url.Values{"csrf": {token}, "name": {"Acme Guard"}, "color": {"#123456"}, "embed_origins": {"https://panel.acme.example"}})
	if b, _ := e.Service.Branding(ctx, e.Caller); b.Name != "Acme Guard" || len(b.EmbedOrigins) != 1 {
		t.Fatalf("branding %+v", b)
	}
	for _, p := range []string{"customers", "credit", "plans", "emails", "audit", "userapi"} {
		if code, _, _ := br.get("/console/" + p); code != 200 {
			t.Fatalf("/console/%s: %d", p, code)
		}
	}
	// Two-factor sign-in.
	_, page, _ = br.get("/console/security")
	secret := regexp.MustCompile(`name="secret" value="([A-Z2-7]+)"`).FindStringSubmatch(page)
	if secret == nil {
		t.Fatalf("no TOTP secret offered: %s", page)
	}
	if code, _ = br.post("/console/totp", url.Values{"csrf": {token}, "secret": {secret[1]}, "code": {"000000"}}); code != 422 {
		t.Fatalf("wrong code accepted: %d", code)
	}
	if code, page = br.post("/console/totp", url.Values{"csrf": {token}, "secret": {secret[1]}, "code": {core.TOTPCode(secret[1], e.Clock.Now())}}); code != 200 || !strings.Contains(page, "two-factor sign-in is on") {
		t.Fatalf("enable TOTP: %d", code)
	}
	fresh := newBrowser(t, e.URL)
	if code, page = login(t, fresh, "ops@acme.example", "S3cure-Passw0rd", ""); code != 401 || !strings.Contains(page, `name="code"`) {
		t.Fatalf("sign-in without the code: %d", code)
	}
	if code, _ = login(t, fresh, "ops@acme.example", "S3cure-Passw0rd", core.TOTPCode(secret[1], e.Clock.Now().Add(30*time.Second))); code != 200 {
		t.Fatalf("sign-in with the code: %d", code)
	}
	// The partner's staff cannot open the operator pages.
	if code, _, _ = br.get("/operator"); code != 403 {
		t.Fatalf("a partner opened the operator pages: %d", code)
	}
	// Sign out everywhere ends the other browser's session too.
	br.post("/console/signout-all", url.Values{"csrf": {token}})
	if _, page, _ = fresh.get("/console"); !strings.Contains(page, "Sign in") {
		t.Fatal("another session survived 'sign out everywhere'")
	}

	// Operator: create a partner (key shown once), top up, create a plan.
	if _, err := e.Service.CreateConsoleUser(ctx, core.Operator(), 0, "root@palisade.example", "0perator-Secret"); err != nil {
		t.Fatal(err)
	}
	op := newBrowser(t, e.URL)
	code, page = login(t, op, "root@palisade.example", "0perator-Secret", "")
	if code != 200 || !strings.Contains(page, "Partners") {
		t.Fatalf("operator: %d", code)
	}
	otok := csrf(t, page)
	code, page = op.post("/operator/partners", url.Values{"csrf": {otok}, "name": {"Beta Hosting"}, "email": {"ops@beta.example"}})
	if code != 200 || !regexp.MustCompile(`id="new-key">pk_`).MatchString(page) {
		t.Fatalf("create partner: %d", code)
	}
	beta, err := e.Service.PartnerByName(ctx, core.Operator(), "Beta Hosting")
	if err != nil {
		t.Fatal(err)
	}
	op.post("/operator/topup", url.Values{"csrf": {otok}, "partner": {strconv.FormatInt(beta.ID, 10)}, "amount": {"25.50"}})
	if beta, _ = e.Service.PartnerByName(ctx, core.Operator(), "Beta Hosting"); beta.Balance != 2550 {
		t.Fatalf("top-up: %s", beta.Balance)
	}
	if code, page = op.post("/operator/topup", url.Values{"csrf": {otok}, "partner": {strconv.FormatInt(beta.ID, 10)}, "amount": {"1.234"}}); code != 422 {
		t.Fatalf("bad amount: %d", code)
	}
	op.post("/operator/plans", url.Values{"csrf": {otok}, "name": {"500k"}, "quota": {"500000"}, "price": {"120.00"}, "rank": {"6"}})
	if plans, _ := e.Service.Plans(ctx); plans[len(plans)-1].Name != "500k" {
		t.Fatalf("plans: %+v", plans)
	}
	// Beta's staff see none of Acme's websites.
	e.Service.CreateConsoleUser(ctx, core.Operator(), beta.ID, "ops@beta.example", "B3ta-Password!")
	bb := newBrowser(t, e.URL)
	if _, page = login(t, bb, "ops@beta.example", "B3ta-Password!", ""); strings.Contains(page, "shop.example.com") {
		t.Fatal("another partner's console lists Acme's websites")
	}
	if code, _, _ = bb.get("/en/website/shop.example.com/statistics"); code != 404 {
		t.Fatalf("another partner opened Acme's site: %d", code)
	}
}
