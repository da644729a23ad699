package core_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestScanService: the website's partner and its customer ask for scans,
// read jobs and findings and ignore findings; another customer of the same
// partner and another partner get not_found; bad kinds and states are
// refused with a clear error; a paused website is not scanned; one job of
// a kind at a time.
func TestScanService(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, func(c *core.Config) { c.ScanRoots = []string{"/var/www"} })
		a, b := f.partner(t, "a", 0), f.partner(t, "b", 0)
		jane, _, err := f.svc.CreateSubaccount(ctx, a, core.SubaccountCreate{Email: "jane@example.com"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		bob, _, err := f.svc.CreateSubaccount(ctx, a, core.SubaccountCreate{Email: "bob@example.com"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		shop, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "shop.example.com", SubaccountID: jane.ID}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		janeC := core.Caller{Role: core.RoleSubaccount, PartnerID: a.PartnerID, SubaccountID: jane.ID, Protocol: core.ProtocolSSO, Actor: "jane"}
		bobC := core.Caller{Role: core.RoleSubaccount, PartnerID: a.PartnerID, SubaccountID: bob.ID, Protocol: core.ProtocolSSO, Actor: "bob"}

		// Strangers: not_found, as for an unknown domain.
		for name, c := range map[string]core.Caller{"bob": bobC, "partner b": b} {
			_, err := f.svc.RequestScan(ctx, c, shop.Domain, core.ScanFiles)
			wantErrCode(t, err, core.ENOTFOUND, name+" asking for a scan")
			_, err = f.svc.ScanJobs(ctx, c, shop.Domain, "", 0)
			wantErrCode(t, err, core.ENOTFOUND, name+" listing jobs")
			_, err = f.svc.Findings(ctx, c, shop.Domain, core.FindingFilter{})
			wantErrCode(t, err, core.ENOTFOUND, name+" listing findings")
		}
		_, err = f.svc.RequestScan(ctx, janeC, shop.Domain, "antivirus")
		wantErrCode(t, err, core.EINVALID, "an unknown kind")
		_, err = f.svc.RequestScan(ctx, janeC, shop.Domain, core.ScanFiles)
		wantErrCode(t, err, core.EPRECONDITION, "a scan before the partner set where the files are")
		if _, err := f.svc.SetWebsiteScanSettings(ctx, a, shop.Domain, core.ScanSettings{Files: core.FileScanSettings{Enabled: true,
			Source: core.FileSource{Kind: "local", Path: "/var/www/shop"}}, Patch: core.PatchScanSettings{Enabled: true}}); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.RequestScan(ctx, janeC, shop.Domain, core.ScanBackup)
		wantErrCode(t, err, core.EPRECONDITION, "a backup without a repository")
		_, err = f.svc.RequestScan(ctx, janeC, shop.Domain, core.ScanDatabase)
		wantErrCode(t, err, core.EPRECONDITION, "a database scan")

		j, err := f.svc.RequestScan(ctx, janeC, shop.Domain, core.ScanFiles)
		if err != nil || j.State != core.JobQueued || j.Trigger != "on_demand" || !j.CreatedAt.Equal(*f.now.Load()) {
			t.Fatalf("jane's scan: %+v, %v", j, err)
		}
		_, err = f.svc.RequestScan(ctx, a, shop.Domain, core.ScanFiles)
		wantErrCode(t, err, core.ECONFLICT, "a second files scan while one is queued")
		if _, err := f.svc.RequestScan(ctx, a, shop.Domain, core.ScanPatch); err != nil {
			t.Fatalf("the partner's patch check: %v", err)
		}
		if _, ok, err := f.svc.ClaimScanJob(ctx, "node-1", time.Minute); !ok || err != nil {
			t.Fatalf("claim: %v %v", ok, err)
		}
		jobs, err := f.svc.ScanJobs(ctx, janeC, shop.Domain, "", 0)
		if err != nil || len(jobs) != 2 || jobs[0].Kind != core.ScanPatch {
			t.Fatalf("jane's jobs: %+v, %v", jobs, err)
		}
		for _, j := range jobs {
			if j.Owner != "" {
				t.Errorf("the customer sees the node holding job %d: %q", j.ID, j.Owner)
			}
		}
		if pj, _ := f.svc.ScanJobs(ctx, a, shop.Domain, core.ScanFiles, 1); len(pj) != 1 || pj[0].Owner == "" {
			t.Errorf("the partner's view of the running job: %+v", pj)
		}
		if jobs, err := f.svc.ScanJobs(ctx, a, shop.Domain, core.ScanFiles, 1); err != nil || len(jobs) != 1 || jobs[0].ID != j.ID {
			t.Fatalf("the partner's files jobs: %+v, %v", jobs, err)
		}

		// A finding, as a worker would save it; jane ignores it and opens it again.
		fd := core.Finding{PartnerID: shop.PartnerID, WebsiteID: shop.ID, Kind: core.ScanFiles, Location: "wp-content/uploads/x.php",
			Signature: "Palisade.PHP.Webshell.EvalPost", Class: "webshell", Severity: "critical", SHA256: "aa", JobID: j.ID, LastSeen: *f.now.Load()}
		if err := db.Update(ctx, func(tx core.Tx) error { _, err := tx.SaveFinding(ctx, &fd); return err }); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.IgnoreFinding(ctx, bobC, shop.Domain, fd.ID, true)
		wantErrCode(t, err, core.ENOTFOUND, "bob ignoring jane's finding")
		_, err = f.svc.IgnoreFinding(ctx, b, shop.Domain, fd.ID, true)
		wantErrCode(t, err, core.ENOTFOUND, "partner b ignoring it")
		_, err = f.svc.IgnoreFinding(ctx, janeC, shop.Domain, fd.ID+1000, true)
		wantErrCode(t, err, core.ENOTFOUND, "an unknown finding")
		if got, err := f.svc.IgnoreFinding(ctx, janeC, shop.Domain, fd.ID, false); err != nil || got.State != core.FindingOpen {
			t.Fatalf("opening an open finding is a no-op: %+v, %v", got, err)
		}
		got, err := f.svc.IgnoreFinding(ctx, janeC, shop.Domain, fd.ID, true)
		if err != nil || got.State != core.FindingIgnored {
			t.Fatalf("ignore: %+v, %v", got, err)
		}
		if list, err := f.svc.Findings(ctx, a, shop.Domain, core.FindingFilter{State: core.FindingIgnored}); err != nil || len(list) != 1 || list[0].ID != fd.ID {
			t.Fatalf("ignored findings: %+v, %v", list, err)
		}
		_, err = f.svc.Findings(ctx, a, shop.Domain, core.FindingFilter{State: "gone"})
		wantErrCode(t, err, core.EINVALID, "an unknown state")
		_, err = f.svc.Findings(ctx, a, shop.Domain, core.FindingFilter{Kind: core.ScanBackup})
		wantErrCode(t, err, core.EINVALID, "findings of backups")
		if got, err := f.svc.IgnoreFinding(ctx, janeC, shop.Domain, fd.ID, false); err != nil || got.State != core.FindingOpen {
			t.Fatalf("open again: %+v, %v", got, err)
		}

		// A resolved (or quarantined, cleaned) finding is not ignored here.
		if err := db.Update(ctx, func(tx core.Tx) error {
			return tx.SetFindingState(ctx, shop.PartnerID, fd.ID, core.FindingResolved, "", *f.now.Load())
		}); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.IgnoreFinding(ctx, janeC, shop.Domain, fd.ID, true)
		wantErrCode(t, err, core.EPRECONDITION, "ignoring a resolved finding")

		// A finding of another website of the same partner is not reached
		// through this one.
		blog, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "blog.example.com"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.IgnoreFinding(ctx, a, blog.Domain, fd.ID, true)
		wantErrCode(t, err, core.ENOTFOUND, "a finding through another website")

		// Paused: not scanned.
		paused := core.StatusPaused
		if _, err := f.svc.UpdateWebsite(ctx, a, blog.Domain, core.WebsiteUpdate{Status: &paused}, core.Match{}); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.RequestScan(ctx, a, blog.Domain, core.ScanFiles)
		wantErrCode(t, err, core.EPRECONDITION, "a paused website")
	})
}

func wantErrCode(t *testing.T, err error, code, what string) {
	t.Helper()
	if core.ErrorCode(err) != code {
		t.Fatalf("%s: got %v (code %q), want %q", what, err, core.ErrorCode(err), code)
	}
}

// TestScanLeaseTokens: every claim has its own owner token, so a worker
// whose lease ran out and was claimed again, even by the same node, can no
// longer renew, record findings into or finish the new attempt.
func TestScanLeaseTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f, a, w := scanFixture(t, db)
		var err error
		if _, err := f.svc.SetWebsiteScanSettings(ctx, a, w.Domain, core.ScanSettings{Files: core.FileScanSettings{Source: core.FileSource{Kind: "local", Path: "/var/www/shop"}}}); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.RequestScan(ctx, a, w.Domain, core.ScanFiles)
		wantErrCode(t, err, core.EPRECONDITION, "a files scan the hosting provider did not switch on")
		if _, err := f.svc.SetWebsiteScanSettings(ctx, a, w.Domain, core.ScanSettings{Files: core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "local", Path: "/var/www/shop"}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.RequestScan(ctx, a, w.Domain, core.ScanFiles); err != nil {
			t.Fatal(err)
		}
		old, ok, err := f.svc.ClaimScanJob(ctx, "node-1", time.Minute)
		if err != nil || !ok || !strings.HasPrefix(old.Owner, "node-1#") {
			t.Fatalf("claim: %+v %v %v", old, ok, err)
		}
		if _, ok, _ := f.svc.ClaimScanJob(ctx, "node-2", time.Minute); ok {
			t.Fatal("a second claim while the lease holds")
		}
		f.advance(2 * time.Minute)
		cur, ok, err := f.svc.ClaimScanJob(ctx, "node-1", time.Minute)
		if err != nil || !ok || cur.ID != old.ID || cur.Owner == old.Owner || cur.Attempts != 2 {
			t.Fatalf("the claim after the lease ran out: %+v %v %v", cur, ok, err)
		}
		finding := []core.Finding{{Location: "x.php", Signature: "Palisade.PHP.Webshell.EvalPost", Class: "webshell", Severity: "critical"}}
		_, _, err = f.svc.RecordFindings(ctx, old, finding, true)
		wantErrCode(t, err, core.ECONFLICT, "the stale worker recording findings")
		wantErrCode(t, f.svc.RenewScanJob(ctx, old, time.Minute), core.ECONFLICT, "the stale worker renewing")
		wantErrCode(t, f.svc.FinishScanJob(ctx, old, nil, ""), core.ECONFLICT, "the stale worker finishing")
		if list, _ := f.svc.Findings(ctx, a, w.Domain, core.FindingFilter{}); len(list) != 0 {
			t.Fatalf("the stale worker's findings were kept: %+v", list)
		}
		if n, _, err := f.svc.RecordFindings(ctx, cur, finding, true); err != nil || n != 1 {
			t.Fatalf("the current claim recording: %d, %v", n, err)
		}
		if err := f.svc.FinishScanJob(ctx, cur, map[string]int{"files": 1}, ""); err != nil {
			t.Fatal(err)
		}
	})
}

// scanFixture is a service whose operator allows local document roots
// under /var/www, a partner "a" and its website shop.example.com.
func scanFixture(t *testing.T, db *store.DB) (*fixture, core.Caller, core.Website) {
	t.Helper()
	f := newFixture(t, db, func(c *core.Config) { c.ScanRoots = []string{"/var/www"} })
	a := f.partner(t, "a", 0)
	w, _, err := f.svc.CreateWebsite(context.Background(), a, core.WebsiteCreate{Domain: "shop.example.com"}, core.Idem{})
	if err != nil {
		t.Fatal(err)
	}
	return f, a, w
}
