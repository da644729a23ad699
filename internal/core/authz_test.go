package core_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/waf"
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
			"SetPlanWAF": func(c core.Caller) error {
				n++
				_, err := f.svc.SetPlanWAF(ctx, c, "Free", n%2 == 0)
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
			"Ledger":       func(c core.Caller) error { _, err := f.svc.Ledger(ctx, c, 0, 10); return err },
			"Audit":        func(c core.Caller) error { _, err := f.svc.Audit(ctx, c, 0, 10); return err },
			"LatestLedger": func(c core.Caller) error { _, err := f.svc.LatestLedger(ctx, c, 10); return err },
			"LatestAudit":  func(c core.Caller) error { _, err := f.svc.LatestAudit(ctx, c, 10); return err },
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

// The website, settings, account, add-on and list methods, each tried by
// every kind of caller against customer ann's website (of partner acme):
//
//   - what a customer may do through the User API and the dashboards
//     (read its websites, their settings, events and statistics; change
//     the settings) answers ann and acme; another customer, a customer
//     session opened for another website and another partner hear
//     not_found in the words of an unknown target; the operator, nobody
//     and a Caller without a role are refused (forbidden);
//   - the partner's business (registering, deregistering, plan, term and
//     status changes, add-ons, account management, the partner's lists)
//     answers acme only: every customer (ann included), the operator and
//     nobody are refused, and another partner hears not_found for acme's
//     objects (or acts on its own, where the method names none);
//   - the challenge signing key is the operator's.
//
// A refused or hidden call changes nothing of acme's.
func TestWebsiteMethodsByCaller(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		tn := newTenants(t, f)
		lone := core.SessionCaller(core.Session{Scope: core.ScopeCustomer, PartnerID: tn.acme.PartnerID, WebsiteID: tn.loneSite.ID})
		whos := []struct {
			name string
			c    core.Caller
		}{
			{"zero", core.Caller{}},
			{"no role", core.Caller{PartnerID: tn.acme.PartnerID, Actor: "partner:1", Protocol: core.ProtocolREST}},
			{"operator", core.Operator()},
			{"other partner", tn.beta},
			{"other customer", core.CustomerCaller(tn.bob, "192.0.2.2")},
			{"session of another website", lone},
			{"customer", tn.annCaller},
			{"partner", tn.acme},
		}
		type outcome string
		const (
			ok        outcome = "allowed"
			forbidden outcome = "forbidden"
			hidden    outcome = "not_found as for an unknown target"
		)
		type rule map[string]outcome
		customerSite := rule{"zero": forbidden, "no role": forbidden, "operator": forbidden,
			"other partner": hidden, "other customer": hidden, "session of another website": hidden,
			"customer": ok, "partner": ok}
		partnerSite := rule{"zero": forbidden, "no role": forbidden, "operator": forbidden,
			"other partner": hidden, "other customer": forbidden, "session of another website": forbidden,
			"customer": forbidden, "partner": ok}
		partnerOwn := rule{"zero": forbidden, "no role": forbidden, "operator": forbidden,
			"other partner": ok, "other customer": forbidden, "session of another website": forbidden,
			"customer": forbidden, "partner": ok}
		operatorOnly := rule{"zero": forbidden, "no role": forbidden, "operator": ok,
			"other partner": forbidden, "other customer": forbidden, "session of another website": forbidden,
			"customer": forbidden, "partner": forbidden}
		operatorOrPartner := rule{"zero": forbidden, "no role": forbidden, "operator": ok,
			"other partner": ok, "other customer": forbidden, "session of another website": forbidden,
			"customer": forbidden, "partner": ok}
		partnerObject := rule{"zero": forbidden, "no role": forbidden, "operator": ok,
			"other partner": hidden, "other customer": forbidden, "session of another website": forbidden,
			"customer": forbidden, "partner": ok}

		// ref names what a call acts on: ann's website (and account) unless
		// the method's setup makes a fresh target.
		type ref struct {
			Domain                            string
			SiteID, AddonID, Account, PatchID int64
		}
		ann := ref{Domain: tn.annSite.Domain, SiteID: tn.annSite.ID, Account: tn.ann.ID}
		unknown := ref{Domain: "unknown.example.com", SiteID: 987654, AddonID: 987654, Account: 987654, PatchID: 987654}
		_, annSettings, err := f.svc.WebsiteSettings(ctx, tn.acme, ann.Domain)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		unique := func() int { n++; return n }
		editAllow := func(st engine.Settings) engine.Settings {
			st.Allow = append(append([]string(nil), st.Allow...), fmt.Sprintf("198.51.100.%d", unique()%250))
			return st
		}
		listed := func(err error, n int, is func(i int) bool) error {
			if err != nil {
				return err
			}
			for i := 0; i < n; i++ {
				if is(i) {
					return nil
				}
			}
			return core.Errorf(core.ENOTFOUND, "not listed")
		}
		type method struct {
			name  string
			rule  rule
			setup func(t *testing.T) ref
			call  func(c core.Caller, r ref) error
		}
		methods := []method{
			// What a customer uses.
			{name: "Website", rule: customerSite, call: func(c core.Caller, r ref) error {
				w, err := f.svc.Website(ctx, c, r.Domain)
				if err == nil && w.ID != r.SiteID {
					return fmt.Errorf("got website %d", w.ID)
				}
				return err
			}},
			{name: "OwnedWebsite", rule: customerSite, call: func(c core.Caller, r ref) error {
				_, err := f.svc.OwnedWebsite(ctx, c, r.Domain)
				return err
			}},
			{name: "WebsiteByID", rule: customerSite, call: func(c core.Caller, r ref) error {
				_, err := f.svc.WebsiteByID(ctx, c, r.SiteID)
				return err
			}},
			{name: "WebsiteSettings", rule: customerSite, call: func(c core.Caller, r ref) error {
				_, _, err := f.svc.WebsiteSettings(ctx, c, r.Domain)
				return err
			}},
			{name: "UpdateWebsiteSettings", rule: customerSite, call: func(c core.Caller, r ref) error {
				_, err := f.svc.UpdateWebsiteSettings(ctx, c, r.Domain, editAllow(annSettings), core.Match{})
				return err
			}},
			{name: "EditWebsiteSettings", rule: customerSite, call: func(c core.Caller, r ref) error {
				ip := editAllow(engine.Settings{}).Allow[0]
				_, _, err := f.svc.EditWebsiteSettings(ctx, c, r.Domain, core.Match{}, func(st *engine.Settings) error {
					st.Allow = append(st.Allow, ip)
					return nil
				})
				return err
			}},
			{name: "Events", rule: customerSite, call: func(c core.Caller, r ref) error {
				_, err := f.svc.Events(ctx, c, r.Domain, core.EventFilter{})
				return err
			}},
			{name: "Stats", rule: customerSite, call: func(c core.Caller, r ref) error {
				_, err := f.svc.Stats(ctx, c, r.Domain, "hour", time.Time{}, time.Time{})
				return err
			}},
			{name: "WAFStats", rule: customerSite, call: func(c core.Caller, r ref) error {
				_, err := f.svc.WAFStats(ctx, c, r.SiteID, time.Time{}, time.Time{})
				return err
			}},
			{name: "TopBlocked", rule: customerSite, call: func(c core.Caller, r ref) error {
				now := *f.now.Load()
				_, err := f.svc.TopBlocked(ctx, c, r.Domain, "ip", now.Add(-time.Hour), now, 10)
				return err
			}},
			// Lists hold the target for those who may see it; for the
			// others it is missing, as an unknown one is.
			{name: "Websites", rule: customerSite, call: func(c core.Caller, r ref) error {
				ws, err := f.svc.Websites(ctx, c, core.WebsiteFilter{})
				return listed(err, len(ws), func(i int) bool { return ws[i].ID == r.SiteID })
			}},
			{name: "OwnedWebsites", rule: customerSite, call: func(c core.Caller, r ref) error {
				ws, err := f.svc.OwnedWebsites(ctx, c, core.WebsiteFilter{})
				return listed(err, len(ws), func(i int) bool { return ws[i].ID == r.SiteID })
			}},
			{name: "Subaccount", rule: customerSite, call: func(c core.Caller, r ref) error {
				_, err := f.svc.Subaccount(ctx, c, r.Account)
				return err
			}},
			// The partner's business.
			{name: "CreateWebsite", rule: partnerOwn, call: func(c core.Caller, r ref) error {
				_, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: fmt.Sprintf("new%d.example.net", unique())}, core.Idem{})
				return err
			}},
			{name: "ModifyWebsite", rule: partnerSite, call: func(c core.Caller, r ref) error {
				online := core.StatusOnline
				_, _, err := f.svc.ModifyWebsite(ctx, c, r.Domain, core.WebsiteChange{Status: &online, RenewMonths: 1}, core.Match{}, core.Idem{})
				return err
			}},
			{name: "UpdateWebsite", rule: partnerSite, call: func(c core.Caller, r ref) error {
				sub := r.Account
				_, err := f.svc.UpdateWebsite(ctx, c, r.Domain, core.WebsiteUpdate{SubaccountID: &sub}, core.Match{})
				return err
			}},
			{name: "ChangePlan", rule: partnerSite, call: func(c core.Caller, r ref) error {
				_, _, err := f.svc.ChangePlan(ctx, c, r.Domain, "Free", core.Match{}, core.Idem{})
				return err
			}},
			{name: "Renew", rule: partnerSite, call: func(c core.Caller, r ref) error {
				_, _, err := f.svc.Renew(ctx, c, r.Domain, 1, core.Match{}, core.Idem{})
				return err
			}},
			{name: "RenewUntil", rule: partnerSite, call: func(c core.Caller, r ref) error {
				cur, err := f.svc.Website(ctx, tn.acme, ann.Domain)
				if err != nil {
					t.Fatal(err)
				}
				_, err = f.svc.RenewUntil(ctx, c, r.Domain, core.AddMonths(cur.ExpiresAt, 1, cur.BillingDay))
				return err
			}},
			{name: "DeleteWebsite", rule: partnerSite, setup: func(t *testing.T) ref {
				// A website of ann's of its own, so the partner's
				// deletion leaves ann's main one for the others.
				d := fmt.Sprintf("del%d.example.com", unique())
				w, _, err := f.svc.CreateWebsite(ctx, tn.acme, core.WebsiteCreate{Domain: d, SubaccountID: tn.ann.ID}, core.Idem{})
				if err != nil {
					t.Fatal(err)
				}
				return ref{Domain: d, SiteID: w.ID, Account: tn.ann.ID}
			}, call: func(c core.Caller, r ref) error {
				_, err := f.svc.DeleteWebsite(ctx, c, r.Domain, core.Match{})
				return err
			}},
			{name: "ProvisionAddon", rule: partnerSite, call: func(c core.Caller, r ref) error {
				_, err := f.svc.ProvisionAddon(ctx, c, r.SiteID, core.AddonExtraRequests, 1)
				return err
			}},
			{name: "ModifyAddon", rule: partnerSite, setup: func(t *testing.T) ref {
				a, err := f.svc.ProvisionAddon(ctx, tn.acme, ann.SiteID, core.AddonExtraRequests, 1)
				if err != nil {
					t.Fatal(err)
				}
				r := ann
				r.AddonID = a.ID
				return r
			}, call: func(c core.Caller, r ref) error {
				_, err := f.svc.ModifyAddon(ctx, c, r.AddonID, 2)
				return err
			}},
			{name: "DeleteAddon", rule: partnerSite, setup: func(t *testing.T) ref {
				a, err := f.svc.ProvisionAddon(ctx, tn.acme, ann.SiteID, core.AddonExtraRequests, 1)
				if err != nil {
					t.Fatal(err)
				}
				r := ann
				r.AddonID = a.ID
				return r
			}, call: func(c core.Caller, r ref) error {
				return f.svc.DeleteAddon(ctx, c, r.AddonID)
			}},
			{name: "Addons", rule: partnerSite, setup: func(t *testing.T) ref {
				if _, err := f.svc.ProvisionAddon(ctx, tn.acme, ann.SiteID, core.AddonExtraRequests, 1); err != nil {
					t.Fatal(err)
				}
				return ann
			}, call: func(c core.Caller, r ref) error {
				as, err := f.svc.Addons(ctx, c, r.SiteID)
				if err == nil && len(as) == 0 {
					// What a website nobody registered has: none.
					return core.Errorf(core.ENOTFOUND, "no add-ons")
				}
				return err
			}},
			{name: "CreateSubaccount", rule: partnerOwn, call: func(c core.Caller, r ref) error {
				_, _, err := f.svc.CreateSubaccount(ctx, c, core.SubaccountCreate{Email: fmt.Sprintf("new%d@example.com", unique())}, core.Idem{})
				return err
			}},
			{name: "Subaccounts", rule: partnerSite, call: func(c core.Caller, r ref) error {
				as, err := f.svc.Subaccounts(ctx, c, core.SubaccountFilter{})
				return listed(err, len(as), func(i int) bool { return as[i].ID == r.Account })
			}},
			{name: "DeleteSubaccount", rule: partnerSite, setup: func(t *testing.T) ref {
				a, _, err := f.svc.CreateSubaccount(ctx, tn.acme, core.SubaccountCreate{Email: fmt.Sprintf("gone%d@example.com", unique())}, core.Idem{})
				if err != nil {
					t.Fatal(err)
				}
				return ref{Domain: ann.Domain, SiteID: ann.SiteID, Account: a.ID}
			}, call: func(c core.Caller, r ref) error {
				return f.svc.DeleteSubaccount(ctx, c, r.Account)
			}},
			{name: "UpdateSubaccountEmail", rule: partnerSite, call: func(c core.Caller, r ref) error {
				_, err := f.svc.UpdateSubaccountEmail(ctx, c, r.Account, fmt.Sprintf("ann%d@example.com", unique()))
				return err
			}},
			{name: "DeleteAccount", rule: partnerSite, setup: func(t *testing.T) ref {
				a, _, err := f.svc.CreateSubaccount(ctx, tn.acme, core.SubaccountCreate{Email: fmt.Sprintf("gone%d@example.com", unique())}, core.Idem{})
				if err != nil {
					t.Fatal(err)
				}
				return ref{Domain: ann.Domain, SiteID: ann.SiteID, Account: a.ID}
			}, call: func(c core.Caller, r ref) error {
				_, err := f.svc.DeleteAccount(ctx, c, r.Account)
				return err
			}},
			{name: "Lists", rule: partnerOwn, call: func(c core.Caller, r ref) error {
				_, err := f.svc.Lists(ctx, c)
				return err
			}},
			{name: "UpdateLists", rule: partnerOwn, call: func(c core.Caller, r ref) error {
				_, err := f.svc.UpdateLists(ctx, c, core.PartnerLists{Deny: []string{fmt.Sprintf("203.0.113.%d", unique()%250)}})
				return err
			}},
			{name: "RotateChallengeKey", rule: operatorOnly, call: func(c core.Caller, r ref) error {
				return f.svc.RotateChallengeKey(ctx, c)
			}},
			// Virtual patches: the operator's and each partner's own.
			{name: "CreateWAFPatch", rule: operatorOrPartner, call: func(c core.Caller, r ref) error {
				_, err := f.svc.CreateWAFPatch(ctx, c, core.WAFPatch{Name: fmt.Sprintf("p%d", unique()), Rule: &waf.PatchRule{Target: "arg:x", Op: "exists"}})
				return err
			}},
			{name: "WAFPatches", rule: operatorOrPartner, call: func(c core.Caller, r ref) error {
				_, err := f.svc.WAFPatches(ctx, c)
				return err
			}},
			{name: "DeleteWAFPatch", rule: partnerObject, setup: func(t *testing.T) ref {
				p, err := f.svc.CreateWAFPatch(ctx, tn.acme, core.WAFPatch{Name: fmt.Sprintf("p%d", unique()), Rule: &waf.PatchRule{Target: "arg:x", Op: "exists"}})
				if err != nil {
					t.Fatal(err)
				}
				r := ann
				r.PatchID = p.ID
				return r
			}, call: func(c core.Caller, r ref) error {
				return f.svc.DeleteWAFPatch(ctx, c, r.PatchID)
			}},
			{name: "WAFNewSiteMode", rule: partnerOwn, call: func(c core.Caller, r ref) error {
				_, err := f.svc.WAFNewSiteMode(ctx, c)
				return err
			}},
			{name: "SetWAFNewSiteMode", rule: partnerOwn, call: func(c core.Caller, r ref) error {
				return f.svc.SetWAFNewSiteMode(ctx, c, []string{core.WAFModeBlock, core.WAFModeDetect}[unique()%2])
			}},
		}

		// acme's state: balance, websites, add-ons, accounts, audit log.
		state := func(t *testing.T) string {
			t.Helper()
			_, bal, err := f.svc.LedgerBalanced(ctx, core.Operator(), tn.acme.PartnerID)
			if err != nil {
				t.Fatal(err)
			}
			ws, err := f.svc.Websites(ctx, tn.acme, core.WebsiteFilter{})
			if err != nil {
				t.Fatal(err)
			}
			s := fmt.Sprintf("balance %s;", bal)
			for _, w := range ws {
				s += fmt.Sprintf(" %s v%d %s %s user %d;", w.Domain, w.Version, w.Status, w.Plan.Name, w.SubaccountID)
			}
			as, err := f.svc.Addons(ctx, tn.acme, ann.SiteID)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range as {
				s += fmt.Sprintf(" addon %d×%d;", a.ID, a.Quantity)
			}
			subs, err := f.svc.Subaccounts(ctx, tn.acme, core.SubaccountFilter{})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range subs {
				s += fmt.Sprintf(" account %d %s;", a.ID, a.Email)
			}
			after, entries := int64(0), 0
			for {
				es, err := f.svc.Audit(ctx, tn.acme, after, 100)
				if err != nil {
					t.Fatal(err)
				}
				if len(es) == 0 {
					break
				}
				entries += len(es)
				after = es[len(es)-1].ID
			}
			l, err := f.svc.Lists(ctx, tn.acme)
			if err != nil {
				t.Fatal(err)
			}
			return s + fmt.Sprintf(" audit %d; lists %v", entries, l)
		}
		digits := regexp.MustCompile(`[0-9]+`)
		shape := func(msg string, r ref) string {
			return digits.ReplaceAllString(strings.ReplaceAll(msg, r.Domain, "<domain>"), "<n>")
		}

		for _, m := range methods {
			for _, who := range whos {
				want := m.rule[who.name]
				t.Run(m.name+"/"+who.name, func(t *testing.T) {
					r := ann
					if m.setup != nil {
						r = m.setup(t)
					}
					before := state(t)
					err := m.call(who.c, r)
					switch want {
					case ok:
						if err != nil {
							t.Fatalf("%s was refused: %v", who.name, err)
						}
						return
					case forbidden:
						wantCode(t, err, core.EFORBIDDEN)
					case hidden:
						wantCode(t, err, core.ENOTFOUND)
						// The answer for a target nobody registered, as
						// acme itself hears it, in the same words.
						u := m.call(tn.acme, unknown)
						wantCode(t, u, core.ENOTFOUND)
						if got, want := shape(core.ErrorMessage(err), r), shape(core.ErrorMessage(u), unknown); got != want {
							t.Fatalf("answer %q differs from an unknown target's %q", core.ErrorMessage(err), core.ErrorMessage(u))
						}
					}
					if after := state(t); after != before {
						t.Fatalf("a refused call changed acme's state:\n before %s\n after  %s", before, after)
					}
				})
			}
		}
		// A refused caller is refused before its input is looked at.
		for _, c := range []core.Caller{{}, core.Operator()} {
			_, err := f.svc.UpdateWebsiteSettings(ctx, c, ann.Domain, engine.Settings{Allow: []string{"not an address"}}, core.Match{})
			wantCode(t, err, core.EFORBIDDEN)
		}
	})
}
