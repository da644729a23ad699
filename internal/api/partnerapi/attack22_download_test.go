package partnerapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/scanrun"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// resticChildren lists the restic processes this test process started
// that are still running.
func resticChildren(t *testing.T) []string {
	t.Helper()
	ps, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []string
	me := strconv.Itoa(os.Getpid())
	for _, p := range ps {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || !strings.Contains(s[:i], "(restic") {
			continue
		}
		if f := strings.Fields(s[i+1:]); len(f) > 1 && f[1] == me && f[0] != "Z" {
			out = append(out, p)
		}
	}
	return out
}

// TestAttack22DownloadClientGoneFreesItsSlot: over HTTP, a client that
// reads the first bytes of a large download and hangs up: restic stops,
// no restic process is left running, nothing is left locked in the
// repository, and the node's only backup read slot is free again for the
// next browse.
func TestAttack22DownloadClientGoneFreesItsSlot(t *testing.T) {
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
	if err := os.MkdirAll(filepath.Join(root, "wp-content", "uploads"), 0o755); err != nil {
		t.Fatal(err)
	}
	// 24 MiB gzip cannot shrink: a download that takes a while.
	content := make([]byte, 0, 24<<20)
	for h := sha256.Sum256([]byte("noise")); len(content) < 24<<20; h = sha256.Sum256(h[:]) {
		content = append(content, h[:]...)
	}
	if err := os.WriteFile(filepath.Join(root, "wp-content", "uploads", "big.bin"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(backups, "shop")
	set := `{"settings":{"files":{"enabled":true,"source":{"kind":"local","path":"` + root + `"}},"backup":{"enabled":true,"repository":"` +
		repo + `","repository_password":"correct horse"}}}`
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
	e.svc.SetBackupReader(&scanrun.Reader{Dir: runner.Dir}, core.BackupReadLimits{Concurrent: 1})
	var list struct {
		Data []core.Backup `json:"data"`
	}
	r := e.do(t, call{method: "GET", path: "/v1/websites/shop.example.com/backups", key: e.keyA})
	if err := json.Unmarshal([]byte(r.body), &list); err != nil || len(list.Data) != 1 {
		t.Fatalf("backups: %+v", list)
	}
	b := "/v1/websites/shop.example.com/backups/" + list.Data[0].ShortID

	for round := 0; round < 3; round++ {
		req, _ := http.NewRequest("GET", e.url+b+"/download?path=wp-content", nil)
		req.Header.Set("Authorization", "Bearer "+e.keyA)
		tr := &http.Transport{}
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("download: %d", resp.StatusCode)
		}
		if _, err := io.ReadFull(resp.Body, make([]byte, 64<<10)); err != nil {
			t.Fatal(err)
		}
		// While it runs, the node's one slot is taken.
		if r := e.do(t, call{method: "GET", path: b + "/files", key: e.keyA}); r.status != 429 {
			t.Fatalf("browse during the download: %d %s", r.status, r.body)
		}
		resp.Body.Close()
		tr.CloseIdleConnections()
		deadline := time.Now().Add(15 * time.Second)
		for {
			r := e.do(t, call{method: "GET", path: b + "/files", key: e.keyA})
			if r.status == 200 {
				break
			}
			if r.status != 429 || time.Now().After(deadline) {
				t.Fatalf("round %d: browse after the client hung up: %d %s", round, r.status, r.body)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if ps := resticChildren(t); len(ps) > 0 {
		t.Fatalf("restic still running: %v", ps)
	}
	if es, _ := os.ReadDir(filepath.Join(repo, "locks")); len(es) > 0 {
		t.Fatalf("%d lock(s) left in the repository", len(es))
	}
}
