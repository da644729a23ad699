package scanrun

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/backup"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/netguard"
	"github.com/palisadehq/palisade/internal/testenv/sshdtest"
	"golang.org/x/crypto/ssh"
)

// TestAttack22SFTPRepoWithoutOwnKey: settings saved while sftp:
// repositories were taken without a key of their own (5b550e2 to
// 1e8d20b) are not checked again when a job runs; the backup package runs
// such a location with the ssh set-up of the user running Palisade (its
// keys, agent, known_hosts). The runner refuses it before restic starts;
// with a key and host key of its own the same location runs.
func TestAttack22SFTPRepoWithoutOwnKey(t *testing.T) {
	dir := t.TempDir()
	ran := filepath.Join(dir, "restic-ran")
	spy := filepath.Join(dir, "restic-spy")
	if err := os.WriteFile(spy, []byte("#!/bin/sh\necho \"$@\" >> "+ran+"\necho '[]'\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	r := &Runner{Dir: filepath.Join(dir, "node"), Restic: spy}
	st := core.ScanSettings{Net: netguard.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
		Backup: core.BackupScanSettings{Enabled: true, Repository: "sftp:backup@127.0.0.1:/srv/restic", RepositoryPassword: "pw"}}

	_, err := r.repo(st).Snapshots(context.Background(), "site-a")
	if !errors.Is(err, backup.ErrInvalid) || !strings.Contains(err.Error(), "operator's own keys") {
		t.Errorf("an sftp: repository without its own key: %v, want it refused", err)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Fatal("restic ran for an sftp: repository with the operator's ssh set-up")
	}

	key, pub := sshdtest.Key(t, "")
	st.Backup.RepositoryPrivateKey, st.Backup.RepositoryHostKey = string(key), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
	if _, err := r.repo(st).Snapshots(context.Background(), "site-a"); err != nil {
		t.Fatalf("with its own key and host key: %v", err)
	}
	if args, err := os.ReadFile(ran); err != nil || !strings.Contains(string(args), "sftp.command=ssh -F /dev/null") {
		t.Errorf("restic's arguments: %q %v", args, err)
	}
}
