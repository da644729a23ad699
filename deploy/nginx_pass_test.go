package deploy_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// passCookie is the asset pass's Set-Cookie (forwardauth's pass.go).
var passCookie = regexp.MustCompile(`^palisade_pass=([A-Za-z0-9_-]{22})\.([0-9]+)\.([a-z_]+); Path=/; Max-Age=([0-9]+); HttpOnly; SameSite=Lax$`)

// passClient asks nginx on port from the local address ip with the
// browser's headers, ua and the extra headers hd, and returns the answer's
// status, body and palisade_pass Set-Cookie ("" if none).
func passClient(port int, ip string) func(host, path, ua string, hd map[string]string) (int, string, string) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return func(host, path, ua string, hd map[string]string) (int, string, string) {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
		req.Host = host
		testenv.AsBrowser(req, ua)
		for k, v := range hd {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error(), ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		pass := ""
		for _, c := range resp.Header.Values("Set-Cookie") {
			if strings.HasPrefix(c, "palisade_pass=") {
				pass = c
			}
		}
		return resp.StatusCode, string(b), pass
	}
}

// TestNginxAssetPass runs the shipped snippets in a real nginx: a page
// (palisade.conf) and files (palisade-static.conf), counting the verdict
// requests nginx makes to Palisade and the reuse reports it sends.
//   - a browser's granted page sets the pass cookie (HttpOnly, the grant
//     cache's lifetime); with it, the browser's files are served without
//     asking Palisade, and each is reported and counted;
//   - the pass holds for its client only: another user agent, client
//     address or host, an altered hash, expiry or reason, is asked about
//     as without it; a page is asked about with it;
//   - no pass for a challenged or denied visitor, nor on a website with a
//     rate limit;
//   - a deny rule reaches the holder of a pass within its lifetime;
//   - after an internal redirect (index) a request is asked about once.
//
// nginx checks a pass's expiry on its own clock, the real time: the stack's
// clock is moved to it (whatever PALISADE_TEST_NOW pinned).
func TestNginxAssetPass(t *testing.T) {
	nginx := testenv.NeedBinary(t, "nginx", "/usr/sbin/nginx")
	pal := testenv.New(t)
	pal.Clock.Advance(time.Until(pal.Clock.Now()) * -1)
	if d := pal.Clock.Now().Sub(time.Now()); d > time.Second || d < -time.Second {
		t.Fatalf("the stack's clock is %v off the real time", d)
	}
	pal.Protector.Engine.SetGrantCache(engine.MaxGrantCache)
	w := pal.Website(t, "pass.example.com", remoteVisitors(engine.Settings{}))
	limited := pal.Website(t, "limited.example.com", remoteVisitors(engine.Settings{
		RateLimits: []engine.RateLimit{{Name: "Everything", Requests: 100, Period: "1m", Action: "deny"}}}))
	site := httptest.NewServer(siteWithOwnRefusals())
	defer site.Close()
	root := staticFiles(t, "page.css", "app.js", "soon-denied.css", "docs/index.html")
	counter := &authCounter{to: pal.Addr, n: map[string]int{}}
	front := httptest.NewServer(counter)
	defer front.Close()

	reports, toReader := startReuseReader(t, pal, "file")
	ctx := context.Background()

	port := freePort(t)
	docs := fmt.Sprintf("include PALISADE_CONF/palisade-pass.conf;\n        location /docs/ { root %s; index index.html; }\n        location /twice/ { root %s; index missing.html; try_files $uri $uri/index.html /page.css; }", root, root)
	startNginxFor(t, nginx, strings.TrimPrefix(front.URL, "http://"),
		nginxStaticServer(port, "pass.example.com", w.ServerKey, "palisade.conf", root, site.URL, docs)+
			nginxStaticServer(port, "limited.example.com", limited.ServerKey, "palisade.conf", root, site.URL, "include PALISADE_CONF/palisade-pass.conf;"),
		toReader)
	webGetter(port).waitUp(t, "pass.example.com", "nginx")
	a, b := passClient(port, "127.0.0.1"), passClient(port, "127.0.0.2")
	asked := func(hostURI, ip, ua string, n int, what string) {
		t.Helper()
		if got := counter.count(hostURI, ip, ua); got != n {
			t.Errorf("%s: Palisade was asked %d times, want %d", what, got, n)
		}
	}
	file := func(get func(host, path, ua string, hd map[string]string) (int, string, string), host, path, ua, pass, what string) {
		t.Helper()
		code, body, _ := get(host, path, ua, map[string]string{"Cookie": "theme=dark; palisade_pass=" + pass})
		if code != 200 || body != "hello from "+path {
			t.Fatalf("%s: %d %.200q", what, code, body)
		}
	}

	// The page hands out a pass.
	code, body, set := a("pass.example.com", "/shop", chromeUA, nil)
	if code != 200 || body != "hello from pass.example.com/shop" {
		t.Fatalf("the page: %d %q", code, body)
	}
	m := passCookie.FindStringSubmatch(set)
	if m == nil {
		t.Fatalf("the page's pass: %q, want %s", set, passCookie)
	}
	if m[3] != "humans" || m[4] != "60" {
		t.Errorf("the pass's reason %q and Max-Age %s, want humans and the grant cache's 60 s", m[3], m[4])
	}
	pass := m[1] + "." + m[2] + "." + m[3]

	// With it, files are served without a verdict, each reported.
	statsBefore := reports.Stats()
	for i := 0; i < 5; i++ {
		file(a, "pass.example.com", "/page.css", chromeUA, pass, "a file with the pass")
		file(a, "pass.example.com", "/app.js", chromeUA, pass, "another file with the pass")
	}
	asked("pass.example.com/page.css", "127.0.0.1", chromeUA, 0, "ten files with the pass")
	asked("pass.example.com/app.js", "127.0.0.1", chromeUA, 0, "ten files with the pass")
	deadline := time.Now().Add(10 * time.Second)
	for reports.Stats().Counted-statsBefore.Counted < 10 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if s := reports.Stats(); s.Counted-statsBefore.Counted != 10 || s.UnknownKey+s.UnknownReason+s.BadLine+s.RefusedPeer+s.Oversize != 0 {
		t.Errorf("reuse reports of ten files served on the pass: %+v (before %+v)", s, statsBefore)
	}

	// Anyone else with the same cookie is asked about, as without it.
	file(a, "pass.example.com", "/page.css", firefoxUA, pass, "another user agent with the pass")
	asked("pass.example.com/page.css", "127.0.0.1", firefoxUA, 1, "another user agent with the pass")
	file(b, "pass.example.com", "/page.css", chromeUA, pass, "another address with the pass")
	asked("pass.example.com/page.css", "127.0.0.2", chromeUA, 1, "another address with the pass")
	file(a, "limited.example.com", "/page.css", chromeUA, pass, "another website with the pass")
	asked("limited.example.com/page.css", "127.0.0.1", chromeUA, 1, "another website with the pass")
	flipped := []byte(pass)
	if flipped[0] == 'A' {
		flipped[0] = 'B'
	} else {
		flipped[0] = 'A'
	}
	exp := m[1] + "." + m[2] + "9." + m[3]
	other := m[1] + "." + m[2] + ".verified_bots"
	for i, forged := range []string{string(flipped), exp, other, m[1] + "." + m[2], "x" + pass} {
		code, _, _ := a("pass.example.com", "/app.js", "sqlmap/1.7.2#stable", map[string]string{"Cookie": "palisade_pass=" + forged})
		if code != 403 {
			t.Errorf("sqlmap with altered pass %d (%q): %d, want 403", i, forged, code)
		}
		file(a, "pass.example.com", "/app.js", chromeUA, forged, "a browser with an altered pass")
	}
	asked("pass.example.com/app.js", "127.0.0.1", chromeUA, 5, "five altered passes")
	// sqlmap copying the browser's pass but not its user agent is asked
	// about and refused.
	if code, _, _ := b("pass.example.com", "/page.css", "sqlmap/1.7.2#stable", map[string]string{"Cookie": "palisade_pass=" + pass}); code != 403 {
		t.Errorf("sqlmap with a browser's pass: %d, want 403", code)
	}
	// A page is asked about, pass or not.
	if code, _, _ := a("pass.example.com", "/shop", chromeUA, map[string]string{"Cookie": "palisade_pass=" + pass}); code != 200 {
		t.Errorf("the page with the pass: %d", code)
	}
	asked("pass.example.com/shop", "127.0.0.1", chromeUA, 2, "two pages, the second with the pass")

	// No pass for a refused visitor, nor where a rate limit counts
	// every request.
	for _, ua := range []string{"curl/8.5.0", "sqlmap/1.7.2#stable"} {
		if code, _, set := a("pass.example.com", "/shop", ua, nil); code != 403 || set != "" {
			t.Errorf("%s on the page: %d, pass %q; want 403 and none", ua, code, set)
		}
	}
	if code, _, set := a("limited.example.com", "/shop", chromeUA, nil); code != 200 || set != "" {
		t.Errorf("a rate-limited website's page: %d, pass %q; want 200 and none", code, set)
	}

	// Asked once for a request nginx redirects internally (index).
	// The page's pass survives the redirect: the second check, answered in
	// nginx, keeps the first verdict's cookie.
	if code, body, set := a("pass.example.com", "/docs/", chromeUA, nil); code != 200 || body != "hello from /docs/index.html" || !passCookie.MatchString(set) {
		t.Errorf("/docs/ (index): %d %q, pass %q", code, body, set)
	}
	asked("pass.example.com/docs/", "127.0.0.1", chromeUA, 1, "/docs/, redirected to its index")
	// Two redirects (index, then try_files to a file of a static location):
	// asked once, and the pass still set.
	if code, body, set := a("pass.example.com", "/twice/", chromeUA, nil); code != 200 || body != "hello from /page.css" || !passCookie.MatchString(set) {
		t.Errorf("/twice/ (index, then try_files): %d %q, pass %q", code, body, set)
	}
	asked("pass.example.com/twice/", "127.0.0.1", chromeUA, 1, "/twice/, redirected twice")
	if code, _, _ := a("pass.example.com", "/docs/", "sqlmap/1.7.2#stable", nil); code != 403 {
		t.Errorf("sqlmap on /docs/: %d, want 403", code)
	}

	// A deny list entry reaches the holder of a pass within its lifetime;
	// a website with a custom rule (it may read the path) hands out none.
	pal.Protector.Engine.SetGrantCache(time.Second)
	_, _, set = b("pass.example.com", "/shop", chromeUA, nil)
	m = passCookie.FindStringSubmatch(set)
	if m == nil || m[4] != "1" {
		t.Fatalf("the page's pass with a 1 s lifetime: %q", set)
	}
	short := m[1] + "." + m[2] + "." + m[3]
	file(b, "pass.example.com", "/soon-denied.css", chromeUA, short, "the short pass")
	asked("pass.example.com/soon-denied.css", "127.0.0.2", chromeUA, 0, "the short pass")
	st := remoteVisitors(engine.Settings{Deny: []string{"127.0.0.2"}})
	if _, err := pal.Service.UpdateWebsiteSettings(ctx, pal.Caller, "pass.example.com", st, core.Match{}); err != nil {
		t.Fatal(err)
	}
	if err := pal.Protector.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	// Bound: the lifetime, and slack for a loaded machine.
	deadline = time.Now().Add(10 * time.Second)
	for {
		code, _, _ := b("pass.example.com", "/soon-denied.css", chromeUA, map[string]string{"Cookie": "palisade_pass=" + short})
		if code == 403 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a deny list entry did not reach a pass of 1 s within 10 s: %d", code)
		}
		time.Sleep(100 * time.Millisecond)
	}
	st = remoteVisitors(engine.Settings{Rules: []engine.Rule{{Name: "Private", Action: "deny", Conditions: []engine.Condition{{Field: "path", Op: "is", Value: "/soon-denied.css"}}}}})
	if _, err := pal.Service.UpdateWebsiteSettings(ctx, pal.Caller, "pass.example.com", st, core.Match{}); err != nil {
		t.Fatal(err)
	}
	if err := pal.Protector.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if code, _, set := a("pass.example.com", "/shop", chromeUA, nil); code != 200 || set != "" {
		t.Errorf("the page of a website with a custom rule: %d, pass %q; want 200 and none", code, set)
	}
	time.Sleep(1100 * time.Millisecond) // the 1 s passes run out
	if code, _, _ := a("pass.example.com", "/soon-denied.css", chromeUA, nil); code != 403 {
		t.Errorf("a file a rule denies: %d, want 403", code)
	}
	if n := counter.endpoint("/forward-auth/nginx-static"); n == 0 {
		t.Error("the static location never asked /forward-auth/nginx-static")
	}
}
