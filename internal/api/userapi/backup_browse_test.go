package userapi_test

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/palisadehq/palisade/internal/api/userapi"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/scanrun"
)

// TestBackupBrowseAndDownloadUserAPI: the customer browses and downloads
// its backup (taken by a real backup job into a real restic repository)
// through the User API: the folder in the usual envelope, the file's
// bytes in a .tar.gz outside it, the request logged without the archive;
// a path leaving the backup is 400 and another customer gets 404.
func TestBackupBrowseAndDownloadUserAPI(t *testing.T) {
	if _, err := exec.LookPath("restic"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: restic is not installed")
		}
		t.Skip("restic is not installed (Debian package restic)")
	}
	base := t.TempDir()
	www, backups := filepath.Join(base, "www"), filepath.Join(base, "backups")
	e := newEnv(t, func(c *core.Config) { c.ScanRoots, c.BackupRoots = []string{www}, []string{backups} })
	ctx := context.Background()
	root := filepath.Join(www, "shop")
	if err := os.MkdirAll(filepath.Join(root, "wp-content"), 0o755); err != nil {
		t.Fatal(err)
	}
	const content = "<?php // jane's own, byte for byte\n"
	if err := os.WriteFile(filepath.Join(root, "wp-content", "a.php"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.SetWebsiteScanSettings(ctx, e.Caller, "shop.example.com", core.ScanSettings{
		Files:  core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "local", Path: root}},
		Backup: core.BackupScanSettings{Enabled: true, Repository: filepath.Join(backups, "shop"), RepositoryPassword: "correct horse"},
	}); err != nil {
		t.Fatal(err)
	}
	cfg := core.DefaultUserAPIConfig()
	cfg.Log = true
	if _, err := e.Service.SetUserAPIConfig(ctx, e.Caller, cfg, RoutePaths()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.RequestScan(ctx, e.Caller, "shop.example.com", core.ScanBackup); err != nil {
		t.Fatal(err)
	}
	runner := &scanrun.Runner{Service: e.Service, Node: "node-1", Dir: filepath.Join(base, "runner"), Lease: time.Minute, Now: e.Service.Now}
	if ran, err := runner.RunOnce(ctx); err != nil || !ran {
		t.Fatalf("RunOnce: %v %v", ran, err)
	}
	e.Service.SetBackupReader(&scanrun.Reader{Dir: runner.Dir}, core.BackupReadLimits{})
	bs, err := e.Service.Backups(ctx, e.Caller, "shop.example.com", 0)
	if err != nil || len(bs) != 1 {
		t.Fatalf("backups: %+v %v", bs, err)
	}
	jane, bob := basic("jane@example.com", janePW), basic("bob@example.org", bobPW)
	b := "/api/websites/shop.example.com/backups/" + bs[0].ShortID

	if a := e.do(t, "GET", b+"/files?path=wp-content", jane, ""); a.status != 200 || !strings.Contains(a.raw, `"success":true`) ||
		!strings.Contains(a.raw, `"path":"wp-content/a.php"`) || strings.Contains(a.raw, root) {
		t.Fatalf("browse: %d %s", a.status, a.raw)
	}
	req, _ := http.NewRequest("GET", e.url+b+"/download?path=wp-content/a.php", nil)
	req.Header.Set("Authorization", jane)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/gzip" {
		t.Fatalf("download: %d %v", resp.StatusCode, resp.Header)
	}
	gz, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	if h, err := tr.Next(); err != nil || h.Name != "wp-content/a.php" {
		t.Fatalf("tar: %+v %v", h, err)
	}
	if got, _ := io.ReadAll(tr); string(got) != content {
		t.Fatalf("a.php: %q", got)
	}
	logs, err := e.Service.UserAPILog(ctx, e.Caller, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range logs {
		if l.Route == "backups.download" && l.Status == 200 && strings.Contains(l.Response, "a download") {
			found = true
		}
	}
	if !found {
		t.Errorf("the download is not in the request log as one: %+v", logs)
	}

	if a := e.do(t, "GET", b+"/download?path=../../etc/passwd", jane, ""); a.status != 400 || !strings.Contains(a.raw, `"success":false`) {
		t.Fatalf("a path leaving the backup: %d %s", a.status, a.raw)
	}
	for _, p := range []string{b + "/files", b + "/download?path=wp-content/a.php"} {
		if a := e.do(t, "GET", p, bob, ""); a.status != 404 || strings.Contains(a.raw, "byte for byte") {
			t.Fatalf("bob: %s: %d %s", p, a.status, a.raw)
		}
	}
}
