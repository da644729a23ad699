package engine

import (
	"fmt"
	"net/url"
	"strings"
)

// Built-in grants: legitimate non-browser traffic that can be told apart
// safely is not challenged by default. Each built-in has a name a site
// switches it by (Settings.Builtins), a default, and a one-line
// explanation the rule editor and the API show.
//
// They run after the category (engine.go): only when no custom rule
// matched (a site's rule always wins), the category's action is not grant,
// and the client is not a verified bot. The allow and deny lists come
// before all of it, and a built-in grant still counts against the rate
// limits. The limits of what they may do:
//
//   - They turn a challenge or captcha into a grant. A category's deny (or
//     return_fake_data) stays, except for robots_txt and acme_challenge:
//     a crawler the site refuses must still read robots.txt to learn that
//     it is refused (crawlers take a 403 on robots.txt to mean "no
//     restrictions"), and a certificate must renew whatever the site
//     decided about categories.
//   - Never for security_issues (attack tools), and never for a claim
//     that failed verification or is still being verified (category
//     emulated_humans: "fake Googlebot", "unverified Googlebot"), but for
//     pending_crawlers, which a site switches on to let the first request
//     of a crawler whose reverse DNS is being looked up through.
//   - Path built-ins match the canonical path (path.go), and only when the
//     path as sent has no spelling the servers behind could read otherwise
//     (plainPath): /robots.txt;.php, /robots.txt/../wp-login.php or
//     /wp-admin/%2e%2e/robots.txt are judged as usual. The ones for GET
//     resources want GET or HEAD and no query (the few queries a feed or
//     WebFinger uses are allowed by name): on WordPress a query chooses
//     the handler (/robots.txt?rest_route=/wp/v2/users is the REST API).

// BuiltinInfo describes one built-in grant.
type BuiltinInfo struct {
	Name    string `json:"name"`
	Default bool   `json:"default"`
	// Explanation is one line for the rule editor and the API.
	Explanation string `json:"explanation"`
	// OverridesDeny: it also lifts a category's deny, not only a challenge.
	OverridesDeny bool `json:"overrides_deny"`
}

// The built-ins, in the order they are tried.
const (
	biACME = iota
	biRobots
	biSitemaps
	biFavicon
	biWellKnown
	biFeedReaders
	biWebhooks
	biAPICredentials
	biSelfCalls
	biPendingCrawlers
	numBuiltins
)

var builtins = [numBuiltins]BuiltinInfo{
	biACME: {Name: "acme_challenge", Default: true, OverridesDeny: true,
		Explanation: "GET /.well-known/acme-challenge/<token>: Let's Encrypt and other ACME CAs check it before issuing the site's certificate."},
	biRobots: {Name: "robots_txt", Default: true, OverridesDeny: true,
		Explanation: "GET /robots.txt for every client, even categories you deny: a crawler must read it to learn what it may not fetch."},
	biSitemaps: {Name: "sitemaps", Default: true,
		Explanation: "GET sitemap files (/sitemap.xml, /sitemap_index.xml, /wp-sitemap-posts-post-1.xml, .xml.gz): read by search engines and SEO tools."},
	biFavicon: {Name: "favicon", Default: true,
		Explanation: "GET /favicon.ico and /apple-touch-icon.png: fetched by feed readers, link previews and bookmarking tools."},
	biWellKnown: {Name: "well_known", Default: true,
		Explanation: "GET /.well-known/… (security.txt, app links, OpenID configuration, WebFinger, NodeInfo): standard files meant for programs."},
	biFeedReaders: {Name: "feed_readers", Default: true,
		Explanation: "GET of the site's feeds (/feed/, /rss.xml, /atom.xml, ?feed=rss2) by a known feed reader, or by any client that asks for a feed type."},
	biWebhooks: {Name: "webhooks", Default: true,
		Explanation: "POST to the webhook endpoints you declare (or a platform preset): the application checks the webhook's own signature."},
	biAPICredentials: {Name: "api_credentials", Default: true,
		Explanation: "Requests with an Authorization header to the API paths you declare: the API checks the credentials itself."},
	biSelfCalls: {Name: "self_calls", Default: true,
		Explanation: "The site's own server calling itself (WordPress cron, loopback health checks): from the addresses you declare, or the web server's own."},
	biPendingCrawlers: {Name: "pending_crawlers", Default: false,
		Explanation: "Lets the first request of a crawler through while its reverse-DNS check is pending; a fake one gets that first request too."},
}

// Builtins describes every built-in grant, in the order they are tried.
func Builtins() []BuiltinInfo { return append([]BuiltinInfo(nil), builtins[:]...) }

func builtinIndex(name string) int {
	for i, b := range builtins {
		if b.Name == name {
			return i
		}
	}
	return -1
}

// builtinGrant returns the name of the built-in grant (robots.txt, a
// declared webhook, ...) that lets r through on p although its category's
// action is not grant, or "" when none applies. c is the request's
// classification; rdns (nil: none) answers for pending_crawlers, which
// marks the lookup's one grant used only when claim is set (Decide, not
// Explain).
func (p *Policy) builtinGrant(r *Request, c classification, rdns *RDNSVerifier, claim bool) string {
	if p.builtinsOn == 0 || c.category == SecurityIssues {
		return ""
	}
	on := func(i int) bool { return p.builtinsOn&(1<<i) != 0 }
	act := p.actions[c.category]
	lift := act == Challenge || act == Captcha // a deny only for OverridesDeny
	if c.category == EmulatedHumans {
		// A crawler claim that failed verification gets nothing; one still
		// being verified gets its first request, if the site says so.
		if lift && c.pending && on(biPendingCrawlers) && rdns != nil && rdns.firstPending(r.IP.Unmap(), claim) {
			return builtins[biPendingCrawlers].Name
		}
		return ""
	}
	r.canonical()
	path, plain := r.path, plainPath(r.Path)
	read := plain && (r.Method == "GET" || r.Method == "HEAD")
	if read && r.Query == "" {
		switch {
		case on(biACME) && isACMEPath(path):
			return builtins[biACME].Name
		case on(biRobots) && path == "/robots.txt":
			return builtins[biRobots].Name
		}
	}
	if !lift {
		return ""
	}
	if read {
		switch {
		case on(biSitemaps) && r.Query == "" && isSitemapPath(path):
			return builtins[biSitemaps].Name
		case on(biFavicon) && r.Query == "" && isFaviconPath(path):
			return builtins[biFavicon].Name
		case on(biWellKnown) && isWellKnown(path, r.Query):
			return builtins[biWellKnown].Name
		case on(biFeedReaders) && isFeed(path, r.Query) && (isFeedReader(r.UserAgent) || acceptsFeed(r.header("Accept"))):
			return builtins[biFeedReaders].Name
		}
	}
	// A declared path's query may not send the request to another handler.
	declared := plain && (len(p.webhooks) > 0 || len(p.apiPaths) > 0) && !routesElsewhere(r.Query)
	if declared && on(biWebhooks) && r.Method == "POST" && len(p.webhooks) > 0 {
		q := parseWebhookQuery(r.Query) // once, whatever the number of endpoints
		for i := range p.webhooks {
			if p.webhooks[i].matches(path, q) {
				return builtins[biWebhooks].Name
			}
		}
	}
	if declared && on(biAPICredentials) && len(p.apiPaths) > 0 && hasCredentials(r.header("Authorization")) {
		for _, a := range p.apiPaths {
			if underPrefix(path, a) {
				return builtins[biAPICredentials].Name
			}
		}
	}
	if on(biSelfCalls) && p.selfCall(r) {
		return builtins[biSelfCalls].Name
	}
	return ""
}

// selfCall reports whether r comes from the site's own server: an address
// the site declared, or, when the adapter knows the web server that asked
// (Request.Server: it also vouches that the client address is the one the
// web server saw), that server's address or loopback. A loopback client
// without Request.Server is not enough: a web server that forwards no
// client address makes every visitor look like loopback.
func (p *Policy) selfCall(r *Request) bool {
	ip := r.IP.Unmap()
	if !ip.IsValid() {
		return false
	}
	if p.servers != nil && p.servers.Lookup(ip) {
		return true
	}
	if !r.Server.IsValid() {
		return false
	}
	return ip.IsLoopback() || ip == r.Server.Unmap()
}

// plainPath reports whether a path as sent reads the same to every server:
// it starts with /, has no backslash, no ;, no //, no . or .. segment, no
// control character, and no %-escape of /, \, ., ; or %. (Escapes of other
// characters are harmless: every server decodes them alike.)
func plainPath(raw string) bool {
	if raw == "" || raw[0] != '/' || len(raw) > 2048 {
		return false
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '\\' || c == ';' || c < 0x20 || c == 0x7f:
			return false
		case c == '%':
			if i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2]) {
				return false
			}
			switch d := unhex(raw[i+1])<<4 | unhex(raw[i+2]); {
			case d == '/' || d == '\\' || d == '.' || d == ';' || d == '%' || d < 0x20 || d == 0x7f:
				return false
			}
		case c == '/':
			if i+1 < len(raw) && raw[i+1] == '/' {
				return false
			}
		case c == '.':
			if raw[i-1] == '/' && (i+1 == len(raw) || raw[i+1] == '/' || (raw[i+1] == '.' && (i+2 == len(raw) || raw[i+2] == '/'))) {
				return false
			}
		}
	}
	return true
}

// underPrefix reports whether path is prefix or under it, at a segment
// boundary: /hooks/stripe covers /hooks/stripe and /hooks/stripe/x, not
// /hooks/stripe-old. A prefix ending in / covers what is under it.
func underPrefix(path, prefix string) bool {
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	return len(path) == len(prefix) || strings.HasSuffix(prefix, "/") || path[len(prefix)] == '/'
}

// segments splits a canonical path into its segments (a trailing slash
// gives no empty last segment) and reports the trailing slash.
func segments(path string) ([]string, bool) {
	trailing := len(path) > 1 && strings.HasSuffix(path, "/")
	s := strings.Trim(path, "/")
	if s == "" {
		return nil, trailing
	}
	return strings.Split(s, "/"), trailing
}

// scriptExt reports whether a file name has an extension web servers run
// as a program.
func scriptExt(name string) bool {
	n := strings.ToLower(name)
	for _, x := range []string{".php", ".phtml", ".phar", ".cgi", ".pl", ".py", ".asp", ".aspx", ".jsp", ".shtml", ".fcgi"} {
		if strings.Contains(n, x) {
			return true
		}
	}
	return false
}

// appPrefixes are WordPress's own areas, where no feed or sitemap lives.
var appPrefixes = []string{"/wp-admin/", "/wp-json/", "/wp-includes/", "/wp-content/"}

func inAppArea(path string) bool {
	for _, a := range appPrefixes {
		if underPrefix(path, a) || path+"/" == a {
			return true
		}
	}
	return false
}

// dotsOnlyLast reports whether no segment but the last has a dot: a dot
// earlier is a file with a path after it, which PHP and CGI servers run
// with the rest as PATH_INFO (/wp-login.php/feed/ runs wp-login.php).
func dotsOnlyLast(segs []string) bool {
	for _, s := range segs[:max(0, len(segs)-1)] {
		if strings.ContainsRune(s, '.') {
			return false
		}
	}
	return true
}

func isACMEPath(path string) bool {
	const pre = "/.well-known/acme-challenge/"
	tok, ok := strings.CutPrefix(path, pre)
	if !ok || tok == "" || len(tok) > 256 {
		return false
	}
	for i := 0; i < len(tok); i++ { // base64url, as RFC 8555 8.3 has it
		c := tok[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func isFaviconPath(path string) bool {
	switch path {
	case "/favicon.ico", "/favicon.svg", "/favicon.png", "/apple-touch-icon.png", "/apple-touch-icon-precomposed.png":
		return true
	}
	return false
}

// isSitemapPath: a file whose name holds "sitemap" and ends in .xml or
// .xml.gz (sitemap.xml, sitemap_index.xml, post-sitemap2.xml,
// wp-sitemap-posts-post-1.xml, 1_index_sitemap.xml), at any depth outside
// WordPress's own areas, no dot in the directories above it.
func isSitemapPath(path string) bool {
	segs, trailing := segments(path)
	if trailing || len(segs) == 0 || len(segs) > 4 || !dotsOnlyLast(segs) || inAppArea(path) {
		return false
	}
	name := strings.ToLower(segs[len(segs)-1])
	base, ok := strings.CutSuffix(name, ".xml")
	if !ok {
		if base, ok = strings.CutSuffix(name, ".xml.gz"); !ok {
			return false
		}
	}
	return strings.Contains(base, "sitemap") && wordChars(base)
}

// wordChars: letters, digits, - and _ only.
func wordChars(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// isWellKnown: /.well-known/<name>[/<more>] (RFC 8615), up to three
// segments under it, only the last with a dot and none a script; no query
// but WebFinger's resource and rel. ACME's directory is acme_challenge's.
func isWellKnown(path, query string) bool {
	rest, ok := strings.CutPrefix(path, "/.well-known/")
	if !ok || rest == "" || strings.HasPrefix(rest, "acme-challenge/") || rest == "acme-challenge" {
		return false
	}
	segs := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	if len(segs) > 3 || !dotsOnlyLast(segs) {
		return false
	}
	for _, s := range segs {
		if s == "" || len(s) > 128 || scriptExt(s) || !wordChars(strings.ReplaceAll(s, ".", "_")) {
			return false
		}
	}
	if query == "" {
		return true
	}
	return rest == "webfinger" && queryOnly(query, map[string]bool{"resource": true, "rel": true}, "resource", false)
}

// feedFiles are feed file names used by static generators and CMSes.
var feedFiles = map[string]bool{"feed.xml": true, "atom.xml": true, "rss.xml": true, "index.xml": true, "feed.json": true, "index.rss": true, "feed.rss": true, "feed.atom": true, "rss2.xml": true}

// feedQueryKeys are the query keys of WordPress's feeds without pretty
// permalinks (/?feed=rss2, /?cat=3&feed=atom, /?p=12&feed=rss2).
var feedQueryKeys = map[string]bool{"feed": true, "cat": true, "tag": true, "author": true, "p": true, "page_id": true, "paged": true, "post_type": true}

// isFeed: a feed of the site. By path: a "feed" segment last (/feed/,
// /comments/feed/, /category/news/feed/) or followed by one word, its
// format or name (/feed/atom/, /feed/podcast/), a last segment rss or atom, or a feed file (/atom.xml,
// /index.xml, /blog/feed.rss, *.rss, *.atom); no dot in the directories
// above, outside WordPress's own areas, no "search" segment (search results'
// feeds), no query. By query: / or
// /index.php with feed= and only WordPress's feed keys, short plain values.
func isFeed(path, query string) bool {
	if path == "/" || path == "/index.php" {
		return query != "" && queryOnly(query, feedQueryKeys, "feed", true)
	}
	if query != "" || inAppArea(path) {
		return false
	}
	segs, trailing := segments(path)
	if len(segs) == 0 || len(segs) > 6 || !dotsOnlyLast(segs) {
		return false
	}
	for _, s := range segs {
		if strings.EqualFold(s, "search") {
			// WordPress's search results have feeds (/search/<terms>/feed/):
			// a database search for any terms a client makes up.
			return false
		}
	}
	last := strings.ToLower(segs[len(segs)-1])
	switch last {
	case "feed", "rss", "atom":
		return true
	}
	if len(segs) > 1 && strings.EqualFold(segs[len(segs)-2], "feed") && wordChars(last) && len(last) <= 32 {
		return true // a feed's format or a named feed: /feed/atom/, /feed/podcast/
	}
	if trailing || strings.Count(last, ".") != 1 || scriptExt(last) {
		return false
	}
	return feedFiles[last] || strings.HasSuffix(last, ".rss") || strings.HasSuffix(last, ".atom")
}

// queryOnly reports whether query has only keys of allowed (read as PHP
// reads them: percent-decoded, with ., space and [ as _), each once, with
// values of at most 256 characters (plain word characters when word is
// set), and has need among them.
func queryOnly(query string, allowed map[string]bool, need string, word bool) bool {
	if len(query) > 1024 {
		return false
	}
	v, err := url.ParseQuery(query)
	if err != nil || len(v) == 0 {
		return false
	}
	seen := map[string]bool{}
	for k, vals := range v {
		pk := phpKey(k)
		if !allowed[pk] || seen[pk] || len(vals) != 1 {
			return false
		}
		seen[pk] = true
		if len(vals[0]) > 256 || (word && !wordChars(vals[0])) {
			return false
		}
	}
	return seen[need]
}

// phpKey is the name PHP gives a query key in $_GET: ., space and [ become
// _ (a [ that opens an array makes it no plain key at all).
func phpKey(k string) string {
	if strings.ContainsAny(k, "[]") {
		return "\x00array"
	}
	return phpDots.Replace(k)
}

// phpDots and phpFlat spell a query key as PHP names it ($_GET): a dot or
// space becomes "_", and for the first [ of a key that is not an array,
// "_" too.
var (
	phpDots = strings.NewReplacer(".", "_", " ", "_")
	phpFlat = strings.NewReplacer(".", "_", " ", "_", "[", "_")
)

// feedReaders are tokens of feed readers' user agents, lower case. Some
// (Feedly, Inoreader, NewsBlur) are also services_and_payments
// signatures; this list covers the many that are not.
var feedReaders = []string{
	"feedly", "inoreader", "newsblur", "feedbin", "theoldreader", "the old reader", "netnewswire", "miniflux",
	"freshrss", "tiny tiny rss", "tt-rss", "feedfetcher-google", "nextcloud-news", "newsboat", "liferea",
	"akregator", "quiterss", "rssowl", "feedbro", "bazqux", "feedspot", "flipboard", "commafeed", "selfoss",
	"feedparser", "simplepie", "rss2email", "blogtrottr", "superfeedr", "readwise", "netvibes", "feedburner",
	"newsify", "feeder.co", "rssbot", "feedvalidator", "inforss", "feedreader", "reeder/",
	// Podcast apps read the site's podcast feed.
	"podcast", "overcast", "pocket casts", "pocketcasts", "antennapod", "castro", "player fm", "podbean", "podverse",
}

func isFeedReader(ua string) bool {
	if ua == "" || len(ua) > 512 {
		return false
	}
	l := strings.ToLower(ua)
	for _, t := range feedReaders {
		if strings.Contains(l, t) {
			return true
		}
	}
	return false
}

// acceptsFeed reports whether an Accept header names a feed media type.
func acceptsFeed(accept string) bool {
	if accept == "" || len(accept) > 1024 {
		return false
	}
	a := strings.ToLower(accept)
	for _, t := range []string{"application/rss+xml", "application/atom+xml", "application/feed+json", "application/rdf+xml"} {
		if strings.Contains(a, t) {
			return true
		}
	}
	return false
}

// routingKeys are query keys that choose the handler whatever the path:
// WordPress takes its public query vars from the query string (and the form
// body) before the rewrite rule's match, so /wp-json/wc/v3/x?rest_route=/wp/v2/users
// is the users endpoint, and WooCommerce runs ?wc-ajax= (checkout) on any
// front-end path. A declared webhook or API path does not carry them in.
var routingKeys = []string{"rest_route", "wc-ajax"}

// routesElsewhere reports whether query has a key PHP reads as one of
// routingKeys (., space and an unmatched [ read as _, a key[...] as key),
// or cannot be read.
func routesElsewhere(query string) bool {
	if query == "" {
		return false
	}
	for _, pair := range strings.Split(query, "&") {
		k, _, _ := strings.Cut(pair, "=")
		if u, err := url.QueryUnescape(k); err == nil {
			k = u
		} else {
			return true
		}
		k = strings.TrimLeft(k, " ")
		base, _, _ := strings.Cut(k, "[")
		flat := phpFlat.Replace(k)
		for _, rk := range routingKeys {
			if base == rk || flat == rk {
				return true
			}
		}
	}
	return false
}

// hasCredentials reports whether an Authorization header has the shape of
// credentials: a scheme, a space, and something after it (RFC 9110 11.4).
func hasCredentials(h string) bool {
	scheme, cred, ok := strings.Cut(h, " ")
	return ok && scheme != "" && len(scheme) <= 32 && headerName.MatchString(scheme) && strings.TrimSpace(cred) != "" && len(h) <= 8192
}

// webhook is one declared webhook endpoint, compiled.
type webhook struct {
	path  string            // segment prefix; exact when query is set
	query map[string]string // key (PHP-normalised) → value ("*": any); nil: any query
	lang  bool              // an optional language segment may come first (/en/module/...)
}

// parseWebhookQuery reads a request's query for the webhook endpoints that
// name one: nil when it cannot be read or is longer than any such endpoint
// takes (8 keys).
func parseWebhookQuery(query string) url.Values {
	if query == "" || len(query) > 1024 {
		return nil
	}
	v, err := url.ParseQuery(query)
	if err != nil || len(v) > 8 {
		return nil
	}
	return v
}

// matches reports whether a request for path, with query q
// (parseWebhookQuery), is for this endpoint.
func (w *webhook) matches(path string, q url.Values) bool {
	if w.lang {
		if segs, _ := segments(path); len(segs) > 1 && isLangSegment(segs[0]) && w.matchPath(path[len(segs[0])+1:], q) {
			return true
		}
	}
	return w.matchPath(path, q)
}

func (w *webhook) matchPath(path string, v url.Values) bool {
	if w.query == nil {
		return underPrefix(path, w.path)
	}
	if path != w.path && !(w.path == "/" && path == "/index.php") {
		return false
	}
	if len(v) != len(w.query) {
		return false
	}
	// Every key of the endpoint once: two spellings PHP reads as one key
	// (a_b, a.b) must not stand in for another key.
	seen := make(map[string]bool, len(v))
	for k, vals := range v {
		k = phpKey(k)
		want, ok := w.query[k]
		if !ok || seen[k] || len(vals) != 1 || vals[0] == "" || (want != "*" && !strings.EqualFold(vals[0], want)) {
			return false
		}
		seen[k] = true
	}
	return true
}

// isLangSegment: a language code a shop puts first in its URLs (en, de,
// pt-br, en_us).
func isLangSegment(s string) bool {
	if len(s) != 2 && len(s) != 5 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 2 && (c == '-' || c == '_') {
			continue
		}
		if !(c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// WebhookPreset is a named set of webhook endpoints of a common platform.
type WebhookPreset struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Endpoints   []string `json:"endpoints"` // as a site would declare them
	lang        bool
}

// webhookPresets are the endpoints payment providers call on common
// platforms, installed at the site's root. A shop installed under a
// directory (/shop/, WHMCS under /billing/) declares its paths itself.
var webhookPresets = []WebhookPreset{
	{Name: "woocommerce", Description: "WooCommerce payment gateways' callbacks through its API endpoint (Stripe, PayPal Standard IPN and most others).",
		Endpoints: []string{"/wc-api/", "/?wc-api=*"}},
	{Name: "wordpress_stripe", Description: "Stripe webhooks of WordPress plugins: WooCommerce Stripe Gateway, Easy Digital Downloads, GiveWP.",
		Endpoints: []string{"/?wc-api=wc_stripe", "/?edd-listener=stripe", "/?give-listener=stripe"}},
	{Name: "wordpress_paypal", Description: "PayPal notifications of WordPress plugins: WooCommerce PayPal Payments and PayPal Standard, Easy Digital Downloads, GiveWP.",
		Endpoints: []string{"/wp-json/paypal/v1/incoming", "/wc-api/WC_Gateway_Paypal", "/?wc-api=WC_Gateway_Paypal", "/?edd-listener=IPN", "/?give-listener=IPN"}},
	{Name: "magento", Description: "Magento 2 payment notifications: PayPal IPN, Stripe, Mollie, Adyen.",
		Endpoints: []string{"/paypal/ipn", "/stripe/webhooks", "/mollie/checkout/webhook", "/adyen/webhook", "/adyen/process/json"}},
	{Name: "prestashop", Description: "PrestaShop payment modules' webhooks (Stripe, PayPal, PrestaShop Checkout, Mollie), with or without a language in front.",
		Endpoints: []string{"/module/stripe_official/webhook", "/module/paypal/webhookhandler", "/module/paypal/ipn", "/module/ps_checkout/DispatchWebHook", "/module/mollie/webhook"}, lang: true},
	{Name: "whmcs", Description: "WHMCS payment gateways' callbacks (/modules/gateways/callback/*.php).",
		Endpoints: []string{"/modules/gateways/callback/"}},
}

// WebhookPresets describes the webhook presets a site can declare as
// "preset:<name>".
func WebhookPresets() []WebhookPreset { return append([]WebhookPreset(nil), webhookPresets...) }

// PresetPrefix starts a webhook entry that names a preset:
// PresetPrefix + WebhookPreset.Name.
const PresetPrefix = "preset:"

// compileWebhook reads one declared webhook entry: "preset:<name>", a path
// (a segment prefix) or a path with a query (that path with exactly that
// query; a value * is any value).
func compileWebhook(s string) ([]webhook, error) {
	if name, ok := strings.CutPrefix(s, PresetPrefix); ok {
		for _, p := range webhookPresets {
			if p.Name == name {
				var out []webhook
				for _, e := range p.Endpoints {
					w, err := parseWebhook(e)
					if err != nil {
						return nil, err
					}
					w.lang = p.lang
					out = append(out, w)
				}
				return out, nil
			}
		}
		names := make([]string, len(webhookPresets))
		for i, p := range webhookPresets {
			names[i] = p.Name
		}
		return nil, fmt.Errorf("unknown preset %q; presets are %s", name, strings.Join(names, ", "))
	}
	w, err := parseWebhook(s)
	if err != nil {
		return nil, err
	}
	return []webhook{w}, nil
}

func parseWebhook(s string) (webhook, error) {
	path, query, hasQuery := strings.Cut(s, "?")
	if err := checkDeclaredPath(path, hasQuery); err != nil {
		return webhook{}, err
	}
	w := webhook{path: path}
	if !hasQuery {
		return w, nil
	}
	v, err := url.ParseQuery(query)
	if err != nil || len(v) == 0 || len(v) > 8 {
		return webhook{}, fmt.Errorf("the query of %q must be 1 to 8 key=value pairs separated by &", s)
	}
	w.query = map[string]string{}
	for k, vals := range v {
		if k == "" || len(vals) != 1 || vals[0] == "" || strings.ContainsAny(k, "[]") {
			return webhook{}, fmt.Errorf("the query of %q must give each key once, with a value (* for any value)", s)
		}
		w.query[phpKey(k)] = vals[0]
	}
	return w, nil
}

// checkDeclaredPath checks a webhook or API path a site declares: plain and
// canonical (what Palisade compares is what the site wrote), and not the
// whole site.
func checkDeclaredPath(path string, hasQuery bool) error {
	switch {
	case !strings.HasPrefix(path, "/"):
		return fmt.Errorf("%q must start with /", path)
	case len(path) > 200:
		return fmt.Errorf("a path of at most 200 characters")
	case !plainPath(path) || strings.ContainsRune(path, '%') || CanonicalPath(path) != path:
		return fmt.Errorf("%q must be a plain path: no %%-escapes, ;, \\, // or . and .. segments", path)
	case strings.ContainsAny(path, "*?# \t"):
		return fmt.Errorf("%q: no wildcards or spaces; a path covers everything under it", path)
	case path == "/" && !hasQuery:
		return fmt.Errorf("/ would cover the whole site; name the endpoint's path")
	}
	return nil
}
