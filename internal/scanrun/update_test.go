package scanrun_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/patchcheck"
	"github.com/palisadehq/palisade/internal/scanrun"
	"github.com/palisadehq/palisade/internal/testenv/sitetree"
)

// updateScript is the configured update command of the tests: a real
// program that does what `wp plugin update` does to the files (the plugin's
// Version header moved on) and leaves a mark that it ran.
const updateScript = `#!/bin/sh
set -eu
root=$1 type=$2 slug=$3
echo "$type $slug" >> "$(dirname "$0")/ran"
f="$root/wp-content/plugins/$slug/$slug.php"
sed 's/Version:           2.3.1/Version:           2.4.0/' "$f" > "$f.new"
mv "$f.new" "$f"
echo "Success: Updated 1 of 1 plugins."
`

func requireRestic(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("restic"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: restic is not installed")
		}
		t.Skip("restic is not installed (Debian package restic)")
	}
}

// TestUpdateJob: an update job takes a backup with the real restic, runs
// the operator's command (a script of the test's making) for the plugin the
// last patch check reported, and checks again: the summary names the
// snapshot, the command's exit and output, and the version before and
// after. A backup that fails leaves the command unrun and the files as they
// were; a slug that could pass for an option or shell is refused before
// anything is queued.
func TestUpdateJob(t *testing.T) {
	requireRestic(t)
	ctx := context.Background()
	bin := t.TempDir()
	script := filepath.Join(bin, "update.sh")
	if err := os.WriteFile(script, []byte(updateScript), 0o755); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *core.Config) { c.PatchUpdateCommand = script + " {root} {type} {slug}" })
	sitetree.Copy(t, "../patchcheck/testdata/sites/wordpress", e.root)
	feed, err := patchcheck.ReadDir("../patchcheck/testdata/feed", patchcheck.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.runner.Feed = func(context.Context) (*patchcheck.Feed, error) { return feed, nil }
	settings := func(repo string) {
		t.Helper()
		if _, err := e.svc.SetWebsiteScanSettings(ctx, e.partner, e.site.Domain, core.ScanSettings{
			Files:  core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "local", Path: e.root}},
			Patch:  core.PatchScanSettings{Enabled: true},
			Backup: core.BackupScanSettings{Enabled: true, Repository: repo, RepositoryPassword: "correct horse"},
		}); err != nil {
			t.Fatal(err)
		}
	}
	settings(filepath.Join(e.backups, "shop"))
	plugin := filepath.Join(e.root, "wp-content/plugins/example-forms/example-forms.php")

	// Refused before anything is queued or run.
	for _, slug := range []string{"--help", "a;rm -rf /", "-x", "a b", "../x", "$(id)"} {
		_, err := e.svc.RequestUpdate(ctx, e.partner, e.site.Domain, core.UpdateRequest{Type: "plugin", Slug: slug})
		if core.ErrorCode(err) != core.EINVALID {
			t.Fatalf("slug %q: %v", slug, err)
		}
	}
	// Nothing reported yet: no patch check has run.
	if _, err := e.svc.RequestUpdate(ctx, e.partner, e.site.Domain, core.UpdateRequest{Type: "plugin", Slug: "example-forms"}); core.ErrorCode(err) != core.ENOTFOUND {
		t.Fatalf("before any patch check: %v", err)
	}
	if ran, err := e.runner.RunOnce(ctx); ran || err != nil {
		t.Fatalf("a refused request left a job: %v %v", ran, err)
	}
	if j := e.runJob(t, core.ScanPatch); j.State != core.JobDone {
		t.Fatalf("patch check: %+v", j)
	}

	// A backup that fails: the repository is a file, restic cannot use it.
	broken := filepath.Join(e.backups, "broken")
	if err := os.MkdirAll(e.backups, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(broken, []byte("not a repository"), 0o600); err != nil {
		t.Fatal(err)
	}
	settings(broken)
	j := e.runUpdate(t, core.UpdateRequest{Type: "plugin", Slug: "example-forms"})
	if j.State != core.JobFailed || !strings.Contains(j.Error, "backup") {
		t.Fatalf("update with a failing backup: %+v", j)
	}
	if _, err := os.Stat(filepath.Join(bin, "ran")); !os.IsNotExist(err) {
		t.Fatalf("the update command ran although the backup failed (%v)", err)
	}
	if b, _ := os.ReadFile(plugin); !strings.Contains(string(b), "2.3.1") {
		t.Fatal("the plugin changed although the backup failed")
	}

	settings(filepath.Join(e.backups, "shop"))
	j = e.runUpdate(t, core.UpdateRequest{Type: "plugin", Slug: "example-forms"})
	if j.State != core.JobDone {
		t.Fatalf("update: %+v", j)
	}
	var sum scanrun.UpdateSummary
	if err := json.Unmarshal([]byte(j.Summary), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Backup == nil || sum.Backup.Files == nil || sum.Backup.Files.ID == "" {
		t.Fatalf("no snapshot in the summary: %s", j.Summary)
	}
	if sum.VersionBefore != "2.3.1" || sum.VersionAfter != "2.4.0" {
		t.Fatalf("versions %q -> %q: %s", sum.VersionBefore, sum.VersionAfter, j.Summary)
	}
	if sum.Command == nil || sum.Command.Exit != 0 || !strings.Contains(sum.Command.Output, "Success: Updated 1 of 1 plugins.") {
		t.Fatalf("command: %+v", sum.Command)
	}
	if want := []string{script, e.root, "plugin", "example-forms"}; strings.Join(sum.Command.Args, "\x00") != strings.Join(want, "\x00") {
		t.Fatalf("args %q, want %q", sum.Command.Args, want)
	}
	if b, _ := os.ReadFile(filepath.Join(bin, "ran")); string(b) != "plugin example-forms\n" {
		t.Fatalf("the script ran as %q", b)
	}
	if sum.After == nil || len(sum.After.Installs) == 0 {
		t.Fatalf("no check after: %s", j.Summary)
	}
	// The snapshot holds the plugin as it was before the update (restic's
	// own word, not the summary's).
	dump := exec.Command("restic", "-r", filepath.Join(e.backups, "shop"), "--no-cache", "dump", sum.Backup.Files.ID,
		"/wp-content/plugins/example-forms/example-forms.php") // paths relative to the document root, as restores use them
	dump.Env = append(os.Environ(), "RESTIC_PASSWORD=correct horse")
	out, err := dump.CombinedOutput()
	if err != nil {
		t.Fatalf("restic dump: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "Version:           2.3.1") {
		t.Fatalf("the snapshot does not hold the version before: %s", out)
	}

	// The backup taken before the update is listed among the website's
	// backups and can be restored like the others.
	bs, err := e.svc.Backups(ctx, e.partner, e.site.Domain, 10)
	if err != nil || len(bs) != 1 || bs[0].Snapshot != sum.Backup.Files.ID || bs[0].JobID != j.ID || bs[0].Incomplete != "" {
		t.Fatalf("backups: %+v %v", bs, err)
	}
	if _, err := e.svc.RequestRestore(ctx, e.partner, e.site.Domain, core.RestoreRequest{Snapshot: bs[0].ShortID, Path: "wp-content/plugins"}); err != nil {
		t.Fatalf("restore of the update's backup: %v", err)
	}
	if ran, err := e.runner.RunOnce(ctx); err != nil || !ran {
		t.Fatalf("restore job: %v %v", ran, err)
	}
	if b, _ := os.ReadFile(plugin); !strings.Contains(string(b), "Version:           2.3.1") {
		t.Fatalf("the restore did not put the version before back: %s", b)
	}

	// An install folder the website's files turned into a symbolic link
	// out of the document root after the check: refused, nothing runs.
	outside := filepath.Join(filepath.Dir(e.root), "elsewhere")
	if err := os.Rename(filepath.Join(e.root, "blog"), outside); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(e.root, "blog")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(bin, "ran")); err != nil {
		t.Fatal(err)
	}
	sj := e.runUpdate(t, core.UpdateRequest{Type: "plugin", Slug: "example-forms", Root: "blog"})
	if sj.State != core.JobFailed || !strings.Contains(sj.Error, "outside the document root") {
		t.Fatalf("an install behind a symbolic link: %+v", sj)
	}
	if _, err := os.Stat(filepath.Join(bin, "ran")); !os.IsNotExist(err) {
		t.Fatalf("the update command ran for an install outside the document root (%v)", err)
	}

	jobs, err := e.svc.ScanJobs(ctx, e.partner, e.site.Domain, core.ScanUpdate, 1)
	if err != nil || len(jobs) != 1 || jobs[0].ID != sj.ID {
		t.Fatalf("jobs: %+v %v", jobs, err)
	}
	// The updated component may be asked for again (the update's own check).
	if _, err := e.svc.RequestUpdate(ctx, e.partner, e.site.Domain, core.UpdateRequest{Type: "plugin", Slug: "example-forms"}); err != nil {
		t.Fatalf("after the update: %v", err)
	}
	if _, err := e.svc.RequestUpdate(ctx, e.partner, e.site.Domain, core.UpdateRequest{Type: "plugin", Slug: "example-forms"}); core.ErrorCode(err) != core.ECONFLICT {
		t.Fatalf("a second update while one is queued: %v", err)
	}
}

func (e *env) runUpdate(t *testing.T, r core.UpdateRequest) core.ScanJob {
	t.Helper()
	ctx := context.Background()
	j, err := e.svc.RequestUpdate(ctx, e.partner, e.site.Domain, r)
	if err != nil {
		t.Fatal(err)
	}
	ran, err := e.runner.RunOnce(ctx)
	if err != nil || !ran {
		t.Fatalf("RunOnce: ran %v, %v", ran, err)
	}
	jobs, err := e.svc.ScanJobs(ctx, e.partner, e.site.Domain, core.ScanUpdate, 1)
	if err != nil || len(jobs) != 1 || jobs[0].ID != j.ID {
		t.Fatalf("the job: %+v, %v", jobs, err)
	}
	return jobs[0]
}

// newUpdateEnv is an env whose operator's update command is template, on
// a copy of the WordPress-like test site with the test feed, files, patch
// checks and backups on, after one patch check (so that its components
// may be updated).
func newUpdateEnv(t *testing.T, template string) *env {
	t.Helper()
	ctx := context.Background()
	e := newEnv(t, func(c *core.Config) { c.PatchUpdateCommand = template })
	sitetree.Copy(t, "../patchcheck/testdata/sites/wordpress", e.root)
	feed, err := patchcheck.ReadDir("../patchcheck/testdata/feed", patchcheck.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.runner.Feed = func(context.Context) (*patchcheck.Feed, error) { return feed, nil }
	if _, err := e.svc.SetWebsiteScanSettings(ctx, e.partner, e.site.Domain, core.ScanSettings{
		Files:  core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "local", Path: e.root}},
		Patch:  core.PatchScanSettings{Enabled: true},
		Backup: core.BackupScanSettings{Enabled: true, Repository: filepath.Join(e.backups, "shop"), RepositoryPassword: "correct horse"},
	}); err != nil {
		t.Fatal(err)
	}
	if j := e.runJob(t, core.ScanPatch); j.State != core.JobDone {
		t.Fatalf("patch check: %+v", j)
	}
	return e
}
