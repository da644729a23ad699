package engine

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	botsnapshot "github.com/palisadehq/palisade/internal/botdata/snapshot"
)

const chromeUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

func browserHeaders() http.Header {
	return http.Header{
		"Accept":          {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
		"Accept-Language": {"en-GB,en;q=0.9"},
		"Accept-Encoding": {"gzip, deflate, br"},
	}
}

func req(ip, ua string, mods ...func(*Request)) *Request {
	r := &Request{IP: netip.MustParseAddr(ip), Method: "GET", Host: "shop.example.com", Path: "/", Proto: "HTTP/1.1", UserAgent: ua, Header: browserHeaders()}
	for _, m := range mods {
		m(r)
	}
	return r
}

// firstPrefixAddr returns an address inside the first IPv4 prefix of a
// verified-bot range list of the snapshot shipped in the binary.
func firstPrefixAddr(t testing.TB, name string) string {
	l, ok := botsnapshot.Get(name)
	if !ok {
		t.Fatalf("the shipped snapshot has no list %q", name)
	}
	for _, p := range l.Prefixes {
		if p.Addr().Is4() {
			return p.Addr().Next().String()
		}
	}
	t.Fatalf("%s has no IPv4 prefix", name)
	return ""
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestEngine(t testing.TB, rdns *RDNSVerifier) (*Engine, *clock) {
	t.Helper()
	ranges, err := LoadBotRanges("") // the snapshot shipped in the binary
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	return New(NewClassifier(builtinSignatures(t), ranges, rdns), c.now), c
}

func load(t testing.TB, e *Engine, st Settings) *Policy {
	t.Helper()
	if errs := e.Load([]Site{{ID: 1, PartnerID: 7, Domain: "shop.example.com", Status: "online", ServerKeyHash: strings.Repeat("ab", 32), Settings: st}}, nil); len(errs) > 0 {
		t.Fatalf("load: %v", errs[0].Err)
	}
	return e.ByDomain("SHOP.example.com:443")
}

func TestDecideCategories(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	p := load(t, e, Settings{})
	google := firstPrefixAddr(t, "googlebot")
	bing := firstPrefixAddr(t, "bingbot")
	cases := []struct {
		name     string
		r        *Request
		action   Action
		category Category
		detail   string
	}{
		{"browser", req("198.51.100.7", chromeUA), Grant, Humans, ""},
		{"curl", req("198.51.100.7", "curl/8.5.0"), Challenge, AutomationTools, "curl"},
		{"python", req("198.51.100.7", "python-requests/2.31.0"), Challenge, AutomationTools, "python-requests"},
		{"headless", req("198.51.100.7", strings.Replace(chromeUA, "Chrome/", "HeadlessChrome/", 1)), Challenge, AutomationTools, "HeadlessChrome"},
		{"unknown client", req("198.51.100.7", "MyTool/1.0"), Challenge, AutomationTools, "unknown client"},
		{"sqlmap", req("198.51.100.7", "sqlmap/1.7.2#stable (https://sqlmap.org)"), Deny, SecurityIssues, "sqlmap"},
		{"log4shell", req("198.51.100.7", "${jndi:ldap://x/a}"), Deny, SecurityIssues, "Log4Shell probe"},
		{"gptbot", req(firstPrefixAddr(t, "openai-gptbot"), "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)"), Deny, AICrawlers, "GPTBot"},
		{"fake gptbot", req("198.51.100.7", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)"), Challenge, EmulatedHumans, "fake GPTBot"},
		{"claudebot", req("198.51.100.7", "Mozilla/5.0 (compatible; ClaudeBot/1.0; +claudebot@anthropic.com)"), Deny, AICrawlers, "ClaudeBot"},
		{"ahrefs", req("198.51.100.7", "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"), Deny, ContentScrapers, "AhrefsBot"},
		{"real googlebot", req(google, "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"), Grant, SearchEngines, "Googlebot"},
		{"real bingbot", req(bing, "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"), Grant, SearchEngines, "Bingbot"},
		{"fake googlebot", req("203.0.113.9", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"), Challenge, EmulatedHumans, "fake Googlebot"},
		{"unverifiable yandex", req("203.0.113.9", "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)"), Challenge, EmulatedHumans, "unverified YandexBot"},
		{"facebook preview", req("198.51.100.7", "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"), Grant, SocialNetworks, "unverified facebookexternalhit"},
		{"uptime robot", req("198.51.100.7", "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)"), Grant, ServicesAndPayments, "unverified UptimeRobot"},
		{"no UA", req("198.51.100.7", ""), Challenge, SuspiciousBehaviour, "no User-Agent"},
		{"HTTP/1.0 browser", req("198.51.100.7", chromeUA, func(r *Request) { r.Proto = "HTTP/1.0" }), Challenge, SuspiciousBehaviour, "HTTP/1.0 with a browser user agent"},
		{"bare browser UA", req("198.51.100.7", chromeUA, func(r *Request) { r.Header = http.Header{"User-Agent": {chromeUA}} }), Challenge, SuspiciousBehaviour, "no Accept header"},
		{"browser without language", req("198.51.100.7", chromeUA, func(r *Request) {
			r.Header.Set("User-Agent", chromeUA)
			r.Header.Del("Accept-Language")
			r.Header.Del("Accept-Encoding")
		}), Challenge, SuspiciousBehaviour, "no Accept-Language header"},
		// Every browser sends Accept-Language: its absence alone is enough
		// (issue 18 item 6; headers_test.go has the full header sets).
		{"only Accept-Language missing", req("198.51.100.7", chromeUA, func(r *Request) { r.Header.Set("User-Agent", chromeUA); r.Header.Del("Accept-Language") }), Challenge, SuspiciousBehaviour, "no Accept-Language header"},
	}
	for _, c := range cases {
		v := e.Decide(p, c.r)
		if v.Action != c.action || v.Category != c.category || v.Detail != c.detail || v.Reason != c.category.String() {
			t.Errorf("%s: got %s category %s detail %q; want %s %s %q", c.name, v.Action, v.Category, v.Detail, c.action, c.category, c.detail)
		}
		if v.Website != 1 || v.Partner != 7 {
			t.Errorf("%s: verdict not tied to the website: %+v", c.name, v)
		}
	}
}

func TestDecideRulesAndLists(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	off := false
	p := load(t, e, Settings{
		WAF:        wafOff, // a GET with a Content-Length is a protocol violation to the firewall
		Categories: map[string]string{"automation_tools": "deny"},
		Allow:      []string{"192.0.2.0/24"},
		Deny:       []string{"198.51.100.66", "2001:db8:bad::/48"},
		Rules: []Rule{
			{Name: "Disabled", Enabled: &off, Action: "deny", Conditions: []Condition{{Field: "path", Op: "starts_with", Value: "/"}}},
			{Name: "Office may admin", Action: "grant", Conditions: []Condition{{Field: "path", Op: "starts_with", Value: "/admin"}, {Field: "ip", Op: "is_any_of", Values: []string{"10.0.0.0/8"}}}},
			{Name: "Block admin", Action: "deny", Conditions: []Condition{{Field: "path", Op: "starts_with", Value: "/admin"}}},
			{Name: "Old shop", Action: "redirect", Location: "https://new.example.com/", Conditions: []Condition{{Field: "path", Op: "regex", Value: `^/shop/v1/`}}},
			{Name: "API clients", Action: "grant", Conditions: []Condition{{Field: "header", Header: "x-api-client", Op: "is", Value: "Mobile-App"}, {Field: "method", Op: "is_any_of", Values: []string{"get", "POST"}}}},
			{Name: "Huge uploads", Action: "deny", Conditions: []Condition{{Field: "header", Header: "Content-Length", Op: "greater_than", Value: "10000000"}}},
			{Name: "Bad referrer", Action: "captcha", Conditions: []Condition{{Field: "referrer", Op: "contains", Value: "SPAM-SITE"}}},
			{Name: "From Atlantis", Action: "deny", Conditions: []Condition{{Field: "country", Op: "is", Value: "AQ"}}},
			{Name: "Case-sensitive query", Action: "deny", Conditions: []Condition{{Field: "query", Op: "contains", Value: "DEBUG=1"}}},
			{Name: "Not in domain", Action: "challenge", Conditions: []Condition{{Field: "domain", Op: "not_contains", Value: "example"}}},
		},
	})
	cases := []struct {
		name   string
		r      *Request
		action Action
		reason string
	}{
		{"allow list beats everything", req("192.0.2.5", "sqlmap/1.0", func(r *Request) { r.Path = "/admin" }), Grant, "allow list"},
		{"deny list", req("198.51.100.66", chromeUA), Deny, "deny list"},
		{"deny list v6", req("2001:db8:bad::1", chromeUA), Deny, "deny list"},
		{"rule order: exception first", req("10.1.2.3", chromeUA, func(r *Request) { r.Path = "/admin/users" }), Grant, "Office may admin"},
		{"rule", req("198.51.100.7", chromeUA, func(r *Request) { r.Path = "/admin" }), Deny, "Block admin"},
		{"rules before categories", req("198.51.100.7", "curl/8", func(r *Request) { r.Header.Set("X-Api-Client", "mobile-app"); r.Method = "POST" }), Grant, "API clients"},
		{"category override", req("198.51.100.7", "curl/8"), Deny, "automation_tools"},
		{"greater than", req("198.51.100.7", chromeUA, func(r *Request) { r.Header.Set("Content-Length", "20000000") }), Deny, "Huge uploads"},
		{"not greater", req("198.51.100.7", chromeUA, func(r *Request) { r.Header.Set("Content-Length", "20") }), Grant, "humans"},
		{"contains ignores case", req("198.51.100.7", chromeUA, func(r *Request) { r.Referer = "https://spam-site.example/" }), Captcha, "Bad referrer"},
		{"no GeoIP: country never matches", req("198.51.100.7", chromeUA), Grant, "humans"},
		{"country with GeoIP", req("198.51.100.7", chromeUA, func(r *Request) { r.Country = "AQ" }), Deny, "From Atlantis"},
		{"query is case-sensitive", req("198.51.100.7", chromeUA, func(r *Request) { r.Query = "debug=1" }), Grant, "humans"},
		{"query match", req("198.51.100.7", chromeUA, func(r *Request) { r.Query = "a=b&DEBUG=1" }), Deny, "Case-sensitive query"},
	}
	for _, c := range cases {
		v := e.Decide(p, c.r)
		if v.Action != c.action || v.Reason != c.reason {
			t.Errorf("%s: got %s (%s); want %s (%s)", c.name, v.Action, v.Reason, c.action, c.reason)
		}
	}
	v := e.Decide(p, req("198.51.100.7", chromeUA, func(r *Request) { r.Path = "/shop/v1/item" }))
	if v.Action != Redirect || v.Location != "https://new.example.com/" {
		t.Fatalf("redirect rule: %+v", v)
	}
}

func TestModesAndStatuses(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	p := load(t, e, Settings{Mode: "monitor"})
	v := e.Decide(p, req("198.51.100.7", "sqlmap/1"))
	if v.Action != Deny || !v.Monitored || v.Enforced() != Grant {
		t.Fatalf("monitor: %+v", v)
	}
	p = load(t, e, Settings{Mode: "off"})
	if v := e.Decide(p, req("198.51.100.7", "sqlmap/1")); !v.Unprotected || v.Enforced() != Grant {
		t.Fatalf("off: %+v", v)
	}
	for _, status := range []string{"paused", "setup"} {
		e.Load([]Site{{ID: 1, Domain: "shop.example.com", Status: status}}, nil)
		v := e.Decide(e.ByDomain("shop.example.com"), req("198.51.100.7", "sqlmap/1"))
		if (status == "paused") != v.Unprotected {
			t.Fatalf("%s: %+v", status, v)
		}
	}
	e.Load([]Site{{ID: 1, Domain: "shop.example.com", Status: "deleted"}}, nil)
	if e.ByDomain("shop.example.com") != nil {
		t.Fatal("a deleted website is in the snapshot")
	}
	if v := e.Decide(nil, req("198.51.100.7", "sqlmap/1")); !v.Unprotected || v.Enforced() != Grant {
		t.Fatalf("unknown website: %+v", v)
	}
	p = load(t, e, Settings{FailMode: "closed"})
	if !p.FailClosed() || !e.Decide(p, req("198.51.100.7", chromeUA)).FailClosed {
		t.Fatal("fail-closed not carried")
	}
}

func TestRateLimits(t *testing.T) {
	e, clk := newTestEngine(t, nil)
	p := load(t, e, Settings{RateLimits: []RateLimit{
		{Name: "Login flood", Key: "ip_path", PathPrefix: "/login", Requests: 3, Period: "1m", Action: "deny"},
		{Name: "Subnet", Key: "subnet", Requests: 10, Period: "1m", Burst: 0},
	}})
	login := func(ip string) Verdict {
		return e.Decide(p, req(ip, chromeUA, func(r *Request) { r.Path = "/login" }))
	}
	for i := 0; i < 3; i++ {
		if v := login("198.51.100.7"); v.Action != Grant {
			t.Fatalf("request %d: %+v", i, v)
		}
	}
	if v := login("198.51.100.7"); v.Action != Deny || v.Reason != "Login flood" {
		t.Fatalf("4th login: %+v", v)
	}
	// Another IP has its own allowance for /login, but the /24 is shared.
	if v := login("198.51.100.8"); v.Action != Grant {
		t.Fatalf("other IP: %+v", v)
	}
	// 20 s later one more request (3 per minute) is allowed again.
	clk.t = clk.t.Add(20 * time.Second)
	if v := login("198.51.100.7"); v.Action != Grant {
		t.Fatalf("after 20s: %+v", v)
	}
	// The subnet limit: 10 per minute across 198.51.100.0/24; 5 used so far.
	n := 0
	for i := 0; i < 10; i++ {
		if v := e.Decide(p, req("198.51.100.99", chromeUA)); v.Action == Challenge && v.Reason == "Subnet" {
			n++
		}
	}
	if n == 0 {
		t.Fatal("the subnet limit never applied")
	}
	// Verified bots are exempt.
	google := firstPrefixAddr(t, "googlebot")
	for i := 0; i < 30; i++ {
		if v := e.Decide(p, req(google, "Googlebot/2.1 (+http://www.google.com/bot.html)")); v.Action != Grant {
			t.Fatalf("verified bot limited: %+v", v)
		}
	}
	clk.t = clk.t.Add(2 * time.Minute)
	if swept := e.SweepLimits(); swept == 0 || e.limiter.size() != 0 {
		t.Fatalf("sweep removed %d, %d left", swept, e.limiter.size())
	}
}

func TestValidateSettings(t *testing.T) {
	st := Settings{
		Mode:       "block",
		FailMode:   "sideways",
		Categories: map[string]string{"robots": "deny", "humans": "explode"},
		Rules: []Rule{
			{Name: "", Action: "deny", Conditions: []Condition{{Field: "path", Op: "is", Value: "/"}}},
			{Name: "r", Action: "redirect", Conditions: []Condition{{Field: "colour", Op: "is", Value: "x"}}},
			{Name: "R", Action: "deny", Conditions: []Condition{{Field: "path", Op: "regex", Value: "([a-z"}}},
			{Name: "n", Action: "deny"},
			{Name: "ip", Action: "deny", Conditions: []Condition{{Field: "ip", Op: "contains", Value: "10."}}},
			{Name: "ip2", Action: "deny", Conditions: []Condition{{Field: "ip", Op: "is", Value: "10.0.0.300"}}},
			{Name: "h", Action: "deny", Conditions: []Condition{{Field: "header", Op: "is", Value: "x"}}},
			{Name: "num", Action: "deny", Conditions: []Condition{{Field: "asn", Op: "greater_than", Value: "many"}}},
		},
		RateLimits: []RateLimit{{Name: "x", Key: "cookie", Requests: 0, Period: "forever", Action: "grant"}},
		Allow:      []string{"not-an-ip"},
	}
	err := st.Validate()
	fe, ok := IsValidationError(err)
	if !ok {
		t.Fatalf("Validate: %v", err)
	}
	want := map[string]string{
		"mode": "protect, monitor or off", "fail_mode": "open or closed", "categories.robots": "unknown category", "categories.humans": "action must be",
		"rules[0].name": "needs a name", "rules[1].location": "needs a location", "rules[1].conditions[0]": `unknown field "colour"`,
		"rules[2].name": "already named", "rules[2].conditions[0]": "does not compile", "rules[3].conditions": "at least one condition",
		"rules[4].conditions[0]": "field ip supports is", "rules[5].conditions[0]": "not an IP address", "rules[6].conditions[0]": "needs a header name",
		"rules[7].conditions[0]": "must be a number",
		"rate_limits[0].key":     "ip, subnet or ip_path", "rate_limits[0].requests": "between 1", "rate_limits[0].period": "duration", "rate_limits[0].action": "challenge, captcha or deny",
		"allow[0]": "not an IP address",
	}
	got := map[string]string{}
	for _, e := range fe {
		got[e.Path] = e.Message
	}
	for path, msg := range want {
		if !strings.Contains(got[path], msg) {
			t.Errorf("%s: got %q; want it to mention %q", path, got[path], msg)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d problems, want %d: %v", len(got), len(want), fe)
	}
	if err := (&Settings{}).Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if _, err := ParseSettings(`{"mode":"monitor","rulez":[]}`); err == nil {
		t.Fatal("unknown settings field accepted")
	}
}

func TestServerKeyLookup(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	key := "sk_secret"
	e.Load([]Site{{ID: 3, Domain: "a.example.com", Status: "online", ServerKeyHash: sha256hex(key)}}, nil)
	p, err := e.ByServerKey(key)
	if err != nil || p.WebsiteID != 3 {
		t.Fatalf("by key: %v %v", p, err)
	}
	for _, bad := range []string{"", "sk_secreT", key + " "} {
		if _, err := e.ByServerKey(bad); err != ErrUnknownKey {
			t.Fatalf("key %q: %v", bad, err)
		}
	}
}

func TestPartnerLists(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	e.Load([]Site{{ID: 1, PartnerID: 7, Domain: "a.example.com", Status: "online", Settings: Settings{Allow: []string{"203.0.113.5"}}},
		{ID: 2, PartnerID: 8, Domain: "b.example.com", Status: "online"}},
		map[int64]PartnerLists{7: {Deny: []string{"203.0.113.0/24"}}})
	a, b := e.ByDomain("a.example.com"), e.ByDomain("b.example.com")
	if v := e.Decide(a, req("203.0.113.9", chromeUA)); v.Action != Deny || v.Reason != "partner deny list" {
		t.Fatalf("partner deny: %+v", v)
	}
	if v := e.Decide(a, req("203.0.113.5", chromeUA)); v.Action != Grant || v.Reason != "allow list" {
		t.Fatalf("website allow beats partner deny: %+v", v)
	}
	if v := e.Decide(b, req("203.0.113.9", chromeUA)); v.Action != Grant {
		t.Fatalf("another partner's list applied: %+v", v)
	}
}

func TestExpressionRules(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	p := load(t, e, Settings{Rules: []Rule{
		{Name: "API needs a key", Action: "deny", Expression: `path.startsWith("/api/") && !("x-api-key" in headers)`},
		{Name: "Office POSTs", Action: "grant", Conditions: []Condition{{Field: "method", Op: "is", Value: "POST"}}, Expression: `inCIDR(ip, "10.0.0.0/8")`},
		{Name: "Tiny ASN", Action: "challenge", Expression: `asn > 0 && asn < 100`},
	}})
	cases := []struct {
		r      *Request
		action Action
		reason string
	}{
		{req("198.51.100.7", chromeUA, func(r *Request) { r.Path = "/api/orders" }), Deny, "API needs a key"},
		{req("198.51.100.7", chromeUA, func(r *Request) { r.Path = "/api/orders"; r.Header.Set("X-Api-Key", "k") }), Grant, "humans"},
		{req("10.2.3.4", "curl/8", func(r *Request) { r.Method = "POST" }), Grant, "Office POSTs"},
		{req("11.2.3.4", "curl/8", func(r *Request) { r.Method = "POST" }), Challenge, "automation_tools"},
		{req("198.51.100.7", chromeUA, func(r *Request) { r.ASN = 42 }), Challenge, "Tiny ASN"},
	}
	for i, c := range cases {
		if v := e.Decide(p, c.r); v.Action != c.action || v.Reason != c.reason {
			t.Errorf("case %d: %s (%s); want %s (%s)", i, v.Action, v.Reason, c.action, c.reason)
		}
	}
	for expr, want := range map[string]string{
		`path.startsWith(`:   "does not compile",
		`path + "x"`:         "must be true or false",
		`unknown_var == "x"`: "undeclared reference",
	} {
		err := (&Settings{Rules: []Rule{{Name: "x", Action: "deny", Expression: expr}}}).Validate()
		fe, _ := IsValidationError(err)
		if len(fe) != 1 || fe[0].Path != "rules[0].expression" || !strings.Contains(fe[0].Message, want) {
			t.Errorf("expression %q: %v; want %q", expr, err, want)
		}
	}
}

func TestPartnerListsShared(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	e.Load([]Site{{ID: 1, PartnerID: 7, Domain: "a.example.com", Status: "online"}, {ID: 2, PartnerID: 7, Domain: "b.example.com", Status: "online"}},
		map[int64]PartnerLists{7: {Deny: []string{"203.0.113.0/24"}}})
	if a, b := e.ByDomain("a.example.com"), e.ByDomain("b.example.com"); a.partner == nil || a.partner != b.partner {
		t.Fatal("a partner's websites do not share its lists")
	}
}
