// Package deploy holds the web-server configurations users install; its
// tests run them in the real servers.
package deploy_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/deploy"
	"github.com/palisadehq/palisade/internal/core"
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

	site := httptest.NewServer(siteWithOwnRefusals())
	defer site.Close()

	port := freePort(t)
	server := func(name, key, snippet string) string { return nginxServer(port, name, key, snippet, site.URL) }
	guarded := pal.Website(t, "guarded.example.com", remoteVisitors(guardedSettings()))
	// own.example.com refuses in nginx itself too: deny (403) and
	// auth_basic (401), whose answers carry no verdict.
	own := pal.Website(t, "own.example.com", remoteVisitors(engine.Settings{}))
	htpasswd := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(htpasswd, []byte("member:{PLAIN}secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ownServer := strings.Replace(server("own.example.com", own.ServerKey, "palisade.conf"), "location / {",
		"location /private { deny all; }\n        location /members { auth_basic \"Members\"; auth_basic_user_file "+htpasswd+"; }\n        location / {", 1)
	startNginx(t, nginx, pal, server("open.example.com", open.ServerKey, "palisade.conf")+server("closed.example.com", closed.ServerKey, "palisade-fail-closed.conf")+
		server("guarded.example.com", guarded.ServerKey, "palisade.conf")+ownServer)

	get := webGetter(port)
	get.waitUp(t, "open.example.com", "nginx")
	checkForgedHeaders(t, "nginx", webHeaderGetter(port), "guarded.example.com")

	if code, body, _ := get("open.example.com", "/page", chromeUA); code != 200 || body != "hello from open.example.com/page" {
		t.Fatalf("browser: %d %q", code, body)
	}
	// A deny: the service's deny page, with the verdict's reference ID,
	// never nginx's stock "403 Forbidden".
	checkDenyPage(t, get, "open.example.com")
	checkOwnRefusals(t, get, "open.example.com")
	// The refusals nginx makes for the site itself are nginx's own, as
	// without the service: deny answers the stock 403, auth_basic asks for
	// the password.
	if code, body, h := get("own.example.com", "/private", chromeUA); code != 403 || h.Get("X-Palisade-Action") != "" || !strings.Contains(body, "<hr><center>nginx") {
		t.Fatalf("the site's own deny in nginx: %d %v %q", code, h, body)
	}
	if code, body, h := get("own.example.com", "/members", chromeUA); code != 401 || h.Get("WWW-Authenticate") != `Basic realm="Members"` || h.Get("X-Palisade-Action") != "" {
		t.Fatalf("the site's own auth_basic in nginx: %d %v %q", code, h, body)
	}
	if code, body, _ := get("own.example.com", "/page", chromeUA); code != 200 || body != "hello from own.example.com/page" {
		t.Fatalf("own.example.com, browser: %d %q", code, body)
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
	// A request never granted before: a grant nginx cached a moment ago
	// outlives the outage by at most its lifetime (nginx_cache_test.go).
	if code, body, _ := get("closed.example.com", "/not-asked-before", chromeUA); code < 500 || strings.Contains(body, "hello") {
		t.Fatalf("fail-closed while Palisade is down: %d %q", code, body)
	}
	pal.Start(t)
	get.waitCode(t, "open.example.com", "/", "sqlmap/1.7.2#stable", 403, "protection after Palisade restarted")
}

// nginxServer is an nginx server block for the website name on port,
// protected by the shipped snippet (palisade.conf or
// palisade-fail-closed.conf) with its server key, in front of upstream.
// PALISADE_CONF stands for the snippets' folder (startNginx fills it in).
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

// nginxCacheDir is the grant cache's folder in palisade-upstream.conf,
// which the tests point at a folder of their own.
const nginxCacheDir = "/var/cache/nginx-palisade"

// nginxReuseFile is the file palisade.conf appends its reuse reports to
// (palisade serve --reuse-file's default with deploy/systemd); tests point
// it at a file of their own.
const nginxReuseFile = deploy.NginxReuseFile

// nginxSnippets are the shipped include files (nginx.conf is the example
// that includes them).
var nginxSnippets = []string{"palisade.conf", "palisade-fail-closed.conf", "palisade-upstream.conf", "palisade-static.conf", "palisade-pass.conf"}

// startNginx runs nginx with the shipped snippets, copied as they are into
// a folder of the test's own (they include nothing, so they work from any
// directory) with only the node's address pointed at pal, and the given
// server blocks, in which PALISADE_CONF stands for that folder. nginx stops
// when the test ends.
func startNginx(t *testing.T, nginx string, pal *testenv.Stack, servers string) {
	t.Helper()
	startNginxFor(t, nginx, pal.Addr, servers, nil)
}

// startNginxFor is startNginx with the node at addr, each snippet's text
// passed through edit first (when not nil).
func startNginxFor(t *testing.T, nginx, addr string, servers string, edit func(string) string) {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "snippets")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range nginxSnippets {
		b, err := os.ReadFile(filepath.Join("nginx", f))
		if err != nil {
			t.Fatal(err)
		}
		s := strings.ReplaceAll(string(b), "server 127.0.0.1:8080;", "server "+addr+";")
		s = strings.ReplaceAll(s, nginxCacheDir, filepath.Join(dir, "grants"))
		if edit != nil {
			s = edit(s)
		}
		// Reports no test reads (a test that counts them edits the path
		// to its own reader's file first).
		s = strings.ReplaceAll(s, nginxReuseFile, filepath.Join(dir, "reuse.log"))
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

// siteWithOwnRefusals is a protected site: "hello from <host><path>", but
// /own-403 and /own-401 answer the site's own refusals, which the web
// server must pass on untouched.
func siteWithOwnRefusals() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/own-403":
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, "the site's own 403")
		case "/own-401":
			w.Header().Set("WWW-Authenticate", `Basic realm="site"`)
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, "the site's own 401")
		default:
			fmt.Fprintf(w, "hello from %s%s", r.Host, r.URL.Path)
		}
	})
}

// checkDenyPage asks host for / as sqlmap, which the website firewall's
// scanner rules (or the category security_issues) deny: the answer is the
// service's deny page (X-Palisade-Action: deny, the reference ID), not the
// web server's own.
func checkDenyPage(t *testing.T, get getter, host string) {
	t.Helper()
	code, body, h := get(host, "/", "sqlmap/1.7.2#stable")
	if code != 403 || h.Get("X-Palisade-Action") != "deny" || !pageRef.MatchString(body) || strings.Contains(body, "hello") || strings.Contains(body, "<hr><center>nginx") {
		t.Fatalf("%s, bad bot: want the deny page with its reference ID, got %d %v %q", host, code, h, body)
	}
}

// checkOwnRefusals asks host (siteWithOwnRefusals behind the web server)
// for its own 403 and 401 as a browser: both reach the visitor as the site
// answered them.
func checkOwnRefusals(t *testing.T, get getter, host string) {
	t.Helper()
	if code, body, h := get(host, "/own-403", chromeUA); code != 403 || body != "the site's own 403" || h.Get("X-Palisade-Action") != "" {
		t.Fatalf("%s: the upstream's own 403 was replaced: %d %v %q", host, code, h, body)
	}
	if code, body, h := get(host, "/own-401", chromeUA); code != 401 || body != "the site's own 401" || h.Get("WWW-Authenticate") != `Basic realm="site"` {
		t.Fatalf("%s: the upstream's own 401 was replaced: %d %v %q", host, code, h, body)
	}
}

// TestNginxSnippetsSelfContained: palisade.conf and
// palisade-fail-closed.conf include nothing (so they work from any
// directory) and carry the same shared part, word for word; they differ
// only in their header and in what happens when the service is unreachable.
func TestNginxSnippetsSelfContained(t *testing.T) {
	const begin, end = "# ---- the shared part:", "# ---- end of the shared part ----"
	var parts []string
	for _, f := range nginxSnippets {
		b, err := os.ReadFile(filepath.Join("nginx", f))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		for i, line := range strings.Split(s, "\n") {
			if fields := strings.Fields(line); len(fields) > 0 && fields[0] == "include" {
				t.Errorf("nginx/%s:%d includes another file (%q): the snippets must work from any directory", f, i+1, line)
			}
		}
		if f == "palisade-upstream.conf" || f == "palisade-static.conf" || f == "palisade-pass.conf" {
			continue
		}
		i, j := strings.Index(s, begin), strings.Index(s, end)
		if i < 0 || j < i {
			t.Fatalf("nginx/%s has no shared part (%q … %q)", f, begin, end)
		}
		parts = append(parts, s[i:j+len(end)])
		rest := s[:i] + s[j+len(end):]
		if !strings.Contains(rest, "location @palisade_unreachable") {
			t.Errorf("nginx/%s lacks its own @palisade_unreachable", f)
		}
	}
	if len(parts) != 2 || parts[0] != parts[1] {
		t.Fatalf("the shared part of palisade.conf and palisade-fail-closed.conf differs: keep them word for word the same")
	}
}

// TestNginxExampleAsShipped runs deploy/nginx as shipped: the directory
// copied to a folder of the test's own, only the placeholders the
// integration guide fills in (the website's server key, the node) and the
// ones the test must (the listen address, the site's own server) put in,
// then nginx -t and nginx with -p/-c. A browser gets the site; curl the
// challenge page and sqlmap the deny page, both the service's with the
// reference ID; the site's own 403 and 401 pass untouched; with the
// service down the site is served (fail-open).
func TestNginxExampleAsShipped(t *testing.T) {
	nginx := testenv.NeedBinary(t, "nginx", "/usr/sbin/nginx")
	pal := testenv.New(t)
	// The host's brand, which the service's pages carry.
	if _, err := pal.Service.SetBranding(context.Background(), pal.Caller, pal.Caller.PartnerID, core.Branding{Name: "Acme Shield"}); err != nil {
		t.Fatal(err)
	}
	w := pal.Website(t, "shop.example.com", remoteVisitors(engine.Settings{}))
	site := httptest.NewServer(siteWithOwnRefusals())
	defer site.Close()
	port := freePort(t)

	dir := t.TempDir()
	files, err := os.ReadDir("nginx")
	if err != nil {
		t.Fatal(err)
	}
	put := strings.NewReplacer(
		"sk_REPLACE_WITH_THE_SERVER_KEY", w.ServerKey,
		"127.0.0.1:8080", pal.Addr,
		"127.0.0.1:9000", strings.TrimPrefix(site.URL, "http://"),
		"listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", port),
		nginxCacheDir, filepath.Join(dir, "grants"),
		nginxReuseFile, filepath.Join(dir, "reuse.log"),
		"/var/www/shop.example.com", filepath.Join(dir, "www"),
	)
	if err := os.MkdirAll(filepath.Join(dir, "www", "css"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "www", "css", "site.css"), []byte("body{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join("nginx", f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.Name()), []byte(put.Replace(string(b))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The process's own files (its pid, its log) go to the test's folder
	// through -g, not the file.
	global := fmt.Sprintf("pid %s; error_log %s info;", filepath.Join(dir, "nginx.pid"), filepath.Join(dir, "error.log"))
	if os.Geteuid() == 0 {
		// The workers write the grant cache into the test's folder, which
		// only its owner may enter.
		global += " user root;"
	}
	testenv.RunNginxConf(t, nginx, dir, "nginx.conf", global)

	get := webGetter(port)
	get.waitUp(t, "shop.example.com", "nginx")
	if code, body, _ := get("shop.example.com", "/page", chromeUA); code != 200 || body != "hello from shop.example.com/page" {
		t.Fatalf("browser: %d %q", code, body)
	}
	if code, body, h := get("shop.example.com", "/", "curl/8.5.0"); code != 403 || h.Get("X-Palisade-Action") != "challenge" || !pageRef.MatchString(body) || !strings.Contains(body, "Acme Shield") {
		t.Fatalf("challenge: want the host's challenge page with its reference ID, got %d %v %q", code, h, body)
	}
	checkDenyPage(t, get, "shop.example.com")
	if _, body, _ := get("shop.example.com", "/", "sqlmap/1.7.2#stable"); !strings.Contains(body, "Acme Shield") {
		t.Fatalf("the deny page does not carry the host's brand: %q", body)
	}
	checkOwnRefusals(t, get, "shop.example.com")
	// The static location: the file for a browser, the deny page for sqlmap.
	if code, body, _ := get("shop.example.com", "/css/site.css", chromeUA); code != 200 || body != "body{}" {
		t.Fatalf("a static file: %d %q", code, body)
	}
	if code, body, _ := get("shop.example.com", "/css/site.css", "sqlmap/1.7.2#stable"); code != 403 || !pageRef.MatchString(body) {
		t.Fatalf("sqlmap on a static file: %d %.200q, want the deny page", code, body)
	}

	pal.Stop()
	if code, body, _ := get("shop.example.com", "/page", "sqlmap/1.7.2#stable"); code != 200 || body != "hello from shop.example.com/page" {
		t.Fatalf("fail-open while the service is down: %d %q", code, body)
	}
}
