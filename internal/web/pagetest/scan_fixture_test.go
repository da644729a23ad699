package pagetest_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/testenv"
)

// scanRoots are the operator's folders for document roots and backup
// repositories (--scan-root, --backup-root) in the fixture.
func scanRoots(c *core.Config) {
	c.ScanRoots, c.BackupRoots = []string{"/srv/www"}, []string{"/srv/backups"}
}

// shopSnapshot is the files snapshot of the shop's backup.
var shopSnapshot = strings.Repeat("5e", 32)

// seedScans switches on the shop's malware scan, patch check and backups
// and runs a job of each as a node does (claim, findings, finish), so the
// Security scan and Backups pages have something of each kind to show
// (files, database, patch check, backup); a
// quarantine is left queued and one finding ignored. The new website
// stays without scan settings (the "not set up" pages).
func seedScans(t testing.TB, e *testenv.Stack) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.Service.SetWebsiteScanSettings(ctx, e.Caller, shop, core.ScanSettings{
		Files:    core.FileScanSettings{Enabled: true, EveryHours: 24, Source: core.FileSource{Kind: "local", Path: "/srv/www/shop"}},
		Patch:    core.PatchScanSettings{Enabled: true, EveryHours: 168},
		Database: core.DBScanSettings{Enabled: true, EveryHours: 24, Host: "127.0.0.1", User: "shop", Name: "shop"},
		Backup:   core.BackupScanSettings{Enabled: true, Repository: "/srv/backups/shop", RepositoryPassword: "fixture", EveryHours: 24, KeepDaily: 7},
	})
	must(err)
	run := func(kind core.ScanKind, found []core.Finding, summary any) []core.Finding {
		t.Helper()
		_, err := e.Service.RequestScan(ctx, e.Caller, shop, kind)
		must(err)
		j, ok, err := e.Service.ClaimScanJob(ctx, "node-1", time.Minute)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		e.Clock.Advance(3 * time.Minute)
		if found != nil {
			_, _, err := e.Service.RecordFindings(ctx, j, found, true)
			must(err)
		}
		must(e.Service.FinishScanJob(ctx, j, summary, ""))
		return found
	}
	files := run(core.ScanFiles, []core.Finding{
		{Location: "wp-content/uploads/2026/11/cache.php", Signature: "Palisade.PHP.Webshell.RequestEval", Class: "php-webshell", Severity: "critical", SHA256: strings.Repeat("a", 64)},
		{Location: "wp-content/themes/storefront/footer.php", Signature: "Palisade.JS.Skimmer.ImageBeacon", Class: "js-skimmer", Severity: "critical", SHA256: strings.Repeat("b", 64)},
		{Location: ".htaccess", Signature: "Palisade.Htaccess.SearchRedirect", Class: "htaccess", Severity: "high", SHA256: strings.Repeat("c", 64)},
		{Location: "old/landing.html", Signature: "Html.Exploit.Spam-12345", Class: "other", Severity: "medium", SHA256: strings.Repeat("d", 64)},
	}, map[string]any{"files_seen": 18432, "files_scanned": 18390, "files_skipped": 2, "findings": 4, "new": 4, "resolved": 0})
	run(core.ScanDatabase, []core.Finding{
		{Location: "wp_posts/1187", Signature: "Palisade.JS.Injection.DocWriteAtob", Class: "js-injection", Severity: "high", SHA256: strings.Repeat("e", 64)},
	}, json.RawMessage(`{"cms":"wordpress","prefix":"wp_","tables":[{"table":"wp_posts","rows":1204},{"table":"wp_options","rows":380}],`+
		`"complete":true,"findings":1,"new":1,"resolved":0}`))
	run(core.ScanPatch, []core.Finding{
		{Location: "wordpress:plugin:contact-form-7", Signature: "GHSA-2026-cf7x-0001", Class: "vulnerable", Severity: "high",
			Detail: `{"name":"Contact Form 7","version":"5.3.1","fixed":"5.3.2","summary":"Unrestricted file upload"}`},
		{Location: "wordpress:plugin:akismet", Signature: "outdated", Class: "outdated", Severity: "low",
			Detail: `{"name":"Akismet","version":"4.1.9","latest_fixed":"5.3"}`},
	}, map[string]any{"vulnerable": 1, "outdated": 1, "new": 2})
	run(core.ScanBackup, nil, json.RawMessage(`{"files":{"ID":"`+shopSnapshot+`","ShortID":"5e5e5e5e","Time":"`+e.Clock.Now().UTC().Format(time.RFC3339)+`",`+
		`"Paths":["/srv/www/shop"],"Summary":{"TotalFiles":18432,"TotalBytes":1288490189}},"database":{"ID":"`+strings.Repeat("d4", 32)+`",`+
		`"ShortID":"d4d4d4d4","Time":"`+e.Clock.Now().UTC().Format(time.RFC3339)+`","Paths":["/shop.sql"]}}`))
	_, err = e.Service.RequestFindingAction(ctx, e.Caller, shop, files[0].ID, core.ActionQuarantine)
	must(err)
	_, err = e.Service.IgnoreFinding(ctx, e.Caller, shop, files[3].ID, true)
	must(err)
}
