package integrations

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/malware/clamdtest"
	"github.com/palisadehq/palisade/internal/scanrun"
	"github.com/palisadehq/palisade/internal/testenv"
)

// scanStack is a Palisade whose partner may keep websites' files under
// www and backups under backups, with a node running its jobs on the real
// clamd and restic.
type scanStack struct {
	pal     *testenv.Stack
	www     string
	backups string
	runner  *scanrun.Runner
}

func newScanStack(t *testing.T) *scanStack {
	t.Helper()
	restic := testenv.NeedBinary(t, "restic", "/usr/bin/restic")
	base := t.TempDir()
	s := &scanStack{www: filepath.Join(base, "www"), backups: filepath.Join(base, "backups")}
	s.pal = testenv.New(t, func(c *core.Config) {
		c.ScanRoots = []string{s.www}
		c.BackupRoots = []string{s.backups}
	})
	s.runner = &scanrun.Runner{Service: s.pal.Service, Node: "node-1", Dir: filepath.Join(base, "runner"), Lease: time.Minute,
		Clamd: clamdtest.Start(t), Restic: restic, Now: s.pal.Service.Now}
	return s
}

// run plays the node: it runs the next queued job, which must be of kind
// and must succeed.
func (s *scanStack) run(t *testing.T, caller core.Caller, domain string, kind core.ScanKind) core.ScanJob {
	t.Helper()
	ctx := context.Background()
	if ran, err := s.runner.RunOnce(ctx); err != nil || !ran {
		t.Fatalf("RunOnce: ran %v, %v", ran, err)
	}
	js, err := s.pal.Service.ScanJobs(ctx, caller, domain, kind, 1)
	if err != nil || len(js) != 1 || js[0].State != core.JobDone {
		t.Fatalf("the %s job of %s: %+v %v", kind, domain, js, err)
	}
	return js[0]
}

// site makes a website's document root under www with a web shell
// (wp-content/uploads/x.php) and an injected index.php that can be
// cleaned; it returns the root.
func (s *scanStack) site(t *testing.T, name string) string {
	t.Helper()
	root := filepath.Join(s.www, name)
	for file, sample := range map[string]string{
		"wp-content/uploads/x.php": "../internal/malware/testdata/samples/php-webshell/EvalRequest.php",
		"index.php":                "../internal/malware/testdata/clean/php-prepend/infected.php",
		"readme.txt":               "testdata/client_driver.php",
	} {
		b, err := os.ReadFile(sample)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, filepath.FromSlash(file))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// otherPartner creates a second partner with a website of its own and
// returns its key and its caller.
func (s *scanStack) otherPartner(t *testing.T, domain string) (string, core.Caller) {
	t.Helper()
	ctx := context.Background()
	_, key, err := s.pal.Service.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "Other Hosting"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.pal.Service.Authenticate(ctx, key, netip.MustParseAddr("127.0.0.1"), core.ProtocolV1)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.pal.Service.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: domain}, core.Idem{}); err != nil {
		t.Fatal(err)
	}
	return key, c
}

type phpAnswer struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Status  int      `json:"status"`
		Code    string   `json:"code"`
		Message string   `json:"message"`
		Field   string   `json:"field"`
		Errors  []string `json:"errors"`
	} `json:"error"`
}

// TestPHPClientScanning runs every scanning and backup method of the PHP
// client against a real Palisade whose node scans with clamd and backs up
// with restic: settings written (the secret never answered), a scan, its
// findings ignored, opened again, quarantined, restored and cleaned, a
// backup taken and restored; another partner gets not_found for each.
func TestPHPClientScanning(t *testing.T) {
	bin := php(t)
	s := newScanStack(t)
	ctx := context.Background()
	const domain = "shop.example.com"
	call := func(key, method string, args ...any) phpAnswer {
		t.Helper()
		return phpCall(t, bin, nil, s.pal.URL, key, method, args...)
	}
	ok := func(method string, into any, args ...any) {
		t.Helper()
		a := call(s.pal.PartnerKey, method, args...)
		if a.Error != nil {
			t.Fatalf("%s%v: %+v", method, args, *a.Error)
		}
		if into != nil {
			if err := json.Unmarshal(a.Result, into); err != nil {
				t.Fatalf("%s: %v: %s", method, err, a.Result)
			}
		}
	}
	refused := func(key, code, method string, args ...any) phpAnswer {
		t.Helper()
		a := call(key, method, args...)
		if a.Error == nil || a.Error.Code != code || a.Error.Message == "" {
			t.Fatalf("%s%v: want %s, got %s %+v", method, args, code, a.Result, a.Error)
		}
		return a
	}

	ok("registerWebsite", nil, domain)
	root := s.site(t, "shop")
	var sc struct {
		Domain   string            `json:"domain"`
		Settings core.ScanSettings `json:"settings"`
	}
	ok("scanner", &sc, domain)
	if sc.Domain != domain || sc.Settings.Files.Enabled || sc.Settings.Backup.RepositoryPasswordSet {
		t.Fatalf("scanner before any setting: %+v", sc)
	}
	settings := map[string]any{
		"files":    map[string]any{"enabled": true, "every_hours": 24, "source": map[string]any{"kind": "local", "path": root}},
		"database": map[string]any{},
		"patch":    map[string]any{"enabled": false},
		"backup": map[string]any{"enabled": true, "repository": filepath.Join(s.backups, "shop"), "repository_password": "correct horse battery",
			"every_hours": 24, "keep_daily": 7},
	}
	a := call(s.pal.PartnerKey, "putScanner", domain, settings)
	if a.Error != nil || strings.Contains(string(a.Result), "correct horse") {
		t.Fatalf("putScanner: %s %+v", a.Result, a.Error)
	}
	ok("scanner", &sc, domain)
	if !sc.Settings.Files.Enabled || sc.Settings.Files.Source.Path != root || !sc.Settings.Backup.RepositoryPasswordSet || sc.Settings.Backup.RepositoryPassword != "" {
		t.Fatalf("scanner after putScanner: %+v", sc.Settings)
	}
	// Every problem of a bad document is reported, each with its field.
	bad := refused(s.pal.PartnerKey, "invalid", "putScanner", domain, map[string]any{
		"files": map[string]any{"enabled": true, "source": map[string]any{"kind": "local", "path": "/etc"}}, "patch": map[string]any{"every_hours": 9999}})
	if bad.Error.Status != 400 || !strings.Contains(bad.Error.Message, "files.source.path") || !strings.Contains(bad.Error.Message, "patch.every_hours") {
		t.Fatalf("bad settings: %+v", *bad.Error)
	}

	// A scan: queued once, run by the node, listed with its findings.
	var job struct {
		ID    int64  `json:"id"`
		Kind  string `json:"kind"`
		State string `json:"state"`
	}
	ok("startScan", &job, domain, "files")
	if job.Kind != "files" || job.State != core.JobQueued {
		t.Fatalf("startScan: %+v", job)
	}
	if a := refused(s.pal.PartnerKey, "conflict", "startScan", domain, "files"); a.Error.Status != 409 {
		t.Fatalf("a second scan: %+v", *a.Error)
	}
	refused(s.pal.PartnerKey, "invalid", "startScan", domain, "everything")
	s.run(t, s.pal.Caller, domain, core.ScanFiles)
	var jobs []struct {
		ID      int64          `json:"id"`
		Kind    string         `json:"kind"`
		State   string         `json:"state"`
		Summary map[string]any `json:"summary"`
	}
	ok("scans", &jobs, domain, map[string]any{"kind": "files"})
	if len(jobs) != 1 || jobs[0].ID != job.ID || jobs[0].State != core.JobDone || jobs[0].Summary["findings"] != 2.0 {
		t.Fatalf("scans: %+v", jobs)
	}
	type findingJSON struct {
		ID           int64  `json:"id"`
		Location     string `json:"location"`
		State        string `json:"state"`
		QuarantineID string `json:"quarantine_id"`
	}
	var page struct {
		Data       []findingJSON `json:"data"`
		NextCursor *string       `json:"next_cursor"`
	}
	ok("findings", &page, domain, map[string]any{"state": "open"})
	byLoc := map[string]findingJSON{}
	for _, f := range page.Data {
		byLoc[f.Location] = f
	}
	shell, index := byLoc["wp-content/uploads/x.php"], byLoc["index.php"]
	if len(page.Data) != 2 || shell.ID == 0 || index.ID == 0 {
		t.Fatalf("findings: %+v", page)
	}
	// Without curl (php -n), through PHP's stream wrapper: the same page.
	b, _ := json.Marshal([]any{domain, map[string]any{"state": "open"}})
	var viaStream struct {
		Result struct {
			Data []findingJSON `json:"data"`
		} `json:"result"`
	}
	stream := runPHP(t, bin, "-n", "testdata/client_call.php", "php/src", s.pal.URL, s.pal.PartnerKey, "findings", string(b))
	if err := json.Unmarshal(stream, &viaStream); err != nil || len(viaStream.Result.Data) != 2 ||
		viaStream.Result.Data[0] != page.Data[0] || viaStream.Result.Data[1] != page.Data[1] {
		t.Fatalf("findings through the stream wrapper: %s (%v)", stream, err)
	}
	ok("findings", &page, domain, map[string]any{"limit": 1})
	if len(page.Data) != 1 || page.NextCursor == nil {
		t.Fatalf("a page of one: %+v", page)
	}
	ok("findings", &page, domain, map[string]any{"limit": 1, "cursor": *page.NextCursor})
	if len(page.Data) != 1 {
		t.Fatalf("the second page: %+v", page)
	}

	var f findingJSON
	ok("ignoreFinding", &f, domain, shell.ID)
	if f.State != core.FindingIgnored {
		t.Fatalf("ignored: %+v", f)
	}
	refused(s.pal.PartnerKey, "precondition_failed", "quarantineFinding", domain, shell.ID) // ignored: not open
	ok("unignoreFinding", &f, domain, shell.ID)
	if f.State != core.FindingOpen {
		t.Fatalf("unignored: %+v", f)
	}
	refused(s.pal.PartnerKey, "invalid", "ignoreFinding", domain, 0)
	refused(s.pal.PartnerKey, "not_found", "ignoreFinding", domain, shell.ID+index.ID+100)

	// Quarantine, restore and clean are jobs the node runs.
	shellPath := filepath.Join(root, "wp-content", "uploads", "x.php")
	shellBytes, _ := os.ReadFile(shellPath)
	ok("quarantineFinding", &job, domain, shell.ID)
	if job.Kind != "action" || job.State != core.JobQueued {
		t.Fatalf("quarantineFinding: %+v", job)
	}
	if a := refused(s.pal.PartnerKey, "conflict", "quarantineFinding", domain, shell.ID); a.Error.Status != 409 {
		t.Fatalf("a second action while one is queued: %+v", *a.Error)
	}
	s.run(t, s.pal.Caller, domain, core.ScanAction)
	if _, err := os.Stat(shellPath); !os.IsNotExist(err) {
		t.Fatalf("the web shell is still there after quarantineFinding: %v", err)
	}
	ok("findings", &page, domain, map[string]any{"state": "quarantined"})
	if len(page.Data) != 1 || page.Data[0].ID != shell.ID || page.Data[0].QuarantineID == "" {
		t.Fatalf("quarantined: %+v", page)
	}
	ok("restoreFinding", &job, domain, shell.ID)
	s.run(t, s.pal.Caller, domain, core.ScanAction)
	if b, err := os.ReadFile(shellPath); err != nil || !bytes.Equal(b, shellBytes) {
		t.Fatalf("restoreFinding did not put the file back: %v", err)
	}
	ok("cleanFinding", &job, domain, index.ID)
	s.run(t, s.pal.Caller, domain, core.ScanAction)
	original, _ := os.ReadFile("../internal/malware/testdata/clean/php-prepend/original.php")
	if b, _ := os.ReadFile(filepath.Join(root, "index.php")); !bytes.Equal(b, original) {
		t.Fatal("cleanFinding: index.php is not its original")
	}
	refused(s.pal.PartnerKey, "precondition_failed", "cleanFinding", domain, index.ID) // cleaned already

	// A backup, a file lost, the backup restored.
	ok("startScan", &job, domain, "backup")
	s.run(t, s.pal.Caller, domain, core.ScanBackup)
	var backups []core.Backup
	ok("backups", &backups, domain)
	if len(backups) != 1 || len(backups[0].Snapshot) != 64 || backups[0].Files != 3 {
		t.Fatalf("backups: %+v", backups)
	}
	ok("backups", &backups, domain, 1)
	if err := os.Remove(filepath.Join(root, "readme.txt")); err != nil {
		t.Fatal(err)
	}
	refused(s.pal.PartnerKey, "invalid", "restoreBackup", domain, backups[0].ShortID, "../etc")
	refused(s.pal.PartnerKey, "invalid", "restoreBackup", domain, backups[0].ShortID, "", true) // no database in it
	ok("restoreBackup", &job, domain, backups[0].ShortID, "readme.txt")
	if job.Kind != "restore" {
		t.Fatalf("restoreBackup: %+v", job)
	}
	s.run(t, s.pal.Caller, domain, core.ScanRestore)
	if b, err := os.ReadFile(filepath.Join(root, "readme.txt")); err != nil || len(b) == 0 {
		t.Fatalf("readme.txt after the restore: %v", err)
	}

	// Another partner: every method answers not_found, as for a website
	// that does not exist, and changes nothing.
	otherKey, other := s.otherPartner(t, "other.example.com")
	for _, c := range []struct {
		method string
		args   []any
	}{
		{"scanner", []any{domain}}, {"putScanner", []any{domain, settings}}, {"startScan", []any{domain, "files"}},
		{"scans", []any{domain}}, {"findings", []any{domain}}, {"ignoreFinding", []any{domain, shell.ID}},
		{"unignoreFinding", []any{domain, shell.ID}}, {"quarantineFinding", []any{domain, shell.ID}},
		{"restoreFinding", []any{domain, shell.ID}}, {"cleanFinding", []any{domain, shell.ID}},
		{"backups", []any{domain}}, {"restoreBackup", []any{domain, backups[0].Snapshot}},
	} {
		if a := refused(otherKey, "not_found", c.method, c.args...); a.Error.Status != 404 || strings.Contains(a.Error.Message, root) {
			t.Errorf("another partner's %s: %+v", c.method, *a.Error)
		}
	}
	// Nor may it restore the first partner's backup into its own website,
	// backed up in its own repository.
	if _, err := s.pal.Service.SetWebsiteScanSettings(ctx, other, "other.example.com", core.ScanSettings{
		Files:  core.FileScanSettings{Source: core.FileSource{Kind: "local", Path: s.site(t, "other")}},
		Backup: core.BackupScanSettings{Enabled: true, Repository: filepath.Join(s.backups, "other"), RepositoryPassword: "another password"}}); err != nil {
		t.Fatal(err)
	}
	refused(otherKey, "not_found", "restoreBackup", "other.example.com", backups[0].Snapshot)
	if js, err := s.pal.Service.ScanJobs(ctx, other, "other.example.com", "", 10); err != nil || len(js) != 0 {
		t.Fatalf("jobs of the other partner's website: %+v %v", js, err)
	}
	if js, _ := s.pal.Service.ScanJobs(ctx, s.pal.Caller, domain, "", 50); len(js) != 6 {
		t.Fatalf("the website's jobs after the other partner's calls: %d, want 6", len(js))
	}
	if got, _ := s.pal.Service.WebsiteScanSettings(ctx, s.pal.Caller, domain); got.Files.Source.Path != root {
		t.Fatalf("the other partner changed the settings: %+v", got)
	}
}

// TestWHMCSScanning runs the module's scanning and backup add-ons as WHMCS
// would: a product selling malware scans as a configurable option and
// backups included; create applies them to the website's scan settings,
// upgrades of the option follow, what was set in Palisade by hand (the
// database, its password) is kept; the client area lists findings and
// backups and offers Scan now and restores; another website's backup and
// another partner's website are refused with Palisade's message.
func TestWHMCSScanning(t *testing.T) {
	bin := php(t)
	s := newScanStack(t)
	ctx := context.Background()
	module := "whmcs/modules/servers/palisade/palisade.php"
	const domain = "shop.example.com"
	params := map[string]any{
		"serverhostname": strings.TrimPrefix(s.pal.URL, "http://"), "serversecure": "", "serverpassword": s.pal.PartnerKey,
		"serviceid": 201, "userid": 9, "domain": domain, "username": "shop",
		"configoption1": "10k", "configoption2": "protect",
		"configoption3": "add-on", "configoption4": "12", "configoption5": "manual", "configoption6": "24",
		"configoption7": "included", "configoption8": "24", "configoption9": s.www + "/{username}",
		"configoption10": s.backups + "/{domain}", "configoption11": "7/4/6", "configoption12": "", "configoption13": "",
		"configoptions":  map[string]any{"Malware scan": "1"},
		"clientsdetails": map[string]any{"email": "jane@example.com", "firstname": "Jane", "lastname": "Doe"},
	}
	with := func(changes map[string]any) map[string]any {
		p := map[string]any{}
		for k, v := range params {
			p[k] = v
		}
		for k, v := range changes {
			p[k] = v
		}
		return p
	}
	call := func(fn string, p map[string]any, form ...map[string]any) any {
		t.Helper()
		b, _ := json.Marshal(p)
		args := []string{"testdata/whmcs_driver.php", module, fn, string(b)}
		if len(form) > 0 {
			f, _ := json.Marshal(form[0])
			args = []string{"testdata/whmcs_form_driver.php", module, fn, string(b), string(f)}
		}
		out := runPHP(t, bin, args...)
		var r whmcsResult
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("%s: %v: %s", fn, err, out)
		}
		key := p["serverpassword"].(string)
		if strings.Contains(string(out), "correct horse") || strings.Contains(string(out), "db-secret") {
			t.Fatalf("%s shows a secret: %s", fn, out)
		}
		for _, l := range r.Log {
			raw, _ := json.Marshal([]any{l["request"], l["response"], l["processed"]})
			if strings.Contains(string(raw), key) {
				t.Fatalf("%s logged the API key: %s", fn, raw)
			}
		}
		return r.Result
	}
	ok := func(fn string, p map[string]any, form ...map[string]any) {
		t.Helper()
		if r := call(fn, p, form...); r != "success" {
			t.Fatalf("%s: %v", fn, r)
		}
	}
	fails := func(fn string, p map[string]any, want string, form ...map[string]any) {
		t.Helper()
		r, _ := call(fn, p, form...).(string)
		if r == "success" || !strings.Contains(r, want) {
			t.Fatalf("%s: %q, want an error saying %q", fn, r, want)
		}
	}
	settings := func(d string) core.ScanSettings {
		t.Helper()
		st, err := s.pal.Service.WebsiteScanSettings(ctx, s.pal.Caller, d)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	root := s.site(t, "shop")
	if r := call("ConfigOptions", params).(map[string]any); r["Malware scan"] == nil || r["Backup"] == nil || len(r) > 24 {
		t.Fatalf("ConfigOptions: %v", r)
	}
	ok("CreateAccount", params)
	st := settings(domain)
	if !st.Files.Enabled || st.Files.EveryHours != 12 || st.Files.Source.Kind != "local" || st.Files.Source.Path != root || st.Files.AutoClean ||
		st.Patch.Enabled || !st.Backup.Enabled || st.Backup.EveryHours != 24 || st.Backup.Repository != filepath.Join(s.backups, domain) ||
		!st.Backup.RepositoryPasswordSet || st.Backup.KeepDaily != 7 || st.Backup.KeepWeekly != 4 || st.Backup.KeepMonthly != 6 {
		t.Fatalf("scan settings after CreateAccount: %+v", st)
	}

	// The provider sets the database by hand in Palisade; the module keeps
	// it (and its write-only password) when the add-on changes.
	st.Database = core.DBScanSettings{Host: "db.internal", User: "shop", Name: "shop", TablePrefix: "wp_", Password: "db-secret"}
	if _, err := s.pal.Service.SetWebsiteScanSettings(ctx, s.pal.Caller, domain, st); err != nil {
		t.Fatal(err)
	}
	ok("ChangePackage", with(map[string]any{"configoptions": map[string]any{"Malware scan": "0"}}))
	st = settings(domain)
	if st.Files.Enabled || !st.Backup.Enabled || st.Database.Host != "db.internal" || !st.Database.PasswordSet || !st.Backup.RepositoryPasswordSet {
		t.Fatalf("after the add-on was removed: %+v", st)
	}
	ok("ChangePackage", with(map[string]any{"configoptions": map[string]any{"Malware scan|Malware scan, every 6 hours": "6h"}}))
	if st = settings(domain); !st.Files.Enabled || st.Files.EveryHours != 6 || !st.Database.PasswordSet {
		t.Fatalf("after the add-on came back every 6 hours: %+v", st)
	}
	// Repeated (WHMCS retrying), nothing changes: no second write.
	audit := func() int {
		t.Helper()
		n := 0
		entries, err := s.pal.Service.Audit(ctx, s.pal.Caller, 0, 500)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Action == "set_scan_settings" {
				n++
			}
		}
		return n
	}
	before := audit()
	ok("ChangePackage", with(map[string]any{"configoptions": map[string]any{"Malware scan|Malware scan, every 6 hours": "6h"}}))
	ok("ApplyScanSettings", with(map[string]any{"configoptions": map[string]any{"Malware scan": "6h"}}))
	if after := audit(); after != before || before == 0 {
		t.Fatalf("scan settings writes: %d before, %d after the same settings again", before, after)
	}

	// "off" wins over the option; "included" is on whatever it says.
	ok("ChangePackage", with(map[string]any{"configoption3": "off", "configoptions": map[string]any{"Malware scan": "1"}}))
	if st = settings(domain); st.Files.Enabled {
		t.Fatalf("a product with malware scans off: %+v", st.Files)
	}
	ok("ChangePackage", with(map[string]any{"configoption3": "included", "configoptions": map[string]any{"Malware scan": "0"}}))
	if st = settings(domain); !st.Files.Enabled || st.Files.EveryHours != 12 {
		t.Fatalf("a product with malware scans included: %+v", st.Files)
	}

	// Settings the module cannot use are readable errors, and change nothing.
	fails("ChangePackage", with(map[string]any{"configoption3": "sometimes"}), "manual, off, included or add-on")
	fails("ChangePackage", with(map[string]any{"configoptions": map[string]any{"Malware scan": "weekly"}}), "Malware scan")
	fails("ChangePackage", with(map[string]any{"configoption4": "9999"}), "720")
	fails("ChangePackage", with(map[string]any{"username": "../other"}), "{username}")
	fails("ChangePackage", with(map[string]any{"configoption9": "/etc/{domain}"}), "files.source.path")
	if st = settings(domain); st.Files.Source.Path != root || st.Files.EveryHours != 12 {
		t.Fatalf("a refused change changed the settings: %+v", st)
	}

	// Client area: Scan now (twice: the second finds it queued), the scan,
	// its findings listed.
	ok("ScanNow", params)
	ok("ScanNow", params)
	if js, _ := s.pal.Service.ScanJobs(ctx, s.pal.Caller, domain, "", 10); len(js) != 1 || js[0].Kind != core.ScanFiles || js[0].State != core.JobQueued {
		t.Fatalf("jobs after Scan now: %+v", js)
	}
	s.run(t, s.pal.Caller, domain, core.ScanFiles)
	if fn := call("ClientAreaCustomButtonArray", params).(map[string]any); fn["Scan now"] != "ScanNow" {
		t.Fatalf("client area buttons: %v", fn)
	}
	if fn := call("ClientAreaAllowedFunctions", params).([]any); len(fn) != 2 {
		t.Fatalf("client area functions: %v", fn)
	}
	page := call("ClientArea", params).(string)
	for _, want := range []string{"Security scan and backups", "wp-content/uploads/x.php", "index.php", "a=ScanNow", "No backup yet", "<iframe"} {
		if !strings.Contains(page, want) {
			t.Fatalf("client area without %q: %s", want, page)
		}
	}

	// A backup, listed with a restore form; restored from the client area.
	if _, err := s.pal.Service.RequestScan(ctx, s.pal.Caller, domain, core.ScanBackup); err != nil {
		t.Fatal(err)
	}
	s.run(t, s.pal.Caller, domain, core.ScanBackup)
	backups, err := s.pal.Service.Backups(ctx, s.pal.Caller, domain, 10)
	if err != nil || len(backups) != 1 {
		t.Fatalf("backups: %+v %v", backups, err)
	}
	page = call("ClientArea", params).(string)
	if !strings.Contains(page, `name="snapshot" value="`+backups[0].Snapshot+`"`) || !strings.Contains(page, "a=RestoreBackup") {
		t.Fatalf("client area without the backup's restore form: %s", page)
	}
	if err := os.Remove(filepath.Join(root, "readme.txt")); err != nil {
		t.Fatal(err)
	}
	fails("RestoreBackup", params, "Choose a backup", map[string]any{})
	// Only a posted form restores: a link with the snapshot does nothing.
	pb, _ := json.Marshal(params)
	qb, _ := json.Marshal(map[string]any{"snapshot": backups[0].Snapshot})
	var viaGet whmcsResult
	if err := json.Unmarshal(runPHP(t, bin, "testdata/whmcs_form_driver.php", module, "RestoreBackup", string(pb), string(qb), "get"), &viaGet); err != nil ||
		!strings.Contains(fmt.Sprint(viaGet.Result), "Choose a backup") {
		t.Fatalf("RestoreBackup from a link: %v %v", viaGet.Result, err)
	}
	fails("RestoreBackup", params, "path", map[string]any{"snapshot": backups[0].Snapshot, "path": "/etc/passwd"})
	ok("RestoreBackup", params, map[string]any{"snapshot": backups[0].Snapshot, "path": ""})
	s.run(t, s.pal.Caller, domain, core.ScanRestore)
	if _, err := os.Stat(filepath.Join(root, "readme.txt")); err != nil {
		t.Fatalf("readme.txt after the restore from the client area: %v", err)
	}

	// Another service of the same provider has its own backups: the
	// client area of the first cannot restore them into its website.
	blog := with(map[string]any{"serviceid": 202, "domain": "blog.example.com", "username": "blog", "configoption12": "on"})
	s.site(t, "blog")
	ok("CreateAccount", blog)
	if _, err := s.pal.Service.RequestScan(ctx, s.pal.Caller, "blog.example.com", core.ScanBackup); err != nil {
		t.Fatal(err)
	}
	s.run(t, s.pal.Caller, "blog.example.com", core.ScanBackup)
	if st := settings("blog.example.com"); !st.Files.AutoClean || st.Files.Source.Path != filepath.Join(s.www, "blog") || st.Backup.Repository != filepath.Join(s.backups, "blog.example.com") {
		t.Fatalf("blog's scan settings: %+v", st)
	}
	blogBackups, _ := s.pal.Service.Backups(ctx, s.pal.Caller, "blog.example.com", 10)
	if len(blogBackups) != 1 {
		t.Fatalf("blog's backups: %+v", blogBackups)
	}
	fails("RestoreBackup", params, "is not one of website shop.example.com's backups", map[string]any{"snapshot": blogBackups[0].Snapshot})
	if js, _ := s.pal.Service.ScanJobs(ctx, s.pal.Caller, domain, core.ScanRestore, 10); len(js) != 1 {
		t.Fatalf("restore jobs of %s: %d, want the one from before", domain, len(js))
	}

	// A service whose domain is another partner's website: every function
	// says so with Palisade's message and touches nothing there.
	_, other := s.otherPartner(t, "taken.example.com")
	taken := with(map[string]any{"serviceid": 203, "domain": "taken.example.com", "username": "taken"})
	for _, fn := range []string{"ScanNow", "ApplyScanSettings"} {
		fails(fn, taken, "taken.example.com is not registered")
	}
	fails("RestoreBackup", taken, "taken.example.com is not registered", map[string]any{"snapshot": backups[0].Snapshot})
	if page := call("ClientArea", taken).(string); !strings.Contains(page, "is not registered") || strings.Contains(page, "Security scan and backups") {
		t.Fatalf("client area of another partner's website: %s", page)
	}
	if js, err := s.pal.Service.ScanJobs(ctx, other, "taken.example.com", "", 10); err != nil || len(js) != 0 {
		t.Fatalf("jobs of the other partner's website: %+v %v", js, err)
	}
	if st, _ := s.pal.Service.WebsiteScanSettings(ctx, other, "taken.example.com"); st.Files.Enabled || st.Backup.Repository != "" {
		t.Fatalf("the other partner's scan settings changed: %+v", st)
	}

	// A product that manages no scanning shows no panel and writes nothing.
	plain := with(map[string]any{"serviceid": 204, "domain": "plain.example.com", "configoption3": "", "configoption5": "", "configoption7": "",
		"configoption9": "", "configoption10": ""})
	ok("CreateAccount", plain)
	if st := settings("plain.example.com"); st.Files.Enabled || st.Backup.Enabled || st.Files.Source.Kind != "" {
		t.Fatalf("a product without scanning: %+v", st)
	}
	if page := call("ClientArea", plain).(string); strings.Contains(page, "Security scan") {
		t.Fatalf("client area of a website without scanning: %s", page)
	}
	fails("ScanNow", plain, "has no file source")
}
