package redteam21

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/api/reuselog"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestFixed_NginxCacheHidesHeadersFromWAF (was TestFinding_…): the shipped
// palisade.conf has no grant cache in its auth location and passes every
// header: a Log4Shell payload in X-Api-Version, Shellshock in X-Custom and
// a header the tenant's own deny rule names (X-Debug) are refused (403),
// with palisade.conf as shipped and with palisade-fail-closed.conf.
func TestFixed_NginxCacheHidesHeadersFromWAF(t *testing.T) {
	pal := testenv.New(t)
	pal.Protector.Engine.SetGrantCache(engine.DefaultGrantCache)
	site := pal.Website(t, "waf.example.com", remoteVisitors(engine.Settings{Rules: []engine.Rule{
		{Name: "No debug", Action: "deny", Conditions: []engine.Condition{{Field: "header", Header: "X-Debug", Op: "contains", Value: "1"}}}}}))
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "reached the site") }))
	defer backend.Close()
	openPort, closedPort := freePort(t), freePort(t)
	startNginxFor(t, pal.Addr, nginxServer(openPort, "waf.example.com", site.ServerKey, "palisade.conf", backend.URL)+
		nginxServer(closedPort, "waf.example.com", site.ServerKey, "palisade-fail-closed.conf", backend.URL), nil)
	for _, port := range []int{openPort, closedPort} {
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		waitUp(t, addr)
		if code, body := get(t, addr, "waf.example.com", "/page", ""); code != 200 || body != "reached the site" {
			t.Fatalf("control: a browser: %d %q", code, body)
		}
		for _, a := range []struct{ name, header string }{
			{"log4shell in X-Api-Version", "X-Api-Version: ${jndi:ldap://127.0.0.1:1389/a}\r\n"},
			{"shellshock in X-Custom", "X-Custom: () { :; }; /bin/cat /etc/passwd\r\n"},
			{"the tenant's deny rule on X-Debug", "X-Debug: 1\r\n"},
		} {
			// Twice: the second would be a cache hit, were there a cache.
			for i := 0; i < 2; i++ {
				if code, body := get(t, addr, "waf.example.com", "/page?"+strings.ReplaceAll(a.name, " ", "-"), a.header); code != 403 {
					t.Errorf("port %d: %s reached the site (%d %.40q), want 403", port, a.name, code, body)
				}
			}
		}
	}
}

// TestFixed_InheritedMicroCacheSharesGrants (was TestFinding_…): a
// micro-cache in the server {} (proxy_cache, with proxy_ignore_headers
// Cache-Control Expires, with and without proxy_cache_valid) no longer
// shares a browser's grant with sqlmap: today's palisade.conf sets
// "proxy_cache off;" in its auth location, and /forward-auth/nginx answers
// every verdict X-Accel-Expires: 0, which also keeps the palisade.conf of
// before issue 21 (testdata/palisade-66e8d91.conf, already deployed, no
// "proxy_cache off;") from caching it.
func TestFixed_InheritedMicroCacheSharesGrants(t *testing.T) {
	old, err := os.ReadFile("testdata/palisade-66e8d91.conf")
	if err != nil {
		t.Fatal(err)
	}
	oldConf := func(s string) string {
		if strings.Contains(s, "part 2 of 2, FAIL-OPEN") {
			return string(old)
		}
		return s
	}
	asShipped := func(s string) string { return s }
	for _, extra := range []string{
		"proxy_ignore_headers Cache-Control Expires;",
		"proxy_cache_valid 200 1s; proxy_ignore_headers Cache-Control Expires Set-Cookie;",
	} {
		for _, c := range []struct {
			name string
			edit func(string) string
		}{{"today's palisade.conf", asShipped}, {"the palisade.conf of 66e8d91", oldConf}} {
			if code, body, code2, body2 := siteCacheShares(t, extra, c.edit); code != 403 || code2 != 403 {
				t.Errorf("%s with %q in the server {}: sqlmap after one browser's grant for /page: /page %d %.40q, /wp-admin/elsewhere %d %.40q; want 403 for both", c.name, extra, code, body, code2, body2)
			}
		}
	}
}

// TestFixed_GrantCacheUncountedRequests (was TestFinding_…, its nginx
// part): ten requests of one browser for a stylesheet are all counted in
// the website's statistics, through palisade.conf as shipped (no cache:
// each decided) and through a static-file location with
// palisade-static.conf, where nginx answers nine from the grant cache and
// reports each to the reuse report file (palisade serve --reuse-file).
func TestFixed_GrantCacheUncountedRequests(t *testing.T) {
	pal := testenv.New(t)
	pal.Protector.Engine.SetGrantCache(engine.DefaultGrantCache) // palisade serve's default
	plain := pal.Website(t, "count.example.com", remoteVisitors(engine.Settings{}))
	static := pal.Website(t, "static.example.com", remoteVisitors(engine.Settings{}))
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "body{}") }))
	defer backend.Close()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "style.css"), []byte("body{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	reports := reuselog.New(pal.Protector.Engine, pal.Recorder, nil, nil)
	reportFile := filepath.Join(t.TempDir(), "reuse.log")
	fr, err := reports.OpenFile(reportFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { fr.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	port, staticPort := freePort(t), freePort(t)
	staticServer := fmt.Sprintf(`
    server {
        listen 127.0.0.1:%d;
        server_name static.example.com;
        set $palisade_key "%s";
        include PALISADE_CONF/palisade.conf;
        location ~* \.(?:css|js|png)$ {
            include PALISADE_CONF/palisade-static.conf;
            root %s;
            try_files $uri =404;
        }
        location / { proxy_pass %s; proxy_set_header Host $host; }
    }`, staticPort, static.ServerKey, root, backend.URL)
	startNginxFor(t, pal.Addr, nginxServer(port, "count.example.com", plain.ServerKey, "palisade.conf", backend.URL)+staticServer,
		func(s string) string { return strings.ReplaceAll(s, reuseFile, reportFile) })
	const n = 10
	for _, c := range []struct {
		host string
		port int
	}{{"count.example.com", port}, {"static.example.com", staticPort}} {
		addr := fmt.Sprintf("127.0.0.1:%d", c.port)
		waitUp(t, addr)
		for i := 0; i < n; i++ {
			if code, body := get(t, addr, c.host, "/style.css", ""); code != 200 || body != "body{}" {
				t.Fatalf("%s: request %d: %d %q", c.host, i, code, body)
			}
		}
	}
	counted := func(domain string) int64 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		pal.Recorder.Flush(ctx)
		now := pal.Clock.Now()
		pts, err := pal.Service.Stats(ctx, pal.Caller, domain, "minute", now.Add(-time.Hour), now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		var c int64
		for _, p := range pts {
			c += p.Count
		}
		return c
	}
	// The reports come within nginx's flush second: wait (bounded) for them.
	deadline := time.Now().Add(10 * time.Second)
	for counted("static.example.com") < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	for _, d := range []string{"count.example.com", "static.example.com"} {
		if got := counted(d); got != n {
			t.Errorf("%s: %d requests served through nginx, %d counted in the website's statistics (its plan's monthly requests)", d, n, got)
		}
	}
	if s := reports.Stats(); s.Requests != n-1 {
		t.Errorf("reuse reports: %+v, want %d reused grants (the first was decided)", s, n-1)
	}
}
