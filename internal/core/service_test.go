package core_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/secret"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

type fixture struct {
	svc *core.Service
	db  *store.DB
	now *atomic.Pointer[time.Time]
}

func newFixture(t *testing.T, db *store.DB, configure ...func(*core.Config)) *fixture {
	t.Helper()
	box, err := secret.NewBox(make([]byte, secret.KeySize), nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: db, now: &atomic.Pointer[time.Time]{}}
	// Frozen at the test clock's time (PALISADE_TEST_NOW pins its date), to
	// the second; tests move it with advance.
	start := testclock.Now(t).Truncate(time.Second)
	f.now.Store(&start)
	cfg := core.Config{PublicURL: "https://palisade.test", Nodes: []string{"https://n1.test", "https://n2.test"}}
	for _, c := range configure {
		c(&cfg)
	}
	f.svc = core.NewService(db, box, cfg,
		core.WithClock(func() time.Time { return *f.now.Load() }))
	if _, err := f.svc.SeedPlans(context.Background()); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) advance(d time.Duration) {
	n := f.now.Load().Add(d)
	f.now.Store(&n)
}

// partner creates a partner with credit and returns it as a REST caller.
func (f *fixture) partner(t *testing.T, name string, credit core.Cents) core.Caller {
	t.Helper()
	ctx := context.Background()
	p, key, err := f.svc.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if credit > 0 {
		if _, err := f.svc.TopUp(ctx, core.Operator(), p.ID, credit, ""); err != nil {
			t.Fatal(err)
		}
	}
	c, err := f.svc.Authenticate(ctx, key, mustAddr("127.0.0.1"), core.ProtocolREST)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fixture) checkLedger(t *testing.T, c core.Caller, want core.Cents) {
	t.Helper()
	sum, bal, err := f.svc.LedgerBalanced(context.Background(), c, c.PartnerID)
	if err != nil {
		t.Fatal(err)
	}
	if sum != bal || bal != want {
		t.Fatalf("ledger sum %s, balance %s; want both %s", sum, bal, want)
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if core.ErrorCode(err) != code {
		t.Fatalf("error %v has code %q; want %q", err, core.ErrorCode(err), code)
	}
}

func TestWebsiteLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		c := f.partner(t, "acme", 2000)

		created := *f.now.Load()
		w, replayed, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "Shop.Example.COM", Plan: "10k"}, core.Idem{})
		if err != nil || replayed {
			t.Fatalf("create: %v %v", err, replayed)
		}
		if w.Domain != "shop.example.com" || w.Status != core.StatusSetup || w.Plan.Name != "10k" || w.ServerKey == "" || w.Version != 1 {
			t.Fatalf("created website %+v", w)
		}
		if !w.ExpiresAt.Equal(monthsAfter(created, 1)) {
			t.Fatalf("created %v, expires_at %v; want %v", created, w.ExpiresAt, monthsAfter(created, 1))
		}
		f.checkLedger(t, c, 1500)

		got, err := f.svc.Website(ctx, c, "shop.example.com")
		if err != nil || got.ID != w.ID || got.ServerKey != w.ServerKey {
			t.Fatalf("get: %+v %v", got, err)
		}

		paused := core.StatusPaused
		w, err = f.svc.UpdateWebsite(ctx, c, "shop.example.com", core.WebsiteUpdate{Status: &paused}, core.Match{})
		if err != nil || w.Status != core.StatusPaused || w.Version != 2 || w.PausedAt == nil {
			t.Fatalf("pause: %+v %v", w, err)
		}
		// Pausing again is a no-op.
		w, err = f.svc.UpdateWebsite(ctx, c, "shop.example.com", core.WebsiteUpdate{Status: &paused}, core.Match{})
		if err != nil || w.Version != 2 {
			t.Fatalf("pause again: %+v %v", w, err)
		}
		// A stale version is refused.
		online := core.StatusOnline
		_, err = f.svc.UpdateWebsite(ctx, c, "shop.example.com", core.WebsiteUpdate{Status: &online}, core.Match{WebsiteID: w.ID, Version: 1})
		wantCode(t, err, core.EPRECONDITION)
		w, err = f.svc.UpdateWebsite(ctx, c, "shop.example.com", core.WebsiteUpdate{Status: &online}, core.Match{WebsiteID: w.ID, Version: 2})
		if err != nil || w.Status != core.StatusSetup || w.PausedAt != nil {
			t.Fatalf("resume of a site without traffic: %+v %v", w, err)
		}
		bogus := "deleted"
		_, err = f.svc.UpdateWebsite(ctx, c, "shop.example.com", core.WebsiteUpdate{Status: &bogus}, core.Match{})
		wantCode(t, err, core.EINVALID)

		w, err = f.svc.DeleteWebsite(ctx, c, "shop.example.com", core.Match{})
		if err != nil || w.Status != core.StatusDeleted {
			t.Fatalf("delete: %+v %v", w, err)
		}
		_, err = f.svc.Website(ctx, c, "shop.example.com")
		wantCode(t, err, core.ENOTFOUND)
		_, err = f.svc.DeleteWebsite(ctx, c, "shop.example.com", core.Match{})
		wantCode(t, err, core.ENOTFOUND)

		// The domain is free again; no refund was made.
		if _, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "shop.example.com"}, core.Idem{}); err != nil {
			t.Fatalf("re-register: %v", err)
		}
		f.checkLedger(t, c, 1500)

		audit, err := f.svc.Audit(ctx, c, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		// The console's view: the same log, newest first, as many as asked.
		if latest, err := f.svc.LatestAudit(ctx, c, 2); err != nil || len(latest) != 2 || latest[0].ID != audit[len(audit)-1].ID || latest[1].ID != audit[len(audit)-2].ID {
			t.Fatalf("LatestAudit(2) = %+v, %v; the log ends with %+v", latest, err, audit[len(audit)-2:])
		}
		ledger, err := f.svc.Ledger(ctx, c, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if latest, err := f.svc.LatestLedger(ctx, c, 1); err != nil || len(latest) != 1 || latest[0].ID != ledger[len(ledger)-1].ID {
			t.Fatalf("LatestLedger(1) = %+v, %v; the ledger ends with %+v", latest, err, ledger[len(ledger)-1])
		}
		var actions []string
		for _, e := range audit {
			if e.ObjectType == "website" {
				actions = append(actions, e.Action)
				if e.Protocol != core.ProtocolREST || e.SourceIP != "127.0.0.1" || e.Actor == "" {
					t.Fatalf("audit entry lacks who/how/where: %+v", e)
				}
			}
		}
		if fmt.Sprint(actions) != "[create pause resume delete create]" {
			t.Fatalf("audit actions %v", actions)
		}
	})
}

func TestCreateWebsiteErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a := f.partner(t, "a", 400)
		b := f.partner(t, "b", 10000)

		_, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "x.example.com", Plan: "10k"}, core.Idem{})
		wantCode(t, err, core.EPAYMENTREQUIRED)
		_, err = f.svc.Website(ctx, a, "x.example.com")
		wantCode(t, err, core.ENOTFOUND) // nothing half-created
		f.checkLedger(t, a, 400)

		_, _, err = f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "x.example.com", Plan: "gold"}, core.Idem{})
		wantCode(t, err, core.EINVALID)
		_, _, err = f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "http://x.example.com"}, core.Idem{})
		wantCode(t, err, core.EINVALID)
		_, _, err = f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "x.example.com", SubaccountID: 999}, core.Idem{})
		wantCode(t, err, core.EINVALID)

		if _, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "x.example.com"}, core.Idem{}); err != nil {
			t.Fatal(err)
		}
		// The same domain cannot be registered twice, by anyone.
		_, _, err = f.svc.CreateWebsite(ctx, b, core.WebsiteCreate{Domain: "X.example.com."}, core.Idem{})
		wantCode(t, err, core.ECONFLICT)
		_, _, err = f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "x.example.com"}, core.Idem{})
		wantCode(t, err, core.ECONFLICT)
	})
}

func TestTenantIsolation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a := f.partner(t, "a", 10000)
		b := f.partner(t, "b", 10000)
		sub, _, err := f.svc.CreateSubaccount(ctx, a, core.SubaccountCreate{Email: "owner@example.com"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "a.example.com", SubaccountID: sub.ID, Plan: "10k"}, core.Idem{}); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.Website(ctx, b, "a.example.com")
		wantCode(t, err, core.ENOTFOUND)
		paused := core.StatusPaused
		_, err = f.svc.UpdateWebsite(ctx, b, "a.example.com", core.WebsiteUpdate{Status: &paused}, core.Match{})
		wantCode(t, err, core.ENOTFOUND)
		_, err = f.svc.DeleteWebsite(ctx, b, "a.example.com", core.Match{})
		wantCode(t, err, core.ENOTFOUND)
		_, _, err = f.svc.Renew(ctx, b, "a.example.com", 1, core.Match{}, core.Idem{})
		wantCode(t, err, core.ENOTFOUND)
		_, _, err = f.svc.ChangePlan(ctx, b, "a.example.com", "20k", core.Match{}, core.Idem{})
		wantCode(t, err, core.ENOTFOUND)
		ws, err := f.svc.Websites(ctx, b, core.WebsiteFilter{})
		if err != nil || len(ws) != 0 {
			t.Fatalf("b sees websites %v %v", ws, err)
		}
		_, err = f.svc.Subaccount(ctx, b, sub.ID)
		wantCode(t, err, core.ENOTFOUND)
		err = f.svc.DeleteSubaccount(ctx, b, sub.ID)
		wantCode(t, err, core.ENOTFOUND)
		subs, err := f.svc.Subaccounts(ctx, b, core.SubaccountFilter{Email: "owner@example.com"})
		if err != nil || len(subs) != 0 {
			t.Fatalf("b sees subaccounts %v %v", subs, err)
		}
		// b cannot attach a website to a's subaccount either.
		_, _, err = f.svc.CreateWebsite(ctx, b, core.WebsiteCreate{Domain: "b.example.com", SubaccountID: sub.ID}, core.Idem{})
		wantCode(t, err, core.EINVALID)
		// Nor reuse a's idempotency key to see a's website.
		w1, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "k.example.com"}, core.Idem{Key: "same", Hash: "h"})
		if err != nil {
			t.Fatal(err)
		}
		w2, replayed, err := f.svc.CreateWebsite(ctx, b, core.WebsiteCreate{Domain: "k2.example.com"}, core.Idem{Key: "same", Hash: "h"})
		if err != nil || replayed || w2.ID == w1.ID {
			t.Fatalf("b's keyed create: %+v %v %v", w2, replayed, err)
		}
		audit, _ := f.svc.Audit(ctx, b, 0, 0)
		for _, e := range audit {
			if e.PartnerID != b.PartnerID {
				t.Fatalf("b sees audit entry of partner %d", e.PartnerID)
			}
		}
	})
}

func TestConcurrentCreatesCannotOverdraw(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		c := f.partner(t, "acme", 2500) // pays for five 10k websites at 5.00
		const n = 20
		var ok, broke atomic.Int32
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: fmt.Sprintf("site%d.example.com", i), Plan: "10k"}, core.Idem{})
				switch core.ErrorCode(err) {
				case "":
					ok.Add(1)
				case core.EPAYMENTREQUIRED:
					broke.Add(1)
				default:
					errs <- err
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("unexpected error: %v", err)
		}
		if ok.Load() != 5 || broke.Load() != n-5 {
			t.Fatalf("%d created, %d refused; want 5 and %d", ok.Load(), broke.Load(), n-5)
		}
		f.checkLedger(t, c, 0)
		ws, _ := f.svc.Websites(ctx, c, core.WebsiteFilter{})
		if len(ws) != 5 {
			t.Fatalf("%d websites stored; want 5", len(ws))
		}
	})
}

func TestIdempotentCreate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		c := f.partner(t, "acme", 10000)
		idem := core.Idem{Key: "order-1", Hash: "hash-a"}
		const n = 10
		ids := make(chan int64, n)
		var replays atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w, replayed, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "once.example.com", Plan: "10k"}, idem)
				if err != nil {
					// A retry that arrives while the first is in flight may be told to retry.
					if core.ErrorCode(err) != core.ECONFLICT {
						t.Errorf("keyed create: %v", err)
					}
					return
				}
				if replayed {
					replays.Add(1)
				}
				ids <- w.ID
			}()
		}
		wg.Wait()
		close(ids)
		var first int64
		for id := range ids {
			if first == 0 {
				first = id
			} else if id != first {
				t.Fatalf("two websites created: %d and %d", first, id)
			}
		}
		f.checkLedger(t, c, 9500) // charged once
		// A later retry replays.
		w, replayed, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "once.example.com", Plan: "10k"}, idem)
		if err != nil || !replayed || w.ID != first {
			t.Fatalf("retry: %+v %v %v", w, replayed, err)
		}
		// The same key with another request is refused.
		_, _, err = f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "other.example.com"}, core.Idem{Key: "order-1", Hash: "hash-b"})
		wantCode(t, err, core.ECONFLICT)
		// After the key expires it is purged and starts afresh (and the domain is taken).
		f.advance(core.IdempotencyTTL + time.Minute)
		if n, err := f.svc.PurgeIdempotencyKeys(ctx); err != nil || n != 1 {
			t.Fatalf("purge: %d %v", n, err)
		}
		_, _, err = f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "once.example.com", Plan: "10k"}, idem)
		wantCode(t, err, core.ECONFLICT)
		f.checkLedger(t, c, 9500)
		// A failed keyed request leaves the key unused.
		_, _, err = f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "big.example.com", Plan: "200k"}, core.Idem{Key: "k2", Hash: "h"})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "big2.example.com", Plan: "200k"}, core.Idem{Key: "k3", Hash: "h"})
		wantCode(t, err, core.EPAYMENTREQUIRED)
		if _, err := f.svc.TopUp(ctx, core.Operator(), c.PartnerID, 10000, "more"); err != nil {
			t.Fatal(err)
		}
		_, replayed, err = f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "big2.example.com", Plan: "200k"}, core.Idem{Key: "k3", Hash: "h"})
		if err != nil || replayed {
			t.Fatalf("retry after a failure: %v %v", replayed, err)
		}
		f.checkLedger(t, c, 9500-6000+10000-6000)
	})
}

func TestChangePlanAndRenew(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		c := f.partner(t, "acme", 10000)
		created := *f.now.Load()
		first, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "p.example.com", Plan: "10k"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		f.checkLedger(t, c, 9500)
		// Halfway through the first month (however long that month is),
		// half of it is left: the 4.00 difference between 10k and 20k is
		// charged half: 2.00.
		f.advance(first.ExpiresAt.Sub(created) / 2)
		w, _, err := f.svc.ChangePlan(ctx, c, "p.example.com", "20k", core.Match{}, core.Idem{})
		if err != nil || w.Plan.Name != "20k" {
			t.Fatalf("upgrade: %+v %v", w, err)
		}
		f.checkLedger(t, c, 9300)
		// Same plan: nothing happens.
		w2, _, err := f.svc.ChangePlan(ctx, c, "p.example.com", "20k", core.Match{}, core.Idem{})
		if err != nil || w2.Version != w.Version {
			t.Fatalf("same plan: %+v %v", w2, err)
		}
		_, _, err = f.svc.ChangePlan(ctx, c, "p.example.com", "10k", core.Match{}, core.Idem{})
		wantCode(t, err, core.EFORBIDDEN)
		if err := f.svc.SetAllowDowngrade(ctx, core.Operator(), c.PartnerID, true); err != nil {
			t.Fatal(err)
		}
		w, _, err = f.svc.ChangePlan(ctx, c, "p.example.com", "10k", core.Match{}, core.Idem{})
		if err != nil || w.Plan.Name != "10k" {
			t.Fatalf("allowed downgrade: %+v %v", w, err)
		}
		f.checkLedger(t, c, 9300) // no refund
		_, _, err = f.svc.ChangePlan(ctx, c, "p.example.com", "platinum", core.Match{}, core.Idem{})
		wantCode(t, err, core.EINVALID)

		w, _, err = f.svc.Renew(ctx, c, "p.example.com", 2, core.Match{}, core.Idem{Key: "renew-1", Hash: "r"})
		if err != nil {
			t.Fatal(err)
		}
		if !w.ExpiresAt.Equal(monthsAfter(created, 3)) {
			t.Fatalf("created %v, renewed to %v; want %v", created, w.ExpiresAt, monthsAfter(created, 3))
		}
		f.checkLedger(t, c, 8300)
		w, replayed, err := f.svc.Renew(ctx, c, "p.example.com", 2, core.Match{}, core.Idem{Key: "renew-1", Hash: "r"})
		if err != nil || !replayed || !w.ExpiresAt.Equal(monthsAfter(created, 3)) {
			t.Fatalf("replayed renew: %v %v %v", w.ExpiresAt, replayed, err)
		}
		f.checkLedger(t, c, 8300)
		_, _, err = f.svc.Renew(ctx, c, "p.example.com", 0, core.Match{}, core.Idem{})
		wantCode(t, err, core.EINVALID)
		_, _, err = f.svc.Renew(ctx, c, "p.example.com", 37, core.Match{}, core.Idem{})
		wantCode(t, err, core.EINVALID)

		// An expired website renews from now.
		f.advance(200 * 24 * time.Hour)
		now := *f.now.Load()
		w, _, err = f.svc.Renew(ctx, c, "p.example.com", 1, core.Match{}, core.Idem{})
		if err != nil || !w.ExpiresAt.Equal(monthsAfter(now, 1)) {
			t.Fatalf("renew after expiry at %v: %v %v; want %v", now, w.ExpiresAt, err, monthsAfter(now, 1))
		}
		// A paused website's plan cannot change.
		paused := core.StatusPaused
		if _, err := f.svc.UpdateWebsite(ctx, c, "p.example.com", core.WebsiteUpdate{Status: &paused}, core.Match{}); err != nil {
			t.Fatal(err)
		}
		_, _, err = f.svc.ChangePlan(ctx, c, "p.example.com", "40k", core.Match{}, core.Idem{})
		wantCode(t, err, core.ECONFLICT)
		// Renewing beyond the balance fails and changes nothing.
		_, _, err = f.svc.Renew(ctx, c, "p.example.com", 36, core.Match{}, core.Idem{})
		wantCode(t, err, core.EPAYMENTREQUIRED)
		f.checkLedger(t, c, 7800)
	})
}

func TestSubaccounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		c := f.partner(t, "acme", 1000)
		in := core.SubaccountCreate{Email: " Jane@Example.com ", FirstName: "Jane", LastName: "Doe", Company: "Doe Ltd", Country: "de", Address: "Main St 1", Lang: "DE"}
		a, _, err := f.svc.CreateSubaccount(ctx, c, in, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		if a.Email != "jane@example.com" || a.Country != "DE" || a.Lang != "de" || a.APIKey == "" || a.ID == 0 {
			t.Fatalf("created %+v", a)
		}
		// The same email again is the same subaccount (ProvideSubaccount);
		// a contradicting field is a conflict.
		if again, _, err := f.svc.CreateSubaccount(ctx, c, core.SubaccountCreate{Email: "JANE@example.com"}, core.Idem{}); err != nil || again.ID != a.ID || again.APIKey != a.APIKey {
			t.Fatalf("same email again: %+v %v", again, err)
		}
		_, _, err = f.svc.CreateSubaccount(ctx, c, core.SubaccountCreate{Email: "JANE@example.com", LastName: "Roe"}, core.Idem{})
		wantCode(t, err, core.ECONFLICT)
		for _, bad := range []core.SubaccountCreate{{Email: "nope"}, {Email: ""}, {Email: "a@b.com", Country: "Germany"}, {Email: "a@b.com", FirstName: "x\x00y"}} {
			_, _, err = f.svc.CreateSubaccount(ctx, c, bad, core.Idem{})
			wantCode(t, err, core.EINVALID)
		}
		list, err := f.svc.Subaccounts(ctx, c, core.SubaccountFilter{Email: "JANE@example.com"})
		if err != nil || len(list) != 1 || list[0].APIKey != a.APIKey {
			t.Fatalf("by email: %+v %v", list, err)
		}
		if _, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "jane.example.com", SubaccountID: a.ID}, core.Idem{}); err != nil {
			t.Fatal(err)
		}
		err = f.svc.DeleteSubaccount(ctx, c, a.ID)
		wantCode(t, err, core.ECONFLICT)
		if _, err := f.svc.DeleteWebsite(ctx, c, "jane.example.com", core.Match{}); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.DeleteSubaccount(ctx, c, a.ID); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.Subaccount(ctx, c, a.ID)
		wantCode(t, err, core.ENOTFOUND)
		// The email can be used again.
		if _, _, err := f.svc.CreateSubaccount(ctx, c, core.SubaccountCreate{Email: "jane@example.com"}, core.Idem{}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAuthenticate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		p, key, err := f.svc.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "acme", AllowedIPs: []string{"203.0.113.0/24", "2001:db8::1"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Authenticate(ctx, key, mustAddr("203.0.113.9"), core.ProtocolREST); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Authenticate(ctx, key, mustAddr("::ffff:203.0.113.9"), core.ProtocolREST); err != nil {
			t.Fatalf("IPv4-mapped address: %v", err)
		}
		if _, err := f.svc.Authenticate(ctx, key, mustAddr("2001:db8::1"), core.ProtocolREST); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.Authenticate(ctx, key, mustAddr("198.51.100.1"), core.ProtocolREST)
		wantCode(t, err, core.EFORBIDDEN)
		_, err = f.svc.Authenticate(ctx, key+"x", mustAddr("203.0.113.9"), core.ProtocolREST)
		wantCode(t, err, core.EUNAUTHORIZED)
		_, err = f.svc.Authenticate(ctx, "", mustAddr("203.0.113.9"), core.ProtocolREST)
		wantCode(t, err, core.EUNAUTHORIZED)
		if err := f.svc.AllowIP(ctx, core.Operator(), p.ID, "198.51.100.0/24"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Authenticate(ctx, key, mustAddr("198.51.100.1"), core.ProtocolREST); err != nil {
			t.Fatal(err)
		}
		_, _, err = f.svc.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "acme"})
		wantCode(t, err, core.ECONFLICT)
		_, _, err = f.svc.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "x", AllowedIPs: []string{"not-an-ip"}})
		wantCode(t, err, core.EINVALID)
	})
}

func TestLedgerIsAppendOnly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.partner(t, "acme", 1000)
		if err := db.Exec(context.Background(), "UPDATE ledger SET amount_cents = 1"); err == nil {
			t.Fatal("UPDATE on the ledger succeeded")
		}
		if err := db.Exec(context.Background(), "DELETE FROM ledger"); err == nil {
			t.Fatal("DELETE on the ledger succeeded")
		}
	})
}

func TestRotateAndRevokeKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		ip := mustAddr("203.0.113.5")
		p, old, err := f.svc.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "acme", AllowedIPs: []string{"203.0.113.0/24"}})
		if err != nil {
			t.Fatal(err)
		}
		kept, err := f.svc.RotateKey(ctx, core.Operator(), p.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{old, kept} {
			if _, err := f.svc.Authenticate(ctx, k, ip, core.ProtocolREST); err != nil {
				t.Fatalf("key after rotate --keep-old: %v", err)
			}
		}
		// The new key inherits the address binding.
		_, err = f.svc.Authenticate(ctx, kept, mustAddr("198.51.100.1"), core.ProtocolREST)
		wantCode(t, err, core.EFORBIDDEN)
		if err := f.svc.RevokeKey(ctx, core.Operator(), p.ID, old[:10]); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.Authenticate(ctx, old, ip, core.ProtocolREST)
		wantCode(t, err, core.EUNAUTHORIZED)
		err = f.svc.RevokeKey(ctx, core.Operator(), p.ID, kept[:10])
		wantCode(t, err, core.ECONFLICT) // the last key
		err = f.svc.RevokeKey(ctx, core.Operator(), p.ID, "pk_nothing")
		wantCode(t, err, core.ENOTFOUND)
		fresh, err := f.svc.RotateKey(ctx, core.Operator(), p.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.Authenticate(ctx, kept, ip, core.ProtocolREST)
		wantCode(t, err, core.EUNAUTHORIZED)
		if _, err := f.svc.Authenticate(ctx, fresh, ip, core.ProtocolREST); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.RotateKey(ctx, core.Operator(), 9999, false)
		wantCode(t, err, core.ENOTFOUND)
	})
}

func TestMasterKeyCheck(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		for i := 0; i < 2; i++ { // records the check value, then verifies it
			if err := f.svc.CheckMasterKey(ctx); err != nil {
				t.Fatal(err)
			}
		}
		other := make([]byte, secret.KeySize)
		other[0] = 1
		box, _ := secret.NewBox(other, nil)
		wrong := core.NewService(db, box, core.Config{}, core.WithClock(f.svc.Now))
		if err := wrong.CheckMasterKey(ctx); err == nil || !strings.Contains(err.Error(), "master key does not match") {
			t.Fatalf("another master key: %v", err)
		}
	})
}

func TestEventsStoreAndRetention(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a := f.partner(t, "a", 0)
		b := f.partner(t, "b", 0)
		w, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "ev.example.com"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		now := *f.now.Load()
		old := now.Add(-40 * 24 * time.Hour)
		mk := func(at time.Time, action string) core.Event {
			return core.Event{PartnerID: a.PartnerID, WebsiteID: w.ID, At: at, IP: "192.0.2.1", Method: "GET", Host: "ev.example.com", Path: "/", UserAgent: "x", Action: action, Category: "humans", Source: "category", Reason: "humans", Monitored: action == "deny"}
		}
		evs := []core.Event{mk(old, "deny"), mk(now.Add(-time.Minute), "challenge")}
		// the reference ID its challenge page showed
		evs[1].Ref = "K7Q2M4XW6P"
		for i := 0; i < 250; i++ { // more than one multi-row INSERT
			evs = append(evs, mk(now.Add(-time.Duration(i)*time.Second), "grant"))
		}
		stats := []core.StatRow{{WebsiteID: w.ID, PartnerID: a.PartnerID, Minute: now.Truncate(time.Minute), Action: "grant", Category: "humans", Count: 5}}
		if err := f.svc.RecordDecisions(ctx, evs, stats); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.RecordDecisions(ctx, nil, stats); err != nil { // counters add up
			t.Fatal(err)
		}
		got, err := f.svc.Events(ctx, a, "ev.example.com", core.EventFilter{Action: "deny"})
		if err != nil || len(got) != 1 || !got[0].Monitored || !got[0].At.Equal(old) {
			t.Fatalf("deny events: %+v %v", got, err)
		}
		got, err = f.svc.Events(ctx, a, "ev.example.com", core.EventFilter{Ref: "K7Q2M4XW6P"})
		if err != nil || len(got) != 1 || got[0].Action != "challenge" || got[0].Ref != "K7Q2M4XW6P" {
			t.Fatalf("events by ref: %+v %v", got, err)
		}
		all, _ := f.svc.Events(ctx, a, "ev.example.com", core.EventFilter{})
		if len(all) != 252 {
			t.Fatalf("%d events", len(all))
		}
		pts, err := f.svc.Stats(ctx, a, "ev.example.com", "hour", time.Time{}, now.Add(time.Minute))
		if err != nil || len(pts) != 1 || pts[0].Count != 10 {
			t.Fatalf("stats: %+v %v", pts, err)
		}
		_, err = f.svc.Events(ctx, b, "ev.example.com", core.EventFilter{})
		wantCode(t, err, core.ENOTFOUND)
		_, err = f.svc.Stats(ctx, b, "ev.example.com", "hour", time.Time{}, time.Time{})
		wantCode(t, err, core.ENOTFOUND)
		ne, _, err := f.svc.PurgeOldEvents(ctx, 30*24*time.Hour)
		if err != nil || ne != 1 {
			t.Fatalf("purge: %d %v", ne, err)
		}
		if got, _ := f.svc.Events(ctx, a, "ev.example.com", core.EventFilter{Action: "deny"}); len(got) != 0 {
			t.Fatal("old event survived the purge")
		}
	})
}

func TestChallengeKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		k1, err := f.svc.ChallengeKeys(ctx)
		if err != nil || len(k1) != 1 || len(k1[0]) != 32 {
			t.Fatalf("first keys: %d %v", len(k1), err)
		}
		k1again, _ := f.svc.ChallengeKeys(ctx)
		if string(k1again[0]) != string(k1[0]) {
			t.Fatal("keys changed between reads")
		}
		if err := f.svc.RotateChallengeKey(ctx, core.Operator()); err != nil {
			t.Fatal(err)
		}
		k2, _ := f.svc.ChallengeKeys(ctx)
		if len(k2) != 2 || string(k2[1]) != string(k1[0]) || string(k2[0]) == string(k1[0]) {
			t.Fatal("rotation did not keep the previous key second")
		}
		f.svc.RotateChallengeKey(ctx, core.Operator())
		if k3, _ := f.svc.ChallengeKeys(ctx); len(k3) != 2 || string(k3[1]) != string(k2[0]) {
			t.Fatal("more than two keys kept")
		}
	})
}

// TestEventBatchesAndPartitions: a batch retried under its id is stored
// once; on PostgreSQL, events land in daily partitions and retention drops
// whole days.
func TestEventBatchesAndPartitions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a := f.partner(t, "a", 0)
		w, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "days.example.com"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		now := *f.now.Load()
		var evs []core.Event
		for d := 0; d < 5; d++ { // today and four days back
			evs = append(evs, core.Event{PartnerID: a.PartnerID, WebsiteID: w.ID, At: now.AddDate(0, 0, -d), IP: "192.0.2.1", Method: "GET", Host: "days.example.com",
				Path: "/", UserAgent: "x", Action: "deny", Category: "humans", Source: "category", Reason: "humans"})
		}
		for i := 0; i < 2; i++ {
			if err := f.svc.RecordBatch(ctx, "batch-1", evs, []core.StatRow{{WebsiteID: w.ID, PartnerID: a.PartnerID, Minute: now.Truncate(time.Minute), Action: "deny", Category: "humans", Count: 5}}); err != nil {
				t.Fatal(err)
			}
		}
		all, _ := f.svc.Events(ctx, a, "days.example.com", core.EventFilter{})
		pts, _ := f.svc.Stats(ctx, a, "days.example.com", "hour", time.Time{}, now.Add(time.Minute))
		if len(all) != 5 || len(pts) != 1 || pts[0].Count != 5 {
			t.Fatalf("a batch sent twice: %d events, stats %+v", len(all), pts)
		}
		partitions := func() map[string]bool {
			out := map[string]bool{}
			if db.Name() != "postgres" {
				return out
			}
			rows, err := storetest.Query(t, db, "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass")
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				out[r] = true
			}
			return out
		}
		// Purge prepares today's partitions first; keep 2 days.
		if _, _, err := f.svc.PurgeOldEvents(ctx, 2*24*time.Hour); err != nil {
			t.Fatal(err)
		}
		all, _ = f.svc.Events(ctx, a, "days.example.com", core.EventFilter{})
		if len(all) != 3 { // now, a day ago and exactly two days ago
			t.Fatalf("%d events after keeping two days", len(all))
		}
		if db.Name() == "postgres" {
			p := partitions()
			day := func(d int) string { return "events_" + now.AddDate(0, 0, d).Format("20060102") }
			if !p[day(0)] || !p[day(1)] || !p[day(2)] || p[day(-3)] || !p["events_default"] {
				t.Fatalf("partitions after purge: %v", p)
			}
		}
	})
}

func TestParseRef(t *testing.T) {
	for in, want := range map[string]string{"K7Q2M4XW6P": "K7Q2M4XW6P", " k7q2-m4xw 6p ": "K7Q2M4XW6P"} {
		if got, err := core.ParseRef(in); err != nil || got != want {
			t.Errorf("ParseRef(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "K7Q2M4XW9", "K7Q2M4XW6PP", "K7Q2M4XW91", "K7Q2M4XW9'"} {
		if _, err := core.ParseRef(in); err == nil {
			t.Errorf("ParseRef(%q) accepted", in)
		}
	}
}
