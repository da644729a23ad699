package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/client"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestScanningLifecycle: every scanning and backup method against a real
// server, with the test playing the node that runs the jobs: settings with
// write-only secrets, a scan queued once, its finding ignored, opened again
// and quarantined, a backup listed and restored, and the refusals each
// with its sentinel and the server's words.
func TestScanningLifecycle(t *testing.T) {
	pal := testenv.New(t, func(c *core.Config) { c.ScanRoots = []string{"/var/www"}; c.BackupRoots = []string{"/var/backups"} })
	ctx := context.Background()
	c := client.New(pal.URL, pal.PartnerKey)
	pal.Website(t, "shop.example.com", engine.Settings{})
	const d = "shop.example.com"

	sc, err := c.Scanner(ctx, d)
	if err != nil || sc.Domain != d || sc.Settings.Files.Enabled || sc.Settings.Backup.RepositoryPasswordSet {
		t.Fatalf("no settings yet: %+v %v", sc, err)
	}
	st := client.ScanSettings{
		Files:  client.FileScanSettings{Enabled: true, EveryHours: 24, Source: client.FileSource{Kind: "local", Path: "/var/www/shop"}},
		Backup: client.BackupScanSettings{Enabled: true, Repository: "/var/backups/shop", RepositoryPassword: "s3cret-repo-pass", KeepDaily: 7},
	}
	if sc, err = c.PutScanner(ctx, d, st); err != nil || !sc.Settings.Backup.RepositoryPasswordSet || sc.Settings.Backup.RepositoryPassword != "" || sc.Settings.Files.Source.Path != "/var/www/shop" {
		t.Fatalf("put: %+v %v", sc, err)
	}
	// Saving what was read (no secret in it) keeps the stored secret.
	if sc, err = c.PutScanner(ctx, d, sc.Settings); err != nil || !sc.Settings.Backup.RepositoryPasswordSet {
		t.Fatalf("put back what was read: %+v %v", sc, err)
	}
	bad := st
	bad.Files.Source.Path = "/etc"
	var ce *client.Error
	if _, err := c.PutScanner(ctx, d, bad); !errors.Is(err, client.ErrInvalid) || !errors.As(err, &ce) || !strings.Contains(err.Error(), "not inside the allowed roots") {
		t.Fatalf("a folder outside the roots: %v", err)
	}
	if _, err := c.Scanner(ctx, "nobody.example.com"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("unknown website: %v", err)
	}

	j, err := c.StartScan(ctx, d, "files")
	if err != nil || j.Kind != "files" || j.State != "queued" || j.Trigger != "on_demand" || j.CreatedAt.IsZero() {
		t.Fatalf("start: %+v %v", j, err)
	}
	if _, err := c.StartScan(ctx, d, "files"); !errors.Is(err, client.ErrConflict) {
		t.Fatalf("a second files scan while one is queued: %v", err)
	}
	if _, err := c.StartScan(ctx, d, "database"); !errors.Is(err, client.ErrPreconditionFailed) {
		t.Fatalf("a kind that is not switched on: %v", err)
	}
	if _, err := c.StartScan(ctx, d, "everything"); !errors.Is(err, client.ErrInvalid) {
		t.Fatalf("an unknown kind: %v", err)
	}

	// The node: claims the job, records one finding, finishes.
	svc := pal.Service
	job, ok, err := svc.ClaimScanJob(ctx, "node-1", time.Minute)
	if err != nil || !ok || job.ID != j.ID {
		t.Fatalf("claim: %+v %v %v", job, ok, err)
	}
	if _, _, err := svc.RecordFindings(ctx, job, []core.Finding{{Location: "wp-content/uploads/x.php", Signature: "Palisade.PHP.Webshell.EvalPost",
		Class: "webshell", Severity: "critical", SHA256: strings.Repeat("a", 64)}}, true); err != nil {
		t.Fatal(err)
	}
	if err := svc.FinishScanJob(ctx, job, map[string]int{"files": 10}, ""); err != nil {
		t.Fatal(err)
	}
	jobs, err := c.ScanJobs(ctx, d, "files", 10)
	if err != nil || len(jobs) != 1 || jobs[0].State != "done" || jobs[0].FinishedAt == nil || !strings.Contains(string(jobs[0].Summary), `"files":10`) {
		t.Fatalf("jobs: %+v %v", jobs, err)
	}
	if _, err := c.ScanJobs(ctx, d, "", 100000); !errors.Is(err, client.ErrInvalid) {
		t.Fatalf("a limit out of range: %v", err)
	}

	fs, err := c.Findings(ctx, d, client.FindingFilter{State: "open"})
	if err != nil || len(fs.Data) != 1 || fs.Data[0].Location != "wp-content/uploads/x.php" || fs.Data[0].Severity != "critical" || fs.Data[0].FirstSeen.IsZero() {
		t.Fatalf("findings: %+v %v", fs, err)
	}
	id := fs.Data[0].ID
	if f, err := c.IgnoreFinding(ctx, d, id, true); err != nil || f.State != "ignored" {
		t.Fatalf("ignore: %+v %v", f, err)
	}
	if _, err := c.FindingAction(ctx, d, id, "quarantine"); !errors.Is(err, client.ErrPreconditionFailed) {
		t.Fatalf("quarantine of an ignored finding: %v", err)
	}
	if f, err := c.IgnoreFinding(ctx, d, id, false); err != nil || f.State != "open" {
		t.Fatalf("unignore: %+v %v", f, err)
	}
	aj, err := c.FindingAction(ctx, d, id, "quarantine")
	if err != nil || aj.Kind != "action" || aj.State != "queued" {
		t.Fatalf("quarantine: %+v %v", aj, err)
	}
	var params struct {
		FindingID int64  `json:"finding_id"`
		Action    string `json:"action"`
	}
	if json.Unmarshal(aj.Params, &params) != nil || params.FindingID != id || params.Action != "quarantine" {
		t.Fatalf("the action job's params: %s", aj.Params)
	}
	if _, err := c.FindingAction(ctx, d, id, "quarantine"); !errors.Is(err, client.ErrConflict) {
		t.Fatalf("the same action twice: %v", err)
	}
	if _, err := c.FindingAction(ctx, d, id+1000, "restore"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("another finding id: %v", err)
	}
	if _, err := c.FindingAction(ctx, d, id, "delete"); err == nil {
		t.Fatal("an action the server does not have was accepted")
	}
	if f, err := c.Findings(ctx, d, client.FindingFilter{Kind: "patch"}); err != nil || len(f.Data) != 0 {
		t.Fatalf("findings of kind patch: %+v %v", f, err)
	}

	// A backup: the node takes it, then it is listed and restored.
	if _, err := c.StartScan(ctx, d, "backup"); err != nil {
		t.Fatal(err)
	}
	var bj core.ScanJob
	for i := 0; i < 3 && bj.Kind != core.ScanBackup; i++ { // the action job may come first
		var got core.ScanJob
		if got, ok, err = svc.ClaimScanJob(ctx, "node-1", time.Minute); err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
		if got.Kind == core.ScanBackup {
			bj = got
			continue
		}
		if err := svc.FinishScanJob(ctx, got, nil, "left for this test"); err != nil {
			t.Fatal(err)
		}
	}
	const snap = "4f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
	at := pal.Clock.Now().UTC().Truncate(time.Second)
	if err := svc.FinishScanJob(ctx, bj, map[string]any{"files": map[string]any{"ID": snap, "ShortID": snap[:8], "Time": at, "Paths": []string{"/var/www/shop"},
		"Summary": map[string]any{"TotalFiles": 12, "TotalBytes": 3400}}}, ""); err != nil {
		t.Fatal(err)
	}
	bs, err := c.Backups(ctx, d, 0)
	if err != nil || len(bs) != 1 || bs[0].Snapshot != snap || bs[0].ShortID != snap[:8] || bs[0].Files != 12 || bs[0].Bytes != 3400 || bs[0].Database || !bs[0].Time.Equal(at) {
		t.Fatalf("backups: %+v %v", bs, err)
	}
	if _, err := c.RestoreBackup(ctx, d, client.RestoreRequest{Snapshot: snap[:8], Path: "../etc"}); !errors.Is(err, client.ErrInvalid) {
		t.Fatalf("a path leaving the document root: %v", err)
	}
	if _, err := c.RestoreBackup(ctx, d, client.RestoreRequest{Snapshot: strings.Repeat("b", 64)}); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("a snapshot that is not this website's: %v", err)
	}
	if _, err := c.RestoreBackup(ctx, d, client.RestoreRequest{Snapshot: snap, Database: true}); !errors.Is(err, client.ErrInvalid) {
		t.Fatalf("a database restore from a backup without one: %v", err)
	}
	rj, err := c.RestoreBackup(ctx, d, client.RestoreRequest{Snapshot: snap[:8], Path: "wp-content/uploads"})
	if err != nil || rj.Kind != "restore" || rj.State != "queued" || !strings.Contains(string(rj.Params), "wp-content/uploads") {
		t.Fatalf("restore: %+v %v", rj, err)
	}
}
