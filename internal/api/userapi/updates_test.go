package userapi_test

import (
	"context"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
)

// TestUpdateRoute: the customer asks for an update of a component the
// last patch check listed; refusals are the User API's error shape with
// the core's reasons (a bad slug, an unlisted component, sftp files, one
// update at a time).
func TestUpdateRoute(t *testing.T) {
	e := newEnv(t, func(c *core.Config) {
		c.ScanRoots = []string{"/var/www"}
		c.BackupRoots = []string{"/var/backups"}
		c.PatchUpdateCommand = "wp --path={root} {type} update {slug}"
	})
	ctx := context.Background()
	jane := basic("jane@example.com", janePW)
	const path = "/api/websites/shop.example.com/updates"
	seedScan(t, e, "shop.example.com") // files on sftp
	do := func(body string, status int, has ...string) {
		t.Helper()
		a := e.do(t, "POST", path, jane, body)
		if a.status != status {
			t.Fatalf("%s: %d %s; want %d", body, a.status, a.raw, status)
		}
		for _, h := range has {
			if !strings.Contains(a.raw, h) {
				t.Fatalf("%s: %s lacks %q", body, a.raw, h)
			}
		}
		if status != 200 && !strings.HasPrefix(a.raw, `{"error":[`) {
			t.Fatalf("not the User API's error shape: %s", a.raw)
		}
	}
	do(`{"type":"plugin","slug":"example-forms"}`, 412, "SFTP")

	st := core.ScanSettings{Files: core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "local", Path: "/var/www/shop", Password: "-"}},
		Patch:  core.PatchScanSettings{Enabled: true},
		Backup: core.BackupScanSettings{Enabled: true, Repository: "/var/backups/shop", RepositoryPassword: "repo-s3cret"}}
	if _, err := e.Service.SetWebsiteScanSettings(ctx, e.Caller, "shop.example.com", st); err != nil {
		t.Fatal(err)
	}
	do(`{"type":"plugin","slug":"example-forms"}`, 404, "did not report")
	if _, err := e.Service.RequestScan(ctx, e.Caller, "shop.example.com", core.ScanPatch); err != nil {
		t.Fatal(err)
	}
	runScanJob(t, e.Service, core.ScanPatch, nil, map[string]any{"installs": []map[string]any{{"cms": "wordpress", "root": "",
		"components": []map[string]any{{"type": "plugin", "slug": "example-forms", "version": "2.3.1"}}}}})
	do(`{"type":"plugin","slug":"--help"}`, 400, "slug")
	do(`{"type":"plugin","slug":"a;rm -rf /"}`, 400, "slug")
	do(`{"type":"plugin","slug":"example-forms","cmd":"id"}`, 400)
	do(`{"type":"plugin","slug":"example-forms"}`, 200, `"kind":"update"`, `"state":"queued"`)
	do(`{"type":"plugin","slug":"example-forms"}`, 409)
	if a := e.do(t, "GET", "/api/websites/shop.example.com/scans?kind=update", jane, ""); a.status != 200 || !strings.Contains(a.raw, `"kind":"update"`) {
		t.Fatalf("jobs: %d %s", a.status, a.raw)
	}
}
