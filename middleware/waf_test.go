package middleware_test

import (
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
	"github.com/palisadehq/palisade/middleware"
)

// TestMiddlewareFirewallSeesBody: through the middleware and a real
// Palisade, issue 19's SQL injection in a form body is denied by the
// website firewall; with SkipBody it is not seen.
func TestMiddlewareFirewallSeesBody(t *testing.T) {
	pal := testenv.New(t)
	site := pal.Website(t, "shop.example.com", engine.Settings{})
	h := middleware.Protect(echoApp, middleware.Config{Endpoint: pal.URL, ServerKey: site.ServerKey, Timeout: liveTimeout})
	if code, body := postTo(t, h, []byte(sqli), nil); code != 403 || strings.HasPrefix(body, "app:") {
		t.Fatalf("SQL injection in the body: %d %.200q", code, body)
	}
	skip := middleware.Protect(echoApp, middleware.Config{Endpoint: pal.URL, ServerKey: site.ServerKey, Timeout: liveTimeout, SkipBody: true})
	if code, body := postTo(t, skip, []byte(sqli), nil); code != 200 || body != echoed([]byte(sqli), int64(len(sqli))) {
		t.Fatalf("SkipBody: %d %.200q", code, body)
	}
}
