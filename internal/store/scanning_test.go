package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// scanSites makes two partners with websites: a1 and a2 of partner a, b1
// of partner b.
func scanSites(t *testing.T, db *store.DB, at time.Time) (a, b core.Partner, a1, a2, b1 core.Website) {
	t.Helper()
	ctx := context.Background()
	err := db.Update(ctx, func(tx core.Tx) error {
		plan := core.Plan{Name: "scan-plan", MonthlyQuota: 1000, Price: 100, Rank: 1, CreatedAt: at}
		if err := tx.InsertPlan(ctx, &plan); err != nil {
			return err
		}
		a = core.Partner{Name: "scan-a", CreatedAt: at}
		b = core.Partner{Name: "scan-b", CreatedAt: at}
		if err := tx.InsertPartner(ctx, &a); err != nil {
			return err
		}
		if err := tx.InsertPartner(ctx, &b); err != nil {
			return err
		}
		for i, w := range []*core.Website{&a1, &a2, &b1} {
			p := a.ID
			if i == 2 {
				p = b.ID
			}
			*w = core.Website{PartnerID: p, Domain: fmt.Sprintf("site%d.example", i), PlanID: plan.ID, Status: "online",
				ServerKeyHash: fmt.Sprintf("hash%d", i), ServerKeySealed: "sealed", Version: 1, CreatedAt: at, UpdatedAt: at, RenewedAt: at, ExpiresAt: at.AddDate(0, 1, 0), BillingDay: at.Day()}
			if err := tx.InsertWebsite(ctx, w); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return
}

func wantCode(t *testing.T, err error, code string, what string) {
	t.Helper()
	if core.ErrorCode(err) != code {
		t.Fatalf("%s: got %v (code %q), want code %q", what, err, core.ErrorCode(err), code)
	}
}

// TestScanJobs: jobs are queued once per website and kind, claimed one per
// website at a time, in order, under a lease that the owner alone renews and
// finishes; a lease that runs out queues the job again, and fails it after
// MaxScanAttempts; a partner sees only its own jobs.
func TestScanJobs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		a, b, a1, a2, b1 := scanSites(t, db, t0)
		queue := func(w core.Website, kind core.ScanKind, at time.Time) (core.ScanJob, error) {
			j := core.ScanJob{PartnerID: w.PartnerID, WebsiteID: w.ID, Kind: kind, CreatedAt: at}
			err := db.Update(ctx, func(tx core.Tx) error { return tx.InsertScanJob(ctx, &j) })
			return j, err
		}
		claim := func(owner string, now time.Time) (core.ScanJob, error) {
			var j core.ScanJob
			err := db.Update(ctx, func(tx core.Tx) (err error) { j, err = tx.ClaimScanJob(ctx, owner, now, time.Minute); return err })
			return j, err
		}
		j1, err := queue(a1, core.ScanFiles, t0)
		if err != nil {
			t.Fatal(err)
		}
		if j1.State != core.JobQueued || j1.Trigger != "on_demand" || j1.ID == 0 {
			t.Fatalf("queued job: %+v", j1)
		}
		_, err = queue(a1, core.ScanFiles, t0.Add(time.Second))
		wantCode(t, err, core.ECONFLICT, "a second files job of a1")
		_, err = queue(a1, "virus", t0)
		wantCode(t, err, core.EINVALID, "an unknown kind")
		j2, err := queue(a1, core.ScanPatch, t0.Add(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		j3, err := queue(b1, core.ScanFiles, t0.Add(3*time.Second))
		if err != nil {
			t.Fatal(err)
		}

		// The oldest first; then a1 is busy, so b1's, not a1's patch check.
		got, err := claim("node-1", t0.Add(time.Minute))
		if err != nil || got.ID != j1.ID || got.State != core.JobRunning || got.Owner != "node-1" || got.Attempts != 1 ||
			got.LeaseUntil == nil || !got.LeaseUntil.Equal(t0.Add(2*time.Minute)) {
			t.Fatalf("first claim: %+v, %v", got, err)
		}
		got, err = claim("node-2", t0.Add(time.Minute))
		if err != nil || got.ID != j3.ID {
			t.Fatalf("second claim: want b1's job %d, got %+v, %v", j3.ID, got, err)
		}
		_, err = claim("node-2", t0.Add(time.Minute))
		wantCode(t, err, core.ENOTFOUND, "a claim while a1 runs a job")

		// Only the owner renews and finishes.
		err = db.Update(ctx, func(tx core.Tx) error { return tx.RenewScanJob(ctx, j1.ID, "node-2", t0.Add(5*time.Minute)) })
		wantCode(t, err, core.ECONFLICT, "a renewal by another node")
		if err := db.Update(ctx, func(tx core.Tx) error { return tx.RenewScanJob(ctx, j1.ID, "node-1", t0.Add(5*time.Minute)) }); err != nil {
			t.Fatal(err)
		}
		err = db.Update(ctx, func(tx core.Tx) error { return tx.FinishScanJob(ctx, j1.ID, "node-1", "running", "", "", t0) })
		wantCode(t, err, core.EINVALID, "finishing as running")
		err = db.Update(ctx, func(tx core.Tx) error { return tx.FinishScanJob(ctx, j1.ID, "node-2", core.JobDone, "{}", "", t0) })
		wantCode(t, err, core.ECONFLICT, "finishing another node's job")
		// At t0+4m b1's lease (to t0+2m) has run out: its job is queued
		// again and claimed a second time; a1's renewed lease holds, so a1's
		// patch check waits.
		got, err = claim("node-3", t0.Add(4*time.Minute))
		if err != nil || got.ID != j3.ID || got.Attempts != 2 || got.Owner != "node-3" {
			t.Fatalf("b1's job after its lease ran out: %+v, %v", got, err)
		}
		if err := db.Update(ctx, func(tx core.Tx) error {
			return tx.FinishScanJob(ctx, j3.ID, "node-3", core.JobDone, "{}", "", t0.Add(4*time.Minute))
		}); err != nil {
			t.Fatal(err)
		}
		_, err = claim("node-4", t0.Add(4*time.Minute))
		wantCode(t, err, core.ENOTFOUND, "a claim within a1's renewed lease")
		if err := db.Update(ctx, func(tx core.Tx) error {
			return tx.FinishScanJob(ctx, j1.ID, "node-1", core.JobDone, `{"files":3}`, "", t0.Add(4*time.Minute))
		}); err != nil {
			t.Fatal(err)
		}
		err = db.Update(ctx, func(tx core.Tx) error { return tx.FinishScanJob(ctx, j1.ID, "node-1", core.JobDone, "{}", "", t0) })
		wantCode(t, err, core.ECONFLICT, "finishing twice")
		// A files job can be queued again once the first is done.
		if _, err := queue(a1, core.ScanFiles, t0.Add(4*time.Minute)); err != nil {
			t.Fatalf("queueing again after done: %v", err)
		}

		// a1's patch check now; its node dies; the lease runs out twice more
		// and then the job fails.
		got, err = claim("node-1", t0.Add(5*time.Minute))
		if err != nil || got.ID != j2.ID {
			t.Fatalf("claim of a1's patch check: %+v, %v", got, err)
		}
		for attempt := 2; attempt <= core.MaxScanAttempts; attempt++ {
			now := t0.Add(time.Duration(5+2*attempt) * time.Minute)
			got, err = claim(fmt.Sprintf("node-%d", attempt+10), now)
			if err != nil || got.ID != j2.ID || got.Attempts != attempt {
				t.Fatalf("attempt %d: %+v, %v", attempt, got, err)
			}
			if attempt == 2 {
				err := db.Update(ctx, func(tx core.Tx) error { return tx.RenewScanJob(ctx, j2.ID, "node-1", now.Add(time.Hour)) })
				wantCode(t, err, core.ECONFLICT, "the first node renewing after its lease ran out")
			}
		}
		// The last lease runs out: failed, and a1's queued files job is next.
		got, err = claim("node-9", t0.Add(time.Hour))
		if err != nil || got.WebsiteID != a1.ID || got.Kind != core.ScanFiles {
			t.Fatalf("after the patch check's last lease: %+v, %v", got, err)
		}
		var failed core.ScanJob
		if err := db.View(ctx, func(tx core.Tx) (err error) { failed, err = tx.ScanJob(ctx, a.ID, j2.ID); return err }); err != nil {
			t.Fatal(err)
		}
		if failed.State != core.JobFailed || failed.Error == "" || failed.FinishedAt == nil {
			t.Fatalf("the abandoned job: %+v", failed)
		}

		// Tenancy: b's job is not a's, and the lists are per website.
		err = db.View(ctx, func(tx core.Tx) error { _, err := tx.ScanJob(ctx, a.ID, j3.ID); return err })
		wantCode(t, err, core.ENOTFOUND, "partner a reading b's job")
		var list []core.ScanJob
		if err := db.View(ctx, func(tx core.Tx) (err error) { list, err = tx.ScanJobs(ctx, a.ID, a1.ID, "", 10); return err }); err != nil {
			t.Fatal(err)
		}
		if len(list) != 3 || list[0].ID < list[1].ID {
			t.Fatalf("a1's jobs, newest first: %+v", list)
		}
		if err := db.View(ctx, func(tx core.Tx) (err error) { list, err = tx.ScanJobs(ctx, a.ID, b1.ID, "", 10); return err }); err != nil || len(list) != 0 {
			t.Fatalf("partner a listing b1's jobs: %d, %v", len(list), err)
		}
		if err := db.View(ctx, func(tx core.Tx) (err error) {
			list, err = tx.ScanJobs(ctx, b.ID, b1.ID, core.ScanPatch, 10)
			return err
		}); err != nil || len(list) != 0 {
			t.Fatalf("b1's patch jobs: %d, %v", len(list), err)
		}
		_ = a2
	})
}

// TestScanClaimRace: nodes claiming at once never run two jobs of one
// website, and every job is claimed exactly once.
func TestScanClaimRace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		_, _, a1, a2, b1 := scanSites(t, db, t0)
		for i, w := range []core.Website{a1, a1, a2, b1} {
			kind := []core.ScanKind{core.ScanFiles, core.ScanBackup, core.ScanFiles, core.ScanFiles}[i]
			j := core.ScanJob{PartnerID: w.PartnerID, WebsiteID: w.ID, Kind: kind, CreatedAt: t0.Add(time.Duration(i) * time.Second)}
			if err := db.Update(ctx, func(tx core.Tx) error { return tx.InsertScanJob(ctx, &j) }); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		claimed := map[int64]int64{} // job → website
		var wg sync.WaitGroup
		for n := 0; n < 8; n++ {
			wg.Add(1)
			go func(n int) {
				defer wg.Done()
				for try := 0; try < 5; try++ {
					var j core.ScanJob
					err := db.Update(ctx, func(tx core.Tx) (err error) {
						j, err = tx.ClaimScanJob(ctx, fmt.Sprintf("node-%d", n), t0.Add(time.Minute), time.Hour)
						return err
					})
					if err != nil {
						if c := core.ErrorCode(err); c != core.ENOTFOUND && c != core.ECONFLICT {
							t.Errorf("claim: %v", err)
						}
						continue
					}
					mu.Lock()
					if _, twice := claimed[j.ID]; twice {
						t.Errorf("job %d claimed twice", j.ID)
					}
					for _, w := range claimed {
						if w == j.WebsiteID {
							t.Errorf("two running jobs for website %d", w)
						}
					}
					claimed[j.ID] = j.WebsiteID
					mu.Unlock()
				}
			}(n)
		}
		wg.Wait()
		if len(claimed) != 3 {
			t.Fatalf("claimed %d jobs, want 3 (one per website): %v", len(claimed), claimed)
		}
	})
}

// TestScanFindings: a finding seen again is the same finding; the states a
// customer sets hold or reopen as documented; findings a later scan did not
// see are resolved; a partner reaches only its own.
func TestScanFindings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		a, b, a1, _, b1 := scanSites(t, db, t0)
		save := func(f core.Finding) (core.Finding, bool) {
			t.Helper()
			var created bool
			if err := db.Update(ctx, func(tx core.Tx) (err error) { created, err = tx.SaveFinding(ctx, &f); return err }); err != nil {
				t.Fatal(err)
			}
			return f, created
		}
		shell := core.Finding{PartnerID: a.ID, WebsiteID: a1.ID, Kind: core.ScanFiles, Location: "wp-content/uploads/x.php",
			Signature: "Palisade.PHP.Webshell.EvalPost", Class: "webshell", Severity: "critical", SHA256: "aa", JobID: 1, LastSeen: t0}
		f1, created := save(shell)
		if !created || f1.State != core.FindingOpen || !f1.FirstSeen.Equal(t0) {
			t.Fatalf("new finding: %+v %v", f1, created)
		}
		skim := shell
		skim.Location, skim.Signature, skim.Class, skim.SHA256 = "js/app.js", "Palisade.JS.Skimmer.Exfil", "skimmer", "bb"
		f2, _ := save(skim)

		// Seen again by job 2: the same finding, last_seen moved.
		again := shell
		again.JobID, again.LastSeen = 2, t0.Add(time.Hour)
		g, created := save(again)
		if created || g.ID != f1.ID || !g.FirstSeen.Equal(t0) || !g.LastSeen.Equal(t0.Add(time.Hour)) || g.State != core.FindingOpen {
			t.Fatalf("seen again: %+v %v", g, created)
		}

		// Job 2 did not see the skimmer: resolved.
		var n int
		if err := db.Update(ctx, func(tx core.Tx) (err error) {
			n, err = tx.ResolveFindings(ctx, a.ID, a1.ID, core.ScanFiles, 2, t0.Add(time.Hour))
			return err
		}); err != nil || n != 1 {
			t.Fatalf("resolve: %d, %v", n, err)
		}
		get := func(p, id int64) (core.Finding, error) {
			var f core.Finding
			err := db.View(ctx, func(tx core.Tx) (err error) { f, err = tx.Finding(ctx, p, id); return err })
			return f, err
		}
		if f, err := get(a.ID, f2.ID); err != nil || f.State != core.FindingResolved {
			t.Fatalf("the skimmer after job 2: %+v, %v", f, err)
		}

		// Quarantined, then found again (restored by someone): open again.
		set := func(p, id int64, state, qid string) error {
			return db.Update(ctx, func(tx core.Tx) error { return tx.SetFindingState(ctx, p, id, state, qid, t0.Add(2*time.Hour)) })
		}
		wantCode(t, set(a.ID, f1.ID, core.FindingQuarantined, ""), core.EINVALID, "quarantined without an entry")
		wantCode(t, set(a.ID, f1.ID, core.FindingOpen, "q1"), core.EINVALID, "an entry while open")
		wantCode(t, set(a.ID, f1.ID, "deleted", ""), core.EINVALID, "an unknown state")
		wantCode(t, set(b.ID, f1.ID, core.FindingIgnored, ""), core.ENOTFOUND, "partner b changing a's finding")
		if err := set(a.ID, f1.ID, core.FindingQuarantined, "q1"); err != nil {
			t.Fatal(err)
		}
		if f, _ := get(a.ID, f1.ID); f.State != core.FindingQuarantined || f.QuarantineID != "q1" {
			t.Fatalf("quarantined: %+v", f)
		}
		again.JobID, again.LastSeen = 3, t0.Add(3*time.Hour)
		if g, _ := save(again); g.State != core.FindingOpen || g.QuarantineID != "" {
			t.Fatalf("a quarantined finding seen again: %+v", g)
		}

		// Ignored: stays ignored while the content is the same; a change
		// opens it again.
		if err := set(a.ID, f1.ID, core.FindingIgnored, ""); err != nil {
			t.Fatal(err)
		}
		again.JobID, again.LastSeen = 4, t0.Add(4*time.Hour)
		if g, _ := save(again); g.State != core.FindingIgnored {
			t.Fatalf("an ignored finding seen again unchanged: %+v", g)
		}
		again.SHA256, again.JobID, again.LastSeen = "cc", 5, t0.Add(5*time.Hour)
		if g, _ := save(again); g.State != core.FindingOpen || g.SHA256 != "cc" {
			t.Fatalf("an ignored finding whose file changed: %+v", g)
		}

		// Bad findings; tenancy of reads and lists.
		err := db.Update(ctx, func(tx core.Tx) error {
			bad := shell
			bad.Kind = core.ScanBackup
			_, err := tx.SaveFinding(ctx, &bad)
			return err
		})
		wantCode(t, err, core.EINVALID, "a finding of a backup")
		_, err = get(b.ID, f1.ID)
		wantCode(t, err, core.ENOTFOUND, "partner b reading a's finding")
		bf := core.Finding{PartnerID: b.ID, WebsiteID: b1.ID, Kind: core.ScanPatch, Location: "plugin:forms", Signature: "PAL-TEST-1", Severity: "high", LastSeen: t0}
		save(bf)
		var list []core.Finding
		if err := db.View(ctx, func(tx core.Tx) (err error) {
			list, err = tx.Findings(ctx, a.ID, a1.ID, core.FindingFilter{State: core.FindingOpen})
			return err
		}); err != nil || len(list) != 1 || list[0].ID != f1.ID {
			t.Fatalf("a1's open findings: %+v, %v", list, err)
		}
		if err := db.View(ctx, func(tx core.Tx) (err error) {
			list, err = tx.Findings(ctx, a.ID, b1.ID, core.FindingFilter{})
			return err
		}); err != nil || len(list) != 0 {
			t.Fatalf("partner a listing b1's findings: %+v, %v", list, err)
		}
		if err := db.View(ctx, func(tx core.Tx) (err error) {
			list, err = tx.Findings(ctx, a.ID, a1.ID, core.FindingFilter{Kind: core.ScanFiles, After: f1.ID, Limit: 5})
			return err
		}); err != nil || len(list) != 1 || list[0].ID != f2.ID {
			t.Fatalf("a1's findings after %d: %+v, %v", f1.ID, list, err)
		}
	})
}
