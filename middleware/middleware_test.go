package middleware_test

import (
	"bufio"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/challenge"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
	"github.com/palisadehq/palisade/middleware"
)

const chromeUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

var app = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "app: "+r.URL.Path) })

// liveTimeout bounds a check against a running Palisade in the tests whose
// subject is the verdict: a first check (a page rendered the first time)
// under the race detector on a loaded machine took longer than the default
// 500 ms, failed open, and a bad bot's request got the application's 200.
const liveTimeout = 10 * time.Second

func do(t *testing.T, h http.Handler, ua, path string) (int, string, http.Header) {
	t.Helper()
	req := httptest.NewRequest("GET", "http://shop.example.com"+path, nil)
	req.RemoteAddr = "198.51.100.7:50000"
	testenv.AsBrowser(req, ua)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String(), rec.Header()
}

func TestProtect(t *testing.T) {
	pal := testenv.New(t)
	site := pal.Website(t, "shop.example.com", engine.Settings{
		Deny:  []string{"203.0.113.0/24"},
		Rules: []engine.Rule{{Name: "Moved", Action: "redirect", Location: "/new", Conditions: []engine.Condition{{Field: "path", Op: "is", Value: "/old"}}}},
	})
	var errs int
	// Failing open is asserted below with Palisade stopped (a refused
	// connection, answered at once).
	h := middleware.Protect(app, middleware.Config{Endpoint: pal.URL, ServerKey: site.ServerKey, Timeout: liveTimeout, OnError: func(error) { errs++ }})

	if code, body, _ := do(t, h, chromeUA, "/cart"); code != 200 || body != "app: /cart" {
		t.Fatalf("browser: %d %q", code, body)
	}
	if code, body, hd := do(t, h, "sqlmap/1.7", "/"); code != 403 || !strings.Contains(body, "Access denied") || hd.Get("X-Palisade-Action") != "deny" {
		t.Fatalf("bad bot: %d %q", code, body)
	}
	if code, body, _ := do(t, h, "curl/8.5.0", "/"); code != 403 || !strings.Contains(body, "Checking your browser") {
		t.Fatalf("challenge: %d %q", code, body)
	}
	if code, _, hd := do(t, h, chromeUA, "/old"); code != 302 || hd.Get("Location") != "/new" {
		t.Fatalf("redirect: %d %v", code, hd)
	}
	// The client address Palisade sees is the request's.
	req := httptest.NewRequest("GET", "http://shop.example.com/", nil)
	req.RemoteAddr = "203.0.113.5:1"
	req.Header.Set("User-Agent", chromeUA)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 403 || rec.Header().Get("X-Palisade-Reason") != "deny list" {
		t.Fatalf("deny list: %d %v", rec.Code, rec.Header())
	}

	if errs != 0 {
		t.Fatalf("OnError was told %d times while Palisade answered", errs)
	}
	pal.Stop()
	if code, body, _ := do(t, h, "sqlmap/1.7", "/x"); code != 200 || body != "app: /x" {
		t.Fatalf("fail-open: %d %q", code, body)
	}
	if errs == 0 {
		t.Fatal("OnError was not told")
	}
}

func TestFailClosedLearnedFromPalisade(t *testing.T) {
	pal := testenv.New(t)
	site := pal.Website(t, "shop.example.com", engine.Settings{FailMode: "closed"})
	h := middleware.Protect(app, middleware.Config{Endpoint: pal.URL, ServerKey: site.ServerKey, Timeout: liveTimeout})
	if code, _, _ := do(t, h, chromeUA, "/"); code != 200 {
		t.Fatalf("browser: %d", code)
	}
	pal.Stop()
	if code, _, _ := do(t, h, chromeUA, "/"); code != 503 {
		t.Fatalf("fail-closed site while Palisade is down: %d", code)
	}
}

func TestFallbackAndTimeout(t *testing.T) {
	pal := testenv.New(t)
	site := pal.Website(t, "shop.example.com", engine.Settings{})
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer dead.Close()
	// The primary hangs: after the timeout the secondary answers.
	h := middleware.Protect(app, middleware.Config{Endpoint: dead.URL, Fallback: pal.URL, ServerKey: site.ServerKey, Timeout: 100 * time.Millisecond})
	start := time.Now()
	if code, _, _ := do(t, h, "sqlmap/1.7", "/"); code != 403 {
		t.Fatalf("fallback: %d", code)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatal("the timeout was not applied")
	}
	// Both unreachable: fail-open within the timeouts.
	h = middleware.Protect(app, middleware.Config{Endpoint: dead.URL, ServerKey: site.ServerKey, Timeout: 100 * time.Millisecond})
	if code, body, _ := do(t, h, "sqlmap/1.7", "/y"); code != 200 || body != "app: /y" {
		t.Fatalf("timeout fail-open: %d %q", code, body)
	}
}

// TestChallengeThroughMiddleware: a script solves the challenge through the
// app's own /_palisade/ endpoints and is let through afterwards.
func TestChallengeThroughMiddleware(t *testing.T) {
	pal := testenv.New(t)
	// The test's visitor connects from loopback, which is the site's own
	// server calling itself (built-in grant self_calls): switched off here
	// so the visitor is judged like one from elsewhere.
	site := pal.Website(t, "shop.example.com", engine.Settings{Builtins: map[string]bool{"self_calls": false}})
	srv := httptest.NewServer(middleware.Protect(app, middleware.Config{Endpoint: pal.URL, ServerKey: site.ServerKey, Timeout: liveTimeout}))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	get := func(path string) (int, string) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		testenv.AsBrowser(req, "curl/8.5.0")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, page := get("/data")
	m := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(page)
	if code != 403 || m == nil {
		t.Fatalf("challenge: %d %q", code, page)
	}
	token := html.UnescapeString(m[1])
	counter := ""
	for i := 0; counter == ""; i++ {
		if challenge.Check(token, strconv.Itoa(i), challenge.DefaultDifficulty) {
			counter = strconv.Itoa(i)
		}
	}
	form := url.Values{"token": {token}, "counter": {counter}, "return": {"/data"}}
	req, _ := http.NewRequest("POST", srv.URL+"/_palisade/verify", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "curl/8.5.0")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "app: /data" {
		t.Fatalf("after solving: %d %q", resp.StatusCode, b)
	}
	if code, body := get("/more"); code != 200 || body != "app: /more" {
		t.Fatalf("next request: %d %q", code, body)
	}
}

// TestForgedHeadersThroughMiddleware is issue 16 item 3 for the Go
// middleware: what a visitor sends in X-Original-*, X-Forwarded-* or
// X-Real-IP changes neither the path judged nor the client address; behind
// a trusted load balancer the right-most untrusted X-Forwarded-For counts.
func TestForgedHeadersThroughMiddleware(t *testing.T) {
	pal := testenv.New(t)
	site := pal.Website(t, "shop.example.com", engine.Settings{
		Allow: []string{"192.0.2.77"},
		Deny:  []string{"203.0.113.0/24"},
		Rules: []engine.Rule{{Name: "Admin", Action: "deny", Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/admin"}}}},
	})
	lb := netip.MustParsePrefix("10.0.0.5/32")
	h := middleware.Protect(app, middleware.Config{Endpoint: pal.URL, ServerKey: site.ServerKey, Timeout: liveTimeout, TrustedProxies: []netip.Prefix{lb}})
	ask := func(peer, ua, path string, hd map[string]string) int {
		req := httptest.NewRequest("GET", "http://shop.example.com"+path, nil)
		req.RemoteAddr = peer
		testenv.AsBrowser(req, ua)
		for k, v := range hd {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	forged := map[string]string{"X-Original-Uri": "/", "X-Forwarded-Uri": "/", "X-Real-Ip": "192.0.2.77", "X-Forwarded-For": "192.0.2.77", "X-Palisade-Mode": "nginx"}
	if code := ask("198.51.100.7:1", chromeUA, "/admin/x", forged); code != 403 {
		t.Fatalf("/admin with forged headers: %d", code)
	}
	if code := ask("198.51.100.7:1", "sqlmap/1.7", "/", forged); code != 403 {
		t.Fatalf("sqlmap naming an allow-listed address: %d", code)
	}
	// Behind the balancer: X-Forwarded-For from the right, X-Real-IP never.
	if code := ask("10.0.0.5:1", chromeUA, "/", map[string]string{"X-Forwarded-For": "192.0.2.77, 203.0.113.9"}); code != 403 {
		t.Fatalf("deny-listed client behind the balancer: %d", code)
	}
	if code := ask("10.0.0.5:1", "sqlmap/1.7", "/", map[string]string{"X-Forwarded-For": "198.51.100.7", "X-Real-Ip": "192.0.2.77"}); code != 403 {
		t.Fatalf("X-Real-IP behind an X-Forwarded-For balancer: %d", code)
	}
	if code := ask("10.0.0.5:1", "sqlmap/1.7", "/", map[string]string{"X-Forwarded-For": "192.0.2.77"}); code != 200 {
		t.Fatalf("the balancer's word for an allow-listed client: %d", code)
	}
}

// TestMiddlewarePathSpellings: Go's server decodes /%61dmin/secret to
// /admin/secret before the application's mux routes it; the middleware's
// verdict is about that path (issue 16 follow-up, finding 1).
func TestMiddlewarePathSpellings(t *testing.T) {
	pal := testenv.New(t)
	site := pal.Website(t, "shop.example.com", engine.Settings{Rules: []engine.Rule{{Name: "Admin", Action: "deny", Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/admin"}}}}})
	mux := http.NewServeMux()
	mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "the admin secret") })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "home") })
	plain := httptest.NewServer(mux)
	defer plain.Close()
	guarded := httptest.NewServer(middleware.Protect(mux, middleware.Config{Endpoint: pal.URL, ServerKey: site.ServerKey, Timeout: liveTimeout}))
	defer guarded.Close()
	raw := func(srv *httptest.Server, target string) (int, string) {
		c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: "+chromeUA+"\r\nAccept: text/html\r\nAccept-Language: en\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, target := range []string{"/admin/secret", "/%61dmin/secret", "/%61dmin%2Fsecret", "/admin/./secret"} {
		if code, body := raw(plain, target); code != 200 || body != "the admin secret" {
			t.Logf("without the middleware %s answers %d", target, code)
			continue
		}
		if code, body := raw(guarded, target); code != 403 || strings.Contains(body, "secret") {
			t.Errorf("%s (which the mux serves as /admin/): %d %.80q, want 403", target, code, body)
		}
	}
}

// TestSelfCallThroughMiddleware: the application's own server calling
// itself from loopback is granted (built-in self_calls); a loopback client
// whose request shows a proxy in front (X-Forwarded-For from a proxy not in
// TrustedProxies) is that proxy, and is judged like any visitor.
func TestSelfCallThroughMiddleware(t *testing.T) {
	pal := testenv.New(t)
	site := pal.Website(t, "shop.example.com", engine.Settings{})
	h := middleware.Protect(app, middleware.Config{Endpoint: pal.URL, ServerKey: site.ServerKey, Timeout: liveTimeout})
	ask := func(hd map[string]string) int {
		req := httptest.NewRequest("GET", "http://shop.example.com/wp-cron.php", nil)
		req.RemoteAddr = "127.0.0.1:50000"
		req.Header.Set("User-Agent", "curl/8.5.0")
		for k, v := range hd {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := ask(nil); code != 200 {
		t.Fatalf("the site calling itself: %d", code)
	}
	if code := ask(map[string]string{"X-Forwarded-For": "198.51.100.7"}); code != 403 {
		t.Fatalf("a loopback client behind a proxy: %d", code)
	}
}
