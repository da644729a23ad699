package scanrun_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/malware/clamdtest"
	"github.com/palisadehq/palisade/internal/patchcheck"
	"github.com/palisadehq/palisade/internal/scanrun"
	"github.com/palisadehq/palisade/internal/secret"
	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/testenv/sitetree"
)

var t0 = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

type env struct {
	svc     *core.Service
	partner core.Caller
	site    core.Website
	root    string // the document root
	backups string
	runner  *scanrun.Runner
}

// newEnv: a service on SQLite, a partner, a website whose files are in a
// temporary document root under the allowed --scan-root.
func newEnv(t *testing.T, configure ...func(*core.Config)) *env {
	t.Helper()
	ctx := context.Background()
	db := storetest.SQLite(t)
	box, err := secret.NewBox(make([]byte, secret.KeySize), nil)
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	roots, backups := filepath.Join(base, "www"), filepath.Join(base, "backups")
	now := t0
	cfg := core.Config{PublicURL: "https://palisade.test", ScanRoots: []string{roots}, BackupRoots: []string{backups}}
	for _, fn := range configure {
		fn(&cfg)
	}
	svc := core.NewService(db, box, cfg, core.WithClock(func() time.Time { return now }))
	if _, err := svc.SeedPlans(ctx); err != nil {
		t.Fatal(err)
	}
	_, key, err := svc.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "host"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Authenticate(ctx, key, netip.MustParseAddr("127.0.0.1"), core.ProtocolREST)
	if err != nil {
		t.Fatal(err)
	}
	w, _, err := svc.CreateWebsite(ctx, p, core.WebsiteCreate{Domain: "shop.example.com"}, core.Idem{})
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(roots, "shop")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetWebsiteScanSettings(ctx, p, w.Domain, core.ScanSettings{Files: core.FileScanSettings{Enabled: true,
		Source: core.FileSource{Kind: "local", Path: root}}, Patch: core.PatchScanSettings{Enabled: true}}); err != nil {
		t.Fatal(err)
	}
	r := &scanrun.Runner{Service: svc, Node: "node-1", Dir: filepath.Join(base, "runner"), Lease: time.Minute, Now: func() time.Time { return now }}
	return &env{svc: svc, partner: p, site: w, root: root, backups: backups, runner: r}
}

func (e *env) runJob(t *testing.T, kind core.ScanKind) core.ScanJob {
	t.Helper()
	ctx := context.Background()
	j, err := e.svc.RequestScan(ctx, e.partner, e.site.Domain, kind)
	if err != nil {
		t.Fatal(err)
	}
	ran, err := e.runner.RunOnce(ctx)
	if err != nil || !ran {
		t.Fatalf("RunOnce: ran %v, %v", ran, err)
	}
	jobs, err := e.svc.ScanJobs(ctx, e.partner, e.site.Domain, kind, 1)
	if err != nil || len(jobs) != 1 || jobs[0].ID != j.ID {
		t.Fatalf("the job: %+v, %v", jobs, err)
	}
	return jobs[0]
}

// TestFilesJob: every harmless sample of each malware class in a website's
// files is found by the real clamd and recorded as a finding of the
// website; the clean files are not; the next scan is incremental; a
// sample removed is resolved.
func TestFilesJob(t *testing.T) {
	e := newEnv(t)
	e.runner.Clamd = clamdtest.Start(t)
	samples := sitetree.Copy(t, "../malware/testdata/samples", filepath.Join(e.root, "wp-content", "uploads"))
	clean := sitetree.Copy(t, "../patchcheck/testdata/sites/wordpress", e.root)
	j := e.runJob(t, core.ScanFiles)
	if j.State != core.JobDone {
		t.Fatalf("job: %+v", j)
	}
	var sum scanrun.FilesSummary
	if err := json.Unmarshal([]byte(j.Summary), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.FilesSeen != samples+clean || sum.Findings != samples || sum.New != samples {
		t.Fatalf("summary: seen %d (want %d), findings %d new %d (want %d)", sum.FilesSeen, samples+clean, sum.Findings, sum.New, samples)
	}
	found, err := e.svc.Findings(context.Background(), e.partner, e.site.Domain, core.FindingFilter{Kind: core.ScanFiles})
	if err != nil || len(found) != samples {
		t.Fatalf("findings: %d, %v", len(found), err)
	}
	for _, f := range found {
		if !strings.HasPrefix(f.Location, "wp-content/uploads/") || f.Signature == "" || f.Class == "" || f.Severity == "" || len(f.SHA256) != 64 {
			t.Errorf("finding: %+v", f)
		}
	}

	// Again: nothing changed, nothing streamed to clamd; then one sample
	// goes and its finding is resolved.
	e.runner.Now = func() time.Time { return t0.Add(time.Hour) }
	gone := found[0].Location
	if err := os.Remove(filepath.Join(e.root, filepath.FromSlash(gone))); err != nil {
		t.Fatal(err)
	}
	j = e.runJob(t, core.ScanFiles)
	sum = scanrun.FilesSummary{}
	if err := json.Unmarshal([]byte(j.Summary), &sum); err != nil {
		t.Fatal(err)
	}
	if j.State != core.JobDone || sum.FilesScanned != 0 || sum.FilesUnchanged != samples+clean-1 || sum.Resolved != 1 || sum.New != 0 {
		t.Fatalf("the second scan: %+v, %s", j, j.Summary)
	}
	open, _ := e.svc.Findings(context.Background(), e.partner, e.site.Domain, core.FindingFilter{State: core.FindingOpen})
	if len(open) != samples-1 {
		t.Fatalf("open findings after the removal: %d, want %d", len(open), samples-1)
	}
}

// TestPatchJob: a WordPress tree with a plugin in a vulnerable version from
// the fixture feed is reported, with the advisory's severity.
func TestPatchJob(t *testing.T) {
	e := newEnv(t)
	sitetree.Copy(t, "../patchcheck/testdata/sites/wordpress", e.root)
	feed, err := patchcheck.ReadDir("../patchcheck/testdata/feed", patchcheck.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.runner.Feed = func(context.Context) (*patchcheck.Feed, error) { return feed, nil }
	j := e.runJob(t, core.ScanPatch)
	if j.State != core.JobDone {
		t.Fatalf("job: %+v", j)
	}
	found, err := e.svc.Findings(context.Background(), e.partner, e.site.Domain, core.FindingFilter{Kind: core.ScanPatch})
	if err != nil {
		t.Fatal(err)
	}
	vulnerable := 0
	for _, f := range found {
		if f.Class == "vulnerable" {
			vulnerable++
			if !strings.HasPrefix(f.Signature, "PAL-TEST-") || f.Severity == "" || !strings.Contains(f.Location, ":plugin:") && !strings.Contains(f.Location, ":core:") && !strings.Contains(f.Location, ":theme:") {
				t.Errorf("finding: %+v", f)
			}
		}
	}
	if vulnerable == 0 {
		t.Fatalf("no vulnerable component reported: %+v (summary %s)", found, j.Summary)
	}

	// Without a feed the job fails and says why.
	e.runner.Feed = nil
	j = e.runJob(t, core.ScanPatch)
	if j.State != core.JobFailed || !strings.Contains(j.Error, "feed") {
		t.Fatalf("without a feed: %+v", j)
	}
}

// TestBackupJob: a backup job puts the website's files into its restic
// repository under the allowed backup root and records the snapshot.
func TestBackupJob(t *testing.T) {
	if _, err := exec.LookPath("restic"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: restic is not installed")
		}
		t.Skip("restic is not installed (Debian package restic)")
	}
	e := newEnv(t)
	ctx := context.Background()
	sitetree.Copy(t, "../patchcheck/testdata/sites/wordpress", e.root)
	if _, err := e.svc.SetWebsiteScanSettings(ctx, e.partner, e.site.Domain, core.ScanSettings{
		Files:  core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "local", Path: e.root}},
		Backup: core.BackupScanSettings{Enabled: true, Repository: filepath.Join(e.backups, "shop"), RepositoryPassword: "correct horse", KeepDaily: 7},
	}); err != nil {
		t.Fatal(err)
	}
	j := e.runJob(t, core.ScanBackup)
	if j.State != core.JobDone {
		t.Fatalf("job: %+v", j)
	}
	var sum scanrun.BackupSummary
	if err := json.Unmarshal([]byte(j.Summary), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Files == nil || sum.Files.ID == "" || sum.Forget == nil || len(sum.Forget.Kept) != 1 {
		t.Fatalf("summary: %s", j.Summary)
	}
	if strings.Contains(j.Summary, "correct horse") {
		t.Fatal("the repository password is in the job's summary")
	}
}

// TestAutoClean: with auto_clean, known injections are removed from the
// website's files (each file back to its original, byte for byte, its
// finding "cleaned" and naming the quarantined original); what cannot be
// cleaned unambiguously stays as it is, its finding open.
func TestAutoClean(t *testing.T) {
	e := newEnv(t)
	e.runner.Clamd = clamdtest.Start(t)
	ctx := context.Background()
	put := func(src, dst string) []byte {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.root, dst), b, 0o640); err != nil {
			t.Fatal(err)
		}
		return b
	}
	put("../malware/testdata/clean/php-prepend/infected.php", "index.php")
	put("../malware/testdata/clean/js-append/infected.js", "app.js")
	whole := put("../malware/testdata/clean/not-cleanable/whole-file.php", "shell.php")
	if _, err := e.svc.SetWebsiteScanSettings(ctx, e.partner, e.site.Domain, core.ScanSettings{Files: core.FileScanSettings{Enabled: true, AutoClean: true,
		Source: core.FileSource{Kind: "local", Path: e.root}}}); err != nil {
		t.Fatal(err)
	}
	j := e.runJob(t, core.ScanFiles)
	var sum scanrun.FilesSummary
	if err := json.Unmarshal([]byte(j.Summary), &sum); err != nil || j.State != core.JobDone {
		t.Fatalf("job %+v: %v", j, err)
	}
	if sum.Findings != 3 || sum.Cleaned != 2 || len(sum.CleanErrors) != 0 {
		t.Fatalf("summary: %s", j.Summary)
	}
	for file, orig := range map[string]string{"index.php": "../malware/testdata/clean/php-prepend/original.php", "app.js": "../malware/testdata/clean/js-append/original.js"} {
		got, _ := os.ReadFile(filepath.Join(e.root, file))
		want, _ := os.ReadFile(orig)
		if string(got) != string(want) {
			t.Errorf("%s after cleaning differs from its original", file)
		}
		if st, _ := os.Stat(filepath.Join(e.root, file)); st.Mode().Perm() != 0o640 {
			t.Errorf("%s lost its mode: %v", file, st.Mode())
		}
	}
	if got, _ := os.ReadFile(filepath.Join(e.root, "shell.php")); string(got) != string(whole) {
		t.Error("a file that cannot be cleaned was changed")
	}
	found, _ := e.svc.Findings(ctx, e.partner, e.site.Domain, core.FindingFilter{})
	for _, f := range found {
		switch f.Location {
		case "index.php", "app.js":
			if f.State != core.FindingCleaned || f.QuarantineID == "" {
				t.Errorf("cleaned finding: %+v", f)
			}
		case "shell.php":
			if f.State != core.FindingOpen {
				t.Errorf("uncleanable finding: %+v", f)
			}
		}
	}
	// The next scan sees the cleaned files clean: their findings resolve.
	e.runner.Now = func() time.Time { return t0.Add(time.Hour) }
	j = e.runJob(t, core.ScanFiles)
	sum = scanrun.FilesSummary{}
	if err := json.Unmarshal([]byte(j.Summary), &sum); err != nil || sum.Findings != 1 {
		t.Fatalf("the scan after cleaning: %s, %v", j.Summary, err)
	}
}

// TestSkippedFileKeepsFinding: a scan that could not read a file (here:
// grown past the size limit) does not resolve that file's finding.
func TestSkippedFileKeepsFinding(t *testing.T) {
	e := newEnv(t)
	e.runner.Clamd = clamdtest.Start(t)
	b, err := os.ReadFile("../malware/testdata/samples/php-webshell/EvalRequest.php")
	if err != nil {
		t.Fatal(err)
	}
	shell := filepath.Join(e.root, "shell.php")
	if err := os.WriteFile(shell, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if j := e.runJob(t, core.ScanFiles); !strings.Contains(j.Summary, `"findings":1`) {
		t.Fatalf("first scan: %s", j.Summary)
	}
	// The file grows past the limit the next scan uses: skipped, not read.
	if err := os.WriteFile(shell, append(b, make([]byte, 8192)...), 0o644); err != nil {
		t.Fatal(err)
	}
	e.runner.Scan.MaxFileSize = 4096
	e.runner.Now = func() time.Time { return t0.Add(time.Hour) }
	j := e.runJob(t, core.ScanFiles)
	if !strings.Contains(j.Summary, `"files_skipped":1`) || !strings.Contains(j.Summary, `"resolved":0`) {
		t.Fatalf("second scan: %s", j.Summary)
	}
	open, _ := e.svc.Findings(context.Background(), e.partner, e.site.Domain, core.FindingFilter{State: core.FindingOpen})
	if len(open) != 1 {
		t.Fatalf("the skipped file's finding is no longer open: %+v", open)
	}
}
