package redteam20

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
)

// FIXED (was high): "allow this path" decoded the path twice. The option
// was the request's canonical path (decoded once: "/%252f/" was offered as
// "/%2f/"), and the grant rule made from it was canonicalised again when
// the engine compiled it ("/%2f/" → "//" → "/"): one click on an
// innocuous-looking "This path: /%2f/" granted every request to the
// website. Now an option is offered only in the engine's canonical form
// when that form is its own canonical form (the rule compiles to exactly
// the prefix shown); a double-encoded spelling offers only its parent
// folders that are, or nothing; "/" never. The created rule, compiled by
// the engine, lets through only what is under the prefix shown.
func TestFixed_AllowThisPathDoubleDecodeGrantsTheWholeSite(t *testing.T) {
	for i, c := range []struct {
		raw   string
		offer []string // the path options the event offers
		under string   // another path under the widest one, granted after the click
	}{
		{"/%252f/", nil, ""},
		{"/%255c/", nil, ""},
		{"/blog/%2525/x", []string{"/blog/"}, "/blog/other"},
		{"/blog/%252f/x", []string{"/blog/"}, "/blog/%2Fy"},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			e, w := site(t, engine.Settings{
				Categories: map[string]string{"automation_tools": "deny"},
				Rules: []engine.Rule{{Name: "no admin", Action: "deny",
					Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/admin/"}}}}})
			const curl = "curl/8.5.0"
			if code := e.AskNginx(t, w.ServerKey, shop, "203.0.113.50", curl, c.raw); code != 403 {
				t.Fatalf("%s: %d, want 403", c.raw, code)
			}
			ev := refusedEvent(t, e, "203.0.113.50")
			if ev.Source == engine.SourceWAF {
				t.Fatalf("the firewall refused %s: the test needs a category's refusal", c.raw)
			}
			ctx := context.Background()
			at, err := e.Service.AllowThisOptions(ctx, e.Caller, shop, ev.ID)
			if err != nil {
				t.Fatal(err)
			}
			var offered []string
			for _, o := range at.Options {
				if o.Kind == core.AllowPath {
					offered = append(offered, o.Value)
					if engine.CanonicalPath(o.Value) != o.Value {
						t.Errorf("offered %q, which the engine compiles to %q", o.Value, engine.CanonicalPath(o.Value))
					}
				}
			}
			if len(offered) != len(c.offer) || (len(offered) > 0 && offered[0] != c.offer[0]) {
				t.Fatalf("%s offers %q, want %q", c.raw, offered, c.offer)
			}
			// The spelling the page once showed is refused.
			for _, v := range []string{"/%2f/", "/%5c/", "/", "//"} {
				if _, _, err := e.Service.AllowFromEvent(ctx, e.Caller, shop, ev.ID, core.AllowChoice{Kind: core.AllowPath, Value: v}); !errors.Is(err, core.ErrAllowNotOffered) {
					t.Errorf("allow path %q: %v, want not offered", v, err)
				}
			}
			if len(offered) == 0 {
				return
			}
			// The customer picks the widest path the page offers.
			choice := offered[len(offered)-1]
			if _, _, err := e.Service.AllowFromEvent(ctx, e.Caller, shop, ev.ID, core.AllowChoice{Kind: core.AllowPath, Value: choice}); err != nil {
				t.Fatal(err)
			}
			e.EngineCaughtUp(t)
			// Another client: under the prefix it is let through; elsewhere
			// the category's deny and the site's own deny rule still hold.
			if code := e.AskNginx(t, w.ServerKey, shop, "192.0.2.99", curl, c.under); code != 200 {
				t.Errorf("after allowing %q, %s: %d, want 200", choice, c.under, code)
			}
			for _, p := range []string{"/admin/users", "/", "/shop/cart", "/%2f/", "/blo"} {
				if code := e.AskNginx(t, w.ServerKey, shop, "192.0.2.99", curl, p); code != 403 {
					t.Errorf("after allowing %q (%s), curl from another address reads %s: %d, want 403", choice, c.raw, p, code)
				}
			}
		})
	}
}
