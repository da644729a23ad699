package partnerapi_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/scanrun"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestBackupBrowseDownloadREST: GET .../backups/{snapshot}/files and
// .../download over HTTP against a real restic repository written by a
// real backup job: the listing, a file's bytes in the .tar.gz with its
// name in Content-Disposition, 400 for a path leaving the snapshot, 404
// for another partner and for an unknown snapshot, and a download over
// the size cap cut after its first bytes (a broken body, not a short
// archive).
func TestBackupBrowseDownloadREST(t *testing.T) {
	if _, err := exec.LookPath("restic"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: restic is not installed")
		}
		t.Skip("restic is not installed (Debian package restic)")
	}
	base := t.TempDir()
	www, backups := filepath.Join(base, "www"), filepath.Join(base, "backups")
	e := newEnv(t, storetest.SQLite(t), func(c *core.Config) { c.ScanRoots = []string{www}; c.BackupRoots = []string{backups} })
	ctx := context.Background()
	if r := e.do(t, call{method: "POST", path: "/v1/websites", key: e.keyA, body: `{"domain":"shop.example.com"}`}); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	root := filepath.Join(www, "shop")
	// 64 KiB that gzip cannot shrink (a SHA-256 chain): over the cap.
	var content []byte
	for h := sha256.Sum256([]byte("noise")); len(content) < 64<<10; h = sha256.Sum256(h[:]) {
		content = append(content, h[:]...)
	}
	if err := os.MkdirAll(filepath.Join(root, "wp-content", "uploads"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "wp-content", "uploads", "big.php"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "index.php"), []byte("<?php // index\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	set := `{"settings":{"files":{"enabled":true,"source":{"kind":"local","path":"` + root + `"}},"backup":{"enabled":true,"repository":"` +
		filepath.Join(backups, "shop") + `","repository_password":"correct horse"}}}`
	if r := e.do(t, call{method: "PUT", path: "/v1/websites/shop.example.com/scanner", key: e.keyA, body: set}); r.status != 200 {
		t.Fatalf("settings: %d %s", r.status, r.body)
	}
	if r := e.do(t, call{method: "POST", path: "/v1/websites/shop.example.com/scans", key: e.keyA, body: `{"kind":"backup"}`}); r.status != 202 {
		t.Fatalf("backup: %d %s", r.status, r.body)
	}
	runner := &scanrun.Runner{Service: e.svc, Node: "node-1", Dir: filepath.Join(base, "runner"), Lease: time.Minute, Now: e.svc.Now}
	if ran, err := runner.RunOnce(ctx); err != nil || !ran {
		t.Fatalf("RunOnce: %v %v", ran, err)
	}
	e.svc.SetBackupReader(&scanrun.Reader{Dir: runner.Dir}, core.BackupReadLimits{MaxDownload: 4 << 10})
	var list struct {
		Data []core.Backup `json:"data"`
	}
	r := e.do(t, call{method: "GET", path: "/v1/websites/shop.example.com/backups", key: e.keyA})
	if err := json.Unmarshal([]byte(r.body), &list); err != nil || len(list.Data) != 1 {
		t.Fatalf("backups: %+v", list)
	}
	b := "/v1/websites/shop.example.com/backups/" + list.Data[0].ShortID

	r = e.do(t, call{method: "GET", path: b + "/files?path=wp-content/uploads", key: e.keyA})
	if r.status != 200 || !strings.Contains(r.body, `"path":"wp-content/uploads/big.php"`) || !strings.Contains(r.body, `"type":"file"`) || strings.Contains(r.body, root) {
		t.Fatalf("browse: %d %s", r.status, r.body)
	}
	for _, c := range []struct {
		path   string
		key    string
		status int
	}{
		{b + "/files?path=../../etc", e.keyA, 400},
		{b + "/download?path=/etc/passwd", e.keyA, 400},
		{b + "/download?path=wp-content/../../etc/passwd", e.keyA, 400},
		{b + "/files", e.keyB, 404},
		{b + "/download?path=index.php", e.keyB, 404},
		{"/v1/websites/shop.example.com/backups/0123abcd/files", e.keyA, 404},
		{b + "/download?path=nothing.php", e.keyA, 404},
		{b + "/download", e.keyA, 400}, // the whole backup is over the 4 KiB cap
	} {
		if r := e.do(t, call{method: "GET", path: c.path, key: c.key}); r.status != c.status || !strings.Contains(r.body, `"status":"error"`) {
			t.Errorf("%s: %d %s, want %d", c.path, r.status, r.body, c.status)
		}
	}

	// index.php: the archive, named, holding the file's bytes.
	resp := e.getBackup(t, b+"/download?path=index.php")
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/gzip" ||
		resp.Header.Get("Content-Disposition") != `attachment; filename=shop.example.com-`+list.Data[0].ShortID+`-index.php.tar.gz` {
		t.Fatalf("download: %v %d %v", err, resp.StatusCode, resp.Header)
	}
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	h, err := tr.Next()
	if err != nil || h.Name != "index.php" {
		t.Fatalf("tar: %+v %v", h, err)
	}
	if got, _ := io.ReadAll(tr); string(got) != "<?php // index\n" {
		t.Fatalf("index.php: %q", got)
	}

	// wp-content holds big.php, over the cap: the response starts, then
	// is cut, and the client sees an error, not the end of a body.
	resp = e.getBackup(t, b+"/download?path=wp-content")
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || err == nil {
		t.Fatalf("a download over the cap: %d, read error %v", resp.StatusCode, err)
	}
}

// getBackup GETs path with partner A's key.
func (e *env) getBackup(t *testing.T, path string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", e.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.keyA)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
