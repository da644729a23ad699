//go:build redteam

package redteam21

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestFinding_NginxCacheHidesHeadersFromWAF: with the grant cache block of
// the shipped deploy/nginx/palisade.conf (on by default), nginx passes
// Palisade only the headers of engine.CacheKeyHeaders
// (proxy_pass_request_headers off) — for EVERY request, cached or not.
// A Log4Shell payload in X-Api-Version, or a header the tenant's own deny
// rule names, never reaches the engine: the website firewall (block mode,
// default) and the tenant's rule refuse the request when the header is
// passed (the same nginx with the cache block deleted, the control), and
// the shipped configuration lets it through to the site.
func TestFinding_NginxCacheHidesHeadersFromWAF(t *testing.T) {
	if testing.Short() {
		t.Skip("real nginx")
	}
	pal := testenv.New(t)
	site := pal.Website(t, "waf.example.com", remoteVisitors(engine.Settings{Rules: []engine.Rule{
		{Name: "No debug", Action: "deny", Conditions: []engine.Condition{{Field: "header", Header: "X-Debug", Op: "contains", Value: "1"}}}}}))
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "reached the site") }))
	defer backend.Close()

	cachedPort, plainPort := freePort(t), freePort(t)
	startNginxFor(t, pal.Addr, nginxServer(cachedPort, "waf.example.com", site.ServerKey, "palisade.conf", backend.URL), nil)
	startNginxFor(t, pal.Addr, nginxServer(plainPort, "waf.example.com", site.ServerKey, "palisade.conf", backend.URL), withoutCache)
	waitUp(t, fmt.Sprintf("127.0.0.1:%d", cachedPort))
	waitUp(t, fmt.Sprintf("127.0.0.1:%d", plainPort))

	attacks := []struct{ name, header string }{
		{"log4shell in X-Api-Version", "X-Api-Version: ${jndi:ldap://127.0.0.1:1389/a}\r\n"},
		{"shellshock in X-Custom", "X-Custom: () { :; }; /bin/cat /etc/passwd\r\n"},
		{"the tenant's deny rule on X-Debug", "X-Debug: 1\r\n"},
	}
	for _, a := range attacks {
		plain, _ := get(t, fmt.Sprintf("127.0.0.1:%d", plainPort), "waf.example.com", "/page?"+strings.ReplaceAll(a.name, " ", "-"), a.header)
		if plain != 403 {
			t.Fatalf("control (cache block deleted): %s answered %d, want Palisade's 403", a.name, plain)
		}
		code, body := get(t, fmt.Sprintf("127.0.0.1:%d", cachedPort), "waf.example.com", "/page?"+strings.ReplaceAll(a.name, " ", "-"), a.header)
		if code != 403 {
			t.Errorf("shipped palisade.conf (grant cache on): %s reached the site (%d %q); without the cache block it is refused (403)", a.name, code, body)
		}
	}
}
