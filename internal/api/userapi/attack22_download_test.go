package userapi_test

import (
	"context"
	"crypto/sha256"
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

// TestAttack22CutDownloadIsLogged: with the request log on ("each call
// is recorded", USER_API.md), a download cut after its first bytes (here
// by the size cap: the customer still received up to the cap) is recorded
// too. It was not: the handler aborted the response before ServeHTTP
// wrote the log entry. The client still sees a broken download.
func TestAttack22CutDownloadIsLogged(t *testing.T) {
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
	// 64 KiB gzip cannot shrink: over a 16 KiB cap.
	var noise []byte
	for h := sha256.Sum256([]byte("noise")); len(noise) < 64<<10; h = sha256.Sum256(h[:]) {
		noise = append(noise, h[:]...)
	}
	if err := os.WriteFile(filepath.Join(root, "wp-content", "noise.bin"), noise, 0o644); err != nil {
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
	e.Service.SetBackupReader(&scanrun.Reader{Dir: runner.Dir}, core.BackupReadLimits{MaxDownload: 16 << 10})
	bs, err := e.Service.Backups(ctx, e.Caller, "shop.example.com", 0)
	if err != nil || len(bs) != 1 {
		t.Fatalf("backups: %+v %v", bs, err)
	}
	req, _ := http.NewRequest("GET", e.url+"/api/websites/shop.example.com/backups/"+bs[0].ShortID+"/download?path=wp-content", nil)
	req.Header.Set("Authorization", basic("jane@example.com", janePW))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || rerr == nil || len(data) == 0 || len(data) > 16<<10 {
		t.Fatalf("download over the cap: %d, %d bytes, read error %v (want a broken download)", resp.StatusCode, len(data), rerr)
	}
	logs, err := e.Service.UserAPILog(ctx, e.Caller, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range logs {
		if l.Route == "backups.download" && strings.Contains(l.Response, "a download") {
			found = true
		}
	}
	if !found {
		t.Errorf("the cut download is not in the request log: %+v", logs)
	}
}
