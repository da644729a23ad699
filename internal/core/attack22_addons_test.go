package core_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestAttack22StaleAddonKeepsNewWebsiteFeature: a deleted website's
// scanning add-on stays addressable by its addon_id (XML deleteAddon).
// Removing it must not switch off the feature of the website registered
// since under the same domain, which has bought and pays for its own
// add-on.
func TestAttack22StaleAddonKeepsNewWebsiteFeature(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		root := t.TempDir()
		f := newFixture(t, db, func(c *core.Config) { c.ScanRoots = []string{root}; c.ScanAddonsRequired = true })
		start := time.Date(2027, 3, 10, 9, 0, 0, 0, time.UTC)
		f.now.Store(&start)
		c := f.partner(t, "stale", 100_000)
		on := core.ScanSettings{Files: core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "local", Path: root + "/shop"}}}

		old, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "shop.example", Plan: "10k"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		stale, err := f.svc.ProvisionAddon(ctx, c, old.ID, core.AddonSmart, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SetWebsiteScanSettings(ctx, c, "shop.example", on); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.DeleteWebsite(ctx, c, "shop.example", core.Match{}); err != nil {
			t.Fatal(err)
		}

		f.advance(time.Hour)
		w, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "shop.example", Plan: "10k"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		if w.ID == old.ID {
			t.Fatal("the new registration reused the deleted website's id")
		}
		if _, err := f.svc.ProvisionAddon(ctx, c, w.ID, core.AddonSmart, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SetWebsiteScanSettings(ctx, c, "shop.example", on); err != nil {
			t.Fatal(err)
		}

		// The old website's add-on, removed by its id.
		if err := f.svc.DeleteAddon(ctx, c, stale.ID); err != nil && core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatal(err)
		}
		got, err := f.svc.WebsiteScanSettings(ctx, c, "shop.example")
		if err != nil {
			t.Fatal(err)
		}
		if !got.Files.Enabled {
			t.Fatal("removing the deleted website's smart add-on switched off the file scan of the new shop.example, which still has (and is charged for) its own smart add-on")
		}
	})
}

// TestAttack22ConcurrentFeaturePurchase: two purchases of one feature at
// the same moment (a billing module's retry racing the first request)
// buy it once and charge it once.
func TestAttack22ConcurrentFeaturePurchase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		start := time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC)
		f.now.Store(&start)
		c := f.partner(t, "racer", 100_000)
		for round := 0; round < 10; round++ {
			domain := "race" + string(rune('a'+round)) + ".example"
			w, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: domain, Plan: "10k"}, core.Idem{})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					_, errs[i] = f.svc.ProvisionAddon(ctx, c, w.ID, core.AddonBackup, 1)
				}(i)
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				switch core.ErrorCode(err) {
				case "":
					ok++
				case core.ECONFLICT:
				default:
					t.Fatalf("round %d: %v", round, err)
				}
			}
			if ok != 1 {
				t.Fatalf("round %d: %d purchases of one feature went through; want 1", round, ok)
			}
			as, err := f.svc.Addons(ctx, c, w.ID)
			if err != nil || len(as) != 1 {
				t.Fatalf("round %d: add-ons %+v %v", round, as, err)
			}
		}
		// Each website: the plan (500) and one month of backup bought
		// the minute it was registered.
		f.checkLedger(t, c, 100_000-10*(500+core.DefaultBackupPrice))
	})
}

// TestAttack22AddonOnExpiredWebsite: an add-on is charged "as an upgrade
// is" for what is left of the term; an expired website has none left, so
// a purchase (or an increase) would charge 0.00 and the feature would run
// for free until a renewal that may never come. It is refused as an
// upgrade is (renew first), and nothing is charged or added.
func TestAttack22AddonOnExpiredWebsite(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		start := time.Date(2027, 1, 31, 10, 0, 0, 0, time.UTC)
		f.now.Store(&start)
		c := f.partner(t, "lapsed", 100_000)
		w, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "lapsed.example", Plan: "10k"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		extra, err := f.svc.ProvisionAddon(ctx, c, w.ID, core.AddonExtraRequests, 1)
		if err != nil {
			t.Fatal(err)
		}
		bal := core.Cents(100_000 - 500 - 250)
		f.checkLedger(t, c, bal)
		// 28 February 10:00 is the end of the term: nothing is left.
		f.advance(28 * 24 * time.Hour)
		for _, p := range []string{core.AddonSmart, core.AddonBackup, core.AddonExtraRequests} {
			_, err := f.svc.ProvisionAddon(ctx, c, w.ID, p, 1)
			wantCode(t, err, core.ECONFLICT)
			if !errors.Is(err, core.ErrWebsiteExpired) {
				t.Fatalf("%s on an expired website: %v", p, err)
			}
		}
		_, err = f.svc.ModifyAddon(ctx, c, extra.ID, 5)
		wantCode(t, err, core.ECONFLICT)
		// A decrease charges nothing and is still allowed.
		if _, err := f.svc.ModifyAddon(ctx, c, extra.ID, 1); err != nil {
			t.Fatal(err)
		}
		as, err := f.svc.Addons(ctx, c, w.ID)
		if err != nil || len(as) != 1 || as[0].Quantity != 1 {
			t.Fatalf("add-ons of the expired website: %+v %v", as, err)
		}
		f.checkLedger(t, c, bal)
		// Renewed (from today, 28 February: to 28 March), it is bought
		// for the new term.
		if _, _, err := f.svc.Renew(ctx, c, "lapsed.example", 1, core.Match{}, core.Idem{}); err != nil {
			t.Fatal(err)
		}
		bal -= 500 + 250
		if _, err := f.svc.ProvisionAddon(ctx, c, w.ID, core.AddonSmart, 1); err != nil {
			t.Fatal(err)
		}
		bal -= core.DefaultSmartPrice
		f.checkLedger(t, c, bal)
	})
}

// TestAttack22KeyedPurchaseRacing: retries of one purchase with its
// Idempotency-Key arriving at the same moment buy one add-on and charge
// once; each answer is that add-on or "still in progress".
func TestAttack22KeyedPurchaseRacing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		start := time.Date(2027, 12, 31, 23, 30, 0, 0, time.UTC)
		f.now.Store(&start)
		c := f.partner(t, "keyed", 100_000)
		w, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "keyed.example", Plan: "10k"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		idem := core.Idem{Key: "po-4411", Hash: "same request"}
		var wg sync.WaitGroup
		got := make([]core.Addon, 6)
		errs := make([]error, len(got))
		for i := range got {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				got[i], _, errs[i] = f.svc.ProvisionAddonKeyed(ctx, c, w.ID, core.AddonExtraRequests, 4, idem)
			}(i)
		}
		wg.Wait()
		var id int64
		for i, err := range errs {
			switch {
			case err == nil && (id == 0 || got[i].ID == id):
				id = got[i].ID
			case core.ErrorCode(err) == core.ECONFLICT:
			default:
				t.Fatalf("answer %d: %+v %v", i, got[i], err)
			}
		}
		as, err := f.svc.Addons(ctx, c, w.ID)
		if err != nil || len(as) != 1 || as[0].ID != id || as[0].Quantity != 4 {
			t.Fatalf("add-ons %+v %v; want the one add-on %d", as, err, id)
		}
		f.checkLedger(t, c, 100_000-500-4*core.DefaultAddonUnitPrice)
	})
}
