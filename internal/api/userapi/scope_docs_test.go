package userapi_test

import (
	"html"
	"strings"
	"testing"

	. "github.com/palisadehq/palisade/internal/api/userapi"
)

// TestDocsShowPartnerScope: a signed-in customer's docs (at /api/docs or
// under the partner's scope) give its partner's scoped base URL,
// <public url>/api/p/<URL-escaped name>, in the base URL, the sign-in
// routes and every example, never the unscoped /api/me; before sign-in
// the generic docs stay unscoped (they name no partner).
func TestDocsShowPartnerScope(t *testing.T) {
	if got := ScopeBase("https://palisade.example.net/", "My Hosting/EU"); got != "https://palisade.example.net/api/p/My%20Hosting%2FEU" {
		t.Fatalf("ScopeBase: %q", got)
	}
	e := newEnv(t)
	auth := basic("jane@example.com", janePW)
	base := ScopeBase("https://palisade.test", "host")
	for _, path := range []string{"/api/docs", "/api/p/host/docs"} {
		d := e.do(t, "GET", path, auth, "")
		page := html.UnescapeString(d.raw)
		if d.status != 200 {
			t.Fatalf("%s: %d %s", path, d.status, d.raw)
		}
		for _, want := range []string{"Base URL: <code>" + base + "</code>", "curl -u you@example.com:PASSWORD " + base + "/me", "POST /api/p/host/login", "POST /api/p/host/token",
			base + "/websites/shop.example.com/events", `href="/api/p/host/openapi.json"`} {
			if !strings.Contains(page, want) {
				t.Errorf("%s lacks %q", path, want)
			}
		}
		if strings.Contains(page, "https://palisade.test/api/me") || strings.Contains(page, "POST /api/login") {
			t.Errorf("%s still shows unscoped examples:\n%s", path, page)
		}
	}
	generic := html.UnescapeString(e.do(t, "GET", "/api/docs?generic=1", "", "").raw)
	if !strings.Contains(generic, "https://palisade.test/api/me") || strings.Contains(generic, "/api/p/host") {
		t.Fatalf("generic docs: %s", generic)
	}
}
