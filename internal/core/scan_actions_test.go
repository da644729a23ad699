package core_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// actionFixture: partner a with customers jane (owns shop.example.com)
// and bob (owns blog.example.com), partner b; shop's files scanned, with
// two files findings and one patch finding recorded by a finished job.
type actionFixture struct {
	*fixture
	a, b, jane, bob core.Caller
	shop, blog      core.Website
	shell, inject   core.Finding // files findings of shop
	vuln            core.Finding // a patch finding of shop
	blogFinding     core.Finding // a files finding of blog
}

func newActionFixture(t *testing.T, db *store.DB) *actionFixture {
	t.Helper()
	ctx := context.Background()
	f := newFixture(t, db, func(c *core.Config) {
		c.ScanRoots = []string{"/var/www"}
		c.BackupRoots = []string{"/srv/backups"}
	})
	x := &actionFixture{fixture: f, a: f.partner(t, "a", 0), b: f.partner(t, "b", 0)}
	mk := func(email, domain, root string) (core.Caller, core.Website) {
		sub, _, err := f.svc.CreateSubaccount(ctx, x.a, core.SubaccountCreate{Email: email}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		w, _, err := f.svc.CreateWebsite(ctx, x.a, core.WebsiteCreate{Domain: domain, SubaccountID: sub.ID}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SetWebsiteScanSettings(ctx, x.a, domain, core.ScanSettings{
			Files:    core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "local", Path: root}},
			Patch:    core.PatchScanSettings{Enabled: true},
			Database: core.DBScanSettings{Host: "127.0.0.1", User: "shop", Name: strings.Split(domain, ".")[0], Password: "pw"},
			Backup: core.BackupScanSettings{Enabled: true, Repository: "/srv/backups/" + strings.Split(domain, ".")[0],
				RepositoryPassword: "correct horse"},
		}); err != nil {
			t.Fatal(err)
		}
		return core.Caller{Role: core.RoleSubaccount, PartnerID: x.a.PartnerID, SubaccountID: sub.ID, Protocol: core.ProtocolSSO, Actor: email}, w
	}
	x.jane, x.shop = mk("jane@example.com", "shop.example.com", "/var/www/shop")
	x.bob, x.blog = mk("bob@example.com", "blog.example.com", "/var/www/blog")

	files := x.runJob(t, x.shop, core.ScanFiles, func(j core.ScanJob) {
		found := []core.Finding{
			{Location: "shell.php", Signature: "Palisade.PHP.Webshell.EvalRequest", Class: "php-webshell", Severity: "critical", SHA256: strings.Repeat("a", 64)},
			{Location: "index.php", Signature: "Palisade.PHP.Obfuscated.EvalBase64", Class: "php-obfuscated", Severity: "high", SHA256: strings.Repeat("b", 64)},
		}
		if _, _, err := f.svc.RecordFindings(ctx, j, found, true); err != nil {
			t.Fatal(err)
		}
	})
	_ = files
	x.runJob(t, x.shop, core.ScanPatch, func(j core.ScanJob) {
		if _, _, err := f.svc.RecordFindings(ctx, j, []core.Finding{{Location: "wordpress:plugin:forms", Signature: "PAL-TEST-1", Class: "vulnerable", Severity: "high"}}, true); err != nil {
			t.Fatal(err)
		}
	})
	x.runJob(t, x.blog, core.ScanFiles, func(j core.ScanJob) {
		if _, _, err := f.svc.RecordFindings(ctx, j, []core.Finding{{Location: "up.php", Signature: "Palisade.PHP.Webshell.EvalRequest", Severity: "critical"}}, true); err != nil {
			t.Fatal(err)
		}
	})
	all, err := f.svc.Findings(ctx, x.a, x.shop.Domain, core.FindingFilter{})
	if err != nil || len(all) != 3 {
		t.Fatalf("findings: %+v %v", all, err)
	}
	for _, fd := range all {
		switch fd.Location {
		case "shell.php":
			x.shell = fd
		case "index.php":
			x.inject = fd
		default:
			x.vuln = fd
		}
	}
	bl, err := f.svc.Findings(ctx, x.a, x.blog.Domain, core.FindingFilter{})
	if err != nil || len(bl) != 1 {
		t.Fatalf("blog findings: %+v %v", bl, err)
	}
	x.blogFinding = bl[0]
	return x
}

// runJob asks for a job of kind on w, claims it, lets work record into it
// and finishes it.
func (x *actionFixture) runJob(t *testing.T, w core.Website, kind core.ScanKind, work func(core.ScanJob)) core.ScanJob {
	t.Helper()
	ctx := context.Background()
	if _, err := x.svc.RequestScan(ctx, x.a, w.Domain, kind); err != nil {
		t.Fatal(err)
	}
	return x.claimAndFinish(t, kind, work, nil)
}

// claimAndFinish claims the next job (which must be of kind), runs work
// and finishes it with summary.
func (x *actionFixture) claimAndFinish(t *testing.T, kind core.ScanKind, work func(core.ScanJob), summary any) core.ScanJob {
	t.Helper()
	ctx := context.Background()
	j, ok, err := x.svc.ClaimScanJob(ctx, "node-1", time.Minute)
	if err != nil || !ok || j.Kind != kind {
		t.Fatalf("claim %s: %+v %v %v", kind, j, ok, err)
	}
	if work != nil {
		work(j)
	}
	if err := x.svc.FinishScanJob(ctx, j, summary, ""); err != nil {
		t.Fatal(err)
	}
	return j
}

// TestFindingActions: the website's partner and customer ask for a
// quarantine, a restore or a clean of one finding; strangers (a customer
// of the same partner, another partner) get not_found; bad ids and
// actions, wrong states and kinds are refused with a clear error; one
// action per finding at a time, several findings at once; the node reads
// the action and records its result, and a restore follows a quarantine.
func TestFindingActions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		x := newActionFixture(t, db)
		svc := x.svc

		for name, c := range map[string]core.Caller{"bob (same partner)": x.bob, "partner b": x.b} {
			_, err := svc.RequestFindingAction(ctx, c, x.shop.Domain, x.shell.ID, core.ActionQuarantine)
			wantErrCode(t, err, core.ENOTFOUND, name+" quarantining")
			_, err = svc.RequestFindingAction(ctx, c, "nosuch.example.com", x.shell.ID, core.ActionQuarantine)
			wantErrCode(t, err, core.ENOTFOUND, name+" on an unknown domain")
		}
		// bob names his own website and shop's finding: not found either.
		_, err := svc.RequestFindingAction(ctx, x.bob, x.blog.Domain, x.shell.ID, core.ActionQuarantine)
		wantErrCode(t, err, core.ENOTFOUND, "another website's finding through one's own website")
		_, err = svc.RequestFindingAction(ctx, x.jane, x.shop.Domain, x.blogFinding.ID, core.ActionQuarantine)
		wantErrCode(t, err, core.ENOTFOUND, "jane naming blog's finding")

		for _, id := range []int64{0, -3} {
			_, err = svc.RequestFindingAction(ctx, x.jane, x.shop.Domain, id, core.ActionQuarantine)
			wantErrCode(t, err, core.EINVALID, "finding id "+strconv.FormatInt(id, 10))
		}
		_, err = svc.RequestFindingAction(ctx, x.jane, x.shop.Domain, x.shell.ID, "delete")
		wantErrCode(t, err, core.EINVALID, "an unknown action")
		if !strings.Contains(err.Error(), "quarantine, restore or clean") {
			t.Errorf("the unknown action's message: %v", err)
		}
		_, err = svc.RequestFindingAction(ctx, x.jane, x.shop.Domain, 99999, core.ActionQuarantine)
		wantErrCode(t, err, core.ENOTFOUND, "an unknown finding")
		_, err = svc.RequestFindingAction(ctx, x.jane, x.shop.Domain, x.vuln.ID, core.ActionQuarantine)
		wantErrCode(t, err, core.EPRECONDITION, "a patch finding")
		_, err = svc.RequestFindingAction(ctx, x.jane, x.shop.Domain, x.shell.ID, core.ActionRestore)
		wantErrCode(t, err, core.EPRECONDITION, "restoring an open finding")

		// The customer quarantines one file; the partner cleans another
		// at the same time; a second action on the same finding waits.
		jq, err := svc.RequestFindingAction(ctx, x.jane, x.shop.Domain, x.shell.ID, core.ActionQuarantine)
		if err != nil || jq.Kind != core.ScanAction || jq.Target != "finding:"+strconv.FormatInt(x.shell.ID, 10) || jq.State != core.JobQueued {
			t.Fatalf("quarantine: %+v %v", jq, err)
		}
		_, err = svc.RequestFindingAction(ctx, x.a, x.shop.Domain, x.shell.ID, core.ActionClean)
		wantErrCode(t, err, core.ECONFLICT, "a second action on the same finding")
		jc, err := svc.RequestFindingAction(ctx, x.a, x.shop.Domain, x.inject.ID, core.ActionClean)
		if err != nil {
			t.Fatal(err)
		}
		// A scan of the website may still be asked for beside them.
		if _, err := svc.RequestScan(ctx, x.jane, x.shop.Domain, core.ScanFiles); err != nil {
			t.Fatalf("a scan beside pending actions: %v", err)
		}

		// The node: the quarantine first (oldest), then the clean.
		j, ok, err := svc.ClaimScanJob(ctx, "node-1", time.Minute)
		if err != nil || !ok || j.ID != jq.ID {
			t.Fatalf("claim: %+v %v %v", j, ok, err)
		}
		act, fd, err := svc.ActionJob(ctx, j)
		if err != nil || act.Action != core.ActionQuarantine || fd.ID != x.shell.ID || fd.Location != "shell.php" {
			t.Fatalf("ActionJob: %+v %+v %v", act, fd, err)
		}
		err = svc.FinishFindingAction(ctx, core.ScanJob{ID: j.ID, PartnerID: j.PartnerID, WebsiteID: j.WebsiteID, Owner: "node-1#stolen"}, fd.ID, core.FindingQuarantined, "q1")
		wantErrCode(t, err, core.ECONFLICT, "recording under a claim that is not the job's")
		if err := svc.FinishFindingAction(ctx, j, fd.ID, core.FindingQuarantined, "0123456789abcdef0123456789abcdef"); err != nil {
			t.Fatal(err)
		}
		if err := svc.FinishScanJob(ctx, j, map[string]any{"state": "quarantined"}, ""); err != nil {
			t.Fatal(err)
		}
		got, _ := svc.Findings(ctx, x.jane, x.shop.Domain, core.FindingFilter{State: core.FindingQuarantined})
		if len(got) != 1 || got[0].ID != x.shell.ID || got[0].QuarantineID != "0123456789abcdef0123456789abcdef" {
			t.Fatalf("quarantined: %+v", got)
		}
		_, err = svc.RequestFindingAction(ctx, x.jane, x.shop.Domain, x.shell.ID, core.ActionQuarantine)
		wantErrCode(t, err, core.EPRECONDITION, "quarantining a quarantined finding")

		// The clean's finding changed under it (ignored meanwhile): the
		// node is told, and touches nothing.
		if _, err := svc.IgnoreFinding(ctx, x.jane, x.shop.Domain, x.inject.ID, true); err != nil {
			t.Fatal(err)
		}
		j, ok, err = svc.ClaimScanJob(ctx, "node-1", time.Minute)
		if err != nil || !ok || j.ID != jc.ID {
			t.Fatalf("claim the clean: %+v %v %v", j, ok, err)
		}
		_, _, err = svc.ActionJob(ctx, j)
		wantErrCode(t, err, core.EPRECONDITION, "a clean of a finding ignored since")
		if err := svc.FinishScanJob(ctx, j, nil, err.Error()); err != nil {
			t.Fatal(err)
		}
		x.claimAndFinish(t, core.ScanFiles, nil, map[string]any{})

		// Restore: the customer asks, the node puts it back.
		jr, err := svc.RequestFindingAction(ctx, x.jane, x.shop.Domain, x.shell.ID, core.ActionRestore)
		if err != nil {
			t.Fatal(err)
		}
		x.claimAndFinish(t, core.ScanAction, func(j core.ScanJob) {
			act, fd, err := svc.ActionJob(ctx, j)
			if err != nil || j.ID != jr.ID || act.Action != core.ActionRestore || fd.QuarantineID == "" {
				t.Fatalf("restore job: %+v %+v %v", act, fd, err)
			}
			if err := svc.FinishFindingAction(ctx, j, fd.ID, core.FindingOpen, ""); err != nil {
				t.Fatal(err)
			}
		}, nil)
		got, _ = svc.Findings(ctx, x.jane, x.shop.Domain, core.FindingFilter{Kind: core.ScanFiles, State: core.FindingOpen})
		if len(got) != 1 || got[0].ID != x.shell.ID || got[0].QuarantineID != "" {
			t.Fatalf("restored: %+v", got)
		}

		// Concurrent requests on one finding: exactly one is queued.
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[string]int{}
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				c := x.jane
				if i%2 == 1 {
					c = x.a
				}
				_, err := svc.RequestFindingAction(ctx, c, x.shop.Domain, x.shell.ID, core.ActionQuarantine)
				mu.Lock()
				codes[core.ErrorCode(err)]++
				mu.Unlock()
			}(i)
		}
		wg.Wait()
		if codes[""] != 1 || codes[core.ECONFLICT] != 7 {
			t.Fatalf("8 concurrent requests: %v", codes)
		}

		// A paused website's files are not changed.
		st := core.StatusPaused
		if _, err := svc.UpdateWebsite(ctx, x.a, x.blog.Domain, core.WebsiteUpdate{Status: &st}, core.Match{}); err != nil {
			t.Fatal(err)
		}
		_, err = svc.RequestFindingAction(ctx, x.bob, x.blog.Domain, x.blogFinding.ID, core.ActionQuarantine)
		wantErrCode(t, err, core.EPRECONDITION, "a paused website")
	})
}

// TestMalwareEmail: a job finding new malware queues one email to the
// website's customer, however many files; the same findings seen again,
// and a patch check's advisories, queue none.
func TestMalwareEmail(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		x := newActionFixture(t, db)
		emails, err := x.svc.Emails(ctx, x.a, core.EmailFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var malware []core.Email
		for _, e := range emails {
			if e.Kind == core.EmailMalwareFound {
				malware = append(malware, e)
			}
		}
		// shop's scan (2 files) and blog's (1 file): one each; none for
		// the patch check.
		if len(malware) != 2 {
			t.Fatalf("malware emails: %+v", malware)
		}
		for _, e := range malware {
			switch e.WebsiteID {
			case x.shop.ID:
				if e.To != "jane@example.com" || !strings.Contains(e.Subject, "shop.example.com") || !strings.Contains(e.Body, ": 2 new finding(s)") || !strings.Contains(e.Body, "critical") {
					t.Errorf("shop's email: %+v", e)
				}
			case x.blog.ID:
				if e.To != "bob@example.com" || !strings.Contains(e.Body, ": 1 new finding(s)") {
					t.Errorf("blog's email: %+v", e)
				}
			default:
				t.Errorf("an email about website %d", e.WebsiteID)
			}
		}
		// Seen again: nothing new, no email.
		x.runJob(t, x.shop, core.ScanFiles, func(j core.ScanJob) {
			created, _, err := x.svc.RecordFindings(ctx, j, []core.Finding{{Location: "shell.php", Signature: "Palisade.PHP.Webshell.EvalRequest", Severity: "critical", SHA256: strings.Repeat("a", 64)},
				{Location: "index.php", Signature: "Palisade.PHP.Obfuscated.EvalBase64", Severity: "high", SHA256: strings.Repeat("b", 64)}}, true)
			if err != nil || created != 0 {
				t.Fatalf("seen again: %d %v", created, err)
			}
		})
		after, _ := x.svc.Emails(ctx, x.a, core.EmailFilter{})
		if len(after) != len(emails) {
			t.Fatalf("emails after a scan with nothing new: %d, before %d", len(after), len(emails))
		}

		// A job whose node died after recording new malware is claimed
		// again and finds more: the second claim's findings are saved
		// (on PostgreSQL a duplicate email key would have aborted the
		// transaction) and tell of it once more.
		if _, err := x.svc.RequestScan(ctx, x.a, x.shop.Domain, core.ScanFiles); err != nil {
			t.Fatal(err)
		}
		j1, ok, err := x.svc.ClaimScanJob(ctx, "node-1", time.Minute)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		if n, _, err := x.svc.RecordFindings(ctx, j1, []core.Finding{{Location: "a.php", Signature: "Palisade.PHP.Webshell.EvalRequest", Severity: "critical"}}, false); err != nil || n != 1 {
			t.Fatalf("first claim: %d %v", n, err)
		}
		x.advance(2 * time.Minute)
		j2, ok, err := x.svc.ClaimScanJob(ctx, "node-2", time.Minute)
		if err != nil || !ok || j2.ID != j1.ID {
			t.Fatalf("the claim after the lease ran out: %+v %v %v", j2, ok, err)
		}
		if n, _, err := x.svc.RecordFindings(ctx, j2, []core.Finding{{Location: "b.php", Signature: "Palisade.PHP.Webshell.EvalRequest", Severity: "critical"}}, false); err != nil || n != 1 {
			t.Fatalf("second claim: %d %v", n, err)
		}
		if got, _ := x.svc.Findings(ctx, x.a, x.shop.Domain, core.FindingFilter{Kind: core.ScanFiles}); len(got) != 4 {
			t.Fatalf("findings after the second claim: %+v", got)
		}
		final, _ := x.svc.Emails(ctx, x.a, core.EmailFilter{})
		if len(final) != len(emails)+2 {
			t.Fatalf("emails after two claims with new malware: %d, want %d", len(final), len(emails)+2)
		}
	})
}

// backupSummary is a backup job's summary as scanrun stores it (restic's
// snapshots as internal/backup marshals them).
func backupSummary(files, db string, at time.Time, removed ...string) map[string]any {
	snap := func(id string, paths []string, n int64) map[string]any {
		return map[string]any{"ID": id, "ShortID": id[:8], "Time": at, "Paths": paths, "Summary": map[string]any{"TotalFiles": n, "TotalBytes": n * 1000}}
	}
	m := map[string]any{"files": snap(files, []string{"/var/www/shop"}, 42)}
	if db != "" {
		m["database"] = snap(db, []string{"/shop.sql"}, 1)
	}
	if len(removed) > 0 {
		var r []map[string]any
		for _, id := range removed {
			r = append(r, map[string]any{"ID": id})
		}
		m["forget"] = map[string]any{"Kept": []any{}, "Removed": r}
	}
	return m
}

func hexID(c byte) string { return strings.Repeat(string(c), 64) }

// TestBackupsAndRestore: the backups a website's jobs saved are listed
// (minus those a later retention removed); a restore names one of them
// and a clean relative path; everything else is refused with a clear
// error, and strangers get not_found.
func TestBackupsAndRestore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		x := newActionFixture(t, db)
		svc := x.svc
		t1 := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
		x.runJob(t, x.shop, core.ScanBackup, nil) // a job that saved no snapshot lists nothing
		if _, err := svc.RequestScan(ctx, x.a, x.shop.Domain, core.ScanBackup); err != nil {
			t.Fatal(err)
		}
		x.claimAndFinish(t, core.ScanBackup, nil, backupSummary(hexID('a'), hexID('d'), t1))
		if _, err := svc.RequestScan(ctx, x.a, x.shop.Domain, core.ScanBackup); err != nil {
			t.Fatal(err)
		}
		x.claimAndFinish(t, core.ScanBackup, nil, backupSummary(hexID('b'), "", t1.Add(24*time.Hour)))
		if _, err := svc.RequestScan(ctx, x.a, x.shop.Domain, core.ScanBackup); err != nil {
			t.Fatal(err)
		}
		// The third backup's retention removed the first.
		x.claimAndFinish(t, core.ScanBackup, nil, backupSummary(hexID('c'), hexID('e'), t1.Add(48*time.Hour), hexID('a'), hexID('d')))
		// blog's own backup.
		if _, err := svc.RequestScan(ctx, x.a, x.blog.Domain, core.ScanBackup); err != nil {
			t.Fatal(err)
		}
		x.claimAndFinish(t, core.ScanBackup, nil, backupSummary(hexID('f'), "", t1))

		list, err := svc.Backups(ctx, x.jane, x.shop.Domain, 0)
		if err != nil || len(list) != 2 {
			t.Fatalf("backups: %+v %v", list, err)
		}
		if list[0].Snapshot != hexID('c') || !list[0].Database || list[0].DatabaseSnapshot != hexID('e') || list[0].DatabaseFile != "/shop.sql" ||
			list[0].Files != 42 || list[0].Bytes != 42000 || !list[0].Time.Equal(t1.Add(48*time.Hour)) || list[0].ShortID != "cccccccc" {
			t.Errorf("newest backup: %+v", list[0])
		}
		if list[1].Snapshot != hexID('b') || list[1].Database {
			t.Errorf("second backup: %+v", list[1])
		}
		if one, _ := svc.Backups(ctx, x.a, x.shop.Domain, 1); len(one) != 1 || one[0].Snapshot != hexID('c') {
			t.Errorf("limit 1: %+v", one)
		}

		for name, c := range map[string]core.Caller{"bob (same partner)": x.bob, "partner b": x.b} {
			_, err := svc.Backups(ctx, c, x.shop.Domain, 0)
			wantErrCode(t, err, core.ENOTFOUND, name+" listing backups")
			_, err = svc.RequestRestore(ctx, c, x.shop.Domain, core.RestoreRequest{Snapshot: hexID('c')})
			wantErrCode(t, err, core.ENOTFOUND, name+" restoring")
		}
		// bob names shop's snapshot on his own website.
		_, err = svc.RequestRestore(ctx, x.bob, x.blog.Domain, core.RestoreRequest{Snapshot: hexID('c')})
		wantErrCode(t, err, core.ENOTFOUND, "another website's snapshot")

		bad := map[string]core.RestoreRequest{
			"no snapshot":         {},
			"not hex":             {Snapshot: "latest"},
			"upper-case":          {Snapshot: strings.ToUpper(hexID('c'))},
			"short":               {Snapshot: "ccc"},
			"absolute":            {Snapshot: hexID('c'), Path: "/etc/passwd"},
			"dot-dot":             {Snapshot: hexID('c'), Path: "../other/index.php"},
			"dot-dot inside":      {Snapshot: hexID('c'), Path: "wp-content/../../x"},
			"NUL":                 {Snapshot: hexID('c'), Path: "index.php\x00.jpg"},
			"not clean":           {Snapshot: hexID('c'), Path: "wp-content/./x"},
			"empty part":          {Snapshot: hexID('c'), Path: "wp-content//x"},
			"dot":                 {Snapshot: hexID('c'), Path: "."},
			"dot slash":           {Snapshot: hexID('c'), Path: "./"},
			"not UTF-8":           {Snapshot: hexID('c'), Path: "a\xff"},
			"no dump":             {Snapshot: hexID('b'), Database: true},
			"a path in a db dump": {Snapshot: hexID('e'), Path: "index.php"},
		}
		for name, r := range bad {
			_, err := svc.RequestRestore(ctx, x.jane, x.shop.Domain, r)
			wantErrCode(t, err, core.EINVALID, name)
		}
		for name, id := range map[string]string{"unknown": hexID('9'), "removed by retention": hexID('a'), "removed dump": hexID('d'), "blog's": hexID('f')} {
			_, err := svc.RequestRestore(ctx, x.jane, x.shop.Domain, core.RestoreRequest{Snapshot: id})
			wantErrCode(t, err, core.ENOTFOUND, name+" snapshot")
		}

		// Good: a folder of the newest backup with its database, by its
		// short ID; then nothing more until it ran.
		j, err := svc.RequestRestore(ctx, x.jane, x.shop.Domain, core.RestoreRequest{Snapshot: "cccccccc", Path: "wp-content/uploads/", Database: true})
		if err != nil || j.Kind != core.ScanRestore {
			t.Fatalf("restore: %+v %v", j, err)
		}
		_, err = svc.RequestRestore(ctx, x.a, x.shop.Domain, core.RestoreRequest{Snapshot: hexID('b')})
		wantErrCode(t, err, core.ECONFLICT, "a second restore")
		plan, err := svc.RestoreJob(j)
		if err != nil || plan.FilesSnapshot != hexID('c') || plan.Include != "/wp-content/uploads" || plan.DatabaseSnapshot != hexID('e') || plan.DatabaseFile != "/shop.sql" {
			t.Fatalf("plan: %+v %v", plan, err)
		}
		x.claimAndFinish(t, core.ScanRestore, nil, nil)
		// The database alone, by its dump's snapshot.
		j, err = svc.RequestRestore(ctx, x.a, x.shop.Domain, core.RestoreRequest{Snapshot: hexID('e')})
		if err != nil {
			t.Fatal(err)
		}
		if plan, err := svc.RestoreJob(j); err != nil || plan.FilesSnapshot != "" || plan.DatabaseSnapshot != hexID('e') {
			t.Fatalf("database plan: %+v %v", plan, err)
		}
		var params map[string]any
		if err := json.Unmarshal([]byte(j.Params), &params); err != nil {
			t.Fatal(err)
		}
		// RequestScan does not take the action kinds.
		_, err = svc.RequestScan(ctx, x.a, x.shop.Domain, core.ScanRestore)
		wantErrCode(t, err, core.EINVALID, "RequestScan of a restore")
	})
}

// TestQueueDueScans: every_hours queues a "schedule" job of each kind a
// website may run, once the last job of that kind is that old; never for
// a paused website or a kind not switched on; several nodes at once queue
// each job once.
func TestQueueDueScans(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, func(c *core.Config) {
			c.ScanRoots = []string{"/var/www"}
			c.BackupRoots = []string{"/srv/backups"}
		})
		a := f.partner(t, "a", 0)
		site := func(domain string, st core.ScanSettings) core.Website {
			w, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: domain}, core.Idem{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.SetWebsiteScanSettings(ctx, a, domain, st); err != nil {
				t.Fatal(err)
			}
			return w
		}
		shop := site("shop.example.com", core.ScanSettings{
			Files:  core.FileScanSettings{Enabled: true, EveryHours: 6, Source: core.FileSource{Kind: "local", Path: "/var/www/shop"}},
			Patch:  core.PatchScanSettings{Enabled: true}, // on demand only
			Backup: core.BackupScanSettings{Enabled: true, EveryHours: 24, Repository: "/srv/backups/shop", RepositoryPassword: "pw"},
		})
		// Switched off by the partner, though it has a schedule.
		site("off.example.com", core.ScanSettings{Files: core.FileScanSettings{EveryHours: 1, Source: core.FileSource{Kind: "local", Path: "/var/www/off"}}})
		paused := site("paused.example.com", core.ScanSettings{Files: core.FileScanSettings{Enabled: true, EveryHours: 1, Source: core.FileSource{Kind: "local", Path: "/var/www/paused"}}})
		st := core.StatusPaused
		if _, err := f.svc.UpdateWebsite(ctx, a, paused.Domain, core.WebsiteUpdate{Status: &st}, core.Match{}); err != nil {
			t.Fatal(err)
		}
		deleted := site("gone.example.com", core.ScanSettings{Files: core.FileScanSettings{Enabled: true, EveryHours: 1, Source: core.FileSource{Kind: "local", Path: "/var/www/gone"}}})
		if _, err := f.svc.DeleteWebsite(ctx, a, deleted.Domain, core.Match{}); err != nil {
			t.Fatal(err)
		}

		now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
		// Four nodes at once: the files scan and the backup, once.
		var wg sync.WaitGroup
		var mu sync.Mutex
		total := 0
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := f.svc.QueueDueScans(ctx, now)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				total += n
				mu.Unlock()
			}()
		}
		wg.Wait()
		jobs, _ := f.svc.ScanJobs(ctx, a, shop.Domain, "", 0)
		if total != 2 || len(jobs) != 2 {
			t.Fatalf("first pass: queued %d, jobs %+v", total, jobs)
		}
		for _, j := range jobs {
			if j.Trigger != "schedule" || (j.Kind != core.ScanFiles && j.Kind != core.ScanBackup) {
				t.Errorf("job: %+v", j)
			}
		}
		for _, d := range []string{"off.example.com", "paused.example.com"} {
			if js, _ := f.svc.ScanJobs(ctx, a, d, "", 0); len(js) != 0 {
				t.Errorf("%s got jobs: %+v", d, js)
			}
		}
		// The jobs run; 5 hours later nothing is due, 6 hours later the
		// files scan is.
		for i := 0; i < 2; i++ {
			j, ok, err := f.svc.ClaimScanJob(ctx, "n", time.Minute)
			if err != nil || !ok {
				t.Fatalf("claim: %v %v", ok, err)
			}
			if err := f.svc.FinishScanJob(ctx, j, nil, ""); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := f.svc.QueueDueScans(ctx, now.Add(5*time.Hour)); err != nil || n != 0 {
			t.Fatalf("5 hours on: %d %v", n, err)
		}
		if n, err := f.svc.QueueDueScans(ctx, now.Add(6*time.Hour)); err != nil || n != 1 {
			t.Fatalf("6 hours on: %d %v", n, err)
		}
		// Still queued 6 hours later (no node ran it): not queued twice.
		if n, err := f.svc.QueueDueScans(ctx, now.Add(12*time.Hour)); err != nil || n != 0 {
			t.Fatalf("while queued: %d %v", n, err)
		}
		// A day on: the backup is due again.
		j, ok, _ := f.svc.ClaimScanJob(ctx, "n", time.Minute)
		if !ok {
			t.Fatal("no job")
		}
		_ = f.svc.FinishScanJob(ctx, j, nil, "")
		if n, err := f.svc.QueueDueScans(ctx, now.Add(24*time.Hour)); err != nil || n != 2 {
			t.Fatalf("a day on: %d %v", n, err)
		}
	})
}
