package client_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/palisadehq/palisade/client"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/scanrun"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestBrowseAndDownloadBackup: BrowseBackup and DownloadBackup against a
// real server and a real restic repository written by a real backup job:
// the folder's entries, a file's bytes through the .tar.gz, and the
// server's refusals as the client's sentinels.
func TestBrowseAndDownloadBackup(t *testing.T) {
	if _, err := exec.LookPath("restic"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: restic is not installed")
		}
		t.Skip("restic is not installed (Debian package restic)")
	}
	base := t.TempDir()
	www, backups := filepath.Join(base, "www"), filepath.Join(base, "backups")
	pal := testenv.New(t, func(c *core.Config) { c.ScanRoots = []string{www}; c.BackupRoots = []string{backups} })
	ctx := context.Background()
	c := client.New(pal.URL, pal.PartnerKey)
	const d = "shop.example.com"
	pal.Website(t, d, engine.Settings{})
	root := filepath.Join(www, "shop")
	if err := os.MkdirAll(filepath.Join(root, "wp-content"), 0o755); err != nil {
		t.Fatal(err)
	}
	want := []byte("<?php // the original, byte for byte \x00\xff\n")
	if err := os.WriteFile(filepath.Join(root, "wp-content", "a.php"), want, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutScanner(ctx, d, client.ScanSettings{
		Files:  client.FileScanSettings{Enabled: true, Source: client.FileSource{Kind: "local", Path: root}},
		Backup: client.BackupScanSettings{Enabled: true, Repository: filepath.Join(backups, "shop"), RepositoryPassword: "correct horse"},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StartScan(ctx, d, "backup"); err != nil {
		t.Fatal(err)
	}
	runner := &scanrun.Runner{Service: pal.Service, Node: "node-1", Dir: filepath.Join(base, "runner"), Lease: time.Minute, Now: pal.Service.Now}
	if ran, err := runner.RunOnce(ctx); err != nil || !ran {
		t.Fatalf("RunOnce: %v %v", ran, err)
	}
	pal.Service.SetBackupReader(&scanrun.Reader{Dir: runner.Dir}, core.BackupReadLimits{})
	bs, err := c.Backups(ctx, d, 0)
	if err != nil || len(bs) != 1 {
		t.Fatalf("backups: %+v %v", bs, err)
	}

	f, err := c.BrowseBackup(ctx, d, bs[0].ShortID, "wp-content")
	if err != nil || f.Path != "wp-content" || len(f.Entries) != 1 || f.Entries[0].Path != "wp-content/a.php" || f.Entries[0].Size != int64(len(want)) ||
		f.Entries[0].Mode != "-rw-r-----" || f.Snapshot != bs[0].Snapshot {
		t.Fatalf("browse: %+v %v", f, err)
	}
	var buf bytes.Buffer
	n, err := c.DownloadBackup(ctx, d, bs[0].Snapshot, "wp-content/a.php", &buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("download: %d %v", n, err)
	}
	gz, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	if h, err := tr.Next(); err != nil || h.Name != "wp-content/a.php" {
		t.Fatalf("tar: %+v %v", h, err)
	}
	if got, _ := io.ReadAll(tr); !bytes.Equal(got, want) {
		t.Fatalf("a.php: %q", got)
	}

	if _, err := c.BrowseBackup(ctx, d, bs[0].ShortID, "../etc"); !errors.Is(err, client.ErrInvalid) {
		t.Fatalf("a path leaving the backup: %v", err)
	}
	if _, err := c.DownloadBackup(ctx, d, bs[0].ShortID, "wp-content/none.php", io.Discard); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("a file not in the backup: %v", err)
	}
	if _, err := c.DownloadBackup(ctx, "nobody.example.com", bs[0].ShortID, "", io.Discard); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("unknown website: %v", err)
	}
}
