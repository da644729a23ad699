//go:build redteam

package redteam20

import (
	"context"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
)

// FAILS (low): the "allow this path" preview compares the option (the
// canonical, decoded path) with the events' stored paths as the visitor
// spelled them. Any percent-encoded path (a non-ASCII one: /caf%C3%A9/)
// previews 0 refused requests, the event itself missing ("this one
// included" is false), while the rule lets them all through.
func TestFAILS_AllowThisPathPreviewMissesEncodedPaths(t *testing.T) {
	e, w := site(t, engine.Settings{Categories: map[string]string{"automation_tools": "deny"}})
	for _, ip := range []string{"203.0.113.50", "203.0.113.51", "203.0.113.52"} {
		if code := askNginx(t, e, w.ServerKey, ip, "curl/8.5.0", "/caf%C3%A9/menu"); code != 403 {
			t.Fatalf("before: %d", code)
		}
	}
	refusedEvent(t, e, "203.0.113.50")
	refusedEvent(t, e, "203.0.113.51")
	ev := refusedEvent(t, e, "203.0.113.52")
	at, err := e.Service.AllowThisOptions(context.Background(), e.Caller, shop, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range at.Options {
		if o.Kind == core.AllowPath && o.Preview.Requests < 3 {
			t.Errorf("event path %q: option %q previews %d refused requests from %d clients; 3 requests of 3 clients match it", ev.Path, o.Value, o.Preview.Requests, o.Preview.Clients)
		}
	}
}
