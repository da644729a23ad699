package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/proxy"
	"github.com/palisadehq/palisade/internal/testenv"
)

// Attacks on the direct path's send (look, write and wait in one raw
// read) and on the proxy's h1 front with its watch of the visitor.

// attackProxy is shop.example.com (firewall off) behind the proxy's own
// server, in front of a rawUpstream with special.
func attackProxy(t *testing.T, special func(c net.Conn, br *bufio.Reader, req *http.Request) bool) (base string, accepted func() int64) {
	t.Helper()
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{WAF: wafOff})
	u, acc := rawUpstream(t, special)
	base = serveProxy(t, proxy.New(pal.Protector, []proxy.Route{{Host: "shop.example.com", Upstream: u}}, nil, nil))
	return base, acc.Load
}

// rawVisitor writes browser requests for paths on one connection to the
// proxy, without waiting for answers (pipelined).
func rawVisitor(t *testing.T, base string) (net.Conn, *bufio.Reader) {
	t.Helper()
	vc, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vc.Close() })
	return vc, bufio.NewReader(vc)
}

func readBody(t *testing.T, vc net.Conn, br *bufio.Reader, method string) (int, string) {
	t.Helper()
	vc.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading an answer: %v", err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading a body: %v", err)
	}
	return res.StatusCode, string(b)
}

// pathAnswer answers a request with its path as the body.
func pathAnswer(c net.Conn, path string) {
	fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(path), path)
}

// slowAtSlow is an upstream that answers each request with its path,
// /slow after three times WatchClientAfter.
func slowAtSlow(c net.Conn, br *bufio.Reader, req *http.Request) bool {
	if req.URL.Path == "/slow" {
		time.Sleep(3 * proxy.WatchClientAfter)
	}
	pathAnswer(c, req.URL.Path)
	return true
}

// TestAttackSendPipelinedDuringSlowUpstream: a visitor pipelines its next
// request while the upstream takes longer than WatchClientAfter on the
// first (the watch reads the second's first byte): both answers come, in
// order, and the upstream's context was not cut.
func TestAttackSendPipelinedDuringSlowUpstream(t *testing.T) {
	base, _ := attackProxy(t, slowAtSlow)
	vc, br := rawVisitor(t, base)
	if err := browserReq(t, "GET", base, "/slow", nil).Write(vc); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * proxy.WatchClientAfter) // the watch is reading
	if err := browserReq(t, "GET", base, "/next", nil).Write(vc); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/slow", "/next"} {
		if code, body := readBody(t, vc, br, "GET"); code != 200 || body != want {
			t.Fatalf("want %q: %d %q", want, code, body)
		}
	}
}

// TestAttackSendUpstreamResetsIdle: an upstream that resets a kept-alive
// connection while it is idle (SO_LINGER 0) costs the next visitor
// nothing: the look finds the reset, a new connection carries the
// request, sent once.
func TestAttackSendUpstreamResetsIdle(t *testing.T) {
	var mu sync.Mutex
	got := map[string]int{}
	base, accepted := attackProxy(t, func(c net.Conn, br *bufio.Reader, req *http.Request) bool {
		mu.Lock()
		got[req.URL.Path]++
		mu.Unlock()
		pathAnswer(c, req.URL.Path)
		if req.URL.Path == "/then-reset" {
			time.Sleep(10 * time.Millisecond)
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
		return true
	})
	c := keepAliveClient()
	if code, body, _ := do(t, c, browserReq(t, "GET", base, "/then-reset", nil)); code != 200 || body != "/then-reset" {
		t.Fatalf("first: %d %q", code, body)
	}
	time.Sleep(50 * time.Millisecond)
	if code, body, _ := do(t, c, browserReq(t, "DELETE", base, "/item", nil)); code != 200 || body != "/item" {
		t.Fatalf("after the reset: %d %q", code, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if got["/item"] != 1 {
		t.Fatalf("the upstream got the DELETE %d times", got["/item"])
	}
	if n := accepted(); n != 2 {
		t.Fatalf("%d upstream connections, want 2", n)
	}
}

// TestAttackSendDripFedHead: an upstream that sends its answer's head a
// few bytes at a time (send returns at the first readable byte; the rest
// is read after) and then its body late: the visitor gets it whole, and
// the next request on the same upstream connection too.
func TestAttackSendDripFedHead(t *testing.T) {
	base, accepted := attackProxy(t, func(c net.Conn, br *bufio.Reader, req *http.Request) bool {
		if req.URL.Path != "/drip" {
			return false
		}
		resp := "HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 5\r\n\r\n"
		for i := 0; i < len(resp); i += 7 {
			io.WriteString(c, resp[i:min(i+7, len(resp))])
			time.Sleep(3 * time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
		io.WriteString(c, "drip!")
		return true
	})
	c := keepAliveClient()
	for i := 0; i < 3; i++ {
		if code, body, h := do(t, c, browserReq(t, "GET", base, "/drip", nil)); code != 200 || body != "drip!" || h.Get("X-A") != "1" {
			t.Fatalf("drip %d: %d %q %v", i, code, body, h)
		}
		if code, body, _ := do(t, c, browserReq(t, "GET", base, "/", nil)); code != 200 || body != "ok" {
			t.Fatalf("after drip %d: %d %q", i, code, body)
		}
	}
	if n := accepted(); n != 1 {
		t.Fatalf("%d upstream connections, want the one kept", n)
	}
}

// TestAttackSendNoDesync: visitors at once, each asking for its own
// paths, through an upstream that now and then closes a connection
// after answering (Connection: close), sends stray bytes with an answer, or answers
// slowly (past WatchClientAfter): every visitor gets the answer to its
// own request, never another's or a stray one. Bounded: 6 visitors × 12
// requests.
func TestAttackSendNoDesync(t *testing.T) {
	base, _ := attackProxy(t, func(c net.Conn, br *bufio.Reader, req *http.Request) bool {
		p := req.URL.Path
		switch {
		case strings.HasSuffix(p, "/slow"):
			time.Sleep(proxy.WatchClientAfter + 30*time.Millisecond)
			pathAnswer(c, p)
		case strings.HasSuffix(p, "/close"):
			// Announced: an upstream that closes silently just after
			// answering races any proxy's reuse (the one retry of a
			// replayable request is not always enough when several
			// idle connections are dying at once).
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(p), p)
			c.Close()
		case strings.HasSuffix(p, "/stray"):
			// Stray bytes in the same write as the answer: they are
			// there before the proxy can reuse the connection (bytes
			// that come later, after a request was sent on it, cannot
			// be told from its answer by any proxy).
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%sHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n/STRAY", len(p), p)
		default:
			pathAnswer(c, p)
		}
		return true
	})
	kinds := []string{"plain", "close", "plain", "stray", "slow", "plain"}
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for v := 0; v < 6; v++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := keepAliveClient()
			for i := 0; i < 12; i++ {
				p := fmt.Sprintf("/v%d/r%d/%s", v, i, kinds[(v+i)%len(kinds)])
				req, _ := http.NewRequest("GET", base+p, nil)
				req.Host = "shop.example.com"
				testenv.AsBrowser(req, chromeUA)
				res, err := c.Do(req)
				if err != nil {
					errs <- fmt.Errorf("%s: %v", p, err)
					return
				}
				b, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil || res.StatusCode != 200 || string(b) != p {
					errs <- fmt.Errorf("%s: %d %q %v", p, res.StatusCode, b, err)
					return
				}
				if i%4 == 3 {
					time.Sleep(10 * time.Millisecond) // let stray bytes and FINs land on idle connections
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestAttackSendVisitorLeavesBeforeWatch: a visitor that hangs up before
// WatchClientAfter (the watch has not started) is still noticed once it
// starts: the upstream connection is closed soon after, not at
// UpstreamTimeout.
func TestAttackSendVisitorLeavesBeforeWatch(t *testing.T) {
	hanging, cut := make(chan struct{}, 1), make(chan time.Time, 1)
	base, _ := attackProxy(t, func(c net.Conn, br *bufio.Reader, req *http.Request) bool {
		if req.URL.Path != "/hang" {
			return false
		}
		hanging <- struct{}{}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := br.ReadByte(); err != nil {
			cut <- time.Now()
		}
		c.Close()
		return true
	})
	vc, _ := rawVisitor(t, base)
	if err := browserReq(t, "GET", base, "/hang", nil).Write(vc); err != nil {
		t.Fatal(err)
	}
	select {
	case <-hanging:
	case <-time.After(5 * time.Second):
		t.Fatal("the request did not reach the upstream")
	}
	left := time.Now()
	vc.Close()
	select {
	case at := <-cut:
		if d := at.Sub(left); d > 3*time.Second {
			t.Fatalf("the upstream was cut %v after the visitor left", d)
		}
	case <-time.After(12 * time.Second):
		t.Fatal("the upstream connection was not cut")
	}
}

// TestAttackSendHeadThenGet: HEADs and GETs one after another on one
// visitor connection, pipelined in one write: a HEAD's answer has no body
// to read, and the GET after it is not read from its place.
func TestAttackSendHeadThenGet(t *testing.T) {
	base, _ := attackProxy(t, func(c net.Conn, br *bufio.Reader, req *http.Request) bool {
		if req.Method == "HEAD" {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n")
			return true
		}
		pathAnswer(c, req.URL.Path)
		return true
	})
	vc, br := rawVisitor(t, base)
	var buf strings.Builder
	methods := []string{"HEAD", "GET", "HEAD", "HEAD", "GET"}
	for i, m := range methods {
		r := browserReq(t, m, base, fmt.Sprintf("/p%d", i), nil)
		r.Write(&buf)
	}
	io.WriteString(vc, buf.String())
	for i, m := range methods {
		code, body := readBody(t, vc, br, m)
		want := ""
		if m == "GET" {
			want = fmt.Sprintf("/p%d", i)
		}
		if code != 200 || body != want {
			t.Fatalf("%s /p%d: %d %q", m, i, code, body)
		}
	}
}

// TestAttackSendHalfClosedVisitor: a visitor that half-closes after its
// request (shutdown(SHUT_WR); it still reads) while the upstream takes
// longer than WatchClientAfter. net/http cancelled the request's context
// too (its background read sees EOF), so the proxy gives the request up
// either way; what must not happen is an answer that looks like a
// success: a 200 with no body (a cache in front would keep it).
func TestAttackSendHalfClosedVisitor(t *testing.T) {
	base, _ := attackProxy(t, slowAtSlow)
	vc, br := rawVisitor(t, base)
	if err := browserReq(t, "GET", base, "/slow", nil).Write(vc); err != nil {
		t.Fatal(err)
	}
	vc.(*net.TCPConn).CloseWrite()
	vc.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		return // no answer: fine, as net/http's server (the proxy gave up)
	}
	b, err := io.ReadAll(res.Body)
	t.Logf("half-closed visitor got %d %q (%v)", res.StatusCode, b, err)
	if res.StatusCode == 200 && string(b) != "/slow" {
		t.Fatalf("half-closed visitor got a 200 with body %q", b)
	}
}

// TestAttackSendUpstreamAtWatchAfter: upstream answers taking about
// WatchClientAfter, when the watch starts just as the handler returns:
// every answer still comes (no visitor is left waiting). Bounded: 16
// visitors × 4 requests, each within 5 s.
func TestAttackSendUpstreamAtWatchAfter(t *testing.T) {
	var n sync.Mutex
	k := 0
	base, _ := attackProxy(t, func(c net.Conn, br *bufio.Reader, req *http.Request) bool {
		n.Lock()
		k++
		d := proxy.WatchClientAfter + time.Duration(k%7-3)*100*time.Microsecond
		n.Unlock()
		time.Sleep(d)
		pathAnswer(c, req.URL.Path)
		return true
	})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for v := 0; v < 16; v++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vc, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
			if err != nil {
				errs <- err
				return
			}
			defer vc.Close()
			br := bufio.NewReader(vc)
			for i := 0; i < 4; i++ {
				p := fmt.Sprintf("/v%d/%d", v, i)
				req, _ := http.NewRequest("GET", base+p, nil)
				req.Host = "shop.example.com"
				testenv.AsBrowser(req, chromeUA)
				req.Write(vc)
				vc.SetReadDeadline(time.Now().Add(5 * time.Second))
				res, err := http.ReadResponse(br, nil)
				if err != nil {
					errs <- fmt.Errorf("%s: %v", p, err)
					return
				}
				b, _ := io.ReadAll(res.Body)
				if string(b) != p {
					errs <- fmt.Errorf("%s: %q", p, b)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
