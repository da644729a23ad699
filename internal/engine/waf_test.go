package engine

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/waf"
)

// wafOff turns the firewall off in tests of the other layers.
var wafOff = WAFSettings{Mode: "off"}

// wafReq is a Chrome request for target (path and query).
func wafReq(target string, mods ...func(*Request)) *Request {
	path, query, _ := strings.Cut(target, "?")
	return req("203.0.113.50", chromeUA, append([]func(*Request){func(r *Request) { r.Path, r.Query = path, query }}, mods...)...)
}

// The issue's payloads, sent by a normal Chrome, are denied by the default
// settings, as the firewall and with their attack class.
func TestWAFDeniesIssuePayloads(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	p := load(t, e, Settings{})
	for target, class := range map[string]string{
		"/products?id=1'%20OR%20'1'='1":               waf.ClassSQLi,
		"/search?q=%3Cscript%3Ealert(1)%3C/script%3E": waf.ClassXSS,
		"/index.php?page=../../../../etc/passwd":      waf.ClassLFI,
		"/?cmd=;cat%20/etc/passwd":                    "",
		"/.env":                                       waf.ClassLFI,
		"/.git/config":                                waf.ClassLFI,
	} {
		v := e.Decide(p, wafReq(target))
		if v.Action != Deny || v.Source != SourceWAF || v.WAF == nil || !v.WAF.Blocked {
			t.Errorf("%s: %s source %q reason %q; want denied by the website firewall", target, v, v.Source, v.Reason)
			continue
		}
		if class != "" && v.WAF.Class != class {
			t.Errorf("%s: class %q; want %q (matches %+v)", target, v.WAF.Class, class, v.WAF.Matches)
		}
		if !strings.HasPrefix(v.Detail, v.WAF.Class) {
			t.Errorf("%s: detail %q does not name the class %q", target, v.Detail, v.WAF.Class)
		}
	}
	// Ordinary requests are not touched.
	for _, target := range []string{"/", "/search?q=red%20shoes", "/products?id=42&sort=price", "/blog/2026/11/hello-world"} {
		if v := e.Decide(p, wafReq(target)); v.Action != Grant || v.Source == SourceWAF {
			t.Errorf("%s: %s source %q; want granted", target, v, v.Source)
		}
	}
	// A form POST with an apostrophe in a name is fine; one with SQL is not.
	post := func(body string) func(*Request) {
		return func(r *Request) {
			r.Method = "POST"
			r.Header = browserHeaders()
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Body = []byte(body)
		}
	}
	if v := e.Decide(p, wafReq("/checkout", post("name=Siobhan+O%27Brien&city=K%C3%B6ln"))); v.Action != Grant {
		t.Errorf("ordinary form POST: %s (%+v)", v, v.WAF)
	}
	if v := e.Decide(p, wafReq("/checkout", post("id=1%27+OR+%271%27%3D%271"))); v.Action != Deny || v.Source != SourceWAF {
		t.Errorf("SQL injection in a POST body: %s source %q; want denied by the firewall", v, v.Source)
	}
}

type clearAll struct{}

func (clearAll) Cleared(int64, *Request) bool { return true }

// TestWAFOrder: lists and verified search engines come before the
// firewall; the grants of custom rules, clearances, categories and
// built-ins are judged by it and never lift its deny.
func TestWAFOrder(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	e.SetClearance(clearAll{})
	attack := "/products?id=1'%20OR%20'1'='1"
	p := load(t, e, Settings{
		Allow: []string{"198.51.100.7"},
		Rules: []Rule{
			{Name: "let the shop through", Action: "grant", Conditions: []Condition{{Field: "path", Op: "starts_with", Value: "/products"}}},
			{Name: "challenge search", Action: "challenge", Conditions: []Condition{{Field: "path", Op: "starts_with", Value: "/search"}}},
		},
	})
	// A deny-listed address is denied by the list, before the firewall.
	pd := load(t, e, Settings{Deny: []string{"198.51.100.66"}})
	if v := e.Decide(pd, wafReq(attack, func(r *Request) { r.IP = mustAddr("198.51.100.66") })); v.Action != Deny || v.Source != SourceList || v.WAF != nil {
		t.Errorf("deny list: %s source %q; want denied by the list, firewall not run", v, v.Source)
	}
	// A built-in grant does not lift the firewall's deny: robots.txt with
	// a payload in its query is still denied.
	if v := e.Decide(p, wafReq("/robots.txt?x=1'%20OR%20'1'='1")); v.Action != Deny || v.Source != SourceWAF {
		t.Errorf("built-in robots.txt with a payload: %s source %q; want the firewall's deny", v, v.Source)
	}
	// An allow-listed address is granted before the firewall runs.
	if v := e.Decide(p, wafReq(attack, func(r *Request) { r.IP = mustAddr("198.51.100.7") })); v.Action != Grant || v.Source != SourceList || v.WAF != nil {
		t.Errorf("allow list: %s source %q; want granted by the list, firewall not run", v, v.Source)
	}
	// A verified Googlebot following a link with a payload in it is not
	// judged by the firewall (docs/WAF.md).
	google := firstPrefixAddr(t, "googlebot")
	gb := "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	if v := e.Decide(p, wafReq(attack, func(r *Request) { r.IP, r.UserAgent = mustAddr(google), gb })); v.Action != Grant || v.WAF != nil {
		t.Errorf("verified Googlebot: %s source %q; want granted without the firewall", v, v.Source)
	}
	// A verified on-demand fetcher (Google's Rich Results Test, which
	// anyone can point at a URL) is judged like anyone.
	inspect := "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 (compatible; Google-InspectionTool/1.0;)"
	if v := e.Decide(p, wafReq(attack, func(r *Request) { r.IP, r.UserAgent = mustAddr(google), inspect })); v.Source != SourceWAF {
		t.Errorf("verified Google-InspectionTool: %s source %q detail %q; want the firewall's deny", v, v.Source, v.Detail)
	}
	// The same user agent from elsewhere is judged.
	if v := e.Decide(p, wafReq(attack, func(r *Request) { r.UserAgent = gb })); v.Source != SourceWAF {
		t.Errorf("unverified Googlebot: %s source %q; want the firewall's deny", v, v.Source)
	}
	// A rule's grant does not lift the firewall's deny: the firewall judges it.
	if v := e.Decide(p, wafReq(attack)); v.Action != Deny || v.Source != SourceWAF {
		t.Errorf("rule grant: %s source %q; want the firewall's deny", v, v.Source)
	}
	// Nor does a clearance.
	xss := "/search?q=%3Cscript%3Ealert(1)%3C/script%3E"
	if v := e.Decide(p, wafReq(xss, func(r *Request) { r.Clearance = "anything" })); v.Action != Deny || v.Source != SourceWAF {
		t.Errorf("clearance: %s source %q; want the firewall's deny", v, v.Source)
	}
	// Explain says the same.
	if v := e.Explain(p, wafReq(attack)); v.Action != Deny || v.Source != SourceWAF {
		t.Errorf("explain: %s source %q; want the firewall's deny", v, v.Source)
	}
}

// TestWAFModes: detect records and lets the other layers decide; off and a
// plan without the firewall do nothing; monitor mode marks the deny.
func TestWAFModes(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	attack := "/products?id=1'%20OR%20'1'='1"
	v := e.Decide(load(t, e, Settings{WAF: WAFSettings{Mode: "detect"}}), wafReq(attack))
	if v.Action != Grant || v.Source == SourceWAF || v.WAF == nil || !v.WAF.Blocked || v.WAF.Class != waf.ClassSQLi {
		t.Errorf("detect: %s source %q waf %+v; want granted with the firewall's finding recorded", v, v.Source, v.WAF)
	}
	if v := e.Decide(load(t, e, Settings{WAF: WAFSettings{Mode: "off"}}), wafReq(attack)); v.Action != Grant || v.WAF != nil {
		t.Errorf("off: %s waf %+v; want granted, firewall not run", v, v.WAF)
	}
	v = e.Decide(load(t, e, Settings{Mode: "monitor"}), wafReq(attack))
	if v.Action != Deny || v.Source != SourceWAF || !v.Monitored || v.Enforced() != Grant {
		t.Errorf("monitor: %s source %q; want a monitored firewall deny", v, v.Source)
	}
	// A threshold above one critical match lets a single match through.
	v = e.Decide(load(t, e, Settings{WAF: WAFSettings{Threshold: 1000}}), wafReq("/.env"))
	if v.Action == Deny || v.WAF == nil || v.WAF.Blocked {
		t.Errorf("threshold 1000: %s waf %+v; want granted and recorded", v, v.WAF)
	}
	// An exclusion of the site's own.
	st := Settings{WAF: WAFSettings{Exclusions: []waf.Exclusion{{Path: "/products", Parameters: []string{"id"}, Tags: []string{"attack-sqli"}}}}}
	if v := e.Decide(load(t, e, st), wafReq(attack)); v.Source == SourceWAF {
		t.Errorf("excluded parameter: %s source %q waf %+v; want not denied by the firewall", v, v.Source, v.WAF)
	}
	if v := e.Decide(load(t, e, st), wafReq("/products?q=1'%20OR%20'1'='1")); v.Source != SourceWAF {
		t.Errorf("another parameter on the excluded path: %s source %q; want the firewall's deny", v, v.Source)
	}
	// CRS allows GET, HEAD, POST and OPTIONS; a declared API path takes
	// PUT, PATCH and DELETE too, and only there.
	api := Settings{APIPaths: []string{"/api/"}}
	for _, m := range []string{"PUT", "PATCH", "DELETE"} {
		if v := e.Decide(load(t, e, api), wafReq("/api/orders/7", func(r *Request) { r.Method = m })); v.Source == SourceWAF {
			t.Errorf("%s on a declared API path: %s; want not denied by the firewall", m, v)
		}
		if v := e.Decide(load(t, e, api), wafReq("/shop/orders/7", func(r *Request) { r.Method = m })); v.Source != SourceWAF {
			t.Errorf("%s elsewhere: %s; want the firewall's deny (911100)", m, v)
		}
	}
	// A plan without the firewall.
	if errs := e.Load([]Site{{ID: 1, PartnerID: 7, Domain: "shop.example.com", Status: "online", NoWAF: true}}, nil); len(errs) > 0 {
		t.Fatal(errs[0].Err)
	}
	if v := e.Decide(e.ByDomain("shop.example.com"), wafReq(attack)); v.Action != Grant || v.WAF != nil {
		t.Errorf("plan without firewall: %s waf %+v; want granted", v, v.WAF)
	}
}

// TestWAFSettingsValidation: every field is checked, with its path.
func TestWAFSettingsValidation(t *testing.T) {
	st := Settings{WAF: WAFSettings{Mode: "loud", Paranoia: 5, Threshold: -1, ExclusionSets: map[string]bool{"typo3x": true},
		Exclusions: []waf.Exclusion{{Note: "nothing narrowed"}}}}
	err := st.Validate()
	fe, ok := IsValidationError(err)
	if !ok {
		t.Fatalf("want field errors, got %v", err)
	}
	want := []string{"waf.mode", "waf.paranoia", "waf.threshold", "waf.exclusion_sets.typo3x", "waf.exclusions[0]"}
	got := map[string]bool{}
	for _, f := range fe {
		got[f.Path] = true
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("no error at %s; got %v", w, fe)
		}
	}
	ok2 := Settings{WAF: WAFSettings{Mode: "detect", Paranoia: 2, Threshold: 10, ExclusionSets: map[string]bool{"wordpress": false}}}
	if err := ok2.Validate(); err != nil {
		t.Errorf("valid settings refused: %v", err)
	}
}

// TestVirtualPatches: the operator's patches apply to every website, a
// partner's to its own only, in any WAF mode, until they expire.
func TestVirtualPatches(t *testing.T) {
	e, clk := newTestEngine(t, nil)
	patch := func(name, path string, expires time.Time) waf.Patch {
		return waf.Patch{ID: 1, Name: name, Reason: "plugin hole", Expires: expires,
			Rule: &waf.PatchRule{Path: path, Target: "arg:action", Op: "equals", Value: "exploit"}}
	}
	sites := []Site{
		{ID: 1, PartnerID: 7, Domain: "a.example.com", Status: "online", Settings: Settings{WAF: WAFSettings{Mode: "detect"}}},
		{ID: 2, PartnerID: 8, Domain: "b.example.com", Status: "online", Settings: Settings{WAF: WAFSettings{Mode: "off"}}},
	}
	partners := map[int64]PartnerLists{
		Everyone: {Patches: []waf.Patch{patch("everyone", "/global.php", time.Time{})}},
		7:        {Patches: []waf.Patch{patch("seven", "/wp-content/plugins/vuln/ajax.php", clk.t.Add(time.Hour))}},
	}
	if errs := e.Load(sites, partners); len(errs) > 0 {
		t.Fatal(errs[0].Err)
	}
	a, b := e.ByDomain("a.example.com"), e.ByDomain("b.example.com")
	exploit := "/wp-content/plugins/vuln/ajax.php?action=exploit"
	if v := e.Decide(a, wafReq(exploit)); v.Action != Deny || v.Reason != "virtual patch" || v.Detail != "seven" {
		t.Errorf("partner's patch on its site in detect mode: %s; want denied by patch seven", v)
	}
	if v := e.Decide(b, wafReq(exploit)); v.Action != Grant {
		t.Errorf("partner 7's patch on partner 8's site: %s; want granted", v)
	}
	for _, p := range []*Policy{a, b} {
		if v := e.Decide(p, wafReq("/global.php?action=exploit")); v.Action != Deny || v.Detail != "everyone" {
			t.Errorf("operator's patch on %s: %s; want denied by patch everyone", p.Domain, v)
		}
	}
	clk.t = clk.t.Add(2 * time.Hour)
	if v := e.Decide(a, wafReq(exploit)); v.Action != Grant {
		t.Errorf("expired patch: %s; want granted", v)
	}
}

// TestWAFApacheSubrequestProtocol: Apache's authorizer reports
// SERVER_PROTOCOL "INCLUDED" for its internal subrequests; that is not the
// visitor's protocol and is not judged as one (CRS 920430 would deny it).
func TestWAFApacheSubrequestProtocol(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	p := load(t, e, Settings{})
	if v := e.Decide(p, wafReq("/index.html", func(r *Request) { r.Proto = "INCLUDED" })); v.Source == SourceWAF {
		t.Errorf("INCLUDED subrequest: %s; want not denied by the firewall", v)
	}
}

// chromeHeaders gives r the header set Chrome 131 sends for a navigation
// over HTTP/2 (testdata/headers/browsers.txt), with r's user agent.
func chromeHeaders(r *Request) {
	r.Proto = "HTTP/2.0"
	r.Header = http.Header{
		"Sec-Ch-Ua":                 {`"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"`},
		"Sec-Ch-Ua-Mobile":          {"?0"},
		"Sec-Ch-Ua-Platform":        {`"Windows"`},
		"Upgrade-Insecure-Requests": {"1"},
		"User-Agent":                {r.UserAgent},
		"Accept":                    {"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"},
		"Sec-Fetch-Site":            {"none"},
		"Sec-Fetch-Mode":            {"navigate"},
		"Sec-Fetch-User":            {"?1"},
		"Sec-Fetch-Dest":            {"document"},
		"Accept-Encoding":           {"gzip, deflate, br, zstd"},
		"Accept-Language":           {"en-US,en;q=0.9"},
		"Priority":                  {"u=0, i"},
	}
}

// toolHeaders gives r the headers a tool or crawler sends (curl's: its
// user agent and Accept */*) with ua.
func toolHeaders(ua string) func(*Request) {
	return func(r *Request) {
		r.UserAgent = ua
		r.Header = http.Header{"User-Agent": {ua}, "Accept": {"*/*"}}
	}
}

const claudeUA = "Mozilla/5.0 (compatible; ClaudeBot/1.0; +claudebot@anthropic.com)"

// TestWAFJudgesWhatIsServed (issue 21): a request the engine refuses
// anyway is answered without the firewall; the same attack in a request
// that would be served is denied by it, as before.
func TestWAFJudgesWhatIsServed(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	attack := "/products?id=1'%20OR%20'1'='1"
	curl, claude := toolHeaders("curl/8.5.0"), toolHeaders(claudeUA)
	for _, mode := range []string{"block", "detect"} {
		p := load(t, e, Settings{WAF: WAFSettings{Mode: mode}})
		// Detect mode attaches whatever CRS finds whenever it runs: no
		// finding on an SQL injection means CRS did not run.
		if v := e.Decide(p, wafReq(attack, curl)); v.Action != Challenge || v.Source != SourceCategory || v.Category != AutomationTools || v.WAF != nil {
			t.Errorf("%s: curl with an SQL injection: %s source %q waf %+v; want the category's challenge, firewall not run", mode, v, v.Source, v.WAF)
		}
		if v := e.Decide(p, wafReq(attack, claude)); v.Action != Deny || v.Source != SourceCategory || v.Category != AICrawlers || v.WAF != nil {
			t.Errorf("%s: ClaudeBot with an SQL injection: %s source %q waf %+v; want the category's deny, firewall not run", mode, v, v.Source, v.WAF)
		}
		// A browser's is judged.
		v := e.Decide(p, wafReq(attack, chromeHeaders))
		if v.WAF == nil || !v.WAF.Blocked || v.WAF.Class != waf.ClassSQLi {
			t.Errorf("%s: browser with an SQL injection: %s waf %+v; want the firewall's finding", mode, v, v.WAF)
		}
		if want := mode == "block"; (v.Action == Deny && v.Source == SourceWAF) != want {
			t.Errorf("%s: browser with an SQL injection: %s source %q", mode, v, v.Source)
		}
	}
	p := load(t, e, Settings{})
	// The challenged client that solved the challenge is judged.
	e.SetClearance(clearAll{})
	v := e.Decide(p, wafReq(attack, curl, func(r *Request) { r.Clearance = "solved" }))
	e.SetClearance(nil)
	if v.Action != Deny || v.Source != SourceWAF || v.Reason != "waf" || v.Category != Humans || v.WAF == nil || !strings.HasPrefix(v.Detail, waf.ClassSQLi+": ") {
		t.Errorf("cleared curl with an SQL injection: %s source %q category %s; want the firewall's deny", v, v.Source, v.Category)
	}
	// A website that grants automation tools has their requests judged.
	pa := load(t, e, Settings{Categories: map[string]string{"automation_tools": "grant"}})
	if v := e.Decide(pa, wafReq(attack, curl)); v.Action != Deny || v.Source != SourceWAF {
		t.Errorf("granted curl with an SQL injection: %s source %q; want the firewall's deny", v, v.Source)
	}
	// In monitor mode the challenge is served, so the firewall judges it.
	pm := load(t, e, Settings{Mode: "monitor"})
	if v := e.Decide(pm, wafReq(attack, curl)); v.Action != Deny || v.Source != SourceWAF || !v.Monitored || v.WAF == nil {
		t.Errorf("monitored curl with an SQL injection: %s source %q; want a monitored firewall deny", v, v.Source)
	}
	// A rate-limited request is refused without the firewall; the
	// request the limit let through was judged by it, and counted once.
	pl := load(t, e, Settings{RateLimits: []RateLimit{{Name: "one", Requests: 1, Period: "1m", Action: "deny"}}})
	if v := e.Decide(pl, wafReq(attack, chromeHeaders)); v.Source != SourceWAF {
		t.Errorf("first browser request with an SQL injection: %s source %q; want the firewall's deny", v, v.Source)
	}
	if v := e.Decide(pl, wafReq(attack, chromeHeaders)); v.Source != SourceRateLimit || v.Action != Deny || v.WAF != nil {
		t.Errorf("second browser request with an SQL injection: %s source %q waf %+v; want the rate limit, firewall not run", v, v.Source, v.WAF)
	}
	// A virtual patch is the firewall too: it judges what is served.
	if errs := e.Load([]Site{{ID: 1, PartnerID: 7, Domain: "shop.example.com", Status: "online"}}, map[int64]PartnerLists{Everyone: {Patches: []waf.Patch{{ID: 1, Name: "hole",
		Rule: &waf.PatchRule{Path: "/x.php", Target: "arg:a", Op: "equals", Value: "b"}}}}}); len(errs) > 0 {
		t.Fatal(errs[0].Err)
	}
	pp := e.ByDomain("shop.example.com")
	if v := e.Decide(pp, wafReq("/x.php?a=b", chromeHeaders)); v.Reason != "virtual patch" {
		t.Errorf("browser on a patched hole: %s; want the patch's deny", v)
	}
	if v := e.Decide(pp, wafReq("/x.php?a=b", claude)); v.Source != SourceCategory || v.Action != Deny || v.WAF != nil {
		t.Errorf("ClaudeBot on a patched hole: %s source %q; want the category's deny", v, v.Source)
	}
}

// TestDecideAllocsWithWAF: with the firewall on at its default settings,
// Decide allocates nothing on the paths that do not run CRS: a browser's
// clean GET (the prefilter passes it), a challenged curl, a denied
// GPTBot and ClaudeBot, a deny-listed address.
func TestDecideAllocsWithWAF(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts under the race detector are not the program's")
	}
	e, p := realisticPolicy(t)
	if p.WAFMode() != "block" {
		t.Fatalf("firewall %s; want on at its default (block)", p.WAFMode())
	}
	openai := firstPrefixAddr(t, "openai-gptbot")
	gptUA := "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)"
	for _, c := range []struct {
		name   string
		r      *Request
		action Action
		source string
	}{
		{"browser", req("198.51.100.7", chromeUA, chromeHeaders), Grant, SourceCategory},
		{"curl", req("198.51.100.7", "", toolHeaders("curl/8.5.0")), Challenge, SourceCategory},
		{"gptbot", req(openai, "", toolHeaders(gptUA)), Deny, SourceCategory},
		{"fake gptbot", req("198.51.100.7", "", toolHeaders(gptUA)), Challenge, SourceCategory},
		{"claudebot", req("198.51.100.7", "", toolHeaders(claudeUA)), Deny, SourceCategory},
		{"deny list", req("10.3.4.5", chromeUA, chromeHeaders), Deny, SourceList},
	} {
		v := e.Decide(p, c.r)
		if v.Action != c.action || v.Source != c.source || v.WAF != nil {
			t.Errorf("%s: %s source %q; want %s by %s", c.name, v, v.Source, c.action, c.source)
		}
		if n := testing.AllocsPerRun(200, func() { e.Decide(p, c.r) }); n != 0 {
			t.Errorf("%s: Decide allocates %.1f times per request; want 0", c.name, n)
		}
	}
}
