package scanrun_test

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
)

// TestUpdateRunsAsOwner: with {owner} in the operator's template, the
// command is given the user that owns the install's folder; a folder owned
// by root is never updated (the command would load the website's code as
// root): the job fails before the backup or the command.
func TestUpdateRunsAsOwner(t *testing.T) {
	requireRestic(t)
	bin := t.TempDir()
	script := filepath.Join(bin, "update.sh")
	// The first argument is the owner; the rest is the usual script's.
	body := strings.Replace(updateScript, "root=$1 type=$2 slug=$3", `echo "owner $1" >> "$(dirname "$0")/ran"; shift; root=$1 type=$2 slug=$3`, 1)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	e := newUpdateEnv(t, script+" {owner} {root} {type} {slug}")
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
