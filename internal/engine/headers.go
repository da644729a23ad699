package engine

import "strings"

// Header consistency: a request whose user agent claims a browser is judged
// by whether its other headers are what that browser sends. Every signal
// that decides on its own is a contradiction a real browser cannot produce,
// the absence of a header every browser sends on every request of the kind
// judged, a tool's own header, or a browser out of support for years.
// Header order is not judged: engine.Request.Header is a Go map, and no
// adapter passes the order on.
//
// Each check states the browser behaviour it relies on, as of 2026-11-30
// (current Chrome, Edge, Opera, Brave, Samsung Internet, Android WebView,
// Firefox with its ESR, Tor Browser and resistFingerprinting, Safari on
// macOS, iOS and iPadOS, and the in-app browsers of Facebook, Instagram,
// TikTok, LINE and WeChat); testdata/headers/browsers.txt holds their
// header sets. docs/INTEGRATIONS.md ("Header consistency") explains each
// signal to site owners.

// looksLikeBrowser: every mainstream browser's user agent starts this way.
func looksLikeBrowser(ua string) bool {
	return strings.HasPrefix(ua, "Mozilla/") || strings.HasPrefix(ua, "Opera/")
}

// anomalyThreshold is the score from which a browser-looking request is
// suspicious_behaviour. Every contradiction scores at least this on its
// own; weaker findings (no Accept-Encoding, Connection: close) only add up.
const anomalyThreshold = 3

// Weights.
const (
	wWeak     = 1 // adds to others, never decides alone
	wSome     = 2
	wDecides  = anomalyThreshold     // challenged on its own
	wIdentity = anomalyThreshold + 1 // names the real client: outweighs a plain absence for the detail
)

// scorer sums findings and keeps the weightiest (the first of equals).
type scorer struct {
	score, worst int
	why          string
}

func (s *scorer) add(n int, reason string) {
	s.score += n
	if n > s.worst {
		s.worst, s.why = n, reason
	}
}

// uaFacts is what several checks need to know of the user agent, found
// once.
type uaFacts struct {
	ua                string
	chrome, firefox   int // index of "Chrome/", "Firefox/"; -1: none
	chromeV, firefoxV int // their major versions; -1: none
	plainCh, plainFx  bool
	webview           bool // Android WebView ("; wv)")
}

func factsOf(ua string) uaFacts {
	f := uaFacts{ua: ua, chrome: strings.Index(ua, "Chrome/"), firefox: -1, chromeV: -1, firefoxV: -1}
	if f.chrome >= 0 {
		if v, ok := leadingInt(ua[f.chrome+len("Chrome/"):]); ok {
			f.chromeV = v
		}
		f.plainCh = plainChrome(ua, f.chrome)
		f.webview = strings.Contains(ua, "; wv)")
		return f
	}
	if f.firefox = strings.Index(ua, "Firefox/"); f.firefox >= 0 {
		if v, ok := leadingInt(ua[f.firefox+len("Firefox/"):]); ok {
			f.firefoxV = v
		}
		f.plainFx = plainFirefox(ua, f.firefox)
	}
	return f
}

// anomalies scores headers a real browser would not send the way this
// request did, and names the weightiest finding in plain words (the
// verdict's Detail, shown to site owners).
func anomalies(r *Request) (int, string) {
	var s scorer
	ua := factsOf(r.UserAgent)
	scannerHeaders(r, &s)
	if why := outdated(&ua); why != "" {
		s.add(wDecides, why)
	}
	clientHints(r, &ua, &s)
	fetchMetadata(r, &s)
	absences(r, &s)
	fetchMetadataMissing(r, &ua, &s)
	navigationAccept(r, &ua, &s)
	if r.Proto == "HTTP/1.0" {
		// Every browser speaks HTTP/1.1 or later; HTTP/1.0 is ApacheBench (ab),
		// libraries and hand-written scripts.
		s.add(wDecides, "HTTP/1.0 with a browser user agent")
	}
	if conn := r.header("Connection"); conn != "" && (r.Proto == "HTTP/2.0" || r.Proto == "HTTP/3.0") {
		s.add(wSome, "Connection header on HTTP/2") // forbidden by RFC 9113 and RFC 9114
	} else if strings.EqualFold(conn, "close") {
		s.add(wWeak, "Connection: close") // browsers keep connections open
	}
	return s.score, s.why
}

// scannerHeaders: web vulnerability scanners that send a browser user agent
// still mark their requests with headers of their own, which no browser
// sends: Acunetix (Acunetix-Aspect, -Aspect-Password, -Aspect-Queries,
// -Product, -Scanning-Agreement, -User-Agreement), HP/Micro Focus WebInspect
// (X-WIPP, X-Scan-Memo, X-Request-Memo, X-RequestManager-Memo) and
// Netsparker/Invicti (X-Scanner).
func scannerHeaders(r *Request, s *scorer) {
	if len(r.Header) == 0 {
		return
	}
	for _, h := range scannerHeaderNames {
		if _, ok := r.Header[h.name]; ok {
			s.add(wIdentity, h.why)
			return
		}
	}
}

var scannerHeaderNames = []struct{ name, why string }{
	{"Acunetix-Aspect", "Acunetix scanner header (Acunetix-Aspect)"},
	{"Acunetix-Product", "Acunetix scanner header (Acunetix-Product)"},
	{"Acunetix-Scanning-Agreement", "Acunetix scanner header (Acunetix-Scanning-Agreement)"},
	{"Acunetix-User-Agreement", "Acunetix scanner header (Acunetix-User-Agreement)"},
	{"Acunetix-Aspect-Password", "Acunetix scanner header (Acunetix-Aspect-Password)"},
	{"Acunetix-Aspect-Queries", "Acunetix scanner header (Acunetix-Aspect-Queries)"},
	{"X-Wipp", "WebInspect scanner header (X-WIPP)"},
	{"X-Scan-Memo", "WebInspect scanner header (X-Scan-Memo)"},
	{"X-Request-Memo", "WebInspect scanner header (X-Request-Memo)"},
	{"X-Requestmanager-Memo", "WebInspect scanner header (X-RequestManager-Memo)"},
	{"X-Scanner", "vulnerability scanner header (X-Scanner)"},
}

// Dead browsers. Fixed thresholds, no clock: chosen on 2026-11-30. Each is a
// browser whose maker stopped updating it years before, or whose
// last version for an operating system is that old; a person still on one
// is challenged (and can pass the challenge or its no-JavaScript page), a
// script with a user agent copied from an old list is caught.
const (
	// Chrome 100 shipped in March 2022. The last Chrome for Windows 7/8.1
	// is 109, for macOS 10.13 116, for Android 6 106, for Android 7 119:
	// every Chrome below 100 is on Windows XP/Vista (49), Android 4/5
	// (≤ 95) or has not been updated for years.
	minChrome = 100
	// Android WebView (the "; wv)" token, Android 5 and later) updates
	// through the Play Store or the maker's store, separately from the
	// system: one below 80 (February 2020) has had no update for six
	// years. (Android 4.4's WebView, Chromium 30–33, has no "wv" token and
	// counts as Chrome.)
	minWebView = 80
	// Firefox 91 ESR shipped in August 2021. Windows 7/8.1 and macOS
	// 10.12–10.14 get ESR 115; Tor Browser and resistFingerprinting
	// report the current ESR (128 or later). Below 91: Windows XP/Vista
	// (52 ESR), macOS 10.9–10.11 (78 ESR) or not updated for years.
	minFirefox = 91
	// Safari 13 shipped in 2019 and runs on macOS 10.13 and later; Safari
	// 12 and older are macOS 10.12 and older.
	minSafariMac = 13
	// iOS 12 runs on every iPhone since the 5s (2013); iOS 11 and older are
	// the iPhone 5c and older, the iPad 4 and older.
	minIOS = 12
)

// outdated names a dead browser the user agent claims, or "".
func outdated(f *uaFacts) string {
	ua := f.ua
	if f.chrome >= 0 {
		switch {
		case f.chromeV < 0:
		case strings.Contains(ua, " Edge/"):
			// EdgeHTML Edge ("Chrome/70 ... Edge/18"; Chromium Edge says
			// "Edg/"), retired March 2021.
			return "outdated browser: Edge Legacy (EdgeHTML)"
		case !f.plainCh:
		case f.webview:
			if f.chromeV < minWebView {
				return "outdated browser: Android WebView older than 80"
			}
		case f.chromeV < minChrome:
			return "outdated browser: Chrome older than 100"
		}
		return ""
	}
	switch {
	case strings.Contains(ua, "MSIE ") || strings.Contains(ua, "Trident/"):
		// Internet Explorer, any version (retired June 2022); Office's
		// link checks ("ms-office") say MSIE too.
		return "outdated browser: Internet Explorer"
	case strings.HasPrefix(ua, "Opera/") || strings.Contains(ua, "Presto/"):
		// Opera 12 and older (Presto, last release 2013). Opera Mini's
		// server-side rendering still says Presto and serves feature
		// phones today: not judged.
		if strings.Contains(ua, "Opera Mini/") {
			return ""
		}
		return "outdated browser: Opera 12 or older (Presto)"
	}
	if f.firefox >= 0 {
		if f.firefoxV >= 0 && f.firefoxV < minFirefox && f.plainFx {
			return "outdated browser: Firefox older than 91"
		}
		return ""
	}
	if v, ok := iosVersion(ua); ok {
		if v < minIOS {
			return "outdated browser: iOS older than 12"
		}
		return ""
	}
	if strings.Contains(ua, "Macintosh") && strings.Contains(ua, "Safari/") {
		if i := strings.Index(ua, "Version/"); i >= 0 {
			if v, ok := leadingInt(ua[i+len("Version/"):]); ok && v < minSafariMac {
				return "outdated browser: Safari older than 13"
			}
		}
	}
	return ""
}

// plainChrome: the user agent is exactly Chrome's, Edge's, Opera's or
// Android WebView's (Chrome/ at i):
//
//	Mozilla/5.0 (...) AppleWebKit/537.36 (KHTML, like Gecko) [Version/4.0 ]Chrome/V [Mobile ]Safari/537.36[ Edg/V | EdgA/V | OPR/V]
//
// Browsers that ship an older Chromium on purpose and are maintained
// (WeChat's XWEB, Tencent's X5/TBS, UC, Samsung Internet, Huawei, Xiaomi,
// Yandex, the Facebook and Instagram in-app browsers, ...) add tokens of
// their own and are not judged by the Chrome version.
func plainChrome(ua string, i int) bool {
	before := ua[:i]
	if !strings.HasSuffix(before, "(KHTML, like Gecko) ") && !strings.HasSuffix(before, "(KHTML, like Gecko) Version/4.0 ") {
		return false
	}
	rest := ua[i+len("Chrome/"):]
	_, rest, _ = strings.Cut(rest, " ") // the version
	for rest != "" {
		var tok string
		tok, rest, _ = strings.Cut(rest, " ")
		switch {
		case tok == "Mobile", strings.HasPrefix(tok, "Safari/"), strings.HasPrefix(tok, "Edg/"),
			strings.HasPrefix(tok, "EdgA/"), strings.HasPrefix(tok, "OPR/"):
		default:
			return false
		}
	}
	return true
}

// plainFirefox: the user agent ends "Gecko/<date or version> Firefox/<version>"
// (Firefox at i), as Firefox, its ESR, Tor Browser and LibreWolf send.
// Forks and platforms that keep an old Gecko and are maintained add tokens
// (KaiOS "KAIOS/2.5", Pale Moon "Goanna/… PaleMoon/…", SeaMonkey) and are
// not judged by the Firefox version.
func plainFirefox(ua string, i int) bool {
	for _, c := range ua[i+len("Firefox/"):] {
		if (c < '0' || c > '9') && c != '.' {
			return false
		}
	}
	before := strings.TrimSuffix(ua[:i], " ")
	if len(before) == len(ua[:i]) {
		return false
	}
	if j := strings.LastIndexByte(before, ' '); j >= 0 {
		before = before[j+1:]
	}
	return strings.HasPrefix(before, "Gecko/")
}

// iosVersion reads the iOS major version of an iPhone, iPad or iPod user
// agent ("CPU iPhone OS 17_5 like Mac OS X", "CPU OS 16_7 like Mac OS X").
// iPadOS Safari asks for desktop sites by default and sends a Macintosh user
// agent; that is Safari on macOS here.
func iosVersion(ua string) (int, bool) {
	if !strings.Contains(ua, "iPhone") && !strings.Contains(ua, "iPad") && !strings.Contains(ua, "iPod") {
		return 0, false
	}
	i := strings.Index(ua, " OS ")
	if i < 0 || !strings.Contains(ua[i:], " like Mac OS X") {
		return 0, false
	}
	return leadingInt(ua[i+len(" OS "):])
}

// leadingInt reads the decimal number s starts with (at most 5 digits).
func leadingInt(s string) (int, bool) {
	n, i := 0, 0
	for ; i < len(s) && i < 5 && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n, i > 0
}

// uaOS is the operating system a user agent names: "Windows", "macOS",
// "Linux", "Android", "Chrome OS", "iOS", or "" when it names none of
// these (smart TVs, BSDs, ...).
func uaOS(ua string) string {
	switch {
	case strings.Contains(ua, "iPhone") || strings.Contains(ua, "iPad") || strings.Contains(ua, "iPod"):
		return "iOS"
	case strings.Contains(ua, "Android"):
		return "Android"
	case strings.Contains(ua, "CrOS"):
		return "Chrome OS"
	case strings.Contains(ua, "Windows"):
		return "Windows"
	case strings.Contains(ua, "Macintosh"):
		return "macOS"
	case strings.Contains(ua, "Linux"):
		return "Linux"
	}
	return ""
}

// uaFamily names a user agent that is certainly not a Chromium browser:
// Firefox (a "Gecko/" token: Chromium says "like Gecko"), an iOS browser
// (all are WebKit, Chrome and Edge on iOS included) or Safari. "" for
// anything else, including user agents without a "Chrome/" token that may
// still be Chromium underneath (smart TVs).
func uaFamily(f *uaFacts) string {
	ua := f.ua
	if f.chrome >= 0 || strings.Contains(ua, "Chromium/") {
		return ""
	}
	switch {
	case strings.Contains(ua, "Gecko/") && strings.Contains(ua, "Firefox/"):
		return "Firefox"
	case strings.Contains(ua, "iPhone") || strings.Contains(ua, "iPad") || strings.Contains(ua, "iPod"):
		return "iOS"
	case strings.Contains(ua, "AppleWebKit/") && strings.Contains(ua, "Version/") && strings.Contains(ua, "Safari/"):
		return "Safari"
	}
	return ""
}

// clientHints judges the User-Agent Client Hints (Sec-CH-UA,
// Sec-CH-UA-Mobile, Sec-CH-UA-Platform) against the user agent. Only
// Chromium browsers send them (Chrome 89+, Edge, Opera, Brave, Samsung
// Internet, Android WebView 116+ when the app keeps the default user agent),
// and only to HTTPS origins: their absence proves nothing (plain-HTTP sites,
// other browsers, apps with their own user agent), so only what they say is
// judged.
func clientHints(r *Request, f *uaFacts, s *scorer) {
	ch := r.header("Sec-Ch-Ua")
	platform := r.header("Sec-Ch-Ua-Platform")
	if ch == "" && platform == "" {
		return
	}
	if fam := uaFamily(f); fam != "" {
		// Firefox and Safari have never sent client hints; neither has any
		// browser on iOS (WebKit). A Chromium browser whose user agent an
		// extension changed does send them: it is challenged, and passes.
		s.add(wDecides, familyPhrase[fam])
		return
	}
	if ch != "" {
		chromium, headless := brandsOf(ch)
		if headless {
			s.add(wIdentity, "client hints name HeadlessChrome")
		}
		// The "Chromium" brand's version is the engine's, which is the
		// Chrome/ version of the same browser's user agent (Chrome, Edge,
		// Opera, Brave, Samsung Internet, Yandex, WebView alike). Tools
		// that rotate user agents over a fixed set of headers break it.
		if chromium >= 0 && f.chromeV >= 0 && f.chromeV != chromium {
			s.add(wDecides, "client hints and user agent name different Chrome versions")
		}
	}
	if platform != "" {
		if why := platformMismatch(strings.Trim(platform, `"`), uaOS(f.ua), r.header("Sec-Ch-Ua-Mobile")); why != "" {
			s.add(wDecides, why)
		}
	}
}

var familyPhrase = map[string]string{
	"Firefox": "client hints, which only Chromium browsers send, with a Firefox user agent",
	"iOS":     "client hints, which only Chromium browsers send, with an iPhone or iPad user agent",
	"Safari":  "client hints, which only Chromium browsers send, with a Safari user agent",
}

// platformMismatch compares Sec-CH-UA-Platform with the user agent's
// operating system and says how they disagree, or "".
//
// Chrome's user agent reduction keeps the platform part honest: Windows 11
// still says "Windows NT 10.0", Android "Linux; Android 10; K", but the
// operating system is right. Two real cases say something else:
//   - "Request desktop site" on Android (Chrome, Samsung Internet, Edge;
//     the default on large tablets) sends a desktop user agent ("X11; Linux
//     x86_64", for some browsers Windows) with platform "Android" and
//     Sec-CH-UA-Mobile ?0. So Android with a desktop user agent is a
//     contradiction only when the hints also say mobile (?1).
//   - Chrome OS and Linux share a kernel and some builds say either, so
//     those two are not told apart.
func platformMismatch(platform, os, mobile string) string {
	if os == "" {
		return ""
	}
	ok := true
	switch platform {
	case "Windows":
		ok = os == "Windows"
	case "macOS":
		ok = os == "macOS"
	case "Linux":
		ok = os == "Linux" || os == "Android" || os == "Chrome OS"
	case "Chrome OS", "Chromium OS":
		ok = os == "Chrome OS" || os == "Linux"
	case "Android":
		ok = os == "Android" || os == "Linux" || os == "Chrome OS" || mobile != "?1"
	default:
		return "" // Unknown, Fuchsia, "" ...: nothing to compare
	}
	if ok {
		return ""
	}
	return mismatchPhrase[platform+"/"+os]
}

// mismatchPhrase holds every platform/user-agent disagreement's detail,
// built once so that judging allocates nothing.
var mismatchPhrase = func() map[string]string {
	m := map[string]string{}
	for _, p := range []string{"Windows", "macOS", "Linux", "Chrome OS", "Chromium OS", "Android"} {
		for _, o := range []string{"Windows", "macOS", "Linux", "Chrome OS", "Android", "iOS"} {
			m[p+"/"+o] = "client hints say " + p + ", user agent says " + o
		}
	}
	return m
}()

// brandsOf reads a Sec-CH-UA brand list (RFC 8941 list of strings with a v
// parameter: `"Chromium";v="131", "Not_A Brand";v="24"`) and returns the
// Chromium brand's major version (-1 when absent) and whether a brand is
// HeadlessChrome. Brands are quoted and may hold ';', '(' and the like
// (Chrome's GREASE brands), so the list is read quote by quote.
func brandsOf(v string) (chromium int, headless bool) {
	chromium = -1
	for v != "" {
		var brand, ver string
		var ok bool
		brand, v, ok = quoted(strings.TrimLeft(v, " \t,"))
		if !ok {
			return chromium, headless
		}
		// parameters up to the next comma outside quotes
		for {
			v = strings.TrimLeft(v, " \t")
			if !strings.HasPrefix(v, ";") {
				break
			}
			key, val, _ := strings.Cut(v[1:], "=")
			key = strings.TrimSpace(key)
			var p string
			p, v, ok = quoted(strings.TrimLeft(val, " \t"))
			if !ok {
				return chromium, headless
			}
			if key == "v" {
				ver = p
			}
		}
		switch brand {
		case "Chromium":
			if n, ok := leadingInt(ver); ok {
				chromium = n
			}
		case "HeadlessChrome":
			headless = true
		}
		v = strings.TrimLeft(v, " \t")
		if v != "" && v[0] != ',' {
			return chromium, headless // not a list we understand
		}
	}
	return chromium, headless
}

// quoted reads the RFC 8941 string s starts with, without its quotes (an
// escaped character is kept escaped: brands compared here have none), and
// the rest of s.
func quoted(s string) (str, rest string, ok bool) {
	if len(s) == 0 || s[0] != '"' {
		return "", s, false
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return s[1:i], s[i+1:], true
		}
	}
	return "", s, false
}

// fetchMetadata judges the Sec-Fetch-* headers (Chrome 76+, Edge, Opera,
// Firefox 90+, Safari 16.4+, to HTTPS origins only). Their absence proves
// nothing (plain HTTP, older Safari); contradictions between them do:
//   - a navigation (Sec-Fetch-Mode: navigate) loads a document, frame,
//     iframe, embed, object or fenced frame, never "empty", "script" ...;
//   - Sec-Fetch-User (?1, user-activated) is sent on navigations only;
//   - every browser that sends Sec-Fetch-Mode sends Sec-Fetch-Site with it
//     (Node.js's fetch sends Sec-Fetch-Mode: cors alone).
func fetchMetadata(r *Request, s *scorer) {
	mode := r.header("Sec-Fetch-Mode")
	if mode == "" {
		return
	}
	if mode == "navigate" {
		switch dest := r.header("Sec-Fetch-Dest"); dest {
		case "", "document", "iframe", "frame", "embed", "object", "fencedframe":
		default:
			s.add(wDecides, "Sec-Fetch-Mode: navigate with a Sec-Fetch-Dest that is not a page")
		}
	} else if r.header("Sec-Fetch-User") != "" {
		s.add(wDecides, "Sec-Fetch-User on a request that is not a navigation")
	}
	if r.header("Sec-Fetch-Site") == "" && len(r.Header["User-Agent"]) > 0 { // an absence: see absences
		s.add(wDecides, "Sec-Fetch-Mode without Sec-Fetch-Site")
	}
}

// fetchMetadataMissing: Chrome (76+) and Firefox (90+) send Sec-Fetch-Site,
// -Mode and -Dest on every request to an HTTPS origin, and advertise
// Brotli and Zstandard ("br", "zstd" in Accept-Encoding) to HTTPS origins
// only; browsers speak HTTP/2 and HTTP/3 over TLS only. So a request from a
// Chrome or Firefox user agent that the connection or its Accept-Encoding
// shows was HTTPS, yet carries no Sec-Fetch header at all, is a script that
// set a browser's user agent (and perhaps copied its other headers).
//
// Judged only for the plain user agents of Chrome, Edge, Opera, Brave
// (plainChrome) and Firefox, Tor Browser, LibreWolf (plainFirefox): Safari
// before 16.4 sends no Sec-Fetch headers; apps (Android WebView, in-app browsers) may fetch pages with their
// own HTTP client. And only when the request carries the visitor's header
// block (see absences) and nothing in between can have changed the
// protocol or Accept-Encoding the integration saw: see secureTransport.
func fetchMetadataMissing(r *Request, f *uaFacts, s *scorer) {
	if len(r.Header["User-Agent"]) == 0 || r.header("Sec-Fetch-Site") != "" || r.header("Sec-Fetch-Mode") != "" || r.header("Sec-Fetch-Dest") != "" || exempt(r) {
		return
	}
	var why string
	switch {
	case f.plainCh && !f.webview && f.chromeV >= minChrome:
		why = "Chrome over HTTPS without the Sec-Fetch headers it always sends"
	case f.plainFx && f.firefoxV >= minFirefox:
		why = "Firefox over HTTPS without the Sec-Fetch headers it always sends"
	default:
		return
	}
	if secureTransport(r) {
		s.add(wDecides, why)
	}
}

// navigationAccept: a page request (Upgrade-Insecure-Requests: 1, which
// browsers send on navigations only, or Sec-Fetch-Mode: navigate) carries
// the browser's own fixed Accept header. Chrome's lists image/apng and
// application/signed-exchange, which Firefox's never has (Mozilla never
// shipped signed exchanges): a script that rotates user agents over one
// copied header set sends Chrome's with a Firefox user agent. The other way
// round is not judged: Firefox's Accept is the Fetch standard's default for
// navigations, which Chrome may adopt at any time. Judged for the plain
// Firefox user agents only (see fetchMetadataMissing).
func navigationAccept(r *Request, f *uaFacts, s *scorer) {
	if !f.plainFx {
		return
	}
	accept := r.header("Accept")
	if accept == "" || (r.header("Upgrade-Insecure-Requests") != "1" && r.header("Sec-Fetch-Mode") != "navigate") {
		return
	}
	if strings.Contains(accept, "image/apng") || strings.Contains(accept, "application/signed-exchange") {
		s.add(wDecides, "a Firefox page request with Chrome's Accept header")
	}
}

// secureTransport: the visitor's request certainly came over HTTPS:
// HTTP/2 or HTTP/3 (which browsers speak over TLS only), or br or zstd in
// Accept-Encoding (which Chrome and Firefox advertise to HTTPS origins
// only). A CDN, load balancer or caching proxy in front of the web server
// speaks its own protocol to it and may rewrite Accept-Encoding
// (Cloudflare sends "gzip, br" whatever the visitor sent), so behind one
// (its headers in behindProxy) nothing is concluded. Headers that claim
// the visitor's scheme (X-Forwarded-Proto, CF-Visitor) are not read: a
// visitor can send them, and none of its X-Forwarded-* may change a
// verdict.
func secureTransport(r *Request) bool {
	for _, h := range behindProxy {
		if _, ok := r.Header[h]; ok {
			return false
		}
	}
	if r.Proto == "HTTP/2.0" || r.Proto == "HTTP/3.0" {
		return true
	}
	enc := r.header("Accept-Encoding")
	return strings.Contains(enc, "br") || strings.Contains(enc, "zstd")
}

// behindProxy are headers CDNs, cloud load balancers and caching proxies
// add on their way to the web server: Via (CloudFront, Google, Akamai,
// Varnish, Squid), CDN-Loop (Cloudflare, Fastly, RFC 8586), Cloudflare's
// CF-Ray, CloudFront's X-Amz-Cf-Id, AWS load balancers' X-Amzn-Trace-Id,
// Fastly-Client-IP, Akamai-Origin-Hop, Azure Front Door's X-Azure-Ref,
// Sucuri's X-Sucuri-ClientIP, Imperva's Incap-Client-IP, X-Varnish.
var behindProxy = []string{"Via", "Cdn-Loop", "Cf-Ray", "X-Amz-Cf-Id", "X-Amzn-Trace-Id", "Fastly-Client-Ip", "Akamai-Origin-Hop", "X-Azure-Ref", "X-Sucuri-Clientip", "Incap-Client-Ip", "X-Varnish"}

// absences judges headers every browser sends on every request: Accept,
// Accept-Language and Accept-Encoding (Chrome, Edge, Opera, Brave, Samsung
// Internet, Firefox, Tor Browser, Safari, and the Android and iOS WebViews
// of in-app browsers alike; Tor Browser and resistFingerprinting send
// "en-US,en;q=0.5"). Two kinds of browser request lack Accept or
// Accept-Language and are not judged: WebSocket handshakes (Chrome sends
// no Accept) and CORS preflights (OPTIONS).
//
// Absence is judged only when the request carries the visitor's header
// block, which Palisade recognises by the User-Agent header in it: every
// shipped integration forwards the whole block (nginx auth_request, Caddy
// forward_auth and Traefik forwardAuth pass every header of the original
// request; HAProxy sends req.hdrs_bin; Apache's FastCGI authorizer every
// HTTP_* variable; the BotGuard API the raw request; the BotBye SDKs the
// request's headers; the Go middleware and palisade proxy the request
// itself), and each takes the user agent from that block.
func absences(r *Request, s *scorer) {
	if len(r.Header["User-Agent"]) == 0 {
		return
	}
	accept, lang, enc := r.header("Accept"), r.header("Accept-Language"), r.header("Accept-Encoding")
	if lang == "*" {
		// Node.js's built-in fetch (undici) sends Accept-Language: *;
		// browsers send the user's languages.
		s.add(wIdentity, "Node.js fetch headers with a browser user agent (Accept-Language: *)")
	}
	if exempt(r) {
		return
	}
	if accept == "" {
		s.add(wDecides, "no Accept header")
	}
	if lang == "" {
		if lib := library(accept, enc); lib != "" {
			s.add(wIdentity, lib)
		} else {
			s.add(wDecides, "no Accept-Language header")
		}
	}
	if enc == "" {
		s.add(wWeak, "no Accept-Encoding header")
	}
}

// exempt: a WebSocket handshake (Sec-WebSocket-Key stays when a web server
// drops the hop-by-hop Upgrade) or a CORS preflight (OPTIONS with
// Access-Control-Request-Method, which every preflight carries), which
// browsers send with fewer headers than other requests. Another OPTIONS is
// judged: PHP applications answer it like a GET.
func exempt(r *Request) bool {
	return r.Method == "OPTIONS" && r.header("Access-Control-Request-Method") != "" || r.header("Sec-Websocket-Key") != "" || strings.EqualFold(r.header("Upgrade"), "websocket") || r.header("Sec-Fetch-Mode") == "websocket"
}

// library recognises the default headers of HTTP libraries (with a browser
// user agent set by the script, and no Accept-Language, which none of them
// sends), for the detail. Values as each library sends them by default:
//   - curl: Accept: */*, no Accept-Encoding (with --compressed: "deflate,
//     gzip[, br, zstd]");
//   - python-requests (and httpx, aiohttp): Accept: */*, Accept-Encoding:
//     "gzip, deflate[, br[, zstd]]";
//   - axios in Node.js: Accept: "application/json, text/plain, */*" (in a
//     browser axios sends the same Accept, but the browser adds
//     Accept-Language);
//   - Go's net/http: no Accept, Accept-Encoding: gzip.
func library(accept, enc string) string {
	switch {
	case accept == "" && enc == "gzip":
		return "Go net/http headers with a browser user agent"
	case accept == "*/*" && (enc == "" || strings.HasPrefix(enc, "deflate, gzip")):
		return "curl headers with a browser user agent"
	case accept == "*/*" && strings.HasPrefix(enc, "gzip, deflate"):
		return "python-requests headers with a browser user agent"
	case accept == "application/json, text/plain, */*":
		return "axios (Node.js) headers with a browser user agent"
	}
	return ""
}
