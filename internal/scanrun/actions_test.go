package scanrun_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/malware/clamdtest"
	"github.com/palisadehq/palisade/internal/scanrun"
	"github.com/palisadehq/palisade/internal/testenv/sitetree"
)

// runAction asks through the core (as the website's customer would, here
// its partner) for action on finding id and lets the runner do it.
func (e *env) runAction(t *testing.T, id int64, action string) core.ScanJob {
	t.Helper()
	ctx := context.Background()
	j, err := e.svc.RequestFindingAction(ctx, e.partner, e.site.Domain, id, action)
	if err != nil {
		t.Fatal(err)
	}
	return e.runQueued(t, j)
}

// runQueued runs the queued job j and returns it as it ended.
func (e *env) runQueued(t *testing.T, j core.ScanJob) core.ScanJob {
	t.Helper()
	ctx := context.Background()
	if ran, err := e.runner.RunOnce(ctx); err != nil || !ran {
		t.Fatalf("RunOnce: ran %v, %v", ran, err)
	}
	jobs, err := e.svc.ScanJobs(ctx, e.partner, e.site.Domain, j.Kind, 1)
	if err != nil || len(jobs) != 1 || jobs[0].ID != j.ID {
		t.Fatalf("the job: %+v, %v", jobs, err)
	}
	return jobs[0]
}

func (e *env) finding(t *testing.T, id int64) core.Finding {
	t.Helper()
	all, err := e.svc.Findings(context.Background(), e.partner, e.site.Domain, core.FindingFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range all {
		if f.ID == id {
			return f
		}
	}
	t.Fatalf("finding %d is gone", id)
	return core.Finding{}
}

// TestQuarantineRestoreRoundTrip: a web shell found by the real clamd is
// quarantined through the core (the file leaves the website, the finding
// names the entry), restored (the file is back byte for byte, with its
// mode; the finding is open again), quarantined again; a restore over a
// different file now at that path fails and overwrites nothing; a known
// injection asked to be cleaned is (original back), an uncleanable file's
// clean fails saying so and leaves it alone.
func TestQuarantineRestoreRoundTrip(t *testing.T) {
	e := newEnv(t)
	e.runner.Clamd = clamdtest.Start(t)
	shell, err := os.ReadFile("../malware/testdata/samples/php-webshell/EvalRequest.php")
	if err != nil {
		t.Fatal(err)
	}
	shellPath := filepath.Join(e.root, "wp-content", "uploads", "x.php")
	if err := os.MkdirAll(filepath.Dir(shellPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(shellPath, shell, 0o640); err != nil {
		t.Fatal(err)
	}
	infected, _ := os.ReadFile("../malware/testdata/clean/php-prepend/infected.php")
	original, _ := os.ReadFile("../malware/testdata/clean/php-prepend/original.php")
	if err := os.WriteFile(filepath.Join(e.root, "index.php"), infected, 0o644); err != nil {
		t.Fatal(err)
	}
	whole, _ := os.ReadFile("../malware/testdata/clean/not-cleanable/whole-file.php")
	if err := os.WriteFile(filepath.Join(e.root, "whole.php"), whole, 0o644); err != nil {
		t.Fatal(err)
	}
	if j := e.runJob(t, core.ScanFiles); j.State != core.JobDone {
		t.Fatalf("scan: %+v", j)
	}
	found, err := e.svc.Findings(context.Background(), e.partner, e.site.Domain, core.FindingFilter{})
	if err != nil || len(found) != 3 {
		t.Fatalf("findings: %+v %v", found, err)
	}
	byLoc := map[string]core.Finding{}
	for _, f := range found {
		byLoc[f.Location] = f
	}
	sh := byLoc["wp-content/uploads/x.php"]

	j := e.runAction(t, sh.ID, core.ActionQuarantine)
	var sum scanrun.ActionSummary
	if err := json.Unmarshal([]byte(j.Summary), &sum); err != nil || j.State != core.JobDone || sum.State != core.FindingQuarantined || sum.QuarantineID == "" {
		t.Fatalf("quarantine job: %+v %v", j, err)
	}
	if _, err := os.Stat(shellPath); !os.IsNotExist(err) {
		t.Fatalf("the web shell is still in the website: %v", err)
	}
	if f := e.finding(t, sh.ID); f.State != core.FindingQuarantined || f.QuarantineID != sum.QuarantineID {
		t.Fatalf("finding after quarantine: %+v", f)
	}

	j = e.runAction(t, sh.ID, core.ActionRestore)
	if j.State != core.JobDone {
		t.Fatalf("restore job: %+v", j)
	}
	got, err := os.ReadFile(shellPath)
	if err != nil || !bytes.Equal(got, shell) {
		t.Fatalf("the restored file differs (%v)", err)
	}
	if st, _ := os.Stat(shellPath); st.Mode().Perm() != 0o640 {
		t.Errorf("restored mode: %v", st.Mode())
	}
	if f := e.finding(t, sh.ID); f.State != core.FindingOpen || f.QuarantineID != "" {
		t.Fatalf("finding after restore: %+v", f)
	}

	// Quarantined again, then another file takes the path: the restore
	// refuses to overwrite it, and the finding stays quarantined.
	if j = e.runAction(t, sh.ID, core.ActionQuarantine); j.State != core.JobDone {
		t.Fatalf("second quarantine: %+v", j)
	}
	if err := os.WriteFile(shellPath, []byte("<?php echo 'new upload';\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	j = e.runAction(t, sh.ID, core.ActionRestore)
	if j.State != core.JobFailed || !strings.Contains(j.Error, "another file now exists") {
		t.Fatalf("restore over another file: %+v", j)
	}
	if got, _ := os.ReadFile(shellPath); string(got) != "<?php echo 'new upload';\n" {
		t.Fatal("the restore overwrote the file now at that path")
	}
	if f := e.finding(t, sh.ID); f.State != core.FindingQuarantined {
		t.Fatalf("finding after the refused restore: %+v", f)
	}

	// Clean, asked for by hand (auto_clean is off).
	j = e.runAction(t, byLoc["index.php"].ID, core.ActionClean)
	if j.State != core.JobDone || !strings.Contains(j.Summary, `"diff"`) {
		t.Fatalf("clean job: %+v", j)
	}
	if got, _ := os.ReadFile(filepath.Join(e.root, "index.php")); !bytes.Equal(got, original) {
		t.Fatal("index.php after cleaning differs from its original")
	}
	if f := e.finding(t, byLoc["index.php"].ID); f.State != core.FindingCleaned || f.QuarantineID == "" {
		t.Fatalf("cleaned finding: %+v", f)
	}
	j = e.runAction(t, byLoc["whole.php"].ID, core.ActionClean)
	if j.State != core.JobFailed || !strings.Contains(j.Error, "cannot be cleaned safely") {
		t.Fatalf("clean of an uncleanable file: %+v", j)
	}
	if got, _ := os.ReadFile(filepath.Join(e.root, "whole.php")); !bytes.Equal(got, whole) {
		t.Fatal("an uncleanable file was changed")
	}
	if f := e.finding(t, byLoc["whole.php"].ID); f.State != core.FindingOpen {
		t.Fatalf("uncleanable finding: %+v", f)
	}
}

// TestBackupRestoreRoundTrip: a backup job through the core, then files
// deleted and changed in the website, then restores through the core: one
// folder (only it comes back), then everything (byte-identical, modes
// kept).
func TestBackupRestoreRoundTrip(t *testing.T) {
	if _, err := exec.LookPath("restic"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: restic is not installed")
		}
		t.Skip("restic is not installed (Debian package restic)")
	}
	e := newEnv(t)
	ctx := context.Background()
	sitetree.Copy(t, "../patchcheck/testdata/sites/wordpress", e.root)
	if err := os.WriteFile(filepath.Join(e.root, "wp-config.php"), []byte("<?php define('DB_NAME', 'shop');\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := snapshotTree(t, e.root)
	if _, err := e.svc.SetWebsiteScanSettings(ctx, e.partner, e.site.Domain, core.ScanSettings{
		Files:  core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "local", Path: e.root}},
		Backup: core.BackupScanSettings{Enabled: true, Repository: filepath.Join(e.backups, "shop"), RepositoryPassword: "correct horse"},
	}); err != nil {
		t.Fatal(err)
	}
	if j := e.runJob(t, core.ScanBackup); j.State != core.JobDone {
		t.Fatalf("backup: %+v", j)
	}
	backups, err := e.svc.Backups(ctx, e.partner, e.site.Domain, 0)
	if err != nil || len(backups) != 1 || backups[0].Files != int64(len(want)) || backups[0].Database {
		t.Fatalf("backups: %+v %v (want %d files)", backups, err, len(want))
	}

	// Damage: a folder and a file deleted, another file changed.
	if err := os.RemoveAll(filepath.Join(e.root, "wp-content", "plugins")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(e.root, "wp-config.php")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.root, "wp-includes", "version.php"), []byte("<?php // defaced\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// The plugins folder alone, by the short ID.
	j, err := e.svc.RequestRestore(ctx, e.partner, e.site.Domain, core.RestoreRequest{Snapshot: backups[0].ShortID, Path: "wp-content/plugins"})
	if err != nil {
		t.Fatal(err)
	}
	j = e.runQueued(t, j)
	var sum scanrun.RestoreSummary
	if err := json.Unmarshal([]byte(j.Summary), &sum); err != nil || j.State != core.JobDone || sum.FilesRestored == 0 {
		t.Fatalf("folder restore: %+v %v", j, err)
	}
	got := snapshotTree(t, e.root)
	for p, w := range want {
		switch {
		case strings.HasPrefix(p, "wp-content/plugins/"):
			if got[p] != w {
				t.Errorf("%s not restored", p)
			}
		case p == "wp-config.php":
			if _, ok := got[p]; ok {
				t.Error("a folder restore put back a file outside the folder")
			}
		}
	}

	// Everything.
	j, err = e.svc.RequestRestore(ctx, e.partner, e.site.Domain, core.RestoreRequest{Snapshot: backups[0].Snapshot})
	if err != nil {
		t.Fatal(err)
	}
	if j = e.runQueued(t, j); j.State != core.JobDone {
		t.Fatalf("full restore: %+v", j)
	}
	got = snapshotTree(t, e.root)
	if len(got) != len(want) {
		t.Errorf("after the restore %d files, want %d", len(got), len(want))
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s differs after the restore", p)
		}
	}
}

// snapshotTree maps each file under root to its mode and content.
func snapshotTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = info.Mode().Perm().String() + "\x00" + string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSchedule: the runner's schedule loop queues a website's due scan
// on the runner's clock.
func TestSchedule(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := e.svc.SetWebsiteScanSettings(ctx, e.partner, e.site.Domain, core.ScanSettings{Files: core.FileScanSettings{Enabled: true, EveryHours: 4,
		Source: core.FileSource{Kind: "local", Path: e.root}}}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); e.runner.Schedule(ctx, time.Hour) }()
	deadline := time.Now().Add(time.Minute) // a bound for a stuck loop, not a speed budget
	for {
		jobs, err := e.svc.ScanJobs(ctx, e.partner, e.site.Domain, core.ScanFiles, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) == 1 {
			if jobs[0].Trigger != "schedule" {
				t.Fatalf("job: %+v", jobs[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the schedule queued nothing")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}
