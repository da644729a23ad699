package proxy_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/proxy"
	"github.com/palisadehq/palisade/internal/testenv"
)

// Attacks on the raw relay (raw.go), h1's RawHead and Gone, from a hostile
// visitor and from a hostile or broken upstream. Each test fails if the
// attack works.

// rawAttackProxy is shop.example.com behind a proxy (raw relay on unless
// noRaw) with opt, before an upstream at u.
func rawAttackProxy(t *testing.T, pal *testenv.Stack, u string, opt proxy.Options, noRaw bool) (*proxy.Proxy, string) {
	t.Helper()
	up, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	px := proxy.NewWith(pal.Protector, []proxy.Route{{Host: "shop.example.com", Upstream: up}}, nil, nil, opt)
	if noRaw {
		proxy.NoRaw(px)
	}
	return px, serveProxy(t, px)
}

// readHeadBytes reads a response head as bytes (up to the blank line).
func readHeadBytes(br *bufio.Reader) ([]byte, error) {
	var head []byte
	for {
		line, err := br.ReadSlice('\n')
		head = append(head, line...)
		if err != nil {
			return head, err
		}
		if len(line) <= 2 && (string(line) == "\r\n" || string(line) == "\n") {
			return head, nil
		}
		if len(head) > 64<<10 {
			return head, fmt.Errorf("head over 64 KB")
		}
	}
}

// cleanHead reports what is wrong with a head the visitor got: a line not
// ended by CRLF, a lone CR, NUL or DEL, a header name that is not a token.
func cleanHead(head []byte) string {
	lines := bytes.SplitAfter(head, []byte("\n"))
	for i, l := range lines {
		if len(l) == 0 {
			continue
		}
		if !bytes.HasSuffix(l, []byte("\r\n")) {
			return fmt.Sprintf("line %d %q not ended by CRLF", i, l)
		}
		body := l[:len(l)-2]
		if bytes.ContainsAny(body, "\r\n\x00\x7f") {
			return fmt.Sprintf("line %d %q holds CR, LF, NUL or DEL", i, l)
		}
		for _, ch := range body {
			if ch < ' ' && ch != '\t' {
				return fmt.Sprintf("line %d %q holds a control byte", i, l)
			}
		}
		if i == 0 || len(body) == 0 {
			continue
		}
		name, _, ok := bytes.Cut(body, []byte(":"))
		if !ok || len(name) == 0 {
			return fmt.Sprintf("line %d %q is no header field", i, l)
		}
		for _, ch := range name {
			if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(ch)) && !('0' <= ch && ch <= '9') && !('a' <= ch && ch <= 'z') && !('A' <= ch && ch <= 'Z') {
				return fmt.Sprintf("line %d %q: a name that is not a token", i, l)
			}
		}
	}
	return ""
}

// rawAttackCase is an upstream's answer to /case and what the visitor must not see.
type rawAttackCase struct {
	name   string
	method string // GET when empty
	resp   string
	pause  int // the upstream pauses 30 ms after this many bytes (the rest then arrives late)
	// bodyOK: the upstream's head ends before the bytes that look like
	// an answer (a close-delimited body): they are its body, framed.
	bodyOK bool
}

var splitCases = []rawAttackCase{
	{name: "lone-cr-in-value", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A: a\rX-Injected: 1\r\nContent-Length: 2\r\n\r\nok"},
	{name: "lone-cr-then-head-end", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A: a\r\r\nContent-Length: 2\r\n\r\nok"},
	{name: "lone-lf-in-value", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A: a\nX-Injected: 1\r\nContent-Length: 2\r\n\r\nok"},
	{name: "lf-lf-in-value", bodyOK: true, resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A: a\n\nHTTP/1.1 302 Found\r\nContent-Length: 2\r\n\r\nok"},
	{name: "nul-in-value", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A: a\x00\r\nX-B: b\r\nContent-Length: 2\r\n\r\nok"},
	{name: "del-in-value", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A: a\x7fb\r\nContent-Length: 2\r\n\r\nok"},
	{name: "obs-text-in-value", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A: \x80\xff\xc3\r\nContent-Length: 2\r\n\r\nok"},
	{name: "vt-ff-in-value", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A: a\x0b\x0cb\r\nContent-Length: 2\r\n\r\nok"},
	{name: "nul-in-name", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A\x00B: 1\r\nContent-Length: 2\r\n\r\nok"},
	{name: "space-in-name", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX A: 1\r\nContent-Length: 2\r\n\r\nok"},
	{name: "cr-in-name", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A\r: 1\r\nContent-Length: 2\r\n\r\nok"},
	{name: "obs-text-in-name", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-\xffA: 1\r\nContent-Length: 2\r\n\r\nok"},
	{name: "paren-name", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n(X): 1\r\nContent-Length: 2\r\n\r\nok"},
	{name: "colon-first", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n: 1\r\nContent-Length: 2\r\n\r\nok"},
	{name: "tab-before-colon", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length\t: 5\r\nContent-Length: 2\r\n\r\nok"},
	{name: "cr-in-reason", resp: "HTTP/1.1 200 OK\rX-Injected: 1\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"},
	{name: "lf-in-reason", resp: "HTTP/1.1 200 OK\nX-Injected: 1\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"},
	{name: "nul-in-reason", resp: "HTTP/1.1 200 O\x00K\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"},
	{name: "status-000", resp: "HTTP/1.1 000 Zero\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"},
	{name: "status-999", resp: "HTTP/1.1 999 Nine\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"},
	{name: "status-4-digits", resp: "HTTP/1.1 2000 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"},
	{name: "status-tab", resp: "HTTP/1.1 200\tOK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"},
	{name: "cl-negative", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: -1\r\n\r\nok"},
	{name: "cl-huge", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 999999999999999999\r\n\r\nok"},
	{name: "cl-overflow", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 99999999999999999999\r\n\r\nok"},
	{name: "cl-comma-list", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2, 2\r\n\r\nok"},
	{name: "cl-smaller-same-write", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nevil"},
	{name: "cl-smaller-late", pause: 70, resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nevil"},
	{name: "204-with-body", resp: "HTTP/1.1 204 No Content\r\nX-A: a\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nevil"},
	{name: "204-with-cl-and-body", resp: "HTTP/1.1 204 No Content\r\nContent-Length: 4\r\n\r\nevil"},
	{name: "304-with-body", resp: "HTTP/1.1 304 Not Modified\r\nContent-Length: 4\r\nContent-Type: text/plain\r\n\r\nevil"},
	{name: "304-with-body-late", pause: 80, resp: "HTTP/1.1 304 Not Modified\r\nContent-Length: 4\r\nContent-Type: text/plain\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nevil"},
	{name: "head-with-body", method: "HEAD", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 4\r\n\r\nevil"},
	{name: "head-with-response-after", method: "HEAD", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 60\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nevil"},
	{name: "head-body-late", method: "HEAD", pause: 70, resp: "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 60\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nevil"},
	{name: "100-continue-then-raw", resp: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"},
	{name: "101-no-upgrade", resp: "HTTP/1.1 101 Switching Protocols\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"},
	{name: "crlfcrlf-in-body-only", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\nab\r\n\r\ncd"},
}

// TestAttackRawRelaySplitting: hostile upstream heads (CR, LF, NUL, DEL,
// obs-text in values, names and the reason phrase; odd codes and lengths;
// bodies after 204, 304 and HEAD answers; more bytes than the length)
// reach the visitor as one well-formed head, and no bytes of them reach
// the visitor as a second answer, on its connection or anyone else's
// (the upstream connection is not reused with stray bytes). Raw relay on
// and off alike.
func TestAttackRawRelaySplitting(t *testing.T) {
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{WAF: wafOff})
	for _, tc := range splitCases {
		for _, noRaw := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/noRaw=%v", tc.name, noRaw), func(t *testing.T) {
				t.Parallel()
				u, _ := cannedUpstream(t, tc.resp, false, tc.pause)
				_, base := rawAttackProxy(t, pal, u.String(), proxy.Options{UpstreamTimeout: 700 * time.Millisecond}, noRaw)
				addr := strings.TrimPrefix(base, "http://")
				method := tc.method
				if method == "" {
					method = "GET"
				}
				vc, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer vc.Close()
				vc.SetDeadline(time.Now().Add(5 * time.Second))
				br := bufio.NewReader(vc)
				if _, err := vc.Write(visitorRequest(t, method, base, "/case")); err != nil {
					t.Fatal(err)
				}
				head, err := readHeadBytes(br)
				if err != nil {
					t.Logf("no whole head (%v): %q", err, head)
					return // the visitor's connection was closed: nothing smuggled
				}
				if bad := cleanHead(head); bad != "" {
					t.Errorf("upstream %q: the visitor's head %q: %s", tc.resp, head, bad)
				}
				if bytes.Contains(bytes.ToLower(head), []byte("x-injected")) {
					t.Logf("upstream %q: X-Injected reached the visitor as its own header line: %q", tc.resp, head)
				}
				a := readAnswer(bufio.NewReader(io.MultiReader(bytes.NewReader(head), br)), method)
				if !tc.bodyOK && (strings.Contains(a.body, "evil") || strings.Contains(a.body, "HTTP/1.1")) {
					t.Errorf("upstream %q: the visitor's body %q holds a second answer", tc.resp, a.body)
				}
				t.Logf("visitor: %d %.300s body %.80q complete %v err %q", a.code, fmtHeader(a.header), a.body, a.complete, a.err)
				time.Sleep(150 * time.Millisecond) // late stray bytes arrive
				// The next request on the same connection, when it is open,
				// and on a new one: "second", never "evil".
				check := func(c net.Conn, br *bufio.Reader, where string) {
					c.SetDeadline(time.Now().Add(4 * time.Second))
					if _, err := c.Write(visitorRequest(t, "GET", base, "/second")); err != nil {
						return
					}
					a := readAnswer(br, "GET")
					if a.err != "" && where == "same connection" {
						return // closed after the first answer
					}
					if a.code != 200 || a.body != "second" {
						t.Errorf("upstream %q: the next request on the %s got %v", tc.resp, where, a)
					}
				}
				if a.complete {
					check(vc, br, "same connection")
				}
				vc2, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer vc2.Close()
				check(vc2, bufio.NewReader(vc2), "new connection")
			})
		}
	}
}

// TestAttackRawRelayLengthLongerThanBody: an upstream that announces 10
// bytes, sends 2 and keeps the connection open gets the visitor's answer
// cut after UpstreamTimeout (never completed with bytes of a later
// answer), and its connection is not used again, while another visitor's
// request goes through meanwhile.
func TestAttackRawRelayLengthLongerThanBody(t *testing.T) {
	for _, noRaw := range []bool{false, true} {
		t.Run(fmt.Sprintf("noRaw=%v", noRaw), func(t *testing.T) {
			pal := testenv.New(t)
			pal.Website(t, "shop.example.com", engine.Settings{WAF: wafOff})
			var reusedAfterShort atomic.Int64
			u, accepted := rawUpstream(t, func(c net.Conn, br *bufio.Reader, req *http.Request) bool {
				switch req.URL.Path {
				case "/short":
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nok")
					c.SetReadDeadline(time.Now().Add(5 * time.Second))
					next, err := http.ReadRequest(br)
					c.SetReadDeadline(time.Time{})
					if err != nil {
						c.Close()
						return true
					}
					reusedAfterShort.Add(1)
					// Answer it: its bytes would end the first body if the
					// proxy used this connection again.
					fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nevil")
					_ = next
					return true
				case "/typed":
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nsecond")
					return true
				}
				return false
			})
			_, base := rawAttackProxy(t, pal, u.String(), proxy.Options{UpstreamTimeout: 500 * time.Millisecond}, noRaw)
			addr := strings.TrimPrefix(base, "http://")
			vc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer vc.Close()
			vc.SetDeadline(time.Now().Add(5 * time.Second))
			vc.Write(visitorRequest(t, "GET", base, "/short"))
			done := make(chan visitorAnswer, 1)
			go func() { done <- readAnswer(bufio.NewReader(vc), "GET") }()
			// Meanwhile, others.
			c := keepAliveClient()
			for i := 0; i < 3; i++ {
				if code, body, _ := do(t, c, browserReq(t, "GET", base, "/typed", nil)); code != 200 || body != "second" {
					t.Errorf("another visitor: %d %q", code, body)
				}
			}
			var a visitorAnswer
			select {
			case a = <-done:
			case <-time.After(6 * time.Second):
				t.Fatal("the short answer's visitor still waits")
			}
			if a.complete || strings.Contains(a.body, "evil") || strings.Contains(a.body, "HTTP") {
				t.Errorf("the visitor of a short body got %v; want it cut", a)
			}
			for i := 0; i < 3; i++ {
				if code, body, _ := do(t, c, browserReq(t, "GET", base, "/typed", nil)); code != 200 || body != "second" {
					t.Errorf("after: %d %q", code, body)
				}
			}
			if n := reusedAfterShort.Load(); n != 0 {
				t.Errorf("the upstream connection of the short body served %d more requests", n)
			}
			t.Logf("visitor: %v; upstream connections %d", a, accepted.Load())
		})
	}
}

// TestAttackRawRelayHopByHopCase: hop-by-hop headers in any case, and
// Transfer-Encoding beside Content-Length, never reach the visitor as the
// upstream wrote them.
func TestAttackRawRelayHopByHopCase(t *testing.T) {
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{WAF: wafOff})
	cases := []rawAttackCase{
		{name: "CONNECTION-close", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nCONNECTION: close\r\nContent-Length: 2\r\n\r\nok"},
		{name: "connection-KEEP-ALIVE", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncOnNeCtIoN: KEEP-ALIVE\r\nContent-Length: 2\r\n\r\nok"},
		{name: "Keep-alive", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nKeep-alive: timeout=1\r\nKEEP-ALIVE: max=1\r\nContent-Length: 2\r\n\r\nok"},
		{name: "te-cl", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ntransfer-encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\nok\r\n0\r\n\r\n"},
		{name: "cl-te", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nTRANSFER-ENCODING: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"},
		{name: "te-identity", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: identity\r\nContent-Length: 2\r\n\r\nok"},
		{name: "proxy-and-te-upgrade", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nPROXY-CONNECTION: keep-alive\r\nproxy-authenticate: Basic\r\nPROXY-AUTHORIZATION: x\r\nte: trailers\r\nUPGRADE: h2c\r\nContent-Length: 2\r\n\r\nok"},
		{name: "connection-names-x-secret", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nconnection: X-Secret\r\nx-secret: 1\r\nContent-Length: 2\r\n\r\nok"},
		{name: "connection-two-lines", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: keep-alive\r\nconnection: X-Secret\r\nX-Secret: 1\r\nContent-Length: 2\r\n\r\nok"},
		{name: "connection-tab", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection:\tclose\t\r\nContent-Length: 2\r\n\r\nok"},
	}
	for _, tc := range cases {
		for _, noRaw := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/noRaw=%v", tc.name, noRaw), func(t *testing.T) {
				t.Parallel()
				u, _ := cannedUpstream(t, tc.resp, false, 0)
				_, base := rawAttackProxy(t, pal, u.String(), proxy.Options{UpstreamTimeout: 2 * time.Second}, noRaw)
				vc, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
				if err != nil {
					t.Fatal(err)
				}
				defer vc.Close()
				vc.SetDeadline(time.Now().Add(5 * time.Second))
				vc.Write(visitorRequest(t, "GET", base, "/case"))
				br := bufio.NewReader(vc)
				head, err := readHeadBytes(br)
				if err != nil {
					t.Fatalf("head: %v %q", err, head)
				}
				if bad := cleanHead(head); bad != "" {
					t.Errorf("%s", bad)
				}
				a := readAnswer(bufio.NewReader(io.MultiReader(bytes.NewReader(head), br)), "GET")
				for k, v := range a.header {
					switch strings.ToLower(k) {
					case "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "upgrade", "x-secret", "trailer":
						t.Errorf("upstream %q: the visitor got %s: %q (head %q)", tc.resp, k, v, head)
					case "connection":
						if len(v) != 1 || v[0] != "close" {
							t.Errorf("upstream %q: the visitor got Connection %q", tc.resp, v)
						}
					}
				}
				if len(a.header["Transfer-Encoding"]) > 0 && len(a.header["Content-Length"]) > 0 {
					t.Errorf("upstream %q: the visitor got both Transfer-Encoding and Content-Length: %q", tc.resp, head)
				}
				if !a.complete || (a.body != "ok" && a.code != http.StatusBadGateway) {
					t.Errorf("upstream %q: the visitor got %v", tc.resp, a)
				}
			})
		}
	}
}

// pipelineUpstream answers /raw/N (typed, a length: the raw relay's),
// /chunked/N (relay's), /big/N (256 KB, raw) and /slow/N (raw, after 40 ms).
func pipelineUpstream(t *testing.T) (string, *atomic.Int64) {
	u, accepted := rawUpstream(t, func(c net.Conn, br *bufio.Reader, req *http.Request) bool {
		parts := strings.Split(req.URL.Path, "/")
		if len(parts) != 3 {
			return false
		}
		body := "answer-" + parts[1] + "-" + parts[2]
		switch parts[1] {
		case "raw":
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		case "slow":
			time.Sleep(40 * time.Millisecond)
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		case "chunked":
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(body), body)
		case "big":
			b := bytes.Repeat([]byte(body+"."), (256<<10)/(len(body)+1))
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n", len(b))
			c.Write(b)
		case "nocontent":
			io.WriteString(c, "HTTP/1.1 204 No Content\r\nX-N: "+parts[2]+"\r\n\r\n")
		default:
			return false
		}
		return true
	})
	return u.String(), accepted
}

// TestAttackPipelining: two or three requests in one write reach the
// visitor answered in order, whole, none mixed with another, whether they
// go through the raw relay or relay.
func TestAttackPipelining(t *testing.T) {
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{WAF: wafOff})
	u, _ := pipelineUpstream(t)
	px, base := rawAttackProxy(t, pal, u, proxy.Options{UpstreamTimeout: 3 * time.Second}, false)
	addr := strings.TrimPrefix(base, "http://")
	seqs := [][]string{
		{"GET /raw/1", "GET /raw/2"},
		{"GET /raw/1", "GET /chunked/2", "GET /raw/3"},
		{"GET /slow/1", "HEAD /raw/2", "GET /big/3"},
		{"GET /big/1", "GET /nocontent/2", "GET /slow/3"},
		{"HEAD /chunked/1", "GET /slow/2", "GET /chunked/3"},
	}
	before := proxy.RawRelayed(px)
	for _, seq := range seqs {
		vc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		vc.SetDeadline(time.Now().Add(5 * time.Second))
		var all []byte
		for _, mp := range seq {
			m, p, _ := strings.Cut(mp, " ")
			all = append(all, visitorRequest(t, m, base, p)...)
		}
		if _, err := vc.Write(all); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(vc)
		for _, mp := range seq {
			m, p, _ := strings.Cut(mp, " ")
			a := readAnswer(br, m)
			parts := strings.Split(p, "/")
			want := "answer-" + parts[1] + "-" + parts[2]
			switch {
			case !a.complete:
				t.Errorf("%v: %s: %v", seq, mp, a)
			case parts[1] == "nocontent":
				if a.code != 204 || a.header["X-N"] == nil || a.header["X-N"][0] != parts[2] || a.body != "" {
					t.Errorf("%v: %s: %v", seq, mp, a)
				}
			case m == "HEAD":
				if a.code != 200 || a.body != "" {
					t.Errorf("%v: %s: %v", seq, mp, a)
				}
			case parts[1] == "big":
				if a.code != 200 || len(a.body) < 200<<10 || strings.Trim(strings.ReplaceAll(a.body, want+".", ""), "") != "" {
					t.Errorf("%v: %s: %d, %d bytes, mixed %v", seq, mp, a.code, len(a.body), strings.ReplaceAll(a.body, want+".", "") != "")
				}
			default:
				if a.code != 200 || a.body != want {
					t.Errorf("%v: %s: %v", seq, mp, a)
				}
			}
		}
		// Nothing more on the connection.
		vc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if b, err := br.ReadByte(); err == nil {
			rest, _ := br.Peek(br.Buffered())
			t.Errorf("%v: more bytes after the answers: %q", seq, append([]byte{b}, rest...))
		}
		vc.Close()
	}
	if proxy.RawRelayed(px) == before {
		t.Error("the raw relay took none of the pipelined requests")
	}
}

// rawBigUpstream answers /big with n bytes (raw relay's) and reports on gone
// whether the proxy closed that upstream connection (true) or sent
// another request on it (false); /typed is a small raw answer.
func rawBigUpstream(t *testing.T, body []byte, gone chan<- bool) (string, *atomic.Int64) {
	u, accepted := rawUpstream(t, func(c net.Conn, br *bufio.Reader, req *http.Request) bool {
		switch req.URL.Path {
		case "/big":
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", len(body))
			c.SetWriteDeadline(time.Now().Add(8 * time.Second))
			_, werr := c.Write(body)
			c.SetWriteDeadline(time.Time{})
			if werr != nil {
				gone <- true
				c.Close()
				return true
			}
			c.SetReadDeadline(time.Now().Add(8 * time.Second))
			_, err := br.Peek(1)
			c.SetReadDeadline(time.Time{})
			if err != nil {
				gone <- true
				c.Close()
				return true
			}
			gone <- false // another request came on it
			return true
		case "/typed":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
			return true
		}
		return false
	})
	return u.String(), accepted
}

func rawPatterned(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i>>13)
	}
	return b
}

// TestAttackVisitorLeavesMidBody: a visitor that hangs up after 64 KB of
// an 8 MB raw-relayed body: the proxy closes that upstream connection
// (not pooled), does not hang, and the next request works; a visitor
// that reads very slowly is cut after ClientTimeout.
func TestAttackVisitorLeavesMidBody(t *testing.T) {
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{WAF: wafOff})
	body := rawPatterned(8 << 20)
	gone := make(chan bool, 4)
	u, _ := rawBigUpstream(t, body, gone)
	px, base := rawAttackProxy(t, pal, u, proxy.Options{UpstreamTimeout: 3 * time.Second, ClientTimeout: 300 * time.Millisecond}, false)
	addr := strings.TrimPrefix(base, "http://")

	t.Run("leaves", func(t *testing.T) {
		before := proxy.RawRelayed(px)
		vc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		vc.SetDeadline(time.Now().Add(5 * time.Second))
		vc.Write(visitorRequest(t, "GET", base, "/big"))
		br := bufio.NewReader(vc)
		if _, err := readHeadBytes(br); err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(io.Discard, br, 64<<10); err != nil {
			t.Fatal(err)
		}
		vc.Close()
		select {
		case closed := <-gone:
			if !closed {
				t.Error("the upstream connection of the abandoned body was used for another request")
			}
		case <-time.After(8 * time.Second):
			t.Fatal("the upstream connection is still open 8 s after the visitor left mid-body")
		}
		if d := proxy.RawRelayed(px) - before; d != 1 {
			t.Errorf("the raw relay took %d of 1", d)
		}
		if code, b, _ := do(t, keepAliveClient(), browserReq(t, "GET", base, "/typed", nil)); code != 200 || b != "ok" {
			t.Errorf("the next request: %d %q", code, b)
		}
	})

	t.Run("slow-reader", func(t *testing.T) {
		d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) {
				syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			})
		}}
		vc, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer vc.Close()
		vc.SetDeadline(time.Now().Add(8 * time.Second))
		vc.Write(visitorRequest(t, "GET", base, "/big"))
		br := bufio.NewReaderSize(vc, 1024)
		if _, err := readHeadBytes(br); err != nil {
			t.Fatal(err)
		}
		// A trickle: 1 KB every 100 ms. The proxy's writes into its
		// socket buffer stall past ClientTimeout, and it gives up: the
		// upstream connection closes although the visitor still reads
		// (what the proxy's socket buffer held may still trickle to it,
		// so the visitor itself cannot tell when).
		start := time.Now()
		var got atomic.Int64
		stop := make(chan struct{})
		trickled := make(chan struct{})
		go func() {
			defer close(trickled)
			buf := make([]byte, 1024)
			for {
				select {
				case <-stop:
					return
				default:
				}
				n, err := br.Read(buf)
				got.Add(int64(n))
				if err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
		defer func() { close(stop); vc.Close(); <-trickled }()
		select {
		case closed := <-gone:
			if !closed {
				t.Error("the upstream connection of the cut body was used again")
			}
		case <-time.After(8 * time.Second):
			t.Fatalf("the upstream connection is still open 8 s after a visitor began to read at 10 KB/s (ClientTimeout 300 ms; %d bytes read)", got.Load())
		}
		t.Logf("the upstream connection closed %v after the slow visitor began, %d bytes read by then", time.Since(start).Round(time.Millisecond), got.Load())
	})
}

// TestAttackGoneRace: 200 visitors of a slow upstream (raw relay, a
// quarter through relay) that
// hang up at random moments, 25 at a time: no request hangs, nothing
// panics, and the goroutines go back to about where they were.
func TestAttackGoneRace(t *testing.T) {
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{WAF: wafOff})
	u, _ := rawUpstream(t, func(c net.Conn, br *bufio.Reader, req *http.Request) bool {
		// /slow/N: the raw relay's answer after N ms; /slow/Nc: a chunked
		// one (relay's).
		arg := strings.TrimPrefix(req.URL.Path, "/slow/")
		chunked := strings.HasSuffix(arg, "c")
		ms, _ := strconv.Atoi(strings.TrimSuffix(arg, "c"))
		if ms > 0 {
			time.Sleep(time.Duration(ms) * time.Millisecond)
		}
		if req.URL.Path == "/" {
			return false
		}
		if chunked {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nslow\r\n0\r\n\r\n")
			return true
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nslow")
		return true
	})
	px, base := rawAttackProxy(t, pal, u.String(), proxy.Options{UpstreamTimeout: 3 * time.Second}, false)
	addr := strings.TrimPrefix(base, "http://")
	// Warm up, then count.
	hc := keepAliveClient()
	if code, _, _ := do(t, hc, browserReq(t, "GET", base, "/slow/0", nil)); code != 200 {
		t.Fatalf("warm-up: %d", code)
	}
	hc.CloseIdleConnections()
	px.CloseIdleConnections()
	time.Sleep(50 * time.Millisecond)
	g0 := runtime.NumGoroutine()

	var wg sync.WaitGroup
	sem := make(chan struct{}, 25)
	var answered, left atomic.Int64
	reqs := make([][]byte, 200)
	for i := range reqs {
		kind := ""
		if i%4 == 1 {
			kind = "c"
		}
		reqs[i] = visitorRequest(t, "GET", base, fmt.Sprintf("/slow/%d%s", 20+i%7*30, kind))
	}
	for i := 0; i < 200; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			rng := rand.New(rand.NewSource(int64(i)))
			vc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer vc.Close()
			vc.SetDeadline(time.Now().Add(5 * time.Second))
			req := reqs[i]
			if i%10 == 0 {
				// Leave in the middle of the request's head.
				vc.Write(req[:len(req)/2])
				left.Add(1)
				return
			}
			vc.Write(req)
			leaveAt := time.Duration(rng.Intn(250)) * time.Millisecond
			done := make(chan visitorAnswer, 1)
			go func() { done <- readAnswer(bufio.NewReader(vc), "GET") }()
			select {
			case a := <-done:
				if !a.complete || a.body != "slow" {
					t.Errorf("visitor %d: %v", i, a)
				}
				answered.Add(1)
			case <-time.After(leaveAt):
				if i%3 == 0 {
					if tc, ok := vc.(*net.TCPConn); ok {
						tc.SetLinger(0) // a reset, not a FIN
					}
				}
				vc.Close()
				left.Add(1)
				select {
				case <-done:
				case <-time.After(6 * time.Second):
					t.Errorf("visitor %d: the reader did not end", i)
				}
			}
		}(i)
	}
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(40 * time.Second):
		t.Fatal("visitors still waiting after 40 s")
	}
	t.Logf("answered %d, left %d", answered.Load(), left.Load())
	// The proxy still serves, on whatever the pool kept: a connection
	// cut for a visitor that left must not be handed to the next one.
	// 40 at once, to take every pooled connection.
	var after sync.WaitGroup
	for i := 0; i < 40; i++ {
		req := browserReq(t, "GET", base, fmt.Sprintf("/slow/%d", 30), nil)
		after.Add(1)
		go func() {
			defer after.Done()
			resp, err := hc.Do(req)
			if err != nil {
				t.Errorf("after, %d: %v", i, err)
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(b) != "slow" || err != nil {
				t.Errorf("after, %d: %d %q %v", i, resp.StatusCode, b, err)
			}
		}()
	}
	after.Wait()
	var g int
	for i := 0; i < 100; i++ {
		px.CloseIdleConnections()
		hc.CloseIdleConnections()
		g = runtime.NumGoroutine()
		if g <= g0+10 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if g > g0+10 {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Errorf("%d goroutines before, %d after\n%s", g0, g, buf[:n])
	}
}

// TestAttackUpstreamStatusBelow100: an upstream answering "HTTP/1.1 000"
// or "HTTP/1.1 099" (http.ReadResponse takes any three digits) must get
// the visitor a 5xx answer, not a handler panic and a dropped connection.
func TestAttackUpstreamStatusBelow100(t *testing.T) {
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{WAF: wafOff})
	for _, status := range []string{"000 Zero", "099 Low"} {
		for _, noRaw := range []bool{false, true} {
			u, _ := cannedUpstream(t, "HTTP/1.1 "+status+"\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok", false, 0)
			_, base := rawAttackProxy(t, pal, u.String(), proxy.Options{UpstreamTimeout: time.Second}, noRaw)
			vc, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			vc.SetDeadline(time.Now().Add(4 * time.Second))
			vc.Write(visitorRequest(t, "GET", base, "/case"))
			a := readAnswer(bufio.NewReader(vc), "GET")
			vc.Close()
			if a.code < 500 || a.code > 599 {
				t.Errorf("upstream status %q (raw relay off: %v): the visitor got %v; want a 5xx", status, noRaw, a)
			}
		}
		// A request with a body goes through httputil.ReverseProxy.
		u, _ := cannedUpstream(t, "HTTP/1.1 "+status+"\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok", false, 0)
		_, base := rawAttackProxy(t, pal, u.String(), proxy.Options{UpstreamTimeout: time.Second}, false)
		vc, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		vc.SetDeadline(time.Now().Add(4 * time.Second))
		post := bytes.Replace(visitorRequest(t, "GET", base, "/case"), []byte("GET "), []byte("POST "), 1)
		post = bytes.Replace(post, []byte("\r\n\r\n"), []byte("\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi"), 1)
		vc.Write(post)
		a := readAnswer(bufio.NewReader(vc), "POST")
		vc.Close()
		if a.code < 500 || a.code > 599 {
			t.Errorf("upstream status %q to a POST: the visitor got %v; want a 5xx", status, a)
		}
	}
}

// rawAndRelay answers one visitor request (extra header lines added to
// the browser's) through the raw relay and through relay before the same
// canned upstream answer, and reports what the visitor got and whether
// its connection was closed after.
func rawAndRelay(t *testing.T, pal *testenv.Stack, method, resp, extra string) (got [2]visitorAnswer, closed [2]bool, raw int64) {
	t.Helper()
	for i, noRaw := range []bool{false, true} {
		u, _ := cannedUpstream(t, resp, false, 0)
		px, base := rawAttackProxy(t, pal, u.String(), proxy.Options{UpstreamTimeout: 2 * time.Second}, noRaw)
		vc, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer vc.Close()
		vc.SetDeadline(time.Now().Add(4 * time.Second))
		req := visitorRequest(t, method, base, "/case")
		if extra != "" {
			req = bytes.Replace(req, []byte("\r\n\r\n"), []byte("\r\n"+extra+"\r\n\r\n"), 1)
		}
		before := proxy.RawRelayed(px)
		vc.Write(req)
		br := bufio.NewReader(vc)
		got[i] = readAnswer(br, method)
		vc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		_, err = br.ReadByte()
		closed[i] = err == io.EOF
		if !noRaw {
			raw = proxy.RawRelayed(px) - before
		}
	}
	return
}

// TestAttackVisitorConnectionClose: a visitor asking "Connection: close"
// gets its connection closed after the answer through the raw relay as
// through relay, and the same Connection header.
func TestAttackVisitorConnectionClose(t *testing.T) {
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{WAF: wafOff})
	got, closed, raw := rawAndRelay(t, pal, "GET", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok", "Connection: close")
	t.Logf("raw relay (%d): %v closed %v\nrelay: %v closed %v", raw, got[0], closed[0], got[1], closed[1])
	if closed[0] != closed[1] || fmt.Sprint(got[0].header["Connection"]) != fmt.Sprint(got[1].header["Connection"]) {
		t.Errorf("Connection: close asked: raw relay closed %v with Connection %q, relay closed %v with Connection %q",
			closed[0], got[0].header["Connection"], closed[1], got[1].header["Connection"])
	}
}

// TestAttackRaw304Headers: a 304 with representation headers reaches the
// visitor with the same headers through the raw relay as through relay.
func TestAttackRaw304Headers(t *testing.T) {
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{WAF: wafOff})
	got, _, raw := rawAndRelay(t, pal, "GET", "HTTP/1.1 304 Not Modified\r\nContent-Type: text/plain\r\nEtag: \"v1\"\r\n\r\n", "")
	a, b := fmtHeader(got[0].header), fmtHeader(got[1].header)
	t.Logf("raw relay (%d): %s\nrelay: %s", raw, a, b)
	if a != b {
		t.Errorf("a 304 with Content-Type: the raw relay gives %s, relay %s", a, b)
	}
}

// TestAttackPipelinedDuringWatch: a visitor whose next request arrives
// while the first waits on a slow upstream (past WatchClientAfter, so the
// watch reads it) is not taken for a visitor that left: both answers come,
// whole and in order, and the slow one's upstream connection is not cut.
func TestAttackPipelinedDuringWatch(t *testing.T) {
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{WAF: wafOff})
	u, _ := rawUpstream(t, func(c net.Conn, br *bufio.Reader, req *http.Request) bool {
		body := "fast"
		if req.URL.Path == "/slow" {
			time.Sleep(300 * time.Millisecond)
			body = "slow"
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		return true
	})
	px, base := rawAttackProxy(t, pal, u.String(), proxy.Options{UpstreamTimeout: 3 * time.Second}, false)
	for _, split := range []int{1, 0} { // the next request's first byte alone, or whole
		vc, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		vc.SetDeadline(time.Now().Add(5 * time.Second))
		before := proxy.RawRelayed(px)
		vc.Write(visitorRequest(t, "GET", base, "/slow"))
		time.Sleep(150 * time.Millisecond) // past WatchClientAfter
		next := visitorRequest(t, "GET", base, "/fast")
		if split > 0 {
			vc.Write(next[:split])
			time.Sleep(50 * time.Millisecond)
			vc.Write(next[split:])
		} else {
			vc.Write(next)
		}
		br := bufio.NewReader(vc)
		for _, want := range []string{"slow", "fast"} {
			if a := readAnswer(br, "GET"); !a.complete || a.code != 200 || a.body != want {
				t.Errorf("split %d: want %q, got %v", split, want, a)
			}
		}
		if d := proxy.RawRelayed(px) - before; d != 2 {
			t.Errorf("split %d: the raw relay took %d of 2", split, d)
		}
		vc.Close()
	}
}
