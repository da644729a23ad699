package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestPartnerDefaultLang: migration 16's partners.default_lang starts as en,
// is written with the branding, and holds two lower-case letters only.
func TestPartnerDefaultLang(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := core.Partner{Name: "acme", CreatedAt: time.Unix(1_700_000_000, 0).UTC()}
		if err := db.Update(ctx, func(tx core.Tx) error { return tx.InsertPartner(ctx, &p) }); err != nil {
			t.Fatal(err)
		}
		read := func() string {
			t.Helper()
			var got core.Partner
			if err := db.View(ctx, func(tx core.Tx) (err error) { got, err = tx.Partner(ctx, p.ID, false); return err }); err != nil {
				t.Fatal(err)
			}
			return got.DefaultLang
		}
		if got := read(); got != "en" {
			t.Fatalf("a new partner's default_lang: %q", got)
		}
		if err := db.Update(ctx, func(tx core.Tx) error { return tx.SetPartnerBranding(ctx, p.ID, core.Branding{DefaultLang: "de"}) }); err != nil {
			t.Fatal(err)
		}
		if got := read(); got != "de" {
			t.Fatalf("after SetPartnerBranding de: %q", got)
		}
		for _, bad := range []string{"EN", "deu", "d1"} {
			if err := db.Update(ctx, func(tx core.Tx) error { return tx.SetPartnerBranding(ctx, p.ID, core.Branding{DefaultLang: bad}) }); err == nil {
				t.Errorf("default_lang %q was stored", bad)
			}
		}
		if got := read(); got != "de" {
			t.Fatalf("after refused writes: %q", got)
		}
	})
}
