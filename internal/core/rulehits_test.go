package core_test

import (
	"context"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestRuleHits: each custom rule's decisions of the last 30 days (by the
// service's clock) are counted from the website's own events only (not a
// sibling website's, not another partner's with the same rule name, not a
// rate limit of the same name); grants are flagged as a sample; the
// exact totals come from the counters; only the website's partner and
// its customer may ask.
func TestRuleHits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a, b := f.partner(t, "a", 0), f.partner(t, "b", 0)
		jane, _, err := f.svc.CreateSubaccount(ctx, a, core.SubaccountCreate{Email: "jane@example.com"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		bob, _, err := f.svc.CreateSubaccount(ctx, a, core.SubaccountCreate{Email: "bob@example.com"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		site := func(c core.Caller, domain string, sub int64) core.Website {
			t.Helper()
			w, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: domain, SubaccountID: sub}, core.Idem{})
			if err != nil {
				t.Fatal(err)
			}
			return w
		}
		shop, blog, other := site(a, "shop.example.com", jane.ID), site(a, "blog.example.com", bob.ID), site(b, "other.example.net", 0)
		now := *f.now.Load()
		ev := func(w core.Website, at time.Time, source, reason, action string) core.Event {
			return core.Event{PartnerID: w.PartnerID, WebsiteID: w.ID, At: at, IP: "192.0.2.1", Method: "GET", Host: w.Domain, Path: "/admin", UserAgent: "x",
				Action: action, Category: "custom_rules", Source: source, Reason: reason}
		}
		var evs []core.Event
		for i := 0; i < 3; i++ {
			evs = append(evs, ev(shop, now.Add(-time.Duration(i)*24*time.Hour), "rule", "block-admin", "deny"))
		}
		evs = append(evs,
			ev(shop, now.Add(-30*24*time.Hour+time.Second), "rule", "block-admin", "challenge"), // just inside
			ev(shop, now.Add(-30*24*time.Hour-time.Second), "rule", "block-admin", "deny"),      // just outside
			ev(shop, now.Add(-time.Hour), "rule", "office", "grant"),
			ev(shop, now.Add(-time.Hour), "rate_limit", "block-admin", "deny"),
			ev(shop, now.Add(-time.Hour), "category", "ai_crawlers", "deny"),
		)
		for i := 0; i < 5; i++ {
			evs = append(evs, ev(blog, now.Add(-time.Hour), "rule", "block-admin", "deny"))
		}
		for i := 0; i < 7; i++ {
			o := ev(other, now.Add(-time.Hour), "rule", "block-admin", "deny")
			evs = append(evs, o)
		}
		stat := func(w core.Website, at time.Time, cat, action string, n int64) core.StatRow {
			return core.StatRow{WebsiteID: w.ID, PartnerID: w.PartnerID, Minute: at.Truncate(time.Minute), Action: action, Category: cat, Count: n}
		}
		stats := []core.StatRow{
			stat(shop, now.Add(-2*time.Hour), "custom_rules", "deny", 40),
			stat(shop, now.Add(-3*time.Hour), "custom_rules", "grant", 100),
			stat(shop, now.Add(-31*24*time.Hour), "custom_rules", "deny", 1000),
			stat(shop, now.Add(-2*time.Hour), "ai_crawlers", "deny", 9),
			stat(blog, now.Add(-2*time.Hour), "custom_rules", "deny", 500),
		}
		if err := f.svc.RecordDecisions(ctx, evs, stats); err != nil {
			t.Fatal(err)
		}
		janeC := core.Caller{Role: core.RoleSubaccount, PartnerID: a.PartnerID, SubaccountID: jane.ID, Protocol: core.ProtocolSSO}
		for _, c := range []core.Caller{a, janeC} {
			h, err := f.svc.RuleHits(ctx, c, "shop.example.com")
			if err != nil {
				t.Fatal(err)
			}
			if n, sampled := h.Of("block-admin"); n != 4 || sampled {
				t.Fatalf("block-admin: %d (sampled %v); want 4 exact; hits %+v", n, sampled, h.Hits)
			}
			if n, sampled := h.Of("office"); n != 1 || !sampled {
				t.Fatalf("office: %d (sampled %v); want 1 sampled", n, sampled)
			}
			if n, _ := h.Of("nobody"); n != 0 {
				t.Fatalf("a rule without events: %d", n)
			}
			if h.Total() != 140 || h.Totals["deny"] != 40 || h.Totals["grant"] != 100 {
				t.Fatalf("totals %v", h.Totals)
			}
			if !h.To.Equal(now) || h.Days() != 30 {
				t.Fatalf("window %s – %s (%d days)", h.From, h.To, h.Days())
			}
		}
		// The other customer of the same partner, the other partner and
		// the operator see nothing of it.
		bobC := core.Caller{Role: core.RoleSubaccount, PartnerID: a.PartnerID, SubaccountID: bob.ID, Protocol: core.ProtocolSSO}
		_, err = f.svc.RuleHits(ctx, bobC, "shop.example.com")
		wantCode(t, err, core.ENOTFOUND)
		_, err = f.svc.RuleHits(ctx, b, "shop.example.com")
		wantCode(t, err, core.ENOTFOUND)
		if _, err = f.svc.RuleHits(ctx, core.Operator(), "shop.example.com"); err == nil {
			t.Fatal("the operator read a partner's rule hits")
		}
		// The other partner's website counts its own.
		h, err := f.svc.RuleHits(ctx, b, "other.example.net")
		if n, _ := h.Of("block-admin"); err != nil || n != 7 {
			t.Fatalf("the other partner's site: %d %v", n, err)
		}
		// A day later, the oldest hit leaves the window.
		f.advance(24 * time.Hour)
		h, err = f.svc.RuleHits(ctx, a, "shop.example.com")
		if n, _ := h.Of("block-admin"); err != nil || n != 3 {
			t.Fatalf("a day later: %d %v", n, err)
		}
	})
}
