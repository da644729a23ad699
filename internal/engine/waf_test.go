package engine

import (
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
// firewall; custom rules, clearances, categories and built-in grants come
// after it and never lift its deny.
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
	// A rule's grant does not lift the firewall's deny: the firewall runs first.
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
