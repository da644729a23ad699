package userapi_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
)

// runScanJob plays a node: it claims the next job, which must be of kind,
// records found and finishes it with summary.
func runScanJob(t testing.TB, svc *core.Service, kind core.ScanKind, found []core.Finding, summary any) {
	t.Helper()
	ctx := context.Background()
	j, ok, err := svc.ClaimScanJob(ctx, "node-1", time.Minute)
	if err != nil || !ok || j.Kind != kind {
		t.Fatalf("claim a %s job: %+v %v %v", kind, j, ok, err)
	}
	if found != nil {
		if _, _, err := svc.RecordFindings(ctx, j, found, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.FinishScanJob(ctx, j, summary, ""); err != nil {
		t.Fatal(err)
	}
}

// seedScan has the partner set domain's files on an sftp server, scans
// them once and records one finding, whose id it returns.
func seedScan(t testing.TB, e *env, domain string) int64 {
	t.Helper()
	ctx := context.Background()
	st := core.ScanSettings{Files: core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "sftp", Host: "web1.example.net", User: "shop",
		Path: "/home/shop/www", HostKey: "SHA256:" + strings.Repeat("A", 43), Password: "sftp-s3cret"}}}
	if _, err := e.Service.SetWebsiteScanSettings(ctx, e.Caller, domain, st); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.RequestScan(ctx, e.Caller, domain, core.ScanFiles); err != nil {
		t.Fatal(err)
	}
	runScanJob(t, e.Service, core.ScanFiles, []core.Finding{{Location: "wp-content/x.php", Signature: "Palisade.PHP.Webshell.EvalPost", Class: "webshell", Severity: "critical"}}, map[string]int{"files": 3})
	fs, err := e.Service.Findings(ctx, e.Caller, domain, core.FindingFilter{})
	if err != nil || len(fs) != 1 {
		t.Fatalf("findings of %s: %+v %v", domain, fs, err)
	}
	return fs[0].ID
}

const userSnap = "4f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"

// TestScanningRoutes: the customer reads its website's scan settings
// without where its provider's machines are or any secret, starts a scan,
// reads the jobs and findings, ignores, opens again and quarantines a
// finding, and lists and restores a backup; refusals are the User API's
// error shape with the core's words. It cannot set the settings.
func TestScanningRoutes(t *testing.T) {
	e := newEnv(t, func(c *core.Config) { c.ScanRoots = []string{"/var/www"}; c.BackupRoots = []string{"/var/backups"} })
	ctx := context.Background()
	jane := basic("jane@example.com", janePW)
	const base = "/api/websites/shop.example.com"
	fid := strconv.FormatInt(seedScan(t, e, "shop.example.com"), 10)
	type step struct {
		method, path, body string
		status             int
		has, hasNot        []string
	}
	run := func(steps []step) {
		t.Helper()
		for _, s := range steps {
			a := e.do(t, s.method, s.path, jane, s.body)
			if a.status != s.status {
				t.Fatalf("%s %s: %d %s; want %d", s.method, s.path, a.status, a.raw, s.status)
			}
			for _, h := range s.has {
				if !strings.Contains(a.raw, h) {
					t.Fatalf("%s %s: %s lacks %q", s.method, s.path, a.raw, h)
				}
			}
			for _, h := range s.hasNot {
				if strings.Contains(a.raw, h) {
					t.Fatalf("%s %s: %s shows %q", s.method, s.path, a.raw, h)
				}
			}
			if s.status != 200 && !strings.HasPrefix(a.raw, `{"error":[`) {
				t.Fatalf("%s %s: not the User API's error shape: %s", s.method, s.path, a.raw)
			}
		}
	}
	run([]step{
		{"GET", base + "/scanner", "", 200, []string{`"success":true`, `"files":{"enabled":true`, `"kind":"sftp"`, `"password_set":true`},
			[]string{"web1.example.net", "/home/shop/www", "SHA256:", "sftp-s3cret", `"user":"shop"`}},
		{"PUT", base + "/scanner", `{"files":{"enabled":false}}`, 405, []string{"method not allowed"}, nil},
		{"POST", base + "/scans", `{}`, 400, []string{"kind is required"}, nil},
		{"POST", base + "/scans", `{"kind":"virus"}`, 400, []string{`unknown scan kind \"virus\"`}, nil},
		{"POST", base + "/scans", `{"kind":"files","extra":1}`, 400, []string{"unknown field"}, nil},
		{"POST", base + "/scans", `{"kind":"backup"}`, 412, []string{"backup"}, nil},
		{"POST", base + "/scans", `{"kind":"files"}`, 200, []string{`"kind":"files"`, `"state":"queued"`, `"trigger":"on_demand"`}, nil},
		{"POST", base + "/scans", `{"kind":"files"}`, 409, nil, nil},
		{"GET", base + "/scans?kind=files", "", 200, []string{`"state":"queued"`, `"state":"done"`, `"summary":{"files":3}`}, []string{"node-1"}},
		{"GET", base + "/scans?limit=9999", "", 400, []string{"limit must be between 1 and 500"}, nil},
		{"GET", base + "/findings?kind=files&state=open", "", 200, []string{`"id":` + fid, `"location":"wp-content/x.php"`, `"severity":"critical"`}, nil},
		{"GET", base + "/findings?state=nope", "", 400, []string{"unknown finding state"}, nil},
		{"GET", base + "/findings?state=ignored", "", 200, []string{`"items":[]`}, nil},
		{"POST", base + "/findings/" + fid + "/ignore", "", 200, []string{`"state":"ignored"`}, nil},
		{"GET", base + "/findings?state=ignored", "", 200, []string{`"id":` + fid}, nil},
		{"POST", base + "/findings/" + fid + "/unignore", "", 200, []string{`"state":"open"`}, nil},
		{"POST", base + "/findings/abc/ignore", "", 400, []string{"id must be a finding id"}, nil},
		{"POST", base + "/findings/999999/ignore", "", 404, nil, nil},
		{"POST", base + "/findings/" + fid + "/restore", "", 412, []string{"is open"}, nil},
		{"POST", base + "/findings/" + fid + "/quarantine", "", 200, []string{`"kind":"action"`, `"target":"finding:` + fid + `"`}, nil},
		{"POST", base + "/findings/" + fid + "/clean", "", 409, []string{"already queued or running"}, nil},
		{"GET", base + "/backups", "", 200, []string{`"items":[]`}, nil},
	})

	// Backups: the partner moves the files to a local root with a
	// repository; a backup job saves a snapshot.
	st := core.ScanSettings{Files: core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "local", Path: "/var/www/shop", Password: "-"}},
		Backup: core.BackupScanSettings{Enabled: true, Repository: "/var/backups/shop", RepositoryPassword: "repo-s3cret"}}
	if _, err := e.Service.SetWebsiteScanSettings(ctx, e.Caller, "shop.example.com", st); err != nil {
		t.Fatal(err)
	}
	runScanJob(t, e.Service, core.ScanFiles, nil, nil)
	runScanJob(t, e.Service, core.ScanAction, nil, nil)
	run([]step{{"POST", base + "/scans", `{"kind":"backup"}`, 200, []string{`"kind":"backup"`}, nil}})
	runScanJob(t, e.Service, core.ScanBackup, nil, map[string]any{"files": map[string]any{"ID": userSnap, "ShortID": userSnap[:8],
		"Time": time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC), "Paths": []string{"/var/www/shop"}, "Summary": map[string]any{"TotalFiles": 12, "TotalBytes": 3400}}})
	run([]step{
		{"GET", base + "/scanner", "", 200, []string{`"repository_password_set":true`, `"kind":"local"`}, []string{"/var/backups", "/var/www", "repo-s3cret"}},
		{"GET", base + "/backups?limit=5", "", 200, []string{`"snapshot":"` + userSnap + `"`, `"short_id":"` + userSnap[:8] + `"`, `"files":12`, `"time":"2026-11-30T03:00:00Z"`}, nil},
		{"POST", base + "/backups/restore", `{"snapshot":"` + userSnap[:8] + `","path":"/etc"}`, 400, []string{"path"}, nil},
		{"POST", base + "/backups/restore", `{"snapshot":"00000000"}`, 404, nil, nil},
		{"POST", base + "/backups/restore", `{"snapshot":"` + userSnap[:8] + `","path":"wp-content/uploads"}`, 200, []string{`"kind":"restore"`, `"state":"queued"`}, []string{"/var/www"}},
		{"POST", base + "/backups/restore", `{"snapshot":"` + userSnap[:8] + `"}`, 409, nil, nil},
	})
	// The audit log names the customer.
	es, err := e.Service.Audit(ctx, e.Caller, 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	seen := false
	for _, a := range es {
		if a.Action == "request_restore" && a.Actor == "customer:"+strconv.FormatInt(e.jane.ID, 10) && a.Protocol == "userapi" {
			seen = true
		}
	}
	if !seen {
		t.Fatalf("no request_restore by jane in the audit log: %+v", es)
	}
}
