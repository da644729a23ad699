package forwardauth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestOnlyTheStaticEndpointMarksGrantsReusable: /forward-auth/nginx, which
// the default palisade.conf asks with every header and without a cache,
// answers every verdict X-Accel-Expires: 0 (so nginx never caches it, even
// under a micro-cache its auth location inherits with proxy_ignore_headers
// Cache-Control Expires) and Cache-Control: no-store. Only
// /forward-auth/nginx-static (palisade-static.conf) marks a cacheable
// grant reusable, and only one whose reason is a category, the only reason
// a reuse report can be counted under: a rule's or an allow list's grant
// is asked each time. /forward-auth/apache (mod_palisade's own cache, which
// reports its reuses the same way) likewise.
func TestOnlyTheStaticEndpointMarksGrantsReusable(t *testing.T) {
	pal := testenv.New(t)
	pal.Protector.Engine.SetGrantCache(engine.DefaultGrantCache)
	st := engine.Settings{Builtins: map[string]bool{"self_calls": false}, Allow: []string{"192.0.2.77"},
		Rules: []engine.Rule{{Name: "Free pass", Action: "grant", Conditions: []engine.Condition{{Field: "path", Op: "is", Value: "/free"}}}}}
	w := pal.Website(t, "shop.example.com", st)
	answer := func(path, uri, ip, ua string) http.Header {
		t.Helper()
		req := httptest.NewRequest("GET", path, nil)
		req.RemoteAddr = "127.0.0.1:5555"
		req.Header.Set("X-Palisade-Key", w.ServerKey)
		req.Header.Set("X-Original-Uri", uri)
		req.Header.Set("X-Original-Method", "GET")
		req.Header.Set("X-Original-Host", "shop.example.com")
		req.Header.Set("X-Original-Protocol", "HTTP/1.1")
		req.Header.Set("X-Real-Ip", ip)
		testenv.AsBrowser(req, ua)
		rec := httptest.NewRecorder()
		pal.Handler().ServeHTTP(rec, req)
		return rec.Header()
	}
	type want struct{ accel, cache, action, reason string }
	for _, c := range []struct {
		path, uri, ip, ua string
		want              want
	}{
		{"/forward-auth/nginx", "/page", "203.0.113.9", chromeUA, want{"0", "0", "grant", "humans"}},
		{"/forward-auth/nginx", "/page", "203.0.113.9", "sqlmap/1.7", want{"0", "0", "deny", ""}},
		{"/forward-auth/nginx", "/free", "203.0.113.9", chromeUA, want{"0", "0", "grant", "Free pass"}},
		{"/forward-auth/nginx-static", "/page.css", "203.0.113.9", chromeUA, want{"5", "5", "grant", "humans"}},
		{"/forward-auth/nginx-static", "/page.css", "203.0.113.9", "sqlmap/1.7", want{"0", "0", "deny", ""}},
		{"/forward-auth/nginx-static", "/free", "203.0.113.9", chromeUA, want{"0", "0", "grant", "Free pass"}},
		{"/forward-auth/nginx-static", "/page.css", "192.0.2.77", chromeUA, want{"0", "0", "grant", "allow list"}},
		// Apache's module (its own cache, keyed on the whole request): no X-Accel-Expires.
		{"/forward-auth/apache", "/page.css", "203.0.113.9", chromeUA, want{"", "5", "grant", "humans"}},
		{"/forward-auth/apache", "/free", "203.0.113.9", chromeUA, want{"", "0", "grant", "Free pass"}},
	} {
		h := answer(c.path, c.uri, c.ip, c.ua)
		got := want{h.Get("X-Accel-Expires"), h.Get("X-Palisade-Cache"), h.Get("X-Palisade-Action"), h.Get("X-Palisade-Reason")}
		if c.want.reason == "" {
			got.reason = ""
		}
		if got != c.want {
			t.Errorf("%s %s from %s (%.10s): X-Accel-Expires %q, X-Palisade-Cache %q, %s (%s); want %+v", c.path, c.uri, c.ip, c.ua, got.accel, got.cache, got.action, got.reason, c.want)
		}
		if c.want.cache == "0" && h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: Cache-Control %q, want no-store", c.path, c.uri, h.Get("Cache-Control"))
		}
	}
}
