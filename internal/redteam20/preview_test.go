package redteam20

import (
	"context"
	"slices"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
)

// FIXED (was low): the "allow this path" preview compared the option (the
// canonical, decoded path) with the events' stored paths as the visitor
// spelled them, so a percent-encoded path (/caf%C3%A9/) previewed 0
// refused requests while the rule let them all through. Now the previews
// compare each event's canonical path, as the engine does.
func TestFixed_AllowThisPathPreviewMissesEncodedPaths(t *testing.T) {
	e, w := site(t, engine.Settings{Categories: map[string]string{"automation_tools": "deny"}})
	for _, c := range []struct{ ip, path string }{{"203.0.113.50", "/caf%C3%A9/menu"}, {"203.0.113.51", "/caf%c3%a9/menu"}, {"203.0.113.52", "/caf%C3%A9//./menu"}} {
		if code := e.AskNginx(t, w.ServerKey, shop, c.ip, "curl/8.5.0", c.path); code != 403 {
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
	var paths []string
	for _, o := range at.Options {
		if o.Kind != core.AllowPath {
			continue
		}
		paths = append(paths, o.Value)
		if o.Preview.Requests != 3 || o.Preview.Clients != 3 {
			t.Errorf("event path %q: option %q previews %d refused requests from %d clients; 3 requests of 3 clients match it", ev.Path, o.Value, o.Preview.Requests, o.Preview.Clients)
		}
	}
	if !slices.Equal(paths, []string{"/café/menu", "/café/"}) {
		t.Fatalf("path options %q", paths)
	}
	// And the rule does what the preview says: any spelling of it passes.
	if _, _, err := e.Service.AllowFromEvent(context.Background(), e.Caller, shop, ev.ID, core.AllowChoice{Kind: core.AllowPath, Value: "/café/"}); err != nil {
		t.Fatal(err)
	}
	e.EngineCaughtUp(t)
	if code := e.AskNginx(t, w.ServerKey, shop, "192.0.2.1", "curl/8.5.0", "/caf%C3%A9/wine"); code != 200 {
		t.Errorf("after allowing /café/: %d", code)
	}
	if code := e.AskNginx(t, w.ServerKey, shop, "192.0.2.1", "curl/8.5.0", "/cafe/wine"); code != 403 {
		t.Errorf("beside it: %d", code)
	}
}
