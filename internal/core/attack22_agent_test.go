package core_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestAttack22AgentFindingOutsideRoot: an agent (or whoever holds its key)
// cannot record a finding whose location leaves the website's document
// root ("../other-site/index.php"): a files scan never names one, and such
// a finding would point the customer (and a later quarantine) at another
// website's file. It was stored: only a leading "/" was refused.
func TestAttack22AgentFindingOutsideRoot(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a, shop, key, aj := leasedAgentFilesJob(t, f)
		for _, loc := range []string{"../blog/index.php", "wp/../../blog/index.php", "..", "./x.php", "wp//x.php", "wp/", ".", "x.php\x00.jpg"} {
			_, _, err := f.svc.ReportAgentFindings(ctx, key, aj.ID, aj.Lease, []core.Finding{{Location: loc, Signature: "Palisade.PHP.Webshell.EvalPost",
				Class: "webshell", Severity: "critical"}}, false)
			wantErrCode(t, err, core.EINVALID, "location "+strconv.Quote(loc))
		}
		if fs, err := f.svc.Findings(ctx, a, shop.Domain, core.FindingFilter{}); err != nil || len(fs) != 0 {
			t.Fatalf("findings after refused reports: %+v, %v", fs, err)
		}
		// A path inside the root, with dots in its names, is a finding.
		created, _, err := f.svc.ReportAgentFindings(ctx, key, aj.ID, aj.Lease, []core.Finding{{Location: "wp-content/..cache/.x.php", Signature: "Palisade.PHP.Webshell.EvalPost",
			Class: "webshell", Severity: "critical"}}, true)
		if err != nil || created != 1 {
			t.Fatalf("a report inside the root: %d, %v", created, err)
		}
	})
}

// TestAttack22AgentNameHiddenFromCustomer: the scan agent's name (a web
// server's host name) is hidden from the website's customer, as
// WebsiteScanSettings hides it: not in a refusal the customer gets
// (RequestScan of a patch check said `has its files on scan agent
// "fra-web07"`), nor in the errors of the website's jobs the customer
// reads (a job failed because the files moved off, or onto, the agent).
// The partner still reads it.
func TestAttack22AgentNameHiddenFromCustomer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, func(c *core.Config) { c.ScanRoots = []string{"/var/www"} })
		a := f.partner(t, "a", 0)
		jane, _, err := f.svc.CreateSubaccount(ctx, a, core.SubaccountCreate{Email: "jane@example.com"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		shop, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "shop.example.com", SubaccountID: jane.ID}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		janeC := core.Caller{Role: core.RoleSubaccount, PartnerID: a.PartnerID, SubaccountID: jane.ID, Protocol: core.ProtocolSSO, Actor: "jane"}
		const name = "fra-web07"
		onAgent := core.ScanSettings{Files: core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "agent", Agent: name, Path: "/home/shop/www"}}}
		local := core.ScanSettings{Files: core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "local", Path: "/var/www/shop"}}}
		if _, err := f.svc.SetWebsiteScanSettings(ctx, a, shop.Domain, onAgent); err != nil {
			t.Fatal(err)
		}

		_, err = f.svc.RequestScan(ctx, janeC, shop.Domain, core.ScanPatch)
		wantErrCode(t, err, core.EPRECONDITION, "the customer's patch check of files on an agent")
		if strings.Contains(err.Error(), name) {
			t.Errorf("the customer's refusal names the agent: %v", err)
		}
		_, err = f.svc.RequestScan(ctx, a, shop.Domain, core.ScanPatch)
		if core.ErrorCode(err) != core.EPRECONDITION || !strings.Contains(err.Error(), name) {
			t.Errorf("the partner's refusal: %v; want it to name the agent", err)
		}

		// A job queued for the agent, then the files moved to a local
		// root: the agent's lease fails it, naming the agent.
		_, key, err := f.svc.CreateScanAgent(ctx, a, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.RequestScan(ctx, janeC, shop.Domain, core.ScanFiles); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SetWebsiteScanSettings(ctx, a, shop.Domain, local); err != nil {
			t.Fatal(err)
		}
		if aj, ok, err := f.svc.LeaseAgentJob(ctx, key); ok || err != nil {
			t.Fatalf("lease: %+v, %v, %v", aj, ok, err)
		}
		// A job queued for a node, then the files moved onto the agent:
		// the node fails it, naming the agent.
		if _, err := f.svc.RequestScan(ctx, janeC, shop.Domain, core.ScanFiles); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SetWebsiteScanSettings(ctx, a, shop.Domain, onAgent); err != nil {
			t.Fatal(err)
		}
		nj, ok, err := f.svc.ClaimScanJob(ctx, "node-1", time.Minute)
		if !ok || err != nil {
			t.Fatalf("node claim: %+v, %v, %v", nj, ok, err)
		}
		_, err = f.svc.ScanJobSettings(ctx, nj)
		wantErrCode(t, err, core.EPRECONDITION, "a node's job of files now on an agent")
		if err := f.svc.FinishScanJob(ctx, nj, nil, err.Error()); err != nil {
			t.Fatal(err)
		}

		partnerJobs, err := f.svc.ScanJobs(ctx, a, shop.Domain, core.ScanFiles, 10)
		if err != nil || len(partnerJobs) != 2 {
			t.Fatalf("the partner's jobs: %+v, %v", partnerJobs, err)
		}
		for _, j := range partnerJobs {
			if j.State != core.JobFailed || !strings.Contains(j.Error, name) {
				t.Errorf("the partner's job %d: %s %q; want it failed naming the agent", j.ID, j.State, j.Error)
			}
		}
		janeJobs, err := f.svc.ScanJobs(ctx, janeC, shop.Domain, core.ScanFiles, 10)
		if err != nil || len(janeJobs) != 2 {
			t.Fatalf("the customer's jobs: %+v, %v", janeJobs, err)
		}
		for _, j := range janeJobs {
			if j.State != core.JobFailed || j.Error == "" || strings.Contains(j.Error, name) {
				t.Errorf("the customer's job %d: %s %q; want it failed, without the agent's name", j.ID, j.State, j.Error)
			}
		}
	})
}

// TestAttack22AgentReportsBounded: one report holds at most
// MaxAgentFindings, but a holder of the agent's key could send report
// after report under one lease (renewed for ever), each of new findings,
// and grow the website's findings without end (a node's scan records one
// bounded set per claim). A job's reports together now record at most
// MaxAgentFindings; reporting findings it has already recorded again is
// still accepted.
func TestAttack22AgentReportsBounded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a, shop, key, aj := leasedAgentFilesJob(t, f)
		batch := func(prefix string, n int) []core.Finding {
			out := make([]core.Finding, n)
			for i := range out {
				out[i] = core.Finding{Location: prefix + "/" + strconv.Itoa(i) + ".php", Signature: "Palisade.PHP.Webshell.EvalPost", Class: "webshell", Severity: "critical"}
			}
			return out
		}
		created, _, err := f.svc.ReportAgentFindings(ctx, key, aj.ID, aj.Lease, batch("a", core.MaxAgentFindings), false)
		if err != nil || created != core.MaxAgentFindings {
			t.Fatalf("the first report: %d, %v", created, err)
		}
		_, _, err = f.svc.ReportAgentFindings(ctx, key, aj.ID, aj.Lease, batch("b", 10), false)
		wantErrCode(t, err, core.EINVALID, "a second report of new findings past the job's bound")
		fs, err := f.svc.Findings(ctx, a, shop.Domain, core.FindingFilter{Kind: core.ScanFiles, After: 0})
		if err != nil {
			t.Fatal(err)
		}
		n := len(fs)
		for len(fs) == core.MaxScanListing {
			if fs, err = f.svc.Findings(ctx, a, shop.Domain, core.FindingFilter{Kind: core.ScanFiles, After: fs[len(fs)-1].ID}); err != nil {
				t.Fatal(err)
			}
			n += len(fs)
		}
		if n != core.MaxAgentFindings {
			t.Fatalf("the website has %d findings; want %d", n, core.MaxAgentFindings)
		}
		// The same findings again (a report retried) are accepted.
		if created, _, err := f.svc.ReportAgentFindings(ctx, key, aj.ID, aj.Lease, batch("a", 10), false); err != nil || created != 0 {
			t.Fatalf("findings reported again: %d, %v", created, err)
		}
	})
}

// leasedAgentFilesJob: partner "a"'s website shop.example.com has its
// files on scan agent web01 (/home/shop/www), a files scan was requested,
// and the agent (key) leased its job (aj).
func leasedAgentFilesJob(t *testing.T, f *fixture) (a core.Caller, shop core.Website, key string, aj core.AgentJob) {
	t.Helper()
	ctx := context.Background()
	a = f.partner(t, "a", 0)
	shop, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "shop.example.com"}, core.Idem{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SetWebsiteScanSettings(ctx, a, shop.Domain, core.ScanSettings{Files: core.FileScanSettings{Enabled: true,
		Source: core.FileSource{Kind: "agent", Agent: "web01", Path: "/home/shop/www"}}}); err != nil {
		t.Fatal(err)
	}
	if _, key, err = f.svc.CreateScanAgent(ctx, a, "web01"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RequestScan(ctx, a, shop.Domain, core.ScanFiles); err != nil {
		t.Fatal(err)
	}
	aj, ok, err := f.svc.LeaseAgentJob(ctx, key)
	if !ok || err != nil {
		t.Fatalf("lease: %+v, %v, %v", aj, ok, err)
	}
	return a, shop, key, aj
}
