package deploy_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/palisadehq/palisade/internal/api/reuselog"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// moduleIndex is the static file the Apache of TestApacheModule serves.
const moduleIndex = "<!doctype html><title>site</title><p id=content>hello from apache</p>\n"

// TestApacheModule builds deploy/apache/mod_palisade with apxs and runs it
// in a real Apache httpd 2.4 (Debian's), with mpm_event and mpm_prefork,
// configured by deploy/apache/palisade-module.conf, against a real
// Palisade: the cases of TestApacheFastCGI (browser served, bad bot denied
// with Palisade's page, curl challenged and solving the challenge, the
// redirect rule, forged headers, fail-open, fail-closed, protection back
// after Palisade restarts) plus what only the module does: keep-alive
// connections to Palisade, reconnecting after a restart without a failed
// request, a fail mode learned from Palisade or pinned in the vhost, and an
// unknown key served as unreachable.
func TestApacheModule(t *testing.T) {
	apache := testenv.NeedBinary(t, "apache2", "/usr/sbin/apache2")
	so := buildApacheModule(t)
	for _, mpm := range []string{"event", "prefork"} {
		t.Run(mpm, func(t *testing.T) { testApacheModule(t, apache, so, mpm) })
	}
}

func testApacheModule(t *testing.T, apache, so, mpm string) {
	pal := testenv.New(t)
	open := pal.Website(t, "open.example.com", remoteVisitors(engine.Settings{Rules: []engine.Rule{
		{Name: "Moved", Action: "redirect", Location: "https://moved.example.test/", Conditions: []engine.Condition{{Field: "path", Op: "is", Value: "/old"}}}}}))
	closed := pal.Website(t, "closed.example.com", remoteVisitors(engine.Settings{FailMode: "closed"}))
	guarded := pal.Website(t, "guarded.example.com", remoteVisitors(guardedSettings()))
	pinned := pal.Website(t, "pinned.example.com", remoteVisitors(engine.Settings{}))
	// The module's verdict requests go to a server of their own (the same
	// Palisade), which counts connections and can be stopped and started;
	// the challenge's endpoints (/_palisade/, through mod_proxy) to pal.
	watch := &verdictWatch{h: pal.Handler()}
	decisions := newCountedServer(t, watch)

	dir := t.TempDir()
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		_ = os.Chmod(d, 0o755) // Apache's children run as www-data when the test is root
	}
	docroot := filepath.Join(dir, "htdocs")
	for _, d := range []string{docroot, filepath.Join(dir, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(docroot, "index.html"), []byte(moduleIndex), 0o644); err != nil {
		t.Fatal(err)
	}
	shipped, err := os.ReadFile(filepath.Join("apache", "palisade-module.conf"))
	if err != nil {
		t.Fatal(err)
	}
	inc := string(shipped)
	for old, new := range map[string]string{
		"/usr/lib/apache2/modules/mod_palisade.so": so,
		"PalisadeURL http://127.0.0.1:8080":        "PalisadeURL http://" + decisions.addr,
		"http://127.0.0.1:8080/_palisade/":         "http://" + pal.Addr + "/_palisade/",
	} {
		if !strings.Contains(inc, old) {
			t.Fatalf("palisade-module.conf no longer has %q", old)
		}
		inc = strings.ReplaceAll(inc, old, new)
	}
	if err := os.WriteFile(filepath.Join(dir, "palisade-module.conf"), []byte(inc), 0o644); err != nil {
		t.Fatal(err)
	}

	port := freePort(t)
	mods := "/usr/lib/apache2/modules"
	var load strings.Builder
	for _, m := range []string{"mpm_" + mpm, "authz_core", "mime", "dir", "headers", "proxy", "proxy_http"} {
		fmt.Fprintf(&load, "LoadModule %s_module %s/mod_%s.so\n", m, mods, m)
	}
	if mpm == "event" {
		load.WriteString("StartServers 2\nServerLimit 2\nThreadsPerChild 8\nMaxRequestWorkers 16\nMinSpareThreads 8\nMaxSpareThreads 16\n")
	} else {
		load.WriteString("StartServers 3\nMinSpareServers 3\nMaxSpareServers 4\nMaxRequestWorkers 4\n")
	}
	if os.Geteuid() == 0 {
		load.WriteString("User www-data\nGroup www-data\n")
	}
	vhost := func(name, key, extra string) string {
		return fmt.Sprintf("<VirtualHost 127.0.0.1:%d>\n    ServerName %s\n    DocumentRoot %s\n    Palisade On\n    PalisadeKey %s\n%s</VirtualHost>\n",
			port, name, docroot, key, extra)
	}
	cfg := fmt.Sprintf(`ServerRoot %[1]s
PidFile %[1]s/httpd.pid
Listen 127.0.0.1:%[2]d
ServerName localhost
%[3]sErrorLog %[1]s/logs/error.log
LogLevel warn
TypesConfig /etc/mime.types
DocumentRoot %[4]s
DirectoryIndex index.html
Include %[1]s/palisade-module.conf
%[5]s`, dir, port, load.String(), docroot,
		vhost("open.example.com", open.ServerKey, "")+
			vhost("closed.example.com", closed.ServerKey, "")+
			vhost("guarded.example.com", guarded.ServerKey, "")+
			vhost("pinned.example.com", pinned.ServerKey, "    PalisadeFailMode closed\n")+
			vhost("unknownkey.example.com", "sk_not_a_key_palisade_knows", "")+
			fmt.Sprintf("<VirtualHost 127.0.0.1:%d>\n    ServerName unprotected.example.com\n    DocumentRoot %s\n</VirtualHost>\n", port, docroot))
	// Reused grants are reported here (Palisade's --reuse-addr stands in).
	reports := newReuseListener(t, reuselog.New(pal.Protector.Engine, pal.Recorder, nil, nil))
	cfg += "PalisadeReuseReport " + reports.addr() + "\n"
	cfgPath := filepath.Join(dir, "httpd.conf")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	gracefulStop := runApache(t, apache, cfgPath, filepath.Join(dir, "logs", "error.log"))

	get := webGetter(port)
	get.waitUp(t, "open.example.com", "Apache")
	// Palisade's first verdicts can take longer than the module's 300 ms
	// (a cold engine, or the race detector's slowdown); wait until they
	// come in time, so that a first verdict that ran late and failed open
	// is not taken for a wrong one.
	get.waitCode(t, "open.example.com", "/", "sqlmap/1.7.2#stable", 403, "Palisade's verdicts in time")
	server := "Apache mod_palisade (" + mpm + ")"

	// The verdicts, as through mod_authnz_fcgi.
	get.checkVerdicts(t, server, "/", func(string) string { return moduleIndex }, "open.example.com", "closed.example.com", "pinned.example.com")
	checkForgedHeaders(t, server, webHeaderGetter(port), "guarded.example.com")
	checkNoSpellingServed(t, server, port, "guarded.example.com")
	// Another site's key, sent by the visitor with the path it would like
	// judged, is not the vhost's: /admin stays denied.
	if code, _ := webHeaderGetter(port)("guarded.example.com", "/admin/secret", chromeUA,
		map[string]string{"X-Palisade-Key": open.ServerKey, "X-Original-Uri": "/", "X-Real-IP": allowListed}); code != 403 {
		t.Fatalf("%s: /admin/secret with a forged X-Palisade-Key, X-Original-Uri and X-Real-IP: %d, want 403", server, code)
	}
	// The page comes with the headers Palisade set for it; Palisade's own
	// X-Palisade-* stay between Palisade and Apache.
	code, body, h := get("open.example.com", "/", "curl/8.5.0")
	if code != 403 || !strings.Contains(body, "Checking your browser") || h.Get("Content-Security-Policy") == "" ||
		!strings.HasPrefix(h.Get("Content-Type"), "text/html") || h.Get("Cache-Control") == "" || h.Get("X-Palisade-Fail-Mode") != "" || h.Get("X-Palisade-Action") != "" {
		t.Fatalf("%s: challenge page: %d %v", server, code, h)
	}
	// A vhost without Palisade On is not asked about; one whose key Palisade
	// does not know is served (Palisade answers 500: as if unreachable).
	if code, body, _ := get("unprotected.example.com", "/", "sqlmap/1.7.2#stable"); code != 200 || body != moduleIndex {
		t.Fatalf("%s: a vhost without Palisade: %d %q", server, code, body)
	}
	if code, body, _ := get("unknownkey.example.com", "/", "sqlmap/1.7.2#stable"); code != 200 || body != moduleIndex {
		t.Fatalf("%s: a vhost with an unknown key (fail-open): %d %q", server, code, body)
	}

	// A script solves the challenge through Apache; its clearance cookie
	// then lets it through.
	jar, _ := cookiejar.New(nil)
	solver := &http.Client{Timeout: 5 * time.Second, Jar: jar, Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, fmt.Sprintf("127.0.0.1:%d", port))
	}}}
	origin := fmt.Sprintf("http://open.example.com:%d", port)
	if code, body := solveChallenge(t, solver, origin, "/", "curl/8.5.0"); code != 200 || body != moduleIndex {
		t.Fatalf("%s: after solving the challenge: %d %q", server, code, body)
	}

	// Keep-alive: 200 requests of one visitor (on one connection to
	// Apache) take a handful of connections to Palisade, not 200.
	before := decisions.accepted.Load()
	for i := 0; i < 200; i++ {
		if code, _, _ := get("open.example.com", fmt.Sprintf("/?n=%d", i), chromeUA); code != 200 {
			t.Fatalf("%s: request %d: %d", server, i, code)
		}
	}
	if decisions.accepted.Load() == 0 {
		t.Fatalf("%s: no connection to Palisade counted at all", server)
	}
	if n := decisions.accepted.Load() - before; n > 8 {
		t.Fatalf("%s: 200 requests opened %d connections to Palisade; want them kept alive", server, n)
	} else {
		t.Logf("%s: 200 requests, %d new connections to Palisade", server, n)
	}

	checkModuleGrantCache(t, server, port, watch)
	checkModuleReuseReports(t, server, pal, port, watch, reports, open.ServerKey)

	// Palisade restarts between two requests: the idle connections are
	// dead, the module finds out and reconnects within the same request.
	decisions.stop()
	decisions.start(t)
	for i := 0; i < 6; i++ { // prefork: each process meets its own dead connection
		if code, _, _ := get("open.example.com", "/", "sqlmap/1.7.2#stable"); code != 403 {
			t.Fatalf("%s: a bad bot right after Palisade restarted (request %d): %d, want 403", server, i+1, code)
		}
	}

	// Palisade too slow (every verdict held 2 s, PalisadeTimeout is 300
	// ms): a bad bot on the fail-open site is served unjudged, the
	// fail-closed sites refuse.
	watch.stall.Store(int64(2 * time.Second))
	if code, body, _ := get("open.example.com", "/", "sqlmap/1.7.2#stable"); code != 200 || body != moduleIndex {
		t.Fatalf("%s: fail-open while Palisade does not answer in time: %d %q", server, code, body)
	}
	// (A path of its own: Palisade marks a browser's grant reusable, and a
	// grant the module holds is served for its lifetime whatever happens.)
	if code, _, _ := get("closed.example.com", "/?stalled", chromeUA); code != 503 {
		t.Fatalf("%s: fail-closed while Palisade does not answer in time: %d", server, code)
	}
	watch.stall.Store(0)
	get.waitCode(t, "open.example.com", "/", "sqlmap/1.7.2#stable", 403, "protection when Palisade answers in time again")

	// Palisade down: the fail-open site serves; the site set fail-closed in
	// Palisade (learned from its answers, by every Apache process) and the
	// one pinned closed in its vhost answer 503.
	decisions.stop()
	for i := 0; i < 4; i++ {
		if code, body, _ := get("open.example.com", "/", "sqlmap/1.7.2#stable"); code != 200 || body != moduleIndex {
			t.Fatalf("%s: fail-open while Palisade is down: %d %q", server, code, body)
		}
		for _, host := range []string{"closed.example.com", "pinned.example.com"} {
			if code, body, _ := get(host, fmt.Sprintf("/?down=%d", i), chromeUA); code != 503 || strings.Contains(body, "hello") {
				t.Fatalf("%s: %s (fail-closed) while Palisade is down: %d %q", server, host, code, body)
			}
		}
	}
	decisions.start(t)
	get.waitCode(t, "open.example.com", "/", "sqlmap/1.7.2#stable", 403, "protection after Palisade restarted")
	if code, body, _ := get("closed.example.com", "/", chromeUA); code != 200 || body != moduleIndex {
		t.Fatalf("%s: fail-closed site once Palisade is back: %d %q", server, code, body)
	}

	if mpm == "event" {
		browserThroughApacheModule(t, pal, port)
	}

	// A graceful stop right after reused grants: each process reports what
	// it has left as it exits, so none is lost.
	reports.quiet(t)
	start := countedRequests(t, pal, "open.example.com")
	asked, want := reuseBurst(t, server, port, watch, "/?reuse=stop", 40)
	gracefulStop()
	if got := reports.quiet(t); len(got) != 1 || got[open.ServerKey+" humans"] != want {
		t.Fatalf("%s: %d requests, %d asked of Palisade, then a graceful stop: reported %v, want exactly %d for %s humans",
			server, 40, asked, got, want, open.ServerKey)
	}
	if got := countedRequests(t, pal, "open.example.com") - start; got != 40 {
		t.Fatalf("%s: 40 requests (%d asked, %d reused), then a graceful stop: %d counted in the website's statistics", server, asked, want, got)
	}
}

// reuseBurst sends n identical requests of a browser (whose grant Palisade
// says may be reused) over 4 connections at a time, each request on a new
// connection so that they reach every Apache process, and returns how many
// Palisade was asked about and how many were answered from the module's
// cache.
func reuseBurst(t *testing.T, server string, port int, watch *verdictWatch, path string, n int) (asked, reused int64) {
	t.Helper()
	before := watch.asks.Load()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	errs := make(chan string, n)
	work := make(chan int, n)
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
				req.Host = "open.example.com"
				testenv.AsBrowser(req, chromeUA)
				resp, err := client.Do(req)
				if err != nil {
					errs <- fmt.Sprintf("request %d: %v", i, err)
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(b) != moduleIndex {
					errs <- fmt.Sprintf("request %d: %d %q", i, resp.StatusCode, b)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatalf("%s: %s %s", server, path, e)
	}
	asked = watch.asks.Load() - before
	said, _ := watch.lastCache.Load().(string)
	if said == "" || said == "0" {
		t.Fatalf("%s: Palisade answered X-Palisade-Cache: %q for a browser; want a reusable grant", server, said)
	}
	if asked*2 > int64(n) {
		t.Fatalf("%s: %d identical requests asked Palisade %d times: the grant was hardly reused", server, n, asked)
	}
	return asked, int64(n) - asked
}

// browserThroughApacheModule: headless Chromium (its user agent says
// HeadlessChrome, which is challenged) opens a page behind the module,
// solves the proof of work and lands on the page.
func browserThroughApacheModule(t *testing.T, pal *testenv.Stack, port int) {
	chromium := testenv.NeedBinary(t, "chromium", "/usr/bin/chromium")
	ctx := newBrowser(t, chromium)
	base := fmt.Sprintf("http://open.example.com:%d", port)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`#content`))); err != nil {
		t.Fatalf("browser: %v", err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#content`)))
	if err != nil {
		t.Fatal(err)
	}
	if text != "hello from apache" {
		t.Fatalf("browser landed on %q", text)
	}
	solved := solvedChallenges(t, pal, "open.example.com")
	// One by the script above, one by the browser.
	if solved < 2 {
		t.Fatalf("the browser was not challenged and did not solve: %d solves in the events", solved)
	}
}

// checkModuleGrantCache: the module reuses a grant only when Palisade says
// it may (X-Palisade-Cache), and only for a request Palisade would see
// exactly as the one it granted.
func checkModuleGrantCache(t *testing.T, server string, port int, watch *verdictWatch) {
	t.Helper()
	get := webHeaderGetter(port)
	asks := func(path string, hd map[string]string, n int) int64 {
		t.Helper()
		before := watch.asks.Load()
		for i := 0; i < n; i++ {
			if code, body := get("open.example.com", path, chromeUA, hd); code != 200 || body != moduleIndex {
				t.Fatalf("%s: %s: %d %q", server, path, code, body)
			}
		}
		return watch.asks.Load() - before
	}
	// What Palisade says of this grant today: every request is asked
	// unless it says the grant may be reused.
	asks("/?cache=palisade", nil, 1)
	said, _ := watch.lastCache.Load().(string)
	t.Logf("%s: Palisade says X-Palisade-Cache: %q for a browser's grant on /forward-auth/apache", server, said)
	if said == "" || said == "0" {
		if n := asks("/?cache=palisade", nil, 20); n != 20 {
			t.Fatalf("%s: Palisade said X-Palisade-Cache: %q, yet 20 requests asked it %d times", server, said, n)
		}
	} else if n := asks("/?cache=palisade", nil, 20); n > 4 {
		t.Fatalf("%s: Palisade said X-Palisade-Cache: %s, yet 20 requests asked it %d times", server, said, n)
	}
	// A cacheable grant (the stand-in says so, as Palisade does for one):
	// the same request again is answered from the cache (at most once per
	// Apache process asked); anything Palisade would see differently (a
	// header more, another value, another path) is asked.
	watch.standIn.Store(true)
	defer watch.standIn.Store(false)
	if n := asks("/?cache=module", nil, 1); n != 1 {
		t.Fatalf("%s: the first request asked Palisade %d times", server, n)
	}
	if n := asks("/?cache=module", nil, 20); n > 4 {
		t.Fatalf("%s: a cacheable grant: 20 more requests asked Palisade %d times", server, n)
	}
	for _, c := range []struct {
		path string
		hd   map[string]string
	}{
		{"/?cache=module", map[string]string{"X-Extra": "1' OR '1'='1"}},
		{"/?cache=module", map[string]string{"Accept-Language": "de"}},
		{"/?cache=module", map[string]string{"Cookie": "a=b"}},
		{"/?cache=other", nil},
	} {
		if n := asks(c.path, c.hd, 1); n != 1 {
			t.Fatalf("%s: %s with %v after a cached grant asked Palisade %d times, want 1", server, c.path, c.hd, n)
		}
	}
}

// checkModuleReuseReports: every request the module answers from its grant
// cache is reported to Palisade (PalisadeReuseReport), under the site's
// server key and the reused grant's reason, so that Palisade counts it;
// nothing is reported when Palisade says a grant may not be reused.
func checkModuleReuseReports(t *testing.T, server string, pal *testenv.Stack, port int, watch *verdictWatch, reports *reuseListener, key string) {
	t.Helper()
	get := webHeaderGetter(port)
	if old := reports.quiet(t); len(old) > 0 {
		t.Logf("%s: reused grants reported before: %v", server, old)
	}
	start := countedRequests(t, pal, "open.example.com")
	const n = 60
	asked, want := reuseBurst(t, server, port, watch, "/?reuse=reported", n)
	reason, _ := watch.lastReason.Load().(string)
	if reason != "humans" {
		t.Fatalf("%s: Palisade's reason for a browser's grant: %q, want humans", server, reason)
	}
	// The reports come within about a second of the requests (a thread in
	// each process); wait for all of them, then make sure no more come.
	deadline := time.Now().Add(15 * time.Second)
	for {
		sums, bad := reports.snapshot()
		if len(bad) > 0 {
			t.Fatalf("%s: report lines not in the wire format: %q", server, bad)
		}
		if sums[key+" "+reason] >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := reports.quiet(t) // and no report may still be on its way
	if len(got) != 1 || got[key+" "+reason] != want {
		t.Fatalf("%s: %d requests, %d asked of Palisade: reported %v, want exactly {%q: %d}",
			server, n, asked, got, key+" "+reason, want)
	}
	t.Logf("%s: %d requests, %d asked of Palisade, %d reported as reused (%s %s)", server, n, asked, want, key, reason)
	// End to end: Palisade (reuselog into its recorder) counts every one of
	// the requests in the website's statistics, asked or reused.
	if got := countedRequests(t, pal, "open.example.com") - start; got != n {
		t.Fatalf("%s: %d requests (%d asked of Palisade, %d reused and reported), %d counted in the website's statistics", server, n, asked, want, got)
	}
	if s := reports.pal.Stats(); s.UnknownKey+s.UnknownReason+s.BadLine+s.RefusedPeer+s.Oversize != 0 {
		t.Fatalf("%s: Palisade's reuse listener refused reports: %+v", server, s)
	}

	// Palisade says a grant may not be reused: every request is asked, and
	// nothing is reported.
	watch.noReuse.Store(true)
	defer watch.noReuse.Store(false)
	before := watch.asks.Load()
	for i := 0; i < 20; i++ {
		if code, body := get("open.example.com", "/?reuse=off", chromeUA, nil); code != 200 || body != moduleIndex {
			t.Fatalf("%s: request %d without reuse: %d %q", server, i, code, body)
		}
	}
	if asked := watch.asks.Load() - before; asked != 20 {
		t.Fatalf("%s: X-Palisade-Cache: 0, yet 20 requests asked Palisade %d times", server, asked)
	}
	time.Sleep(2 * time.Second) // more than a report's period
	if got := reports.quiet(t); len(got) != 0 {
		t.Fatalf("%s: grants Palisade said not to reuse were reported as reused: %v", server, got)
	}
}
