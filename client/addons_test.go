package client_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/client"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestAddons: the add-on methods against a real server that requires
// scanning add-ons: the products listed with their prices, a feature
// bought, refused twice and with another quantity, switched on in the
// scan settings only once bought, and switched off by its removal.
func TestAddons(t *testing.T) {
	pal := testenv.New(t, func(c *core.Config) {
		c.ScanRoots = []string{"/var/www"}
		c.ScanAddonsRequired = true
		c.SmartPrice = 399
	})
	ctx := context.Background()
	c := client.New(pal.URL, pal.PartnerKey)
	pal.Website(t, "shop.example.com", engine.Settings{})
	const d = "shop.example.com"

	l, err := c.Addons(ctx, d)
	if err != nil || l.Domain != d || len(l.Data) != 0 || len(l.Products) != 5 || !l.ScanAddonsRequired {
		t.Fatalf("addons: %+v %v", l, err)
	}
	for _, p := range l.Products {
		if p.Addon == client.AddonSmart && (p.MonthlyPrice != "3.99" || p.MaxQuantity != 1) {
			t.Fatalf("smart on sale as %+v", p)
		}
	}
	on := client.ScanSettings{Files: client.FileScanSettings{Enabled: true, Source: client.FileSource{Kind: "local", Path: "/var/www/shop"}}}
	var ce *client.Error
	if _, err := c.PutScanner(ctx, d, on); !errors.Is(err, client.ErrPreconditionFailed) || !errors.As(err, &ce) || ce.Field != "files.enabled" {
		t.Fatalf("files on without smart: %v", err)
	}
	a, err := c.AddAddon(ctx, d, client.AddonSmart, 1)
	if err != nil || a.Addon != client.AddonSmart || a.Quantity != 1 || a.MonthlyPrice != "3.99" || a.ID == 0 {
		t.Fatalf("add smart: %+v %v", a, err)
	}
	if _, err := c.AddAddon(ctx, d, client.AddonSmart, 1); !errors.Is(err, client.ErrConflict) {
		t.Fatalf("smart twice: %v", err)
	}
	if _, err := c.AddAddon(ctx, d, client.AddonBackup, 3); !errors.Is(err, client.ErrInvalid) || !strings.Contains(err.Error(), "must be 1") {
		t.Fatalf("three backups: %v", err)
	}
	if _, err := c.SetAddonQuantity(ctx, d, a.ID, 2); !errors.Is(err, client.ErrInvalid) {
		t.Fatalf("two smarts: %v", err)
	}
	if sc, err := c.PutScanner(ctx, d, on); err != nil || !sc.Settings.Files.Enabled {
		t.Fatalf("files on with smart: %+v %v", sc, err)
	}
	if err := c.RemoveAddon(ctx, d, a.ID); err != nil {
		t.Fatal(err)
	}
	if sc, err := c.Scanner(ctx, d); err != nil || sc.Settings.Files.Enabled || sc.Settings.Files.Source.Path != "/var/www/shop" {
		t.Fatalf("after the removal: %+v %v", sc, err)
	}
	if err := c.RemoveAddon(ctx, d, a.ID); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("removed twice: %v", err)
	}
}
