package client_test

import (
	"context"
	"testing"

	"github.com/palisadehq/palisade/client"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestAttack22AddAddonRetried: a billing module that retries AddAddon
// (after ErrOutcomeUnknown, a timeout) with its IdempotencyKey gets the
// first add-on back and is charged once.
func TestAttack22AddAddonRetried(t *testing.T) {
	pal := testenv.New(t)
	ctx := context.Background()
	c := client.New(pal.URL, pal.PartnerKey)
	pal.Website(t, "shop.example.com", engine.Settings{})
	balance := func() core.Cents {
		t.Helper()
		p, err := pal.Service.Partner(ctx, pal.Caller)
		if err != nil {
			t.Fatal(err)
		}
		return p.Balance
	}
	before := balance()
	o := client.Options{IdempotencyKey: "invoice-881-extra"}
	a, err := c.AddAddon(ctx, "shop.example.com", "extra_requests", 3, o)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.AddAddon(ctx, "shop.example.com", "extra_requests", 3, o)
	if err != nil || again.ID != a.ID {
		t.Fatalf("retry: %+v %v; want add-on %d", again, err, a.ID)
	}
	l, err := c.Addons(ctx, "shop.example.com")
	if err != nil || len(l.Data) != 1 {
		t.Fatalf("add-ons after a retried purchase: %+v %v", l.Data, err)
	}
	if charged := before - balance(); charged != 3*core.DefaultAddonUnitPrice {
		t.Fatalf("charged %s for one purchase of 3 units; want %s", charged, 3*core.DefaultAddonUnitPrice)
	}
}
