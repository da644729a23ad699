package core_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestCalendarBilling registers a website on every day of 2027 and 2028 (a
// leap year; every seventh day on PostgreSQL and with -short) and, for each, renews it by 1..36 months (cycling), upgrades
// it, and renews it again to a date: expiry dates keep the anniversary day
// (clamped to short months, never drifting), and each charge is the
// documented formula, computed here from the plan prices alone.
func TestCalendarBilling(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		c := f.partner(t, "calendar", 100_000_000)
		balance := core.Cents(100_000_000)
		const p10k, p20k = 500, 900
		i := 0
		for start := time.Date(2027, 1, 1, 8, 15, 0, 0, time.UTC); start.Year() < 2029; start = start.AddDate(0, 0, 1) {
			// SQLite walks every day; PostgreSQL (the same core, another
			// store) and -short runs a sample of them.
			if (testing.Short() || db.Name() == "postgres") && i%7 != 0 {
				i++
				continue
			}
			f.now.Store(&start)
			anniv := start.Day()
			domain := fmt.Sprintf("d%d.calendar.example", i)
			n := i%36 + 1
			i++

			w, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: domain, Plan: "10k"}, core.Idem{})
			if err != nil {
				t.Fatal(err)
			}
			balance -= p10k
			if want := core.AddMonths(start, 1, anniv); !w.ExpiresAt.Equal(want) {
				t.Fatalf("%s registered on %s expires %s; want %s", domain, start, w.ExpiresAt, want)
			}
			w, _, err = f.svc.Renew(ctx, c, domain, n, core.Match{}, core.Idem{})
			if err != nil {
				t.Fatal(err)
			}
			balance -= p10k * core.Cents(n)
			if want := core.AddMonths(start, 1+n, anniv); !w.ExpiresAt.Equal(want) {
				t.Fatalf("%s registered %s, renewed %d months: expires %s; want %s", domain, start.Format("2006-01-02"), n, w.ExpiresAt, want)
			}
			// Upgrading right away costs the difference for the whole
			// term: 1 + n months.
			if _, _, err := f.svc.ChangePlan(ctx, c, domain, "20k", core.Match{}, core.Idem{}); err != nil {
				t.Fatal(err)
			}
			balance -= (p20k - p10k) * core.Cents(1+n)
			// A renewal to a date: one month after the current expiry, on
			// the anniversary day, given as a plain date.
			next := core.AddMonths(w.ExpiresAt, 1, anniv)
			y, m, d := next.Date()
			w, err = f.svc.RenewUntil(ctx, c, domain, time.Date(y, m, d, 0, 0, 0, 0, time.UTC))
			if err != nil {
				t.Fatalf("%s: renew until %s: %v", domain, next.Format("2006-01-02"), err)
			}
			balance -= p20k
			if want := core.AddMonths(start, 2+n, anniv); !w.ExpiresAt.Equal(want) {
				t.Fatalf("%s: renewed until %s, expires %s; want %s", domain, next.Format("2006-01-02"), w.ExpiresAt, want)
			}
			f.checkLedger(t, c, balance)
		}
	})
}

// TestUpgradeChargesTheWholeTerm: after a 35-month renewal, an upgrade from
// 10k to 200k costs the monthly difference for every month left, not one.
func TestUpgradeChargesTheWholeTerm(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db) // the clock starts at the test's date
		c := f.partner(t, "longterm", 1_000_000)
		created := *f.now.Load()
		first, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "long.example", Plan: "10k"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.Renew(ctx, c, "long.example", 35, core.Match{}, core.Idem{}); err != nil {
			t.Fatal(err)
		}
		f.checkLedger(t, c, 1_000_000-500*36)
		// Halfway through the first month, however long it is: 35 whole
		// months and half of this one are left.
		f.advance(first.ExpiresAt.Sub(created) / 2)
		if _, _, err := f.svc.ChangePlan(ctx, c, "long.example", "200k", core.Match{}, core.Idem{}); err != nil {
			t.Fatal(err)
		}
		f.checkLedger(t, c, 1_000_000-500*36-5500*355/10)
		// An add-on bought now is charged for the same term.
		w, err := f.svc.Website(ctx, c, "long.example")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.ProvisionAddon(ctx, c, w.ID, core.AddonExtraRequests, 2); err != nil {
			t.Fatal(err)
		}
		f.checkLedger(t, c, 1_000_000-500*36-5500*355/10-2*core.DefaultAddonUnitPrice*355/10)
	})
}

// TestModifyWebsiteIsAtomic: one call's changes land together or not at all.
func TestModifyWebsiteIsAtomic(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		c := f.partner(t, "atomic", 20_000)
		if _, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "a.example", Plan: "20k"}, core.Idem{}); err != nil {
			t.Fatal(err)
		}
		before, err := f.svc.Website(ctx, c, "a.example")
		if err != nil {
			t.Fatal(err)
		}
		paused := core.StatusPaused
		// Suspend plus a refused downgrade: nothing happens.
		_, _, err = f.svc.ModifyWebsite(ctx, c, "a.example", core.WebsiteChange{Status: &paused, Plan: "10k"}, core.Match{}, core.Idem{})
		wantCode(t, err, core.EFORBIDDEN)
		if !errorsIs(err, core.ErrDowngradeNotAllowed) {
			t.Fatalf("refused downgrade does not carry ErrDowngradeNotAllowed: %v", err)
		}
		// Suspend plus a renewal beyond the credit: nothing happens.
		_, _, err = f.svc.ModifyWebsite(ctx, c, "a.example", core.WebsiteChange{Status: &paused, RenewMonths: 36}, core.Match{}, core.Idem{})
		wantCode(t, err, core.EPAYMENTREQUIRED)
		after, err := f.svc.Website(ctx, c, "a.example")
		if err != nil {
			t.Fatal(err)
		}
		if after.Status != before.Status || after.Version != before.Version || after.Plan.Name != "20k" || !after.ExpiresAt.Equal(before.ExpiresAt) {
			t.Fatalf("a refused call changed the website: %+v → %+v", before, after)
		}
		f.checkLedger(t, c, 20_000-900)
		// Upgrade, renew and suspend in one call: all land, one version.
		w, _, err := f.svc.ModifyWebsite(ctx, c, "a.example", core.WebsiteChange{Status: &paused, Plan: "40k", RenewMonths: 2}, core.Match{}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		if w.Status != core.StatusPaused || w.Plan.Name != "40k" || w.Version != before.Version+1 || !w.ExpiresAt.Equal(core.AddMonths(before.ExpiresAt, 2, before.BillingDay)) {
			t.Fatalf("combined change: %+v", w)
		}
		f.checkLedger(t, c, 20_000-900-700-1600*2)
		// A paused website cannot change plan unless the call resumes it.
		_, _, err = f.svc.ModifyWebsite(ctx, c, "a.example", core.WebsiteChange{Plan: "100k"}, core.Match{}, core.Idem{})
		if !errorsIs(err, core.ErrWebsitePaused) {
			t.Fatalf("plan change on a paused website: %v", err)
		}
		online := core.StatusOnline
		w, _, err = f.svc.ModifyWebsite(ctx, c, "a.example", core.WebsiteChange{Status: &online, Plan: "100k"}, core.Match{}, core.Idem{})
		if err != nil || w.Status == core.StatusPaused || w.Plan.Name != "100k" {
			t.Fatalf("resume and upgrade: %+v %v", w, err)
		}
	})
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// TestAddonRacingARenewal: an add-on increase that waits on the partner's
// lock behind a renewal is priced against the renewed term, so the total
// equals one of the two orders run one after the other (PostgreSQL, where
// writers run concurrently; before the fix the add-on was priced against
// the stale expiry and the renewal's months went unpaid).
func TestAddonRacingARenewal(t *testing.T) {
	url := storetest.PostgresSchemaURL(t)
	db, err := store.OpenPostgres(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	f := newFixture(t, db)
	c := f.partner(t, "racer", 100_000_000)
	w, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "race.example", Plan: "10k"}, core.Idem{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.svc.ProvisionAddon(ctx, c, w.ID, core.AddonExtraRequests, 1)
	if err != nil {
		t.Fatal(err)
	}
	before, _, err := f.svc.LedgerBalanced(ctx, core.Operator(), c.PartnerID)
	if err != nil {
		t.Fatal(err)
	}
	// Hold the partner's row so that both calls queue behind it.
	raw, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	hold, err := raw.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hold.ExecContext(ctx, "SELECT id FROM partners WHERE id = $1 FOR UPDATE", c.PartnerID); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	go func() { _, _, err := f.svc.Renew(ctx, c, "race.example", 36, core.Match{}, core.Idem{}); errs <- err }()
	time.Sleep(150 * time.Millisecond)
	go func() { _, err := f.svc.ModifyAddon(ctx, c, a.ID, 1000); errs <- err }()
	time.Sleep(150 * time.Millisecond)
	if err := hold.Commit(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	after, _, err := f.svc.LedgerBalanced(ctx, core.Operator(), c.PartnerID)
	if err != nil {
		t.Fatal(err)
	}
	now, unit := *f.now.Load(), core.DefaultAddonUnitPrice
	renewed := core.AddMonths(w.ExpiresAt, 36, w.BillingDay)
	renewFirst := (500+unit)*36 + core.TermCharge(unit*999, now, renewed, w.BillingDay)
	addonFirst := core.TermCharge(unit*999, now, w.ExpiresAt, w.BillingDay) + (500+unit*1000)*36
	if paid := before - after; paid != renewFirst && paid != addonFirst {
		t.Fatalf("paid %s; one order costs %s, the other %s", paid, renewFirst, addonFirst)
	}
}

// TestExpiredAndDeleted: an expired website is renewed before it is
// upgraded (there is no term left to charge), and a deleted website's
// add-ons cannot be increased.
func TestExpiredAndDeleted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		c := f.partner(t, "lapsed", 100_000)
		w, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "lapsed.example", Plan: "10k"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		a, err := f.svc.ProvisionAddon(ctx, c, w.ID, core.AddonExtraRequests, 1)
		if err != nil {
			t.Fatal(err)
		}
		f.advance(45 * 24 * time.Hour)
		_, _, err = f.svc.ChangePlan(ctx, c, "lapsed.example", "200k", core.Match{}, core.Idem{})
		if !errorsIs(err, core.ErrWebsiteExpired) {
			t.Fatalf("upgrade of an expired website: %v", err)
		}
		// Renewing and upgrading in one call charges both, the upgrade for
		// the renewed month.
		bal, _, _ := f.svc.LedgerBalanced(ctx, core.Operator(), c.PartnerID)
		w2, _, err := f.svc.ModifyWebsite(ctx, c, "lapsed.example", core.WebsiteChange{Plan: "200k", RenewMonths: 1}, core.Match{}, core.Idem{})
		if err != nil || w2.Plan.Name != "200k" {
			t.Fatalf("renew and upgrade: %+v %v", w2, err)
		}
		f.checkLedger(t, c, bal-(500+core.DefaultAddonUnitPrice)-5500)
		if _, err := f.svc.DeleteWebsite(ctx, c, "lapsed.example", core.Match{}); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.ModifyAddon(ctx, c, a.ID, 3)
		wantCode(t, err, core.ENOTFOUND)
	})
}
