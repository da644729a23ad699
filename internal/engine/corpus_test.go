package engine_test

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	botsnapshot "github.com/palisadehq/palisade/internal/botdata/snapshot"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/protect"
	"github.com/palisadehq/palisade/internal/webbotauth/webbotauthtest"
)

// corpusReport, when set, is where TestTrafficCorpus writes its figures as
// a Markdown table (the one in bench/README.md):
//
//	go test ./internal/engine -run TestTrafficCorpus -corpus.report /tmp/corpus.md
var corpusReport = flag.String("corpus.report", "", "write the traffic corpus figures (Markdown) to this file")

const corpusFile = "testdata/corpus.txt"

// corpusClasses are the classes a corpus line may have and the expectation
// every line of the class must carry: a line cannot quietly mark a
// legitimate client "nogrant" or a bad one "grant".
var corpusClasses = []struct {
	name    string
	legit   bool
	about   string
	minimum int
}{
	{"browser", true, "desktop and mobile browsers of the last three years", 100},
	{"webview", true, "in-app browsers (Facebook, Instagram, TikTok, LinkedIn, WeChat, Android WebView)", 10},
	{"feed_reader", true, "feed readers and podcast apps on feed paths", 8},
	{"link_preview", true, "social networks' and messengers' link previews", 8},
	{"monitor", true, "uptime monitors", 8},
	{"webhook", true, "webhooks and payment callbacks to declared or preset paths", 8},
	{"crawler", true, "search engines and archives, verified", 15},
	{"signed_agent", true, "agents with a valid Web Bot Auth signature", 5},
	{"self_call", true, "the site's own server calling itself", 5},
	{"api_client", true, "API clients with credentials on declared API paths", 5},
	{"well_known", true, "robots.txt, sitemaps, favicons, /.well-known/ by any client", 8},
	{"fake_crawler", false, "verified crawlers' user agents from elsewhere", 15},
	{"fake_service", false, "monitors' and payment providers' user agents from elsewhere", 5},
	{"ai_crawler", false, "AI crawlers and agents (denied by default, genuine or not)", 15},
	{"scraper", false, "SEO crawlers, site copiers, scrapers on dead browsers' user agents", 15},
	{"scanner", false, "vulnerability scanners and probes", 15},
	{"headless", false, "headless browsers with their default user agents", 8},
	{"library", false, "HTTP libraries and tools with their own user agent", 20},
	{"library_as_browser", false, "HTTP libraries with a browser's user agent on their own header set", 10},
}

// corpusLine is one parsed request of the corpus.
type corpusLine struct {
	no    int
	class string
	grant bool // expected: granted (true) or not granted
	// knownMiss: an unwanted request the engine cannot tell apart
	// safely, expected granted (expect known_miss) and counted as a miss.
	knownMiss bool
	req       engine.Request
	raw       string // method and target, for messages
	ua        string
	sign      *corpusSign // @sign: the test signs the request
}

// corpusSign is a line's @sign field: AGENT NONCE [other-key].
type corpusSign struct {
	agent, nonce string
	otherKey     bool // signed with a key in no directory
}

// corpus is the parsed corpus file.
type corpus struct {
	lines  []corpusLine
	server netip.Addr
	ptr    map[netip.Addr][]string
	a      map[string][]netip.Addr
	lists  map[string][]netip.Prefix // @list: service lists as a refresh downloads them
}

var headerName = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`)

func parseCorpus(text string) (*corpus, error) {
	c := &corpus{ptr: map[netip.Addr][]string{}, a: map[string][]netip.Addr{}, lists: map[string][]netip.Prefix{}}
	classes := map[string]bool{}
	for _, cl := range corpusClasses {
		classes[cl.name] = cl.legit
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	no := 0
	for sc.Scan() {
		no++
		l := sc.Text()
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			continue
		}
		fail := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s", corpusFile, no, fmt.Sprintf(format, args...))
		}
		if strings.HasPrefix(l, "@") {
			f := strings.Fields(l)
			switch {
			case f[0] == "@server" && len(f) == 2:
				a, err := netip.ParseAddr(f[1])
				if err != nil {
					return nil, fail("@server: %v", err)
				}
				if c.server.IsValid() {
					return nil, fail("a second @server")
				}
				c.server = a
			case f[0] == "@ptr" && len(f) == 3:
				a, err := netip.ParseAddr(f[1])
				if err != nil {
					return nil, fail("@ptr: %v", err)
				}
				c.ptr[a] = append(c.ptr[a], f[2])
			case f[0] == "@a" && len(f) == 3:
				a, err := netip.ParseAddr(f[2])
				if err != nil {
					return nil, fail("@a: %v", err)
				}
				c.a[strings.ToLower(f[1])] = append(c.a[strings.ToLower(f[1])], a)
			case f[0] == "@list" && len(f) >= 3:
				if _, dup := c.lists[f[1]]; dup {
					return nil, fail("a second @list %s", f[1])
				}
				for _, s := range f[2:] {
					p, err := netip.ParsePrefix(s)
					if err != nil || p != p.Masked() {
						return nil, fail("@list %s: %q is not a CIDR", f[1], s)
					}
					c.lists[f[1]] = append(c.lists[f[1]], p)
				}
			default:
				return nil, fail("unknown directive %q (want @server ADDRESS, @ptr ADDRESS NAME, @a NAME ADDRESS or @list NAME CIDR...)", l)
			}
			continue
		}
		f := strings.Split(l, "\t")
		if len(f) < 5 {
			return nil, fail("%d tab-separated fields; want class, expect, address, protocol, request and headers", len(f))
		}
		legit, ok := classes[f[0]]
		if !ok {
			return nil, fail("unknown class %q", f[0])
		}
		cl := corpusLine{no: no, class: f[0], raw: f[4]}
		switch f[1] {
		case "grant":
			cl.grant = true
		case "nogrant":
		case "known_miss":
			cl.grant, cl.knownMiss = true, true
		default:
			return nil, fail("expect %q: want grant, nogrant or known_miss", f[1])
		}
		switch {
		case legit && f[1] != "grant":
			return nil, fail("class %s is expected grant, not %s", f[0], f[1])
		case !legit && f[1] == "grant":
			return nil, fail("class %s is expected nogrant (or known_miss), not grant", f[0])
		}
		ip, err := netip.ParseAddr(f[2])
		if err != nil {
			return nil, fail("address: %v", err)
		}
		switch f[3] {
		case "HTTP/1.0", "HTTP/1.1", "HTTP/2.0", "HTTP/3.0":
		default:
			return nil, fail("protocol %q: want HTTP/1.0, HTTP/1.1, HTTP/2.0 or HTTP/3.0", f[3])
		}
		method, target, ok := strings.Cut(f[4], " ")
		if !ok || method == "" || strings.ToUpper(method) != method || !headerName.MatchString(method) || !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \t") {
			return nil, fail("request %q: want METHOD /target", f[4])
		}
		path, query, _ := strings.Cut(target, "?")
		h := http.Header{}
		for _, field := range f[5:] {
			if rest, ok := strings.CutPrefix(field, "@sign "); ok {
				w := strings.Fields(rest)
				if cl.sign != nil || len(w) < 2 || len(w) > 3 || (len(w) == 3 && w[2] != "other-key") {
					return nil, fail("%q: want one @sign AGENT NONCE [other-key]", field)
				}
				cl.sign = &corpusSign{agent: w[0], nonce: w[1], otherKey: len(w) == 3}
				continue
			}
			name, value, ok := strings.Cut(field, ": ")
			if !ok {
				name, ok = strings.CutSuffix(field, ":")
			}
			if !ok || !headerName.MatchString(name) {
				return nil, fail("header %q: want Name: value", field)
			}
			h.Add(name, value)
		}
		cl.req = engine.Request{IP: ip, Method: method, Host: corpusDomain, Path: path, Query: query, Proto: f[3],
			UserAgent: h.Get("User-Agent"), Referer: h.Get("Referer"), Header: h}
		cl.ua = cl.req.UserAgent
		c.lines = append(c.lines, cl)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", corpusFile, no+1, err)
	}
	if !c.server.IsValid() {
		return nil, fmt.Errorf("%s: no @server line", corpusFile)
	}
	// Request.Server as the integrations fill it: the web server that
	// asked, unless the request's headers show a proxy in front of it.
	for i := range c.lines {
		c.lines[i].req.Server = protect.SelfCallServer(c.server, c.lines[i].req.Header)
	}
	return c, nil
}

const corpusDomain = "shop.example.com"

// corpusSettings are the test website's settings: the defaults (every
// category at its default action, every built-in grant at its default, no
// rules, no rate limits), plus what the customer of a WooCommerce shop with
// a WHMCS billing area, a Stripe integration of its own, a deploy hook and
// a small order API declares: its webhook endpoints and its API paths. It
// declares no server addresses: its own server is the web server that asks
// (@server in the corpus).
func corpusSettings() engine.Settings {
	return engine.Settings{
		Webhooks: []string{"preset:woocommerce", "preset:whmcs", "/stripe/webhook", "/hooks/github", "/webhooks/"},
		APIPaths: []string{"/wp-json/wc/v3/", "/wp-json/wp/v2/", "/api/"},
	}
}

// zoneResolver answers reverse and forward lookups from the corpus's @ptr
// and @a records, and "no such host" for everything else: reverse DNS
// with no network.
type zoneResolver struct {
	ptr map[netip.Addr][]string
	a   map[string][]netip.Addr
}

func (z zoneResolver) LookupAddr(_ context.Context, addr string) ([]string, error) {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return nil, err
	}
	if names := z.ptr[ip.Unmap()]; len(names) > 0 {
		return names, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: addr, IsNotFound: true}
}

func (z zoneResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if addrs := z.a[strings.ToLower(strings.TrimSuffix(host, "."))]; len(addrs) > 0 {
		return addrs, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// TestTrafficCorpus runs every request of testdata/corpus.txt through an
// engine with the embedded signatures and crawler ranges (no bot data
// directory, no network), a website with the default policy and the
// declarations of corpusSettings, and a fixed clock: no legitimate request
// may be challenged or denied, and no fake, scraper, scanner, AI crawler,
// headless browser or library may be granted. Every mismatch is listed.
//
// The services' lists that the shipped snapshot holds empty come from the
// corpus's @list excerpts, as serve's first refresh downloads them; the
// figures of a fresh install that has not refreshed yet (those lists
// empty) are logged and reported too, without expectations.
func TestTrafficCorpus(t *testing.T) {
	b, err := os.ReadFile(filepath.FromSlash(corpusFile))
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseCorpus(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.lines) < 300 {
		t.Fatalf("the corpus holds %d requests; want at least 300", len(c.lines))
	}
	count := map[string]int{}
	for _, l := range c.lines {
		count[l.class]++
	}
	for _, cl := range corpusClasses {
		if count[cl.name] < cl.minimum {
			t.Errorf("class %s (%s) has %d requests; want at least %d", cl.name, cl.about, count[cl.name], cl.minimum)
		}
	}

	// A fake must not come from the range its user agent claims, nor
	// from any other crawler's or service's: the corpus would be lying.
	lists, err := botsnapshot.Lists()
	if err != nil {
		t.Fatal(err)
	}
	for name, prefixes := range c.lists {
		lists = append(lists, botsnapshot.List{Name: name + " (@list)", Prefixes: prefixes})
	}
	for _, l := range c.lines {
		if l.class != "fake_crawler" && l.class != "fake_service" {
			continue
		}
		for _, sl := range lists {
			for _, p := range sl.Prefixes {
				if p.Contains(l.req.IP.Unmap()) {
					t.Errorf("line %d: fake %s comes from %s, in the published list %s", l.no, l.req.IP, p, sl.Name)
				}
			}
		}
	}

	verdicts := runCorpus(t, c, true)
	figures := classFigures{}
	var wrong []string
	for i, l := range c.lines {
		v := verdicts[i]
		if !figures.add(l, v) {
			want := "granted"
			switch {
			case l.knownMiss:
				want = "granted (known_miss: the engine now tells it apart; expect nogrant)"
			case !l.grant:
				want = "not granted"
			}
			wrong = append(wrong, fmt.Sprintf("line %d %s (%s %s %s, %q): got %s category %s, source %s, reason %q, detail %q; want %s",
				l.no, l.class, l.req.IP, l.req.Proto, l.raw, l.ua, v.Action, v.Category, v.Source, v.Reason, v.Detail, want))
		}
	}
	// The website firewall is on (block, paranoia 1, the default
	// exclusion sets): no request the corpus expects granted may even
	// reach its threshold, in block or detect mode.
	wafRun := 0
	for i, l := range c.lines {
		v := verdicts[i]
		if v.WAF != nil || v.Source == engine.SourceWAF {
			wafRun++
		}
		if l.grant && v.WAF != nil && v.WAF.Blocked {
			t.Errorf("line %d %s (%s %q): the website firewall would block it: %+v", l.no, l.class, l.raw, l.ua, v.WAF.Matches)
		}
	}
	t.Logf("the website firewall matched on %d of %d requests", wafRun, len(c.lines))
	fresh := classFigures{}
	for i, v := range runCorpus(t, c, false) {
		fresh.add(c.lines[i], v)
	}
	report := fmt.Sprintf("With the services' lists (as after the first refresh), %d requests:\n\n%s\nA fresh install before its first refresh (the services' lists empty):\n\n%s",
		len(c.lines), corpusTable(figures), corpusTable(fresh))
	t.Logf("traffic corpus:\n%s", report)
	if *corpusReport != "" {
		if err := os.WriteFile(*corpusReport, []byte(report), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if len(wrong) > 0 {
		t.Errorf("%d of %d requests decided wrongly:\n%s", len(wrong), len(c.lines), strings.Join(wrong, "\n"))
	}
}

// runCorpus decides every line of c on a fresh engine and returns the
// verdicts in order; withLists loads the corpus's @list service lists
// over the shipped snapshot.
func runCorpus(t *testing.T, c *corpus, withLists bool) []engine.Verdict {
	t.Helper()
	dir := ""
	if withLists {
		dir = t.TempDir()
		for name, prefixes := range c.lists {
			// @list may only fill a list the binary ships empty.
			sl, ok := botsnapshot.Get(name)
			if !ok || len(sl.Prefixes) > 0 {
				t.Fatalf("@list %s: the snapshot has no such list, or ships it with addresses", name)
			}
			var js []string
			for _, p := range prefixes {
				key := "ipv4Prefix"
				if p.Addr().Is6() {
					key = "ipv6Prefix"
				}
				js = append(js, fmt.Sprintf("{%q:%q}", key, p))
			}
			doc := fmt.Sprintf(`{"creationTime":"2026-11-29T00:00:00","prefixes":[%s]}`, strings.Join(js, ","))
			if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(doc), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	ranges, err := engine.LoadBotRanges(dir)
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := engine.LoadSignatures()
	if err != nil {
		t.Fatal(err)
	}
	rdns := engine.NewRDNSVerifier(zoneResolver{ptr: c.ptr, a: c.a})
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	cls := engine.NewClassifier(sigs, ranges, rdns)
	e := engine.New(cls, clock)
	if errs := e.Load([]engine.Site{{ID: 1, PartnerID: 1, Domain: corpusDomain, Status: "online", Settings: corpusSettings()}}, nil); len(errs) > 0 {
		t.Fatalf("load: %v", errs[0].Err)
	}
	p := e.ByDomain(corpusDomain)
	if p == nil {
		t.Fatal("the website did not load")
	}
	reqs := make([]engine.Request, len(c.lines))
	for i, l := range c.lines {
		reqs[i] = l.req
		if s := l.sign; s != nil {
			key := webbotauthtest.Key()
			if s.otherKey {
				key = webbotauthtest.OtherKey()
			}
			reqs[i].Header = l.req.Header.Clone()
			webbotauthtest.Sign(reqs[i].Header, webbotauthtest.Signature{Method: l.req.Method, Host: corpusDomain, Path: l.req.Path, Query: l.req.Query,
				Agent: s.agent, Created: now.Add(-time.Minute), Expires: now.Add(time.Hour), Nonce: s.nonce, Key: key})
		}
	}

	// decide decides every line, or (warm-up) every unsigned one: a
	// signature verifies once per verifier, so the signed lines are
	// decided only in the last round, with a fresh verifier that knows
	// agent.example's directory.
	decide := func(final bool) []engine.Verdict {
		cls.SetAgentVerifier(webbotauthtest.NewVerifier(clock, webbotauthtest.Agent))
		cls.SetTrustedAgents([]string{webbotauthtest.Agent}) // as the operator's --web-bot-auth-agent
		out := make([]engine.Verdict, len(reqs))
		for i := range reqs {
			if c.lines[i].sign != nil && !final {
				continue
			}
			r := reqs[i] // a copy: Decide fills fields of its request
			out[i] = e.Decide(p, &r)
		}
		return out
	}
	// Reverse DNS is looked up in the background, never on the request
	// path: the first sighting of a crawler is "unverified". Decide until
	// every lookup has answered (the resolver answers at once), then take
	// the verdicts.
	for try := 0; ; try++ {
		pending := 0
		for _, v := range decide(false) {
			if v.Category == engine.EmulatedHumans && strings.HasPrefix(v.Detail, "unverified ") {
				pending++
			}
		}
		if pending == 0 {
			return decide(true)
		}
		if try == 200 {
			t.Fatalf("%d reverse-DNS lookups still pending after %d rounds", pending, try)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// corpusFigures count one class's verdicts: for a legitimate class every
// request not granted is a false positive, for an unwanted one every
// granted request is a miss (known misses among them).
type corpusFigures struct {
	n, granted, challenged, denied, known int
}

type classFigures map[string]*corpusFigures

// add counts v for line l and reports whether it is what l expects.
func (cf classFigures) add(l corpusLine, v engine.Verdict) bool {
	f := cf[l.class]
	if f == nil {
		f = &corpusFigures{}
		cf[l.class] = f
	}
	f.n++
	if l.knownMiss {
		f.known++
	}
	switch v.Enforced() {
	case engine.Grant:
		f.granted++
	case engine.Deny:
		f.denied++
	default:
		f.challenged++
	}
	return (v.Enforced() == engine.Grant) == l.grant
}

// corpusTable renders the figures per class, legitimate classes first, as
// Markdown.
func corpusTable(figures classFigures) string {
	var b strings.Builder
	b.WriteString("| class | requests | granted | challenged | denied | false positives | catches | misses |\n|---|---|---|---|---|---|---|---|\n")
	var legit, bad corpusFigures
	for _, cl := range corpusClasses {
		f := figures[cl.name]
		if f == nil {
			continue
		}
		sum := &bad
		if cl.legit {
			sum = &legit
		}
		sum.n, sum.granted, sum.challenged, sum.denied, sum.known = sum.n+f.n, sum.granted+f.granted, sum.challenged+f.challenged, sum.denied+f.denied, sum.known+f.known
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %s |\n", cl.name, f.n, f.granted, f.challenged, f.denied, f.verdicts(cl.legit))
	}
	fmt.Fprintf(&b, "| **legitimate** | %d | %d | %d | %d | %s |\n", legit.n, legit.granted, legit.challenged, legit.denied, legit.verdicts(true))
	fmt.Fprintf(&b, "| **unwanted** | %d | %d | %d | %d | %s |\n", bad.n, bad.granted, bad.challenged, bad.denied, bad.verdicts(false))
	return b.String()
}

// verdicts renders the false positives, catches and misses columns.
func (f *corpusFigures) verdicts(legit bool) string {
	if legit {
		return fmt.Sprintf("%d | — | —", f.n-f.granted)
	}
	misses := fmt.Sprint(f.granted)
	if f.known > 0 {
		misses += fmt.Sprintf(" (%d known)", f.known)
	}
	return fmt.Sprintf("— | %d | %s", f.n-f.granted, misses)
}

// TestCorpusParserIsStrict: a malformed line fails with its line number.
func TestCorpusParserIsStrict(t *testing.T) {
	good := "browser\tgrant\t79.241.13.52\tHTTP/2.0\tGET /\tUser-Agent: Mozilla/5.0"
	for _, tc := range []struct{ text, want string }{
		{"@server 88.99.61.20\n" + good, ""},
		{good, "no @server line"},
		{"@server 88.99.61.20\n\n" + strings.Replace(good, "browser", "robot", 1), ":3: unknown class"},
		{"@server 88.99.61.20\n" + strings.Replace(good, "\tgrant", "\tnogrant", 1), ":2: class browser is expected grant"},
		{"@server 88.99.61.20\n" + strings.Replace(good, "\tgrant", "\tknown_miss", 1), ":2: class browser is expected grant, not known_miss"},
		{"@server 88.99.61.20\n" + strings.Replace(strings.Replace(good, "\tgrant", "\tknown_miss", 1), "browser", "library", 1), ""},
		{"@server 88.99.61.20\n" + strings.Replace(good, "browser", "library", 1), ":2: class library is expected nogrant (or known_miss), not grant"},
		{"@server 88.99.61.20\n" + strings.Replace(good, "\tgrant", "\tmaybe", 1), ":2: expect \"maybe\""},
		{"@server 88.99.61.20\n" + strings.Replace(good, "79.241.13.52", "79.241.13", 1), ":2: address"},
		{"@server 88.99.61.20\n" + strings.Replace(good, "HTTP/2.0", "HTTP/2", 1), ":2: protocol"},
		{"@server 88.99.61.20\n" + strings.Replace(good, "GET /", "get /", 1), ":2: request"},
		{"@server 88.99.61.20\n" + strings.Replace(good, "GET /", "GET index.html", 1), ":2: request"},
		{"@server 88.99.61.20\n" + strings.Replace(good, "User-Agent: ", "User-Agent=", 1), ":2: header"},
		{"@server 88.99.61.20\nbrowser\tgrant\t79.241.13.52\tHTTP/2.0", ":2: 4 tab-separated fields"},
		{"@server 88.99.61.20\n@ptr 1.2.3.4", ":2: unknown directive"},
		{"@server 88.99.61.20\n@server 88.99.61.21", ":2: a second @server"},
		{"@server 88.99.61.20\n@list stripe-webhooks 3.18.12.63/32 3.18.12.0/16", ":2: @list stripe-webhooks: \"3.18.12.0/16\" is not a CIDR"},
		{"@server 88.99.61.20\n@list meta 31.13.24.0/21\n@list meta 69.171.224.0/19", ":3: a second @list meta"},
		{"@server 88.99.61.20\n" + good + "\t@sign agent.example n1", ""},
		{"@server 88.99.61.20\n" + good + "\t@sign agent.example", ":2: \"@sign agent.example\": want one @sign"},
		{"@server 88.99.61.20\n" + good + "\t@sign agent.example n1 wrong-key", ":2: \"@sign agent.example n1 wrong-key\""},
		{"@server 88.99.61.20\n" + good + "\t@sign agent.example n1\t@sign agent.example n2", ":2: \"@sign agent.example n2\": want one @sign"},
	} {
		_, err := parseCorpus(tc.text)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.text, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: error %v; want one containing %q", tc.text, err, tc.want)
		}
	}
}
