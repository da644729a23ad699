package scanrun_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/scanrun"
	"github.com/palisadehq/palisade/internal/secret"
	"github.com/palisadehq/palisade/internal/store/storetest"
	"golang.org/x/crypto/ssh"
)

// locks lists the lock files in a local restic repository.
func locks(t *testing.T, repo string) []string {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(repo, "locks"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// TestAttack22DownloadCutLeavesNoLock: a download the client walks away
// from (its writes fail) or that the size cap cuts leaves no lock in the
// website's repository. restic 0.14 never ignores a stale lock when it
// wants an exclusive one, so a lock left behind by a restic that died
// (SIGPIPE when Palisade stopped reading its output) made every later
// backup job's retention (forget --prune) fail "repository is already
// locked" until someone ran restic unlock by hand.
func TestAttack22DownloadCutLeavesNoLock(t *testing.T) {
	b := newBrowseEnv(t, core.BackupReadLimits{MaxDownload: 10 << 10})
	ctx := context.Background()
	if l := locks(t, b.repo); len(l) != 0 {
		t.Fatalf("locks before: %v", l)
	}
	gone := errors.New("client went away")
	for i := 0; i < 5; i++ {
		// The client goes after the first bytes.
		err := b.svc.DownloadBackup(ctx, b.jane, b.domain, core.BackupDownload{Snapshot: b.backup.ShortID, Path: "wp-content/uploads"}, func(string) io.Writer {
			return writerFunc(func(p []byte) (int, error) { return 0, gone })
		})
		if err == nil {
			t.Fatal("a download whose client went away succeeded")
		}
		// The size cap cuts a folder.
		if _, _, err := b.download(b.jane, b.backup.ShortID, "wp-content"); !errors.Is(err, core.ErrDownloadTooLarge) {
			t.Fatalf("folder over the cap: %v", err)
		}
	}
	// restic has exited when DownloadBackup returns; give a lock removal
	// in flight a moment anyway.
	deadline := time.Now().Add(5 * time.Second)
	for len(locks(t, b.repo)) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if l := locks(t, b.repo); len(l) != 0 {
		t.Fatalf("%d lock(s) left in the repository by cut downloads: the next backup's retention (forget --prune) fails", len(l))
	}
	// And so the next backup job applies its retention.
	st, err := b.svc.WebsiteScanSettings(ctx, b.env.partner, b.domain)
	if err != nil {
		t.Fatal(err)
	}
	st.Backup.KeepDaily = 7
	if _, err := b.svc.SetWebsiteScanSettings(ctx, b.env.partner, b.domain, st); err != nil {
		t.Fatal(err)
	}
	if _, err := b.svc.RequestScan(ctx, b.env.partner, b.domain, core.ScanBackup); err != nil {
		t.Fatal(err)
	}
	if ran, err := b.runner.RunOnce(ctx); err != nil || !ran {
		t.Fatalf("RunOnce: %v %v", ran, err)
	}
	jobs, err := b.svc.ScanJobs(ctx, b.env.partner, b.domain, core.ScanBackup, 1)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("jobs: %v %v", jobs, err)
	}
	if jobs[0].State != core.JobDone {
		t.Fatalf("the backup job after cut downloads: %s: %s", jobs[0].State, jobs[0].Error)
	}
}

// TestAttack22DashNamesAreNotOptions: files and folders whose names look
// like restic's options ("--help", "-n", "--no-lock") are browsed and
// downloaded as the paths they are: the core makes every path absolute
// ("/--help") before restic sees it.
func TestAttack22DashNamesAreNotOptions(t *testing.T) {
	b := newBrowseEnv(t, core.BackupReadLimits{})
	ctx := context.Background()
	for p, c := range map[string]string{"--help/-n": "dash n\n", "--no-lock.php": "<?php // no lock\n", `back\slash.txt`: "bs\n"} {
		if err := os.MkdirAll(filepath.Join(b.root, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(b.root, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.svc.RequestScan(ctx, b.env.partner, b.domain, core.ScanBackup); err != nil {
		t.Fatal(err)
	}
	if ran, err := b.runner.RunOnce(ctx); err != nil || !ran {
		t.Fatalf("RunOnce: %v %v", ran, err)
	}
	bs, err := b.svc.Backups(ctx, b.jane, b.domain, 0)
	if err != nil || len(bs) != 2 {
		t.Fatalf("backups: %+v %v", bs, err)
	}
	snap := bs[0].Snapshot
	f, err := b.svc.BrowseBackup(ctx, b.jane, b.domain, snap, "--help")
	if err != nil || len(f.Entries) != 1 || f.Entries[0].Path != "--help/-n" {
		t.Fatalf("browse --help: %+v %v", f, err)
	}
	for p, want := range map[string]map[string]string{
		"--no-lock.php":  {"--no-lock.php": "<?php // no lock\n"},
		"--help":         {"--help/-n": "dash n\n"},
		`back\slash.txt`: {`back\slash.txt`: "bs\n"},
	} {
		data, _, err := b.download(b.jane, snap, p)
		if err != nil {
			t.Fatalf("download %q: %v", p, err)
		}
		got := untar(t, data)
		if len(got) != len(want) {
			t.Fatalf("download %q: %d files", p, len(got))
		}
		for n, c := range want {
			if string(got[n]) != c {
				t.Errorf("download %q: %s is %q", p, n, got[n])
			}
		}
	}
}

// TestAttack22MovedBackupRootHiddenFromCustomer: when the operator's
// --backup-root no longer holds a website's local repository (the node
// restarted with other roots), the customer browsing or downloading its
// backups is told the backups cannot be read, not the operator's folders
// (the core told the customer "not inside the allowed roots
// (/srv/...)", redacting only the repository itself). The partner still
// reads the reason.
func TestAttack22MovedBackupRootHiddenFromCustomer(t *testing.T) {
	if _, err := exec.LookPath("restic"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: restic is not installed")
		}
		t.Skip("restic is not installed (Debian package restic)")
	}
	ctx := context.Background()
	db := storetest.SQLite(t)
	box, err := secret.NewBox(make([]byte, secret.KeySize), nil)
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	www, backups := filepath.Join(base, "www"), filepath.Join(base, "backups")
	now := func() time.Time { return t0 }
	svc := core.NewService(db, box, core.Config{PublicURL: "https://palisade.test", ScanRoots: []string{www}, BackupRoots: []string{backups}}, core.WithClock(now))
	if _, err := svc.SeedPlans(ctx); err != nil {
		t.Fatal(err)
	}
	_, key, err := svc.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "host"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Authenticate(ctx, key, netip.MustParseAddr("127.0.0.1"), core.ProtocolREST)
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := svc.CreateSubaccount(ctx, p, core.SubaccountCreate{Email: "jane@example.com"}, core.Idem{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.CreateWebsite(ctx, p, core.WebsiteCreate{Domain: "shop.example.com", SubaccountID: s.ID}, core.Idem{}); err != nil {
		t.Fatal(err)
	}
	jane := core.Caller{Role: core.RoleSubaccount, PartnerID: p.PartnerID, SubaccountID: s.ID, Protocol: core.ProtocolSSO, Actor: "jane"}
	root := filepath.Join(www, "shop")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "index.php"), []byte("<?php\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetWebsiteScanSettings(ctx, p, "shop.example.com", core.ScanSettings{
		Files:  core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "local", Path: root}},
		Backup: core.BackupScanSettings{Enabled: true, Repository: filepath.Join(backups, "shop"), RepositoryPassword: "correct horse"},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RequestScan(ctx, p, "shop.example.com", core.ScanBackup); err != nil {
		t.Fatal(err)
	}
	runner := &scanrun.Runner{Service: svc, Node: "node-1", Dir: filepath.Join(base, "runner"), Lease: time.Minute, Now: now}
	if ran, err := runner.RunOnce(ctx); err != nil || !ran {
		t.Fatalf("RunOnce: %v %v", ran, err)
	}
	bs, err := svc.Backups(ctx, jane, "shop.example.com", 0)
	if err != nil || len(bs) != 1 {
		t.Fatalf("backups: %+v %v", bs, err)
	}

	// The node restarts with other backup roots.
	const moved = "/srv/operator-private/restic-roots"
	svc2 := core.NewService(db, box, core.Config{PublicURL: "https://palisade.test", ScanRoots: []string{www}, BackupRoots: []string{"host=" + moved}}, core.WithClock(now))
	svc2.SetBackupReader(&scanrun.Reader{Dir: runner.Dir}, core.BackupReadLimits{})
	_, err = svc2.BrowseBackup(ctx, p, "shop.example.com", bs[0].ShortID, "")
	if core.ErrorCode(err) != core.EPRECONDITION || !strings.Contains(core.ErrorMessage(err), moved) {
		t.Fatalf("partner: %v (want precondition naming the roots)", err)
	}
	_, berr := svc2.BrowseBackup(ctx, jane, "shop.example.com", bs[0].ShortID, "")
	derr := svc2.DownloadBackup(ctx, jane, "shop.example.com", core.BackupDownload{Snapshot: bs[0].ShortID, Path: "index.php"}, func(string) io.Writer { return io.Discard })
	for _, err := range []error{berr, derr} {
		if core.ErrorCode(err) != core.EPRECONDITION {
			t.Fatalf("customer: %v (want precondition)", err)
		}
		if msg := core.ErrorMessage(err); strings.Contains(msg, moved) || strings.Contains(msg, "--backup-root") || strings.Contains(msg, backups) {
			t.Errorf("the customer is told the operator's folders: %s", msg)
		}
	}
}

// TestAttack22SFTPRepositoryHiddenFromCustomer: a customer browsing or
// downloading a backup whose sftp: repository cannot be reached is told
// so without the partner's backup server, its account or its folder
// (SCANNING.md: the customer's errors have the hosts and the repository
// hidden). Only the whole location and s3: hosts were hidden: the
// netguard refusal and ssh's errors name the host alone.
func TestAttack22SFTPRepositoryHiddenFromCustomer(t *testing.T) {
	b := newBrowseEnv(t, core.BackupReadLimits{})
	ctx := context.Background()
	_, clientKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(clientKey, "")
	if err != nil {
		t.Fatal(err)
	}
	hostPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hk, err := ssh.NewPublicKey(hostPub)
	if err != nil {
		t.Fatal(err)
	}
	st, err := b.svc.WebsiteScanSettings(ctx, b.env.partner, b.domain)
	if err != nil {
		t.Fatal(err)
	}
	// The backup server's name: localhost, so that the test needs no DNS
	// (the partner's network policy does not permit it).
	st.Backup.Repository = "sftp://acme-backups@localhost:2222/srv/restic/acme-store"
	st.Backup.RepositoryPassword = "correct horse"
	st.Backup.RepositoryPrivateKey = string(pem.EncodeToMemory(block))
	st.Backup.RepositoryHostKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hk)))
	if _, err := b.svc.SetWebsiteScanSettings(ctx, b.env.partner, b.domain, st); err != nil {
		t.Fatal(err)
	}
	_, perr := b.svc.BrowseBackup(ctx, b.env.partner, b.domain, b.backup.ShortID, "")
	if perr == nil || !strings.Contains(core.ErrorMessage(perr), "localhost") {
		t.Fatalf("partner: %v (want restic's reason, naming the server)", perr)
	}
	_, cerr := b.svc.BrowseBackup(ctx, b.jane, b.domain, b.backup.ShortID, "")
	_, _, derr := b.download(b.jane, b.backup.ShortID, "index.php")
	for _, err := range []error{cerr, derr} {
		if err == nil {
			t.Fatal("an unreachable repository was read")
		}
		msg := core.ErrorMessage(err)
		for _, secret := range []string{"localhost", "acme-backups", "/srv/restic/acme-store"} {
			if strings.Contains(msg, secret) {
				t.Errorf("the customer is told %q: %s", secret, msg)
			}
		}
	}
}
