package core_test

import (
	"context"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/secret"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

// TestResellerStore runs the reseller protocols' store queries against
// every store: GP nonces, login tokens and sessions, add-ons with renewals,
// account e-mail changes and deletion.
func TestResellerStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		p, key, err := f.svc.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "host", AllowedIPs: []string{"198.51.100.0/24"}})
		if err != nil {
			t.Fatal(err)
		}
		f.svc.TopUp(ctx, core.Operator(), p.ID, 100000, "")
		ip := netip.MustParseAddr("198.51.100.9")

		// GP: the hash finds the partner; a nonce is accepted once.
		ts1, ts2 := core.GPTimestamp(*f.now.Load(), 1), core.GPTimestamp(*f.now.Load(), 2)
		c, gotKey, err := f.svc.AuthenticateGP(ctx, ip, "shop.example.com", ts1, core.GPHash(key, "shop.example.com", ts1))
		if err != nil || c.PartnerID != p.ID || gotKey != key {
			t.Fatalf("gp auth: %+v %v", c, err)
		}
		if _, _, err := f.svc.AuthenticateGP(ctx, ip, "shop.example.com", ts1, core.GPHash(key, "shop.example.com", ts1)); core.ErrorCode(err) != core.ECONFLICT {
			t.Fatalf("replay: %v", err)
		}
		if _, _, err := f.svc.AuthenticateGP(ctx, netip.MustParseAddr("203.0.113.1"), "shop.example.com", ts2, core.GPHash(key, "shop.example.com", ts2)); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Fatalf("other address: %v", err)
		}
		f.advance(core.NonceRetention + time.Hour)
		if n, err := f.svc.PurgeNonces(ctx); n != 1 || err != nil {
			t.Fatalf("purge nonces: %d %v", n, err)
		}

		// Accounts, add-ons and renewals.
		a, w, err := f.svc.ProvisionAccount(ctx, c, core.Provision{Account: core.SubaccountCreate{Email: "jane@example.com"}, Domain: "shop.example.com", Plan: "10k"})
		if err != nil {
			t.Fatal(err)
		}
		ad, err := f.svc.ProvisionAddon(ctx, c, w.ID, core.AddonExtraRequests, 2)
		if err != nil {
			t.Fatal(err)
		}
		if ad, err = f.svc.ModifyAddon(ctx, c, ad.ID, 4); err != nil || ad.Quantity != 4 {
			t.Fatalf("modify add-on: %+v %v", ad, err)
		}
		before, _ := f.svc.Partner(ctx, c)
		if _, _, err := f.svc.Renew(ctx, c, "shop.example.com", 1, core.Match{}, core.Idem{}); err != nil {
			t.Fatal(err)
		}
		after, _ := f.svc.Partner(ctx, c)
		if want := core.Cents(500 + 4*250); before.Balance-after.Balance != want {
			t.Fatalf("renewal with add-ons charged %s, want %s", before.Balance-after.Balance, want)
		}
		if err := f.svc.DeleteAddon(ctx, c, ad.ID); err != nil {
			t.Fatal(err)
		}
		if as, _ := f.svc.Addons(ctx, c, w.ID); len(as) != 0 {
			t.Fatalf("add-ons after delete: %+v", as)
		}
		if _, err := f.svc.ModifyAddon(ctx, c, ad.ID, 1); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("modify a deleted add-on: %v", err)
		}

		// Login tokens: single use, five minutes.
		u, _, err := f.svc.CreateCustomerLoginToken(ctx, c, a.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		tok := tokenOf(t, u)
		l, err := f.svc.LoginWithToken(ctx, tok)
		if err != nil || l.Session.WebsiteID != w.ID || l.Next != "/en/website/shop.example.com/statistics" {
			t.Fatalf("login: %+v %v", l, err)
		}
		if _, err := f.svc.LoginWithToken(ctx, tok); core.ErrorCode(err) != core.EUNAUTHORIZED {
			t.Fatalf("token reused: %v", err)
		}
		if s, err := f.svc.SessionByValue(ctx, l.Value); err != nil || s.SubaccountID != a.ID {
			t.Fatalf("session: %+v %v", s, err)
		}
		u2, _, _ := f.svc.CreateLoginToken(ctx, c, core.ScopePartner, "")
		f.advance(core.LoginTokenTTL + time.Second)
		if _, err := f.svc.LoginWithToken(ctx, tokenOf(t, u2)); core.ErrorCode(err) != core.EUNAUTHORIZED {
			t.Fatalf("expired token: %v", err)
		}
		f.advance(core.SessionTTL)
		if _, err := f.svc.SessionByValue(ctx, l.Value); core.ErrorCode(err) != core.EUNAUTHORIZED {
			t.Fatalf("expired session: %v", err)
		}
		if n, err := f.svc.PurgeLogins(ctx); err != nil || n < 1 {
			t.Fatalf("purge logins: %d %v", n, err)
		}

		// Email change, then deleting the account with its site.
		if _, err := f.svc.UpdateSubaccountEmail(ctx, c, a.ID, "Jane.Doe@Example.com"); err != nil {
			t.Fatal(err)
		}
		if got, _ := f.svc.Subaccount(ctx, c, a.ID); got.Email != "jane.doe@example.com" {
			t.Fatalf("email: %s", got.Email)
		}
		if n, err := f.svc.DeleteAccount(ctx, c, a.ID); n != 1 || err != nil {
			t.Fatalf("delete account: %d %v", n, err)
		}
		if _, err := f.svc.Website(ctx, c, "shop.example.com"); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("site after account deletion: %v", err)
		}
		if sum, bal, _ := f.svc.LedgerBalanced(ctx, core.Operator(), p.ID); sum != bal {
			t.Fatalf("ledger %s, balance %s", sum, bal)
		}
	})
}

func tokenOf(t *testing.T, u string) string {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil || !strings.HasPrefix(pu.Query().Get("token"), "lt_") {
		t.Fatalf("login URL %q", u)
	}
	return pu.Query().Get("token")
}

// BenchmarkAuthenticateGP: finding the partner of a GP request among 200
// address-bound keys (the hash names no partner, so every key is tried),
// and recording its nonce, on SQLite.
func BenchmarkAuthenticateGP(b *testing.B) {
	db := storetest.SQLite(b)
	box, _ := secret.NewBox(make([]byte, secret.KeySize), nil)
	svc := core.NewService(db, box, core.Config{PublicURL: "https://palisade.test"}, core.WithClock(testclock.New(b).Now))
	ctx := context.Background()
	var key string
	for i := 0; i < 200; i++ {
		_, k, err := svc.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "p" + strconv.Itoa(i), AllowedIPs: []string{"198.51.100.0/24"}})
		if err != nil {
			b.Fatal(err)
		}
		key = k // the last one: every other key is tried first
	}
	ip := netip.MustParseAddr("198.51.100.9")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		ts := core.GPTimestamp(svc.Now(), uint64(i))
		if _, _, err := svc.AuthenticateGP(ctx, ip, "shop.example.com", ts, core.GPHash(key, "shop.example.com", ts)); err != nil {
			b.Fatal(err)
		}
	}
}
