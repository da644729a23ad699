package engine

import (
	"net/http"
	"net/netip"
	"testing"
	"time"
)

// WordPress reads its public query vars from the query string and the form
// body whatever the path (WP::parse_request: $_POST and $_GET come before
// the rewrite rule's match), so /wp-json/wc/v3/x?rest_route=/wp/v2/users is
// the users endpoint, and WooCommerce's ?wc-ajax= runs its AJAX actions
// (checkout) on any front-end path. A declared webhook or API path must not
// carry them in.
func TestRedteam18RoutingQueryOnDeclaredPaths(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	const ua = "python-requests/2.32.3"
	bearer := withHeader("Authorization", "Bearer x")
	p := load(t, e, Settings{APIPaths: []string{"/wp-json/wc/"}, Webhooks: []string{"preset:wordpress_paypal", "/hooks/stripe"}})
	for _, target := range []string{
		"GET /wp-json/wc/v3/x?rest_route=/wp/v2/users",
		"POST /wp-json/wc/v3/x?rest.route=/wc/store/v1/checkout",
		"POST /wp-json/wc/v3/x?rest%5Froute=/wc/store/v1/checkout",
		"POST /wp-json/wc/v3/x?wc-ajax=checkout",
	} {
		checkBuiltin(t, e, p, call(ua, target, bearer), "", Challenge)
	}
	for _, target := range []string{
		"POST /wp-json/paypal/v1/incoming?rest_route=/wc/store/v1/checkout",
		"POST /wp-json/paypal/v1/incoming?REST_ROUTE=/x&rest_route=/wc/store/v1/checkout",
		"POST /hooks/stripe?wc-ajax=checkout",
		"POST /hooks/stripe?a=1&rest_route=/wp/v2/users",
	} {
		checkBuiltin(t, e, p, call(ua, target), "", Challenge)
	}
	// The endpoints themselves, with a query of their own, still pass.
	checkBuiltin(t, e, p, call(ua, "POST /wp-json/paypal/v1/incoming?token=abc"), "webhooks", 0)
	checkBuiltin(t, e, p, call(ua, "GET /wp-json/wc/v3/orders?per_page=10", bearer), "api_credentials", 0)
}

func TestRedteam18RoutesElsewherePHPKeys(t *testing.T) {
	for q, want := range map[string]bool{
		"":                     false,
		"token=abc":            false,
		"rest_route=/x":        true,
		"rest.route=/x":        true,
		"rest+route=/x":        true,
		"rest[route=/x":        true, // PHP: an unmatched [ is _
		"rest_route[]=/x":      true,
		"%20rest_route=/x":     true,
		"a=1&wc-ajax=checkout": true,
		"rest_routes=/x":       false,
		"a=%zz":                false,
		"%zz=1":                true, // unreadable: not trusted
		"wc-ajax_x=1":          false,
	} {
		if got := routesElsewhere(q); got != want {
			t.Errorf("routesElsewhere(%q) = %v; want %v", q, got, want)
		}
	}
}

// WordPress's search results have feeds (/search/<terms>/feed/rss2/, rewrite
// rules search/(.+)/feed/...): an uncached full-text query of the
// database for every term a client makes up, and the site's content by any
// query. Asking for a feed type must not let any client run searches past a
// challenge.
func TestRedteam18SearchFeedNotAFeed(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	p := load(t, e, Settings{})
	rss := withHeader("Accept", "application/rss+xml")
	for _, target := range []string{
		"GET /search/password/feed/rss2/",
		"GET /search/x/feed/",
		"GET /search/x/rss/",
		"GET /Search/x/atom",
		"GET /en/search/x/feed/",
	} {
		checkBuiltin(t, e, p, call(curlUA, target, rss), "", Challenge)
		checkBuiltin(t, e, p, call(freshRSS, target), "", Challenge)
	}
	checkBuiltin(t, e, p, call(curlUA, "GET /category/news/feed/", rss), "feed_readers", 0)
}

// A fake crawler from one network whose reverse zone never answers (its
// own, so a lookup waits the whole timeout) held every lookup slot: from
// fresh IPv6 addresses of one /48 it kept the 16 slots busy, so a real
// crawler's new address was never looked up (challenged as unverified for
// as long as the flood lasted), and with pending_crawlers on each fresh
// address got its own first request through. One network gets at most
// rdnsPerNet lookups at once.
func TestRedteam18RDNSSlotsPerNetwork(t *testing.T) {
	res := &pendingResolver{release: make(chan struct{})}
	defer close(res.release)
	rdns := NewRDNSVerifier(res)
	rdns.timeout = time.Minute
	domains := []string{"crawl.rdnsbot.example"}
	for i := range 64 {
		rdns.Check(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(i >> 8), byte(i)}), domains)
	}
	for i := range 64 {
		rdns.Check(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), domains)
	}
	real := mustAddr("203.0.113.9")
	rdns.Check(real, domains)
	rdns.mu.Lock()
	started := rdns.inflight[real]
	n := len(rdns.inflight)
	rdns.mu.Unlock()
	if !started {
		t.Fatalf("a crawler's first address got no lookup while %d lookups of two networks were in flight", n)
	}
	if n != 2*rdnsPerNet+1 {
		t.Fatalf("%d lookups in flight; want %d per network", n, rdnsPerNet)
	}
}

// An OPTIONS request was exempt from every absence check, preflight or
// not: a script sending only a Chrome user agent with method OPTIONS was a
// person, granted, and PHP applications answer OPTIONS like GET (WordPress
// renders the page; xmlrpc.php reads its body whatever the method). Every
// CORS preflight carries Access-Control-Request-Method (Fetch standard);
// only those are exempt.
func TestRedteam18OptionsNotPreflight(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	p := load(t, e, Settings{})
	const chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	bare := func(r *Request) {
		r.Method, r.Path = "OPTIONS", "/2024/05/article/"
		r.Header = http.Header{"User-Agent": {chrome}}
	}
	if v := e.Explain(p, req(outsideIP, chrome, bare)); v.Action != Challenge || v.Category != SuspiciousBehaviour {
		t.Errorf("OPTIONS with a Chrome user agent and nothing else: %s (%s); want challenged as suspicious_behaviour", v, v.Category)
	}
	preflight := func(r *Request) {
		r.Method, r.Path, r.Proto = "OPTIONS", "/api/cart", "HTTP/2.0"
		r.Header = http.Header{"User-Agent": {chrome}, "Accept": {"*/*"}, "Access-Control-Request-Method": {"POST"},
			"Origin": {"https://www.example.com"}, "Sec-Fetch-Mode": {"cors"}, "Sec-Fetch-Site": {"same-site"}, "Sec-Fetch-Dest": {"empty"},
			"Accept-Encoding": {"gzip, deflate, br, zstd"}}
	}
	if v := e.Explain(p, req(outsideIP, chrome, preflight)); v.Action != Grant || v.Category != Humans {
		t.Errorf("a CORS preflight without Accept-Language: %s (%s); want granted", v, v.Category)
	}
}
