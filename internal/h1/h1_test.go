package h1

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// shapeHandler answers by the last segment of the path; every shape
// starts from the same request on both servers.
func shapeHandler(w http.ResponseWriter, r *http.Request) {
	switch path.Base(r.URL.Path) {
	case "sniff":
		w.Write([]byte("<html><body>hi</body></html>"))
	case "ctype":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("typed"))
	case "204":
		w.Header().Set("X-A", "a")
		w.WriteHeader(http.StatusNoContent)
	case "204body":
		w.WriteHeader(http.StatusNoContent)
		w.Write([]byte("ignored"))
	case "304":
		w.Header().Set("ETag", `"abc"`)
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Length", "10")
		w.WriteHeader(http.StatusNotModified)
	case "big":
		w.Write(bytes.Repeat([]byte("x"), 5000))
	case "smallwrites":
		for i := 0; i < 50; i++ {
			w.Write(bytes.Repeat([]byte{byte('a' + i%26)}, 100))
		}
	case "cl":
		w.Header().Set("Content-Length", "11")
		w.Write([]byte("hello world"))
	case "clshort":
		w.Header().Set("Content-Length", "20")
		w.Write([]byte("short"))
	case "cllong":
		w.Header().Set("Content-Length", "3")
		_, err := w.Write([]byte("too long"))
		fmt.Fprint(w, err)
	case "clbad":
		w.Header().Set("Content-Length", "abc")
		w.Write([]byte("bad cl"))
	case "flush":
		w.Write([]byte("first"))
		w.(http.Flusher).Flush()
		w.Write([]byte("second"))
	case "flushempty":
		w.(http.Flusher).Flush()
	case "trailer":
		w.Header().Set("Trailer", "X-T, X-B")
		w.Write([]byte("body"))
		w.Header().Set("X-T", "t\nvalue ")
		w.Header().Set("X-B", "b")
		w.Header().Set(http.TrailerPrefix+"X-A", "a")
	case "trailerprefix":
		w.Header().Set(http.TrailerPrefix+"x-u", "u")
		w.Write([]byte("body"))
	case "headbody":
		w.Write([]byte("hello head"))
	case "headbig":
		w.Write(bytes.Repeat([]byte("y"), 3000))
	case "close":
		w.Header().Set("Connection", "close")
		w.Write([]byte("bye"))
	case "103":
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Set("X-After", "1")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("after hints"))
	case "599":
		w.WriteHeader(599)
		w.Write([]byte("odd"))
	case "nothing":
	case "teident":
		w.Header().Set("Transfer-Encoding", "identity")
		w.Write([]byte("identity"))
	case "multihdr":
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		w.Header().Set("Zz", "last")
		w.Header().Set("Aa", "first")
		w.Write([]byte("multi"))
	case "date":
		w.Header().Set("Date", "Mon, 02 Jan 2006 15:04:05 GMT")
		w.Write([]byte("own date"))
	case "afterwh":
		w.Header().Set("A", "1")
		w.WriteHeader(http.StatusCreated)
		w.Header().Set("B", "2")
		w.Write([]byte("after"))
	case "afterwh2":
		w.WriteHeader(http.StatusAccepted)
		w.Header().Set("B", "2")
		w.Write([]byte("after"))
	case "afterwrite":
		w.Write([]byte("x"))
		w.Header().Set("C", "3")
	case "tegzip":
		w.Header().Set("Transfer-Encoding", "gzip")
		w.Write([]byte("gz"))
	case "techunked":
		w.Header().Set("Transfer-Encoding", "chunked")
		w.Header().Set("Content-Length", "2")
		w.Write([]byte("ch"))
	case "badtrailers":
		w.Header().Set("Trailer", "Content-Length, If-Match,\tX-Ok ,, trailer")
		w.Write([]byte("t"))
		w.Header().Set("If-Match", "m")
		w.Header().Set("X-Ok", "ok")
	case "conntoken":
		w.Header().Set("Connection", "foo, close")
		w.Write([]byte("tok"))
	case "101":
		w.Header().Set("Upgrade", "x")
		w.Header().Set("Connection", "Upgrade")
		w.WriteHeader(http.StatusSwitchingProtocols)
	case "panic":
		w.Header().Set("X", "1")
		panic("boom")
	case "panicflushed":
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	case "panicbuffered":
		w.Write(bytes.Repeat([]byte("p"), 3000))
		panic("boom")
	case "superfluous":
		w.WriteHeader(http.StatusCreated)
		w.WriteHeader(0)
		w.WriteHeader(http.StatusTeapot)
	case "cl0":
		w.Header().Set("Content-Length", "0")
		_, err := w.Write([]byte("x"))
		w.Header().Set("X-Err", fmt.Sprint(err))
	case "nilctype":
		w.Header()["Content-Type"] = nil
		w.Write([]byte("<html>"))
	case "ce":
		w.Header().Set("Content-Encoding", "br")
		w.Write([]byte("<html>"))
	case "flushbig":
		w.Write([]byte("a"))
		w.(http.Flusher).Flush()
		w.Write(bytes.Repeat([]byte("b"), 3000))
		w.Write([]byte("c"))
	case "exact2048":
		w.Write(bytes.Repeat([]byte("e"), 2048))
	case "exact2049":
		w.Write(bytes.Repeat([]byte("e"), 2048))
		w.Write([]byte("f"))
	default:
		echo(w, r)
	}
}

// echo writes the request as the handler sees it.
func echo(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	fmt.Fprintf(&b, "Method=%q\nURL=%q\nRawQuery=%q\nPath=%q\nRawPath=%q\nProto=%q %d.%d\nHost=%q\nRequestURI=%q\nContentLength=%d\nNoBody=%v\nClose=%v\nTE=%q\nTrailer=%v\n",
		r.Method, r.URL.String(), r.URL.RawQuery, r.URL.Path, r.URL.RawPath, r.Proto, r.ProtoMajor, r.ProtoMinor, r.Host, r.RequestURI,
		r.ContentLength, r.Body == http.NoBody, r.Close, r.TransferEncoding, r.Trailer)
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "H %q=%q\n", k, r.Header[k])
	}
	w.Write([]byte(b.String()))
}

type pair struct {
	std, fast string // addresses
	fs        *Server
	hs        *http.Server
}

func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }

func startPair(t testing.TB, configure ...func(*http.Server)) *pair {
	t.Helper()
	h := http.HandlerFunc(shapeHandler)
	l1, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h, ErrorLog: quietLog()}
	fs := &Server{HTTP: &http.Server{Handler: h, ErrorLog: quietLog()}, Take: func(p string) bool { return strings.HasPrefix(p, "/fast") }}
	for _, f := range configure {
		f(hs)
		f(fs.HTTP)
	}
	go hs.Serve(l1)
	go fs.Serve(l2)
	t.Cleanup(func() { hs.Close(); fs.Close() })
	return &pair{std: l1.Addr().String(), fast: l2.Addr().String(), fs: fs, hs: hs}
}

var dateRE = regexp.MustCompile(`Date: [^\r\n]*\r\n`)

// roundTrip writes req (in pieces cut at splits, a pause between),
// half-closes and reads until EOF or the deadline.
func roundTrip(addr, req string, d time.Duration, splits ...int) ([]byte, error) {
	c, err := net.DialTimeout("tcp", addr, d)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(d))
	c.(*net.TCPConn).SetNoDelay(true)
	at := 0
	for _, cut := range append(splits, len(req)) {
		if cut < at || cut > len(req) {
			continue
		}
		if _, err := c.Write([]byte(req[at:cut])); err != nil {
			return nil, err
		}
		at = cut
		if at < len(req) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return b, err
		}
		// A reset after the server closed with unread bytes: keep what
		// arrived, as net/http's own answer does.
	}
	return dateRE.ReplaceAll(b, []byte("Date: X\r\n")), nil
}

func (p *pair) compare(t testing.TB, req string, d time.Duration, splits ...int) (std, fast []byte) {
	t.Helper()
	var wg sync.WaitGroup
	var e1, e2 error
	wg.Add(2)
	go func() { defer wg.Done(); std, e1 = roundTrip(p.std, req, d, splits...) }()
	go func() { defer wg.Done(); fast, e2 = roundTrip(p.fast, req, d, splits...) }()
	wg.Wait()
	if e1 != nil || e2 != nil {
		t.Errorf("request %q: net/http: %v; h1: %v", req, e1, e2)
	}
	if !bytes.Equal(std, fast) {
		i := 0
		for i < len(std) && i < len(fast) && std[i] == fast[i] {
			i++
		}
		from := max(0, i-200)
		t.Errorf("request %.300q: answers differ at byte %d of %d/%d:\nnet/http: %.400q\nh1:       %.400q", req, i, len(std), len(fast), std[from:], fast[from:])
	}
	return std, fast
}

const browser = "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\n" +
	"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Connection: keep-alive\r\n" +
	"Cookie: a=1; b=2\r\n" +
	"Upgrade-Insecure-Requests: 1\r\n" +
	"Sec-Fetch-Dest: document\r\n" +
	"Sec-Fetch-Mode: navigate\r\n" +
	"Priority: u=0, i\r\n"

// nginxAuth is what auth_request sends over a kept-alive upstream
// (proxy_http_version 1.1; proxy_set_header Connection "").
const nginxAuth = "X-Original-URI: /app/page?x=1\r\n" +
	"X-Original-Method: GET\r\n" +
	"X-Real-IP: 203.0.113.7\r\n" +
	"X-Forwarded-For: 203.0.113.7\r\n" +
	"X-Forwarded-Proto: https\r\n" +
	"Content-Length: 0\r\n"

func get(p string) string { return "GET " + p + " HTTP/1.1\r\nHost: example.com\r\n\r\n" }

var shapes = []string{"echo", "sniff", "ctype", "204", "204body", "304", "big", "smallwrites", "cl", "clshort", "cllong", "clbad",
	"flush", "flushempty", "trailer", "trailerprefix", "headbody", "headbig", "close", "103", "599", "nothing", "teident",
	"multihdr", "date", "afterwh", "afterwh2", "afterwrite", "tegzip", "techunked", "badtrailers", "conntoken", "101",
	"panic", "panicflushed", "panicbuffered", "superfluous", "cl0", "nilctype", "ce", "flushbig", "exact2048", "exact2049"}

func requests() []string {
	var rs []string
	for _, s := range shapes {
		rs = append(rs, get("/fast/"+s), get("/slow/"+s),
			"HEAD /fast/"+s+" HTTP/1.1\r\nHost: example.com\r\n\r\n")
	}
	rs = append(rs,
		"GET /fast/echo HTTP/1.1\r\nHost: example.com\r\n"+browser+"\r\n",
		"GET /fast/auth HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n"+nginxAuth+"\r\n",
		// nginx's default upstream protocol.
		"GET /fast/auth HTTP/1.0\r\nHost: 127.0.0.1:9000\r\n"+nginxAuth+"Connection: close\r\n\r\n",
		"GET /fast/auth HTTP/1.1\r\nHost: localhost\r\nX-Original-URI: /\r\nConnection: keep-alive\r\n\r\n",
		get("/fast/q?a=1&b=%20x&c"),
		get("/fast/q?"),
		get("/fast/a%2Fb/c%20d"),
		get("/fast/%zz"),
		get("/fast/./../x"),
		get("/fast//double"),
		get("/fast/echo#frag"),
		get("/fast/ü"),
		"GET /fast/p HTTP/1.1\r\nHost: e\r\nPragma: no-cache\r\n\r\n",
		"GET /fast/p HTTP/1.1\r\nHost: e\r\nPragma: no-cache\r\nCache-Control: max-age=0\r\n\r\n",
		"GET /fast/p HTTP/1.1\r\nHost: e\r\nPragma: no-cache, x\r\n\r\n",
		"GET /fast/p HTTP/1.1\r\nHost: e\r\nPragma: no-cache\r\nCache-Control:\r\n\r\n",
		"GET /fast/r HTTP/1.1\r\nHost: e\r\nX-R: 1\r\nx-r: 2\r\nX-R:3\r\nX-Empty:\r\nX-Sp:   padded \t\r\n\r\n",
		"GET /fast/r HTTP/1.1\r\nHost: e\r\nx-lower-case: v\r\ncontent-length: 0\r\n\r\n",
		"GET /fast/r HTTP/1.1\r\nHost: e\r\nX-Utf8: héllo\r\n\r\n",
		"GET /fast/r HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
		"GET /fast/r HTTP/1.1\r\nHost: \r\n\r\n",
		"GET /fast/r HTTP/1.1\r\nHost: a b\r\n\r\n",
		"GET /fast/r HTTP/1.1\r\nHost: a/b\r\n\r\n",
		"GET /fast/r HTTP/1.1\r\nHost: é.example\r\n\r\n",
		"GET /fast/a HTTP/1.1\r\nHost: e\r\n\r\nGET /slow/b HTTP/1.1\r\nHost: e\r\n\r\nGET /fast/c HTTP/1.1\r\nHost: e\r\n\r\n",
		"GET /fast/a HTTP/1.1\r\nHost: e\r\n\r\nGET /fast/big HTTP/1.1\r\nHost: e\r\n\r\nHEAD /fast/headbig HTTP/1.1\r\nHost: e\r\n\r\nGET /fast/trailer HTTP/1.1\r\nHost: e\r\n\r\n",
		"GET /fast/a HTTP/1.1\r\nHost: e\r\n\r\nGET /fast/close HTTP/1.1\r\nHost: e\r\n\r\nGET /fast/c HTTP/1.1\r\nHost: e\r\n\r\n",
		"GET /fast/a HTTP/1.1\r\nHost: e\r\n\r\nGET /fast/clshort HTTP/1.1\r\nHost: e\r\n\r\nGET /fast/c HTTP/1.1\r\nHost: e\r\n\r\n",
		"GET /fast/a HTTP/1.1\r\nHost: e\r\n\r\nGET /fast/b HTTP/1.1\r\nHost: e\r\nConnection: close\r\n\r\nGET /fast/c HTTP/1.1\r\nHost: e\r\n\r\n",
		// Hostile or unusual: handed off, answered by net/http.
		"POST /fast/echo HTTP/1.1\r\nHost: e\r\nContent-Length: 5\r\n\r\nhello",
		"POST /fast/echo HTTP/1.1\r\nHost: e\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nContent-Length: 0\r\nContent-Length: 1\r\n\r\nx",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nContent-Length: 5\r\n\r\nhello",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nContent-Length: 00\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nContent-Length: +0\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nX-Fold: a\r\n b\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nX-Fold: a\r\n\tb\r\n\r\n",
		"GET /fast/echo HTTP/1.1\nHost: e\n\n",
		"GET /fast/echo HTTP/1.1\r\nHost: ab\n\n",
		"GET /fast/echo HTTP/1.1\r\nHost: ab\nX: y\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost : e\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nX-Bad : v\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nX-Ctl: a\x01b\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nX-Ctl: a\x7fb\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nX-Ctl: a\x00b\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nX-Cr: a\rb\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nX-Tab: a\tb\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\n: novalue\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nNoColon\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nX(bad): v\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
		"GET /fast/echo HTTP/1.0\r\nHost: e\r\n\r\n",
		"GET /fast/echo HTTP/1.0\r\nHost: e\r\nConnection: keep-alive\r\n\r\n",
		"GET /fast/echo HTTP/2.0\r\nHost: e\r\n\r\n",
		"GET /fast/echo http/1.1\r\nHost: e\r\n\r\n",
		"GET /fast/echo HTTP/1.1 \r\nHost: e\r\n\r\n",
		"GET  /fast/echo HTTP/1.1\r\nHost: e\r\n\r\n",
		"GET http://e/fast/echo HTTP/1.1\r\nHost: e\r\n\r\n",
		"GET http://other/fast/echo HTTP/1.1\r\nHost: e\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: e\r\n\r\n",
		"GET * HTTP/1.1\r\nHost: e\r\n\r\n",
		"get /fast/echo HTTP/1.1\r\nHost: e\r\n\r\n",
		"PUT /fast/echo HTTP/1.1\r\nHost: e\r\nContent-Length: 0\r\n\r\n",
		"DELETE /fast/echo HTTP/1.1\r\nHost: e\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nExpect: 100-continue\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nConnection: close\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nConnection: Close\r\n\r\nGET /fast/echo HTTP/1.1\r\nHost: e\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nConnection: keep-alive, close\r\n\r\nGET /fast/echo HTTP/1.1\r\nHost: e\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nTE: trailers\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nTrailer: X\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nX-Mid: "+strings.Repeat("m", 4000)+"\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nX-Mid: "+strings.Repeat("m", 4100)+"\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nX-Mid: "+strings.Repeat("m", 10000)+"\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nX-Mid: "+strings.Repeat("m", 16300)+"\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nX-Mid: "+strings.Repeat("m", 16340)+"\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\n"+strings.Repeat("X-Many: v\r\n", 300)+"\r\n",
		get("/fast/a")+"GET /fast/echo HTTP/1.1\r\nHost: e\r\nX-Mid: "+strings.Repeat("m", 6000)+"\r\n\r\n"+get("/fast/b"),
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nX-Big: "+strings.Repeat("b", 20<<10)+"\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nX-Big: "+strings.Repeat("b", 1<<20+100)+"\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nX-Ha",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\n\r\nGET /fast/echo HTTP/1.1\r\nHo",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\n\r\nGET /fast/echo HTTP/1.1\r\nHost: e\r\nContent-Length: 3\r\n\r\nab",
		"GET /fast/echo",
		"\r\nGET /fast/echo HTTP/1.1\r\nHost: e\r\n\r\n",
		"",
		"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"GET /fast/echo\x01 HTTP/1.1\r\nHost: e\r\n\r\n",
		"GET /fast/e\x7fcho HTTP/1.1\r\nHost: e\r\n\r\n",
		"GET /fast/echo\tx HTTP/1.1\r\nHost: e\r\n\r\n",
	)
	return rs
}

func TestSameBytesAsNetHTTP(t *testing.T) {
	p := startPair(t)
	f0, h0 := Counts()
	for _, req := range requests() {
		p.compare(t, req, 3*time.Second)
	}
	f1, h1 := Counts()
	if f1 == f0 || h1 == h0 {
		t.Errorf("fast answered %d, handed off %d: the table must exercise both", f1-f0, h1-h0)
	}
}

// Requests that arrive in pieces: the head split inside the request
// line, a header, the final CRLF, and between pipelined requests.
func TestSplitReads(t *testing.T) {
	p := startPair(t)
	reqs := []string{
		get("/fast/echo"),
		"HEAD /fast/headbody HTTP/1.1\r\nHost: e\r\n\r\n",
		"GET /fast/auth HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n" + nginxAuth + "\r\n",
		"GET /fast/a HTTP/1.1\r\nHost: e\r\n\r\nGET /slow/b HTTP/1.1\r\nHost: e\r\n\r\nGET /fast/c HTTP/1.1\r\nHost: e\r\n\r\n",
		"GET /fast/a HTTP/1.1\r\nHost: e\r\n\r\nPOST /fast/echo HTTP/1.1\r\nHost: e\r\nContent-Length: 5\r\n\r\nhello",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nX-Fold: a\r\n b\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nX-Big: " + strings.Repeat("b", 20<<10) + "\r\n\r\n",
	}
	for _, req := range reqs {
		for _, cut := range []int{1, 3, 10, 30, len(req) / 2, len(req) - 2, len(req) - 1} {
			p.compare(t, req, 3*time.Second, cut)
		}
		p.compare(t, req, 3*time.Second, 2, 20, 41, 42, 43, 44, 45)
	}
}

// openRead writes req without half-closing and reads until the server
// closes or d passes; it returns what came and how long it took.
func openRead(addr, req string, d time.Duration) ([]byte, time.Duration, error) {
	c, err := net.DialTimeout("tcp", addr, d)
	if err != nil {
		return nil, 0, err
	}
	defer c.Close()
	start := time.Now()
	c.SetDeadline(start.Add(d))
	if _, err := c.Write([]byte(req)); err != nil {
		return nil, 0, err
	}
	b, err := io.ReadAll(c)
	return dateRE.ReplaceAll(b, []byte("Date: X\r\n")), time.Since(start), err
}

// The server's timeouts close connections as net/http does: a head not
// finished within ReadHeaderTimeout (without an answer), a kept-alive
// connection idle for IdleTimeout.
func TestTimeouts(t *testing.T) {
	p := startPair(t, func(s *http.Server) {
		s.ReadHeaderTimeout = 150 * time.Millisecond
		s.IdleTimeout = 300 * time.Millisecond
	})
	for _, req := range []string{
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nX-Ha",
		get("/fast/echo"),
		get("/fast/echo") + "GET /fast/echo HTTP/1.1\r\nHo",
		get("/fast/echo") + "GE",
		get("/slow/echo"),
		"",
	} {
		var wg sync.WaitGroup
		var std, fast []byte
		var dStd, dFast time.Duration
		var e1, e2 error
		wg.Add(2)
		go func() { defer wg.Done(); std, dStd, e1 = openRead(p.std, req, 3*time.Second) }()
		go func() { defer wg.Done(); fast, dFast, e2 = openRead(p.fast, req, 3*time.Second) }()
		wg.Wait()
		if e1 != nil || e2 != nil {
			t.Errorf("%q: net/http %v, h1 %v (the connection must be closed by the server)", req, e1, e2)
			continue
		}
		if !bytes.Equal(std, fast) {
			t.Errorf("%q: net/http %q, h1 %q", req, std, fast)
		}
		if dFast > dStd+time.Second || dStd > dFast+time.Second {
			t.Errorf("%q: closed after %v by net/http, %v by h1", req, dStd, dFast)
		}
	}
}

// With a small MaxHeaderBytes, a head net/http refuses is not taken.
func TestMaxHeaderBytes(t *testing.T) {
	p := startPair(t, func(s *http.Server) { s.MaxHeaderBytes = 100 })
	for _, n := range []int{10, 100, 4000, 4300, 5000, 12000} {
		p.compare(t, "GET /fast/echo HTTP/1.1\r\nHost: e\r\nX-Pad: "+strings.Repeat("p", n)+"\r\n\r\n", 3*time.Second)
		if n == 4300 || n == 5000 {
			// Pipelined after a fast request, a head just over net/http's
			// limit (MaxHeaderBytes + 4096 bytes read) is refused with 431
			// once handed off, where net/http itself may accept it when
			// the bytes came in the same read as the previous request's:
			// see "Differences" in the package comment.
			continue
		}
		p.compare(t, get("/fast/a")+"GET /fast/echo HTTP/1.1\r\nHost: e\r\nX-Pad: "+strings.Repeat("p", n)+"\r\n\r\n", 3*time.Second)
	}
}

// A fast request gets the fast path: checks that the table's fast cases
// really were answered by h1 and not handed off.
func TestFastPathTaken(t *testing.T) {
	p := startPair(t)
	for _, req := range []string{
		get("/fast/echo"),
		"GET /fast/auth HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n" + nginxAuth + "\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: example.com\r\n" + browser + "\r\n",
		"HEAD /fast/headbody HTTP/1.1\r\nHost: e\r\n\r\n",
		"GET /fast/p HTTP/1.1\r\nHost: e\r\nPragma: no-cache\r\n\r\n",
		"GET /fast/q?a=1&b=%20x HTTP/1.1\r\nhost: [::1]:8080\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n",
		"GET /fast/echo HTTP/1.1\r\nHost: e\r\nX-Mid: " + strings.Repeat("m", 10000) + "\r\n\r\n",
		"GET /fast/trailer HTTP/1.1\r\nHost: e\r\n\r\n",
	} {
		f0, h0 := settledCounts(t)
		p.compare(t, req, 3*time.Second)
		f1, h1 := Counts()
		if f1-f0 != 1 || h1 != h0 {
			t.Errorf("%q: fast %d, handed %d; want 1 fast", req, f1-f0, h1-h0)
		}
	}
	for _, req := range []string{get("/slow/echo"), "POST /fast/echo HTTP/1.1\r\nHost: e\r\nContent-Length: 0\r\n\r\n"} {
		f0, h0 := settledCounts(t)
		p.compare(t, req, 3*time.Second)
		f1, h1 := Counts()
		if f1 != f0 || h1-h0 != 1 {
			t.Errorf("%q: fast %d, handed %d; want 1 handed off", req, f1-f0, h1-h0)
		}
	}
}

type ctxKey string

func TestRequestContext(t *testing.T) {
	type seen struct {
		remote, local     string
		srv               *http.Server
		base, connv       any
		ctx               context.Context
		writer            http.ResponseWriter
		controllerFlushes bool
	}
	ch := make(chan seen, 2)
	hs := &http.Server{
		ErrorLog: quietLog(),
		BaseContext: func(net.Listener) context.Context {
			return context.WithValue(context.Background(), ctxKey("base"), "b")
		},
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, ctxKey("conn"), c.RemoteAddr().String())
		},
	}
	hs.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seen{remote: r.RemoteAddr, ctx: r.Context(), base: r.Context().Value(ctxKey("base")), connv: r.Context().Value(ctxKey("conn"))}
		s.srv, _ = r.Context().Value(http.ServerContextKey).(*http.Server)
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			s.local = a.String()
		}
		s.controllerFlushes = http.NewResponseController(w).Flush() == nil
		w.Write([]byte("ok"))
		ch <- s
	})
	fs := &Server{HTTP: hs, Take: func(p string) bool { return strings.HasPrefix(p, "/fast") }}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- fs.Serve(ln) }()
	defer func() {
		fs.Close()
		<-done
	}()
	for _, p := range []string{"/fast/x", "/slow/x"} {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(3 * time.Second))
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: e\r\n\r\n", p)
		var s seen
		select {
		case s = <-ch:
		case <-time.After(3 * time.Second):
			t.Fatalf("%s: handler not called", p)
		}
		buf := make([]byte, 512)
		n, _ := c.Read(buf)
		if !bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 200 OK\r\n")) {
			t.Errorf("%s: answer %q", p, buf[:n])
		}
		if s.remote != c.LocalAddr().String() {
			t.Errorf("%s: RemoteAddr %q, want %q", p, s.remote, c.LocalAddr())
		}
		if s.local != ln.Addr().String() {
			t.Errorf("%s: LocalAddrContextKey %q, want %q", p, s.local, ln.Addr())
		}
		if s.srv != hs {
			t.Errorf("%s: ServerContextKey %p, want %p", p, s.srv, hs)
		}
		if s.base != "b" || s.connv != c.LocalAddr().String() {
			t.Errorf("%s: BaseContext value %v, ConnContext value %v", p, s.base, s.connv)
		}
		if !s.controllerFlushes {
			t.Errorf("%s: ResponseController.Flush failed", p)
		}
		select {
		case <-s.ctx.Done():
		case <-time.After(time.Second):
			t.Errorf("%s: request context not cancelled after the handler returned", p)
		}
		c.Close()
	}
}

func TestShutdown(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	hs := &http.Server{ErrorLog: quietLog(), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fast/slowly" {
			close(started)
			<-release
		}
		w.Write([]byte("done"))
	})}
	fs := &Server{HTTP: hs, Take: func(p string) bool { return strings.HasPrefix(p, "/fast") }}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- fs.Serve(ln) }()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		return c
	}

	// An idle keep-alive fast connection, after one answered request.
	f0, h0 := settledCounts(t)
	idle := dial()
	defer idle.Close()
	io.WriteString(idle, get("/fast/one"))
	buf := make([]byte, 4096)
	n, err := idle.Read(buf)
	if err != nil || !bytes.HasSuffix(buf[:n], []byte("\r\n\r\ndone")) {
		t.Fatalf("idle connection's answer %q, %v", buf[:n], err)
	}
	if f, h := Counts(); f-f0 != 1 || h != h0 {
		t.Errorf("Counts moved by fast %d, handed %d; want 1, 0", f-f0, h-h0)
	}

	// A request in flight.
	busy := dial()
	defer busy.Close()
	io.WriteString(busy, get("/fast/slowly"))
	select {
	case <-started:
	case <-time.After(3 * time.Second):
		t.Fatal("slow handler not called")
	}

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- fs.Shutdown(ctx)
	}()
	// The idle connection is closed without an answer.
	rest, err := io.ReadAll(idle)
	if err != nil || len(rest) != 0 {
		t.Errorf("idle connection after Shutdown: %q, %v; want EOF", rest, err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	b, err := io.ReadAll(busy)
	if err != nil {
		t.Errorf("in-flight answer: %v", err)
	}
	if !bytes.Contains(b, []byte("\r\nConnection: close\r\n")) || !bytes.HasSuffix(b, []byte("\r\n\r\ndone")) {
		t.Errorf("in-flight answer %q; want Connection: close and the body", b)
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	select {
	case err := <-served:
		if err != http.ErrServerClosed {
			t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Serve did not return")
	}
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Error("listener still accepts after Shutdown")
	}
}

// settledCounts returns Counts once they have stood still for 50 ms (up
// to 2 s): the counters are the process's, and a connection of an earlier
// test may still be finishing a request (a handler that streamed its
// answer is counted when it returns, after the client read it).
func settledCounts(t *testing.T) (fast, handed int64) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	f, h := Counts()
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		f2, h2 := Counts()
		if f2 == f && h2 == h {
			break
		}
		f, h = f2, h2
	}
	return f, h
}

func TestShutdownHandedOff(t *testing.T) {
	hs := &http.Server{ErrorLog: quietLog(), Handler: http.HandlerFunc(shapeHandler)}
	fs := &Server{HTTP: hs, Take: func(p string) bool { return strings.HasPrefix(p, "/fast") }}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- fs.Serve(ln) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	_, h0 := settledCounts(t)
	io.WriteString(c, get("/slow/sniff"))
	buf := make([]byte, 4096)
	if n, err := c.Read(buf); err != nil || !bytes.Contains(buf[:n], []byte("hi")) {
		t.Fatalf("answer %q, %v", buf[:n], err)
	}
	if _, h := Counts(); h-h0 != 1 {
		t.Errorf("handed off %d, want 1", h-h0)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := fs.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if rest, err := io.ReadAll(c); err != nil || len(rest) != 0 {
		t.Errorf("handed-off idle connection after Shutdown: %q, %v", rest, err)
	}
	if err := <-served; err != http.ErrServerClosed {
		t.Errorf("Serve returned %v", err)
	}
}

func FuzzSameAsNetHTTP(f *testing.F) {
	for _, r := range requests() {
		if len(r) < 4096 {
			f.Add([]byte(r))
		}
	}
	p := startPair(f)
	f.Fuzz(func(t *testing.T, req []byte) {
		if len(req) > 64<<10 {
			return
		}
		p.compare(t, string(req), 2*time.Second)
	})
}
