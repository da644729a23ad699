package botguard_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/api/botguard"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/protect"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestKeylessCheckOnlyFromWebServers is issue 16 item 7: without the
// server key, /v2.1/check finds a website by Host only for a --web-server
// peer; anyone else learns nothing of the site's lists or redirects and
// adds nothing to its statistics.
func TestKeylessCheckOnlyFromWebServers(t *testing.T) {
	pal := testenv.New(t)
	w := pal.Website(t, "shop.example.com", engine.Settings{
		Deny: []string{"198.51.100.0/24"},
		Rules: []engine.Rule{{Name: "Moved", Action: "redirect", Location: "https://secret-target.example.net/",
			Conditions: []engine.Condition{{Field: "path", Op: "is", Value: "/old"}}}},
	})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	serve := func(webServers protect.Trusted) string {
		mux := http.NewServeMux()
		botguard.New(pal.Protector, webServers, log).Register(mux, func(_ string, h http.Handler) http.Handler { return h })
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	elsewhere := serve(protect.Trusted{netip.MustParsePrefix("192.0.2.0/24")}) // the test client is not a web server
	local := serve(protect.Loopback)                                           // listed with --web-server
	unlisted := serve(nil)                                                     // --web-server not given: nobody, not even loopback
	check := func(base, key, path, client string) (int, http.Header) {
		req, _ := http.NewRequest("POST", base+"/v2.1/check", strings.NewReader("GET "+path+" HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: "+testenv.ChromeUA+"\r\nAccept: text/html\r\nAccept-Language: en\r\n\r\n"))
		req.Header.Set("BG-RemoteAddr", client)
		if key != "" {
			req.Header.Set("BG-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header
	}
	for _, c := range []struct{ path, client string }{{"/", "198.51.100.7"}, {"/old", "203.0.113.5"}} {
		code, h := check(elsewhere, "", c.path, c.client)
		if code != 401 || h.Get("BG-X-Mitigation") != "" || h.Get("BG-Location") != "" {
			t.Fatalf("keyless %s from a non-web-server: %d %v, want 401 and no verdict", c.path, code, h)
		}
	}
	if code, h := check(unlisted, "", "/", "198.51.100.7"); code != 401 || h.Get("BG-X-Mitigation") != "" {
		t.Fatalf("keyless from loopback without --web-server: %d %v, want 401", code, h)
	}
	if code, h := check(elsewhere, "sk_wrong", "/", "198.51.100.7"); code != 401 || h.Get("BG-X-Mitigation") != "" {
		t.Fatalf("wrong key: %d %v", code, h)
	}
	// With the key, from anywhere; without it, from a web server.
	for _, c := range []struct{ base, key string }{{elsewhere, w.ServerKey}, {local, ""}} {
		if code, h := check(c.base, c.key, "/", "198.51.100.7"); code != 403 || h.Get("BG-X-Mitigation") != "deny" {
			t.Fatalf("deny list (key %q): %d %v", c.key, code, h)
		}
		if _, h := check(c.base, c.key, "/old", "203.0.113.5"); h.Get("BG-Location") != "https://secret-target.example.net/" {
			t.Fatalf("redirect (key %q): %v", c.key, h)
		}
	}
}
