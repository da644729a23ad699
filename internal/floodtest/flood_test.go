// Package floodtest floods every unauthenticated surface of a whole
// Palisade (issue 16: "a flood test per unauthenticated surface with a heap
// bound"): many requests with invented, oversized credentials from many
// addresses must all be refused, and must leave nothing behind on the heap.
// A surface that kept an entry per attempt (a key, an email, an address)
// fails here. The surfaces whose bounds are counted in entries have their
// own floods beside their code: sign-in (userapi.TestSignInFloodBounded,
// web.TestConsoleLoginFloodBounded), GP (gp.TestFlood, core.TestGPFlood),
// the challenge (challenge.TestChallengeEndpointsFlood) and the engine's
// rate-limit and reverse-DNS state (engine.TestRateLimitStateBounded,
// engine.TestRDNSCacheBounded).
package floodtest

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// requests per surface, and what they may leave on the heap in all: a
// surface that kept 1 KiB per request would leave 4 MiB.
const (
	perSurface = 4000
	heldBound  = 3 << 20
)

func TestUnauthenticatedFloods(t *testing.T) {
	s := testenv.New(t)
	site := s.Website(t, "victim.example.com", engine.Settings{})
	h := s.Handler()
	rng := rand.New(rand.NewPCG(16, 16))
	junk := func(n int) string { // a fresh, long, invented credential
		const abc = "abcdefghijklmnopqrstuvwxyz0123456789"
		b := make([]byte, n)
		for i := range b {
			b[i] = abc[rng.IntN(len(abc))]
		}
		return string(b)
	}
	addr := func(i int) string { // a new client address each time, v4 and v6
		if i%2 == 0 {
			return fmt.Sprintf("203.0.%d.%d:4242", (i/256)%256, i%256)
		}
		return fmt.Sprintf("[2001:db8:%x:%x::1]:4242", i/65536, i%65536)
	}
	form := func(method, path string, v url.Values) *http.Request {
		r := httptest.NewRequest(method, path, strings.NewReader(v.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	surfaces := []struct {
		name string
		req  func(i int) *http.Request
		// ok says whether a status is a refusal in the surface's protocol
		// (GP and XML answer errors with 200 and their own body).
		ok func(code int, body string) bool
	}{
		{"REST bearer key", func(i int) *http.Request {
			r := httptest.NewRequest("GET", "/website/victim.example.com", nil)
			r.Header.Set("Authorization", "Bearer pk_"+junk(2048))
			return r
		}, refused},
		{"/v1 bearer key", func(i int) *http.Request {
			r := httptest.NewRequest("GET", "/v1/websites", nil)
			r.Header.Set("Authorization", "Bearer "+junk(2048))
			return r
		}, refused},
		{"GP request hash", func(i int) *http.Request {
			return form("POST", "/api/v1/getcredit/", url.Values{"domain": {junk(200) + ".example"}, "timestamp": {junk(12)}, "hash": {junk(40)}})
		}, func(code int, body string) bool { return code < 500 && !strings.Contains(body, "OK") }},
		{"GP login link", func(i int) *http.Request {
			return httptest.NewRequest("GET", "/api/v1/login/?"+url.Values{"panel": {"admin"}, "domain": {junk(200)}, "timestamp": {junk(10)}, "key": {junk(16)}, "hash": {junk(64)}}.Encode(), nil)
		}, refused},
		{"XML partner credentials", func(i int) *http.Request {
			doc := `<?xml version="1.0"?><SiteLockOnlineRequest><authentication><user>` + junk(1024) + `</user><password>` + junk(1024) +
				`</password></authentication><request><method>getAccounts</method></request></SiteLockOnlineRequest>`
			r := httptest.NewRequest("POST", "/v1/partner", strings.NewReader(doc))
			r.Header.Set("Content-Type", "text/xml")
			return r
		}, func(code int, body string) bool { return code < 500 && strings.Contains(body, "<error") }},
		{"customer page ?api-key=", func(i int) *http.Request {
			return httptest.NewRequest("GET", "/en/website/victim.example.com/statistics?api-key="+junk(2048), nil)
		}, refused},
		{"customer page, unknown domains", func(i int) *http.Request {
			return httptest.NewRequest("GET", "/en/website/"+junk(60)+".example/statistics", nil)
		}, refused},
		{"/sso token", func(i int) *http.Request {
			return httptest.NewRequest("GET", "/sso?token="+junk(2048), nil)
		}, refused},
		{"User API bearer token", func(i int) *http.Request {
			r := httptest.NewRequest("GET", "/api/me", nil)
			r.Header.Set("Authorization", "Bearer "+junk(4096))
			return r
		}, refused},
		{"User API docs per partner", func(i int) *http.Request {
			return httptest.NewRequest("GET", "/api/docs?partner="+junk(1024), nil)
		}, func(code int, _ string) bool { return code < 500 }},
		{"forward-auth unknown server keys", func(i int) *http.Request {
			r := httptest.NewRequest("GET", "/forward-auth/nginx", nil)
			r.Header.Set("X-Palisade-Key", junk(2048))
			r.Header.Set("X-Original-Uri", "/"+junk(100))
			r.Header.Set("X-Original-Method", "GET")
			r.Header.Set("X-Original-Host", junk(60)+".example")
			return r
		}, func(code int, _ string) bool { return code != http.StatusOK }},
		{"BotBye unknown server keys", func(i int) *http.Request {
			r := httptest.NewRequest("POST", "/validate-request/v2", strings.NewReader(`{"server_key":"`+junk(2048)+`","token":"`+junk(512)+`","request_info":{"remote_addr":"203.0.113.9","request_uri":"/","request_method":"GET","headers":{}}}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, func(code int, _ string) bool { return code < 500 }},
		{"BotGuard unknown keys and keyless", func(i int) *http.Request {
			r := httptest.NewRequest("POST", "/v2.1/check", strings.NewReader("GET /"+junk(100)+" HTTP/1.1\r\nHost: victim.example.com\r\n\r\n"))
			if i%2 == 0 {
				r.Header.Set("BG-Key", junk(2048))
			}
			r.Header.Set("BG-RemoteAddr", "203.0.113.7")
			return r
		}, refused},
	}
	for _, sf := range surfaces {
		t.Run(sf.name, func(t *testing.T) {
			held := flood(t, h, sf.req, addr, sf.ok)
			t.Logf("%d requests, %d KiB held", perSurface, held>>10)
			if held > heldBound {
				t.Fatalf("%d requests left %d KiB on the heap (bound %d KiB): something keeps state per attempt", perSurface, held>>10, heldBound>>10)
			}
		})
	}
	// The website still works for its own server key after all that.
	r := httptest.NewRequest("GET", "/forward-auth/nginx", nil)
	r.Header.Set("X-Palisade-Key", site.ServerKey)
	r.Header.Set("X-Original-Uri", "/")
	r.Header.Set("X-Original-Method", "GET")
	r.Header.Set("X-Original-Host", "victim.example.com")
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36")
	r.Header.Set("X-Real-IP", "198.51.100.20")
	r.RemoteAddr = "127.0.0.1:5000"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code >= 500 {
		t.Fatalf("the website's own decision after the floods: %d %s", w.Code, w.Body)
	}
}

// flood sends perSurface requests (after a warm-up) and returns what they
// left on the heap.
func flood(t *testing.T, h http.Handler, req func(int) *http.Request, addr func(int) string, ok func(int, string) bool) int64 {
	t.Helper()
	serve := func(i int) {
		r := req(i)
		r.RemoteAddr = addr(i)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if body := w.Body.String(); !ok(w.Code, body) {
			t.Fatalf("request %d answered %d: %.300s", i, w.Code, body)
		}
	}
	for i := 0; i < 50; i++ { // warm caches, pools and lazily built pages
		serve(1_000_000 + i)
	}
	base := heapAfterGC()
	for i := 0; i < perSurface; i++ {
		serve(i)
	}
	return int64(heapAfterGC()) - int64(base)
}

// TestFloodCatchesRetention: the measurement sees a handler that keeps a
// little per attempt (as the console's sign-in limiter did), so the bound
// above can fail.
func TestFloodCatchesRetention(t *testing.T) {
	kept := map[string][]byte{}
	leaky := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kept[r.RemoteAddr] = make([]byte, 1024)
		http.Error(w, "no", http.StatusUnauthorized)
	})
	addr := func(i int) string { return fmt.Sprintf("203.0.%d.%d:1", i/256, i%256) }
	held := flood(t, leaky, func(int) *http.Request { return httptest.NewRequest("GET", "/", nil) }, addr, refused)
	if held <= heldBound {
		t.Fatalf("a handler keeping 1 KiB per request left only %d KiB: the flood tests could not fail", held>>10)
	}
	runtime.KeepAlive(kept)
}

// refused: a plain refusal (4xx), never an answer or a server error.
func refused(code int, _ string) bool { return code >= 400 && code < 500 }

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
