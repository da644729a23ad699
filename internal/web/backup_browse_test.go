package web_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
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

// TestBackupBrowseAndDownloadPage: on the Backups page a customer browses
// a real backup (taken by a real backup job into a real restic
// repository) folder by folder, in their language, and downloads a file
// (its bytes the original's) and a folder as .tar.gz; a path leaving the
// backup is refused on the page; another customer's session gets the
// dashboard's 404 for the website and no download.
func TestBackupBrowseAndDownloadPage(t *testing.T) {
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
	bob, _, err := e.Service.CreateSubaccount(ctx, e.Caller, core.SubaccountCreate{Email: "bob@example.com"}, core.Idem{})
	if err != nil {
		t.Fatal(err)
	}
	for d, id := range map[string]int64{"shop.example.com": jane.ID, "bob.example.org": bob.ID} {
		if _, _, err := e.Service.CreateWebsite(ctx, e.Caller, core.WebsiteCreate{Domain: d, SubaccountID: id}, core.Idem{}); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(www, "shop")
	files := map[string]string{"index.php": "<?php // home\n", "wp-content/uploads/2026/cat.jpg": "\xff\xd8\xff\xe0 not really a cat\x00", "wp-content/themes/t/style.css": "body{}\n"}
	for p, c := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
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
	code, page, _ := br.get("/de/website/shop.example.com/backups?api-key=" + jane.APIKey)
	if code != 200 || !strings.Contains(page, "Dateien ansehen") || !strings.Contains(page, "backups?browse="+snap) {
		t.Fatalf("backups page: %d", code)
	}
	code, page, _ = br.get("/de/website/shop.example.com/backups?browse=" + snap + "&dir=wp-content/uploads")
	if code != 200 || !strings.Contains(page, `id="browse"`) || !strings.Contains(page, "Einen Ordner höher") ||
		!strings.Contains(page, "dir=wp-content%2fuploads%2f2026") || strings.Contains(page, root) {
		t.Fatalf("browse uploads: %d %s", code, page)
	}
	token := csrf(t, page)

	// A file: its bytes, in a .tar.gz named after the website and backup.
	resp, err := br.c.PostForm(e.URL+"/de/website/shop.example.com/backups/download", url.Values{"csrf": {token}, "snapshot": {snap}, "path": {"wp-content/uploads/2026/cat.jpg"}})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/gzip" ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "shop.example.com-"+bs[0].ShortID+"-cat.jpg.tar.gz") {
		t.Fatalf("download: %d %v", resp.StatusCode, resp.Header)
	}
	got := untarAll(t, data)
	if len(got) != 1 || got["wp-content/uploads/2026/cat.jpg"] != files["wp-content/uploads/2026/cat.jpg"] {
		t.Fatalf("file download: %q", got)
	}
	// A folder.
	resp, err = br.c.PostForm(e.URL+"/de/website/shop.example.com/backups/download", url.Values{"csrf": {token}, "snapshot": {snap}, "path": {"wp-content"}})
	if err != nil {
		t.Fatal(err)
	}
	data, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if got = untarAll(t, data); len(got) != 2 || got["wp-content/themes/t/style.css"] != "body{}\n" {
		t.Fatalf("folder download: %q", got)
	}
	// Leaving the backup: refused on the page, in the page's shape.
	code, page = br.post("/de/website/shop.example.com/backups/download", url.Values{"csrf": {token}, "snapshot": {snap}, "path": {"../../etc/passwd"}})
	if code != 422 || !strings.Contains(page, `id="problem"`) {
		t.Fatalf("download ../../etc/passwd: %d", code)
	}
	// Without the form's token: refused, nothing sent.
	code, page = br.post("/de/website/shop.example.com/backups/download", url.Values{"snapshot": {snap}, "path": {"index.php"}})
	if code != 403 || strings.Contains(page, "<?php") {
		t.Fatalf("download without a CSRF token: %d", code)
	}

	// Bob: Jane's website is not his.
	bb := newBrowser(t, e.URL)
	code, page, _ = bb.get("/en/website/bob.example.org/backups?api-key=" + bob.APIKey)
	if code != 200 {
		t.Fatalf("bob's own page: %d", code)
	}
	btoken := csrf(t, page)
	if code, _, _ := bb.get("/en/website/shop.example.com/backups?browse=" + snap); code != 404 {
		t.Fatalf("bob browses jane's backup: %d", code)
	}
	code, page = bb.post("/en/website/shop.example.com/backups/download", url.Values{"csrf": {btoken}, "snapshot": {snap}, "path": {"index.php"}})
	if code != 404 || strings.Contains(page, "<?php") {
		t.Fatalf("bob downloads from jane's backup: %d", code)
	}
	// Nor through his own website.
	code, page = bb.post("/en/website/bob.example.org/backups/download", url.Values{"csrf": {btoken}, "snapshot": {snap}, "path": {"index.php"}})
	if code < 400 || strings.Contains(page, "<?php") {
		t.Fatalf("bob downloads jane's backup through his website: %d", code)
	}
}

// untarAll reads a .tar.gz's regular files.
func untarAll(t *testing.T, data []byte) map[string]string {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	tr := tar.NewReader(gz)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("not a valid tar: %v", err)
		}
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			out[h.Name] = string(b)
		}
	}
}
