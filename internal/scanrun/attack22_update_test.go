package scanrun_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/testenv/sitetree"
)

// TestAttack22UpdateFolderSwappedDuringBackup: the website's owner, who
// uploads its files, turns the install's folder into a symbolic link to
// another website's folder while the backup before the update runs (it
// takes minutes on a real site). The folder was checked before the backup;
// the command must not run in the other website's folder.
func TestAttack22UpdateFolderSwappedDuringBackup(t *testing.T) {
	requireRestic(t)
	realRestic, err := exec.LookPath("restic")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	script := filepath.Join(bin, "update.sh")
	if err := os.WriteFile(script, []byte(updateScript), 0o755); err != nil {
		t.Fatal(err)
	}
	e := newUpdateEnv(t, script+" {root} {type} {slug}")

	// The other website's folder: a copy of the blog install.
	victim := filepath.Join(filepath.Dir(e.root), "victim")
	sitetree.Copy(t, filepath.Join(e.root, "blog"), victim)
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
