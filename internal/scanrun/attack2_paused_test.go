package scanrun_test

import (
	"context"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/patchcheck"
	"github.com/palisadehq/palisade/internal/testenv/sitetree"
)

// TestAttack2PausedBeforeRun: a job asked for while the website was live,
// and claimed after its partner paused it (an unpaid invoice), is not run:
// it fails saying why, and finds nothing. Before, the worker ran it anyway
// ("a paused website is not scanned" held only when asking).
func TestAttack2PausedBeforeRun(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	feed, err := patchcheck.ReadDir("../patchcheck/testdata/feed", patchcheck.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.runner.Feed = func(context.Context) (*patchcheck.Feed, error) { return feed, nil }
	sitetree.Copy(t, "../patchcheck/testdata/sites/wordpress", e.root)
	if _, err := e.svc.RequestScan(ctx, e.partner, e.site.Domain, core.ScanPatch); err != nil {
		t.Fatal(err)
	}
	paused := core.StatusPaused
	if _, err := e.svc.UpdateWebsite(ctx, e.partner, e.site.Domain, core.WebsiteUpdate{Status: &paused}, core.Match{}); err != nil {
		t.Fatal(err)
	}
	if ran, err := e.runner.RunOnce(ctx); err != nil || !ran {
		t.Fatalf("RunOnce: %v %v", ran, err)
	}
	jobs, err := e.svc.ScanJobs(ctx, e.partner, e.site.Domain, core.ScanPatch, 1)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("jobs: %+v %v", jobs, err)
	}
	if j := jobs[0]; j.State != core.JobFailed || !strings.Contains(j.Error, "paused") {
		t.Fatalf("a paused website's job ran: %+v", j)
	}
	if found, err := e.svc.Findings(ctx, e.partner, e.site.Domain, core.FindingFilter{}); err != nil || len(found) != 0 {
		t.Fatalf("findings of a paused website's job: %d, %v", len(found), err)
	}
}
