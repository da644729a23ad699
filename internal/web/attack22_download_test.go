package web_test

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/scanrun"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestAttack22DownloadRefusalOffersNoRestore: a download refused before
// it starts shows the Backups page with the refusal and the folder being
// browsed, and nothing else: the download form's snapshot and path are
// not read as a restore being chosen (the page offered "Restore a
// backup" with the downloaded path filled in, two clicks from
// overwriting the website's files with it). And a folder whose name
// starts or ends with a space is browsed (the page trimmed spaces from
// dir: 404, or another folder).
func TestAttack22DownloadRefusalOffersNoRestore(t *testing.T) {
	if _, err := exec.LookPath("restic"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: restic is not installed")
		}
		t.Skip("restic is not installed (Debian package restic)")
	}
	base := t.TempDir()
	www, backups := filepath.Join(base, "www"), filepath.Join(base, "backups")
	e := testenv.New(t, func(c *core.Config) { c.ScanRoots, c.BackupRoots = []string{www}, []string{backups} })
	ctx := context.Background()
	jane, _, err := e.Service.CreateSubaccount(ctx, e.Caller, core.SubaccountCreate{Email: "jane@example.com"}, core.Idem{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Service.CreateWebsite(ctx, e.Caller, core.WebsiteCreate{Domain: "shop.example.com", SubaccountID: jane.ID}, core.Idem{}); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(www, "shop")
	if err := os.MkdirAll(filepath.Join(root, "wp-content", "uploads"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "wp-content", "uploads", "a.txt"), []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A folder whose name starts with a space (and one that ends with one).
	for _, d := range []string{" notes", "wp-content/old "} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, d, "in-"+strings.TrimSpace(filepath.Base(d))+".txt"), []byte("n\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Service.SetWebsiteScanSettings(ctx, e.Caller, "shop.example.com", core.ScanSettings{
		Files:  core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "local", Path: root}},
		Backup: core.BackupScanSettings{Enabled: true, Repository: filepath.Join(backups, "shop"), RepositoryPassword: "correct horse"},
	}); err != nil {
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
	snap := bs[0].Snapshot

	br := newBrowser(t, e.URL)
	code, page, _ := br.get("/en/website/shop.example.com/backups?api-key=" + jane.APIKey)
	if code != 200 {
		t.Fatalf("backups page: %d", code)
	}
	code, page, _ = br.get("/en/website/shop.example.com/backups?browse=" + snap + "&dir=wp-content")
	if code != 200 || strings.Contains(page, `id="restore"`) {
		t.Fatalf("browse: %d", code)
	}
	token := csrf(t, page)
	// The form of a folder's row, as the page sends it, for a path the
	// core refuses (a file name the page never shows: ../).
	for _, p := range []string{"wp-content/../../etc", "wp-content/uploads/missing"} {
		code, page = br.post("/en/website/shop.example.com/backups/download", url.Values{"csrf": {token}, "snapshot": {snap}, "path": {p},
			"browse": {snap}, "dir": {"wp-content"}})
		if code < 400 || !strings.Contains(page, `id="problem"`) || !strings.Contains(page, `id="browse"`) {
			t.Fatalf("refused download of %q: %d (problem shown: %v, folder kept: %v)", p, code, strings.Contains(page, `id="problem"`), strings.Contains(page, `id="browse"`))
		}
		if strings.Contains(page, `id="restore"`) || strings.Contains(page, `/backups/restore"`) {
			t.Errorf("a refused download of %q offers to restore it into the website", p)
		}
	}

	// Folders whose names start or end with a space are browsed as
	// named (the page trimmed spaces from dir and browsed another path).
	for dir, want := range map[string]string{" notes": "in-notes.txt", "wp-content/old ": "in-old.txt"} {
		code, page, _ = br.get("/en/website/shop.example.com/backups?browse=" + snap + "&dir=" + url.QueryEscape(dir))
		if code != 200 || !strings.Contains(page, want) {
			t.Errorf("browse %q: %d, %s listed: %v", dir, code, want, strings.Contains(page, want))
		}
	}
}
