package engine

import (
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// headerCase is one request of testdata/headers/*.txt.
type headerCase struct {
	name, want string // want: the detail a suspicious request must give
	// byProtocol: suspicious only when the integration passes the
	// visitor's protocol on (a "by: protocol" line)
	byProtocol bool
	r          Request
}

// readHeaderCases reads blocks of "=== name", an optional "want: detail"
// and "by: protocol", the request line and the headers as sent on the wire.
func readHeaderCases(t testing.TB, file string) []headerCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "headers", file))
	if err != nil {
		t.Fatal(err)
	}
	var cases []headerCase
	var c *headerCase
	for n, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "=== "):
			cases = append(cases, headerCase{name: strings.TrimPrefix(line, "=== ")})
			c = &cases[len(cases)-1]
		case c == nil || strings.TrimSpace(line) == "":
		case strings.HasPrefix(line, "want: "):
			c.want = strings.TrimPrefix(line, "want: ")
		case line == "by: protocol":
			c.byProtocol = true
		case c.r.Method == "":
			f := strings.Fields(line)
			if len(f) != 3 {
				t.Fatalf("%s:%d: %q is not a request line", file, n+1, line)
			}
			path, query, _ := strings.Cut(f[1], "?")
			c.r = Request{IP: netip.MustParseAddr("198.51.100.7"), Method: f[0], Host: "shop.example.com", Path: path, Query: query, Proto: f[2], Header: http.Header{}}
		default:
			name, value, ok := strings.Cut(line, ": ")
			if !ok {
				t.Fatalf("%s:%d: %q is not a header", file, n+1, line)
			}
			c.r.Header.Add(name, value) // canonical names, as every adapter stores them
		}
	}
	for i := range cases {
		c := &cases[i]
		if c.r.Method == "" {
			t.Fatalf("%s: %q has no request", file, c.name)
		}
		c.r.UserAgent, c.r.Referer = c.r.Header.Get("User-Agent"), c.r.Header.Get("Referer")
		if c.r.UserAgent == "" {
			t.Fatalf("%s: %q has no User-Agent", file, c.name)
		}
	}
	return cases
}

// asSeen returns the ways the integrations hand one request to the engine:
// as sent; without the hop-by-hop headers and Host (nginx, Caddy, Traefik
// and the Go middleware drop them, Go's server moves Host out of the map);
// with the protocol unknown; with the protocol of the integration's own
// call (Caddy and Traefik forward auth, the BotBye API: HTTP/1.1).
func asSeen(r Request) map[string]*Request {
	clone := func() *Request {
		c := r
		c.Header = r.Header.Clone()
		return &c
	}
	proxied := clone()
	for _, h := range []string{"Connection", "Upgrade", "Keep-Alive", "Te", "Host"} {
		proxied.Header.Del(h)
	}
	unknown := clone()
	unknown.Proto = ""
	call := clone()
	call.Proto = "HTTP/1.1"
	return map[string]*Request{"as sent": clone(), "through a proxy": proxied, "protocol unknown": unknown, "forward-auth call's protocol": call}
}

// TestRealBrowsersPass: every current browser, privacy browser, in-app
// browser and older-but-supported iOS Safari is a human, however the
// integration passes the request on.
func TestRealBrowsersPass(t *testing.T) {
	cases := readHeaderCases(t, "browsers.txt")
	if len(cases) < 50 {
		t.Fatalf("browsers.txt holds %d requests; want at least 50", len(cases))
	}
	e, _ := newTestEngine(t, nil)
	p := load(t, e, Settings{})
	for _, c := range cases {
		for how, r := range asSeen(c.r) {
			if score, why := anomalies(r); score >= anomalyThreshold || score > 1 {
				t.Errorf("%s (%s): score %d (%q); a real browser must score at most 1", c.name, how, score, why)
			}
			if v := e.Decide(p, r); v.Category != Humans || v.Action != Grant {
				t.Errorf("%s (%s): %s %s %q; want a granted human", c.name, how, v.Action, v.Category, v.Detail)
			}
		}
	}
}

// TestImpostorsAreSuspicious: each request with a browser user agent that no
// browser sends is suspicious on its own, with the reason in plain words.
func TestImpostorsAreSuspicious(t *testing.T) {
	cases := readHeaderCases(t, "suspicious.txt")
	e, _ := newTestEngine(t, nil)
	p := load(t, e, Settings{})
	for _, c := range cases {
		if c.want == "" {
			t.Fatalf("%s: no want line", c.name)
		}
		for how, r := range asSeen(c.r) {
			if c.byProtocol && r.Proto != c.r.Proto {
				continue // judged by its protocol only when the integration knows it
			}
			score, why := anomalies(r)
			if score < anomalyThreshold || why != c.want {
				t.Errorf("%s (%s): score %d %q; want at least %d %q", c.name, how, score, why, anomalyThreshold, c.want)
			}
			if v := e.Decide(p, r); v.Category != SuspiciousBehaviour || v.Action != Challenge || v.Detail != c.want {
				t.Errorf("%s (%s): %s %s %q; want challenge suspicious_behaviour %q", c.name, how, v.Action, v.Category, v.Detail, c.want)
			}
		}
	}
}

// TestAbsenceNeedsTheHeaderBlock: missing headers count only when the
// request carries the visitor's header block (with its User-Agent); a
// caller that passes only the user agent is not judged on what it left out.
func TestAbsenceNeedsTheHeaderBlock(t *testing.T) {
	ua := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	for _, h := range []http.Header{nil, {}, {"X-Real-Ip": {"198.51.100.7"}}} {
		r := &Request{Method: "GET", Proto: "HTTP/2.0", UserAgent: ua, Header: h}
		if score, why := anomalies(r); score != 0 {
			t.Errorf("header %v: score %d %q; want 0", h, score, why)
		}
	}
	r := &Request{Method: "GET", Proto: "HTTP/1.1", UserAgent: ua, Header: http.Header{"User-Agent": {ua}}}
	if score, why := anomalies(r); score < anomalyThreshold || why != "no Accept header" {
		t.Errorf("a user agent alone: score %d %q; want suspicious, no Accept header", score, why)
	}
	// Sec-Fetch-Mode without Sec-Fetch-Site is an absence too.
	r = &Request{Method: "GET", Proto: "HTTP/2.0", UserAgent: ua, Header: http.Header{"Sec-Fetch-Mode": {"cors"}}}
	if score, why := anomalies(r); score != 0 {
		t.Errorf("Sec-Fetch-Mode without the header block: score %d %q; want 0", score, why)
	}
	// A contradiction between headers that are there counts whatever the
	// caller passed.
	r = &Request{Method: "GET", UserAgent: ua, Header: http.Header{"Sec-Ch-Ua-Platform": {`"macOS"`}}}
	if score, why := anomalies(r); score < anomalyThreshold || why != "client hints say macOS, user agent says Windows" {
		t.Errorf("platform contradiction without the header block: score %d %q", score, why)
	}
}

// TestSchemeClaimsChangeNothing: headers that claim the visitor's scheme
// (which a visitor can send, and which no X-Forwarded-* may use to change a
// verdict) leave every score as it was.
func TestSchemeClaimsChangeNothing(t *testing.T) {
	for _, file := range []string{"browsers.txt", "suspicious.txt"} {
		for _, c := range readHeaderCases(t, file) {
			want, why := anomalies(&c.r)
			for _, h := range []map[string]string{{"X-Forwarded-Proto": "https"}, {"X-Forwarded-Proto": "http"}, {"Cf-Visitor": `{"scheme":"https"}`}, {"Forwarded": "proto=https"}} {
				r := c.r
				r.Header = c.r.Header.Clone()
				for k, v := range h {
					r.Header.Set(k, v)
				}
				if got, gotWhy := anomalies(&r); got != want || gotWhy != why {
					t.Errorf("%s with %v: score %d %q; without %d %q", c.name, h, got, gotWhy, want, why)
				}
			}
		}
	}
}

func TestOutdatedThresholds(t *testing.T) {
	chrome := func(v string) string {
		return "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" + v + " Safari/537.36"
	}
	for _, c := range []struct{ ua, want string }{
		{chrome("99.0.4844.84"), "outdated browser: Chrome older than 100"},
		{chrome("100.0.4896.60"), ""},
		{chrome("131.0.0.0"), ""},
		{chrome("99.0.4844.84") + " Edg/99.0.1150.55", "outdated browser: Chrome older than 100"},
		{chrome("95.0.4638.69") + " OPR/81.0.4196.60", "outdated browser: Chrome older than 100"},
		{"Mozilla/5.0 (Linux; Android 5.1.1; SM-J111F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/95.0.4638.74 Mobile Safari/537.36", "outdated browser: Chrome older than 100"},
		// maintained browsers on an older Chromium add tokens of their own
		{chrome("99.0.4844.88") + " HuaweiBrowser/14.0.0.300", ""},
		{"Mozilla/5.0 (Linux; Android 11; M2101K6G) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/89.0.4389.116 Mobile Safari/537.36 XiaoMi/MiuiBrowser/14.5.10", ""},
		{"Mozilla/5.0 (Linux; Android 10; SM-G973F) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/17.0 Chrome/96.0.4664.104 Mobile Safari/537.36", ""},
		{"Mozilla/5.0 (Linux; Android 12; V2111A Build/SP1A.210812.003; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/89.0.4389.72 MQQBrowser/6.2 TBS/046295 Mobile Safari/537.36 MMWEBID/1234 MicroMessenger/8.0.30", ""},
		// Android WebView (updatable since Android 5)
		{"Mozilla/5.0 (Linux; Android 6.0; LG-K430 Build/MRA58K; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/95.0.4638.74 Mobile Safari/537.36", ""},
		{"Mozilla/5.0 (Linux; Android 5.1.1; SM-G530H Build/LMY48B; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/79.0.3945.93 Mobile Safari/537.36", "outdated browser: Android WebView older than 80"},
		{"Mozilla/5.0 (Linux; Android 5.1.1; SM-G530H Build/LMY48B; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/80.0.3987.99 Mobile Safari/537.36", ""},
		{"Mozilla/5.0 (Windows NT 6.1; rv:90.0) Gecko/20100101 Firefox/90.0", "outdated browser: Firefox older than 91"},
		{"Mozilla/5.0 (Windows NT 6.1; rv:91.0) Gecko/20100101 Firefox/91.0", ""},
		{"Mozilla/5.0 (Android 9; Mobile; rv:68.0) Gecko/68.0 Firefox/68.0", "outdated browser: Firefox older than 91"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:102.0) Gecko/20100101 Goanna/6.5 Firefox/102.0 PaleMoon/33.0.0", ""},
		{"Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:68.0) Gecko/20100101 Goanna/4.8 Firefox/68.0 PaleMoon/28.16.0", ""},
		{"Mozilla/5.0 (Mobile; Nokia_8110_4G; rv:48.0) Gecko/48.0 Firefox/48.0 KAIOS/2.5", ""},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_12_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.1.2 Safari/605.1.15", "outdated browser: Safari older than 13"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_13_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.2 Safari/605.1.15", ""},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 11_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/11.0 Mobile/15E148 Safari/604.1", "outdated browser: iOS older than 12"},
		{"Mozilla/5.0 (iPad; CPU OS 9_3_5 like Mac OS X) AppleWebKit/601.1.46 (KHTML, like Gecko) Version/9.0 Mobile/13G36 Safari/601.1", "outdated browser: iOS older than 12"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 12_5_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.1.2 Mobile/15E148 Safari/604.1", ""},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 11_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/200.0.0.0]", "outdated browser: iOS older than 12"},
		{"Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 10.0; WOW64; Trident/7.0; ms-office; MSOffice 16)", "outdated browser: Internet Explorer"},
		{"Opera/9.64 (Windows NT 5.1; U; en) Presto/2.1.1", "outdated browser: Opera 12 or older (Presto)"},
		{"Opera/9.80 (J2ME/MIDP; Opera Mini/9.80 (S60; SymbOS; Opera Mobi/23.348; U; en) Presto/2.5.25 Version/10.54", ""},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/90.0.4430.93 Safari/537.36", ""}, // a signature's, not judged here
	} {
		f := factsOf(c.ua)
		if got := outdated(&f); got != c.want {
			t.Errorf("%s: %q; want %q", c.ua, got, c.want)
		}
	}
}

func TestPlatformMismatch(t *testing.T) {
	for _, c := range []struct {
		platform, os, mobile string
		bad                  bool
	}{
		{"Windows", "Windows", "?0", false},
		{"Windows", "Linux", "?0", true},
		{"Windows", "Android", "?1", true},
		{"macOS", "macOS", "?0", false},
		{"macOS", "Windows", "?0", true},
		{"Linux", "Linux", "?0", false},
		{"Linux", "Android", "?1", false},
		{"Linux", "Windows", "?0", true},
		{"Chrome OS", "Chrome OS", "?0", false},
		{"Chrome OS", "Linux", "?0", false},
		{"Chrome OS", "macOS", "?0", true},
		{"Android", "Android", "?1", false},
		{"Android", "Linux", "?0", false},   // "Request desktop site"
		{"Android", "Windows", "?0", false}, // desktop mode with a Windows user agent
		{"Android", "Windows", "?1", true},
		{"Android", "macOS", "?1", true},
		{"Android", "iOS", "?1", true},
		{"Unknown", "Windows", "?0", false},
		{"", "Windows", "?0", false},
		{"Windows", "", "?0", false}, // a user agent that names no system (smart TVs)
	} {
		got := platformMismatch(c.platform, c.os, c.mobile)
		if (got != "") != c.bad {
			t.Errorf("platform %q, user agent %q, mobile %s: %q; want a contradiction: %v", c.platform, c.os, c.mobile, got, c.bad)
		}
		if c.bad && got != "client hints say "+c.platform+", user agent says "+c.os {
			t.Errorf("platform %q, user agent %q: detail %q", c.platform, c.os, got)
		}
	}
}

func TestBrandsOf(t *testing.T) {
	for _, c := range []struct {
		in       string
		chromium int
		headless bool
	}{
		{`"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"`, 131, false},
		{`"Not)A;Brand";v="8", "Chromium";v="138", "Google Chrome";v="138"`, 138, false},
		{`"Chromium";v="130", "Opera";v="115", "Not?A_Brand";v="99"`, 130, false},
		{`"Not A(Brand";v="99","Chromium";v="122"`, 122, false},
		{`" Not;A Brand";v="99", "Chromium";v="99", "HeadlessChrome";v="99"`, 99, true},
		{`"Samsung Internet";v="27.0", "Chromium";v="125", "Not.A/Brand";v="24"`, 125, false},
		{`"Brand \"x\"";v="1", "Chromium";v="120"`, 120, false},
		{`"Google Chrome";v="131"`, -1, false},
		{`Chromium;v=131`, -1, false},
		{`"Chromium";v="`, -1, false},
		{`"Chromium";v="131" garbage, "HeadlessChrome";v="131"`, 131, false},
		{``, -1, false},
	} {
		chromium, headless := brandsOf(c.in)
		if chromium != c.chromium || headless != c.headless {
			t.Errorf("%s: Chromium %d, headless %v; want %d, %v", c.in, chromium, headless, c.chromium, c.headless)
		}
	}
}

// TestAnomaliesAllocateNothing: Decide allocates nothing (ARCHITECTURE.md),
// for browsers and impostors alike.
func TestAnomaliesAllocateNothing(t *testing.T) {
	for _, file := range []string{"browsers.txt", "suspicious.txt"} {
		for _, c := range readHeaderCases(t, file) {
			r := c.r
			if n := testing.AllocsPerRun(20, func() { anomalies(&r) }); n != 0 {
				t.Errorf("%s: %v allocations", c.name, n)
			}
		}
	}
}

// BenchmarkAnomalies judges a current Chrome's full header set (the common
// case) and a few impostors.
func BenchmarkAnomalies(b *testing.B) {
	byName := map[string]Request{}
	for _, file := range []string{"browsers.txt", "suspicious.txt"} {
		for _, c := range readHeaderCases(b, file) {
			byName[c.name] = c.r
		}
	}
	for _, name := range []string{
		"Chrome 131 Windows, navigation over HTTP/2",
		"Safari 18.1 macOS",
		"Facebook in-app browser, Android (WebView with client hints)",
		"python-requests with a Chrome user agent",
		"Firefox user agent with Chrome's client hints",
	} {
		r, ok := byName[name]
		if !ok {
			b.Fatalf("no request %q", name)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				anomalies(&r)
			}
		})
	}
}
