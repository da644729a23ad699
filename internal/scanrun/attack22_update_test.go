package scanrun_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/patchcheck"
)

// TestAttack22UpdateFolderSwappedDuringBackup: the website's owner, who
// uploads its files, turns the install's folder into a symbolic link to
// another website's folder while the backup before the update runs (it
// takes minutes on a real site). The folder was checked before the backup;
// the command must not run in the other website's folder.
func TestAttack22UpdateFolderSwappedDuringBackup(t *testing.T) {
	requireRestic(t)
	ctx := context.Background()
	realRestic, err := exec.LookPath("restic")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	script := filepath.Join(bin, "update.sh")
	if err := os.WriteFile(script, []byte(updateScript), 0o755); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *core.Config) { c.PatchUpdateCommand = script + " {root} {type} {slug}" })
	copyTree(t, "../patchcheck/testdata/sites/wordpress", e.root)
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

	// The other website's folder: a copy of the blog install.
	victim := filepath.Join(filepath.Dir(e.root), "victim")
	copyTree(t, filepath.Join(e.root, "blog"), victim)
	victimPlugin := filepath.Join(victim, "wp-content/plugins/example-forms/example-forms.php")
	before, err := os.ReadFile(victimPlugin)
	if err != nil {
		t.Fatal(err)
	}
	// restic, wrapped: once its backup is done, the owner's swap.
	blog := filepath.Join(e.root, "blog")
	wrapper := filepath.Join(bin, "restic")
	if err := os.WriteFile(wrapper, []byte(fmt.Sprintf(`#!/bin/sh
%q "$@"
rc=$?
case " $* " in
*" backup "*) if [ ! -L %q ]; then mv %q %q.old && ln -s %q %q; fi ;;
esac
exit $rc
`, realRestic, blog, blog, blog, victim, blog)), 0o755); err != nil {
		t.Fatal(err)
	}
	e.runner.Restic = wrapper

	j := e.runUpdate(t, core.UpdateRequest{Type: "plugin", Slug: "example-forms", Root: "blog"})
	if fi, err := os.Lstat(blog); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the swap during the backup did not happen (%v); job %+v", err, j)
	}
	if _, err := os.Stat(filepath.Join(bin, "ran")); !os.IsNotExist(err) {
		t.Fatalf("the update command ran after the install's folder became a link to another website's (%v): job %+v", err, j)
	}
	if after, _ := os.ReadFile(victimPlugin); string(after) != string(before) {
		t.Fatal("the other website's plugin was changed")
	}
	if j.State != core.JobFailed || !strings.Contains(j.Error, "outside the document root") {
		t.Fatalf("job: %+v", j)
	}
}
