package pagetest_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/challenge"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
	"github.com/palisadehq/palisade/internal/testenv/testclock"
	"github.com/palisadehq/palisade/internal/waf"
)

// fixtureStart is where the fixture's clock starts when PALISADE_TEST_NOW
// does not say otherwise: the pages and screenshots show the same dates
// whatever day the test runs. Seeding then moves the clock on by
// seedDays, a day at a time.
const (
	fixtureStart = "2026-10-05T08:00:00Z"
	seedDays     = 18
)

func TestMain(m *testing.M) {
	if os.Getenv(testclock.Env) == "" {
		os.Setenv(testclock.Env, fixtureStart)
	}
	os.Exit(m.Run())
}

// The fixture's names.
const (
	brandName = "My Hosting"
	shop      = "shop.example.com" // online, with a month of traffic
	newSite   = "new.example.net"  // registered, no traffic yet (setup)
	gone      = "blog.example.com" // deleted
	staff     = "ops@myhosting.example"
	staffPass = "Reseller-Consol3!"
	root      = "root@operator.example"
	rootPass  = "0perator-Secret!"
	janeEmail = "jane@shop.example.com"
	janePass  = "Garden-Parasol-42!"
)

// fixture is a running Palisade with everything the pages show.
type fixture struct {
	*testenv.Stack
	// Session cookie values: the customer (Jane, shop and new), the
	// partner's console user and the operator's.
	Customer, Console, Operator string
	// Events maps a kind of decision to one event of it, for its page:
	// granted, category, challenge, rule, rule_grant, firewall, rate_limit.
	Events map[string]int64
	// ExpiredToken is a single-sign-on token whose five minutes are over.
	ExpiredToken string
	// Front is the visitor's side: a stand-in for the web server in front
	// of the website, which asks Palisade as nginx does and shows the
	// visitor the page Palisade renders (front).
	Front string
}

// newFixture seeds a Palisade: a partner branded "My Hosting" (no "powered
// by"), its customer Jane with an online website that has had 18 days of
// varied traffic (and a year of counted history) and one still in setup, a
// deleted website, a console user, the operator's user, a virtual patch,
// and the audit entries all of that leaves.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	e := testenv.New(t, scanRoots)
	ctx := context.Background()
	op := core.Operator()
	f := &fixture{Stack: e, Events: map[string]int64{}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.Service.SetBranding(ctx, e.Caller, e.Caller.PartnerID, core.Branding{Name: brandName, Color: "#1d6f5f",
		SupportURL: "https://support.myhosting.example/"})
	must(err)
	jane, _, err := e.Service.CreateSubaccount(ctx, e.Caller, core.SubaccountCreate{Email: janeEmail, FirstName: "Jane", LastName: "Doe",
		Company: "Jane's Shop"}, core.Idem{})
	must(err)
	// Jane's password, for the User API's documentation.
	_, _, err = e.Service.ProvisionAccount(ctx, e.Caller, core.Provision{Account: core.SubaccountCreate{Email: janeEmail}, Password: janePass, Domain: shop, Plan: "10k"})
	must(err)
	for _, d := range []string{newSite, gone} {
		_, _, err := e.Service.CreateWebsite(ctx, e.Caller, core.WebsiteCreate{Domain: d, SubaccountID: jane.ID, Plan: "10k"}, core.Idem{})
		must(err)
	}
	_, err = e.Service.DeleteWebsite(ctx, e.Caller, gone, core.Match{})
	must(err)
	_, st, err := e.Service.WebsiteSettings(ctx, e.Caller, shop)
	must(err)
	st.Categories = map[string]string{"ai_crawlers": "deny", "content_scrapers": "challenge"}
	st.Rules = []engine.Rule{
		{Name: "No WordPress here", Action: "deny", Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/wp-"}}},
		{Name: "Our uptime monitor", Action: "grant", Conditions: []engine.Condition{{Field: "user_agent", Op: "contains", Value: "UptimeRobot"}}},
	}
	st.RateLimits = []engine.RateLimit{{Name: "sitesearch", Key: "ip", PathPrefix: "/search", Requests: 5, Period: "1m", Action: "deny"}}
	st.Allow = []string{"192.0.2.10"}
	_, err = e.Service.UpdateWebsiteSettings(ctx, e.Caller, shop, st, core.Match{})
	must(err)
	must(e.Protector.Reload(ctx))

	// A link whose five minutes run out while the traffic below comes in.
	link, _, err := e.Service.CreateLoginToken(ctx, e.Caller, core.ScopeCustomer, shop)
	must(err)
	f.ExpiredToken = link[strings.Index(link, "token=")+len("token="):]

	site, err := e.Service.Website(ctx, e.Caller, shop)
	must(err)
	for day := 0; day < seedDays; day++ {
		dayStart := e.Clock.Now()
		seedDay(t, e, site.ServerKey, day)
		if day < seedDays-1 {
			e.Clock.Advance(dayStart.Add(24 * time.Hour).Sub(e.Clock.Now()))
		}
	}
	e.Recorder.Flush(ctx)
	seedHistory(t, e, site, 1)
	seedScans(t, e) // the Security scan and Backups pages (scan_fixture_test.go)

	// Another customer's forum, busy: near its plan's quota this month.
	bob, _, err := e.Service.CreateSubaccount(ctx, e.Caller, core.SubaccountCreate{Email: "bob@forum.example.org"}, core.Idem{})
	must(err)
	forum, _, err := e.Service.CreateWebsite(ctx, e.Caller, core.WebsiteCreate{Domain: "forum.example.org", SubaccountID: bob.ID, Plan: "10k"}, core.Idem{})
	must(err)
	seedHistory(t, e, forum, 3)
	visitHost(t, e, forum.ServerKey, forum.Domain, testenv.ChromeUA, "198.51.100.200", "GET", "/")
	e.Recorder.Flush(ctx)

	// The people and the operator's and partner's settings.
	_, err = e.Service.CreateConsoleUser(ctx, op, e.Caller.PartnerID, staff, staffPass)
	must(err)
	_, err = e.Service.CreateConsoleUser(ctx, op, 0, root, rootPass)
	must(err)
	exp := e.Clock.Now().AddDate(0, 1, 0)
	_, err = e.Service.CreateWAFPatch(ctx, e.Caller, core.WAFPatch{Name: "CVE-2026-1234 contact form upload", Reason: "upload hole in an old contact form plugin",
		Rule: &waf.PatchRule{Path: "/wp-admin/admin-ajax.php", Method: "POST", Target: "arg:action", Op: "equals", Value: "forms_upload", Action: "block"}, ExpiresAt: &exp})
	must(err)
	must(e.Protector.Reload(ctx))

	// Another partner, and the fleet's two nodes, for the operator.
	_, _, err = e.Service.CreatePartner(ctx, op, core.PartnerCreate{Name: "Nordic Webhosting", Email: "ops@nordic-webhosting.example", Lang: "nl"})
	must(err)
	version, err := e.Service.ConfigVersion(ctx)
	must(err)
	started := e.Clock.Now().Add(-72 * time.Hour)
	for _, n := range []core.Node{
		{Name: "edge-1 10.0.0.5:8080", Role: "all", Version: "v1.8.0", ConfigVersion: version, StartedAt: started},
		{Name: "edge-2 10.0.0.6:8080", Role: "edge", Version: "v1.8.0", ConfigVersion: version - 1, Lag: 1500 * time.Millisecond, StartedAt: started},
	} {
		must(e.Service.RecordHeartbeat(ctx, n))
	}

	login := func(email, pass string) string {
		t.Helper()
		l, err := e.Service.ConsoleLogin(ctx, core.ConsoleSignIn{Email: email, Password: pass, Addr: netip.MustParseAddr("127.0.0.1")})
		must(err)
		return l.Value
	}
	f.Console, f.Operator = login(staff, staffPass), login(root, rootPass)
	l, err := e.Service.LoginWithSubaccountKey(ctx, jane.APIKey, shop)
	must(err)
	f.Customer = l.Value

	// One event of each kind, for its page.
	es, err := e.Service.Events(ctx, e.Caller, shop, core.EventFilter{})
	must(err)
	for _, ev := range es {
		kind := ""
		switch {
		case ev.Source == engine.SourceWAF:
			kind = "firewall"
		case ev.Source == engine.SourceRateLimit:
			kind = "rate_limit"
		case ev.Source == engine.SourceRule && ev.Action == "grant":
			kind = "rule_grant"
		case ev.Source == engine.SourceRule:
			kind = "rule"
		case ev.Source == engine.SourceCategory && ev.Action == "deny":
			kind = "category"
		case ev.Action == "challenge":
			kind = "challenge"
		case ev.Action == "grant" && ev.Source == engine.SourceCategory:
			kind = "granted"
		}
		if _, ok := f.Events[kind]; kind != "" && !ok {
			f.Events[kind] = ev.ID
		}
	}
	for _, k := range eventKinds {
		if f.Events[k] == 0 {
			seen := map[string]int{}
			for _, ev := range es {
				seen[ev.Source+" "+ev.Action+" "+ev.Reason]++
			}
			t.Fatalf("the fixture has no %s event; it has %v", k, seen)
		}
	}
	f.Front = newFront(t, e, site.ServerKey)
	return f
}

// eventKinds are the kinds of decision whose event page is checked.
var eventKinds = []string{"granted", "category", "challenge", "rule", "rule_grant", "firewall", "rate_limit"}

// Visitors of the shop, for the traffic of a day.
const (
	gptBot      = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)"
	uptimeRobot = "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)"
	curlUA      = "curl/8.5.0"
	phoneUA     = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)

// seedDay sends one day's requests through forward-auth, as nginx would,
// spread over the day: people browsing, an AI crawler, a script, a
// WordPress scanner, the uptime monitor, SQL injection and cross-site
// scripting, and (on the last day) a client searching too fast.
func seedDay(t testing.TB, e *testenv.Stack, key string, day int) {
	t.Helper()
	visit := func(t testing.TB, e *testenv.Stack, key, ua, ip, method, uri string) {
		t.Helper()
		e.Clock.Advance(time.Duration(31+day%4*7) * time.Minute)
		visit(t, e, key, ua, ip, method, uri)
	}
	paths := []string{"/", "/shop/cart", "/products/42", "/products/category/garden-furniture/outdoor-lounge-chairs?page=2",
		"/blog/2026/10/how-to-choose-a-parasol-for-a-small-balcony", "/account/orders", "/checkout/payment", "/contact"}
	n := 4 + day%5
	for i := 0; i < n; i++ {
		ua := testenv.ChromeUA
		if i%3 == 1 {
			ua = phoneUA
		}
		visit(t, e, key, ua, fmt.Sprintf("198.51.100.%d", 10+(day*7+i)%200), "GET", paths[(day+i)%len(paths)])
	}
	if day%2 == 0 {
		visit(t, e, key, gptBot, "20.171.207.5", "GET", "/products/42")
	}
	visit(t, e, key, curlUA, "203.0.113.80", "GET", "/products/feed.xml")
	visit(t, e, key, uptimeRobot, "216.144.250.150", "HEAD", "/")
	if day%3 == 0 {
		visit(t, e, key, testenv.ChromeUA, "45.155.205.12", "GET", "/wp-login.php")
	}
	if day%4 == 1 {
		visit(t, e, key, testenv.ChromeUA, "185.220.101.33", "GET", "/products?id=1%27%20OR%20%271%27%3D%271")
	}
	if day%5 == 2 {
		visit(t, e, key, testenv.ChromeUA, "185.220.101.34", "GET", "/search?q=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E")
	}
	if day == seedDays-1 {
		solveChallenge(t, e, key)
		for i := 0; i < 8; i++ { // within a minute
			visitNow(t, e, key, testenv.ChromeUA, "203.0.113.99", "GET", fmt.Sprintf("/search?q=garden+chair+%d", i))
		}
	}
}

// solveChallenge: a browser that speaks HTTP/2 without the headers its
// user agent always sends then is challenged, and solves the proof of work on the page, as the
// page's script would.
func solveChallenge(t testing.TB, e *testenv.Stack, key string) {
	t.Helper()
	const ua, ip, uri = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "198.51.100.77", "/products/42"
	answer := visitHost(t, e, key, shop, ua, ip, "GET", uri, "X-Original-Protocol", "HTTP/2.0")
	if a := answer.Header.Get("X-Palisade-Action"); a != "challenge" {
		t.Fatalf("a browser without its headers: %s, want a challenge", a)
	}
	req, _ := http.NewRequest("GET", e.URL+"/forward-auth/page", nil)
	for _, h := range []string{"X-Palisade-Action", "X-Palisade-Reason", "X-Palisade-Ref"} {
		req.Header.Set(h, answer.Header.Get(h))
	}
	req.Header.Set("X-Palisade-Key", key)
	req.Header.Set("X-Original-Uri", uri)
	req.Header.Set("X-Original-Host", shop)
	req.Header.Set("X-Real-Ip", ip)
	req.Header.Set("User-Agent", ua)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	tm := regexp.MustCompile(`name="token" value="([^"]+)"`).FindSubmatch(page)
	dm := regexp.MustCompile(`difficulty: *(\d+)`).FindSubmatch(page)
	if tm == nil || dm == nil {
		t.Fatalf("challenge page: %s", page)
	}
	token, difficulty := html.UnescapeString(string(tm[1])), 0
	fmt.Sscan(string(dm[1]), &difficulty)
	counter := ""
	for i := 0; i < 1<<26 && counter == ""; i++ {
		if challenge.Check(token, strconv.Itoa(i), difficulty) {
			counter = strconv.Itoa(i)
		}
	}
	form := url.Values{"token": {token}, "counter": {counter}, "return": {uri}, "ms": {"740"}}
	req, _ = http.NewRequest("POST", e.URL+"/_palisade/verify", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Palisade-Key", key)
	req.Header.Set("X-Real-Ip", ip)
	req.Header.Set("User-Agent", ua)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp, err = client.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the solution was refused: %d", resp.StatusCode)
	}
}

// visitNow is visit, for seedDay, whose visit comes a while later.
var visitNow = visit

// visit asks Palisade about one request to the shop, as nginx's
// auth_request does.
func visit(t testing.TB, e *testenv.Stack, key, ua, ip, method, uri string) *http.Response {
	t.Helper()
	return visitHost(t, e, key, shop, ua, ip, method, uri)
}

// visitHost is visit to host; extra are more headers, name and value.
func visitHost(t testing.TB, e *testenv.Stack, key, host, ua, ip, method, uri string, extra ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", e.URL+"/forward-auth/nginx", nil)
	req.Header.Set("X-Palisade-Key", key)
	req.Header.Set("X-Original-Uri", uri)
	req.Header.Set("X-Original-Method", method)
	req.Header.Set("X-Original-Host", host)
	req.Header.Set("X-Real-Ip", ip)
	testenv.AsBrowser(req, ua)
	req.Header.Set("Accept-Language", "en-GB,en;q=0.9")
	// What the browsers send besides (engine/testdata/headers/browsers.txt).
	switch ua {
	case testenv.ChromeUA:
		req.Header.Set("Sec-Ch-Ua", `"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"`)
		req.Header.Set("Sec-Ch-Ua-Mobile", "?0")
		req.Header.Set("Sec-Ch-Ua-Platform", `"Linux"`)
		req.Header.Set("Upgrade-Insecure-Requests", "1")
		req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7")
		req.Header.Set("Accept-Encoding", "gzip, deflate, br, zstd")
		fallthrough
	case phoneUA:
		req.Header.Set("Sec-Fetch-Site", "none")
		req.Header.Set("Sec-Fetch-Mode", "navigate")
		req.Header.Set("Sec-Fetch-Dest", "document")
		req.Header.Set("Priority", "u=0, i")
	}
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Set(extra[i], extra[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// seedHistory stores a year of counted decisions before today (the
// counters the event writer keeps), so that the month and day charts have
// a shape: a few hundred requests a day times busy, most of them people.
func seedHistory(t testing.TB, e *testenv.Stack, w core.Website, busy int64) {
	t.Helper()
	now := e.Clock.Now()
	var rows []core.StatRow
	add := func(at time.Time, action, category string, n int64) {
		rows = append(rows, core.StatRow{WebsiteID: w.ID, PartnerID: w.PartnerID, Minute: at.Truncate(time.Minute), Action: action, Category: category, Count: n})
	}
	for d := 1; d <= 330; d++ {
		at := now.AddDate(0, 0, -d).Truncate(24 * time.Hour).Add(13 * time.Hour)
		k := int64(d%7+3) * busy
		add(at, "grant", "humans", 120*busy+k*9)
		add(at, "grant", "search_engines", 20+k)
		add(at, "deny", "ai_crawlers", 4+k)
		add(at, "challenge", "automation_tools", 6+k/2)
		add(at, "challenge_solved", "automation_tools", 2)
		add(at, "deny", "security_issues", k/3)
		add(at, core.WAFBlocked, "", k/4)
	}
	if err := e.Service.RecordDecisions(context.Background(), nil, rows); err != nil {
		t.Fatal(err)
	}
}

// newFront starts the visitor's side of the shop: for /challenge, /deny,
// /firewall and /rule it asks Palisade about a request that gets that
// answer (as nginx's auth_request does) and, like the shipped snippet's
// error_page, shows the visitor the page Palisade renders for it, in the
// browser's language. Its /_palisade/worker.js never finishes the proof of
// work, so the challenge page stays as a visitor sees it while it works.
func newFront(t testing.TB, e *testenv.Stack, key string) string {
	t.Helper()
	asks := map[string]struct{ ua, ip, uri string }{
		"/challenge": {curlUA, "203.0.113.80", "/products/42"},
		"/deny":      {gptBot, "20.171.207.5", "/products/42"},
		"/firewall":  {testenv.ChromeUA, "185.220.101.33", "/products?id=1%27%20OR%20%271%27%3D%271"},
		"/rule":      {testenv.ChromeUA, "45.155.205.12", "/wp-login.php"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_palisade/worker.js" {
			w.Header().Set("Content-Type", "text/javascript")
			io.WriteString(w, "self.onmessage = function () {};\n")
			return
		}
		a, ok := asks[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		answer := visit(t, e, key, a.ua, a.ip, "GET", a.uri)
		req, _ := http.NewRequest("GET", e.URL+"/forward-auth/page", nil)
		for _, h := range []string{"X-Palisade-Action", "X-Palisade-Reason", "X-Palisade-Ref"} {
			req.Header.Set(h, answer.Header.Get(h))
		}
		req.Header.Set("X-Palisade-Key", key)
		req.Header.Set("X-Original-Uri", a.uri)
		req.Header.Set("X-Original-Host", shop)
		req.Header.Set("X-Real-Ip", a.ip)
		req.Header.Set("User-Agent", r.UserAgent())
		req.Header.Set("Accept-Language", r.Header.Get("Accept-Language"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
