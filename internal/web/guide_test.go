package web_test

import (
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/testenv"
)

// guideFiles are the shipped configurations each card of the integration
// guide must reproduce (paths under deploy/).
var guideFiles = map[string][]string{
	"nginx":   {"nginx/palisade-upstream.conf", "nginx/palisade.conf", "nginx/palisade-fail-closed.conf", "nginx/palisade-common.conf"},
	"caddy":   {"caddy/Caddyfile"},
	"traefik": {"traefik/palisade.yml"},
	"apache":  {"apache/palisade.conf", "apache/palisade-unreachable.lua", "apache/palisade-vhost-fail-closed.conf"},
	"haproxy": {"haproxy/palisade-frontend.cfg", "haproxy/palisade-spoe.conf", "haproxy/palisade-fail-closed.lst"},
}

// guideSection returns the guide card of one integration, unescaped.
func guideSection(t *testing.T, page, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<section[^>]*id="guide-` + name + `".*?</section>`).FindString(page)
	if m == "" {
		t.Fatalf("the integration guide has no %s card", name)
	}
	return html.UnescapeString(m)
}

// TestIntegrationGuideMatchesDeploy renders a website's integration guide
// and checks that every configuration line (each endpoint, each header
// set or removed) of the shipped deploy/ files appears in the card of its
// integration, with the website's key, domain and node put in: the guide
// and deploy/ cannot drift apart again (the guide once sent Caddy to the
// old /forward-auth, which answers every Caddy request with 500).
func TestIntegrationGuideMatchesDeploy(t *testing.T) {
	e, jane, _, site := fixture(t)
	br := newBrowser(t, e.URL)
	code, page, _ := br.get("/en/website/shop.example.com/integration?api-key=" + jane.APIKey)
	if code != 200 {
		t.Fatalf("integration: %d %s", code, page)
	}
	put := strings.NewReplacer("sk_REPLACE_WITH_THE_SERVER_KEY", site.ServerKey, "http://127.0.0.1:8080", e.URL, "127.0.0.1:8080", e.Addr)
	for name, files := range guideFiles {
		card := guideSection(t, page, name)
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join("..", "..", "deploy", f))
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(string(b), "\n") {
				line = strings.TrimSpace(line)
				if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "--") {
					continue
				}
				if want := put.Replace(line); !strings.Contains(card, want) {
					t.Errorf("%s card lacks %q of deploy/%s", name, want, f)
				}
			}
		}
		if strings.Contains(card, "sk_REPLACE_WITH_THE_SERVER_KEY") || !strings.Contains(card, e.Addr) {
			t.Errorf("%s card does not carry this website's values:\n%s", name, card)
		}
	}
	for _, old := range []string{"uri /forward-auth\n", "/forward-auth?key="} {
		if strings.Contains(html.UnescapeString(page), old) {
			t.Errorf("the guide still shows the old endpoint %q", old)
		}
	}
}

// TestIntegrationGuideCaddy runs the Caddy card of the guide, as a
// customer would paste it, in a real Caddy: a browser gets the site.
func TestIntegrationGuideCaddy(t *testing.T) {
	caddy := testenv.NeedBinary(t, "caddy", "/usr/bin/caddy")
	e, jane, _, _ := fixture(t)
	br := newBrowser(t, e.URL)
	_, page, _ := br.get("/en/website/shop.example.com/integration?api-key=" + jane.APIKey)
	m := regexp.MustCompile(`(?s)<pre><code>(.*?)</code></pre>`).FindStringSubmatch(guideSection(t, page, "caddy"))
	if m == nil {
		t.Fatalf("no Caddyfile in the caddy card")
	}
	site := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(rw, "hello from %s%s", r.Host, r.URL.Path)
	}))
	defer site.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg := strings.Replace(m[1], "shop.example.com {", fmt.Sprintf("{\n\tadmin off\n\tauto_https off\n\tstorage file_system %s\n}\n\nhttp://shop.example.com:%d {", t.TempDir(), port), 1)
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
	const chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	deadline := time.Now().Add(15 * time.Second)
	for {
		if code, _ := get(chrome); code != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("caddy did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body := get(chrome); code != 200 || !strings.HasPrefix(body, "hello from shop.example.com") {
		t.Fatalf("browser through the guide's Caddyfile: %d %q", code, body)
	}
	if code, body := get("sqlmap/1.7"); code != 403 {
		t.Fatalf("bad bot through the guide's Caddyfile: %d %q", code, body)
	}
}
