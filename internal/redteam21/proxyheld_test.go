package redteam21

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/proxy"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestHeld_ProxyDirectPathHeaders: on the direct path (bodiless GET to an
// http:// upstream, written by hand in internal/proxy/fast.go) the
// visitor's X-Forwarded-For, X-Real-IP, Forwarded, X-Forwarded-Host and
// -Proto never reach the application as the visitor wrote them (the
// proxy's own values replace them), whatever their spelling or count; a
// header the visitor's Connection names is not passed; absolute-form URIs
// are judged and forwarded for the same host; a denied WebSocket upgrade and
// a denied smuggling attempt (Content-Length with Transfer-Encoding) never
// reach the upstream.
func TestHeld_ProxyDirectPathHeaders(t *testing.T) {
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{Rules: []engine.Rule{
		{Name: "No admin", Action: "deny", Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/admin"}}}}})
	var hits atomic.Int64
	var last atomic.Value
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		var b strings.Builder
		fmt.Fprintf(&b, "host=%s uri=%s", r.Host, r.RequestURI)
		for _, k := range []string{"X-Forwarded-For", "X-Real-Ip", "Forwarded", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Secret"} {
			fmt.Fprintf(&b, " %s=%q", k, r.Header.Values(k))
		}
		last.Store(b.String())
		fmt.Fprint(w, b.String())
	}))
	defer app.Close()
	up, _ := url.Parse(app.URL)
	px := httptest.NewServer(proxy.NewWith(pal.Protector, []proxy.Route{{Host: "shop.example.com", Upstream: up}}, nil, nil, proxy.Options{}))
	defer px.Close()
	addr := strings.TrimPrefix(px.URL, "http://")

	spoof := "X-Forwarded-For: 10.9.8.7\r\nX-Forwarded-For: 10.9.8.6\r\nx-real-ip: 10.9.8.5\r\nForwarded: for=10.9.8.4\r\nX-Forwarded-Host: admin.internal\r\nX-Forwarded-Proto: https\r\nX-Secret: s\r\nConnection: keep-alive, X-Secret\r\n"
	code, body := get(t, addr, "shop.example.com", "/page", spoof)
	want := `host=shop.example.com uri=/page X-Forwarded-For=["127.0.0.1"] X-Real-Ip=["127.0.0.1"] Forwarded=[] X-Forwarded-Host=["shop.example.com"] X-Forwarded-Proto=["http"] X-Secret=[]`
	if code != 200 || body != want {
		t.Fatalf("spoofed forwarding headers: %d\n got %s\nwant %s", code, body, want)
	}
	// Absolute-form: the URI's host is the request's host for both the
	// decision and the upstream.
	res, body := raw(t, addr, "GET http://shop.example.com/admin/x HTTP/1.1\r\nHost: other.example.com\r\n"+browserHeaders(chromeUA)+"Connection: close\r\n\r\n")
	if res.StatusCode != 403 || strings.Contains(body, "host=") {
		t.Fatalf("absolute-form to a denied path: %d %q", res.StatusCode, body)
	}
	before := hits.Load()
	// A denied WebSocket upgrade.
	res, _ = raw(t, addr, "GET /admin/ws HTTP/1.1\r\nHost: shop.example.com\r\n"+browserHeaders(chromeUA)+"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	if res.StatusCode != 403 {
		t.Fatalf("denied WebSocket upgrade: %d", res.StatusCode)
	}
	// Content-Length and Transfer-Encoding together, smuggling a denied
	// request in the body of a granted one.
	smuggled := "GET /admin/secret HTTP/1.1\r\nHost: shop.example.com\r\n\r\n"
	res, _ = raw(t, addr, "POST /page HTTP/1.1\r\nHost: shop.example.com\r\n"+browserHeaders(chromeUA)+
		fmt.Sprintf("Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n%s", 5+len(smuggled), smuggled))
	if s, _ := last.Load().(string); strings.Contains(s, "/admin") {
		t.Fatalf("the upstream saw a denied path: %s (status %d)", s, res.StatusCode)
	}
	if n := hits.Load() - before; n > 1 {
		t.Fatalf("the upstream got %d requests from one granted POST", n)
	}
}
