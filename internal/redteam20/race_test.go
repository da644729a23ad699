package redteam20

import (
	"context"
	"sync"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
)

// HELD: "allow this" clicked many times at once (double submit, two tabs)
// adds one allow entry and one rule; the other clicks add nothing.
func TestHeld_AllowThisConcurrentClicksAddOnce(t *testing.T) {
	e, w := site(t, engine.Settings{Categories: map[string]string{"automation_tools": "deny"}})
	if code := e.AskNginx(t, w.ServerKey, shop, "203.0.113.50", "curl/8.5.0", "/shop/cart"); code != 403 {
		t.Fatalf("before: %d", code)
	}
	ev := refusedEvent(t, e, "203.0.113.50")
	ctx := context.Background()
	for _, ch := range []core.AllowChoice{{Kind: core.AllowClient}, {Kind: core.AllowUserAgent}, {Kind: core.AllowPath, Value: "/shop/cart"}} {
		var wg sync.WaitGroup
		var mu sync.Mutex
		added := 0
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, a, err := e.Service.AllowFromEvent(ctx, e.Caller, shop, ev.ID, ch)
				if err != nil {
					t.Errorf("%s: %v", ch.Kind, err)
				}
				mu.Lock()
				if a {
					added++
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		if added != 1 {
			t.Errorf("%s: %d clicks reported 'added'", ch.Kind, added)
		}
	}
	_, st, err := e.Service.WebsiteSettings(ctx, e.Caller, shop)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Allow) != 1 || len(st.Rules) != 2 {
		t.Errorf("allow list %q, %d rules; want 1 entry and 2 rules", st.Allow, len(st.Rules))
	}
}
