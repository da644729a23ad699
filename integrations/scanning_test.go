package integrations

import (
	"bytes"
	"context"
	"encoding/json"
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
		b, _ := json.Marshal(args)
		var a phpAnswer
		out := runPHP(t, bin, "testdata/client_call.php", "php/src", s.pal.URL, key, method, string(b))
		if err := json.Unmarshal(out, &a); err != nil {
			t.Fatalf("%s: %v: %s", method, err, out)
		}
		return a
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
