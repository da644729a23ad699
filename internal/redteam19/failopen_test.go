package redteam19

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/testenv"
	"github.com/palisadehq/palisade/middleware"
)

// FINDING (critical, anonymous visitor; Go middleware, and any
// integration whose check times out open): the firewall's time per
// request is set by the visitor (cookies cost ~25 µs per byte, see
// dos_test.go) and every integration fails open on a slow or failed
// check by default. The Go middleware waits 500 ms for a check without a
// large BODY; one GET with 24 KiB of harmless cookies (the firewall
// takes ~1 s) and an SQL injection in the query is served to the
// application uninspected. nginx (proxy_read_timeout 2s, then
// @palisade_unreachable, open by default), HAProxy SPOE (timeout
// processing 1s) and the others fail the same way once the node is busy
// enough for the visitor's request to take longer than their timeout
// (e.g. a flood of ungated 8 KiB-cookie requests each carrying the
// payload). Fix the cost (bound cookies/headers, see dos_test.go) and
// make the middleware's timeout follow what Palisade will inspect
// (headers too), or have Palisade answer "deny" itself before the
// integration's deadline (a firewall deadline inside the request).
func TestFAILS_MiddlewareFailsOpenOnASlowFirewall(t *testing.T) {
	pal := testenv.New(t)
	site := pal.Website(t, "shop.example.com", grantAfterWAF)
	var got atomic.Int32
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		w.Write([]byte("app"))
	})
	h := middleware.Protect(app, middleware.Config{Endpoint: pal.URL, ServerKey: site.ServerKey})
	do := func(cookie string) int {
		req := httptest.NewRequest("GET", "http://shop.example.com/products?id=1%27%20OR%20%271%27%3D%271", nil)
		testenv.AsBrowser(req, testenv.ChromeUA)
		req.RemoteAddr = "203.0.113.9:4444"
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := do(""); code != http.StatusForbidden || got.Load() != 0 {
		t.Fatalf("control: %d, app got %d", code, got.Load())
	}
	start := time.Now()
	code := do(cookieHeader(24 << 10))
	if code != http.StatusForbidden || got.Load() != 0 {
		t.Errorf("SQL injection with 24 KiB of harmless cookies: %d after %v; the application got it: %v", code, time.Since(start), got.Load() > 0)
	}
}
