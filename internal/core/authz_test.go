package core_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// callers are the kinds of Caller every check is tried with: the operator,
// a partner, a customer of it, the zero Caller, and a Caller built the old
// way (a partner id and no role), which must fail closed too.
func callers(t *testing.T, f *fixture) (map[string]core.Caller, core.Caller, core.Subaccount) {
	t.Helper()
	ctx := context.Background()
	p := f.partner(t, "acme", 100000)
	sub, _, err := f.svc.CreateSubaccount(ctx, p, core.SubaccountCreate{Email: "jane@example.com"}, core.Idem{})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]core.Caller{
		"operator":   core.Operator(),
		"partner":    p,
		"subaccount": core.CustomerCaller(sub, "192.0.2.1"),
		"zero":       {},
		"no role":    {PartnerID: p.PartnerID, Actor: "partner:1", Protocol: core.ProtocolREST},
	}, p, sub
}

func TestOperatorOnlyMethods(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		cs, p, _ := callers(t, f)
		pid := p.PartnerID
		n := 0
		unique := func() string { n++; return fmt.Sprintf("x%d", n) }
		methods := map[string]func(c core.Caller) error{
			"CreatePlan": func(c core.Caller) error {
				name := unique()
				_, err := f.svc.CreatePlan(ctx, c, core.Plan{Name: name, MonthlyQuota: 1000, Price: 100, Rank: 50 + n})
				return err
			},
			"CreatePartner": func(c core.Caller) error {
				_, _, err := f.svc.CreatePartner(ctx, c, core.PartnerCreate{Name: unique()})
				return err
			},
			"RotateChallengeKey": func(c core.Caller) error { return f.svc.RotateChallengeKey(ctx, c) },
			"AllPartners": func(c core.Caller) error {
				_, err := f.svc.AllPartners(ctx, c)
				return err
			},
			"PartnerByName": func(c core.Caller) error {
				_, err := f.svc.PartnerByName(ctx, c, "acme")
				return err
			},
			"TopUp": func(c core.Caller) error {
				_, err := f.svc.TopUp(ctx, c, pid, 100, "")
				return err
			},
			"SetAllowDowngrade": func(c core.Caller) error {
				return f.svc.SetAllowDowngrade(ctx, c, pid, true)
			},
			"AllowIP": func(c core.Caller) error {
				return f.svc.AllowIP(ctx, c, pid, "198.51.100.0/24")
			},
			"CreateConsoleUser": func(c core.Caller) error {
				_, err := f.svc.CreateConsoleUser(ctx, c, pid, unique()+"@acme.example", "S3cure-Passw0rd")
				return err
			},
		}
		for name, call := range methods {
			for who, c := range cs {
				t.Run(name+"/"+who, func(t *testing.T) {
					err := call(c)
					if who == "operator" {
						if err != nil {
							t.Fatalf("the operator was refused: %v", err)
						}
						return
					}
					wantCode(t, err, core.EFORBIDDEN)
				})
			}
		}
		// Nothing the refused callers tried happened.
		sum, bal, err := f.svc.LedgerBalanced(ctx, core.Operator(), pid)
		if err != nil || sum != bal || bal != 100000+100 {
			t.Fatalf("balance %s (ledger %s), %v: only the operator's top-up should have landed", bal, sum, err)
		}
	})
}

// Methods on a partner's account take the partner's id: the operator may
// name any partner, a partner only itself, nobody else anyone.
func TestOperatorOrOwnPartnerMethods(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		cs, p, _ := callers(t, f)
		other := f.partner(t, "other", 0)
		cs["other partner"] = other
		pid := p.PartnerID
		methods := map[string]func(c core.Caller) error{
			"PartnerKeys": func(c core.Caller) error {
				_, err := f.svc.PartnerKeys(ctx, c, pid)
				return err
			},
			"LedgerBalanced": func(c core.Caller) error {
				_, _, err := f.svc.LedgerBalanced(ctx, c, pid)
				return err
			},
			"SetBrand": func(c core.Caller) error {
				return f.svc.SetBrand(ctx, c, pid, "Acme Guard", "")
			},
			"SetBranding": func(c core.Caller) error {
				_, err := f.svc.SetBranding(ctx, c, pid, core.Branding{Name: "Acme Guard"})
				return err
			},
			"RotateKey": func(c core.Caller) error {
				_, err := f.svc.RotateKey(ctx, c, pid, true)
				return err
			},
			"RevokeKey": func(c core.Caller) error {
				keys, err := f.svc.PartnerKeys(ctx, core.Operator(), pid)
				if err != nil {
					t.Fatal(err)
				}
				if len(keys) < 2 {
					if _, err := f.svc.RotateKey(ctx, core.Operator(), pid, true); err != nil {
						t.Fatal(err)
					}
				}
				// Revoke the newest key, never the one the partner caller uses.
				keys, _ = f.svc.PartnerKeys(ctx, core.Operator(), pid)
				return f.svc.RevokeKey(ctx, c, pid, keys[len(keys)-1].Prefix)
			},
		}
		for name, call := range methods {
			for who, c := range cs {
				t.Run(name+"/"+who, func(t *testing.T) {
					err := call(c)
					if who == "operator" || who == "partner" {
						if err != nil {
							t.Fatalf("%s was refused: %v", who, err)
						}
						return
					}
					wantCode(t, err, core.EFORBIDDEN)
				})
			}
		}
	})
}

// A partner's own business — its ledger, customers, emails, keys, login
// links, provisioning — is the partner's: its customers, the operator and
// nobody are refused.
func TestPartnerOnlyMethods(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		cs, p, sub := callers(t, f)
		w, _, err := f.svc.CreateWebsite(ctx, p, core.WebsiteCreate{Domain: "shop.example.com", SubaccountID: sub.ID}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		unique := func() string { n++; return fmt.Sprintf("u%d", n) }
		methods := map[string]func(c core.Caller) error{
			"Ledger": func(c core.Caller) error { _, err := f.svc.Ledger(ctx, c, 0, 10); return err },
			"Audit":  func(c core.Caller) error { _, err := f.svc.Audit(ctx, c, 0, 10); return err },
			"Subaccounts": func(c core.Caller) error {
				_, err := f.svc.Subaccounts(ctx, c, core.SubaccountFilter{})
				return err
			},
			"CreateSubaccount": func(c core.Caller) error {
				_, _, err := f.svc.CreateSubaccount(ctx, c, core.SubaccountCreate{Email: unique() + "@example.com"}, core.Idem{})
				return err
			},
			"DeleteSubaccount": func(c core.Caller) error {
				a, _, err := f.svc.CreateSubaccount(ctx, p, core.SubaccountCreate{Email: unique() + "@example.com"}, core.Idem{})
				if err != nil {
					t.Fatal(err)
				}
				return f.svc.DeleteSubaccount(ctx, c, a.ID)
			},
			"Emails":         func(c core.Caller) error { _, err := f.svc.Emails(ctx, c, core.EmailFilter{}); return err },
			"EmailTemplates": func(c core.Caller) error { _, err := f.svc.EmailTemplates(ctx, c); return err },
			"SetEmailTemplate": func(c core.Caller) error {
				_, err := f.svc.SetEmailTemplate(ctx, c, core.EmailTemplate{Kind: core.EmailWelcome})
				return err
			},
			"MarkEmailSent": func(c core.Caller) error {
				es, err := f.svc.Emails(ctx, p, core.EmailFilter{})
				if err != nil || len(es) == 0 {
					t.Fatalf("no email to mark: %v", err)
				}
				_, err = f.svc.MarkEmailSent(ctx, c, es[0].ID)
				return err
			},
			"CreateAPIKey": func(c core.Caller) error { _, _, err := f.svc.CreateAPIKey(ctx, c, unique(), nil); return err },
			"CreateLoginToken": func(c core.Caller) error {
				_, _, err := f.svc.CreateLoginToken(ctx, c, core.ScopeCustomer, w.Domain)
				return err
			},
			"CreateCustomerLoginToken": func(c core.Caller) error {
				_, _, err := f.svc.CreateCustomerLoginToken(ctx, c, sub.ID, w.ID)
				return err
			},
			"ProvisionAccount": func(c core.Caller) error {
				_, _, err := f.svc.ProvisionAccount(ctx, c, core.Provision{Account: core.SubaccountCreate{Email: unique() + "@example.com"}})
				return err
			},
			"SetSubaccountPassword": func(c core.Caller) error {
				return f.svc.SetSubaccountPassword(ctx, c, sub.ID, "S3cure-Passw0rd-"+unique())
			},
			"SetWebsitePassword": func(c core.Caller) error {
				return f.svc.SetWebsitePassword(ctx, c, w.Domain, "S3cure-Passw0rd-"+unique())
			},
			"CheckSubaccountPassword": func(c core.Caller) error {
				_, err := f.svc.CheckSubaccountPassword(ctx, c, sub.ID, "anything")
				return err
			},
			"SetUserAPIConfig": func(c core.Caller) error {
				_, err := f.svc.SetUserAPIConfig(ctx, c, core.DefaultUserAPIConfig(), map[string]string{})
				return err
			},
			"UserAPILog": func(c core.Caller) error { _, err := f.svc.UserAPILog(ctx, c, 0, 10); return err },
			// Websites, their terms and add-ons: the partner's business,
			// never its customers'.
			"CreateWebsite": func(c core.Caller) error {
				_, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: unique() + ".example.net"}, core.Idem{})
				return err
			},
			"ModifyWebsite": func(c core.Caller) error {
				paused := core.StatusPaused
				_, _, err := f.svc.ModifyWebsite(ctx, c, w.Domain, core.WebsiteChange{Status: &paused}, core.Match{}, core.Idem{})
				return err
			},
			"UpdateWebsite": func(c core.Caller) error {
				online := core.StatusOnline
				_, err := f.svc.UpdateWebsite(ctx, c, w.Domain, core.WebsiteUpdate{Status: &online}, core.Match{})
				return err
			},
			"ChangePlan": func(c core.Caller) error {
				_, _, err := f.svc.ChangePlan(ctx, c, w.Domain, "Free", core.Match{}, core.Idem{})
				return err
			},
			"Renew": func(c core.Caller) error {
				_, _, err := f.svc.Renew(ctx, c, w.Domain, 1, core.Match{}, core.Idem{})
				return err
			},
			"RenewUntil": func(c core.Caller) error {
				cur, err := f.svc.Website(ctx, p, w.Domain)
				if err != nil {
					t.Fatal(err)
				}
				_, err = f.svc.RenewUntil(ctx, c, w.Domain, core.AddMonths(cur.ExpiresAt, 1, cur.BillingDay))
				return err
			},
			"DeleteWebsite": func(c core.Caller) error {
				d := unique() + ".example.net"
				if _, _, err := f.svc.CreateWebsite(ctx, p, core.WebsiteCreate{Domain: d}, core.Idem{}); err != nil {
					t.Fatal(err)
				}
				_, err := f.svc.DeleteWebsite(ctx, c, d, core.Match{})
				return err
			},
			"ProvisionAddon": func(c core.Caller) error {
				_, err := f.svc.ProvisionAddon(ctx, c, w.ID, core.AddonExtraRequests, 1)
				return err
			},
			"ModifyAddon": func(c core.Caller) error {
				a, err := f.svc.ProvisionAddon(ctx, p, w.ID, core.AddonExtraRequests, 1)
				if err != nil {
					t.Fatal(err)
				}
				_, err = f.svc.ModifyAddon(ctx, c, a.ID, 2)
				return err
			},
			"DeleteAddon": func(c core.Caller) error {
				a, err := f.svc.ProvisionAddon(ctx, p, w.ID, core.AddonExtraRequests, 1)
				if err != nil {
					t.Fatal(err)
				}
				return f.svc.DeleteAddon(ctx, c, a.ID)
			},
			"Addons": func(c core.Caller) error { _, err := f.svc.Addons(ctx, c, w.ID); return err },
			"UpdateSubaccountEmail": func(c core.Caller) error {
				_, err := f.svc.UpdateSubaccountEmail(ctx, c, sub.ID, unique()+"@example.com")
				return err
			},
			"DeleteAccount": func(c core.Caller) error {
				a, _, err := f.svc.CreateSubaccount(ctx, p, core.SubaccountCreate{Email: unique() + "@example.com"}, core.Idem{})
				if err != nil {
					t.Fatal(err)
				}
				_, err = f.svc.DeleteAccount(ctx, c, a.ID)
				return err
			},
			"Lists": func(c core.Caller) error { _, err := f.svc.Lists(ctx, c); return err },
			"UpdateLists": func(c core.Caller) error {
				_, err := f.svc.UpdateLists(ctx, c, core.PartnerLists{Allow: []string{"192.0.2.0/24"}})
				return err
			},
		}
		for name, call := range methods {
			for who, c := range cs {
				t.Run(name+"/"+who, func(t *testing.T) {
					err := call(c)
					if who == "partner" {
						if err != nil {
							t.Fatalf("the partner was refused: %v", err)
						}
						return
					}
					wantCode(t, err, core.EFORBIDDEN)
				})
			}
		}
	})
}

// tenants is two partners; acme has two customers (ann, bob) and a website
// of each plus one without an account; beta has a customer (cat) with a
// website.
type tenants struct {
	acme, beta         core.Caller
	ann, bob, cat      core.Subaccount
	annSite, bobSite   core.Website
	loneSite, betaSite core.Website
	annCaller          core.Caller
}

func newTenants(t *testing.T, f *fixture) tenants {
	t.Helper()
	ctx := context.Background()
	var tn tenants
	tn.acme = f.partner(t, "acme", 100000)
	tn.beta = f.partner(t, "beta", 100000)
	sub := func(c core.Caller, email string) core.Subaccount {
		a, _, err := f.svc.CreateSubaccount(ctx, c, core.SubaccountCreate{Email: email}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	site := func(c core.Caller, domain string, subID int64) core.Website {
		w, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: domain, SubaccountID: subID}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	tn.ann, tn.bob, tn.cat = sub(tn.acme, "ann@example.com"), sub(tn.acme, "bob@example.com"), sub(tn.beta, "cat@example.com")
	tn.annSite = site(tn.acme, "ann.example.com", tn.ann.ID)
	tn.bobSite = site(tn.acme, "bob.example.com", tn.bob.ID)
	tn.loneSite = site(tn.acme, "lone.example.com", 0)
	tn.betaSite = site(tn.beta, "cat.example.com", tn.cat.ID)
	tn.annCaller = core.CustomerCaller(tn.ann, "192.0.2.1")
	return tn
}

// A customer opens its own websites and nobody else's: not another customer
// of the same partner, not another partner's, and the answer for those is
// the one for a domain nobody registered.
func TestCustomerOwnsItsWebsites(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		tn := newTenants(t, f)
		ann := tn.annCaller
		_, err := f.svc.OwnedWebsite(ctx, ann, "nobody.example.com")
		wantCode(t, err, core.ENOTFOUND)
		if core.ErrorMessage(err) != "website nobody.example.com is not registered" {
			t.Fatalf("an unregistered domain: %q", core.ErrorMessage(err))
		}

		if w, err := f.svc.OwnedWebsite(ctx, ann, "ann.example.com"); err != nil || w.ID != tn.annSite.ID {
			t.Fatalf("ann's own website: %+v %v", w, err)
		}
		for _, d := range []string{"bob.example.com", "lone.example.com", "cat.example.com"} {
			_, err := f.svc.OwnedWebsite(ctx, ann, d)
			wantCode(t, err, core.ENOTFOUND)
			if core.ErrorMessage(err) != "website "+d+" is not registered" {
				t.Errorf("%s: %q says more than an unregistered domain's answer", d, core.ErrorMessage(err))
			}
		}
		// Reading events and statistics goes through the same rule.
		now := f.now.Load()
		var ws []core.Website
		for _, d := range []string{"bob.example.com", "cat.example.com"} {
			_, err := f.svc.Events(ctx, ann, d, core.EventFilter{})
			wantCode(t, err, core.ENOTFOUND)
			_, err = f.svc.Stats(ctx, ann, d, "hour", time.Time{}, time.Time{})
			wantCode(t, err, core.ENOTFOUND)
			_, err = f.svc.TopBlocked(ctx, ann, d, "ip", now.Add(-time.Hour), *now, 10)
			wantCode(t, err, core.ENOTFOUND)
		}
		if _, err := f.svc.Events(ctx, ann, "ann.example.com", core.EventFilter{}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Stats(ctx, ann, "ann.example.com", "hour", time.Time{}, time.Time{}); err != nil {
			t.Fatal(err)
		}
		// Lists hold the customer's own websites, whatever filter is asked.
		ws, err = f.svc.OwnedWebsites(ctx, ann, core.WebsiteFilter{SubaccountID: tn.bob.ID})
		if err != nil || len(ws) != 1 || ws[0].ID != tn.annSite.ID {
			t.Fatalf("ann lists %v %v", ws, err)
		}
		// The partner sees all of its own, and none of beta's.
		if _, err := f.svc.OwnedWebsite(ctx, tn.acme, "lone.example.com"); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.OwnedWebsite(ctx, tn.acme, "cat.example.com")
		wantCode(t, err, core.ENOTFOUND)
		if ws, err := f.svc.OwnedWebsites(ctx, tn.acme, core.WebsiteFilter{}); err != nil || len(ws) != 3 {
			t.Fatalf("acme lists %d websites, %v; want 3", len(ws), err)
		}
		// The operator and nobody have no websites to open.
		for _, c := range []core.Caller{core.Operator(), {}, {PartnerID: tn.acme.PartnerID}} {
			_, err := f.svc.OwnedWebsite(ctx, c, "ann.example.com")
			wantCode(t, err, core.EFORBIDDEN)
			_, err = f.svc.Events(ctx, c, "ann.example.com", core.EventFilter{})
			wantCode(t, err, core.EFORBIDDEN)
		}
	})
}

// A customer reads its own account and its partner's public face only.
func TestCustomerAccountAndPartner(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		tn := newTenants(t, f)
		if a, err := f.svc.Subaccount(ctx, tn.annCaller, tn.ann.ID); err != nil || a.Email != "ann@example.com" {
			t.Fatalf("ann's own account: %+v %v", a, err)
		}
		_, err := f.svc.Subaccount(ctx, tn.annCaller, tn.bob.ID)
		wantCode(t, err, core.ENOTFOUND)
		_, err = f.svc.Subaccount(ctx, tn.annCaller, tn.cat.ID)
		wantCode(t, err, core.ENOTFOUND)

		p, err := f.svc.Partner(ctx, tn.annCaller)
		if err != nil || p.Name != "acme" || p.Balance != 0 || p.Email != "" {
			t.Fatalf("a customer sees its partner as %+v, %v; want the name and branding only", p, err)
		}
		if p, err := f.svc.Partner(ctx, tn.acme); err != nil || p.Balance == 0 {
			t.Fatalf("the partner sees itself as %+v, %v", p, err)
		}
		_, err = f.svc.Partner(ctx, core.Caller{PartnerID: tn.acme.PartnerID})
		wantCode(t, err, core.EFORBIDDEN)
	})
}

// Dashboard sessions and single sign-on use the same rule: a link or key
// opens what its customer may open.
func TestSessionsFollowOwnership(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		tn := newTenants(t, f)

		// A customer session opened for a website without an account sees
		// that website only.
		lone := core.SessionCaller(core.Session{Scope: core.ScopeCustomer, PartnerID: tn.acme.PartnerID, WebsiteID: tn.loneSite.ID})
		if _, err := f.svc.OwnedWebsite(ctx, lone, "lone.example.com"); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{"ann.example.com", "cat.example.com"} {
			_, err := f.svc.OwnedWebsite(ctx, lone, d)
			wantCode(t, err, core.ENOTFOUND)
		}
		if ws, err := f.svc.OwnedWebsites(ctx, lone, core.WebsiteFilter{}); err != nil || len(ws) != 0 {
			t.Fatalf("a session without an account lists %v %v", ws, err)
		}
		// A session of unknown scope is nobody.
		_, err := f.svc.OwnedWebsite(ctx, core.SessionCaller(core.Session{Scope: "admin", PartnerID: tn.acme.PartnerID}), "ann.example.com")
		wantCode(t, err, core.EFORBIDDEN)
		if c := core.SessionCaller(core.Session{Scope: core.ScopeOperator}); c.Role != core.RoleOperator {
			t.Fatalf("operator session: %+v", c)
		}

		// A customer's key opens its own websites' pages, not another's.
		if _, err := f.svc.LoginWithSubaccountKey(ctx, tn.ann.APIKey, "ann.example.com"); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{"bob.example.com", "lone.example.com", "cat.example.com"} {
			_, err := f.svc.LoginWithSubaccountKey(ctx, tn.ann.APIKey, d)
			wantCode(t, err, core.EUNAUTHORIZED)
		}
		// A partner's link for a customer opens that customer's websites only.
		if _, _, err := f.svc.CreateCustomerLoginToken(ctx, tn.acme, tn.ann.ID, tn.annSite.ID); err != nil {
			t.Fatal(err)
		}
		_, _, err = f.svc.CreateCustomerLoginToken(ctx, tn.acme, tn.ann.ID, tn.bobSite.ID)
		wantCode(t, err, core.ENOTFOUND)
		_, _, err = f.svc.CreateCustomerLoginToken(ctx, tn.acme, tn.ann.ID, tn.betaSite.ID)
		wantCode(t, err, core.ENOTFOUND)
		_, _, err = f.svc.CreateCustomerLoginToken(ctx, tn.acme, tn.cat.ID, tn.betaSite.ID)
		wantCode(t, err, core.ENOTFOUND)
	})
}

func TestCanSeeWebsite(t *testing.T) {
	w := core.Website{ID: 7, PartnerID: 1, SubaccountID: 3, Domain: "shop.example.com"}
	lone := core.Website{ID: 8, PartnerID: 1, Domain: "lone.example.com"}
	for _, tc := range []struct {
		name string
		c    core.Caller
		w    core.Website
		ok   bool
	}{
		{"its partner", core.Caller{Role: core.RolePartner, PartnerID: 1}, w, true},
		{"another partner", core.Caller{Role: core.RolePartner, PartnerID: 2}, w, false},
		{"its customer", core.Caller{Role: core.RoleSubaccount, PartnerID: 1, SubaccountID: 3}, w, true},
		{"another customer", core.Caller{Role: core.RoleSubaccount, PartnerID: 1, SubaccountID: 4}, w, false},
		{"another partner's customer 3", core.Caller{Role: core.RoleSubaccount, PartnerID: 2, SubaccountID: 3}, w, false},
		{"a session for it without an account", core.Caller{Role: core.RoleSubaccount, PartnerID: 1, WebsiteID: 8}, lone, true},
		{"a session for it, now someone's", core.Caller{Role: core.RoleSubaccount, PartnerID: 1, WebsiteID: 7}, w, false},
		{"a customer without an account", core.Caller{Role: core.RoleSubaccount, PartnerID: 1}, lone, false},
		{"the operator", core.Operator(), w, false},
		{"no role", core.Caller{PartnerID: 1, SubaccountID: 3}, w, false},
		{"zero", core.Caller{}, core.Website{}, false},
	} {
		err := core.CanSeeWebsite(tc.c, tc.w)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v, want allowed=%v", tc.name, err, tc.ok)
		}
		if err != nil && core.ErrorCode(err) != core.ENOTFOUND {
			t.Errorf("%s: code %s, want not_found", tc.name, core.ErrorCode(err))
		}
	}
}
