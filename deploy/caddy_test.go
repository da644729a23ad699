package deploy_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestCaddyForwardAuth runs the shipped Caddyfile in a real Caddy.
func TestCaddyForwardAuth(t *testing.T) {
	caddy := testenv.NeedBinary(t, "caddy", "/usr/bin/caddy")
	pal := testenv.New(t)
	w := pal.Website(t, "shop.example.com", remoteVisitors(guardedSettings()))
	site := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(rw, "hello from %s%s", r.Host, r.URL.Path)
	}))
	defer site.Close()

	b, err := os.ReadFile(filepath.Join("caddy", "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cfg := string(b)
	cfg = strings.Replace(cfg, "shop.example.com {", fmt.Sprintf("{\n\tadmin off\n\tauto_https off\n\tstorage file_system %s\n}\n\nhttp://shop.example.com:%d {", t.TempDir(), port), 1)
	cfg = strings.ReplaceAll(cfg, "sk_REPLACE_WITH_THE_SERVER_KEY", w.ServerKey)
	cfg = strings.ReplaceAll(cfg, "127.0.0.1:8080", pal.Addr)
	cfg = strings.ReplaceAll(cfg, "127.0.0.1:9000", strings.TrimPrefix(site.URL, "http://"))
	testenv.RunCaddy(t, caddy, cfg)
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(ua string) (int, string) {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/page", port), nil)
		req.Host = fmt.Sprintf("shop.example.com:%d", port)
		testenv.AsBrowser(req, ua)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if code, _ := get(chromeUA); code != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("caddy did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body := get(chromeUA); code != 200 || !strings.HasPrefix(body, "hello from shop.example.com") {
		t.Fatalf("browser: %d %q", code, body)
	}
	checkForgedHeaders(t, "Caddy", webHeaderGetter(port), fmt.Sprintf("shop.example.com:%d", port))

	if code, body := get("sqlmap/1.7"); code != 403 || !strings.Contains(body, "Access denied") {
		t.Fatalf("bad bot: %d %q", code, body)
	}
	if code, body := get("curl/8.5.0"); code != 403 || !strings.Contains(body, "Checking your browser") {
		t.Fatalf("challenge: %d %q", code, body)
	}
	// A script's challenge can be solved through Caddy: the clearance
	// cookie then lets the same client through.
	jar, _ := cookiejar.New(nil)
	solver := &http.Client{Timeout: 5 * time.Second, Jar: jar}
	origin := fmt.Sprintf("http://shop.example.com:%d", port)
	solver.Transport = &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, fmt.Sprintf("127.0.0.1:%d", port))
	}}
	if code, body := solveChallenge(t, solver, origin, "/page", "curl/8.5.0"); code != 200 || !strings.HasPrefix(body, "hello from") {
		t.Fatalf("after solving through Caddy: %d %q", code, body)
	}

	pal.Stop()
	if code, body := get("sqlmap/1.7"); code != 200 || !strings.HasPrefix(body, "hello from") {
		t.Fatalf("fail-open while Palisade is down: %d %q", code, body)
	}
}

// TestTraefikForwardAuthProtocol sends what Traefik's forwardAuth sends for
// the shipped palisade.yml (key in the query, X-Forwarded-* headers, the
// client's headers) and checks the answers Traefik would relay. Traefik is
// not packaged by Debian, so the real server is not run here.
func TestTraefikForwardAuthProtocol(t *testing.T) {
	pal := testenv.New(t)
	w := pal.Website(t, "shop.example.com", remoteVisitors(engine.Settings{}))
	b, err := os.ReadFile(filepath.Join("traefik", "palisade.yml"))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b), `address: "`)
	if i < 0 {
		t.Fatal("palisade.yml has no forwardAuth address")
	}
	addr := strings.SplitN(string(b)[i+len(`address: "`):], `"`, 2)[0]
	addr = strings.ReplaceAll(strings.ReplaceAll(addr, "sk_REPLACE_WITH_THE_SERVER_KEY", w.ServerKey), "127.0.0.1:8080", pal.Addr)
	ask := func(ua, xff string) *http.Response {
		req, _ := http.NewRequest("GET", addr, nil)
		req.Header.Set("X-Forwarded-Method", "GET")
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("X-Forwarded-Host", "shop.example.com")
		req.Header.Set("X-Forwarded-Uri", "/cart?id=1")
		req.Header.Set("X-Forwarded-For", xff)
		testenv.AsBrowser(req, ua)
		// a browser over HTTPS (X-Forwarded-Proto) sends its page request's
		// Accept and Sec-Fetch headers, which Traefik passes on
		req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7")
		req.Header.Set("Sec-Fetch-Site", "none")
		req.Header.Set("Sec-Fetch-Mode", "navigate")
		req.Header.Set("Sec-Fetch-Dest", "document")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := ask(chromeUA, "198.51.100.7"); r.StatusCode != 200 {
		t.Fatalf("browser: %d", r.StatusCode)
	}
	if r := ask("Mozilla/5.0 (compatible; GPTBot/1.2)", "198.51.100.7"); r.StatusCode != 403 || r.Header.Get("X-Palisade-Action") != "deny" {
		t.Fatalf("AI crawler: %d %v", r.StatusCode, r.Header)
	}
	// Traefik passes a visitor's other headers on: X-Original-* and
	// X-Real-IP (which its entryPoint removes, but a visitor's copy would
	// be read by a wrong endpoint) must not change the verdict.
	w2 := pal.Website(t, "guarded.example.com", remoteVisitors(guardedSettings()))
	addr2 := strings.ReplaceAll(addr, w.ServerKey, w2.ServerKey)
	visit := func(uri, xff string, forged map[string]string) string {
		req, _ := http.NewRequest("GET", addr2, nil)
		req.Header.Set("X-Forwarded-Method", "GET")
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("X-Forwarded-Host", "guarded.example.com")
		req.Header.Set("X-Forwarded-Uri", uri)
		req.Header.Set("X-Forwarded-For", xff)
		testenv.AsBrowser(req, "sqlmap/1.7.2#stable")
		for k, v := range forged {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("X-Palisade-Action")
	}
	for _, forged := range []map[string]string{nil, {"X-Original-Uri": "/"}, {"X-Real-Ip": allowListed}, {"X-Original-Uri": "/", "X-Real-Ip": allowListed, "X-Palisade-Mode": "nginx"}} {
		if act := visit("/admin/secret", "198.51.100.7", forged); act != "deny" {
			t.Fatalf("Traefik, /admin/secret with %v: %s, want deny", forged, act)
		}
	}
	if act := visit("/admin/secret", allowListed, nil); act != "grant" {
		t.Fatalf("Traefik, an allow-listed X-Forwarded-For: %s", act)
	}
}
