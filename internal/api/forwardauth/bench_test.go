package forwardauth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// discard is a ResponseWriter that keeps nothing: the benchmark counts the
// handler's own work, not a recorder's. Its header map is reused (cleared)
// as net/http's server gives each response a fresh one.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }

// BenchmarkForwardAuthNginxGrant is one browser request of a page asset
// through Palisade's whole handler (the server's chain, the metrics
// wrapper, /forward-auth/nginx, the engine with the website firewall at its
// default), as nginx's auth_request sends it: the grant path.
func BenchmarkForwardAuthNginxGrant(b *testing.B) {
	pal := testenv.New(b)
	w := pal.Website(b, "shop.example.com", engine.Settings{Builtins: map[string]bool{"self_calls": false}})
	h := pal.Handler()
	req := httptest.NewRequest("GET", "/forward-auth/nginx", nil)
	req.RemoteAddr = "127.0.0.1:40000"
	testenv.AsBrowser(req, chromeUA)
	for k, v := range map[string]string{
		"X-Palisade-Key": w.ServerKey, "X-Original-Uri": "/assets/app.js?v=3", "X-Original-Method": "GET",
		"X-Original-Host": "shop.example.com", "X-Original-Protocol": "HTTP/1.1", "X-Real-Ip": "198.51.100.7",
		"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "script",
		"Referer": "https://shop.example.com/", "Cookie": "session=abc123; theme=dark",
	} {
		req.Header.Set(k, v)
	}
	rw := &discard{h: http.Header{}}
	h.ServeHTTP(rw, req)
	if rw.code != http.StatusOK || rw.h.Get("X-Palisade-Action") != "grant" {
		b.Fatalf("not granted: %d %v", rw.code, rw.h)
	}
	b.ReportAllocs()
	for b.Loop() {
		clear(rw.h)
		h.ServeHTTP(rw, req)
	}
}
