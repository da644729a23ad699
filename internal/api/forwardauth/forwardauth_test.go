package forwardauth_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

const chromeUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// guarded denies /admin and lets 192.0.2.77 through everything.
func guarded() engine.Settings {
	return engine.Settings{
		Rules: []engine.Rule{{Name: "Admin", Action: "deny", Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/admin"}}}},
		Allow: []string{"192.0.2.77"},
	}
}

func ask(t *testing.T, url, key string, hd map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("X-Palisade-Key", key)
	testenv.AsBrowser(req, chromeUA)
	for k, v := range hd {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Palisade-Action")
}

// TestEachEndpointReadsOnlyItsContract is issue 16 item 3: each
// integration's endpoint reads the original request and the client from the
// headers its web server sets, never from another integration's headers
// (which that web server passes on from the visitor unchanged).
func TestEachEndpointReadsOnlyItsContract(t *testing.T) {
	e := testenv.New(t)
	w := e.Website(t, "shop.example.com", guarded())
	type call struct {
		path string
		hd   map[string]string
		want string // X-Palisade-Action
	}
	forwarded := func(uri, xff string, extra map[string]string) map[string]string {
		m := map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Uri": uri, "X-Forwarded-Host": "shop.example.com", "X-Forwarded-For": xff}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	original := func(uri, realIP string, extra map[string]string) map[string]string {
		m := map[string]string{"X-Original-Method": "GET", "X-Original-Uri": uri, "X-Original-Host": "shop.example.com", "X-Real-Ip": realIP}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	visitorPath := map[string]string{"X-Original-Uri": "/", "X-Original-Method": "GET"}
	visitorAddr := map[string]string{"X-Real-Ip": "192.0.2.77"}
	for _, c := range []call{
		// Caddy and Traefik: X-Forwarded-*; a visitor's X-Original-* and X-Real-IP are ignored.
		{"/forward-auth/caddy", forwarded("/admin/secret", "203.0.113.5", nil), "deny"},
		{"/forward-auth/caddy", forwarded("/admin/secret", "203.0.113.5", visitorPath), "deny"},
		{"/forward-auth/caddy", forwarded("/admin/secret", "203.0.113.5", visitorAddr), "deny"},
		{"/forward-auth/caddy", forwarded("/admin/secret", "192.0.2.77", nil), "grant"},             // the allow list works from X-Forwarded-For
		{"/forward-auth/caddy", forwarded("/admin/secret", "192.0.2.77, 203.0.113.5", nil), "deny"}, // right-most untrusted hop
		{"/forward-auth/traefik", forwarded("/admin/secret", "203.0.113.5", visitorPath), "deny"},
		{"/forward-auth/traefik", forwarded("/admin/secret", "203.0.113.5", visitorAddr), "deny"},
		{"/forward-auth/traefik", forwarded("/", "203.0.113.5", map[string]string{"X-Original-Uri": "/admin/x"}), "grant"},
		// nginx and the generic endpoint: X-Original-* and X-Real-IP; a visitor's X-Forwarded-* are ignored.
		{"/forward-auth/nginx", original("/admin/secret", "203.0.113.5", map[string]string{"X-Forwarded-Uri": "/"}), "deny"},
		{"/forward-auth/nginx", original("/admin/secret", "203.0.113.5", map[string]string{"X-Forwarded-For": "192.0.2.77"}), "deny"},
		{"/forward-auth/nginx", original("/admin/secret", "192.0.2.77", nil), "grant"},
		{"/forward-auth", original("/admin/secret", "203.0.113.5", map[string]string{"X-Forwarded-Uri": "/", "X-Forwarded-For": "192.0.2.77"}), "deny"},
		{"/forward-auth", original("/", "203.0.113.5", map[string]string{"X-Forwarded-Uri": "/admin/x"}), "grant"},
	} {
		if _, act := ask(t, e.URL+c.path, w.ServerKey, c.hd); act != c.want {
			t.Errorf("%s with %v: %q, want %q", c.path, c.hd, act, c.want)
		}
	}
	// nginx's endpoint always answers in auth_request's terms.
	if code, _ := ask(t, e.URL+"/forward-auth/nginx", w.ServerKey, original("/admin/secret", "203.0.113.5", nil)); code != 403 {
		t.Errorf("nginx deny: %d", code)
	}
	// A request the web server did not describe is not judged as "/": a
	// Caddy or Traefik configuration still calling /forward-auth, or nginx
	// calling Caddy's endpoint, is told so (500: the site's fail mode).
	for _, c := range []call{
		{"/forward-auth", forwarded("/admin/secret", "203.0.113.5", nil), ""},
		{"/forward-auth/caddy", original("/admin/secret", "203.0.113.5", nil), ""},
		{"/forward-auth/nginx", forwarded("/admin/secret", "203.0.113.5", nil), ""},
	} {
		if code, _ := ask(t, e.URL+c.path, w.ServerKey, c.hd); code != 500 {
			t.Errorf("%s without its URI header: %d, want 500", c.path, code)
		}
	}
}

// TestPathSpellingsEveryEndpoint: whatever spelling of /admin the web
// server passes on as the visitor sent it ($request_uri, {uri}), every
// endpoint judges the path the web server serves (issue 16 follow-up,
// finding 1).
func TestPathSpellingsEveryEndpoint(t *testing.T) {
	e := testenv.New(t)
	w := e.Website(t, "shop.example.com", guarded())
	for _, uri := range []string{"/admin/secret", "/%61dmin/secret", "//admin/secret", "/./admin/secret", "/x/../admin/secret?a=1", "/admin%2Fsecret", "/..;/admin", `/x\..\admin`} {
		for _, c := range []struct{ path, uriHeader, ipHeader string }{
			{"/forward-auth/nginx", "X-Original-Uri", "X-Real-Ip"},
			{"/forward-auth", "X-Original-Uri", "X-Real-Ip"},
			{"/forward-auth/caddy", "X-Forwarded-Uri", "X-Forwarded-For"},
			{"/forward-auth/traefik", "X-Forwarded-Uri", "X-Forwarded-For"},
		} {
			hd := map[string]string{c.uriHeader: uri, c.ipHeader: "203.0.113.5", "X-Original-Method": "GET", "X-Forwarded-Method": "GET"}
			if _, act := ask(t, e.URL+c.path, w.ServerKey, hd); act != "deny" {
				t.Errorf("%s, %s: %q, want deny", c.path, uri, act)
			}
		}
	}
}

// TestPageFetchedLaterShowsTheDecisionsRef: nginx and HAProxy get the
// verdict first and fetch the page from /forward-auth/page afterwards; the
// reference ID travels with the verdict (X-Palisade-Ref) and back, so the
// page shows the one stored with the event, and the reason in plain words.
func TestPageFetchedLaterShowsTheDecisionsRef(t *testing.T) {
	e := testenv.New(t)
	w := e.Website(t, "shop.example.com", guarded())
	req, _ := http.NewRequest("GET", e.URL+"/forward-auth/nginx", nil)
	req.Header.Set("X-Palisade-Key", w.ServerKey)
	for k, v := range map[string]string{"X-Original-Method": "GET", "X-Original-Uri": "/", "X-Original-Host": "shop.example.com", "X-Real-Ip": "203.0.113.5"} {
		req.Header.Set(k, v)
	}
	testenv.AsBrowser(req, "sqlmap/1.7")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ref, reason := resp.Header.Get("X-Palisade-Ref"), resp.Header.Get("X-Palisade-Reason")
	if resp.StatusCode != 403 || len(ref) != 10 {
		t.Fatalf("nginx deny: %d, ref %q", resp.StatusCode, ref)
	}
	page := func(ref string) string {
		req, _ := http.NewRequest("GET", e.URL+"/forward-auth/page", nil)
		for k, v := range map[string]string{"X-Palisade-Key": w.ServerKey, "X-Palisade-Action": "deny", "X-Palisade-Reason": reason, "X-Palisade-Ref": ref, "X-Original-Uri": "/"} {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	// sqlmap's user agent: the website firewall (CRS's scanner rules,
	// which run before the categories) or the category security_issues.
	want := "looked like an attack"
	if reason == "waf" {
		want = "firewall found something in your request that looks like an attack"
	}
	if body := page(ref); !strings.Contains(body, "<code>"+ref+"</code>") || !strings.Contains(body, want) {
		t.Fatalf("page for %s (%s):\n%s", ref, reason, body)
	}
	if body := page("<b>not a ref</b>"); strings.Contains(body, "<code>") || strings.Contains(body, "not a ref") {
		t.Fatalf("a malformed X-Palisade-Ref reached the page:\n%s", body)
	}
}

// TestSelfCallNeedsForwardedClient: a web server that sends its client's
// address tells Palisade who asked (Request.Server): a client on loopback
// is the site calling itself (built-in self_calls). Without the client's
// address every visitor would look like loopback, so then nothing is; nor
// when the headers show a proxy in front of the web server.
func TestSelfCallNeedsForwardedClient(t *testing.T) {
	e := testenv.New(t)
	w := e.Website(t, "shop.example.com", engine.Settings{})
	nginx := func(extra map[string]string) map[string]string {
		m := map[string]string{"X-Original-Method": "GET", "X-Original-Uri": "/wp-cron.php", "X-Original-Host": "shop.example.com", "User-Agent": "curl/8.5.0"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	for _, c := range []struct {
		hd   map[string]string
		want string
	}{
		{nginx(map[string]string{"X-Real-Ip": "127.0.0.1"}), "grant"},
		// A proxy in front of nginx that nginx does not take the client
		// from: loopback is that proxy, so nobody is the site itself.
		{nginx(map[string]string{"X-Real-Ip": "127.0.0.1", "Via": "1.1 front"}), "challenge"},
		{nginx(map[string]string{"X-Real-Ip": "127.0.0.1", "Forwarded": "for=198.51.100.7"}), "challenge"},
		{nginx(map[string]string{"X-Real-Ip": "127.0.0.1", "X-Forwarded-Proto": "https"}), "challenge"},
		{nginx(map[string]string{"X-Real-Ip": "203.0.113.5"}), "challenge"},
		{nginx(nil), "challenge"},
	} {
		if _, act := ask(t, e.URL+"/forward-auth/nginx", w.ServerKey, c.hd); act != c.want {
			t.Errorf("%v: %s; want %s", c.hd, act, c.want)
		}
	}
}
