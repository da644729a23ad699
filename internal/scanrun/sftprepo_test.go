package scanrun_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/testenv/sitetree"
	"github.com/palisadehq/palisade/internal/testenv/sshdtest"
	"golang.org/x/crypto/ssh"
)

// TestSFTPBackupRepository: a website's backups in a repository on another
// server over SFTP (a real OpenSSH on loopback, which --scan-allow-net
// permits here), reached with the repository's own key and pinned host
// key: the settings refuse what would let ssh fall back on the operator's
// set-up; a backup job writes there, a deleted file comes back
// byte-identical through a restore job; the customer sees neither the
// server nor its key; a partner whose policy does not permit the address
// gets a failed job, restic never reaching it.
func TestSFTPBackupRepository(t *testing.T) {
	if _, err := exec.LookPath("restic"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: restic is not installed")
		}
		t.Skip("restic is not installed (Debian package restic)")
	}
	srv := sshdtest.Start(t)
	t.Setenv("HOME", t.TempDir()) // nothing of the operator's ssh set-up
	t.Setenv("SSH_AUTH_SOCK", "")
	e := newEnv(t, func(c *core.Config) { c.ScanAllowNets = []string{"127.0.0.0/8"} })
	ctx := context.Background()
	sitetree.Copy(t, "../patchcheck/testdata/sites/wordpress", e.root)
	want, err := os.ReadFile(filepath.Join(e.root, "wp-includes", "version.php"))
	if err != nil {
		t.Fatal(err)
	}
	repoDir := filepath.Join(t.TempDir(), "repo")
	location := "sftp://" + srv.User + "@127.0.0.1:" + strconv.Itoa(srv.Port) + "/" + repoDir
	hostKey := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(srv.HostKey)))
	files := core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "local", Path: e.root}}
	settings := func(b core.BackupScanSettings) core.ScanSettings {
		b.Enabled, b.Repository, b.RepositoryPassword = true, location, "correct horse"
		return core.ScanSettings{Files: files, Backup: b}
	}

	// Refused: no key, no host key, a fingerprint, a key that is not one.
	fp := ssh.FingerprintSHA256(srv.HostKey)
	for name, b := range map[string]core.BackupScanSettings{
		"no key":           {RepositoryHostKey: hostKey},
		"no host key":      {RepositoryPrivateKey: string(srv.ClientKey)},
		"fingerprint only": {RepositoryPrivateKey: string(srv.ClientKey), RepositoryHostKey: fp},
		"not a key":        {RepositoryPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nnope\n", RepositoryHostKey: hostKey},
	} {
		_, err := e.svc.SetWebsiteScanSettings(ctx, e.partner, e.site.Domain, settings(b))
		var ce *core.Error
		if !errors.As(err, &ce) || ce.Code != core.EINVALID || !strings.Contains(err.Error(), "backup.repository_") {
			t.Errorf("%s: %v, want an invalid backup.repository_* field", name, err)
		}
	}

	st, err := e.svc.SetWebsiteScanSettings(ctx, e.partner, e.site.Domain, settings(core.BackupScanSettings{
		RepositoryPrivateKey: string(srv.ClientKey), RepositoryHostKey: hostKey}))
	if err != nil {
		t.Fatal(err)
	}
	if !st.Backup.RepositoryPrivateKeySet || st.Backup.RepositoryPrivateKey != "" || st.Backup.RepositoryHostKey != hostKey {
		t.Errorf("the partner's view: key set %v, key %q, host key %q", st.Backup.RepositoryPrivateKeySet, st.Backup.RepositoryPrivateKey, st.Backup.RepositoryHostKey)
	}
	if j := e.runJob(t, core.ScanBackup); j.State != core.JobDone {
		t.Fatalf("backup over sftp: %+v", j)
	}
	if _, err := os.Stat(filepath.Join(repoDir, "config")); err != nil {
		t.Fatalf("no repository on the sftp server: %v", err)
	}
	backups, err := e.svc.Backups(ctx, e.partner, e.site.Domain, 0)
	if err != nil || len(backups) != 1 {
		t.Fatalf("backups: %+v %v", backups, err)
	}
	if err := os.Remove(filepath.Join(e.root, "wp-includes", "version.php")); err != nil {
		t.Fatal(err)
	}
	j, err := e.svc.RequestRestore(ctx, e.partner, e.site.Domain, core.RestoreRequest{Snapshot: backups[0].ShortID, Path: "wp-includes/version.php"})
	if err != nil {
		t.Fatal(err)
	}
	if j = e.runQueued(t, j); j.State != core.JobDone {
		t.Fatalf("restore over sftp: %+v", j)
	}
	if got, err := os.ReadFile(filepath.Join(e.root, "wp-includes", "version.php")); err != nil || string(got) != string(want) {
		t.Fatalf("restored file differs (%v)", err)
	}
	if left, _ := filepath.Glob(filepath.Join(e.runner.Dir, "restic", "ssh", "*")); len(left) != 0 {
		t.Errorf("ssh key files left behind: %v", left)
	}

	// The customer's view.
	sub, _, err := e.svc.CreateSubaccount(ctx, e.partner, core.SubaccountCreate{Email: "jane@example.com"}, core.Idem{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.CreateWebsite(ctx, e.partner, core.WebsiteCreate{Domain: "jane.example.com", SubaccountID: sub.ID}, core.Idem{}); err != nil {
		t.Fatal(err)
	}
	janeRoot := filepath.Join(filepath.Dir(e.root), "jane")
	if err := os.MkdirAll(janeRoot, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetWebsiteScanSettings(ctx, e.partner, "jane.example.com", core.ScanSettings{Files: core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "local", Path: janeRoot}},
		Backup: core.BackupScanSettings{Enabled: true, Repository: location + "-jane", RepositoryPassword: "pw", RepositoryPrivateKey: string(srv.ClientKey), RepositoryHostKey: hostKey}}); err != nil {
		t.Fatal(err)
	}
	jane := core.Caller{Role: core.RoleSubaccount, PartnerID: e.partner.PartnerID, SubaccountID: sub.ID, Protocol: core.ProtocolSSO, Actor: "jane@example.com"}
	if cv, err := e.svc.WebsiteScanSettings(ctx, jane, "jane.example.com"); err != nil || !cv.Backup.Enabled || cv.Backup.Repository != "" || cv.Backup.RepositoryHostKey != "" || cv.Backup.RepositoryPrivateKey != "" {
		t.Errorf("the customer's view: %+v %v", cv.Backup, err)
	}

	// Another partner's policy: loopback is not permitted, the job fails
	// before restic starts.
	strict := newEnv(t)
	sitetree.Copy(t, "../patchcheck/testdata/sites/wordpress", strict.root)
	if _, err := strict.svc.SetWebsiteScanSettings(ctx, strict.partner, strict.site.Domain, core.ScanSettings{Files: core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "local", Path: strict.root}},
		Backup: core.BackupScanSettings{Enabled: true, Repository: location, RepositoryPassword: "pw", RepositoryPrivateKey: string(srv.ClientKey), RepositoryHostKey: hostKey}}); err != nil {
		t.Fatal(err)
	}
	if j := strict.runJob(t, core.ScanBackup); j.State != core.JobFailed || !strings.Contains(j.Error, "--scan-allow-net") {
		t.Fatalf("backup to a loopback sftp server without --scan-allow-net: %+v", j)
	}
}
