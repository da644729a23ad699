package proxy_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/netutil"
	"github.com/palisadehq/palisade/internal/proxy"
	"github.com/palisadehq/palisade/internal/testenv"
)

const chromeUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

func TestProxy(t *testing.T) {
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{Rules: []engine.Rule{{Name: "Moved", Action: "redirect", Location: "/new", Conditions: []engine.Condition{{Field: "path", Op: "is", Value: "/old"}}}}})
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "app %s %s xff=%s", r.Host, r.URL.RequestURI(), r.Header.Get("X-Forwarded-For"))
	}))
	defer app.Close()
	up, _ := url.Parse(app.URL)
	px := httptest.NewServer(proxy.New(pal.Protector, []proxy.Route{{Host: "shop.example.com", Upstream: up}}, nil, nil))
	defer px.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(host, path, ua string) (int, string, http.Header) {
		req, _ := http.NewRequest("GET", px.URL+path, nil)
		req.Host = host
		testenv.AsBrowser(req, ua)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	if code, body, _ := get("shop.example.com", "/cart?x=1", chromeUA); code != 200 || body != "app shop.example.com /cart?x=1 xff=127.0.0.1" {
		t.Fatalf("browser: %d %q", code, body)
	}
	if code, body, _ := get("shop.example.com", "/", "sqlmap/1.7"); code != 403 || !strings.Contains(body, "Access denied") {
		t.Fatalf("bad bot: %d %q", code, body)
	}
	if code, body, _ := get("shop.example.com", "/", "curl/8.5"); code != 403 || !strings.Contains(body, "Checking your browser") {
		t.Fatalf("challenge: %d %q", code, body)
	}
	if code, _, h := get("shop.example.com", "/old", chromeUA); code != 302 || h.Get("Location") != "/new" {
		t.Fatalf("redirect: %d %v", code, h)
	}
	if code, _, _ := get("other.example.com", "/", chromeUA); code != http.StatusMisdirectedRequest {
		t.Fatalf("unrouted host: %d", code)
	}
	app.Close()
	if code, body, _ := get("shop.example.com", "/", chromeUA); code != 502 || !strings.Contains(body, "does not answer right now") || strings.Contains(strings.ToLower(body), "palisade") {
		t.Fatalf("upstream down: %d %q", code, body)
	}
}

func TestParseRoute(t *testing.T) {
	for in, want := range map[string]string{"http://127.0.0.1:9000": "|http://127.0.0.1:9000", "Shop.Example.com=https://10.0.0.5": "shop.example.com|https://10.0.0.5"} {
		rt, err := proxy.ParseRoute(in)
		if err != nil || rt.Host+"|"+rt.Upstream.String() != want {
			t.Errorf("ParseRoute(%q) = %+v, %v", in, rt, err)
		}
	}
	for _, bad := range []string{"", "ftp://x", "host=", "x=127.0.0.1:9000"} {
		if _, err := proxy.ParseRoute(bad); err == nil {
			t.Errorf("ParseRoute(%q) succeeded", bad)
		}
	}
}

// TestProxyForgedAddress is issue 16 items 3 and 4 for `palisade proxy`: a
// visitor's X-Real-IP is never its address; behind a trusted load balancer
// only the balancer's X-Forwarded-For (right-most untrusted hop) counts.
func TestProxyForgedAddress(t *testing.T) {
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{Allow: []string{"192.0.2.77"}, Deny: []string{"203.0.113.0/24"}})
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "app") }))
	defer app.Close()
	up, _ := url.Parse(app.URL)
	routes := []proxy.Route{{Host: "shop.example.com", Upstream: up}}
	lb, _ := netutil.ParseProxy("127.0.0.1")
	direct := httptest.NewServer(proxy.New(pal.Protector, routes, nil, nil))
	defer direct.Close()
	behindLB := httptest.NewServer(proxy.New(pal.Protector, routes, netutil.Proxies{lb}, nil))
	defer behindLB.Close()
	get := func(base, ua string, hd map[string]string) int {
		req, _ := http.NewRequest("GET", base+"/", nil)
		req.Host = "shop.example.com"
		testenv.AsBrowser(req, ua)
		for k, v := range hd {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, hd := range []map[string]string{{"X-Real-Ip": "192.0.2.77"}, {"X-Forwarded-For": "192.0.2.77"}} {
		if code := get(direct.URL, "sqlmap/1.7", hd); code != 403 {
			t.Fatalf("no trusted proxy, sqlmap naming an allow-listed address in %v: %d", hd, code)
		}
	}
	// Behind the balancer: its X-Forwarded-For counts, X-Real-IP never.
	if code := get(behindLB.URL, chromeUA, map[string]string{"X-Forwarded-For": "203.0.113.9"}); code != 403 {
		t.Fatalf("deny-listed client in the balancer's X-Forwarded-For: %d", code)
	}
	if code := get(behindLB.URL, "sqlmap/1.7", map[string]string{"X-Forwarded-For": "198.51.100.1", "X-Real-Ip": "192.0.2.77"}); code != 403 {
		t.Fatalf("X-Real-IP through an X-Forwarded-For balancer: %d", code)
	}
	if code := get(behindLB.URL, "sqlmap/1.7", map[string]string{"X-Forwarded-For": "192.0.2.77, 198.51.100.1"}); code != 403 {
		t.Fatalf("a forged left-hand X-Forwarded-For entry: %d", code)
	}
}

// TestProxyChallengeAddress: the challenge's endpoints behind palisade
// proxy see the address decisions see, not one the visitor names (a
// failed solution is recorded with it).
func TestProxyChallengeAddress(t *testing.T) {
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{})
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "app") }))
	defer app.Close()
	up, _ := url.Parse(app.URL)
	px := httptest.NewServer(proxy.New(pal.Protector, []proxy.Route{{Host: "shop.example.com", Upstream: up}}, nil, nil))
	defer px.Close()
	form := url.Values{"token": {"bogus"}, "counter": {"1"}, "return": {"/"}}
	req, _ := http.NewRequest("POST", px.URL+"/_palisade/verify", strings.NewReader(form.Encode()))
	req.Host = "shop.example.com"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Real-Ip", "192.0.2.77")
	req.Header.Set("X-Forwarded-For", "192.0.2.77")
	testenv.AsBrowser(req, chromeUA)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		pal.Recorder.Flush(ctx)
		evs, err := pal.Service.Events(ctx, pal.Caller, "shop.example.com", core.EventFilter{Action: "challenge_failed"})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) > 0 {
			if evs[0].IP != "127.0.0.1" {
				t.Fatalf("challenge outcome recorded for %s, want the real client 127.0.0.1", evs[0].IP)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no challenge_failed event")
}

// rawStatus sends target byte for byte (Go's client would clean it) and
// returns the status code and body.
func rawStatus(t *testing.T, addr, host, target string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: text/html\r\nAccept-Language: en\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n", target, host, chromeUA)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestProxyPathSpellings: the reverse proxy judges the path its upstream
// resolves, whatever the spelling (issue 16 follow-up, finding 1).
func TestProxyPathSpellings(t *testing.T) {
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{Rules: []engine.Rule{{Name: "Admin", Action: "deny", Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/admin"}}}}})
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "app %s", r.URL.Path) }))
	defer app.Close()
	up, _ := url.Parse(app.URL)
	px := httptest.NewServer(proxy.New(pal.Protector, []proxy.Route{{Host: "shop.example.com", Upstream: up}}, nil, nil))
	defer px.Close()
	addr := strings.TrimPrefix(px.URL, "http://")
	for _, target := range []string{"/admin/secret", "/%61dmin/secret", "//admin/secret", "/./admin/secret", "/x/../admin/secret", "/admin%2Fsecret"} {
		if code, body := rawStatus(t, addr, "shop.example.com", target); code != 403 || strings.Contains(body, "app") {
			t.Errorf("%s: %d %.80q, want 403", target, code, body)
		}
	}
	if code, body := rawStatus(t, addr, "shop.example.com", "/shop/admin"); code != 200 {
		t.Errorf("/shop/admin: %d %q", code, body)
	}
}
