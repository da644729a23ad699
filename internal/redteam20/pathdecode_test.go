//go:build redteam

package redteam20

import (
	"context"
	"strconv"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
)

// FAILS (high): "allow this path" decodes the path twice. The option is
// the request's canonical path (decoded once: "/%252f/" is offered as
// "/%2f/", which is what the page shows), and the grant rule made from it
// is canonicalised again when the engine compiles it ("/%2f/" → "//" →
// "/"). A visitor who gets refused once on a double-encoded path leaves an
// event whose innocuous-looking "This path: /%2f/" (or "/blog/%2e%2e/")
// becomes, on the customer's click, a grant rule "path starts with /"
// placed first: every request to the website is granted, categories,
// custom deny rules and rate limits skipped, for every client.
func TestFAILS_AllowThisPathDoubleDecodeGrantsTheWholeSite(t *testing.T) {
	for i, raw := range []string{"/%252f/", "/%255c/"} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			e, w := site(t, engine.Settings{
				Categories: map[string]string{"automation_tools": "deny"},
				Rules: []engine.Rule{{Name: "no admin", Action: "deny",
					Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/admin/"}}}}})
			const curl = "curl/8.5.0"
			if code := askNginx(t, e, w.ServerKey, "203.0.113.50", curl, raw); code != 403 {
				t.Skipf("%s: %d", raw, code)
			}
			ev := refusedEvent(t, e, "203.0.113.50")
			if ev.Source == engine.SourceWAF {
				t.Skipf("the firewall refused %s", raw)
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
				}
			}
			if len(offered) == 0 {
				return // held: no path offered
			}
			// The customer picks the widest path the page offers.
			choice := offered[len(offered)-1]
			o, _ := at.Option(core.AllowPath, choice)
			if _, _, err := e.Service.AllowFromEvent(ctx, e.Caller, shop, ev.ID, core.AllowChoice{Kind: core.AllowPath, Value: choice}); err != nil {
				t.Fatal(err)
			}
			caughtUp(t, e)
			// Another client, another path: the site's own deny rule and
			// the category's deny should still hold.
			if code := askNginx(t, e, w.ServerKey, "192.0.2.99", curl, "/admin/users"); code == 200 {
				t.Errorf("offered %q, chose %q (the page's 'This path: %s', its preview: %d refused requests from %d clients): afterwards curl from another address reads /admin/users: %d (the rule is 'path starts with /')",
					offered, choice, choice, o.Preview.Requests, o.Preview.Clients, code)
			}
		})
	}
}
