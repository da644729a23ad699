package redteam21

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// siteCacheShares runs the shipped palisade.conf with its grant cache
// switched off (the sed line of its header) in a server {} that caches its
// own site with the directives extra (inherited into every location,
// Palisade's auth location included), and reports the answer a bot gets
// for the URI a browser was just granted and for another URI (want 403
// for both).
func siteCacheShares(t *testing.T, extra string, edit func(string) string) (samePath int, sameBody string, otherPath int, otherBody string) {
	t.Helper()
	pal := testenv.New(t)
	pal.Protector.Engine.SetGrantCache(engine.DefaultGrantCache) // palisade serve's default
	site := pal.Website(t, "micro.example.com", remoteVisitors(engine.Settings{}))
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "the page") }))
	defer backend.Close()
	port := freePort(t)
	dir := t.TempDir()
	servers := fmt.Sprintf(`
    proxy_cache_path %s keys_zone=site_micro:1m max_size=10m inactive=1m use_temp_path=off;
    server {
        listen 127.0.0.1:%d;
        server_name micro.example.com;
        proxy_cache site_micro;
        %s
        set $palisade_key "%s";
        include PALISADE_CONF/palisade.conf;
        location / { proxy_pass %s; proxy_set_header Host $host; }
    }`, filepath.Join(dir, "micro"), port, extra, site.ServerKey, backend.URL)
	if edit == nil {
		edit = withoutCache
	}
	startNginxFor(t, pal.Addr, servers, edit)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitUp(t, addr)
	bot := "User-Agent: sqlmap/1.7.2#stable (https://sqlmap.org)\r\nAccept: */*\r\nConnection: close\r\n\r\n"
	// Control: before any browser came, Palisade refuses the bot.
	if res, _ := raw(t, addr, "GET /page HTTP/1.1\r\nHost: micro.example.com\r\n"+bot); res.StatusCode != 403 {
		t.Fatalf("control: sqlmap before any browser: %d, want 403", res.StatusCode)
	}
	if code, body := get(t, addr, "micro.example.com", "/page", ""); code != 200 || body != "the page" {
		t.Fatalf("browser: %d %q", code, body)
	}
	res, body := raw(t, addr, "GET /page HTTP/1.1\r\nHost: micro.example.com\r\n"+bot)
	res2, body2 := raw(t, addr, "GET /wp-admin/elsewhere HTTP/1.1\r\nHost: micro.example.com\r\n"+bot)
	return res.StatusCode, body, res2.StatusCode, body2
}

// TestHeld_InheritedProxyCacheSharesNoGrants: a server {} with its own
// proxy_cache (inherited into the auth location when the grant cache block
// is deleted; edit nil: the shipped snippets with the block deleted) does not cache Palisade's grants: their Cache-Control:
// private keeps nginx from storing them, though they now carry
// X-Accel-Expires.
func TestHeld_InheritedProxyCacheSharesNoGrants(t *testing.T) {
	if code, body, code2, body2 := siteCacheShares(t, "", nil); code != 403 || code2 != 403 {
		t.Errorf("sqlmap after a browser's grant: same URI %d %.60q, another URI %d %.60q; want 403 for both", code, body, code2, body2)
	}
}
