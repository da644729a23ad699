package scanrun_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/testenv/sitetree"
	"github.com/palisadehq/palisade/internal/testenv/sshdtest"
	"golang.org/x/crypto/ssh"
)

// TestAttack22SFTPHostKeyAsPasted: a partner pastes the server's
// ssh_host_ed25519_key.pub as it is, its newline with it (the partner API
// takes JSON strings as sent). The settings were accepted (the core
// checks the key trimmed) and every backup then failed: the runner
// refused "\n" in the host key. The key works as pasted.
func TestAttack22SFTPHostKeyAsPasted(t *testing.T) {
	if _, err := exec.LookPath("restic"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: restic is not installed")
		}
		t.Skip("restic is not installed (Debian package restic)")
	}
	srv := sshdtest.Start(t)
	t.Setenv("SSH_AUTH_SOCK", "")
	e := newEnv(t, func(c *core.Config) { c.ScanAllowNets = []string{"127.0.0.0/8"} })
	ctx := context.Background()
	sitetree.Copy(t, "../patchcheck/testdata/sites/wordpress", e.root)
	location := "sftp://" + srv.User + "@127.0.0.1:" + strconv.Itoa(srv.Port) + "/" + filepath.Join(t.TempDir(), "repo")
	pasted := string(ssh.MarshalAuthorizedKey(srv.HostKey)) // "ssh-ed25519 AAAA...\n"
	if _, err := e.svc.SetWebsiteScanSettings(ctx, e.partner, e.site.Domain, core.ScanSettings{
		Files: core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "local", Path: e.root}},
		Backup: core.BackupScanSettings{Enabled: true, Repository: location, RepositoryPassword: "correct horse",
			RepositoryPrivateKey: string(srv.ClientKey), RepositoryHostKey: pasted}}); err != nil {
		t.Fatalf("settings with the host key as pasted: %v", err)
	}
	if j := e.runJob(t, core.ScanBackup); j.State != core.JobDone {
		t.Fatalf("backup with the host key as pasted (the settings were accepted): %+v", j)
	}
}
