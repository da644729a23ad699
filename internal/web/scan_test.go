package web_test

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/testenv"
)

// scanFixture: the usual partner and customers, with the operator's scan
// and backup roots, shop.example.com's scanning and backups switched on,
// and jobs run by hand as a node would: a files scan with three findings,
// a patch check with a vulnerable and an outdated plugin, and a backup of
// files and database.
func scanFixture(t *testing.T) (*testenv.Stack, core.Subaccount, core.Subaccount, map[string]int64, string) {
	t.Helper()
	e := testenv.New(t, func(c *core.Config) {
		c.ScanRoots, c.BackupRoots = []string{"/srv/www"}, []string{"/srv/backups"}
	})
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.Service.SetBranding(ctx, e.Caller, e.Caller.PartnerID, core.Branding{Name: "Acme Shield", Color: "#aa3300"})
	must(err)
	jane, _, err := e.Service.CreateSubaccount(ctx, e.Caller, core.SubaccountCreate{Email: "jane@example.com"}, core.Idem{})
	must(err)
	bob, _, err := e.Service.CreateSubaccount(ctx, e.Caller, core.SubaccountCreate{Email: "bob@example.com"}, core.Idem{})
	must(err)
	for d, id := range map[string]int64{"shop.example.com": jane.ID, "bob.example.org": bob.ID} {
		_, _, err := e.Service.CreateWebsite(ctx, e.Caller, core.WebsiteCreate{Domain: d, SubaccountID: id, Plan: "10k"}, core.Idem{})
		must(err)
	}
	_, err = e.Service.SetWebsiteScanSettings(ctx, e.Caller, "shop.example.com", core.ScanSettings{
		Files:    core.FileScanSettings{Enabled: true, EveryHours: 24, Source: core.FileSource{Kind: "local", Path: "/srv/www/shop"}},
		Patch:    core.PatchScanSettings{Enabled: true},
		Database: core.DBScanSettings{Enabled: true, Host: "127.0.0.1", User: "shop", Name: "shop"},
		Backup:   core.BackupScanSettings{Enabled: true, Repository: "/srv/backups/shop", RepositoryPassword: "pw", KeepDaily: 7},
	})
	must(err)
	ids, snap := seedScans(t, e, "shop.example.com")
	return e, jane, bob, ids, snap
}

// seedScans runs a files scan, a patch check and a backup of domain as a
// node does, and returns the findings' IDs by location and the backup's
// files snapshot.
func seedScans(t *testing.T, e *testenv.Stack, domain string) (map[string]int64, string) {
	t.Helper()
	ctx := context.Background()
	run := func(kind core.ScanKind, found []core.Finding, summary any) []core.Finding {
		t.Helper()
		if _, err := e.Service.RequestScan(ctx, e.Caller, domain, kind); err != nil {
			t.Fatal(err)
		}
		j, ok, err := e.Service.ClaimScanJob(ctx, "node-1", time.Minute)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		if found != nil {
			if _, _, err := e.Service.RecordFindings(ctx, j, found, true); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.Service.FinishScanJob(ctx, j, summary, ""); err != nil {
			t.Fatal(err)
		}
		return found
	}
	files := run(core.ScanFiles, []core.Finding{
		{Location: "wp-content/uploads/shell.php", Signature: "Palisade.PHP.Webshell.Eval", Class: "php-webshell", Severity: "critical", SHA256: "aa"},
		{Location: "wp-content/themes/shop/footer.php", Signature: "Palisade.JS.Skimmer.Beacon", Class: "js-skimmer", Severity: "critical", SHA256: "bb"},
		{Location: "robots-old.html", Signature: "Palisade.HTML.SEOSpam.HiddenLinks", Class: "seo-spam", Severity: "medium", SHA256: "cc"},
	}, map[string]any{"files_seen": 12345, "files_scanned": 12000, "findings": 3, "new": 3, "resolved": 0})
	db := run(core.ScanDatabase, []core.Finding{
		{Location: "wp_posts/42", Signature: "Palisade.JS.Injection.DocWriteAtob", Class: "js-injection", Severity: "high", SHA256: "dd"},
	}, json.RawMessage(`{"tables":[{"table":"wp_posts","rows":1200},{"table":"wp_options","rows":300}],"findings":1,"new":1,"complete":true}`))
	patch := run(core.ScanPatch, []core.Finding{
		{Location: "wordpress:plugin:contact-form-7", Signature: "GHSA-0000-1111-2222", Class: "vulnerable", Severity: "high",
			Detail: `{"name":"Contact Form 7","version":"5.3.1","fixed":"5.3.2","summary":"Unrestricted file upload"}`},
		{Location: "wordpress:plugin:akismet", Signature: "outdated", Class: "outdated", Severity: "low",
			Detail: `{"name":"Akismet","version":"4.1","latest_fixed":"5.0"}`},
	}, map[string]any{"vulnerable": 1, "outdated": 1, "new": 2})
	snap := strings.Repeat("ab", 32)
	run(core.ScanBackup, nil, json.RawMessage(`{"files":{"ID":"`+snap+`","ShortID":"abababab","Time":"2026-11-30T02:00:00Z","Paths":["/srv/www/shop"],`+
		`"Summary":{"TotalFiles":12345,"TotalBytes":734003200}},"database":{"ID":"`+strings.Repeat("cd", 32)+`","ShortID":"cdcdcdcd",`+
		`"Time":"2026-11-30T02:01:00Z","Paths":["/shop.sql"]}}`))
	ids := map[string]int64{}
	for _, f := range append(append(files, patch...), db...) {
		ids[f.Location] = f.ID
	}
	return ids, snap
}

func TestScanPage(t *testing.T) {
	e, jane, bob, ids, _ := scanFixture(t)
	ctx := context.Background()
	br := newBrowser(t, e.URL)
	code, page, _ := br.get("/de/website/shop.example.com/scan?api-key=" + jane.APIKey)
	if code != 200 {
		t.Fatalf("scan page: %d %s", code, page)
	}
	for _, want := range []string{"Sicherheitsscan", "Acme Shield", "wp-content/<wbr>uploads/<wbr>shell.php", "PHP.Webshell.Eval", "Kritisch",
		"Dateien: 12.345 gesehen", "Contact Form 7", "5.3.2", "Akismet", "Veraltet", "Dateien jetzt scannen", "Datenbank jetzt scannen", "Tabellen: 2, gelesene Zeilen: 1.500",
		"wp_posts/<wbr>42", "Komponenten jetzt prüfen", "Läuft alle 24 Stunden"} {
		if !strings.Contains(page, want) {
			t.Errorf("scan page lacks %q", want)
		}
	}
	if strings.Contains(visibleText(page), "Palisade") {
		t.Error("the scan page names the product (a signature's prefix)")
	}
	token := csrf(t, page)

	// Filters: the medium finding only.
	_, page, _ = br.get("/en/website/shop.example.com/scan?severity=medium")
	if !strings.Contains(page, "robots-old.html") || strings.Contains(page, "shell.php") {
		t.Error("severity filter")
	}
	_, page, _ = br.get("/en/website/shop.example.com/scan?state=ignored")
	if strings.Contains(page, "robots-old.html") {
		t.Error("state filter")
	}

	// Ignore, keeping the filter; then un-ignore.
	spam := ids["robots-old.html"]
	post := func(path string, f url.Values) (int, string) {
		f.Set("csrf", token)
		return br.post(path, f)
	}
	code, page = post("/en/website/shop.example.com/scan/finding", url.Values{"id": {itoa(spam)}, "action": {"ignore"}, "q": {"severity=medium"}})
	if code != 200 || !strings.Contains(page, "The finding is ignored") || !strings.Contains(page, `<option value="medium" selected>`) {
		t.Fatalf("ignore: %d", code)
	}
	if fs, _ := e.Service.Findings(ctx, e.Caller, "shop.example.com", core.FindingFilter{State: core.FindingIgnored}); len(fs) != 1 || fs[0].ID != spam {
		t.Fatalf("ignored findings: %+v", fs)
	}
	if code, _ = post("/en/website/shop.example.com/scan/finding", url.Values{"id": {itoa(spam)}, "action": {"unignore"}}); code != 200 {
		t.Fatalf("unignore: %d", code)
	}
	// Quarantine queues an action job; the row says so and offers nothing
	// more until it ran; a second one is refused on the page.
	shell := ids["wp-content/uploads/shell.php"]
	code, page = post("/en/website/shop.example.com/scan/finding", url.Values{"id": {itoa(shell)}, "action": {"quarantine"}})
	if code != 200 || !strings.Contains(page, "(quarantine queued)") {
		t.Fatalf("quarantine: %d", code)
	}
	code, page = post("/en/website/shop.example.com/scan/finding", url.Values{"id": {itoa(shell)}, "action": {"clean"}})
	if code != 409 || !strings.Contains(page, `id="problem"`) || !strings.Contains(page, "already queued") || !strings.Contains(page, "Security scan") {
		t.Fatalf("a second action: %d", code)
	}
	// A patch finding cannot be quarantined: the core's refusal, on the page.
	code, page = post("/en/website/shop.example.com/scan/finding", url.Values{"id": {itoa(ids["wordpress:plugin:akismet"])}, "action": {"quarantine"}})
	if code != 412 || !strings.Contains(page, "only findings in files") {
		t.Fatalf("quarantine of a patch finding: %d", code)
	}
	// A database finding offers only "not malware", and quarantining one is refused by the core.
	if m := regexp.MustCompile(`(?s)id="finding-` + itoa(ids["wp_posts/42"]) + `".*?</tr>`).FindString(page); m == "" || strings.Contains(m, `value="quarantine"`) || !strings.Contains(m, `value="ignore"`) {
		t.Errorf("a database finding's actions: %q", m)
	}
	code, page = post("/en/website/shop.example.com/scan/finding", url.Values{"id": {itoa(ids["wp_posts/42"])}, "action": {"quarantine"}})
	if code != 412 {
		t.Fatalf("quarantine of a database finding: %d", code)
	}
	// Scan now: queued, then busy.
	code, page = post("/en/website/shop.example.com/scan/request", url.Values{"kind": {"files"}})
	if code != 200 || !strings.Contains(page, "Queued: it runs within a few minutes") || !regexp.MustCompile(`disabled aria-disabled="true">Scan files now`).MatchString(page) {
		t.Fatalf("scan now: %d", code)
	}
	// No CSRF token: refused, nothing queued.
	if code, _ := br.post("/en/website/shop.example.com/scan/request", url.Values{"kind": {"patch"}}); code != 403 {
		t.Fatalf("without a token: %d", code)
	}
	// Another customer's finding under its own website: not found, and
	// the finding is untouched.
	bb := newBrowser(t, e.URL)
	_, bpage, _ := bb.get("/en/website/bob.example.org/scan?api-key=" + bob.APIKey)
	if !strings.Contains(bpage, "not set up for this website") || !strings.Contains(bpage, "hosting provider") {
		t.Fatal("an unconfigured website does not say so")
	}
	code, _ = bb.post("/en/website/bob.example.org/scan/finding", url.Values{"csrf": {csrf(t, bpage)}, "id": {itoa(spam)}, "action": {"ignore"}})
	if code != 404 {
		t.Fatalf("bob ignores jane's finding: %d", code)
	}
	if code, _ := bb.post("/en/website/shop.example.com/scan/finding", url.Values{"csrf": {csrf(t, bpage)}, "id": {itoa(spam)}, "action": {"ignore"}}); code != 404 {
		t.Fatalf("bob on jane's website: %d", code)
	}
	if fs, _ := e.Service.Findings(ctx, e.Caller, "shop.example.com", core.FindingFilter{State: core.FindingIgnored}); len(fs) != 0 {
		t.Fatalf("ignored after bob's tries: %+v", fs)
	}
}

func TestBackupsPage(t *testing.T) {
	e, jane, _, _, snap := scanFixture(t)
	ctx := context.Background()
	br := newBrowser(t, e.URL)
	code, page, _ := br.get("/fr/website/shop.example.com/backups?api-key=" + jane.APIKey)
	if code != 200 {
		t.Fatalf("backups page: %d", code)
	}
	for _, want := range []string{"Sauvegardes", "abababab", "734,0 Mo", "12\u00a0345", "Oui", "Restaurer…"} {
		if !strings.Contains(page, want) {
			t.Errorf("backups page lacks %q", want)
		}
	}
	token := csrf(t, page)
	// Choosing: a path without one is sent back with the reason.
	_, page, _ = br.get("/en/website/shop.example.com/backups?snapshot=" + snap + "&what=path&confirm=1")
	if !strings.Contains(page, "Give the path") || strings.Contains(page, "Yes, restore") {
		t.Fatal("a path restore without a path")
	}
	// Confirming: the page asks, with what will happen.
	_, page, _ = br.get("/en/website/shop.example.com/backups?snapshot=" + snap + "&what=alldb&confirm=1")
	if !strings.Contains(page, "Restore this now?") || !strings.Contains(page, "replace the database") || !strings.Contains(page, "Yes, restore") {
		t.Fatal("confirmation step")
	}
	// Without the confirmation: refused, nothing queued.
	code, page = br.post("/en/website/shop.example.com/backups/restore", url.Values{"csrf": {token}, "snapshot": {snap}, "what": {"all"}})
	if code != 422 || !strings.Contains(page, "must be confirmed") {
		t.Fatalf("unconfirmed restore: %d", code)
	}
	// A path that leaves the website: the core's refusal on the page.
	code, page = br.post("/en/website/shop.example.com/backups/restore", url.Values{"csrf": {token}, "snapshot": {snap}, "what": {"path"}, "path": {"../etc"}, "confirmed": {"1"}})
	if code != 422 || !strings.Contains(page, `id="problem"`) {
		t.Fatalf("restore of ../etc: %d", code)
	}
	// The database alone: restored from the backup's dump snapshot.
	code, page = br.post("/en/website/shop.example.com/backups/restore", url.Values{"csrf": {token}, "snapshot": {snap}, "what": {"database"}, "confirmed": {"1"}})
	if code != 200 || !strings.Contains(page, "Restore queued") || !regexp.MustCompile(`<h3>Restores</h3><ul class="jobs"><li><span class="badge job-queued">Queued`).MatchString(page) {
		t.Fatalf("database restore: %d", code)
	}
	jobs, err := e.Service.ScanJobs(ctx, e.Caller, "shop.example.com", core.ScanRestore, 0)
	if err != nil || len(jobs) != 1 || !strings.Contains(jobs[0].Params, strings.Repeat("cd", 32)) || strings.Contains(jobs[0].Params, `"files_snapshot":"`+snap) {
		t.Fatalf("restore jobs: %+v %v", jobs, err)
	}
	// A second restore while one is queued: refused on the page.
	code, page = br.post("/en/website/shop.example.com/backups/restore", url.Values{"csrf": {token}, "snapshot": {snap}, "what": {"all"}, "confirmed": {"1"}})
	if code != 409 || !strings.Contains(page, "already queued") {
		t.Fatalf("second restore: %d", code)
	}
	// Back up now.
	if code, page = br.post("/en/website/shop.example.com/backups/request", url.Values{"csrf": {token}}); code != 200 || !strings.Contains(page, "Backup queued") {
		t.Fatalf("back up now: %d", code)
	}
	// Unknown snapshot in the chooser.
	if code, _, _ := br.get("/en/website/shop.example.com/backups?snapshot=" + strings.Repeat("ef", 32)); code != 404 {
		t.Fatalf("unknown snapshot: %d", code)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
