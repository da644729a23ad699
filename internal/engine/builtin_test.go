package engine

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const (
	curlUA    = "curl/8.5.0"
	freshRSS  = "FreshRSS/1.24.3 (Linux; https://freshrss.org)"
	sqlmapUA  = "sqlmap/1.8#stable (https://sqlmap.org)"
	googleUA  = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	outsideIP = "198.51.100.20"
)

// call builds a request from outsideIP with user agent ua for "METHOD
// /path?query".
func call(ua, target string, mods ...func(*Request)) *Request {
	method, uri, _ := strings.Cut(target, " ")
	path, query, _ := strings.Cut(uri, "?")
	r := req(outsideIP, ua, func(r *Request) {
		r.Method, r.Path, r.Query = method, path, query
		r.Header = http.Header{"Accept": {"*/*"}}
	})
	for _, m := range mods {
		m(r)
	}
	return r
}

func withHeader(k, v string) func(*Request) { return func(r *Request) { r.Header.Set(k, v) } }

// builtinOnly expects a grant by built-in name, or (name "") no built-in
// grant: the verdict must then not be a built-in's.
func checkBuiltin(t *testing.T, e *Engine, p *Policy, r *Request, name string, want Action) {
	t.Helper()
	v := e.Explain(p, r)
	if name != "" {
		if v.Action != Grant || v.Source != SourceBuiltin || v.Reason != name {
			t.Errorf("%s %s?%s (%s): %s (source %s); want a grant by built-in %s", r.Method, r.Path, r.Query, r.UserAgent, v, v.Source, name)
		}
		return
	}
	if v.Source == SourceBuiltin || v.Action != want {
		t.Errorf("%s %s?%s (%s): %s (source %s); want %s, not by a built-in", r.Method, r.Path, r.Query, r.UserAgent, v, v.Source, want)
	}
}

func TestBuiltinDefaults(t *testing.T) {
	all := Builtins()
	if len(all) != numBuiltins {
		t.Fatalf("%d built-ins described; want %d", len(all), numBuiltins)
	}
	seen := map[string]bool{}
	for _, b := range all {
		if b.Name == "" || seen[b.Name] || b.Explanation == "" || strings.Contains(b.Explanation, "\n") || len(b.Explanation) > 160 {
			t.Errorf("built-in %+v: needs a unique name and a one-line explanation", b)
		}
		seen[b.Name] = true
		if b.Default != (b.Name != "pending_crawlers") {
			t.Errorf("%s is on by default: %v", b.Name, b.Default)
		}
		if b.OverridesDeny != (b.Name == "robots_txt" || b.Name == "acme_challenge") {
			t.Errorf("%s overrides deny: %v", b.Name, b.OverridesDeny)
		}
	}
	e, _ := newTestEngine(t, nil)
	p := load(t, e, Settings{})
	if want := uint16(1<<numBuiltins-1) &^ (1 << biPendingCrawlers); p.builtinsOn != want {
		t.Fatalf("default built-ins %b; want %b", p.builtinsOn, want)
	}
}

// TestBuiltinPaths: each path built-in with curl (automation_tools,
// challenged by default), and the spellings and methods that must not
// pass.
func TestBuiltinPaths(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	p := load(t, e, Settings{WAF: wafOff}) // the built-ins' own judgement; waf_test.go has the firewall's
	for _, c := range []struct {
		target, name string
	}{
		{"GET /robots.txt", "robots_txt"},
		{"HEAD /robots.txt", "robots_txt"},
		{"GET /r%6fbots.txt", "robots_txt"}, // a harmless escape
		{"GET /.well-known/acme-challenge/LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0", "acme_challenge"},
		{"GET /sitemap.xml", "sitemaps"},
		{"GET /sitemap_index.xml", "sitemaps"},
		{"GET /post-sitemap2.xml", "sitemaps"},
		{"GET /wp-sitemap-posts-post-1.xml", "sitemaps"},
		{"GET /sitemap.xml.gz", "sitemaps"},
		{"GET /1_index_sitemap.xml", "sitemaps"},
		{"GET /favicon.ico", "favicon"},
		{"GET /apple-touch-icon.png", "favicon"},
		{"GET /.well-known/security.txt", "well_known"},
		{"GET /.well-known/assetlinks.json", "well_known"},
		{"GET /.well-known/openid-configuration", "well_known"},
		{"GET /.well-known/nodeinfo", "well_known"},
		{"GET /.well-known/webfinger?resource=acct:jane@shop.example.com", "well_known"},

		{"POST /robots.txt", ""},
		{"PUT /.well-known/security.txt", ""},
		{"GET /robots.txt?rest_route=/wp/v2/users", ""},
		{"GET /robots.txt;.php", ""},
		{"GET /robots.txt/../wp-login.php", ""},
		{"GET /wp-admin/../robots.txt", ""}, // canonical /robots.txt, but sent otherwise: judged as usual
		{"GET /robots.txt%2f..", ""},
		{"GET /robots.txt%2F..%2Fwp-login.php", ""},
		{"GET //robots.txt", ""},
		{"GET /ROBOTS.TXT", ""},
		{"GET /robots.txt/", ""},
		{"GET /wp-login.php?x=/robots.txt", ""},
		{"GET /.well-known/../../wp-login.php", ""},
		{"GET /.well-known/%2e%2e/wp-login.php", ""},
		{"GET /.well-known/acme-challenge/../../wp-login.php", ""},
		{"GET /.well-known/acme-challenge/a/b", ""},
		{"GET /.well-known/acme-challenge/x?y=1", ""},
		{"GET /.well-known/shell.php", ""},
		{"GET /.well-known/x.php/security.txt", ""},
		{"GET /.well-known/webfinger?resource=x&rest_route=/wp/v2/users", ""},
		{"GET /.well-known/security.txt?rest_route=/wp/v2/users", ""},
		{"GET /.well-known\\security.txt", ""},
		{"GET /wp-admin/sitemap.xml", ""},
		{"GET /wp-login.php/sitemap.xml", ""},
		{"GET /sitemap.php.xml", ""},
		{"GET /sitemap.xml?rest_route=/wp/v2/users", ""},
		{"GET /sitemap.xml/", ""},
		{"GET /favicon.ico?rest_route=/", ""},
		{"GET /wp-login.php", ""},
		{"GET /", ""},
	} {
		t.Run(c.target, func(t *testing.T) {
			checkBuiltin(t, e, p, call(curlUA, c.target), c.name, Challenge)
		})
	}
}

func TestBuiltinFeeds(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	// The firewall is off: these tests are about the built-ins' own
	// judgement (a site may turn the firewall off; waf_test.go tests it).
	p := load(t, e, Settings{WAF: wafOff})
	rss := withHeader("Accept", "application/rss+xml, application/atom+xml;q=0.9")
	for _, c := range []struct {
		ua, target string
		mods       []func(*Request)
		name       string
		want       Action
	}{
		{freshRSS, "GET /feed/", nil, "feed_readers", 0},
		{freshRSS, "GET /feed", nil, "feed_readers", 0},
		{freshRSS, "GET /comments/feed/", nil, "feed_readers", 0},
		{freshRSS, "GET /category/news/feed/", nil, "feed_readers", 0},
		{freshRSS, "GET /feed/atom/", nil, "feed_readers", 0},
		{"Overcast/1.0 Podcast Sync (123 subscribers; feed-id=1482913; +http://overcast.fm/)", "GET /feed/podcast/", nil, "feed_readers", 0},
		{"Reeder/5050.02.04 CFNetwork/1568.200.51 Darwin/24.1.0", "GET /product/feed/", nil, "feed_readers", 0},
		{freshRSS, "GET /feed/x.php", nil, "", Challenge},
		{freshRSS, "GET /feed/a/b/", nil, "", Challenge},
		{freshRSS, "GET /atom.xml", nil, "feed_readers", 0},
		{freshRSS, "GET /blog/index.xml", nil, "feed_readers", 0},
		{freshRSS, "GET /news.rss", nil, "feed_readers", 0},
		{freshRSS, "GET /?feed=rss2", nil, "feed_readers", 0},
		{freshRSS, "GET /index.php?cat=3&feed=atom", nil, "feed_readers", 0},
		{"Tiny Tiny RSS/21.11 (https://tt-rss.org/)", "HEAD /feed/", nil, "feed_readers", 0},
		{curlUA, "GET /feed/", []func(*Request){rss}, "feed_readers", 0}, // any client that asks for a feed
		{"Go-http-client/1.1", "GET /index.xml", []func(*Request){withHeader("Accept", "application/feed+json")}, "feed_readers", 0},

		{curlUA, "GET /feed/", nil, "", Challenge}, // a generic client that does not ask for a feed
		{freshRSS, "GET /about/", nil, "", Challenge},
		{freshRSS, "POST /feed/", nil, "", Challenge},
		{freshRSS, "GET /feed/?rest_route=/wp/v2/users", nil, "", Challenge},
		{freshRSS, "GET /?feed=rss2&rest_route=/wp/v2/users", nil, "", Challenge},
		{freshRSS, "GET /?feed=rss2&rest.route=/wp/v2/users", nil, "", Challenge},
		{freshRSS, "GET /?feed[]=rss2", nil, "", Challenge},
		{freshRSS, "GET /?feed=<script>", nil, "", Challenge},
		{freshRSS, "GET /?cat=3", nil, "", Challenge},
		{freshRSS, "GET /wp-login.php/feed/", nil, "", Challenge},
		{freshRSS, "GET /wp-json/feed", nil, "", Challenge},
		{freshRSS, "GET /wp-admin/feed/", nil, "", Challenge},
		{freshRSS, "GET /feed.php.rss", nil, "", Challenge},
		{freshRSS, "GET /feed/../wp-login.php", nil, "", Challenge},
	} {
		t.Run(c.ua+" "+c.target, func(t *testing.T) {
			checkBuiltin(t, e, p, call(c.ua, c.target, c.mods...), c.name, c.want)
		})
	}
}

// TestBuiltinDenyAndFakes: a category's deny stays but for robots.txt and
// ACME; attack tools and failed crawler claims get nothing.
func TestBuiltinDenyAndFakes(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	p := load(t, e, Settings{Categories: map[string]string{"automation_tools": "deny"}})
	checkBuiltin(t, e, p, call(curlUA, "GET /robots.txt"), "robots_txt", 0)
	checkBuiltin(t, e, p, call(curlUA, "GET /.well-known/acme-challenge/abc"), "acme_challenge", 0)
	checkBuiltin(t, e, p, call(curlUA, "GET /sitemap.xml"), "", Deny)
	checkBuiltin(t, e, p, call(curlUA, "GET /.well-known/security.txt"), "", Deny)
	checkBuiltin(t, e, p, call(curlUA, "GET /feed/", withHeader("Accept", "application/rss+xml")), "", Deny)

	p = load(t, e, Settings{Webhooks: []string{"/hooks/pay"}, APIPaths: []string{"/api"}})
	for _, target := range []string{"GET /robots.txt", "GET /.well-known/acme-challenge/abc", "GET /sitemap.xml", "POST /hooks/pay"} {
		checkBuiltin(t, e, p, call(sqlmapUA, target), "", Deny)
	}
	checkBuiltin(t, e, p, call(sqlmapUA, "GET /api/x", withHeader("Authorization", "Bearer abc")), "", Deny)
	// A Googlebot claim from outside Google's ranges is a fake: no
	// built-in, not even robots.txt (nothing lets a fake through).
	for _, target := range []string{"GET /robots.txt", "GET /sitemap.xml", "GET /feed/", "POST /hooks/pay"} {
		v := e.Explain(p, call(googleUA, target))
		if v.Source == SourceBuiltin || v.Action != Challenge || v.Detail != "fake Googlebot" {
			t.Errorf("fake Googlebot %s: %s (source %s)", target, v, v.Source)
		}
	}
	// A verified crawler of a denied category still reads robots.txt, and
	// only that.
	gptbot := "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)"
	gptIP := firstPrefixAddr(t, "openai-gptbot")
	if v := e.Explain(p, req(gptIP, gptbot, func(r *Request) { r.Path = "/robots.txt" })); v.Action != Grant || v.Reason != "robots_txt" {
		t.Errorf("verified GPTBot on robots.txt: %s (source %s)", v, v.Source)
	}
	if v := e.Explain(p, req(gptIP, gptbot, func(r *Request) { r.Path = "/sitemap.xml" })); v.Action != Deny {
		t.Errorf("verified GPTBot on the sitemap: %s (source %s)", v, v.Source)
	}
	// The real one is granted as a verified crawler, not by a built-in.
	v := e.Explain(p, req(firstPrefixAddr(t, "googlebot"), googleUA, func(r *Request) { r.Path = "/robots.txt" }))
	if v.Action != Grant || v.Source != SourceCategory {
		t.Errorf("Googlebot: %s (source %s)", v, v.Source)
	}
}

// TestBuiltinSwitches: each built-in turned off stops granting, and
// nothing else grants its request.
func TestBuiltinSwitches(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	base := Settings{Webhooks: []string{"preset:woocommerce"}, APIPaths: []string{"/api/"}, ServerAddresses: []string{"192.0.2.10"}}
	auth := withHeader("Authorization", "Basic amFuZTpzZWNyZXQ=")
	for name, r := range map[string]*Request{
		"acme_challenge":  call(curlUA, "GET /.well-known/acme-challenge/tok"),
		"robots_txt":      call(curlUA, "GET /robots.txt"),
		"sitemaps":        call(curlUA, "GET /sitemap.xml"),
		"favicon":         call(curlUA, "GET /favicon.ico"),
		"well_known":      call(curlUA, "GET /.well-known/security.txt"),
		"feed_readers":    call(freshRSS, "GET /feed/"),
		"webhooks":        call("WooCommerce/9.0 Hookshot (WordPress/6.7)", "POST /wc-api/WC_Gateway_Paypal"),
		"api_credentials": call("python-requests/2.32", "POST /api/orders", auth),
		"self_calls":      call(curlUA, "GET /wp-cron.php?doing_wp_cron", func(r *Request) { r.IP = mustAddr("192.0.2.10") }),
	} {
		t.Run(name, func(t *testing.T) {
			on := load(t, e, base)
			checkBuiltin(t, e, on, r, name, 0)
			st := base
			st.Builtins = map[string]bool{name: false}
			off := load(t, e, st)
			checkBuiltin(t, e, off, r, "", Challenge)
			st.Builtins = map[string]bool{name: true}
			checkBuiltin(t, e, load(t, e, st), r, name, 0)
		})
	}
}

func TestBuiltinWebhooks(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	const ua = "Java/17.0.2"
	// Nothing declared: a webhook is judged like any other request.
	p := load(t, e, Settings{})
	checkBuiltin(t, e, p, call(ua, "POST /wc-api/WC_Gateway_Paypal"), "", Challenge)

	p = load(t, e, Settings{WAF: wafOff, Webhooks: []string{"preset:woocommerce", "preset:prestashop", "preset:whmcs", "preset:magento", "preset:wordpress_paypal", "/hooks/stripe", "/shop/?wc-api=wc_stripe", "/ipn/?pay_gw=paypal&mode=live"}})
	for _, c := range []struct {
		target string
		ok     bool
	}{
		{"POST /wc-api/WC_Gateway_Paypal", true},
		{"POST /wc-api/wc_gateway_paypal/", true},
		{"POST /?wc-api=wc_stripe", true},
		{"POST /index.php?wc-api=WC_Gateway_Paypal", true},
		{"POST /wp-json/paypal/v1/incoming", true},
		{"POST /?edd-listener=IPN", true},
		{"POST /module/paypal/webhookhandler", true},
		{"POST /en/module/stripe_official/webhook", true},
		{"POST /pt-br/module/stripe_official/webhook", true},
		{"POST /modules/gateways/callback/stripe.php", true},
		{"POST /paypal/ipn/", true},
		{"POST /stripe/webhooks", true},
		{"POST /hooks/stripe", true},
		{"POST /hooks/stripe/live", true},
		{"POST /shop/?wc-api=WC_STRIPE", true},
		{"POST /ipn/?pay_gw=paypal&mode=live", true},
		{"POST /ipn/?pay_gw=paypal&pay.gw=paypal", false}, // PHP reads pay.gw as pay_gw: one key twice stands in for no other

		{"GET /wc-api/WC_Gateway_Paypal", false}, // a webhook is a POST
		{"POST /?wc-api=wc_stripe&rest_route=/wp/v2/users", false},
		{"POST /?wc-api=", false},
		{"POST /?edd-listener=IPN&edd-listener=x", false},
		{"POST /hooks/stripe-old", false},
		{"POST /hooks", false},
		{"POST /wc-api/../wp-login.php", false},
		{"POST /wc-api/x/..%2f..%2fwp-login.php", false},
		{"POST /wc-api;/x", false},
		{"POST /modules/gateways/callback/../../../admin/index.php", false},
		{"POST /english/module/paypal/webhookhandler", false},
		{"POST /shop/?wc-api=wc_paypal", false},
		{"POST /wp-login.php", false},
	} {
		t.Run(c.target, func(t *testing.T) {
			name := ""
			if c.ok {
				name = "webhooks"
			}
			checkBuiltin(t, e, p, call(ua, c.target), name, Challenge)
		})
	}

	// Still subject to the rate limits and the deny list.
	p = load(t, e, Settings{Webhooks: []string{"/hooks/pay"}, Deny: []string{"203.0.113.0/24"},
		RateLimits: []RateLimit{{Name: "hooks", Requests: 2, Period: "1m"}}})
	for i := range 3 {
		v := e.Decide(p, call(ua, "POST /hooks/pay"))
		if i < 2 && (v.Action != Grant || v.Reason != "webhooks") || i == 2 && (v.Action != Challenge || v.Source != SourceRateLimit) {
			t.Fatalf("webhook %d: %s (source %s)", i+1, v, v.Source)
		}
	}
	if v := e.Decide(p, call(ua, "POST /hooks/pay", func(r *Request) { r.IP = mustAddr("203.0.113.5") })); v.Action != Deny || v.Source != SourceList {
		t.Fatalf("webhook from a denied address: %s", v)
	}
	// A rule of the site comes first.
	p = load(t, e, Settings{Webhooks: []string{"/hooks/pay"}, Rules: []Rule{{Name: "no-hooks", Action: "deny", Conditions: []Condition{{Field: "path", Op: "starts_with", Value: "/hooks/"}}}}})
	if v := e.Decide(p, call(ua, "POST /hooks/pay")); v.Action != Deny || v.Source != SourceRule {
		t.Fatalf("a rule denying the webhook: %s", v)
	}
}

func TestBuiltinAPICredentials(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	const ua = "python-requests/2.32.3"
	bearer := withHeader("Authorization", "Bearer eyJhbGciOi.x.y")
	p := load(t, e, Settings{})
	checkBuiltin(t, e, p, call(ua, "GET /api/orders", bearer), "", Challenge) // no API path declared

	p = load(t, e, Settings{WAF: wafOff, APIPaths: []string{"/api", "/wp-json/wc/"}})
	checkBuiltin(t, e, p, call(ua, "GET /api/orders", bearer), "api_credentials", 0)
	checkBuiltin(t, e, p, call(ua, "DELETE /api", bearer), "api_credentials", 0)
	checkBuiltin(t, e, p, call(ua, "POST /wp-json/wc/v3/orders", withHeader("Authorization", "Basic Y2tfeDpjc195")), "api_credentials", 0)
	checkBuiltin(t, e, p, call(ua, "GET /api/orders"), "", Challenge)
	checkBuiltin(t, e, p, call(ua, "GET /api/orders", withHeader("Authorization", "Bearer")), "", Challenge)
	checkBuiltin(t, e, p, call(ua, "GET /api/orders", withHeader("Authorization", " ")), "", Challenge)
	checkBuiltin(t, e, p, call(ua, "GET /apix", bearer), "", Challenge)
	checkBuiltin(t, e, p, call(ua, "GET /api/../wp-login.php", bearer), "", Challenge)
	checkBuiltin(t, e, p, call(ua, "GET /wp-login.php?x=/api/", bearer), "", Challenge)
	checkBuiltin(t, e, p, call(ua, "GET /wp-json/wp/v2/users", bearer), "", Challenge)
}

func TestBuiltinSelfCalls(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	p := load(t, e, Settings{ServerAddresses: []string{"192.0.2.10", "2001:db8:1:2::/64"}})
	from := func(ip, server string) func(*Request) {
		return func(r *Request) {
			r.IP = mustAddr(ip)
			if server != "" {
				r.Server = mustAddr(server)
			}
		}
	}
	const cron = "POST /wp-cron.php?doing_wp_cron=1732963200.1234"
	for _, c := range []struct {
		ip, server string
		ok         bool
	}{
		{"127.0.0.1", "127.0.0.1", true},
		{"::1", "10.0.0.5", true},
		{"10.0.0.5", "10.0.0.5", true},
		{"::ffff:10.0.0.5", "10.0.0.5", true},
		{"192.0.2.10", "", true},
		{"2001:db8:1:2::99", "", true},
		{"127.0.0.1", "", false}, // loopback, but no web server vouches for it
		{"10.0.0.6", "10.0.0.5", false},
		{"192.0.2.11", "", false},
	} {
		name := ""
		if c.ok {
			name = "self_calls"
		}
		checkBuiltin(t, e, p, call(curlUA, cron, from(c.ip, c.server)), name, Challenge)
	}
	// A self call with an attack tool's user agent is still an attack tool.
	checkBuiltin(t, e, p, call(sqlmapUA, "GET /", from("127.0.0.1", "127.0.0.1")), "", Deny)
}

// pendingResolver answers nothing until released: every lookup stays in
// flight. Released, it answers a PTR name outside every crawler's domains.
type pendingResolver struct {
	release chan struct{}
	calls   atomic.Int32
}

func (r *pendingResolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	r.calls.Add(1)
	select {
	case <-r.release:
		return []string{"host.attacker.example."}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (r *pendingResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return nil, errors.New("no such host")
}

func TestBuiltinPendingCrawlers(t *testing.T) {
	res := &pendingResolver{release: make(chan struct{})}
	rdns := NewRDNSVerifier(res)
	rdns.timeout = time.Minute
	sigs := []Signature{{Name: "RDNSBot", Token: "rdnsbot/", RDNS: []string{"crawl.rdnsbot.example"}, category: SearchEngines}}
	c := &clock{t: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	e := New(NewClassifier(sigs, nil, rdns), c.now)
	const ua = "Mozilla/5.0 (compatible; RDNSBot/1.0; +https://rdnsbot.example/bot)"
	at := func(ip string) func(*Request) { return func(r *Request) { r.IP = mustAddr(ip) } }

	// Off (the default): the first request waits for the answer like any
	// unverified claim.
	p := load(t, e, Settings{})
	if v := e.Decide(p, call(ua, "GET /", at("198.51.100.1"))); v.Action != Challenge || v.Detail != "unverified RDNSBot" {
		t.Fatalf("pending crawler, built-in off: %s", v)
	}

	p = load(t, e, Settings{Builtins: map[string]bool{"pending_crawlers": true}})
	// 198.51.100.1's lookup is in flight but no request was let through
	// on it yet (the site switched the built-in on since): one is.
	// Explain (which starts the lookup) shows the grant without using it...
	for range 2 {
		if v := e.Explain(p, call(ua, "GET /", at("198.51.100.2"))); v.Action != Grant || v.Reason != "pending_crawlers" {
			t.Fatalf("explain while pending: %s", v)
		}
	}
	// ...the first real request does, and the next one waits.
	if v := e.Decide(p, call(ua, "GET /", at("198.51.100.2"))); v.Action != Grant || v.Reason != "pending_crawlers" || v.Source != SourceBuiltin {
		t.Fatalf("first request while pending: %s", v)
	}
	for range 3 {
		if v := e.Decide(p, call(ua, "GET /", at("198.51.100.2"))); v.Action != Challenge || v.Source == SourceBuiltin {
			t.Fatalf("second request while pending: %s", v)
		}
	}
	// Lookups at once are bounded (16); an address whose lookup could not
	// start gets no grant.
	granted := 0
	for i := range 40 {
		ip := netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}).String()
		if v := e.Decide(p, call(ua, "GET /", at(ip))); v.Reason == "pending_crawlers" {
			granted++
		}
	}
	if granted == 0 || granted > 16 {
		t.Fatalf("%d pending grants with at most 16 lookups in flight", granted)
	}
	// Answered (the name is not the crawler's): a fake, judged as usual.
	close(res.release)
	deadline := time.Now().Add(5 * time.Second)
	for {
		v := e.Decide(p, call(ua, "GET /robots.txt", at("198.51.100.2")))
		if v.Detail == "fake RDNSBot" {
			if v.Action != Challenge || v.Source == SourceBuiltin {
				t.Fatalf("fake crawler on robots.txt: %s", v)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lookup never answered: %s", v)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// A site that denies emulated_humans keeps its deny.
	pd := load(t, e, Settings{Builtins: map[string]bool{"pending_crawlers": true}, Categories: map[string]string{"emulated_humans": "deny"}})
	if v := e.Explain(pd, call(ua, "GET /", at("203.0.113.200"))); v.Action != Deny {
		t.Fatalf("pending crawler where emulated_humans is denied: %s", v)
	}
	// Without a reverse-DNS verifier nothing is ever pending.
	e2 := New(NewClassifier(sigs, nil, nil), c.now)
	p2 := load(t, e2, Settings{Builtins: map[string]bool{"pending_crawlers": true}})
	if v := e2.Decide(p2, call(ua, "GET /")); v.Source == SourceBuiltin {
		t.Fatalf("no verifier: %s", v)
	}
}

func TestBuiltinSettingsValidation(t *testing.T) {
	long := "/" + strings.Repeat("a", 210)
	many := make([]string, maxWebhooks+1)
	for i := range many {
		many[i] = "/hooks/" + strings.Repeat("x", i+1)
	}
	st := Settings{
		Builtins:        map[string]bool{"robots": false, "robots_txt": false},
		Webhooks:        []string{"hooks/stripe", "preset:shopify", "/", "/a/../b", "/x?", "/y?a=1&a=2", long, "/hooks/stripe", "/hooks/stripe", "/h%2fx", "/h/*"},
		APIPaths:        []string{"api", "/api?x=1", "/"},
		ServerAddresses: []string{"10.0.0.0/8", "not-an-ip", "2001:db8::/48", "192.0.2.0/24"},
	}
	fe, ok := IsValidationError(st.Validate())
	if !ok {
		t.Fatal("invalid built-in settings accepted")
	}
	got := map[string]string{}
	for _, e := range fe {
		got[e.Path] = e.Message
	}
	for path, msg := range map[string]string{
		"builtins.robots":     "unknown built-in; built-ins are acme_challenge, robots_txt",
		"webhooks[0]":         "must start with /",
		"webhooks[1]":         `unknown preset "shopify"; presets are woocommerce`,
		"webhooks[2]":         "whole site",
		"webhooks[3]":         "plain path",
		"webhooks[4]":         "key=value",
		"webhooks[5]":         "each key once",
		"webhooks[6]":         "at most 200 characters",
		"webhooks[8]":         "listed twice",
		"webhooks[9]":         "plain path",
		"webhooks[10]":        "no wildcards",
		"api_paths[0]":        "must start with /",
		"api_paths[1]":        "no query",
		"api_paths[2]":        "whole site",
		"server_addresses[0]": "wider than a server",
		"server_addresses[1]": "not an IP address or CIDR",
		"server_addresses[2]": "wider than a server",
	} {
		if !strings.Contains(got[path], msg) {
			t.Errorf("%s: %q; want it to say %q", path, got[path], msg)
		}
	}
	if len(got) != 17 {
		t.Errorf("%d problems: %v", len(got), fe)
	}
	tooMany := Settings{Webhooks: many, APIPaths: many[:maxAPIPaths+1], ServerAddresses: make([]string, maxServerAddresses+1)}
	for i := range tooMany.ServerAddresses {
		tooMany.ServerAddresses[i] = netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}).String()
	}
	fe, _ = IsValidationError(tooMany.Validate())
	msgs := fe.Error()
	for _, want := range []string{"webhooks: at most 50 webhook endpoints", "api_paths: at most 50 API paths", "server_addresses: at most 20 addresses"} {
		if !strings.Contains(msgs, want) {
			t.Errorf("too many entries: %s; want %q", msgs, want)
		}
	}
	ok2 := Settings{Builtins: map[string]bool{"pending_crawlers": true, "feed_readers": false}, Webhooks: []string{"preset:woocommerce", "/?give-listener=stripe", "/hooks/pay"},
		APIPaths: []string{"/wp-json/wc/v3/"}, ServerAddresses: []string{"192.0.2.10", "2001:db8::/64"}}
	if err := ok2.Validate(); err != nil {
		t.Fatalf("valid built-in settings: %v", err)
	}
	// Stored and read back as JSON.
	b, err := json.Marshal(ok2)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseSettings(string(b))
	if err != nil || len(back.Webhooks) != 3 || !back.Builtins["pending_crawlers"] || back.APIPaths[0] != "/wp-json/wc/v3/" || back.ServerAddresses[1] != "2001:db8::/64" {
		t.Fatalf("round trip %s: %+v %v", b, back, err)
	}
	for _, w := range []string{`"builtins":{`, `"webhooks":[`, `"api_paths":[`, `"server_addresses":[`} {
		if !strings.Contains(string(b), w) {
			t.Errorf("stored settings %s lack %s", b, w)
		}
	}
}

// BenchmarkBuiltinMiss: the cost the built-ins add to a challenged request
// none of them grants (the common case), with every preset declared.
func BenchmarkBuiltinMiss(b *testing.B) {
	e, _ := newTestEngine(b, nil)
	var hooks []string
	for _, p := range WebhookPresets() {
		hooks = append(hooks, "preset:"+p.Name)
	}
	p := load(b, e, Settings{Webhooks: hooks, APIPaths: []string{"/api/"}, ServerAddresses: []string{"192.0.2.10"}})
	r := call(curlUA, "POST /wp-login.php?redirect_to=%2Fwp-admin%2F&reauth=1")
	b.ReportAllocs()
	for b.Loop() {
		r.canon = false
		if v := e.Explain(p, r); v.Source == SourceBuiltin {
			b.Fatal(v)
		}
	}
}
