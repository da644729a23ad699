package botguard_test

// Wire compatibility with BotGuard's own clients (issue 17), written from
// the published wire format of BotGuard's PHP API connector (1.1.x,
// "BotGuard API 2.1") and the WordPress plugin built on it:
//
//   - The connector POSTs /v2.1/check with the headers BG-RemoteAddr,
//     BG-RemotePort, BG-ConnAddr (always 127.0.0.1), BG-SSLProto when the
//     visitor came over TLS, and Content-Type: text/plain; it sends no key,
//     so Palisade finds the website by the raw request's Host, which it
//     allows only from a --web-server address. The body is the visitor's
//     request line, its headers as PHP's getallheaders() returns them, and
//     only when the visitor sent a body a blank line and that body: a
//     request without a body ends after its last header line.
//   - It reads an answer only when its status is 200 or 403; anything else
//     (or no answer) gives no profile, and the plugin then serves the page
//     (fails open).
//   - It splits the answer's header block into lines, each at the first
//     ':', both sides trimmed, into an array keyed by the exact name, the
//     last line of a name winning. The mitigation is the value of
//     exactly "BG-X-Mitigation" (missing: grant), the redirect target of
//     exactly "BG-Location", the reason of exactly "BG-X-Reason": a
//     "Bg-X-Mitigation" is not seen at all.
//   - deny (and return_fake_data) → 403; challenge → 403 with the answer's
//     body, and every header whose name starts with "BG-" but not "BG-X-"
//     sent to the visitor without that prefix; redirect and captcha → 302
//     to BG-Location.
//
// Go's HTTP client canonicalises header names, so these tests talk raw
// TCP and check the bytes.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"github.com/palisadehq/palisade/internal/testenv/rawhttp"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/api/botguard"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/protect"
	"github.com/palisadehq/palisade/internal/testenv"
)

// connectorUA is what the connector's curl handle sends as its own agent.
const connectorUA = "Mozilla/5.0 (compatible; php/1.1.2; +https://botguard.net/humans.txt)"

// rawExchange writes req to addr and returns every byte of the answer (the
// request asks the server to close the connection after it).
func rawExchange(t *testing.T, addr, req string) string {
	t.Helper()
	return string(rawhttp.Exchange(t, addr, []byte(req)))
}

// checkRequest is the connector's POST /v2.1/check, byte for byte as curl
// sends it (plus Connection: close so the test can read to the end).
// extra are header lines added before Content-Type.
func checkRequest(host, path string, raw string, extra ...string) string {
	var b strings.Builder
	b.WriteString("POST " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: " + connectorUA + "\r\nAccept: */*\r\nAccept-Encoding: gzip\r\nConnection: close\r\n")
	for _, e := range extra {
		b.WriteString(e + "\r\n")
	}
	b.WriteString("Content-Type: text/plain\r\nContent-Length: " + strconv.Itoa(len(raw)) + "\r\n\r\n" + raw)
	return b.String()
}

// visitor is a raw request as the connector builds it: request line,
// getallheaders() lines, and a blank line and the body only with a body.
func visitor(method, uri, proto string, headers []string, body string) string {
	s := method + " " + uri + " " + proto + "\r\n"
	for _, h := range headers {
		s += h + "\r\n"
	}
	if body != "" {
		s += "\r\n" + body
	}
	return s
}

func browser(host string) []string {
	return []string{"Host: " + host, "User-Agent: " + testenv.ChromeUA, "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7", "Sec-Fetch-Site: none", "Sec-Fetch-Mode: navigate", "Sec-Fetch-Dest: document", "Accept-Language: en-US,en;q=0.9", "Accept-Encoding: gzip, deflate, br"}
}

// answer is an answer as the connector sees it.
type answer struct {
	raw     string
	status  int
	headers map[string]string // exact names, last wins, as Profile builds it
	body    string
}

// mitigation is Profile::getMitigation(): exactly BG-X-Mitigation, else grant.
func (a answer) mitigation() string {
	if v, ok := a.headers["BG-X-Mitigation"]; ok {
		return v
	}
	return "grant"
}

// profile reports whether the connector makes a profile of the answer at
// all (200 or 403); without one the plugin serves the page.
func (a answer) profile() bool { return a.status == 200 || a.status == 403 }

// forwarded is what Profile::challenge() sends the visitor: every BG-
// header but BG-X-, without the prefix.
func (a answer) forwarded() map[string]string {
	out := map[string]string{}
	for k, v := range a.headers {
		if strings.HasPrefix(k, "BG-") && !strings.Contains(k, "BG-X-") {
			out[k[3:]] = v
		}
	}
	return out
}

func parseAnswer(t *testing.T, raw string) answer {
	t.Helper()
	// A 100 Continue comes first when the connector's curl sent Expect.
	for strings.HasPrefix(raw, "HTTP/1.1 100 ") {
		_, raw, _ = strings.Cut(raw, "\r\n\r\n")
	}
	head, _, ok := strings.Cut(raw, "\r\n\r\n")
	if !ok {
		t.Fatalf("answer without a header block: %q", raw)
	}
	a := answer{raw: raw, headers: map[string]string{}}
	for _, line := range strings.Split(head, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if name, value, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "HTTP/") {
			a.headers[strings.TrimSpace(name)] = strings.TrimSpace(value)
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("answer is not HTTP: %v\n%s", err, raw)
	}
	body, _ := io.ReadAll(resp.Body)
	a.status, a.body = resp.StatusCode, string(body)
	return a
}

// hasLine says whether the answer's header block holds exactly this line.
func hasLine(raw, line string) bool {
	head, _, _ := strings.Cut(raw, "\r\n\r\n")
	return strings.Contains(head+"\r\n", "\r\n"+line+"\r\n")
}

type compatSite struct {
	pal       *testenv.Stack
	key       string
	webServer string // serves keyless checks to loopback (listed with --web-server)
	stranger  string // lists 192.0.2.0/24 only: the test client is no web server
}

func newCompatSite(t *testing.T) compatSite {
	pal := testenv.New(t)
	w := pal.Website(t, "shop.example.com", engine.Settings{
		Deny: []string{"198.51.100.0/24"},
		Rules: []engine.Rule{
			{Name: "Moved", Action: "redirect", Location: "https://new.example.net/shop?from=old",
				Conditions: []engine.Condition{{Field: "path", Op: "is", Value: "/old"}}},
			{Name: "Check login", Action: "challenge", Conditions: []engine.Condition{{Field: "path", Op: "is", Value: "/login"}}},
			{Name: "Captcha signup", Action: "captcha", Conditions: []engine.Condition{{Field: "path", Op: "is", Value: "/signup"}}},
		},
	})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	serve := func(ws protect.Trusted) string {
		mux := http.NewServeMux()
		botguard.New(pal.Protector, ws, log).Register(mux, func(_ string, h http.Handler) http.Handler { return h })
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		return srv.Listener.Addr().String()
	}
	return compatSite{pal: pal, key: w.ServerKey, webServer: serve(protect.Loopback),
		stranger: serve(protect.Trusted{netip.MustParsePrefix("192.0.2.0/24")})}
}

// TestConnectorReadsExactHeaderNames is issue 17 item 1: every BG- header
// of an answer is spelled exactly as BotGuard spells it (not Go's
// canonical Bg-X-Mitigation), so the connector sees deny, redirect and
// challenge, and a challenge carries the page's headers as BG-<Name>.
func TestConnectorReadsExactHeaderNames(t *testing.T) {
	s := newCompatSite(t)
	connector := []string{"BG-RemoteAddr: 203.0.113.5", "BG-RemotePort: 51234", "BG-ConnAddr: 127.0.0.1", "BG-SSLProto: TLSv1.3"}
	ask := func(remote, uri string) answer {
		t.Helper()
		hd := append([]string{"BG-RemoteAddr: " + remote}, connector[1:]...)
		return parseAnswer(t, rawExchange(t, s.webServer, checkRequest(s.webServer, "/v2.1/check", visitor("GET", uri, "HTTP/1.1", browser("shop.example.com"), ""), hd...)))
	}

	a := ask("203.0.113.5", "/")
	if a.status != 200 || a.mitigation() != "grant" || !hasLine(a.raw, "BG-X-Mitigation: grant") {
		t.Fatalf("a browser: %d, connector sees %q\n%s", a.status, a.mitigation(), a.raw)
	}

	a = ask("198.51.100.7", "/")
	if a.status != 403 || !hasLine(a.raw, "BG-X-Mitigation: deny") || a.mitigation() != "deny" || a.headers["BG-X-Reason"] == "" {
		t.Fatalf("deny list: %d, connector sees %q\n%s", a.status, a.mitigation(), a.raw)
	}

	a = ask("203.0.113.5", "/old")
	if a.mitigation() != "redirect" || !hasLine(a.raw, "BG-Location: https://new.example.net/shop?from=old") || !hasLine(a.raw, "BG-X-Reason: Moved") {
		t.Fatalf("redirect rule: connector sees %q, location %q\n%s", a.mitigation(), a.headers["BG-Location"], a.raw)
	}

	for _, uri := range []string{"/login", "/signup"} {
		a = ask("203.0.113.5", uri)
		// Palisade's captcha is a page, not a URL: BotGuard's clients
		// redirect a captcha to BG-Location, so it is answered as challenge.
		if a.status != 403 || a.mitigation() != "challenge" || !hasLine(a.raw, "BG-X-Mitigation: challenge") {
			t.Fatalf("%s: %d, connector sees %q\n%s", uri, a.status, a.mitigation(), a.raw)
		}
		fw := a.forwarded()
		if fw["Content-Type"] != "text/html; charset=utf-8" || fw["Cache-Control"] != "no-store" || !strings.Contains(fw["Content-Security-Policy"], "script-src 'nonce-") {
			t.Fatalf("%s: the connector forwards %v to the visitor\n%s", uri, fw, a.raw)
		}
		if _, ok := fw["Location"]; ok {
			t.Fatalf("%s: a challenge must not carry BG-Location (the connector would send it as Location)", uri)
		}
		if !strings.Contains(a.body, "<html") || !strings.Contains(a.body, "nonce=") {
			t.Fatalf("%s: the body is not the challenge page: %.200q", uri, a.body)
		}
	}

	// Bad input: BG-X-Error as BotGuard spells it; not 200/403, so the
	// connector gives no profile and the site serves the page.
	raw := rawExchange(t, s.webServer, checkRequest(s.webServer, "/v2.1/check", visitor("GET", "/", "HTTP/1.1", browser("shop.example.com"), ""), "BG-RemotePort: 1"))
	a = parseAnswer(t, raw)
	if a.status != 400 || a.profile() || !hasLine(raw, "BG-X-Error: BG-RemoteAddr must be the client's IP address") {
		t.Fatalf("without BG-RemoteAddr: %d\n%s", a.status, raw)
	}
	for _, r := range []string{raw, ask("198.51.100.7", "/").raw, ask("203.0.113.5", "/old").raw, ask("203.0.113.5", "/login").raw} {
		head, _, _ := strings.Cut(r, "\r\n\r\n")
		if strings.Contains(head, "\nBg-") {
			t.Fatalf("a canonicalised Bg- header name:\n%s", head)
		}
	}
}

// TestConnectorRequestShapes sends what the connector sends for the
// requests a PHP site sees: HTTP/2 visitors (SERVER_PROTOCOL HTTP/2.0,
// lower-case header names), POSTs with a body, a Content-Type with a
// charset, chunked and gzip bodies, Expect: 100-continue (curl sends it
// for bodies over 1 KiB), BG- headers Palisade does not know.
func TestConnectorRequestShapes(t *testing.T) {
	s := newCompatSite(t)
	hd := []string{"BG-RemoteAddr: 203.0.113.5", "BG-RemotePort: 443", "BG-ConnAddr: 127.0.0.1"}
	expect := func(name, raw, want string) {
		t.Helper()
		a := parseAnswer(t, raw)
		if a.mitigation() != want || !hasLine(raw, "BG-X-Mitigation: "+want) {
			t.Fatalf("%s: connector sees %q, want %q\n%s", name, a.mitigation(), want, raw)
		}
	}
	h2 := []string{"host: shop.example.com", "user-agent: " + testenv.ChromeUA, "accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7", "sec-fetch-site: none", "sec-fetch-mode: navigate", "sec-fetch-dest: document", "accept-language: de-DE,de;q=0.9", "accept-encoding: gzip, br"}
	expect("HTTP/2 visitor", rawExchange(t, s.webServer, checkRequest(s.webServer, "/v2.1/check", visitor("GET", "/old?x=1", "HTTP/2.0", h2, ""), hd...)), "redirect")
	expect("HTTP/3 visitor", rawExchange(t, s.webServer, checkRequest(s.webServer, "/v2.1/check", visitor("GET", "/", "HTTP/3.0", h2, ""), hd...)), "grant")

	post := visitor("POST", "/login", "HTTP/1.1", append(browser("shop.example.com"), "Content-Type: application/x-www-form-urlencoded", "Content-Length: 19"), "user=a&password=b%2")
	expect("POST with a body", rawExchange(t, s.webServer, checkRequest(s.webServer, "/v2.1/check", post, hd...)), "challenge")

	get := visitor("GET", "/", "HTTP/1.1", browser("shop.example.com"), "")
	bad := []string{"BG-RemoteAddr: 198.51.100.9", "BG-RemotePort: 1", "BG-ConnAddr: 127.0.0.1"}
	expect("charset", rawExchange(t, s.webServer, strings.Replace(checkRequest(s.webServer, "/v2.1/check", get, bad...), "Content-Type: text/plain", "Content-Type: text/plain; charset=UTF-8", 1)), "deny")
	expect("unknown BG- headers", rawExchange(t, s.webServer, checkRequest(s.webServer, "/v2.1/check", get, append(bad, "BG-Future-Thing: 1", "BG-X-Whatever: y")...)), "deny")

	// Chunked: the raw request in two chunks.
	half := len(get) / 2
	chunked := "POST /v2.1/check HTTP/1.1\r\nHost: x\r\nUser-Agent: " + connectorUA + "\r\nConnection: close\r\nBG-RemoteAddr: 198.51.100.9\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n" +
		fmt.Sprintf("%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n", half, get[:half], len(get)-half, get[half:])
	expect("chunked", rawExchange(t, s.webServer, chunked), "deny")

	// gzip (Content-Encoding) with the key, from anywhere.
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte(get))
	zw.Close()
	gz := "POST /v2.1/check HTTP/1.1\r\nHost: x\r\nConnection: close\r\nBG-Key: " + s.key + "\r\nBG-RemoteAddr: 198.51.100.9\r\nContent-Encoding: gzip\r\nContent-Length: " + strconv.Itoa(z.Len()) + "\r\n\r\n" + z.String()
	expect("gzip with the key", rawExchange(t, s.stranger, gz), "deny")

	// Expect: 100-continue, as curl sends a body over 1 KiB.
	big := visitor("GET", "/old", "HTTP/1.1", append(browser("shop.example.com"), "Cookie: "+strings.Repeat("a", 2000)), "")
	head := strings.TrimSuffix(checkRequest(s.webServer, "/v2.1/check", big, append(hd, "Expect: 100-continue")...), big)
	c, err := net.Dial("tcp", s.webServer)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, head)
	br := bufio.NewReader(c)
	line, _ := br.ReadString('\n')
	if !strings.HasPrefix(line, "HTTP/1.1 100 Continue") {
		t.Fatalf("Expect: 100-continue answered %q", line)
	}
	br.ReadString('\n')
	io.WriteString(c, big)
	rest, _ := io.ReadAll(br)
	expect("Expect: 100-continue", string(rest), "redirect")
}

// TestUnknownWebsiteFailsOpen: BotGuard's clients serve the page when the
// answer is not 200/403 or carries no mitigation. An unknown Host from a
// web server is a grant that says why; a wrong key, or no key from an
// address that is not a --web-server (issue 16), is 401 with BG-X-Error:
// the connector makes no profile of it and the site serves the page.
func TestUnknownWebsiteFailsOpen(t *testing.T) {
	s := newCompatSite(t)
	hd := []string{"BG-RemoteAddr: 198.51.100.9", "BG-RemotePort: 1", "BG-ConnAddr: 127.0.0.1"}

	raw := rawExchange(t, s.webServer, checkRequest(s.webServer, "/v2.1/check", visitor("GET", "/", "HTTP/1.1", browser("elsewhere.example.org"), ""), hd...))
	a := parseAnswer(t, raw)
	if a.status != 200 || a.mitigation() != "grant" || !hasLine(raw, "BG-X-Reason: unknown website") {
		t.Fatalf("unknown Host from a web server: %d %q\n%s", a.status, a.mitigation(), raw)
	}

	raw = rawExchange(t, s.stranger, checkRequest(s.stranger, "/v2.1/check", visitor("GET", "/", "HTTP/1.1", browser("shop.example.com"), ""), hd...))
	a = parseAnswer(t, raw)
	if a.status != 401 || a.profile() || a.mitigation() != "grant" || !strings.Contains(a.headers["BG-X-Error"], "--web-server") {
		t.Fatalf("keyless from a non-web-server: %d\n%s", a.status, raw)
	}

	raw = rawExchange(t, s.stranger, checkRequest(s.stranger, "/v2.1/check", visitor("GET", "/", "HTTP/1.1", browser("shop.example.com"), ""), append(hd, "BG-Key: sk_wrong")...))
	a = parseAnswer(t, raw)
	if a.status != 401 || a.profile() || !hasLine(raw, "BG-X-Error: unknown server key") {
		t.Fatalf("wrong key: %d\n%s", a.status, raw)
	}
}

// TestCheckWithTrailingSlash: the whole server answers /v2.1/check/ and
// //v2.1/check as /v2.1/check (a redirect or a 404 would be no profile to
// the connector: every request served).
func TestCheckWithTrailingSlash(t *testing.T) {
	s := newCompatSite(t)
	get := visitor("GET", "/", "HTTP/1.1", browser("shop.example.com"), "")
	for _, p := range []string{"/v2.1/check/", "//v2.1/check"} {
		raw := rawExchange(t, s.pal.Addr, checkRequest(s.pal.Addr, p, get, "BG-Key: "+s.key, "BG-RemoteAddr: 198.51.100.7"))
		if a := parseAnswer(t, raw); a.status != 403 || !hasLine(raw, "BG-X-Mitigation: deny") {
			t.Fatalf("%s: %d\n%s", p, a.status, raw)
		}
	}
}

// TestLargeBodyIsStillJudged: the connector sends the visitor's whole
// body. A visitor must not escape the verdict by sending more than
// MaxBody of it (a 413 is no profile to the connector: served): the
// request line and headers are judged and the rest is read and dropped.
// Only headers beyond MaxBody are refused.
func TestLargeBodyIsStillJudged(t *testing.T) {
	s := newCompatSite(t)
	hd := []string{"BG-RemoteAddr: 198.51.100.7", "BG-RemotePort: 1", "BG-ConnAddr: 127.0.0.1"}
	pad := strings.Repeat("x", botguard.MaxBody+100_000)
	post := visitor("POST", "/upload", "HTTP/1.1", append(browser("shop.example.com"), "Content-Type: application/octet-stream", "Content-Length: "+strconv.Itoa(len(pad))), pad)
	raw := rawExchange(t, s.webServer, checkRequest(s.webServer, "/v2.1/check", post, hd...))
	if a := parseAnswer(t, raw); a.status != 403 || a.mitigation() != "deny" {
		t.Fatalf("a body over MaxBody: %d %q\n%.600s", a.status, a.mitigation(), raw)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte(post))
	zw.Close()
	gz := "POST /v2.1/check HTTP/1.1\r\nHost: x\r\nConnection: close\r\nBG-RemoteAddr: 198.51.100.7\r\nContent-Encoding: gzip\r\nContent-Length: " + strconv.Itoa(z.Len()) + "\r\n\r\n" + z.String()
	if raw := rawExchange(t, s.webServer, gz); !hasLine(raw, "BG-X-Mitigation: deny") {
		t.Fatalf("gzip, over MaxBody once decompressed: %.600s", raw)
	}
	// Apache passes up to 100 header lines of 8 KiB, and getallheaders()
	// gives them all: still judged.
	many := browser("shop.example.com")
	for i := 0; i < 100; i++ {
		many = append(many, fmt.Sprintf("X-Pad-%d: %s", i, strings.Repeat("a", 8000)))
	}
	raw = rawExchange(t, s.webServer, checkRequest(s.webServer, "/v2.1/check", visitor("GET", "/", "HTTP/1.1", many, ""), hd...))
	if a := parseAnswer(t, raw); a.status != 403 || a.mitigation() != "deny" {
		t.Fatalf("800 KB of headers: %d %q\n%.600s", a.status, a.mitigation(), raw)
	}
	huge := visitor("GET", "/", "HTTP/1.1", append(browser("shop.example.com"), "Cookie: "+pad), "")
	raw = rawExchange(t, s.webServer, checkRequest(s.webServer, "/v2.1/check", huge, hd...))
	if a := parseAnswer(t, raw); a.status != 413 || !strings.Contains(a.headers["BG-X-Error"], "headers") {
		t.Fatalf("headers over MaxBody: %d\n%.600s", a.status, raw)
	}
}

// TestOddVisitorRequestsStillJudged: whatever a visitor sends that the
// web server passes on, the connector copies into the raw request, and an
// answer other than 200/403 serves the page. So a raw request that Go's
// strict HTTP parser refuses (control characters in a header, two
// Content-Lengths, an unknown Transfer-Encoding, two Hosts, "HTTP/2", a
// space in the target) is still judged.
// firewallObjects are the odd requests the website firewall denies at its
// default paranoia 1: CRS's method and protocol-enforcement rules (911,
// 920: a Content-Length that is not a number or on a GET, a GET with a
// Transfer-Encoding, a method not allowed).
var firewallObjects = map[string]bool{"two Content-Lengths": true, "bad Content-Length": true, "unknown Transfer-Encoding": true, "long method": true}

func TestOddVisitorRequestsStillJudged(t *testing.T) {
	s := newCompatSite(t)
	hd := []string{"BG-RemoteAddr: 203.0.113.5", "BG-RemotePort: 1", "BG-ConnAddr: 127.0.0.1"}
	for _, c := range []struct {
		name, proto, uri string
		extra            []string
	}{
		{"control character", "HTTP/1.1", "/old", []string{"X-Evil: a\x01b\x7fc"}},
		{"two Content-Lengths", "HTTP/1.1", "/old", []string{"Content-Length: 5", "Content-Length: 6"}},
		{"bad Content-Length", "HTTP/1.1", "/old", []string{"Content-Length: abc"}},
		{"unknown Transfer-Encoding", "HTTP/1.1", "/old", []string{"Transfer-Encoding: gzip, chunked"}},
		{"two Hosts", "HTTP/1.1", "/old", []string{"Host: shop.example.com"}},
		{"HTTP/2 without minor", "HTTP/2", "/old", nil},
		{"space in the target", "HTTP/1.1", "/old?q=a b", nil},
		{"empty header name", "HTTP/1.1", "/old", []string{": x"}},
		{"long method", "HTTP/1.1", "/old", []string{"X-Evil: \x01"}},
	} {
		method := "GET"
		if c.name == "long method" {
			method = strings.Repeat("M", 64)
		}
		// Judged: the redirect rule on /old, or, for what CRS's protocol
		// rules object to, the website firewall's deny; never an error
		// that serves the page. The firewall judges only what would be
		// served (docs/WAF.md), so its cases ask a path no rule refuses.
		uri, want, reason := c.uri, "redirect", "Moved"
		if firewallObjects[c.name] {
			uri, want, reason = strings.Replace(c.uri, "/old", "/shop", 1), "deny", "waf"
		}
		raw := rawExchange(t, s.webServer, checkRequest(s.webServer, "/v2.1/check", visitor(method, uri, c.proto, append(browser("shop.example.com"), c.extra...), ""), hd...))
		if a := parseAnswer(t, raw); a.status != 403 || a.mitigation() != want || a.headers["BG-X-Reason"] != reason {
			t.Errorf("%s: %d %q %q, want %s (%s)\n%.600s", c.name, a.status, a.mitigation(), a.headers["BG-X-Reason"], want, reason, raw)
		}
	}
	// Not a request at all is still refused, with the reason.
	raw := rawExchange(t, s.webServer, checkRequest(s.webServer, "/v2.1/check", "hello", hd...))
	if a := parseAnswer(t, raw); a.status != 400 || !strings.Contains(a.headers["BG-X-Error"], "not a raw HTTP request") {
		t.Fatalf("hello: %d\n%s", a.status, raw)
	}
}
