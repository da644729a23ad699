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

// TestAttack22UpdateCommandHiddenFromCustomer: the update command is the
// operator's (it may carry a token or name its own tooling); the runner
// keeps its expanded arguments in the job's summary. The customer who asked
// for the update reads the job: the operator's command is not shown to them.
func TestAttack22UpdateCommandHiddenFromCustomer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		x := newActionFixture(t, db)
		if _, err := x.svc.RequestScan(ctx, x.a, x.shop.Domain, core.ScanPatch); err != nil {
			t.Fatal(err)
		}
		x.claimAndFinish(t, core.ScanPatch, nil, patchReport)
		const token = "tok-4f1c9a-operator-only"
		f := newFixture(t, db, func(c *core.Config) {
			c.ScanRoots = []string{"/var/www"}
			c.BackupRoots = []string{"/srv/backups"}
			c.PatchUpdateCommand = "/opt/hoster/bin/site-update --api-token=" + token + " --path={root} {type} {slug}"
		})
		svc := f.svc
		j, err := svc.RequestUpdate(ctx, x.jane, x.shop.Domain, core.UpdateRequest{Type: "plugin", Slug: "example-forms"})
		if err != nil {
			t.Fatal(err)
		}
		claimed, ok, err := svc.ClaimScanJob(ctx, "node-1", time.Minute)
		if err != nil || !ok || claimed.ID != j.ID {
			t.Fatalf("claim: %+v %v %v", claimed, ok, err)
		}
		tmpl, err := svc.UpdateCommand()
		if err != nil {
			t.Fatal(err)
		}
		args, err := core.ExpandUpdateCommand(tmpl, "/var/www/shop", "plugin", "example-forms", "shop")
		if err != nil {
			t.Fatal(err)
		}
		// As scanrun.UpdateSummary stores it.
		sum := map[string]any{"cms": "wordpress", "type": "plugin", "slug": "example-forms",
			"command":        map[string]any{"args": args, "exit": 0, "output": "Success: Updated 1 of 1 plugins.", "duration_ms": 5},
			"version_before": "2.3.1", "version_after": "2.4.0", "after": patchReport}
		if err := svc.FinishScanJob(ctx, claimed, sum, ""); err != nil {
			t.Fatal(err)
		}
		jobs, err := svc.ScanJobs(ctx, x.jane, x.shop.Domain, core.ScanUpdate, 5)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("jobs: %+v %v", jobs, err)
		}
		for _, leak := range []string{token, "/opt/hoster/bin/site-update"} {
			if strings.Contains(jobs[0].Summary, leak) {
				t.Fatalf("the customer is shown the operator's update command (%q): %s", leak, jobs[0].Summary)
			}
		}
		if !strings.Contains(jobs[0].Summary, "Success: Updated 1 of 1 plugins.") || !strings.Contains(jobs[0].Summary, `"version_after":"2.4.0"`) {
			t.Fatalf("the customer's summary lost the update's result: %s", jobs[0].Summary)
		}
	})
}
