package forwardauth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/palisadehq/palisade/internal/api/forwardauth"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/protect"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestForwardAuthFirewallSeesBody: with X-Original-Body the website
// firewall denies issue 19's SQL injection in the body (source waf);
// without it, the same request is granted (no body seen), and the
// contract header itself is not shown to the firewall.
func TestForwardAuthFirewallSeesBody(t *testing.T) {
	e := testenv.New(t)
	w := e.Website(t, "shop.example.com", engine.Settings{})
	h := forwardauth.New(e.Protector, protect.Loopback, nil)
	var last engine.Verdict
	var hadHeader bool
	forwardauth.Verdicts(h, func(r *engine.Request, v engine.Verdict) {
		last, hadHeader = v, r.Header.Get("X-Original-Body") != ""
	})
	mux := http.NewServeMux()
	h.Register(mux, func(_ string, h http.Handler) http.Handler { return h })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	orig := map[string]string{"X-Original-Method": "POST", "X-Original-Uri": "/login", "X-Original-Host": "shop.example.com", "X-Real-Ip": "203.0.113.5", "Content-Type": "application/x-www-form-urlencoded", "X-Original-Body": "full"}
	code, hd := askBody(t, srv.URL+"/forward-auth", w.ServerKey, orig, []byte(sqli))
	if code != 403 || hd.Get("X-Palisade-Action") != "deny" || last.Source != engine.SourceWAF || hadHeader {
		t.Fatalf("SQL injection in the body: %d %q, verdict %+v, X-Original-Body shown %v", code, hd.Get("X-Palisade-Reason"), last, hadHeader)
	}
	delete(orig, "X-Original-Body")
	if code, _ := askBody(t, srv.URL+"/forward-auth", w.ServerKey, orig, []byte(sqli)); code != 200 {
		t.Fatalf("without X-Original-Body: %d, verdict %+v", code, last)
	}
}
