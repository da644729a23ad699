package middleware_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/proxy/bodypeek"
	"github.com/palisadehq/palisade/internal/testenv"
	"github.com/palisadehq/palisade/middleware"
)

const sqli = "id=1' OR '1'='1"

// check is a forward-auth request as the fake Palisade received it.
type check struct {
	method, bodyHeader, ctype string
	body                      []byte
}

// fakePalisade grants everything and records each check.
type fakePalisade struct {
	*httptest.Server
	mu     sync.Mutex
	checks []check
}

func newFake(t *testing.T) *fakePalisade {
	f := &fakePalisade{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.checks = append(f.checks, check{r.Method, r.Header.Get("X-Original-Body"), r.Header.Get("Content-Type"), b})
		f.mu.Unlock()
		w.Header().Set("X-Palisade-Action", "grant")
		w.WriteHeader(200)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakePalisade) last(t *testing.T) check {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.checks) == 0 {
		t.Fatal("Palisade was not asked")
	}
	c := f.checks[len(f.checks)-1]
	f.checks = f.checks[:0]
	return c
}

// echoApp answers with the length and hash of the body it received.
var echoApp = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	fmt.Fprintf(w, "app: %d %x cl=%d", len(b), sha256.Sum256(b), r.ContentLength)
})

func echoed(b []byte, cl int64) string {
	return fmt.Sprintf("app: %d %x cl=%d", len(b), sha256.Sum256(b), cl)
}

func postTo(t *testing.T, h http.Handler, body []byte, hd map[string]string) (int, string) {
	t.Helper()
	req := httptest.NewRequest("POST", "http://shop.example.com/login", bytes.NewReader(body))
	req.RemoteAddr = "198.51.100.7:50000"
	testenv.AsBrowser(req, chromeUA)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hd {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// TestMiddlewareSendsBody is issue 19 item 3 for the Go middleware: the
// first 128 KiB of a body go with the check, marked by X-Original-Body,
// and the application receives the whole body unchanged.
func TestMiddlewareSendsBody(t *testing.T) {
	f := newFake(t)
	h := middleware.Protect(echoApp, middleware.Config{Endpoint: f.URL, ServerKey: "sk_test"})
	if code, body := postTo(t, h, []byte(sqli), nil); code != 200 || body != echoed([]byte(sqli), int64(len(sqli))) {
		t.Fatalf("POST: %d %q", code, body)
	}
	if c := f.last(t); c.method != "POST" || c.bodyHeader != "full" || string(c.body) != sqli || c.ctype != "application/x-www-form-urlencoded" {
		t.Fatalf("check: %+v", c)
	}
	// 1 MiB: the check carries the first 128 KiB, "truncated"; the
	// application every byte.
	big := make([]byte, 1<<20)
	rnd := rand.New(rand.NewPCG(3, 4))
	for i := range big {
		big[i] = byte(rnd.UintN(256))
	}
	if code, body := postTo(t, h, big, nil); code != 200 || body != echoed(big, 1<<20) {
		t.Fatalf("1 MiB: %d %q", code, body)
	}
	if c := f.last(t); c.bodyHeader != "truncated" || !bytes.Equal(c.body, big[:bodypeek.Max]) {
		t.Fatalf("1 MiB check: %q with %d bytes", c.bodyHeader, len(c.body))
	}
	// Exactly the limit: all of it, "full".
	if code, body := postTo(t, h, big[:bodypeek.Max], nil); code != 200 || body != echoed(big[:bodypeek.Max], bodypeek.Max) {
		t.Fatalf("at the limit: %d %q", code, body)
	}
	if c := f.last(t); c.bodyHeader != "full" || len(c.body) != bodypeek.Max {
		t.Fatalf("at the limit: %q with %d bytes", c.bodyHeader, len(c.body))
	}
	// No body: "full" and empty (seen, nothing in it).
	if code, _, _ := do(t, h, chromeUA, "/"); code != 200 {
		t.Fatalf("GET: %d", code)
	}
	if c := f.last(t); c.method != "GET" || c.bodyHeader != "full" || len(c.body) != 0 {
		t.Fatalf("GET check: %+v", c)
	}
	// A visitor's own X-Original-Body never reaches Palisade.
	hs := middleware.Protect(echoApp, middleware.Config{Endpoint: f.URL, ServerKey: "sk_test", SkipBody: true})
	if code, body := postTo(t, hs, []byte(sqli), map[string]string{"X-Original-Body": "full"}); code != 200 || body != echoed([]byte(sqli), int64(len(sqli))) {
		t.Fatalf("SkipBody: %d %q", code, body)
	}
	if c := f.last(t); c.bodyHeader != "" || len(c.body) != 0 {
		t.Fatalf("SkipBody check: %+v", c)
	}
}

// TestMiddlewareBodyToFallback: the secondary node gets the body too.
func TestMiddlewareBodyToFallback(t *testing.T) {
	f := newFake(t)
	h := middleware.Protect(echoApp, middleware.Config{Endpoint: "http://127.0.0.1:1", Fallback: f.URL, ServerKey: "sk_test"})
	if code, _ := postTo(t, h, []byte(sqli), nil); code != 200 {
		t.Fatalf("POST: %d", code)
	}
	if c := f.last(t); c.bodyHeader != "full" || string(c.body) != sqli {
		t.Fatalf("fallback check: %+v", c)
	}
}

// TestMiddlewareSlowBody: a client that stalls in its body is answered 408
// after BodyTimeout; neither Palisade nor the application is asked.
func TestMiddlewareSlowBody(t *testing.T) {
	f := newFake(t)
	var appCalls int
	var mu sync.Mutex
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		appCalls++
		mu.Unlock()
		io.Copy(io.Discard, r.Body)
	})
	srv := httptest.NewServer(middleware.Protect(app, middleware.Config{Endpoint: f.URL, ServerKey: "sk_test", BodyTimeout: 300 * time.Millisecond}))
	defer srv.Close()
	c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /login HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n%s", chromeUA, sqli)
	start := time.Now()
	c.SetDeadline(start.Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if took := time.Since(start); resp.StatusCode != http.StatusRequestTimeout || took > 3*time.Second {
		t.Fatalf("%d after %v, want 408 after about 300ms", resp.StatusCode, took)
	}
	f.mu.Lock()
	n := len(f.checks)
	f.mu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	if n != 0 || appCalls != 0 {
		t.Fatalf("Palisade asked %d times, the application %d times", n, appCalls)
	}
}

// TestMiddlewareBodyThroughPalisade: against a real Palisade the check
// with a body is answered (the endpoint reads it) and the application
// gets the body.
func TestMiddlewareBodyThroughPalisade(t *testing.T) {
	pal := testenv.New(t)
	site := pal.Website(t, "shop.example.com", engine.Settings{WAF: wafOff})
	var errs []error
	// A generous timeout: a check carrying 128 KiB can take longer than
	// the default 500 ms on a busy test machine (it would fail open, which
	// is not under test).
	h := middleware.Protect(echoApp, middleware.Config{Endpoint: pal.URL, ServerKey: site.ServerKey, Timeout: 10 * time.Second, OnError: func(err error) { errs = append(errs, err) }})
	big := bytes.Repeat([]byte("q=1&"), 1<<18)
	for _, b := range [][]byte{[]byte("q=hello"), big} {
		if code, body := postTo(t, h, b, nil); code != 200 || body != echoed(b, int64(len(b))) || len(errs) != 0 {
			t.Fatalf("POST of %d bytes: %d %q, errors %v", len(b), code, body, errs)
		}
	}
}

// wafOff switches the website firewall off for these tests, which follow
// a body (an attack's too) to the engine and on to the application: the
// firewall's own judgement is tested in waf_test.go, and its time over
// large bodies is not under test here.
var wafOff = engine.WAFSettings{Mode: "off"}

// TestMiddlewareLargeBodyCheckTimeout: a check that carries a large body
// waits BodyCheckTimeout rather than Timeout (the firewall takes longer
// over a large body, and a timed-out check fails open); a small one keeps
// Timeout.
func TestMiddlewareLargeBodyCheckTimeout(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
			return
		case <-time.After(400 * time.Millisecond):
		}
		w.Header().Set("X-Palisade-Action", "deny")
		http.Error(w, "denied", http.StatusForbidden)
	}))
	defer slow.Close()
	h := middleware.Protect(app, middleware.Config{Endpoint: slow.URL, ServerKey: "sk_test", Timeout: 100 * time.Millisecond, BodyCheckTimeout: 2 * time.Second})
	post := func(n int) int {
		r := httptest.NewRequest("POST", "/comment", strings.NewReader("c="+strings.Repeat("a", n)))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if code := post(20 << 10); code != http.StatusForbidden {
		t.Errorf("large body: %d; want the verdict (403) after the slower check, not fail-open", code)
	}
	if code := post(100); code != http.StatusOK {
		t.Errorf("small body: %d; want fail-open after Timeout", code)
	}
	// Large cookies count too.
	r := httptest.NewRequest("GET", "/products?id=1", nil)
	r.Header.Set("Cookie", "prefs="+strings.Repeat("b", 20<<10))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden {
		t.Errorf("large cookies: %d; want the verdict (403) after the slower check, not fail-open", w.Code)
	}
}
