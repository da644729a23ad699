package redteam21

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// askApache asks /forward-auth/apache as mod_palisade does (from loopback).
func ask(pal *testenv.Stack, endpoint, key, uri, ua string, extra map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", endpoint, nil)
	req.RemoteAddr = "127.0.0.1:5555"
	req.Header.Set("X-Palisade-Key", key)
	req.Header.Set("X-Original-Uri", uri)
	req.Header.Set("X-Original-Method", "GET")
	req.Header.Set("X-Original-Host", "a.example.com")
	req.Header.Set("X-Real-Ip", "203.0.113.9")
	testenv.AsBrowser(req, ua)
	for k, v := range extra {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	pal.Handler().ServeHTTP(rec, req)
	return rec
}

// TestHeld_ApacheAnswerNotGrowable: mod_palisade fails OPEN when
// Palisade's answer exceeds PAL_HEAD_MAX (16 KiB of headers) or
// PAL_BODY_MAX (64 KiB of page). A visitor cannot grow the deny or
// challenge page (or its headers) toward those limits with a long URI full
// of characters that HTML escaping multiplies, nor with a long user agent.
func TestHeld_ApacheAnswerNotGrowable(t *testing.T) {
	pal := testenv.New(t)
	site := pal.Website(t, "a.example.com", remoteVisitors(engine.Settings{}))
	longUA := "curl/8.5.0 " + strings.Repeat("<&'\"", 2000)
	for _, ua := range []string{"curl/8.5.0", "sqlmap/1.7", longUA} {
		for _, uri := range []string{"/", "/?" + strings.Repeat("&", 8000), "/?" + strings.Repeat("'", 8000), "/" + strings.Repeat("%22", 2600), "/" + strings.Repeat("<", 8000)} {
			rec := ask(pal, "/forward-auth/apache", site.ServerKey, uri, ua, nil)
			hl := 0
			for k, v := range rec.Header() {
				for _, s := range v {
					hl += len(k) + len(s) + 4
				}
			}
			if rec.Code == 200 {
				t.Fatalf("%.20s %.20s: granted", ua, uri)
			}
			if rec.Body.Len() > 32<<10 || hl > 8<<10 {
				t.Errorf("ua %.20s… uri %.20s…: answer of %d bytes of page and %d of headers: near mod_palisade's limits (64 KiB, 16 KiB), past which it fails open", ua, uri, rec.Body.Len(), hl)
			}
		}
	}
}

// TestHeld_ForwardAuthPathVariants: the forward-auth endpoints are now
// served from a table of exact paths before the mux. No spelling of the
// path (trailing slash, doubled slash, escaped slash, another case) and no
// method grants a request the exact path denies.
func TestHeld_ForwardAuthPathVariants(t *testing.T) {
	pal := testenv.New(t)
	site := pal.Website(t, "a.example.com", remoteVisitors(engine.Settings{}))
	if rec := ask(pal, "/forward-auth/nginx", site.ServerKey, "/", "sqlmap/1.7", nil); rec.Code != 403 {
		t.Fatalf("exact path: %d, want 403", rec.Code)
	}
	for _, p := range []string{"/forward-auth/nginx/", "//forward-auth/nginx", "/forward-auth%2Fnginx", "/forward-auth/nginx%2F", "/Forward-Auth/nginx",
		"/forward-auth/./nginx", "/forward-auth/nginx?x=1", "/forward-auth/apache/", "//forward-auth/apache", "/forward-auth/nginx;x"} {
		for _, m := range []string{"GET", "HEAD", "POST", "OPTIONS", "PROPFIND"} {
			req := httptest.NewRequest(m, "http://127.0.0.1"+p, nil)
			req.RemoteAddr = "127.0.0.1:5555"
			req.Header.Set("X-Palisade-Key", site.ServerKey)
			req.Header.Set("X-Original-Uri", "/")
			req.Header.Set("X-Original-Method", "GET")
			req.Header.Set("X-Original-Host", "a.example.com")
			req.Header.Set("X-Real-Ip", "203.0.113.9")
			req.Header.Set("User-Agent", "sqlmap/1.7")
			rec := httptest.NewRecorder()
			pal.Handler().ServeHTTP(rec, req)
			if rec.Code/100 == 2 {
				t.Errorf("%s %s: %d (%s), a grant the exact path refuses", m, p, rec.Code, rec.Header().Get("X-Palisade-Action"))
			}
		}
	}
}

// TestHeld_ForwardAuthPoolingNoLeak: the engine requests of the endpoints
// are pooled. Concurrent requests with different user agents and keys
// (run with -race) each get their own verdict: a denied bot's request never
// answers as a browser's grant and the other way round, and no answer
// carries another website's verdict.
func TestHeld_ForwardAuthPoolingNoLeak(t *testing.T) {
	pal := testenv.New(t)
	a := pal.Website(t, "a.example.com", remoteVisitors(engine.Settings{}))
	b := pal.Website(t, "b.example.com", remoteVisitors(engine.Settings{Rules: []engine.Rule{
		{Name: "Deny all", Action: "deny", Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/"}}}}}))
	var wg sync.WaitGroup
	errs := make(chan string, 1000)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				var key, ua, want string
				switch (g + i) % 3 {
				case 0:
					key, ua, want = a.ServerKey, chromeUA, "grant"
				case 1:
					key, ua, want = a.ServerKey, "sqlmap/1.7", "deny"
				default:
					key, ua, want = b.ServerKey, chromeUA, "deny"
				}
				endpoint := []string{"/forward-auth/nginx", "/forward-auth/apache"}[i%2]
				rec := ask(pal, endpoint, key, "/p?g="+string(rune('a'+g)), ua, map[string]string{"X-Probe": ua})
				if got := rec.Header().Get("X-Palisade-Action"); got != want {
					select {
					case errs <- endpoint + " " + ua + ": " + got + ", want " + want:
					default:
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestHeld_EventAggregationPerWebsite: identical denies (same client
// address and user agent) on two websites are aggregated per website: each
// website's event counts its own requests exactly (concurrent requests,
// across the 10 s window), under its own reference ID, which the other
// website's owner cannot find.
func TestHeld_EventAggregationPerWebsite(t *testing.T) {
	pal := testenv.New(t)
	deny := engine.Settings{Rules: []engine.Rule{{Name: "No login", Action: "deny", Conditions: []engine.Condition{{Field: "path", Op: "is", Value: "/wp-login.php"}}}}}
	a := pal.Website(t, "a.example.com", remoteVisitors(deny))
	b := pal.Website(t, "b.example.com", remoteVisitors(deny))
	send := func(key, host string, n int, concurrent bool) {
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			f := func() {
				defer wg.Done()
				req := httptest.NewRequest("GET", "/forward-auth/nginx", nil)
				req.RemoteAddr = "127.0.0.1:5555"
				req.Header.Set("X-Palisade-Key", key)
				req.Header.Set("X-Original-Uri", "/wp-login.php")
				req.Header.Set("X-Original-Method", "GET")
				req.Header.Set("X-Original-Host", host)
				req.Header.Set("X-Real-Ip", "198.51.100.7")
				testenv.AsBrowser(req, chromeUA)
				rec := httptest.NewRecorder()
				pal.Handler().ServeHTTP(rec, req)
				if rec.Code != http.StatusForbidden {
					t.Errorf("%s: %d, want 403", host, rec.Code)
				}
			}
			// The first request is stored at once and opens the window;
			// requests racing it before it has are stored on their own
			// (counts stay exact), so the first goes alone.
			if concurrent && i > 0 {
				go f()
			} else {
				f()
			}
		}
		wg.Wait()
	}
	send(a.ServerKey, "a.example.com", 12, true)
	send(b.ServerKey, "b.example.com", 5, true)
	pal.Clock.Advance(11 * time.Second)
	send(a.ServerKey, "a.example.com", 3, false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pal.Recorder.Flush(ctx)
	sum := func(domain string, f core.EventFilter) (int64, []core.Event) {
		evs, err := pal.Service.Events(ctx, pal.Caller, domain, f)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, e := range evs {
			n += e.Requests()
		}
		return n, evs
	}
	na, evA := sum("a.example.com", core.EventFilter{})
	nb, evB := sum("b.example.com", core.EventFilter{})
	if na != 15 || nb != 5 {
		t.Fatalf("a.example.com's events count %d requests (want 15), b.example.com's %d (want 5)", na, nb)
	}
	if len(evA) != 2 || len(evB) != 1 {
		t.Errorf("a.example.com: %d events (want 2: the window ended), b.example.com: %d (want 1)", len(evA), len(evB))
	}
	for _, e := range evA {
		if n, _ := sum("b.example.com", core.EventFilter{Ref: e.Ref}); n != 0 {
			t.Errorf("b.example.com's owner finds a.example.com's event %s", e.Ref)
		}
		if e.Ref == evB[0].Ref {
			t.Errorf("both websites' events share reference ID %s", e.Ref)
		}
	}
}
