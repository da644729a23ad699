package core_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/secret"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestScanAgents: only a partner creates, lists and revokes its own scan
// agents; the key is answered once and kept hashed; names are unique
// among the agents that are not revoked; a partner has at most
// MaxScanAgents; a revoked key is refused.
func TestScanAgents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a, b := f.partner(t, "a", 0), f.partner(t, "b", 0)
		jane, _, err := f.svc.CreateSubaccount(ctx, a, core.SubaccountCreate{Email: "jane@example.com"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		janeC := core.Caller{Role: core.RoleSubaccount, PartnerID: a.PartnerID, SubaccountID: jane.ID, Protocol: core.ProtocolSSO, Actor: "jane"}
		for name, c := range map[string]core.Caller{"a customer": janeC, "the operator": core.Operator(), "nobody": {}} {
			_, _, err := f.svc.CreateScanAgent(ctx, c, "web01")
			wantErrCode(t, err, core.EFORBIDDEN, name+" creating an agent")
			_, err = f.svc.ScanAgents(ctx, c)
			wantErrCode(t, err, core.EFORBIDDEN, name+" listing agents")
		}
		for _, bad := range []string{"", "Web01", "web 01", "-web", strings.Repeat("a", 64), "web01/x"} {
			_, _, err := f.svc.CreateScanAgent(ctx, a, bad)
			wantErrCode(t, err, core.EINVALID, "agent name "+strconv.Quote(bad))
		}
		ag, key, err := f.svc.CreateScanAgent(ctx, a, "web01")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(key, core.AgentKeyPrefix) || ag.KeyHash != secret.Hash(key) || !strings.HasPrefix(key, ag.KeyPrefix) || len(ag.KeyPrefix) != 10 {
			t.Fatalf("agent %+v, key %q", ag, key)
		}
		_, _, err = f.svc.CreateScanAgent(ctx, a, "web01")
		wantErrCode(t, err, core.ECONFLICT, "a second agent of the same name")
		bAgent, _, err := f.svc.CreateScanAgent(ctx, b, "web01") // another partner: its own namespace
		if err != nil {
			t.Fatal(err)
		}
		list, err := f.svc.ScanAgents(ctx, b)
		if err != nil || len(list) != 1 || list[0].ID != bAgent.ID {
			t.Fatalf("B's agents: %+v, %v", list, err)
		}
		_, err = f.svc.RevokeScanAgent(ctx, b, ag.ID)
		wantErrCode(t, err, core.ENOTFOUND, "B revoking A's agent")
		_, _, err = f.svc.LeaseAgentJob(ctx, key)
		if err != nil {
			t.Fatalf("a live key: %v", err)
		}
		rev, err := f.svc.RevokeScanAgent(ctx, a, ag.ID)
		if err != nil || rev.RevokedAt == nil {
			t.Fatalf("revoke: %+v, %v", rev, err)
		}
		if again, err := f.svc.RevokeScanAgent(ctx, a, ag.ID); err != nil || again.RevokedAt == nil || !again.RevokedAt.Equal(*rev.RevokedAt) {
			t.Fatalf("revoking again: %+v, %v", again, err)
		}
		for _, k := range []string{key, "", "pk_" + key[4:], key + "x"} {
			_, _, err := f.svc.LeaseAgentJob(ctx, k)
			wantErrCode(t, err, core.EUNAUTHORIZED, "key "+strconv.Quote(k))
			_, err = f.svc.RenewAgentJob(ctx, k, 1, "00")
			wantErrCode(t, err, core.EUNAUTHORIZED, "renewing with key "+strconv.Quote(k))
		}
		// The name is free again once revoked.
		if _, _, err := f.svc.CreateScanAgent(ctx, a, "web01"); err != nil {
			t.Fatalf("a new web01 after the revocation: %v", err)
		}
		// At most MaxScanAgents that are not revoked.
		for i := 2; i <= core.MaxScanAgents; i++ {
			if _, _, err := f.svc.CreateScanAgent(ctx, a, "web"+strconv.Itoa(i)); err != nil {
				t.Fatalf("agent %d: %v", i, err)
			}
		}
		_, _, err = f.svc.CreateScanAgent(ctx, a, "one-too-many")
		wantErrCode(t, err, core.ECONFLICT, "an agent past the limit")
		list, err = f.svc.ScanAgents(ctx, a)
		if err != nil || len(list) != core.MaxScanAgents+1 {
			t.Fatalf("A's agents: %d, %v", len(list), err)
		}
	})
}

// TestScanAgentSettings: files on an agent name it and an absolute
// document root; patch checks, auto_clean and backups are refused for
// them; actions on their findings are the agent's; the files job is queued for the agent, never claimed
// by a node; a website moved off the agent, or onto one, after its job was
// queued is not scanned by the wrong worker.
func TestScanAgentSettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, func(c *core.Config) { c.ScanRoots = []string{"/var/www"} })
		a := f.partner(t, "a", 0)
		shop, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "shop.example.com"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		onAgent := core.ScanSettings{Files: core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "agent", Agent: "web01", Path: "/home/shop/www"}}}
		bad := []struct {
			name string
			edit func(*core.ScanSettings)
			want string
		}{
			{"a bad agent name", func(s *core.ScanSettings) { s.Files.Source.Agent = "Web 01" }, "files.source.agent"},
			{"no agent", func(s *core.ScanSettings) { s.Files.Source.Agent = "" }, "files.source.agent"},
			{"a relative path", func(s *core.ScanSettings) { s.Files.Source.Path = "home/shop" }, "files.source.path"},
			{"auto_clean", func(s *core.ScanSettings) { s.Files.AutoClean = true }, "files.auto_clean"},
			{"patch checks", func(s *core.ScanSettings) { s.Patch.Enabled = true }, "patch.enabled"},
			{"a password", func(s *core.ScanSettings) { s.Files.Source.Password = "x" }, "files.source"},
		}
		for _, c := range bad {
			st := onAgent
			c.edit(&st)
			_, err := f.svc.SetWebsiteScanSettings(ctx, a, shop.Domain, st)
			wantErrCode(t, err, core.EINVALID, c.name)
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %v does not name %s", c.name, err, c.want)
			}
		}
		got, err := f.svc.SetWebsiteScanSettings(ctx, a, shop.Domain, onAgent)
		if err != nil || got.Files.Source.Kind != "agent" || got.Files.Source.Agent != "web01" || got.Files.Source.Path != "/home/shop/www" {
			t.Fatalf("saved: %+v, %v", got.Files, err)
		}
		_, err = f.svc.RequestScan(ctx, a, shop.Domain, core.ScanPatch)
		wantErrCode(t, err, core.EPRECONDITION, "a patch check of files on an agent")
		_, err = f.svc.RequestScan(ctx, a, shop.Domain, core.ScanBackup)
		wantErrCode(t, err, core.EPRECONDITION, "a backup of files on an agent")
		j, err := f.svc.RequestScan(ctx, a, shop.Domain, core.ScanFiles)
		if err != nil || j.Agent != "web01" {
			t.Fatalf("files job: %+v, %v", j, err)
		}
		if nj, ok, err := f.svc.ClaimScanJob(ctx, "node-1", time.Minute); ok || err != nil {
			t.Fatalf("a node claimed the agent's job: %+v, %v", nj, err)
		}

		// Moved to a local root while queued: the agent fails it, with the reason.
		if _, err := f.svc.SetWebsiteScanSettings(ctx, a, shop.Domain, core.ScanSettings{Files: core.FileScanSettings{Enabled: true,
			Source: core.FileSource{Kind: "local", Path: "/var/www/shop"}}}); err != nil {
			t.Fatal(err)
		}
		_, key, err := f.svc.CreateScanAgent(ctx, a, "web01")
		if err != nil {
			t.Fatal(err)
		}
		if aj, ok, err := f.svc.LeaseAgentJob(ctx, key); ok || err != nil {
			t.Fatalf("the agent leased a job of a website no longer on it: %+v, %v", aj, err)
		}
		js, err := f.svc.ScanJobs(ctx, a, shop.Domain, core.ScanFiles, 1)
		if err != nil || len(js) != 1 || js[0].State != core.JobFailed || !strings.Contains(js[0].Error, "no longer on scan agent") {
			t.Fatalf("the job: %+v, %v", js, err)
		}

		// Queued for a node, then moved onto an agent: the node does not
		// run it (it cannot reach the files).
		if _, err := f.svc.RequestScan(ctx, a, shop.Domain, core.ScanFiles); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SetWebsiteScanSettings(ctx, a, shop.Domain, onAgent); err != nil {
			t.Fatal(err)
		}
		nj, ok, err := f.svc.ClaimScanJob(ctx, "node-1", time.Minute)
		if !ok || err != nil || nj.Agent != "" {
			t.Fatalf("the node's job: %+v, %v, %v", nj, ok, err)
		}
		_, err = f.svc.ScanJobSettings(ctx, nj)
		wantErrCode(t, err, core.EPRECONDITION, "a node's files job of a website now on an agent")
		if err := f.svc.FinishScanJob(ctx, nj, nil, err.Error()); err != nil {
			t.Fatal(err)
		}

		// An action on a finding of files on an agent is the agent's:
		// queued for it, leased by it with the finding, recorded as a
		// node's (a finding recorded by the agent's job).
		if _, err := f.svc.RequestScan(ctx, a, shop.Domain, core.ScanFiles); err != nil {
			t.Fatal(err)
		}
		aj, ok, err := f.svc.LeaseAgentJob(ctx, key)
		if !ok || err != nil || aj.Domain != shop.Domain || aj.Path != "/home/shop/www" || aj.Kind != core.ScanFiles {
			t.Fatalf("lease: %+v, %v, %v", aj, ok, err)
		}
		created, _, err := f.svc.ReportAgentFindings(ctx, key, aj.ID, aj.Lease, []core.Finding{{Location: "x.php", Signature: "Palisade.PHP.Webshell.EvalPost",
			Class: "webshell", Severity: "critical"}}, true)
		if err != nil || created != 1 {
			t.Fatalf("report: %d, %v", created, err)
		}
		err = f.svc.FinishAgentAction(ctx, key, aj.ID, aj.Lease, "0123456789abcdef0123456789abcdef")
		wantErrCode(t, err, core.EINVALID, "an action's result on a files job")
		if err := f.svc.FinishAgentJob(ctx, key, aj.ID, aj.Lease, []byte(`{"files_seen":1}`), ""); err != nil {
			t.Fatal(err)
		}
		fs, err := f.svc.Findings(ctx, a, shop.Domain, core.FindingFilter{})
		if err != nil || len(fs) != 1 {
			t.Fatalf("findings: %+v, %v", fs, err)
		}
		qj, err := f.svc.RequestFindingAction(ctx, a, shop.Domain, fs[0].ID, core.ActionQuarantine)
		if err != nil || qj.Agent != "web01" {
			t.Fatalf("quarantine on an agent's website: %+v, %v", qj, err)
		}
		if nj, ok, err := f.svc.ClaimScanJob(ctx, "node-1", time.Minute); ok || err != nil {
			t.Fatalf("a node claimed the agent's action: %+v, %v", nj, err)
		}
		aj, ok, err = f.svc.LeaseAgentJob(ctx, key)
		if !ok || err != nil || aj.Kind != core.ScanAction || aj.Action != core.ActionQuarantine || aj.Finding.ID != fs[0].ID || aj.Finding.Location != "x.php" {
			t.Fatalf("the action's lease: %+v, %v, %v", aj, ok, err)
		}
		_, _, err = f.svc.ReportAgentFindings(ctx, key, aj.ID, aj.Lease, nil, true)
		wantErrCode(t, err, core.EINVALID, "findings on an action job")
		for _, bad := range []string{"", "../x", "0123456789ABCDEF0123456789ABCDEF"} {
			err = f.svc.FinishAgentAction(ctx, key, aj.ID, aj.Lease, bad)
			wantErrCode(t, err, core.EINVALID, "quarantine id "+strconv.Quote(bad))
		}
		if err := f.svc.FinishAgentAction(ctx, key, aj.ID, aj.Lease, "0123456789abcdef0123456789abcdef"); err != nil {
			t.Fatal(err)
		}
		fs, err = f.svc.Findings(ctx, a, shop.Domain, core.FindingFilter{})
		if err != nil || fs[0].State != core.FindingQuarantined || fs[0].QuarantineID != "0123456789abcdef0123456789abcdef" {
			t.Fatalf("after the agent's quarantine: %+v, %v", fs, err)
		}
		// The finding is quarantined now: a second report is refused.
		err = f.svc.FinishAgentAction(ctx, key, aj.ID, aj.Lease, "0123456789abcdef0123456789abcdef")
		wantErrCode(t, err, core.EPRECONDITION, "the action recorded twice")
	})
}

// TestScanAgentSchedule: a scheduled files scan of a website on an agent
// is queued for that agent (and no patch check is, files on an agent
// have none); a node's runner does not claim it.
func TestScanAgentSchedule(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a := f.partner(t, "a", 0)
		shop, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "shop.example.com"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		st := core.ScanSettings{Files: core.FileScanSettings{Enabled: true, EveryHours: 24, Source: core.FileSource{Kind: "agent", Agent: "web01", Path: "/home/shop/www"}},
			Patch: core.PatchScanSettings{EveryHours: 24}}
		if _, err := f.svc.SetWebsiteScanSettings(ctx, a, shop.Domain, st); err != nil {
			t.Fatal(err)
		}
		n, err := f.svc.QueueDueScans(ctx, f.svc.Now())
		if err != nil || n != 1 {
			t.Fatalf("queued %d, %v; want 1", n, err)
		}
		js, err := f.svc.ScanJobs(ctx, a, shop.Domain, "", 10)
		if err != nil || len(js) != 1 || js[0].Kind != core.ScanFiles || js[0].Agent != "web01" || js[0].Trigger != "schedule" {
			t.Fatalf("jobs: %+v, %v", js, err)
		}
		if j, ok, err := f.svc.ClaimScanJob(ctx, "node-1", time.Minute); ok || err != nil {
			t.Fatalf("a node claimed the agent's scheduled job: %+v, %v", j, err)
		}
	})
}

// TestScanAgentLeaseRace: several processes of one agent asking at once
// for the one queued job: exactly one gets it, none fails.
func TestScanAgentLeaseRace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a := f.partner(t, "a", 0)
		_, key, err := f.svc.CreateScanAgent(ctx, a, "web01")
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{"shop.example.com", "blog.example.com"} {
			if _, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: d}, core.Idem{}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.SetWebsiteScanSettings(ctx, a, d, core.ScanSettings{Files: core.FileScanSettings{Enabled: true,
				Source: core.FileSource{Kind: "agent", Agent: "web01", Path: "/home/" + d}}}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.RequestScan(ctx, a, d, core.ScanFiles); err != nil {
				t.Fatal(err)
			}
		}
		const n = 8
		type res struct {
			j   core.AgentJob
			ok  bool
			err error
		}
		out := make(chan res, n)
		start := make(chan struct{})
		for range n {
			go func() {
				<-start
				j, ok, err := f.svc.LeaseAgentJob(ctx, key)
				out <- res{j, ok, err}
			}()
		}
		close(start)
		got := map[string]int{}
		for range n {
			r := <-out
			if r.err != nil {
				t.Errorf("a concurrent lease failed: %v", r.err)
			}
			if r.ok {
				got[r.j.Domain]++
			}
		}
		if got["shop.example.com"] > 1 || got["blog.example.com"] > 1 || len(got) == 0 {
			t.Fatalf("leases by website: %v; want each job leased at most once", got)
		}
	})
}

// TestScanAgentLeaseRunsOut: an agent that stops renewing loses its job
// when the lease runs out; the job is leased again under a new token, and
// the old one can no longer report or finish.
func TestScanAgentLeaseRunsOut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a := f.partner(t, "a", 0)
		_, key, err := f.svc.CreateScanAgent(ctx, a, "web01")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "shop.example.com"}, core.Idem{}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SetWebsiteScanSettings(ctx, a, "shop.example.com", core.ScanSettings{Files: core.FileScanSettings{Enabled: true,
			Source: core.FileSource{Kind: "agent", Agent: "web01", Path: "/home/shop"}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.RequestScan(ctx, a, "shop.example.com", core.ScanFiles); err != nil {
			t.Fatal(err)
		}
		first, ok, err := f.svc.LeaseAgentJob(ctx, key)
		if !ok || err != nil {
			t.Fatalf("first lease: %v %v", ok, err)
		}
		if _, ok, err := f.svc.LeaseAgentJob(ctx, key); ok || err != nil {
			t.Fatalf("a second lease while the first holds: %v %v", ok, err)
		}
		f.advance(core.AgentJobLease + time.Second)
		second, ok, err := f.svc.LeaseAgentJob(ctx, key)
		if !ok || err != nil || second.ID != first.ID || second.Lease == first.Lease {
			t.Fatalf("the lease after the first ran out: %+v %v %v", second, ok, err)
		}
		found := []core.Finding{{Location: "x.php", Signature: "Palisade.PHP.Webshell.EvalPost", Class: "webshell", Severity: "critical"}}
		_, _, err = f.svc.ReportAgentFindings(ctx, key, first.ID, first.Lease, found, true)
		wantErrCode(t, err, core.ECONFLICT, "a report under the lost lease")
		err = f.svc.FinishAgentJob(ctx, key, first.ID, first.Lease, nil, "x")
		wantErrCode(t, err, core.ECONFLICT, "finishing under the lost lease")
		if _, _, err := f.svc.ReportAgentFindings(ctx, key, second.ID, second.Lease, found, true); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.FinishAgentJob(ctx, key, second.ID, second.Lease, nil, ""); err != nil {
			t.Fatal(err)
		}
		js, err := f.svc.ScanJobs(ctx, a, "shop.example.com", core.ScanFiles, 1)
		if err != nil || js[0].State != core.JobDone || js[0].Attempts != 2 {
			t.Fatalf("the job: %+v %v", js, err)
		}
	})
}
