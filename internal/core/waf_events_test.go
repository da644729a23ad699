package core_test

import (
	"context"
	"log/slog"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/events"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/waf"
)

// TestWAFEventRoundTrip: an event's firewall finding is stored and read
// back whole; an event without one reads back without one.
func TestWAFEventRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a := f.partner(t, "a", 0)
		w, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "waf.example.com"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		now := *f.now.Load()
		finding := &core.EventWAF{Mode: "block", Blocked: true, Score: 10, Class: "sqli", Rules: []core.EventWAFRule{
			{ID: 942100, Msg: "SQL Injection Attack Detected via libinjection", Class: "sqli", Var: "ARGS:id", Data: "1' OR '1'='1"},
			{ID: 9000001, Msg: "wp-file-manager upload", Class: "virtual_patch", Var: "REQUEST_FILENAME", Data: "/wp-content/plugins/wp-file-manager/lib/php/connector.minimal.php", Patch: "CVE-2020-25213"},
		}}
		evs := []core.Event{
			{PartnerID: a.PartnerID, WebsiteID: w.ID, At: now.Add(-2 * time.Second), IP: "192.0.2.1", Method: "GET", Host: w.Domain, Path: "/", UserAgent: "x",
				Action: "deny", Category: "lists", Source: "list", Reason: "deny list"},
			{PartnerID: a.PartnerID, WebsiteID: w.ID, At: now.Add(-time.Second), IP: "192.0.2.1", Method: "GET", Host: w.Domain, Path: "/products", Query: "id=1' OR '1'='1",
				UserAgent: "Mozilla/5.0", Action: "deny", Category: "waf", Source: "waf", Reason: "waf", Detail: "sqli 942100", Ref: "K7Q2M4XW6P", WAF: finding},
		}
		if err := f.svc.RecordDecisions(ctx, evs, nil); err != nil {
			t.Fatal(err)
		}
		got, err := f.svc.Events(ctx, a, w.Domain, core.EventFilter{})
		if err != nil || len(got) != 2 {
			t.Fatalf("events: %+v %v", got, err)
		}
		if !reflect.DeepEqual(got[0].WAF, finding) {
			t.Fatalf("firewall finding read back as %+v, stored %+v", got[0].WAF, finding)
		}
		if got[1].WAF != nil {
			t.Fatalf("an event without a finding reads back with %+v", got[1].WAF)
		}
		// Found by the reference ID its deny page showed, finding and all.
		byRef, err := f.svc.Events(ctx, a, w.Domain, core.EventFilter{Ref: "K7Q2M4XW6P"})
		if err != nil || len(byRef) != 1 || !reflect.DeepEqual(byRef[0].WAF, finding) {
			t.Fatalf("by ref: %+v %v", byRef, err)
		}
		// Filtered by the finding's class, or by having one.
		for _, c := range []struct {
			class string
			n     int
		}{{"sqli", 1}, {"xss", 0}, {core.WAFAnyClass, 1}, {"", 2}} {
			if got, err := f.svc.Events(ctx, a, w.Domain, core.EventFilter{WAFClass: c.class}); err != nil || len(got) != c.n {
				t.Fatalf("waf_class %q: %d events (%v), want %d", c.class, len(got), err, c.n)
			}
		}
		_, err = f.svc.Events(ctx, a, w.Domain, core.EventFilter{WAFClass: "sqli' OR 1=1"})
		wantCode(t, err, core.EINVALID)
		// An event for a day without a partition yet (PostgreSQL: the
		// default partition) keeps its finding when the day's partition is
		// made and the row moves there.
		later := evs[1]
		later.At, later.Ref = now.Add(5*24*time.Hour), ""
		if err := f.svc.RecordDecisions(ctx, []core.Event{later}, nil); err != nil {
			t.Fatal(err)
		}
		f.advance(5 * 24 * time.Hour)
		if _, _, err := f.svc.PurgeOldEvents(ctx, 30*24*time.Hour); err != nil {
			t.Fatal(err)
		}
		moved, err := f.svc.Events(ctx, a, w.Domain, core.EventFilter{From: later.At})
		if err != nil || len(moved) != 1 || !reflect.DeepEqual(moved[0].WAF, finding) {
			t.Fatalf("after the partition was made: %+v %v", moved, err)
		}
	})
}

// TestWAFStatsByClass: the firewall's counters are summed by attack class
// per website, blocked apart from detected, within [from, to), in the
// classes' order; other tenants get not_found, as for an unknown website.
func TestWAFStatsByClass(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		tn := newTenants(t, f)
		now := f.now.Load().Truncate(time.Minute)
		row := func(site core.Website, ago time.Duration, class, action string, n int64) core.StatRow {
			return core.StatRow{WebsiteID: site.ID, PartnerID: site.PartnerID, Minute: now.Add(-ago), WAFClass: class, Action: action, Count: n}
		}
		rows := []core.StatRow{
			row(tn.annSite, time.Minute, "xss", core.WAFBlocked, 2),
			row(tn.annSite, time.Minute, "sqli", core.WAFBlocked, 3),
			row(tn.annSite, 2*time.Minute, "sqli", core.WAFDetected, 1),
			row(tn.annSite, 2*time.Hour, "sqli", core.WAFBlocked, 100), // before from
			row(tn.bobSite, time.Minute, "sqli", core.WAFBlocked, 7),   // another website
			// a decision counter in the same batch stays a decision counter
			{WebsiteID: tn.annSite.ID, PartnerID: tn.annSite.PartnerID, Minute: now.Add(-time.Minute), Action: "deny", Category: "waf", Count: 5},
		}
		if err := f.svc.RecordDecisions(ctx, nil, rows); err != nil {
			t.Fatal(err)
		}
		// Counters of the same minute and class add up.
		if err := f.svc.RecordDecisions(ctx, nil, []core.StatRow{row(tn.annSite, time.Minute, "sqli", core.WAFBlocked, 1)}); err != nil {
			t.Fatal(err)
		}
		from, to := now.Add(-time.Hour), now.Add(time.Minute)
		want := []core.WAFClassCount{{Class: "sqli", Blocked: 4, Detected: 1}, {Class: "xss", Blocked: 2}}
		for _, c := range []core.Caller{tn.acme, tn.annCaller} {
			got, err := f.svc.WAFStats(ctx, c, tn.annSite.ID, from, to)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: %+v %v; want %+v", c.Actor, got, err, want)
			}
		}
		pts, err := f.svc.Stats(ctx, tn.acme, tn.annSite.Domain, "hour", from, to)
		if err != nil || len(pts) != 1 || pts[0].Category != "waf" || pts[0].Count != 5 {
			t.Fatalf("decision counters: %+v %v", pts, err)
		}
		// Nothing counted: an empty list, not null.
		if got, err := f.svc.WAFStats(ctx, tn.acme, tn.loneSite.ID, from, to); err != nil || got == nil || len(got) != 0 {
			t.Fatalf("no firewall decisions: %#v %v", got, err)
		}
		// The default span is the day before now.
		if got, err := f.svc.WAFStats(ctx, tn.acme, tn.annSite.ID, time.Time{}, time.Time{}); err != nil || len(got) != 2 || got[0].Blocked != 104 {
			t.Fatalf("default span: %+v %v", got, err)
		}
		_, err = f.svc.WAFStats(ctx, tn.acme, tn.annSite.ID, to, from)
		wantCode(t, err, core.EINVALID)
		_, err = f.svc.WAFStats(ctx, tn.acme, tn.annSite.ID, to.Add(-core.MaxWAFStatsSpan-time.Hour), to)
		wantCode(t, err, core.EINVALID)
		unknown, err := f.svc.WAFStats(ctx, tn.acme, 987654, from, to)
		wantCode(t, err, core.ENOTFOUND)
		_ = unknown
		for _, c := range []core.Caller{tn.beta, core.CustomerCaller(tn.bob, "192.0.2.2")} {
			_, err := f.svc.WAFStats(ctx, c, tn.annSite.ID, from, to)
			wantCode(t, err, core.ENOTFOUND)
		}
		_, err = f.svc.WAFStats(ctx, core.Operator(), tn.annSite.ID, from, to)
		wantCode(t, err, core.EFORBIDDEN)
		// Kept as long as the decision counters, then purged with them.
		f.advance(core.StatsRetention - 2*time.Hour)
		if _, _, err := f.svc.PurgeOldEvents(ctx, 30*24*time.Hour); err != nil {
			t.Fatal(err)
		}
		if got, err := f.svc.WAFStats(ctx, tn.acme, tn.annSite.ID, from, to); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("within the retention: %+v %v", got, err)
		}
		f.advance(3 * time.Hour)
		if _, _, err := f.svc.PurgeOldEvents(ctx, 30*24*time.Hour); err != nil {
			t.Fatal(err)
		}
		if got, err := f.svc.WAFStats(ctx, tn.acme, tn.annSite.ID, from, to); err != nil || len(got) != 0 {
			t.Fatalf("after the retention: %+v %v", got, err)
		}
	})
}

// TestDetectModeWAFGrantIsRecorded: a grant the firewall only detected,
// with grant sampling off, goes from the recorder through the store to
// the events list with its finding, and into the class statistics.
func TestDetectModeWAFGrantIsRecorded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		f := newFixture(t, db)
		a := f.partner(t, "a", 0)
		w, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "detect.example.com"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		rec := events.New(f.svc.RecordBatch, events.Options{GrantSample: 0, Flush: time.Hour, Now: f.svc.Now, Logger: slog.New(slog.DiscardHandler)})
		done := make(chan struct{})
		go func() { rec.Run(ctx); close(done) }()
		pol, err := engine.Compile(engine.Site{ID: w.ID, PartnerID: w.PartnerID, Domain: w.Domain, Status: "online",
			Settings: engine.Settings{WAF: engine.WAFSettings{Mode: "detect"}}})
		if err != nil {
			t.Fatal(err)
		}
		req := &engine.Request{IP: netip.MustParseAddr("192.0.2.7"), Method: "GET", Host: w.Domain, Path: "/search", Query: "q=<script>alert(1)</script>", UserAgent: "Mozilla/5.0"}
		found := &waf.Result{Blocked: true, Score: 5, Class: waf.ClassXSS, Matches: []waf.Match{{ID: 941100, Message: "XSS Attack Detected via libinjection", Class: waf.ClassXSS, Variable: "ARGS:q", Data: "<script>alert(1)</script>"}}}
		rec.Observe(pol, req, engine.Verdict{Action: engine.Grant, Source: engine.SourceCategory, Category: engine.Humans, WAF: found})
		rec.Observe(pol, req, engine.Verdict{Action: engine.Grant, Source: engine.SourceCategory, Category: engine.Humans}) // sampled away
		rec.Flush(ctx)
		cancel()
		<-done
		got, err := f.svc.Events(context.Background(), a, w.Domain, core.EventFilter{})
		if err != nil || len(got) != 1 {
			t.Fatalf("events: %+v %v", got, err)
		}
		e := got[0]
		if e.Action != "grant" || e.WAF == nil || e.WAF.Mode != "detect" || !e.WAF.Blocked || e.WAF.Class != "xss" ||
			len(e.WAF.Rules) != 1 || e.WAF.Rules[0].ID != 941100 || e.WAF.Rules[0].Var != "ARGS:q" {
			t.Fatalf("event %+v, finding %+v", e, e.WAF)
		}
		stats, err := f.svc.WAFStats(context.Background(), a, w.ID, time.Time{}, f.svc.Now().Add(time.Minute))
		if want := []core.WAFClassCount{{Class: "xss", Detected: 1}}; err != nil || !reflect.DeepEqual(stats, want) {
			t.Fatalf("class stats %+v %v; want %+v", stats, err, want)
		}
	})
}

// TestPlanWithoutWAF: a plan says whether its websites have the firewall;
// the default plans do, EngineSites reports NoWAF for a website on a plan
// that does not, and the operator can change a plan.
func TestPlanWithoutWAF(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		plans, err := f.svc.Plans(ctx)
		if err != nil || len(plans) == 0 {
			t.Fatalf("plans: %v %v", plans, err)
		}
		for _, p := range plans {
			if !p.WAF {
				t.Fatalf("default plan %s comes without the firewall", p.Name)
			}
		}
		bare, err := f.svc.CreatePlan(ctx, core.Operator(), core.Plan{Name: "bots-only", MonthlyQuota: 10000, Price: 300, Rank: 9})
		if err != nil || bare.WAF {
			t.Fatalf("plan without WAF: %+v %v", bare, err)
		}
		a := f.partner(t, "a", 100000)
		with, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "with.example.com", Plan: "10k"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		without, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "without.example.com", Plan: "bots-only"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		noWAF := func() map[int64]bool {
			t.Helper()
			sites, err := f.svc.EngineSites(ctx)
			if err != nil {
				t.Fatal(err)
			}
			m := map[int64]bool{}
			for _, s := range sites {
				m[s.ID] = s.NoWAF
			}
			return m
		}
		if m := noWAF(); m[with.ID] || !m[without.ID] {
			t.Fatalf("NoWAF by website: %v (with %d, without %d)", m, with.ID, without.ID)
		}
		v0, err := f.svc.ConfigVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p, err := f.svc.SetPlanWAF(ctx, core.Operator(), "bots-only", true)
		if err != nil || !p.WAF {
			t.Fatalf("set-waf: %+v %v", p, err)
		}
		if m := noWAF(); m[without.ID] {
			t.Fatal("the plan includes the firewall now, but EngineSites still says NoWAF")
		}
		if v1, err := f.svc.ConfigVersion(ctx); err != nil || v1 <= v0 {
			t.Fatalf("config version %d → %d (%v): other nodes would not reload", v0, v1, err)
		}
		if _, err := f.svc.SetPlanWAF(ctx, core.Operator(), "10k", false); err != nil {
			t.Fatal(err)
		}
		if m := noWAF(); !m[with.ID] {
			t.Fatal("the plan no longer includes the firewall, but EngineSites does not say NoWAF")
		}
		// Moving a website to another plan is a change every node loads.
		v2, _ := f.svc.ConfigVersion(ctx)
		if _, _, err := f.svc.ChangePlan(ctx, a, with.Domain, "bots-only", core.Match{}, core.Idem{}); err != nil {
			t.Fatal(err)
		}
		if v3, _ := f.svc.ConfigVersion(ctx); v3 <= v2 {
			t.Fatalf("config version %d → %d after a plan change", v2, v3)
		}
		if m := noWAF(); m[with.ID] {
			t.Fatal("moved to a plan with the firewall, still NoWAF")
		}
		_, err = f.svc.SetPlanWAF(ctx, core.Operator(), "nope", false)
		wantCode(t, err, core.ENOTFOUND)
	})
}
