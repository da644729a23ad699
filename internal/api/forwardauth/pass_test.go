package forwardauth_test

import (
	"crypto/md5"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestAssetPass: /forward-auth/nginx says its grants judged every header
// (X-Palisade-Granted: all) and hands a granted browser a pass
// (X-Palisade-Pass, the Set-Cookie palisade.conf adds) whose hash is
// nginx's secure_link_md5 of palisade-static.conf's expression, over
// exactly the values nginx's variables give; and no pass to anyone else:
// a refused visitor, another endpoint, a client address Palisade does not
// believe (not from a --web-server peer) or not in nginx's own spelling,
// a request without X-Original-Host or with two user agents, a website
// with a rate limit, a custom rule or the grant cache off.
func TestAssetPass(t *testing.T) {
	pal := testenv.New(t)
	pal.Protector.Engine.SetGrantCache(engine.DefaultGrantCache)
	w := pal.Website(t, "shop.example.com", engine.Settings{Builtins: map[string]bool{"self_calls": false}})
	limited := pal.Website(t, "limited.example.com", engine.Settings{Builtins: map[string]bool{"self_calls": false},
		RateLimits: []engine.RateLimit{{Name: "All", Requests: 100, Period: "1m", Action: "deny"}}})
	ruled := pal.Website(t, "ruled.example.com", engine.Settings{Builtins: map[string]bool{"self_calls": false},
		Rules: []engine.Rule{{Name: "Private", Action: "deny", Conditions: []engine.Condition{{Field: "path", Op: "is", Value: "/private.pdf"}}}}})
	type req struct {
		path, key, host, ip, peer, ua string
		edit                          func(*http.Request)
	}
	ask := func(r req) http.Header {
		t.Helper()
		hr := httptest.NewRequest("GET", r.path, nil)
		hr.RemoteAddr = r.peer + ":5555"
		hr.Header.Set("X-Palisade-Key", r.key)
		hr.Header.Set("X-Original-Uri", "/shop")
		hr.Header.Set("X-Original-Method", "GET")
		if r.host != "" {
			hr.Header.Set("X-Original-Host", r.host)
		}
		hr.Header.Set("X-Original-Protocol", "HTTP/1.1")
		hr.Header.Set("X-Real-Ip", r.ip)
		testenv.AsBrowser(hr, r.ua)
		if r.edit != nil {
			r.edit(hr)
		}
		rec := httptest.NewRecorder()
		pal.Handler().ServeHTTP(rec, hr)
		return rec.Header()
	}
	good := req{"/forward-auth/nginx", w.ServerKey, "shop.example.com", "203.0.113.9", "127.0.0.1", chromeUA, nil}
	now := pal.Protector.Engine.Now().Unix() // the engine's clock, which the pass's expiry is on
	set := ask(good).Get("X-Palisade-Pass")
	parts := strings.SplitN(strings.TrimPrefix(set, "palisade_pass="), ";", 2)
	f := strings.Split(parts[0], ".")
	if !strings.HasPrefix(set, "palisade_pass=") || len(parts) != 2 || parts[1] != " Path=/; Max-Age=5; HttpOnly; SameSite=Lax" || len(f) != 3 || f[2] != "humans" {
		t.Fatalf("a browser's pass: %q", set)
	}
	exp, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || exp < now+5 || exp > now+6 {
		t.Errorf("expires %q, want the engine clock's now (%d) + 5 s", f[1], now)
	}
	sum := md5.Sum([]byte(f[1] + " humans 203.0.113.9 shop.example.com " + chromeUA + " " + w.ServerKey))
	if f[0] != base64.RawURLEncoding.EncodeToString(sum[:]) {
		t.Errorf("hash %q is not secure_link_md5 of palisade-static.conf's expression", f[0])
	}

	// Only a grant of /forward-auth/nginx (every header judged) says so.
	if g := ask(good).Get("X-Palisade-Granted"); g != "all" {
		t.Errorf("a browser's grant on /forward-auth/nginx: X-Palisade-Granted %q, want all", g)
	}
	for _, r := range []req{{"/forward-auth/nginx-static", good.key, good.host, good.ip, good.peer, good.ua, nil},
		{good.path, good.key, good.host, good.ip, good.peer, "sqlmap/1.7", nil}, {good.path, good.key, good.host, good.ip, good.peer, "curl/8.5.0", nil}} {
		if g := ask(r).Get("X-Palisade-Granted"); g != "" {
			t.Errorf("%s as %s: X-Palisade-Granted %q, want none", r.path, r.ua, g)
		}
	}

	for what, r := range map[string]req{
		"sqlmap (denied)":                {good.path, good.key, good.host, good.ip, good.peer, "sqlmap/1.7", nil},
		"curl (challenged)":              {good.path, good.key, good.host, good.ip, good.peer, "curl/8.5.0", nil},
		"the static endpoint":            {"/forward-auth/nginx-static", good.key, good.host, good.ip, good.peer, good.ua, nil},
		"Caddy's endpoint":               {"/forward-auth/caddy", good.key, good.host, good.ip, good.peer, good.ua, nil},
		"an untrusted peer":              {good.path, good.key, good.host, good.ip, "198.51.100.7", good.ua, nil},
		"no X-Original-Host":             {good.path, good.key, "", good.ip, good.peer, good.ua, nil},
		"an address not in nginx's form": {good.path, good.key, good.host, "2001:DB8::1", good.peer, good.ua, nil},
		"two user agents":                {good.path, good.key, good.host, good.ip, good.peer, good.ua, func(r *http.Request) { r.Header.Add("User-Agent", "x") }},
		"a website with a rate limit":    {good.path, limited.ServerKey, "limited.example.com", good.ip, good.peer, good.ua, nil},
		"a website with a custom rule":   {good.path, ruled.ServerKey, "ruled.example.com", good.ip, good.peer, good.ua, nil},
		"a POST":                         {good.path, good.key, good.host, good.ip, good.peer, good.ua, func(r *http.Request) { r.Header.Set("X-Original-Method", "POST") }},
	} {
		h := ask(r)
		if p := h.Get("X-Palisade-Pass"); p != "" {
			t.Errorf("%s: pass %q (action %s)", what, p, h.Get("X-Palisade-Action"))
		}
	}
	pal.Protector.Engine.SetGrantCache(0)
	if p := ask(good).Get("X-Palisade-Pass"); p != "" {
		t.Errorf("with --grant-cache 0: pass %q", p)
	}
}
