package core_test

import (
	"context"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestAttack2NonUTF8Findings: file names are bytes. An intruder who names
// a webshell with a byte that is not UTF-8 made every files scan of the
// website fail on PostgreSQL (which refuses such text), so nothing at all
// was recorded: one odd name hid every finding. And a job's error cut at
// 2000 bytes in the middle of a character could not be saved, so the job
// never finished. Both are stored now (the odd bytes as U+FFFD).
func TestAttack2NonUTF8Findings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f, a, w := scanFixture(t, db)
		var err error
		if _, err := f.svc.SetWebsiteScanSettings(ctx, a, w.Domain, core.ScanSettings{Files: core.FileScanSettings{Enabled: true,
			Source: core.FileSource{Kind: "local", Path: "/var/www/shop"}}}); err != nil {
			t.Fatal(err)
		}
		claim := func() core.ScanJob {
			if _, err := f.svc.RequestScan(ctx, a, w.Domain, core.ScanFiles); err != nil {
				t.Fatal(err)
			}
			j, ok, err := f.svc.ClaimScanJob(ctx, "node", 60e9)
			if err != nil || !ok {
				t.Fatal(ok, err)
			}
			return j
		}
		j := claim()
		found := []core.Finding{
			{Location: "wp-content/uploads/x\xff.php", Signature: "Palisade.PHP.Webshell.EvalPost", Class: "webshell", Severity: "critical", SHA256: "aa"},
			{Location: "wp-content/uploads/y.php", Signature: "Palisade.PHP.Webshell.EvalPost", Class: "webshell", Severity: "critical", SHA256: "bb"},
		}
		if _, _, err := f.svc.RecordFindings(ctx, j, found, true); err != nil {
			t.Fatalf("a file name that is not UTF-8 lost the scan's findings: %v", err)
		}
		list, err := f.svc.Findings(ctx, a, w.Domain, core.FindingFilter{})
		if err != nil || len(list) != 2 {
			t.Fatalf("findings: %+v, %v", list, err)
		}
		if err := f.svc.FinishScanJob(ctx, j, nil, "sitefiles: "+strings.Repeat("x", 1988)+"é and more"); err != nil {
			t.Fatalf("an error cut inside a character: %v", err)
		}
		jobs, err := f.svc.ScanJobs(ctx, a, w.Domain, "", 1)
		if err != nil || len(jobs) != 1 || jobs[0].State != core.JobFailed {
			t.Fatalf("the job: %+v, %v", jobs, err)
		}
	})
}
