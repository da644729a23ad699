package proxy_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/h1"
	"github.com/palisadehq/palisade/internal/netutil"
	"github.com/palisadehq/palisade/internal/proxy"
	"github.com/palisadehq/palisade/internal/testenv"
)

// prodStack is shop.example.com (firewall off: these tests follow bodies,
// not attacks) behind palisade proxy's own server (proxy.Server), in front
// of app. It returns the proxy's base URL and the number of connections
// the application has accepted so far.
func prodStack(t *testing.T, app http.Handler, opt proxy.Options, trusted ...netutil.Proxy) (base string, conns func() int64) {
	t.Helper()
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{WAF: wafOff})
	var n atomic.Int64
	up := httptest.NewUnstartedServer(app)
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	px := proxy.NewWith(pal.Protector, []proxy.Route{{Host: "shop.example.com", Upstream: u}}, trusted, nil, opt)
	return serveProxy(t, px), n.Load
}

// serveProxy serves px on loopback with its own server until the test ends.
func serveProxy(t *testing.T, px *proxy.Proxy) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := px.Server()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(); px.CloseIdleConnections() })
	return "http://" + ln.Addr().String()
}

// browserReq is a browser's request for shop.example.com through base.
func browserReq(t *testing.T, method, base, path string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "shop.example.com"
	return testenv.AsBrowser(req, chromeUA)
}

// keepAliveClient keeps its connections to the proxy, so that only the
// proxy's own connection handling is counted at the application.
func keepAliveClient() *http.Client {
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
}

func do(t *testing.T, c *http.Client, req *http.Request) (int, string, http.Header) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL.Path, err)
	}
	return resp.StatusCode, string(b), resp.Header
}

// TestProxyKeepAlive: 200 requests, half bodiless GETs (the direct path),
// half POSTs with a body (ReverseProxy), first one after another, then ten
// at a time, reach the application over a handful of kept-alive
// connections, not one each.
func TestProxyKeepAlive(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, "ok")
	})
	base, conns := prodStack(t, app, proxy.Options{})
	c := keepAliveClient()
	one := func(i int) error {
		method, body := "GET", io.Reader(nil)
		if i%2 == 1 {
			method, body = "POST", strings.NewReader("a=1&b=2")
		}
		req := browserReq(t, method, base, fmt.Sprintf("/page/%d", i), body)
		if body != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "ok" {
			return fmt.Errorf("%s: %d %q", method, resp.StatusCode, b)
		}
		return nil
	}
	for i := 0; i < 100; i++ {
		if err := one(i); err != nil {
			t.Fatal(err)
		}
	}
	sequential := conns()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := 0; g < 10; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				if err := one(g*10 + i); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Sequential: one connection per path; concurrent: at most ten more
	// per path.
	if total := conns(); sequential > 2 || total > 22 {
		t.Fatalf("the application accepted %d connections for 100 sequential requests and %d for all 200", sequential, total)
	}
}

// TestProxyStreamsResponse: an event stream and a chunked body reach the
// visitor as the application writes them: the first part is read before
// the application writes the second. Through both paths (GET, POST).
func TestProxyStreamsResponse(t *testing.T) {
	release := make(chan struct{}, 1)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/events" {
			w.Header().Set("Content-Type", "text/event-stream")
		} else {
			w.Header().Set("Content-Type", "text/plain")
		}
		fmt.Fprint(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-time.After(10 * time.Second):
			return
		}
		fmt.Fprint(w, "data: two\n\n")
	})
	base, _ := prodStack(t, app, proxy.Options{})
	c := keepAliveClient()
	for _, tc := range []struct{ method, path string }{{"GET", "/events"}, {"GET", "/chunked"}, {"POST", "/events"}, {"POST", "/chunked"}} {
		var body io.Reader
		if tc.method == "POST" {
			body = strings.NewReader("x=1")
		}
		resp, err := c.Do(browserReq(t, tc.method, base, tc.path, body))
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		first := make([]byte, len("data: one\n\n"))
		if _, err := io.ReadFull(br, first); err != nil || string(first) != "data: one\n\n" {
			t.Fatalf("%s %s: first part %q, %v (the application waits for it to be read before writing more)", tc.method, tc.path, first, err)
		}
		release <- struct{}{}
		rest, err := io.ReadAll(br)
		resp.Body.Close()
		if err != nil || string(rest) != "data: two\n\n" {
			t.Fatalf("%s %s: rest %q, %v", tc.method, tc.path, rest, err)
		}
	}
}

// TestProxyStreamsUpload: a 64 MiB upload reaches the application while
// the visitor is still sending it (the visitor waits until the
// application has 2 MiB before sending the rest), every byte, and the
// process allocates far less than the body meanwhile.
func TestProxyStreamsUpload(t *testing.T) {
	const size = 64 << 20
	gotSome := make(chan struct{})
	type result struct {
		n   int64
		sum [32]byte
		err error
	}
	got := make(chan result, 1)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		buf := make([]byte, 64<<10)
		var n int64
		var once sync.Once
		var err error
		for {
			m, rerr := r.Body.Read(buf)
			h.Write(buf[:m])
			n += int64(m)
			if n >= 2<<20 {
				once.Do(func() { close(gotSome) })
			}
			if rerr != nil {
				if rerr != io.EOF {
					err = rerr
				}
				break
			}
		}
		var sum [32]byte
		copy(sum[:], h.Sum(nil))
		got <- result{n, sum, err}
		fmt.Fprintf(w, "%d", n)
	})
	base, _ := prodStack(t, app, proxy.Options{})
	pr, pw := io.Pipe()
	want := sha256.New()
	go func() {
		rnd := rand.New(rand.NewPCG(3, 4))
		chunk := make([]byte, 1<<20)
		for sent := 0; sent < size; sent += len(chunk) {
			if sent == 4<<20 {
				select {
				case <-gotSome:
				case <-time.After(15 * time.Second):
					pw.CloseWithError(errors.New("the application got nothing while the visitor was still sending"))
					return
				}
			}
			for i := range chunk {
				chunk[i] = byte(rnd.UintN(256))
			}
			want.Write(chunk)
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
		pw.Close()
	}()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	req := browserReq(t, "POST", base, "/upload", pr)
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	code, body, _ := do(t, keepAliveClient(), req)
	runtime.ReadMemStats(&after)
	if code != 200 || body != fmt.Sprint(size) {
		t.Fatalf("upload: %d %q", code, body)
	}
	r := <-got
	if r.err != nil || r.n != size || !bytes.Equal(r.sum[:], want.Sum(nil)) {
		t.Fatalf("the application got %d bytes (error %v), checksum equal: %v", r.n, r.err, bytes.Equal(r.sum[:], want.Sum(nil)))
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 24<<20 {
		t.Fatalf("the process allocated %d MiB while proxying a %d MiB body", alloc>>20, size>>20)
	}
}

// wsAccept is RFC 6455's Sec-WebSocket-Accept for key.
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// wsWrite writes one final frame; masked as a client must.
func wsWrite(w io.Writer, op byte, payload []byte, masked bool) error {
	head := []byte{0x80 | op, 0}
	var m byte
	if masked {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		head[1] = m | byte(n)
	case n <= 0xffff:
		head[1] = m | 126
		head = binary.BigEndian.AppendUint16(head, uint16(n))
	default:
		head[1] = m | 127
		head = binary.BigEndian.AppendUint64(head, uint64(n))
	}
	body := payload
	if masked {
		key := [4]byte{0x12, 0x34, 0x56, 0x78}
		head = append(head, key[:]...)
		body = make([]byte, len(payload))
		for i := range payload {
			body[i] = payload[i] ^ key[i%4]
		}
	}
	_, err := w.Write(append(head, body...))
	return err
}

// wsRead reads one frame and unmasks it.
func wsRead(r io.Reader) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	var key [4]byte
	if h[1]&0x80 != 0 {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return 0, nil, err
		}
	}
	if n > 1<<20 {
		return 0, nil, errors.New("frame too large")
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	if h[1]&0x80 != 0 {
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return h[0] & 0x0f, payload, nil
}

// wsEcho is a WebSocket application that echoes every frame; it counts
// the upgrade requests it receives.
func wsEcho(upgrades *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "not a WebSocket", http.StatusBadRequest)
			return
		}
		upgrades.Add(1)
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", wsAccept(r.Header.Get("Sec-Websocket-Key")))
		if brw.Flush() != nil {
			return
		}
		for {
			op, p, err := wsRead(brw.Reader)
			if err != nil {
				return
			}
			if wsWrite(conn, op, p, false) != nil || op == 8 {
				return
			}
		}
	})
}

// wsDial opens a WebSocket to shop.example.com through the proxy at addr
// as user agent ua; it returns the connection and the handshake's answer.
func wsDial(t *testing.T, addr, ua string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /socket HTTP/1.1\r\nHost: shop.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://shop.example.com\r\nUser-Agent: %s\r\nAccept: text/html\r\nAccept-Language: en\r\nAccept-Encoding: gzip\r\n\r\n", ua)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, br, resp
}

// TestProxyWebSocket: a WebSocket through the proxy, decided on its
// upgrade request, echoes text and a 70 KB binary frame both ways; a
// denied upgrade is answered with the deny page and never reaches the
// application.
func TestProxyWebSocket(t *testing.T) {
	var upgrades atomic.Int64
	base, _ := prodStack(t, wsEcho(&upgrades), proxy.Options{})
	addr := strings.TrimPrefix(base, "http://")
	c, br, resp := wsDial(t, addr, chromeUA)
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-Websocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		t.Fatalf("handshake: %d %v %q", resp.StatusCode, resp.Header, b)
	}
	big := bytes.Repeat([]byte("0123456789"), 7000)
	for _, m := range []struct {
		op byte
		p  []byte
	}{{1, []byte("hello")}, {2, big}, {1, []byte("again")}} {
		if err := wsWrite(c, m.op, m.p, true); err != nil {
			t.Fatal(err)
		}
		op, p, err := wsRead(br)
		if err != nil || op != m.op || !bytes.Equal(p, m.p) {
			t.Fatalf("echo of a %d-byte frame: op %d, %d bytes, %v", len(m.p), op, len(p), err)
		}
	}
	wsWrite(c, 8, nil, true)
	if op, _, err := wsRead(br); err != nil || op != 8 {
		t.Fatalf("close: op %d, %v", op, err)
	}

	_, _, resp = wsDial(t, addr, "sqlmap/1.7")
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "Access denied") {
		t.Fatalf("denied upgrade: %d %.200q", resp.StatusCode, b)
	}
	if n := upgrades.Load(); n != 1 {
		t.Fatalf("the application saw %d upgrade requests, want only the granted one", n)
	}
}

// isPage reports whether a response is the proxy's short HTML page rather
// than Go's error text.
func isPage(h http.Header, body string) bool {
	return strings.HasPrefix(h.Get("Content-Type"), "text/html") && strings.Contains(body, "does not answer right now") &&
		!strings.Contains(body, "dial tcp") && !strings.Contains(body, "timeout")
}

// TestProxyUpstreamDown: an application that is not there is a 502 page
// on both paths.
func TestProxyUpstreamDown(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{WAF: wafOff})
	u, _ := url.Parse("http://" + addr)
	base := serveProxy(t, proxy.New(pal.Protector, []proxy.Route{{Host: "shop.example.com", Upstream: u}}, nil, nil))
	c := keepAliveClient()
	for _, method := range []string{"GET", "HEAD", "POST"} {
		var body io.Reader
		if method == "POST" {
			body = strings.NewReader("x=1")
		}
		code, page, h := do(t, c, browserReq(t, method, base, "/", body))
		if code != http.StatusBadGateway || method != "HEAD" && !isPage(h, page) {
			t.Fatalf("%s: %d %v %.200q", method, code, h, page)
		}
	}
}

// TestProxySlowUpstream: an application silent past UpstreamTimeout is a
// 504 page before its headers, and a cut response after them; on both
// paths.
func TestProxySlowUpstream(t *testing.T) {
	done := make(chan struct{})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/part" {
			w.Header().Set("Content-Length", "100")
			fmt.Fprint(w, "the first part")
			w.(http.Flusher).Flush()
		}
		<-done
	})
	base, _ := prodStack(t, app, proxy.Options{UpstreamTimeout: 300 * time.Millisecond})
	t.Cleanup(func() { close(done) }) // before the application's server closes
	c := keepAliveClient()
	for _, method := range []string{"GET", "POST"} {
		var body io.Reader
		if method == "POST" {
			body = strings.NewReader("x=1")
		}
		code, page, h := do(t, c, browserReq(t, method, base, "/slow", body))
		if code != http.StatusGatewayTimeout || !isPage(h, page) {
			t.Fatalf("%s: %d %.200q", method, code, page)
		}
		if method == "POST" {
			body = strings.NewReader("x=1")
		}
		// Cut: an error, not a whole body, and not the client's own
		// timeout (which a proxy that waits on would run into).
		var b []byte
		resp, err := c.Do(browserReq(t, method, base, "/part", body))
		if err == nil {
			b, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		var ne net.Error
		if err == nil || errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s, silent after part of the body: %q %v, want the response cut", method, b, err)
		}
	}
}

// TestProxyStalledClient: a visitor that stops sending its body past the
// inspected part is cut off after ClientTimeout; the application does not
// get a whole body.
func TestProxyStalledClient(t *testing.T) {
	got := make(chan error, 1)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.Copy(io.Discard, r.Body)
		got <- err
	})
	base, _ := prodStack(t, app, proxy.Options{ClientTimeout: 300 * time.Millisecond})
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /upload HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: %s\r\nAccept: text/html\r\nAccept-Language: en\r\nAccept-Encoding: gzip\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", chromeUA, 1<<20)
	c.Write(bytes.Repeat([]byte("a"), 200<<10)) // past the 128 KiB the firewall reads
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	// Whatever the proxy answers (a 502 page), it must close the
	// connection rather than wait for the rest.
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Fatalf("the connection of a stalled visitor was not closed: %v", err)
	}
	select {
	case err := <-got:
		if err == nil {
			t.Fatal("the application read a whole body the visitor never sent")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the application is still waiting for the body")
	}
}

// TestProxyForwardedHeaders: the application hears who asked from the
// proxy alone (X-Forwarded-For, X-Real-IP, X-Forwarded-Proto and -Host,
// the visitor's copies and Forwarded dropped) and no hop-by-hop header,
// alike on both paths; behind a --trusted-proxy, from the balancer's
// headers.
func TestProxyForwardedHeaders(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		h := r.Header.Clone()
		h.Del("Content-Length")
		h.Del("Content-Type")
		h.Set("Host", r.Host)
		json.NewEncoder(w).Encode(h)
	})
	direct, _ := prodStack(t, app, proxy.Options{})
	lb, _ := netutil.ParseProxy("127.0.0.1")
	behindLB, _ := prodStack(t, app, proxy.Options{}, lb)
	send := func(base, method string) http.Header {
		t.Helper()
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		body := ""
		if method == "POST" {
			body = "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\nx=1"
		} else {
			body = "\r\n"
		}
		fmt.Fprintf(c, "%s /h?q=1 HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: %s\r\nAccept: text/html\r\nAccept-Language: en\r\nAccept-Encoding: gzip\r\n"+
			"X-Forwarded-For: 203.0.113.7\r\nX-Real-IP: 192.0.2.1\r\nForwarded: for=192.0.2.2\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\n"+
			"Connection: keep-alive, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\nProxy-Authorization: Basic eDp5\r\nTe: trailers\r\nX-App: kept\r\n%s", method, chromeUA, body)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var h http.Header
		if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
			t.Fatalf("%s: %d %v", method, resp.StatusCode, err)
		}
		return h
	}
	want := http.Header{"Host": {"shop.example.com"}, "User-Agent": {chromeUA}, "Accept": {"text/html"}, "Accept-Language": {"en"}, "Accept-Encoding": {"gzip"},
		"X-App": {"kept"}, "Te": {"trailers"}, "X-Forwarded-For": {"127.0.0.1"}, "X-Real-Ip": {"127.0.0.1"}, "X-Forwarded-Proto": {"http"}, "X-Forwarded-Host": {"shop.example.com"}}
	for _, method := range []string{"GET", "POST"} {
		if h := send(direct, method); fmt.Sprint(h) != fmt.Sprint(want) {
			t.Errorf("%s, visitor connected directly: the application got\n%v\nwant\n%v", method, h, want)
		}
	}
	want.Set("X-Forwarded-For", "203.0.113.7")
	want.Set("X-Real-Ip", "203.0.113.7")
	want.Set("X-Forwarded-Proto", "https")
	for _, method := range []string{"GET", "POST"} {
		if h := send(behindLB, method); fmt.Sprint(h) != fmt.Sprint(want) {
			t.Errorf("%s, behind a trusted balancer: the application got\n%v\nwant\n%v", method, h, want)
		}
	}
}

// TestProxyFraming: HEAD, 204, 304 and a chunked response with trailers
// come through the direct path as the application sent them.
func TestProxyFraming(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/head":
			w.Header().Set("Content-Length", "1234")
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			w.Header().Set("Etag", `"v1"`)
			w.WriteHeader(http.StatusNotModified)
		case "/trailers":
			w.Header().Set("Trailer", "X-Checksum")
			fmt.Fprint(w, "body")
			w.(http.Flusher).Flush()
			w.Header().Set("X-Checksum", "abc")
		}
	})
	base, _ := prodStack(t, app, proxy.Options{})
	c := keepAliveClient()
	resp, err := c.Do(browserReq(t, "HEAD", base, "/head", nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != 1234 {
		t.Fatalf("HEAD: %d, Content-Length %d", resp.StatusCode, resp.ContentLength)
	}
	if code, body, _ := do(t, c, browserReq(t, "GET", base, "/204", nil)); code != 204 || body != "" {
		t.Fatalf("204: %d %q", code, body)
	}
	if code, body, h := do(t, c, browserReq(t, "GET", base, "/304", nil)); code != 304 || body != "" || h.Get("Etag") != `"v1"` {
		t.Fatalf("304: %d %q %v", code, body, h)
	}
	resp, err = c.Do(browserReq(t, "GET", base, "/trailers", nil))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "body" || resp.Trailer.Get("X-Checksum") != "abc" {
		t.Fatalf("trailers: %q %v", b, resp.Trailer)
	}
}

// TestProxyServeShutdown: when its context ends, Serve stops taking
// connections and lets a request in flight finish.
func TestProxyServeShutdown(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{WAF: wafOff})
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		fmt.Fprint(w, "finished")
	}))
	defer app.Close()
	u, _ := url.Parse(app.URL)
	px := proxy.New(pal.Protector, []proxy.Route{{Host: "shop.example.com", Upstream: u}}, nil, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- px.Serve(ctx, ln, 10*time.Second) }()
	type answer struct {
		code int
		body string
	}
	inFlight := make(chan answer, 1)
	go func() {
		resp, err := keepAliveClient().Do(browserReq(t, "GET", base, "/", nil))
		if err != nil {
			inFlight <- answer{0, err.Error()}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		inFlight <- answer{resp.StatusCode, string(b)}
	}()
	<-started
	cancel()
	for i := 0; ; i++ { // the listener closes
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			break
		}
		c.Close()
		if i == 100 {
			t.Fatal("still accepting connections after the shutdown began")
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(release)
	if a := <-inFlight; a.code != 200 || a.body != "finished" {
		t.Fatalf("request in flight: %d %q", a.code, a.body)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

// TestProxyStrayBytes: an application that answers a HEAD with a body
// (after the head, so the proxy has pooled the connection by then) does
// not get its stray bytes read as the next request's response: the
// connection is looked at before it is reused.
func TestProxyStrayBytes(t *testing.T) {
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{WAF: wafOff})
	strayed := make(chan struct{}, 1)
	u, accepted := rawUpstream(t, func(c net.Conn, br *bufio.Reader, req *http.Request) bool {
		if req.Method != "HEAD" {
			return false
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
		time.Sleep(50 * time.Millisecond)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray") // a buggy body, or worse
		strayed <- struct{}{}
		return true
	})
	base := serveProxy(t, proxy.New(pal.Protector, []proxy.Route{{Host: "shop.example.com", Upstream: u}}, nil, nil))
	c := keepAliveClient()
	if code, _, _ := do(t, c, browserReq(t, "HEAD", base, "/", nil)); code != 200 {
		t.Fatalf("HEAD: %d", code)
	}
	<-strayed
	time.Sleep(20 * time.Millisecond) // let the stray bytes reach the proxy's socket
	if code, body, _ := do(t, c, browserReq(t, "GET", base, "/", nil)); code != 200 || body != "ok" {
		t.Fatalf("GET after the stray bytes: %d %q", code, body)
	}
	if n := accepted.Load(); n != 2 {
		t.Fatalf("%d connections, want a new one in place of the dirty one", n)
	}
}

// TestProxyVisitorLeaves: a visitor that hangs up while the upstream has
// not answered ends the wait at once on the direct path (not after
// UpstreamTimeout): the upstream connection, a kept-alive one here, is
// closed, and the next visitor is served on a new one.
func TestProxyVisitorLeaves(t *testing.T) {
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{WAF: wafOff})
	hanging, cut := make(chan struct{}, 1), make(chan struct{}, 1)
	u, accepted := rawUpstream(t, func(c net.Conn, br *bufio.Reader, req *http.Request) bool {
		if req.URL.Path != "/hang" {
			return false
		}
		hanging <- struct{}{}
		if _, err := br.ReadByte(); err != nil { // until the proxy closes it
			cut <- struct{}{}
		}
		c.Close()
		return true
	})
	base := serveProxy(t, proxy.New(pal.Protector, []proxy.Route{{Host: "shop.example.com", Upstream: u}}, nil, nil))
	c := keepAliveClient()
	fastBefore, _ := h1.Counts()
	if code, body, _ := do(t, c, browserReq(t, "GET", base, "/", nil)); code != 200 || body != "ok" {
		t.Fatalf("first GET: %d %q", code, body)
	}
	if fast, _ := h1.Counts(); fast == fastBefore {
		t.Fatal("a browser's GET did not take the fast front (package h1), whose watch of the visitor this test is about")
	}
	vc, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	req := browserReq(t, "GET", base, "/hang", nil)
	if err := req.Write(vc); err != nil {
		t.Fatal(err)
	}
	select {
	case <-hanging:
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not reach the upstream")
	}
	vc.Close() // the visitor leaves
	select {
	case <-cut:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream connection is still open 10 s after the visitor left")
	}
	if code, body, _ := do(t, c, browserReq(t, "GET", base, "/", nil)); code != 200 || body != "ok" {
		t.Fatalf("GET after the visitor left: %d %q", code, body)
	}
	if n := accepted.Load(); n != 2 {
		t.Fatalf("%d upstream connections, want 2 (the cut one replaced)", n)
	}
}

// rawUpstream serves HTTP/1.1 by hand on a loopback port until the test
// ends: each request goes to special first (which answers it itself and
// reports true, or leaves it), else it is answered 200 "ok". accepted
// counts the connections.
func rawUpstream(t *testing.T, special func(c net.Conn, br *bufio.Reader, req *http.Request) bool) (*url.URL, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					if special(c, br, req) {
						continue
					}
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
			}()
		}
	}()
	u, _ := url.Parse("http://" + ln.Addr().String())
	return u, accepted
}

// TestProxyUpstreamClosedIdle: an upstream that closes a kept-alive
// connection while it is idle (Node.js does after 5 s) costs a visitor
// nothing, even for a request that may not be sent twice (a bodiless
// DELETE): the connection is looked at before the request is written on
// it, and the request goes on a new one.
func TestProxyUpstreamClosedIdle(t *testing.T) {
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{WAF: wafOff})
	var deletes atomic.Int64
	u, accepted := rawUpstream(t, func(c net.Conn, br *bufio.Reader, req *http.Request) bool {
		switch {
		case req.URL.Path == "/then-close":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			time.Sleep(10 * time.Millisecond)
			c.Close() // idle, closed without a word
			return true
		case req.Method == "DELETE":
			deletes.Add(1)
		}
		return false
	})
	base := serveProxy(t, proxy.New(pal.Protector, []proxy.Route{{Host: "shop.example.com", Upstream: u}}, nil, nil))
	c := keepAliveClient()
	if code, body, _ := do(t, c, browserReq(t, "GET", base, "/then-close", nil)); code != 200 || body != "ok" {
		t.Fatalf("GET: %d %q", code, body)
	}
	time.Sleep(50 * time.Millisecond) // the upstream's FIN reaches the proxy
	if code, body, _ := do(t, c, browserReq(t, "DELETE", base, "/item/1", nil)); code != 200 || body != "ok" {
		t.Fatalf("DELETE on the closed connection's turn: %d %q", code, body)
	}
	if n := deletes.Load(); n != 1 {
		t.Fatalf("the upstream got the DELETE %d times, want once", n)
	}
	if n := accepted.Load(); n != 2 {
		t.Fatalf("%d upstream connections, want 2 (the closed one replaced)", n)
	}
}
