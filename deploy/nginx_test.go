// Package deploy holds the web-server configurations users install; its
// tests run them in the real servers.
package deploy_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

const chromeUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// TestNginxAuthRequest runs the shipped snippets in a real nginx in front of
// a site, with Palisade deciding through /forward-auth.
func TestNginxAuthRequest(t *testing.T) {
	nginx := testenv.NeedBinary(t, "nginx", "/usr/sbin/nginx")
	pal := testenv.New(t)
	open := pal.Website(t, "open.example.com", remoteVisitors(engine.Settings{Rules: []engine.Rule{
		{Name: "Moved", Action: "redirect", Location: "https://moved.example.test/", Conditions: []engine.Condition{{Field: "path", Op: "is", Value: "/old"}}}}}))
	closed := pal.Website(t, "closed.example.com", remoteVisitors(engine.Settings{FailMode: "closed"}))

	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s%s", r.Host, r.URL.Path)
	}))
	defer site.Close()

	port := freePort(t)
	server := func(name, key, snippet string) string { return nginxServer(port, name, key, snippet, site.URL) }
	guarded := pal.Website(t, "guarded.example.com", remoteVisitors(guardedSettings()))
	startNginx(t, nginx, pal, server("open.example.com", open.ServerKey, "palisade.conf")+server("closed.example.com", closed.ServerKey, "palisade-fail-closed.conf")+
		server("guarded.example.com", guarded.ServerKey, "palisade.conf"))

	get := webGetter(port)
	get.waitUp(t, "open.example.com", "nginx")
	checkForgedHeaders(t, "nginx", webHeaderGetter(port), "guarded.example.com")

	if code, body, _ := get("open.example.com", "/page", chromeUA); code != 200 || body != "hello from open.example.com/page" {
		t.Fatalf("browser: %d %q", code, body)
	}
	if code, body, _ := get("open.example.com", "/", "sqlmap/1.7.2#stable"); code != 403 || strings.Contains(body, "hello") {
		t.Fatalf("bad bot: %d %q", code, body)
	}
	// The page nginx fetches after the verdict shows the verdict's reference ID.
	if code, body, _ := get("open.example.com", "/", "curl/8.5.0"); code != 403 || !strings.Contains(body, "Checking your browser") || !pageRef.MatchString(body) {
		t.Fatalf("challenge: %d %q", code, body)
	}
	if code, _, h := get("open.example.com", "/old", chromeUA); code != 302 || h.Get("Location") != "https://moved.example.test/" {
		t.Fatalf("redirect: %d %v", code, h)
	}
	if code, body, _ := get("closed.example.com", "/", chromeUA); code != 200 || !strings.Contains(body, "hello from closed") {
		t.Fatalf("fail-closed site while Palisade is up: %d %q", code, body)
	}

	pal.Stop()
	if code, body, _ := get("open.example.com", "/page", "sqlmap/1.7.2#stable"); code != 200 || body != "hello from open.example.com/page" {
		t.Fatalf("fail-open while Palisade is down: %d %q", code, body)
	}
	if code, body, _ := get("closed.example.com", "/", chromeUA); code < 500 || strings.Contains(body, "hello") {
		t.Fatalf("fail-closed while Palisade is down: %d %q", code, body)
	}
	pal.Start(t)
	get.waitCode(t, "open.example.com", "/", "sqlmap/1.7.2#stable", 403, "protection after Palisade restarted")
}

// startNginx runs nginx with the shipped snippets (pointed at pal) and the
// given server blocks, in which PALISADE_CONF stands for the snippets'
// folder. nginx stops when the test ends.
// nginxServer is an nginx server block for the website name on port,
// protected by the shipped snippet (palisade.conf or
// palisade-fail-closed.conf) with its server key, in front of upstream.
func nginxServer(port int, name, key, snippet, upstream string) string {
	return fmt.Sprintf(`
    server {
        listen 127.0.0.1:%d;
        server_name %s;
        set $palisade_key "%s";
        include PALISADE_CONF/%s;
        location / { proxy_pass %s; proxy_set_header Host $host; }
    }`, port, name, key, snippet, upstream)
}

func startNginx(t *testing.T, nginx string, pal *testenv.Stack, servers string) {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "palisade")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"palisade-common.conf", "palisade.conf", "palisade-fail-closed.conf", "palisade-upstream.conf"} {
		b, err := os.ReadFile(filepath.Join("nginx", f))
		if err != nil {
			t.Fatal(err)
		}
		s := strings.ReplaceAll(string(b), "/etc/nginx/palisade/", conf+"/")
		s = strings.ReplaceAll(s, "server 127.0.0.1:8080;", "server "+pal.Addr+";")
		if err := os.WriteFile(filepath.Join(conf, f), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testenv.RunNginx(t, nginx, dir, fmt.Sprintf("    include %s/palisade-upstream.conf;\n    %s", conf, strings.ReplaceAll(servers, "PALISADE_CONF", conf)))
}

// TestSelfCallThroughNginx: through the shipped nginx snippet, the site's
// own server calling itself (from loopback, as WordPress's cron does) is
// granted by the built-in self_calls; the same request showing a proxy in
// front of nginx (Via) is judged like any other.
func TestSelfCallThroughNginx(t *testing.T) {
	nginx := testenv.NeedBinary(t, "nginx", "/usr/sbin/nginx")
	pal := testenv.New(t)
	w := pal.Website(t, "shop.example.com", engine.Settings{})
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s%s", r.Host, r.URL.Path)
	}))
	defer site.Close()
	port := freePort(t)
	startNginx(t, nginx, pal, nginxServer(port, "shop.example.com", w.ServerKey, "palisade.conf", site.URL))
	get := webHeaderGetter(port)
	webGetter(port).waitUp(t, "shop.example.com", "nginx")
	if code, body := get("shop.example.com", "/wp-cron.php", "curl/8.5.0", nil); code != 200 || body != "hello from shop.example.com/wp-cron.php" {
		t.Fatalf("the site calling itself: %d %q", code, body)
	}
	for _, front := range []map[string]string{{"Via": "1.1 front-proxy"}, {"X-Forwarded-For": "198.51.100.7"}} {
		if code, body := get("shop.example.com", "/wp-cron.php", "curl/8.5.0", front); code != 403 || strings.Contains(body, "hello") {
			t.Fatalf("a loopback client behind a proxy (%v): %d %q", front, code, body)
		}
	}
}
