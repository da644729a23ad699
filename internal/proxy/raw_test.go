package proxy_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/proxy"
	"github.com/palisadehq/palisade/internal/testenv"
)

// The raw relay (raw.go) against relay: the same canned upstream answers,
// byte for byte, through two proxies on their own server (h1), one with
// the raw relay and one without (proxy.NoRaw), read by a raw TCP client.

// rawCase is one canned upstream answer to the request for /case.
type rawCase struct {
	name   string
	method string // GET when empty
	resp   string // written as it is
	close  bool   // the upstream closes the connection after resp
	raw    bool   // the raw relay must take it
	reuse  bool   // the upstream connection must serve the next request
	// known: a difference between the raw relay and relay found when
	// this test was written and not fixed yet; it is logged, not failed,
	// until raw.go is fixed (then the marker goes).
	known string
	pause int // the upstream pauses 30 ms after this many bytes of resp (0: none)
}

// knownSniff: relay's answer to an upstream answer with a body and no
// Content-Type gets the server's sniffed Content-Type (h1 and net/http
// sniff for a handler that set none); the raw relay leaves such answers to
// relay (no-content-type). Logged, not failed, while it is true.
const knownSniff = false

var rawCases = func() []rawCase {
	const date = "Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n"
	big := "X-Big: " + strings.Repeat("b", 5000) + "\r\n"
	return []rawCase{
		{name: "cl-date", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" + date + "Content-Length: 5\r\nX-App: 1\r\n\r\nhello", raw: true, reuse: true},
		{name: "cl-nodate", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nX-App: 1\r\n\r\nhello", raw: true, reuse: true},
		{name: "cl-zero", resp: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", raw: true, reuse: true},
		{name: "lower-case-names", resp: "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\nx-app: a\r\nset-cookie: a=1\r\nSet-Cookie: b=2\r\ndate: Mon, 02 Jan 2006 15:04:05 GMT\r\n\r\nhello", raw: true, reuse: true},
		{name: "ows-around-values", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length:   5  \r\nX-Pad:\t a b \t\r\nX-Empty:\r\n\r\nhello", raw: true, reuse: true},
		{name: "utf8-value", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nX-Name: caf\xc3\xa9\r\n\r\nok", raw: true, reuse: true},
		{name: "conn-close", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", close: true, raw: true},
		{name: "conn-keep-alive", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5, max=100\r\nContent-Length: 2\r\n\r\nok", raw: true, reuse: true},
		{name: "hop-by-hop-dropped", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nUpgrade: h2c\r\nTe: trailers\r\nProxy-Authenticate: Basic\r\nContent-Length: 2\r\nX-Kept: 1\r\n\r\nok", raw: true, reuse: true},
		{name: "trailer-header-with-cl", resp: "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nContent-Length: 2\r\n\r\nok", reuse: true},
		{name: "chunked", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n4\r\nbody\r\n5\r\n more\r\n0\r\n\r\n", reuse: true},
		{name: "chunked-trailers", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n4\r\nbody\r\n0\r\nX-Sum: abc\r\n\r\n", reuse: true},
		{name: "close-delimited", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", close: true},
		{name: "204", resp: "HTTP/1.1 204 No Content\r\nX-A: a\r\n\r\n", raw: true, reuse: true},
		{name: "204-cl", resp: "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nX-A: a\r\n\r\n", raw: true, reuse: true},
		{name: "304-cl", resp: "HTTP/1.1 304 Not Modified\r\nEtag: \"v1\"\r\nContent-Length: 10\r\nCache-Control: max-age=60\r\n\r\n", raw: true, reuse: true},
		{name: "head-cl", method: "HEAD", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1234\r\n\r\n", raw: true, reuse: true},
		{name: "head-no-cl", method: "HEAD", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n", raw: true, reuse: true},
		{name: "103-then-200", resp: "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", reuse: true},
		{name: "dup-cl-same", resp: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", reuse: true},
		{name: "dup-cl-different", resp: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok"},
		{name: "cl-plus", resp: "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello"},
		{name: "cl-space-inside", resp: "HTTP/1.1 200 OK\r\nContent-Length: 1 0\r\n\r\n0123456789"},
		{name: "cl-leading-zero", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 02\r\n\r\nok", reuse: true},         // relay's: it passes "02" as sent
		{name: "no-content-type", resp: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", reuse: true},                                      // relay's: the server sniffs a type
		{name: "encoded-no-type", resp: "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\nok", raw: true, reuse: true}, // nothing sniffed for an encoded body
		{name: "obs-fold", resp: "HTTP/1.1 200 OK\r\nX-Fold: a\r\n b\r\nContent-Length: 2\r\n\r\nok", reuse: true},
		{name: "space-before-colon", resp: "HTTP/1.1 200 OK\r\nX-Foo : bar\r\nContent-Length: 2\r\n\r\nok", reuse: true}, // Go reads it (issue 34540), h1 drops the name
		{name: "nul-in-value", resp: "HTTP/1.1 200 OK\r\nX-Bad: a\x00b\r\nContent-Length: 2\r\n\r\nok"},
		{name: "ctl-in-value", resp: "HTTP/1.1 200 OK\r\nX-Bad: a\x01b\r\nContent-Length: 2\r\n\r\nok"},
		{name: "bare-lf", resp: "HTTP/1.1 200 OK\nContent-Length: 2\nX-Lf: 1\n\nok", reuse: true},
		{name: "bare-lf-last-line", resp: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\nok", reuse: true},
		{name: "head-exactly-4096", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nX-Pad: " + strings.Repeat("p", 4049-26) + "\r\n\r\nok", raw: true, reuse: true},
		{name: "head-4097", resp: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Pad: " + strings.Repeat("p", 4050) + "\r\n\r\nok", reuse: true},
		{name: "head-in-two-writes", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello", pause: 20, raw: true, reuse: true},
		{name: "head-split-in-crlfcrlf", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello", pause: 62, raw: true, reuse: true},
		{name: "body-in-two-writes", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello", pause: 66, raw: true, reuse: true},
		{name: "head-over-4k", resp: "HTTP/1.1 200 OK\r\n" + big + "Content-Length: 2\r\n\r\nok", reuse: true},
		{name: "event-stream-cl", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nContent-Length: 12\r\n\r\ndata: one\n\n\n", reuse: true},
		{name: "conn-names-header", resp: "HTTP/1.1 200 OK\r\nConnection: X-Foo\r\nX-Foo: secret\r\nX-Bar: kept\r\nContent-Length: 2\r\n\r\nok", reuse: true},
		{name: "conn-close-and-close-header", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\nClose: named-by-connection\r\nContent-Length: 2\r\n\r\nok", close: true, raw: true},
		{name: "status-599", resp: "HTTP/1.1 599 Whatever\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nodd", raw: true, reuse: true},
		{name: "status-no-reason", resp: "HTTP/1.1 200\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok", raw: true, reuse: true},
		{name: "status-other-reason", resp: "HTTP/1.1 404 Gone Fishing\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nnope", raw: true, reuse: true},
		{name: "http-1.0", resp: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"},
	}
}()

// cannedUpstream answers /case with resp (then closes the connection when
// closeAfter) and anything else with 200 "second"; it counts the
// connections it accepted.
func cannedUpstream(t *testing.T, resp string, closeAfter bool, pause int) (*url.URL, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	accepted := new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					c.SetReadDeadline(time.Now().Add(20 * time.Second))
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					if req.URL.Path != "/case" {
						io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond")
						continue
					}
					if pause > 0 {
						io.WriteString(c, resp[:pause])
						time.Sleep(30 * time.Millisecond)
						io.WriteString(c, resp[pause:])
					} else {
						io.WriteString(c, resp)
					}
					if closeAfter {
						return
					}
				}
			}()
		}
	}()
	u, _ := url.Parse("http://" + ln.Addr().String())
	return u, accepted
}

// visitorAnswer is what a raw client read, with names canonical.
type visitorAnswer struct {
	interim  []string // 1xx answers: code and headers
	code     int
	header   map[string][]string // Date's value is "*"
	body     string
	trailer  map[string][]string
	complete bool // the whole body as framed
	err      string
	bareLF   bool // a line of the head ended in LF only
}

func (a visitorAnswer) String() string {
	return fmt.Sprintf("interim %q, %d %s, body %q, trailer %s, complete %v, err %q, bare LF %v",
		a.interim, a.code, fmtHeader(a.header), a.body, fmtHeader(a.trailer), a.complete, a.err, a.bareLF)
}

func fmtHeader(h map[string][]string) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %q", k, h[k])
	}
	b.WriteByte('}')
	return b.String()
}

// readLine reads a line ending in LF and returns it without its line end;
// crlf reports whether the end was CRLF.
func readLine(br *bufio.Reader) (line string, crlf bool, err error) {
	s, err := br.ReadString('\n')
	if err != nil {
		return s, false, err
	}
	s = s[:len(s)-1]
	if strings.HasSuffix(s, "\r") {
		return s[:len(s)-1], true, nil
	}
	return s, false, nil
}

// readFields reads header lines up to the empty one.
func readFields(br *bufio.Reader, a *visitorAnswer) (map[string][]string, error) {
	h := map[string][]string{}
	for {
		line, crlf, err := readLine(br)
		if err != nil {
			return h, err
		}
		if !crlf {
			a.bareLF = true
		}
		if line == "" {
			return h, nil
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return h, fmt.Errorf("a header line without a colon: %q", line)
		}
		k := textproto.CanonicalMIMEHeaderKey(name)
		v := strings.Trim(value, " \t")
		if k == "Date" {
			v = "*"
		}
		h[k] = append(h[k], v)
	}
}

// readAnswer reads one answer to a method request from br as a raw
// client does: it parses the framing itself.
func readAnswer(br *bufio.Reader, method string) (a visitorAnswer) {
	fail := func(err error) visitorAnswer {
		a.err = err.Error()
		return a
	}
	for {
		line, crlf, err := readLine(br)
		if err != nil {
			return fail(fmt.Errorf("status line: %w", err))
		}
		if !crlf {
			a.bareLF = true
		}
		proto, rest, _ := strings.Cut(line, " ")
		codeStr, _, _ := strings.Cut(rest, " ")
		code, err := strconv.Atoi(codeStr)
		if err != nil || proto != "HTTP/1.1" {
			return fail(fmt.Errorf("status line %q", line))
		}
		h, err := readFields(br, &a)
		if err != nil {
			return fail(err)
		}
		if code >= 100 && code < 200 {
			a.interim = append(a.interim, line+" "+fmtHeader(h))
			continue
		}
		a.code, a.header = code, h
		break
	}
	h := a.header
	switch {
	case method == "HEAD" || a.code == 204 || a.code == 304:
		a.complete = true
	case len(h["Transfer-Encoding"]) > 0:
		if h["Transfer-Encoding"][0] != "chunked" || len(h["Transfer-Encoding"]) > 1 {
			return fail(fmt.Errorf("Transfer-Encoding %q", h["Transfer-Encoding"]))
		}
		var body bytes.Buffer
		for {
			line, _, err := readLine(br)
			if err != nil {
				a.body = body.String()
				return fail(fmt.Errorf("chunk size: %w", err))
			}
			n, err := strconv.ParseInt(line, 16, 64)
			if err != nil {
				a.body = body.String()
				return fail(fmt.Errorf("chunk size %q", line))
			}
			if n == 0 {
				break
			}
			if _, err := io.CopyN(&body, br, n); err != nil {
				a.body = body.String()
				return fail(fmt.Errorf("chunk: %w", err))
			}
			if line, _, err := readLine(br); err != nil || line != "" {
				a.body = body.String()
				return fail(fmt.Errorf("after a chunk: %q %v", line, err))
			}
		}
		a.body = body.String()
		t, err := readFields(br, &a)
		if err != nil {
			return fail(fmt.Errorf("trailers: %w", err))
		}
		if len(t) > 0 {
			a.trailer = t
		}
		a.complete = true
	case len(h["Content-Length"]) > 0:
		n, err := strconv.ParseInt(h["Content-Length"][0], 10, 64)
		if err != nil || len(h["Content-Length"]) > 1 {
			return fail(fmt.Errorf("Content-Length %q", h["Content-Length"]))
		}
		var body bytes.Buffer
		_, err = io.CopyN(&body, br, n)
		a.body = body.String()
		if err != nil {
			return fail(fmt.Errorf("body: %w", err))
		}
		a.complete = true
	default:
		b, err := io.ReadAll(br)
		a.body = string(b)
		if err != nil {
			return fail(fmt.Errorf("close-delimited body: %w", err))
		}
		a.complete = true
	}
	return a
}

// visitorRequest is a browser's request for path as bytes.
func visitorRequest(t *testing.T, method, base, path string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := browserReq(t, method, base, path, nil).Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// rawOutcome is one case through one proxy.
type rawOutcome struct {
	first     visitorAnswer
	took      time.Duration
	open      bool // the visitor's connection served a second request
	second    string
	upstreams int64 // connections the upstream accepted for both requests
	rawDelta  int64 // RawRelayed's increase for the first request
}

func (o rawOutcome) comparable() string {
	return fmt.Sprintf("%v\nvisitor connection open after: %v\nupstream connections for two requests: %d", o.first, o.open, o.upstreams)
}

// runRawCase sends tc's request through a new proxy (raw relay on or off)
// before a new canned upstream, then a second request.
func runRawCase(t *testing.T, pal *testenv.Stack, tc rawCase, noRaw bool) rawOutcome {
	t.Helper()
	u, accepted := cannedUpstream(t, tc.resp, tc.close, tc.pause)
	px := proxy.NewWith(pal.Protector, []proxy.Route{{Host: "shop.example.com", Upstream: u}}, nil, nil,
		proxy.Options{UpstreamTimeout: 2 * time.Second})
	if noRaw {
		proxy.NoRaw(px)
	}
	base := serveProxy(t, px)
	addr := strings.TrimPrefix(base, "http://")
	method := tc.method
	if method == "" {
		method = "GET"
	}
	var o rawOutcome
	vc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	vc.SetDeadline(time.Now().Add(6 * time.Second))
	br := bufio.NewReader(vc)
	before := proxy.RawRelayed(px)
	start := time.Now()
	if _, err := vc.Write(visitorRequest(t, method, base, "/case")); err != nil {
		t.Fatal(err)
	}
	o.first = readAnswer(br, method)
	o.took = time.Since(start)
	// The count goes up before the handler returns, which is before the
	// last bytes of a small answer are flushed; a little wait for a big
	// one.
	for i := 0; i < 50 && proxy.RawRelayed(px) == before && tc.raw && !noRaw; i++ {
		time.Sleep(2 * time.Millisecond)
	}
	o.rawDelta = proxy.RawRelayed(px) - before
	// The second request: on the same connection when it is open.
	vc.SetDeadline(time.Now().Add(3 * time.Second))
	second := func(c net.Conn, br *bufio.Reader) (string, bool) {
		if _, err := c.Write(visitorRequest(t, "GET", base, "/second")); err != nil {
			return err.Error(), false
		}
		a := readAnswer(br, "GET")
		return a.String(), a.complete && a.code == 200 && a.body == "second"
	}
	if o.first.complete {
		o.second, o.open = second(vc, br)
	}
	if !o.open {
		vc2, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer vc2.Close()
		vc2.SetDeadline(time.Now().Add(3 * time.Second))
		if s, ok := second(vc2, bufio.NewReader(vc2)); !ok {
			t.Errorf("%s (raw relay off: %v): the second request on a new connection: %s", tc.name, noRaw, s)
		}
	}
	o.upstreams = accepted.Load()
	return o
}

// TestRawRelaySameAsRelay: every canned answer reaches the visitor the same
// through the raw relay as through relay (status, headers but Date's value
// and the names' case and order, body, trailers, whether the visitor's
// connection and the upstream's are kept); the plain answers take the raw
// relay, the others do not.
func TestRawRelaySameAsRelay(t *testing.T) {
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{WAF: wafOff})
	for _, tc := range rawCases {
		t.Run(tc.name, func(t *testing.T) {
			withRaw := runRawCase(t, pal, tc, false)
			noRaw := runRawCase(t, pal, tc, true)
			fail := t.Errorf
			if tc.known != "" {
				fail = func(format string, args ...any) {
					t.Logf("KNOWN DIFFERENCE (%s): "+format, append([]any{tc.known}, args...)...)
				}
			}
			if knownSniff && !strings.Contains(strings.ToLower(tc.resp), "\ncontent-type:") {
				_, rawCT := withRaw.first.header["Content-Type"]
				relayCT, relayHas := noRaw.first.header["Content-Type"]
				if !rawCT && relayHas && len(relayCT) == 1 && relayCT[0] == http.DetectContentType([]byte(noRaw.first.body)) {
					t.Logf("KNOWN DIFFERENCE (no sniffed Content-Type through the raw relay): relay added Content-Type %q", relayCT[0])
					h := maps.Clone(noRaw.first.header)
					delete(h, "Content-Type")
					noRaw.first.header = h
				}
			}
			differ := false
			if a, b := withRaw.comparable(), noRaw.comparable(); a != b {
				differ = true
				fail("upstream answer %q\nraw relay:\n%s\nrelay:\n%s", tc.resp, a, b)
			}
			if d := withRaw.took - noRaw.took; d > time.Second {
				differ = true
				fail("upstream answer %q: %v through the raw relay, %v through relay", tc.resp, withRaw.took, noRaw.took)
			}
			want := int64(0)
			if tc.raw {
				want = 1
			}
			if withRaw.rawDelta != want {
				t.Errorf("upstream answer %q: the raw relay took it %d times, want %d", tc.resp, withRaw.rawDelta, want)
			}
			if noRaw.rawDelta != 0 {
				t.Errorf("NoRaw: the raw relay took it %d times", noRaw.rawDelta)
			}
			wantUp := map[bool]int64{true: 1, false: 2}[tc.reuse]
			if noRaw.upstreams != wantUp {
				t.Errorf("upstream answer %q: relay: %d upstream connections for two requests, want %d", tc.resp, noRaw.upstreams, wantUp)
			}
			if withRaw.upstreams != wantUp {
				differ = true
				fail("upstream answer %q: raw relay: %d upstream connections for two requests, want %d", tc.resp, withRaw.upstreams, wantUp)
			}
			if tc.known != "" && !differ {
				t.Errorf("%s: no longer differs (%s): take the known marker off", tc.name, tc.known)
			}
			t.Logf("raw relay: %.400s (open %v, upstreams %d, took %v)", withRaw.first, withRaw.open, withRaw.upstreams, withRaw.took.Round(time.Millisecond))
		})
	}
}

// rawStack is shop.example.com behind a proxy on its own server (raw relay
// on), before a rawUpstream with special; it returns the proxy, its base
// URL and the upstream's accepted connections.
func rawStack(t *testing.T, special func(c net.Conn, br *bufio.Reader, req *http.Request) bool) (*proxy.Proxy, string, *atomic.Int64) {
	t.Helper()
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{WAF: wafOff})
	u, accepted := rawUpstream(t, special)
	px := proxy.NewWith(pal.Protector, []proxy.Route{{Host: "shop.example.com", Upstream: u}}, nil, nil,
		proxy.Options{UpstreamTimeout: 5 * time.Second})
	return px, serveProxy(t, px), accepted
}

// TestRawRelayBodyCutShort: an upstream that closes after 10 of the 100
// bytes it announced: the visitor's answer is broken off (its connection
// closed before the body is whole), and the next visitor is served on a
// new upstream connection. Relay (raw relay off) alike.
func TestRawRelayBodyCutShort(t *testing.T) {
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{WAF: wafOff})
	for _, noRaw := range []bool{false, true} {
		u, accepted := rawUpstream(t, func(c net.Conn, br *bufio.Reader, req *http.Request) bool {
			if req.URL.Path != "/short" {
				return false
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n0123456789")
			c.Close()
			return true
		})
		px := proxy.NewWith(pal.Protector, []proxy.Route{{Host: "shop.example.com", Upstream: u}}, nil, nil,
			proxy.Options{UpstreamTimeout: 5 * time.Second})
		if noRaw {
			proxy.NoRaw(px)
		}
		base := serveProxy(t, px)
		vc, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer vc.Close()
		vc.SetDeadline(time.Now().Add(5 * time.Second))
		before := proxy.RawRelayed(px)
		vc.Write(visitorRequest(t, "GET", base, "/short"))
		a := readAnswer(bufio.NewReader(vc), "GET")
		// Through the raw relay the head goes out (WriteRawHead writes it
		// into the connection's buffer, which is flushed when the handler
		// panics) and the 10 bytes stay in the response's own 2 KB
		// buffer; through relay nothing does (WriteHeader only records).
		if a.complete || !strings.Contains(a.err, "EOF") && !strings.Contains(a.err, "reset") {
			t.Fatalf("raw relay off: %v: the cut answer: %v; want the connection closed before the body is whole", noRaw, a)
		}
		t.Logf("raw relay off: %v: what the visitor got: %v", noRaw, a)
		want := int64(1)
		if noRaw {
			want = 0
		}
		if d := proxy.RawRelayed(px) - before; d != want {
			t.Errorf("raw relay off: %v: the raw relay took it %d times, want %d", noRaw, d, want)
		}
		if code, body, _ := do(t, keepAliveClient(), browserReq(t, "GET", base, "/", nil)); code != 200 || body != "ok" {
			t.Fatalf("raw relay off: %v: the next request: %d %q", noRaw, code, body)
		}
		if n := accepted.Load(); n != 2 {
			t.Fatalf("raw relay off: %v: %d upstream connections, want 2 (the cut one replaced)", noRaw, n)
		}
	}
}

// TestRawRelayBigBody: a 1 MB body with a Content-Length comes through the
// raw relay intact, twice on one upstream connection.
func TestRawRelayBigBody(t *testing.T) {
	body := make([]byte, 1<<20)
	for i := range body {
		body[i] = byte(i*7 + i>>11)
	}
	px, base, accepted := rawStack(t, func(c net.Conn, br *bufio.Reader, req *http.Request) bool {
		if req.URL.Path != "/big" {
			return false
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", len(body))
		c.Write(body)
		return true
	})
	c := keepAliveClient()
	before := proxy.RawRelayed(px)
	for i := 0; i < 2; i++ {
		code, got, h := do(t, c, browserReq(t, "GET", base, "/big", nil))
		if code != 200 || sha256.Sum256([]byte(got)) != sha256.Sum256(body) || h.Get("Content-Length") != strconv.Itoa(len(body)) {
			t.Fatalf("%d: %d, %d bytes (want %d), equal %v, %v", i, code, len(got), len(body), got == string(body), h)
		}
	}
	if d := proxy.RawRelayed(px) - before; d != 2 {
		t.Errorf("the raw relay took %d of 2", d)
	}
	if n := accepted.Load(); n != 1 {
		t.Errorf("%d upstream connections, want 1", n)
	}
}

// TestRawRelayVisitorLeaves: a visitor that hangs up while a slow
// upstream works has the upstream connection
// cut (long before the 8 s it would take to answer), and the next
// visitor is served, on a new one, through the raw relay.
func TestRawRelayVisitorLeaves(t *testing.T) {
	hanging, cut := make(chan struct{}, 1), make(chan struct{}, 1)
	px, base, accepted := rawStack(t, func(c net.Conn, br *bufio.Reader, req *http.Request) bool {
		if req.URL.Path == "/" {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok") // typed: the raw relay's
			return true
		}
		if req.URL.Path != "/slow" {
			return false
		}
		hanging <- struct{}{}
		c.SetReadDeadline(time.Now().Add(8 * time.Second))
		_, err := br.ReadByte()
		var ne net.Error
		if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
			cut <- struct{}{} // the proxy closed it
			c.Close()
			return true
		}
		c.SetReadDeadline(time.Time{})
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nslow")
		return true
	})
	addr := strings.TrimPrefix(base, "http://")
	c := keepAliveClient()
	if code, body, _ := do(t, c, browserReq(t, "GET", base, "/", nil)); code != 200 || body != "ok" {
		t.Fatalf("first GET: %d %q", code, body)
	}
	vc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	vc.Write(visitorRequest(t, "GET", base, "/slow"))
	select {
	case <-hanging:
	case <-time.After(5 * time.Second):
		t.Fatal("the request did not reach the upstream")
	}
	time.Sleep(200 * time.Millisecond) // past WatchClientAfter: the watch runs
	vc.Close()
	select {
	case <-cut:
	case <-time.After(6 * time.Second):
		t.Fatal("the upstream connection is still open 6 s after the visitor left")
	}
	before := proxy.RawRelayed(px)
	if code, body, _ := do(t, c, browserReq(t, "GET", base, "/", nil)); code != 200 || body != "ok" {
		t.Fatalf("GET after the visitor left: %d %q", code, body)
	}
	if d := proxy.RawRelayed(px) - before; d != 1 {
		t.Errorf("the raw relay took %d of 1 after the visitor left", d)
	}
	if n := accepted.Load(); n != 2 {
		t.Fatalf("%d upstream connections, want 2 (the cut one replaced)", n)
	}
}

// TestRawRelaySilentUpstream: an upstream that never answers, or stops in
// the middle of its head, gets the visitor the same answer through the raw
// relay as through relay, after UpstreamTimeout, not later.
func TestRawRelaySilentUpstream(t *testing.T) {
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{WAF: wafOff})
	const silence = 400 * time.Millisecond
	for _, tc := range []struct{ path, known string }{
		{"/silent", ""},
		// rawHead's read of the rest of the head ends the wait (no
		// second UpstreamTimeout for http.ReadResponse) with 504, the
		// upstream's silence, as nginx answers; relay's http.ReadResponse
		// reports the cut line as a malformed header (502).
		{"/half-head", ""},
	} {
		var took [2]time.Duration
		var codes [2]int
		for i, noRaw := range []bool{false, true} {
			u, _ := rawUpstream(t, func(c net.Conn, br *bufio.Reader, req *http.Request) bool {
				if req.URL.Path == "/half-head" {
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Le")
				} else if req.URL.Path != "/silent" {
					return false
				}
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				br.ReadByte() // until the proxy gives up and closes
				c.Close()
				return true
			})
			px := proxy.NewWith(pal.Protector, []proxy.Route{{Host: "shop.example.com", Upstream: u}}, nil, nil,
				proxy.Options{UpstreamTimeout: silence})
			if noRaw {
				proxy.NoRaw(px)
			}
			base := serveProxy(t, px)
			start := time.Now()
			codes[i], _, _ = do(t, keepAliveClient(), browserReq(t, "GET", base, tc.path, nil))
			took[i] = time.Since(start)
		}
		t.Logf("%s: %d after %v through the raw relay, %d after %v through relay (UpstreamTimeout %v)",
			tc.path, codes[0], took[0].Round(time.Millisecond), codes[1], took[1].Round(time.Millisecond), silence)
		if codes[0] != http.StatusGatewayTimeout || codes[1] < 500 || (tc.path == "/silent" && codes[1] != codes[0]) {
			t.Errorf("%s: %d through the raw relay, %d through relay", tc.path, codes[0], codes[1])
		}
		slow := took[0] > took[1]+silence/2
		switch {
		case slow && tc.known == "":
			t.Errorf("%s: the raw relay waited %v, relay %v (UpstreamTimeout %v)", tc.path, took[0], took[1], silence)
		case slow:
			t.Logf("KNOWN DIFFERENCE (%s): the raw relay waited %v, relay %v", tc.known, took[0], took[1])
		case tc.known != "":
			t.Errorf("%s: no longer differs (%s): take the known marker off", tc.path, tc.known)
		}
	}
}
