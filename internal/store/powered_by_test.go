package store_test

import (
	"context"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestPartnerPoweredBy: migration 20's partners.powered_by is off for a
// partner made before it, is written with the branding, and the migration
// goes down and up again cleanly.
func TestPartnerPoweredBy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.MigrateDownTo(ctx, 19); err != nil {
			t.Fatal(err)
		}
		if err := db.Exec(ctx, "INSERT INTO partners (name, created_at) VALUES ('old', '2026-11-01 00:00:00')"); err != nil {
			t.Fatal(err)
		}
		if err := db.MigrateUpTo(ctx, 1<<62); err != nil {
			t.Fatal(err)
		}
		read := func() core.Partner {
			t.Helper()
			var p core.Partner
			if err := db.View(ctx, func(tx core.Tx) (err error) { p, err = tx.PartnerByName(ctx, "old"); return err }); err != nil {
				t.Fatal(err)
			}
			return p
		}
		p := read()
		if p.PoweredBy || p.Branding().PoweredBy {
			t.Fatalf("a partner from before migration 20 shows the product's name: %+v", p)
		}
		for _, on := range []bool{true, false, true} {
			if err := db.Update(ctx, func(tx core.Tx) error {
				return tx.SetPartnerBranding(ctx, p.ID, core.Branding{Name: "Acme", PoweredBy: on})
			}); err != nil {
				t.Fatal(err)
			}
			if got := read(); got.PoweredBy != on || got.Branding().PoweredBy != on || got.BrandName != "Acme" {
				t.Fatalf("after SetPartnerBranding powered_by=%v: %+v", on, got)
			}
		}
		if err := db.MigrateDownTo(ctx, 19); err != nil {
			t.Fatalf("down from 20: %v", err)
		}
		if err := db.MigrateUpTo(ctx, 1<<62); err != nil {
			t.Fatalf("up again: %v", err)
		}
		if read().PoweredBy {
			t.Fatal("powered_by survived going down and up")
		}
	})
}
