package deploy_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// getter asks a web server on loopback for host's path as a browser with
// user agent ua would; code 0 means no answer.
type getter func(host, path, ua string) (code int, body string, h http.Header)

func webGetter(port int) getter {
	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return func(host, path, ua string) (int, string, http.Header) {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
		req.Host = host
		testenv.AsBrowser(req, ua)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error(), nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
}

// waitUp waits until the server answers for host at all.
func (get getter) waitUp(t *testing.T, host, server string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _, _ := get(host, "/", chromeUA); code != 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(server + " did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitCode waits until host's path answers want for user agent ua.
func (get getter) waitCode(t *testing.T, host, path, ua string, want int, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _, _ := get(host, path, ua)
		if code == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d, want %d", what, code, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkVerdicts asks server for each host of a site as a browser (path
// must answer 200 with body(host)), a bad bot (denied with Palisade's
// page), curl (challenged) and the challenge's worker script, then follows
// open.example.com's redirect rule for /old.
func (get getter) checkVerdicts(t *testing.T, server, path string, body func(host string) string, hosts ...string) {
	t.Helper()
	for _, host := range hosts {
		if code, b, _ := get(host, path, chromeUA); code != 200 || b != body(host) {
			t.Fatalf("%s, browser: %d %q", host, code, b)
		}
		// Palisade's deny page, with the verdict's reason in plain words and
		// its reference ID, carried through the web server to the page.
		// sqlmap's user agent meets the website firewall's scanner rules
		// (on by default, before the categories) or the category
		// security_issues.
		if code, b, _ := get(host, "/", "sqlmap/1.7.2#stable"); code != 403 || strings.Contains(b, "hello") || !(strings.Contains(b, "looked like an attack") || strings.Contains(b, "firewall found something in your request")) || !pageRef.MatchString(b) {
			t.Fatalf("%s, bad bot: %d %q", host, code, b)
		}
		if code, b, _ := get(host, "/", "curl/8.5.0"); code != 403 || !strings.Contains(b, "Checking your browser") {
			t.Fatalf("%s, challenge: %d %q", host, code, b)
		}
		if code, b, _ := get(host, "/_palisade/worker.js", chromeUA); code != 200 || !strings.Contains(b, "postMessage") {
			t.Fatalf("%s, challenge script through %s: %d %.80q", host, server, code, b)
		}
	}
	if code, _, h := get("open.example.com", "/old", chromeUA); code != 302 || h.Get("Location") != "https://moved.example.test/" {
		t.Fatalf("redirect: %d %v", code, h)
	}
}

// pageRef is a reference ID as a challenge or deny page shows it.
var pageRef = regexp.MustCompile(`<code>[A-Z2-7]{10}</code>`)

// allowListed is on the allow list of guardedSettings; the tests' real
// client (127.0.0.1) is not.
const allowListed = "192.0.2.77"

// guardedSettings protect a website the forged-header checks run against:
// /admin is denied, /login is limited to 3 requests a minute per client
// address, and allowListed passes everything.
func guardedSettings() engine.Settings {
	return engine.Settings{
		Rules:      []engine.Rule{{Name: "Admin", Action: "deny", Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/admin"}}}},
		RateLimits: []engine.RateLimit{{Name: "Login", PathPrefix: "/login", Requests: 3, Period: "1m", Action: "deny"}},
		Allow:      []string{allowListed},
	}
}

// headerGetter asks a web server on loopback for host's path as a browser
// with user agent ua that also sends the headers hd.
type headerGetter func(host, path, ua string, hd map[string]string) (code int, body string)

func webHeaderGetter(port int) headerGetter {
	return clientHeaderGetter(&http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, port)
}

// clientHeaderGetter is webHeaderGetter through client.
func clientHeaderGetter(client *http.Client, port int) headerGetter {
	return func(host, path, ua string, hd map[string]string) (int, string) {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
		req.Host = host
		testenv.AsBrowser(req, ua)
		for k, v := range hd {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}

// forgedHeaders are what a visitor might send to choose what Palisade
// judges: the request-describing headers of every integration's contract.
func forgedHeaders(uri, ip string) []map[string]string {
	path := map[string]string{
		"X-Original-Uri": uri, "X-Original-Method": "GET", "X-Original-Host": "elsewhere.example.net", "X-Original-Protocol": "HTTP/1.1",
		"X-Forwarded-Uri": uri, "X-Forwarded-Method": "GET", "X-Forwarded-Host": "elsewhere.example.net", "X-Forwarded-Proto": "https",
	}
	addr := map[string]string{"X-Real-Ip": ip, "X-Forwarded-For": ip, "X-Client-Ip": ip, "Forwarded": "for=" + ip}
	all := map[string]string{"X-Palisade-Mode": "nginx", "X-Palisade-Action": "grant"}
	for _, m := range []map[string]string{path, addr} {
		for k, v := range m {
			all[k] = v
		}
	}
	var out []map[string]string
	for k, v := range all {
		out = append(out, map[string]string{k: v})
	}
	return append(out, path, addr, all)
}

// checkForgedHeaders is issue 16 item 3 through a real web server: on a
// website with guardedSettings, a visitor's own X-Original-*,
// X-Forwarded-* and X-Real-IP change nothing: the path judged (/admin stays
// denied, / stays served), the client address (the allow list is not
// reached by naming an allow-listed address) and the rate limit (rotating
// the address does not escape it).
func checkForgedHeaders(t *testing.T, server string, get headerGetter, host string) {
	t.Helper()
	want := func(path, ua string, hd map[string]string, code int, what string) {
		t.Helper()
		got, body := get(host, path, ua, hd)
		if got != code {
			t.Fatalf("%s, %s %s with %v: %d, want %d (as without those headers)\n%.300s", server, what, path, hd, got, code, body)
		}
	}
	adminCode, _ := get(host, "/admin/secret", chromeUA, nil)
	if adminCode != 403 {
		t.Fatalf("%s: /admin/secret without forged headers: %d, want 403", server, adminCode)
	}
	okCode, _ := get(host, "/", chromeUA, nil)
	if okCode == 403 {
		t.Fatalf("%s: / refused without forged headers", server)
	}
	botCode, _ := get(host, "/", "sqlmap/1.7.2#stable", nil)
	if botCode != 403 {
		t.Fatalf("%s: sqlmap without forged headers: %d, want 403", server, botCode)
	}
	for _, hd := range forgedHeaders("/", allowListed) {
		want("/admin/secret", chromeUA, hd, adminCode, "a denied path")
		want("/", "sqlmap/1.7.2#stable", hd, botCode, "a bad bot naming an allow-listed address")
	}
	for _, hd := range forgedHeaders("/admin/secret", "198.51.100.9") {
		want("/", chromeUA, hd, okCode, "a served path")
	}
	// The rate limit: 3 a minute for the real client, whatever address it
	// names on each request.
	limited := 0
	for i := 0; i < 8; i++ {
		ip := fmt.Sprintf("198.51.100.%d", 10+i)
		code, _ := get(host, "/login", chromeUA, map[string]string{"X-Real-Ip": ip, "X-Forwarded-For": ip, "X-Original-Uri": "/", "X-Forwarded-Uri": "/"})
		if code == 403 {
			limited++
		} else if limited > 0 {
			t.Fatalf("%s: /login request %d answered %d after the rate limit denied", server, i+1, code)
		}
	}
	t.Logf("%s: admin %d ok %d bot %d limited %d", server, adminCode, okCode, botCode, limited)
	if limited < 4 {
		t.Fatalf("%s: rotating X-Real-IP / X-Forwarded-For escaped the rate limit: %d of 8 /login requests denied, want at least 4", server, limited)
	}
}

// remoteVisitors switches the built-in grant self_calls off: the tests'
// visitors connect from loopback, which to a web server on the same machine
// is the site calling itself; so that they are judged like visitors from
// elsewhere. TestSelfCallThroughNginx keeps it on.
func remoteVisitors(s engine.Settings) engine.Settings {
	if s.Builtins == nil {
		s.Builtins = map[string]bool{}
	}
	s.Builtins["self_calls"] = false
	return s
}

// solvedChallenges counts the challenges solved on domain's website that
// pal has recorded (its recorder flushed first).
func solvedChallenges(t *testing.T, pal *testenv.Stack, domain string) int {
	t.Helper()
	pal.Recorder.Flush(context.Background())
	evs, err := pal.Service.Events(context.Background(), pal.Caller, domain, core.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	solved := 0
	for _, e := range evs {
		if e.Action == "challenge_solved" {
			solved++
		}
	}
	return solved
}
