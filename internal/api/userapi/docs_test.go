package userapi_test

import (
	"context"
	"strings"
	"testing"

	. "github.com/palisadehq/palisade/internal/api/userapi"
	"github.com/palisadehq/palisade/internal/core"
)

// TestDocsDoNotTellPartners: before authentication, /api/docs and
// /api/openapi.json answer the same, byte for byte, for a partner that
// exists (whose docs the visitor may not see yet) and for one that does not,
// and name neither; a signed-in customer sees its own partner's.
func TestDocsDoNotTellPartners(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.Service.SetBranding(ctx, e.Caller, e.Caller.PartnerID, core.Branding{Name: "Acme Shield"}); err != nil {
		t.Fatal(err)
	}
	cfg := core.DefaultUserAPIConfig()
	cfg.Routes = map[string]core.RouteConfig{"events.list": {Alias: "/api/sites/{domain}/log", Name: "Blocked requests"}}
	if _, err := e.Service.SetUserAPIConfig(ctx, e.Caller, cfg, RoutePaths()); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/docs", "/api/openapi.json"} {
		known := e.do(t, "GET", path+"?partner=host", "", "")
		unknown := e.do(t, "GET", path+"?partner=nosuch", "", "")
		none := e.do(t, "GET", path, "", "")
		if known.status != unknown.status || known.raw != unknown.raw || none.status != known.status || none.raw != known.raw {
			t.Fatalf("%s: existing partner %d, unknown %d, none %d\n%s\n---\n%s", path, known.status, unknown.status, none.status, known.raw, unknown.raw)
		}
		if known.header.Get("Content-Type") != unknown.header.Get("Content-Type") {
			t.Fatalf("%s: content types differ", path)
		}
		for _, leak := range []string{"Acme", "host User API", "partner=host", "Blocked requests", "/api/sites/"} {
			if strings.Contains(known.raw, leak) {
				t.Fatalf("%s names the partner before authentication (%q): %s", path, leak, known.raw)
			}
		}
	}
	// Signed in, the customer reads its partner's docs: names and aliases.
	auth := basic("jane@example.com", janePW)
	if d := e.do(t, "GET", "/api/docs", auth, ""); d.status != 200 || !strings.Contains(d.raw, "Acme Shield User API") || !strings.Contains(d.raw, "Blocked requests") {
		t.Fatalf("signed-in docs: %d %s", d.status, d.raw)
	}
	if o := e.do(t, "GET", "/api/openapi.json", auth, ""); o.status != 200 || !strings.Contains(o.raw, `"/api/sites/{domain}/log"`) {
		t.Fatalf("signed-in openapi: %d %s", o.status, o.raw)
	}
}
