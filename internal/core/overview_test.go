package core_test

import (
	"context"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/testenv/monthedge"
)

// TestPartnerOverview: a partner's overview sums its own websites only
// (partner B's traffic and websites never show in A's), ranks the most
// attacked, lists the websites still in setup and those near their quota,
// and shows its latest changes; only a partner may ask for it.
func TestPartnerOverview(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		// The test books rows an hour back and reads them two hours and a
		// minute after its start: all within one month (the test's subject
		// is not the month's edge: TestPartnerOverviewAcrossMonthStart's is).
		f.advance(monthedge.Clear(f.svc.Now(), 0, 3*time.Hour))
		a := f.partner(t, "a", 100000)
		b := f.partner(t, "b", 100000)
		site := func(c core.Caller, domain, plan string, seen bool) core.Website {
			t.Helper()
			w, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: domain, Plan: plan}, core.Idem{})
			if err != nil {
				t.Fatal(err)
			}
			if seen {
				if _, err := f.svc.MarkSeen(ctx, c.PartnerID, w.ID, domain); err != nil {
					t.Fatal(err)
				}
			}
			return w
		}
		a1 := site(a, "busy.a.example", "10k", true)
		a2 := site(a, "new.a.example", "", false)
		a3 := site(a, "attacked.a.example", "200k", true)
		b1 := site(b, "huge.b.example", "10k", true)
		f.advance(2 * time.Hour)
		now := f.svc.Now()
		minute := now.Add(-time.Hour).Truncate(time.Minute)
		month := core.MonthStart(now)
		row := func(w core.Website, at time.Time, action, category string, n int64) core.StatRow {
			return core.StatRow{WebsiteID: w.ID, PartnerID: w.PartnerID, Minute: at, Action: action, Category: category, Count: n}
		}
		stats := []core.StatRow{
			// busy.a: 8,500 requests this month (85% of 10k), 9 of them
			// denied an hour ago.
			row(a1, month, "grant", "humans", 8400),
			row(a1, minute, "grant", "humans", 91),
			row(a1, minute, "deny", "bad_bots", 9),
			// attacked.a: 40 denied, 5 challenged (3 solved), 7 only
			// detected by the firewall.
			row(a3, minute, "deny", "waf", 40),
			row(a3, minute, "challenge", "automation", 5),
			row(a3, minute, "solved", "challenge", 3),
			row(a3, minute, core.WAFDetected, "", 7),
			row(a3, minute, core.WAFBlocked, "", 40),
			// huge.b: far more of everything, and over its quota.
			row(b1, minute, "deny", "bad_bots", 50000),
			row(b1, minute, core.WAFDetected, "", 900),
		}
		stats[6].WAFClass, stats[7].WAFClass, stats[9].WAFClass = "sqli", "sqli", "xss"
		if err := f.svc.RecordDecisions(ctx, nil, stats); err != nil {
			t.Fatal(err)
		}
		f.advance(time.Minute)

		o, err := f.svc.PartnerOverview(ctx, a, core.OverviewDay)
		if err != nil {
			t.Fatal(err)
		}
		if o.Websites != 3 || len(o.Series) != 24 {
			t.Fatalf("websites %d, buckets %d", o.Websites, len(o.Series))
		}
		// The day's window is 24 hourly buckets ending with the current
		// hour; the 8,400 requests booked at the month's first minute are
		// in it when the month began in that window (the first day of a
		// month, up to 23 hours in).
		from := f.svc.Now().Add(-23 * time.Hour).Truncate(time.Hour)
		if !o.From.Equal(from) {
			t.Fatalf("the day's window starts at %v, want %v", o.From, from)
		}
		wantTotal := int64(91 + 9 + 40 + 5)
		if !month.Before(from) {
			wantTotal += 8400
		}
		if o.Total.Requests != wantTotal || o.Total.Blocked != 49 || o.Total.Challenged != 5 {
			t.Fatalf("totals %+v (want %d requests, 49 blocked, 5 challenged)", o.Total, wantTotal)
		}
		if o.Challenges.Issued != 5 || o.Challenges.Solved != 3 {
			t.Fatalf("challenges %+v", o.Challenges)
		}
		if len(o.MostAttacked) != 2 || o.MostAttacked[0].Website.ID != a3.ID || o.MostAttacked[0].Attacks() != 47 ||
			o.MostAttacked[0].WAFBlocked != 40 || o.MostAttacked[1].Website.ID != a1.ID {
			t.Fatalf("most attacked: %+v", o.MostAttacked)
		}
		if len(o.Setup) != 1 || o.Setup[0].Website.ID != a2.ID || o.Setup[0].Age < 2*time.Hour {
			t.Fatalf("setup: %+v", o.Setup)
		}
		if len(o.Quota) != 1 || o.Quota[0].Website.ID != a1.ID || o.Quota[0].Used != 8500 || o.Quota[0].Quota != 10000 || o.Quota[0].Over {
			t.Fatalf("quota: %+v", o.Quota)
		}
		if len(o.Recent) == 0 || o.Recent[0].ObjectType != "website" {
			t.Fatalf("recent changes: %+v", o.Recent)
		}
		for _, e := range o.Recent {
			if e.ObjectType == "session" || e.ObjectType == "login_token" {
				t.Fatalf("a sign-in among the recent changes: %+v", e)
			}
			if e.PartnerID != a.PartnerID {
				t.Fatalf("another partner's change in A's overview: %+v", e)
			}
		}
		for i := 1; i < len(o.Recent); i++ {
			if o.Recent[i].ID > o.Recent[i-1].ID {
				t.Fatalf("recent changes not newest first: %+v", o.Recent)
			}
		}

		if len(o.Sites) != 3 || o.Sites[0].Website.ID != a3.ID || o.Sites[0].Blocked != 40 || o.Sites[1].Website.ID != a1.ID || o.Sites[1].MonthRequests != 8500 ||
			o.Sites[2].Website.ID != a2.ID || o.Sites[2].Requests != 0 {
			t.Fatalf("sites: %+v", o.Sites)
		}
		// B sees its own website, over its quota, and nothing of A's.
		ob, err := f.svc.PartnerOverview(ctx, b, core.OverviewMonth)
		if err != nil {
			t.Fatal(err)
		}
		if ob.Websites != 1 || len(ob.Series) != 30 || ob.Total.Blocked != 50000 || len(ob.MostAttacked) != 1 || ob.MostAttacked[0].Website.ID != b1.ID ||
			len(ob.Quota) != 1 || !ob.Quota[0].Over || len(ob.Setup) != 0 {
			t.Fatalf("B's overview: %+v", ob)
		}

		// Only a partner, for itself.
		for _, c := range []core.Caller{core.Operator(), {}, {Role: core.RoleSubaccount, PartnerID: a.PartnerID, SubaccountID: 1}} {
			if _, err := f.svc.PartnerOverview(ctx, c, core.OverviewDay); core.ErrorCode(err) != core.EFORBIDDEN {
				t.Fatalf("%v asked for a partner overview: %v", c.Role, err)
			}
		}
		if _, err := f.svc.PartnerOverview(ctx, a, "year"); core.ErrorCode(err) != core.EINVALID {
			t.Fatalf("period year: %v", err)
		}
	})
}

// TestPartnerOverviewAcrossMonthStart: half an hour into a month, the day's
// overview holds the last hours of the month before as well, while a
// website's month (its quota) counts only this month's requests.
func TestPartnerOverviewAcrossMonthStart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		start := core.AddMonths(core.MonthStart(f.svc.Now()), 1, 1)
		f.advance(start.Add(30 * time.Minute).Sub(f.svc.Now()))
		a := f.partner(t, "a", 100000)
		w, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "edge.a.example", Plan: "10k"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.MarkSeen(ctx, a.PartnerID, w.ID, "edge.a.example"); err != nil {
			t.Fatal(err)
		}
		row := func(at time.Time, action, category string, n int64) core.StatRow {
			return core.StatRow{WebsiteID: w.ID, PartnerID: w.PartnerID, Minute: at, Action: action, Category: category, Count: n}
		}
		if err := f.svc.RecordDecisions(ctx, nil, []core.StatRow{
			row(start.Add(-20*time.Minute), "grant", "humans", 100), // the month before
			row(start.Add(-20*time.Minute), "deny", "bad_bots", 4),
			row(start.Add(10*time.Minute), "grant", "humans", 7), // this month
			row(start.Add(10*time.Minute), "deny", "bad_bots", 2),
		}); err != nil {
			t.Fatal(err)
		}
		f.advance(time.Minute)
		o, err := f.svc.PartnerOverview(ctx, a, core.OverviewDay)
		if err != nil {
			t.Fatal(err)
		}
		if o.Total.Requests != 113 || o.Total.Blocked != 6 {
			t.Fatalf("the day's totals across the month's start: %+v (want 113 requests, 6 blocked)", o.Total)
		}
		if len(o.Sites) != 1 || o.Sites[0].MonthRequests != 9 {
			t.Fatalf("the website's month counts the month before: %+v (want 9 requests this month)", o.Sites)
		}
	})
}

// TestOperatorOverview: the operator sees partners, websites by status and
// every node's heartbeat; a node silent for two minutes is gone, one
// silent for a week forgotten; nobody else may look.
func TestOperatorOverview(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a := f.partner(t, "a", 100000)
		if _, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "one.example"}, core.Idem{}); err != nil {
			t.Fatal(err)
		}
		start := f.svc.Now()
		old := core.Node{Name: "old-host 10.0.0.9:8080", Role: "edge", ConfigVersion: 3, StartedAt: start}
		if err := f.svc.RecordHeartbeat(ctx, old); err != nil {
			t.Fatal(err)
		}
		f.advance(3 * time.Minute)
		live := core.Node{Name: "web-1 10.0.0.1:8080", Role: "all", ConfigVersion: 7, Lag: 1500 * time.Millisecond, EventsDropped: 4,
			Redis: "ok", RedisLatency: 800 * time.Microsecond, StartedAt: start}
		if err := f.svc.RecordHeartbeat(ctx, live); err != nil {
			t.Fatal(err)
		}
		o, err := f.svc.OperatorOverview(ctx, core.Operator())
		if err != nil {
			t.Fatal(err)
		}
		if o.Partners != 1 || o.Websites[core.StatusSetup] != 1 || o.Live != 1 || !o.Store.OK {
			t.Fatalf("overview: %+v", o)
		}
		if len(o.Nodes) != 2 || o.Nodes[0].Name != live.Name || o.Nodes[0].Gone || o.Nodes[0].Lag != live.Lag || o.Nodes[0].ConfigVersion != 7 ||
			!o.Nodes[1].Gone || o.Nodes[1].Name != old.Name {
			t.Fatalf("nodes: %+v", o.Nodes)
		}
		if !o.RedisUsed || !o.Redis.OK || o.EventsDropped != 4 {
			t.Fatalf("redis %v %+v, dropped %d", o.RedisUsed, o.Redis, o.EventsDropped)
		}
		// A week later the old node's row is gone with the next heartbeat.
		f.advance(core.NodeForgetAfter)
		live.Redis = "dial tcp: connection refused"
		if err := f.svc.RecordHeartbeat(ctx, live); err != nil {
			t.Fatal(err)
		}
		if o, err = f.svc.OperatorOverview(ctx, core.Operator()); err != nil || len(o.Nodes) != 1 || o.Redis.OK {
			t.Fatalf("after a week: %+v %v", o, err)
		}
		if _, err := f.svc.OperatorOverview(ctx, a); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Fatalf("a partner saw the fleet: %v", err)
		}
		if err := f.svc.RecordHeartbeat(ctx, core.Node{}); core.ErrorCode(err) != core.EINVALID {
			t.Fatalf("a nameless heartbeat: %v", err)
		}
	})
}
