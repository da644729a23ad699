package scanrun_test

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/patchcheck"
)

// TestUpdateRunsAsOwner: with {owner} in the operator's template, the
// command is given the user that owns the install's folder; a folder owned
// by root is never updated (the command would load the website's code as
// root): the job fails before the backup or the command.
func TestUpdateRunsAsOwner(t *testing.T) {
	requireRestic(t)
	ctx := context.Background()
	bin := t.TempDir()
	script := filepath.Join(bin, "update.sh")
	// The first argument is the owner; the rest is the usual script's.
	body := strings.Replace(updateScript, "root=$1 type=$2 slug=$3", `echo "owner $1" >> "$(dirname "$0")/ran"; shift; root=$1 type=$2 slug=$3`, 1)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *core.Config) { c.PatchUpdateCommand = script + " {owner} {root} {type} {slug}" })
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
	j := e.runUpdate(t, core.UpdateRequest{Type: "plugin", Slug: "example-forms"})
	ran, _ := os.ReadFile(filepath.Join(bin, "ran"))
	if os.Geteuid() == 0 {
		// The test's files are root's.
		if j.State != core.JobFailed || !strings.Contains(j.Error, "never run as root") || len(ran) != 0 {
			t.Fatalf("an update of a root-owned folder: %+v, the command's marks %q", j, ran)
		}
		return
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	owner := me.Username
	if owner == "" {
		owner = "#" + strconv.Itoa(os.Geteuid())
	}
	if j.State != core.JobDone || !strings.Contains(string(ran), "owner "+owner+"\n") {
		t.Fatalf("update as the folder's owner %q: %+v, the command's marks %q", owner, j, ran)
	}
}
