package core_test

import (
	"context"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// A database is one customer's: another customer's website (of the same
// partner or another) cannot name it, whatever the case of its host; the
// same customer's websites may share one (WordPress installs told apart
// by their table prefixes).
func TestSharedDatabaseOnlyWithinOneCustomer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, func(c *core.Config) { c.ScanRoots = []string{"/var/www"} })
		a, b := f.partner(t, "a", 0), f.partner(t, "b", 0)
		site := func(p core.Caller, email, domain string) core.Website {
			t.Helper()
			var subID int64
			if email != "" {
				sub, _, err := f.svc.CreateSubaccount(ctx, p, core.SubaccountCreate{Email: email}, core.Idem{})
				if err != nil {
					t.Fatal(err)
				}
				subID = sub.ID
			}
			w, _, err := f.svc.CreateWebsite(ctx, p, core.WebsiteCreate{Domain: domain, SubaccountID: subID}, core.Idem{})
			if err != nil {
				t.Fatal(err)
			}
			return w
		}
		set := func(p core.Caller, w core.Website, host, name, prefix string) error {
			_, err := f.svc.SetWebsiteScanSettings(ctx, p, w.Domain, core.ScanSettings{
				Database: core.DBScanSettings{Enabled: true, Host: host, User: "u", Name: name, TablePrefix: prefix, Password: "pw"}})
			return err
		}
		jane := site(a, "jane@example.com", "jane.example.com")
		bob := site(a, "bob@example.com", "bob.example.com")
		if err := set(a, jane, "db.example.net", "wp_jane", "wp_"); err != nil {
			t.Fatal(err)
		}
		for name, try := range map[string]func() error{
			"another customer of the same partner": func() error { return set(a, bob, "db.example.net", "wp_jane", "bob_") },
			"the same, host in capitals":           func() error { return set(a, bob, "DB.Example.NET", "wp_jane", "bob_") },
			"another partner's customer": func() error {
				return set(b, site(b, "eve@example.org", "eve.example.org"), "db.example.net", "wp_jane", "wp_")
			},
		} {
			if err := try(); core.ErrorCode(err) != core.ECONFLICT || !strings.Contains(err.Error(), "another customer's website") {
				t.Errorf("%s: %v, want conflict", name, err)
			}
		}
		// Jane's second website, her own database: allowed. Another port
		// or another name on the same server is another database.
		if err := set(a, site(a, "", "x.example.com"), "db.example.net", "wp_other", "wp_"); err != nil {
			t.Fatal(err)
		}
		if err := set(a, bob, "db.example.net", "wp_bob", "wp_"); err != nil {
			t.Fatalf("bob's own database on the same server: %v", err)
		}
		w2, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "jane2.example.com", SubaccountID: jane.SubaccountID}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		if err := set(a, w2, "db.example.net", "wp_jane", "jane2_"); err != nil {
			t.Fatalf("jane's second website sharing her database: %v", err)
		}
		// Once Jane's websites are deleted, the database is free.
		for _, d := range []string{jane.Domain, w2.Domain} {
			if _, err := f.svc.DeleteWebsite(ctx, a, d, core.Match{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := set(a, bob, "db.example.net", "wp_jane", "bob_"); err != nil {
			t.Fatalf("after Jane's websites were deleted: %v", err)
		}
	})
}
