package core_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// scanAddonPrices are the operator's prices in these tests: smart's is odd,
// so that half a month of it is a half cent, rounded up.
func scanAddonPrices(c *core.Config) {
	c.SmartPrice, c.SmartPatchPrice, c.SmartDatabasePrice, c.BackupPrice = 333, 150, 200, 401
}

// TestScanAddonBilling: the scanning add-ons are charged as extra_requests
// is: pro rata for the rest of the term on adding (at a month's end: a
// website registered on 31 January runs to 28 February), their monthly
// price with every renewal, nothing back on removal; a feature is had
// once (quantity 1, a second one refused and not charged).
func TestScanAddonBilling(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, scanAddonPrices)
		start := time.Date(2027, 1, 31, 8, 15, 0, 0, time.UTC)
		f.now.Store(&start)
		c := f.partner(t, "scanbilling", 100_000)
		bal := core.Cents(100_000)
		w, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "shop.example", Plan: "10k"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		bal -= 500
		if want := time.Date(2027, 2, 28, 8, 15, 0, 0, time.UTC); !w.ExpiresAt.Equal(want) {
			t.Fatalf("expires %s; want %s", w.ExpiresAt, want)
		}
		// 14 February 08:15: 14 of the term's 28 days are left, half a
		// month.
		f.advance(14 * 24 * time.Hour)
		want := map[string]core.Cents{
			core.AddonSmart:         167, // 333 / 2 = 166.5, half up
			core.AddonSmartPatch:    75,
			core.AddonSmartDatabase: 100,
			core.AddonBackup:        201, // 200.5
			core.AddonExtraRequests: 250, // 2 × 250 / 2
		}
		ids := map[string]int64{}
		for _, p := range []string{core.AddonSmart, core.AddonSmartPatch, core.AddonSmartDatabase, core.AddonBackup, core.AddonExtraRequests} {
			qty := int64(1)
			if p == core.AddonExtraRequests {
				qty = 2
			}
			a, err := f.svc.ProvisionAddon(ctx, c, w.ID, p, qty)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if a.Product != p || a.Quantity != qty || a.Status != "active" {
				t.Fatalf("%s: %+v", p, a)
			}
			ids[p] = a.ID
			bal -= want[p]
			f.checkLedger(t, c, bal)
		}
		es, err := f.svc.LatestLedger(ctx, c, 1)
		if err != nil || len(es) != 1 || !strings.Contains(es[0].Reason, "add-on extra_requests on shop.example") {
			t.Fatalf("latest ledger entry: %+v %v", es, err)
		}
		if es, err = f.svc.LatestLedger(ctx, c, 5); err != nil || es[4].Reason != "add-on smart on shop.example: malware scanning (SMART) at 3.33 a month for the 14.0 days left of the term" {
			t.Fatalf("smart's ledger entry: %+v %v", es, err)
		}

		// A feature bought twice (a retry, say) is refused and not charged.
		_, err = f.svc.ProvisionAddon(ctx, c, w.ID, core.AddonSmart, 1)
		wantCode(t, err, core.ECONFLICT)
		if !errors.Is(err, core.ErrAddonExists) || !strings.Contains(err.Error(), "addon_id") {
			t.Fatalf("second smart: %v", err)
		}
		// Quantity 1 only, in both directions.
		for _, q := range []int64{0, 2, -1} {
			_, err = f.svc.ProvisionAddon(ctx, c, w.ID, core.AddonBackup, q)
			wantField(t, err, "quantity")
			_, err = f.svc.ModifyAddon(ctx, c, ids[core.AddonBackup], q)
			wantField(t, err, "quantity")
		}
		if _, err := f.svc.ModifyAddon(ctx, c, ids[core.AddonBackup], 1); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.ProvisionAddon(ctx, c, w.ID, "smart_files", 1)
		wantField(t, err, "addon")
		if !strings.Contains(err.Error(), "extra_requests, smart, smart_patch, smart_database, backup") {
			t.Fatalf("unknown product: %v", err)
		}
		f.checkLedger(t, c, bal)

		// A renewal charges the plan and every add-on for each month:
		// 28 February → 31 March → 30 April (the anniversary day kept).
		monthly := core.Cents(500 + 333 + 150 + 200 + 401 + 2*250)
		w, _, err = f.svc.Renew(ctx, c, "shop.example", 2, core.Match{}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		bal -= 2 * monthly
		f.checkLedger(t, c, bal)
		if want := time.Date(2027, 4, 30, 8, 15, 0, 0, time.UTC); !w.ExpiresAt.Equal(want) {
			t.Fatalf("renewed: expires %s; want %s", w.ExpiresAt, want)
		}
		es, _ = f.svc.LatestLedger(ctx, c, 1)
		if r := es[0].Reason; r != "renew shop.example on plan 10k for 2 month(s) with 2 add-on unit(s) with add-ons smart, smart_patch, smart_database, backup" {
			t.Fatalf("renewal reason %q", r)
		}

		// Removed: nothing comes back, and the next renewal does not
		// charge it.
		if err := f.svc.DeleteAddon(ctx, c, ids[core.AddonSmart]); err != nil {
			t.Fatal(err)
		}
		f.checkLedger(t, c, bal)
		if _, _, err := f.svc.Renew(ctx, c, "shop.example", 1, core.Match{}, core.Idem{}); err != nil {
			t.Fatal(err)
		}
		bal -= monthly - 333
		f.checkLedger(t, c, bal)
		// Bought again: charged again for what is left of the term, now
		// to 31 May (the clock still at 14 February 08:15: 14 of the
		// current month's 28 days and 3 whole months, 3.5 months).
		if _, err := f.svc.ProvisionAddon(ctx, c, w.ID, core.AddonSmart, 1); err != nil {
			t.Fatal(err)
		}
		bal -= 1166 // 333 × 3.5 = 1165.5
		f.checkLedger(t, c, bal)

	})
}

// TestScanAddonUpgradeKeepsAddons: an upgrade charges the plan's
// difference only; the add-ons keep their price, and the renewal after it
// charges the new plan with them.
func TestScanAddonUpgradeKeepsAddons(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		start := time.Date(2028, 2, 29, 23, 0, 0, 0, time.UTC) // a leap day
		f.now.Store(&start)
		c := f.partner(t, "upgrader", 100_000)
		w, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "leap.example", Plan: "10k"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		// Bought the minute it was registered: the whole month.
		if _, err := f.svc.ProvisionAddon(ctx, c, w.ID, core.AddonBackup, 1); err != nil {
			t.Fatal(err)
		}
		bal := 100_000 - 500 - core.DefaultBackupPrice
		f.checkLedger(t, c, bal)
		if _, _, err := f.svc.ChangePlan(ctx, c, "leap.example", "20k", core.Match{}, core.Idem{}); err != nil {
			t.Fatal(err)
		}
		bal -= 900 - 500
		f.checkLedger(t, c, bal)
		w, _, err = f.svc.Renew(ctx, c, "leap.example", 12, core.Match{}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		bal -= 12 * (900 + core.DefaultBackupPrice)
		f.checkLedger(t, c, bal)
		// 29 March 2028 + 12 months, on the 29th: 29 March 2029.
		if want := time.Date(2029, 3, 29, 23, 0, 0, 0, time.UTC); !w.ExpiresAt.Equal(want) {
			t.Fatalf("expires %s; want %s", w.ExpiresAt, want)
		}
	})
}

// TestScanAddonGating: with add-ons required, a feature is switched on only
// when the website has its add-on; removing the add-on switches it off in
// the same change; a feature already on is left alone; without the
// requirement the add-ons are not needed.
func TestScanAddonGating(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		root := t.TempDir()
		roots := func(c *core.Config) { c.ScanRoots = []string{root} }
		free := newFixture(t, db, roots)
		f := newFixture(t, db, roots, func(c *core.Config) { c.ScanAddonsRequired = true })
		c := f.partner(t, "gated", 100_000)
		w, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "gated.example", Plan: "10k"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		st := core.ScanSettings{
			Files:    core.FileScanSettings{Source: core.FileSource{Kind: "local", Path: root + "/gated"}, EveryHours: 24},
			Database: core.DBScanSettings{Host: "db.gated.example", User: "wp", Name: "wp_gated", TablePrefix: "wp_"},
		}
		// Where the files are may be set without any add-on.
		if _, err := f.svc.SetWebsiteScanSettings(ctx, c, "gated.example", st); err != nil {
			t.Fatal(err)
		}
		on := st
		on.Files.Enabled = true
		_, err = f.svc.SetWebsiteScanSettings(ctx, c, "gated.example", on)
		wantCode(t, err, core.EPRECONDITION)
		wantField(t, err, "files.enabled")
		if !errors.Is(err, core.ErrAddonRequired) || !strings.Contains(err.Error(), "add-on smart") {
			t.Fatalf("files on without smart: %v", err)
		}
		got, err := f.svc.WebsiteScanSettings(ctx, c, "gated.example")
		if err != nil || got.Files.Enabled {
			t.Fatalf("refused change stored: %+v %v", got.Files, err)
		}
		// The XML API's set methods edit: the same check.
		_, err = f.svc.EditWebsiteScanSettings(ctx, c, "gated.example", func(s *core.ScanSettings) error { s.Database.Enabled = true; return nil })
		wantField(t, err, "database.enabled")

		smart, err := f.svc.ProvisionAddon(ctx, c, w.ID, core.AddonSmart, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SetWebsiteScanSettings(ctx, c, "gated.example", on); err != nil {
			t.Fatalf("files on with smart: %v", err)
		}
		// smart buys the file scan only.
		both := on
		both.Patch.Enabled = true
		_, err = f.svc.SetWebsiteScanSettings(ctx, c, "gated.example", both)
		wantField(t, err, "patch.enabled")
		// Another website's add-on does not count.
		if _, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "other.example", Plan: "10k"}, core.Idem{}); err != nil {
			t.Fatal(err)
		}
		other := core.ScanSettings{Files: core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "local", Path: root + "/other"}}}
		_, err = f.svc.SetWebsiteScanSettings(ctx, c, "other.example", other)
		wantField(t, err, "files.enabled")

		// Removing smart switches the file scan off, the rest kept.
		if err := f.svc.DeleteAddon(ctx, c, smart.ID); err != nil {
			t.Fatal(err)
		}
		got, err = f.svc.WebsiteScanSettings(ctx, c, "gated.example")
		if err != nil || got.Files.Enabled || got.Files.Source.Path != root+"/gated" || got.Files.EveryHours != 24 || got.Database.Name != "wp_gated" {
			t.Fatalf("after smart was removed: %+v %v", got, err)
		}
		_, err = f.svc.RequestScan(ctx, c, "gated.example", core.ScanFiles)
		wantCode(t, err, core.EPRECONDITION)
		_, err = f.svc.SetWebsiteScanSettings(ctx, c, "gated.example", on)
		wantField(t, err, "files.enabled")

		// A feature switched on while the operator did not require
		// add-ons stays on through later changes, until switched off.
		if _, err := free.svc.SetWebsiteScanSettings(ctx, c, "gated.example", on); err != nil {
			t.Fatalf("without the requirement: %v", err)
		}
		later := on
		later.Files.EveryHours = 6
		if got, err = f.svc.SetWebsiteScanSettings(ctx, c, "gated.example", later); err != nil || !got.Files.Enabled {
			t.Fatalf("a change of a feature already on: %+v %v", got.Files, err)
		}
		later.Files.Enabled = false
		if _, err = f.svc.SetWebsiteScanSettings(ctx, c, "gated.example", later); err != nil {
			t.Fatal(err)
		}
		later.Files.Enabled = true
		_, err = f.svc.SetWebsiteScanSettings(ctx, c, "gated.example", later)
		wantField(t, err, "files.enabled")
	})
}

func wantField(t *testing.T, err error, field string) {
	t.Helper()
	var e *core.Error
	if !errors.As(err, &e) || e.Field != field {
		t.Fatalf("error %v; want one about field %q", err, field)
	}
}

// TestScanAddonRemovalRacingAnEdit: an edit switching the scan on and the
// removal of its add-on, at the same time, never leave the scan on
// without its add-on, whichever commits first.
func TestScanAddonRemovalRacingAnEdit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		root := t.TempDir()
		f := newFixture(t, db, func(c *core.Config) { c.ScanRoots = []string{root}; c.ScanAddonsRequired = true })
		c := f.partner(t, "racer", 1_000_000)
		w, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "race.example", Plan: "10k"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		on := core.ScanSettings{Files: core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "local", Path: root + "/race"}}}
		off := on
		off.Files.Enabled = false
		edits := 0
		for i := 0; i < 20; i++ {
			if _, err := f.svc.SetWebsiteScanSettings(ctx, c, "race.example", off); err != nil {
				t.Fatal(err)
			}
			a, err := f.svc.ProvisionAddon(ctx, c, w.ID, core.AddonSmart, 1)
			if err != nil {
				t.Fatal(err)
			}
			editErr, delErr := make(chan error, 1), make(chan error, 1)
			go func() { _, err := f.svc.SetWebsiteScanSettings(ctx, c, "race.example", on); editErr <- err }()
			go func() { delErr <- f.svc.DeleteAddon(ctx, c, a.ID) }()
			if err := <-delErr; err != nil {
				t.Fatalf("round %d: removal: %v", i, err)
			}
			switch err := <-editErr; {
			case err == nil:
				edits++
			case errors.Is(err, core.ErrAddonRequired):
			default:
				t.Fatalf("round %d: edit: %v", i, err)
			}
			st, err := f.svc.WebsiteScanSettings(ctx, c, "race.example")
			if err != nil || st.Files.Enabled {
				t.Fatalf("round %d: the scan is on without its add-on: %+v %v", i, st.Files, err)
			}
		}
		t.Logf("%s: %d of 20 edits went through before the removal", db.Name(), edits)
	})
}
