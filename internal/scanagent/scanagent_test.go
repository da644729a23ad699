package scanagent

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/api/agentapi"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/malware"
	"github.com/palisadehq/palisade/internal/malware/clamdtest"
	"github.com/palisadehq/palisade/internal/scanrun"
	"github.com/palisadehq/palisade/internal/secret"
	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/testenv/sitetree"
)

var t0 = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

// fleet is a Palisade (a core on SQLite, the agent API on a loopback
// HTTP server) with two partners, and a web server's folder of websites.
type fleet struct {
	svc    *core.Service
	url    string
	a, b   core.Caller // partners A and B
	www    string      // the web server's folder of document roots
	local  string      // --scan-root of the Palisade node
	base   string
	agents map[string]*Agent
}

func partner(t *testing.T, svc *core.Service, name string) core.Caller {
	t.Helper()
	ctx := context.Background()
	_, key, err := svc.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: name, Email: "ops@" + name + ".example"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := svc.Authenticate(ctx, key, netip.MustParseAddr("127.0.0.1"), core.ProtocolREST)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newFleet(t *testing.T) *fleet {
	t.Helper()
	ctx := context.Background()
	db := storetest.SQLite(t)
	box, err := secret.NewBox(make([]byte, secret.KeySize), nil)
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	f := &fleet{www: filepath.Join(base, "www"), local: filepath.Join(base, "node"), base: base, agents: map[string]*Agent{}}
	now := t0
	f.svc = core.NewService(db, box, core.Config{PublicURL: "https://palisade.test", ScanRoots: []string{f.local}},
		core.WithClock(func() time.Time { return now }))
	if _, err := f.svc.SeedPlans(ctx); err != nil {
		t.Fatal(err)
	}
	f.a, f.b = partner(t, f.svc, "host-a"), partner(t, f.svc, "host-b")
	mux := http.NewServeMux()
	agentapi.New(f.svc, nil).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// agent creates partner c's agent name and an Agent process for it.
func (f *fleet) agent(t *testing.T, c core.Caller, name string) (*Agent, core.ScanAgent) {
	t.Helper()
	sa, key, err := f.svc.CreateScanAgent(context.Background(), c, name)
	if err != nil {
		t.Fatal(err)
	}
	ag := &Agent{Server: f.url, Key: key, Roots: []string{f.www}, Dir: filepath.Join(f.base, "agent-"+strconv.FormatInt(sa.ID, 10)),
		Now: func() time.Time { return t0 }}
	return ag, sa
}

// site registers domain for partner c with its files at root, on the
// agent named agent ("" : a local document root of the node).
func (f *fleet) site(t *testing.T, c core.Caller, domain, agent, root string) {
	t.Helper()
	ctx := context.Background()
	if _, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: domain}, core.Idem{}); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	src := core.FileSource{Kind: "local", Path: root}
	if agent != "" {
		src = core.FileSource{Kind: "agent", Agent: agent, Path: root}
	}
	if _, err := f.svc.SetWebsiteScanSettings(ctx, c, domain, core.ScanSettings{Files: core.FileScanSettings{Enabled: true, Source: src}}); err != nil {
		t.Fatal(err)
	}
}

func (f *fleet) jobs(t *testing.T, c core.Caller, domain string) []core.ScanJob {
	t.Helper()
	js, err := f.svc.ScanJobs(context.Background(), c, domain, core.ScanFiles, 10)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func malwareEmails(t *testing.T, svc *core.Service, c core.Caller) int {
	t.Helper()
	es, err := svc.Emails(context.Background(), c, core.EmailFilter{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if e.Kind == core.EmailMalwareFound {
			n++
		}
	}
	return n
}

// TestAgentScansItsWebsites: partner A's agent leases the files job of
// its website (and not the job of a website on the node's own disk, nor
// anything for another partner's or another agent's key), scans the
// project's harmless samples with the real clamd, and the findings, the
// job's end and the email on new malware are recorded by the core as a
// node's are. A second scan is incremental; quarantine and restore of a
// finding run on the agent (never on a node or another partner's agent);
// a revoked key is refused.
func TestAgentScansItsWebsites(t *testing.T) {
	ctx := context.Background()
	f := newFleet(t)
	clamd := clamdtest.Start(t)
	agA, _ := f.agent(t, f.a, "web01")
	agA.Clamd = clamd
	agA2, _ := f.agent(t, f.a, "web02") // A's other web server
	agA2.Clamd = clamd
	agB, _ := f.agent(t, f.b, "web01") // B's agent of the same name
	agB.Clamd = clamd

	root := filepath.Join(f.www, "shop")
	f.site(t, f.a, "shop.example.com", "web01", root)
	samples := sitetree.Copy(t, "../malware/testdata/samples", filepath.Join(root, "wp-content", "uploads"))
	if err := os.WriteFile(filepath.Join(root, "index.php"), []byte("<?php echo 'hello';\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A website of A on the node's own disk, with its files job queued
	// first: no agent may take it.
	f.site(t, f.a, "blog.example.com", "", filepath.Join(f.local, "blog"))
	if _, err := f.svc.RequestScan(ctx, f.a, "blog.example.com", core.ScanFiles); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RequestScan(ctx, f.a, "shop.example.com", core.ScanFiles); err != nil {
		t.Fatal(err)
	}

	// B's agent (same name, other partner) and A's other agent get nothing.
	for name, ag := range map[string]*Agent{"partner B's web01": agB, "partner A's web02": agA2} {
		if ran, err := ag.RunOnce(ctx); ran || err != nil {
			t.Fatalf("%s: ran %v, %v; want no job", name, ran, err)
		}
	}
	// A node's runner never takes the agent's job: it takes the blog's.
	node := &scanrun.Runner{Service: f.svc, Node: "node-1", Dir: filepath.Join(f.base, "runner"), Lease: time.Minute, Clamd: clamd,
		Now: func() time.Time { return t0 }}
	if ran, err := node.RunOnce(ctx); !ran || err != nil {
		t.Fatalf("node: ran %v, %v", ran, err)
	}
	if ran, err := node.RunOnce(ctx); ran || err != nil {
		t.Fatalf("node, second: ran %v, %v; want no job (the shop's is the agent's)", ran, err)
	}
	if js := f.jobs(t, f.a, "shop.example.com"); len(js) != 1 || js[0].State != core.JobQueued || js[0].Agent != "web01" {
		t.Fatalf("the shop's job after the node's passes: %+v", js)
	}
	if js := f.jobs(t, f.a, "blog.example.com"); len(js) != 1 || js[0].State != core.JobDone {
		t.Fatalf("the blog's job: %+v", js)
	}

	// A's web01 leases and runs its job.
	if ran, err := agA.RunOnce(ctx); !ran || err != nil {
		t.Fatalf("agent: ran %v, %v", ran, err)
	}
	js := f.jobs(t, f.a, "shop.example.com")
	if len(js) != 1 || js[0].State != core.JobDone || js[0].Error != "" {
		t.Fatalf("the shop's job: %+v", js)
	}
	var sum Summary
	if err := json.Unmarshal([]byte(js[0].Summary), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.FilesSeen != samples+1 || sum.Findings != samples || sum.New != samples {
		t.Fatalf("summary: seen %d (want %d), findings %d, new %d (want %d)", sum.FilesSeen, samples+1, sum.Findings, sum.New, samples)
	}
	found, err := f.svc.Findings(ctx, f.a, "shop.example.com", core.FindingFilter{})
	if err != nil || len(found) != samples {
		t.Fatalf("findings: %d, %v; want %d", len(found), err, samples)
	}
	for _, fd := range found {
		if fd.Kind != core.ScanFiles || fd.State != core.FindingOpen || fd.JobID != js[0].ID || fd.Signature == "" || len(fd.SHA256) != 64 {
			t.Fatalf("finding %+v", fd)
		}
		if fd.Location == "index.php" {
			t.Fatalf("the clean file was flagged: %+v", fd)
		}
	}
	if n := malwareEmails(t, f.svc, f.a); n != 1 {
		t.Fatalf("%d malware emails to partner A, want 1", n)
	}
	if n := malwareEmails(t, f.svc, f.b); n != 0 {
		t.Fatalf("%d malware emails to partner B, want 0", n)
	}

	// A second scan: nothing changed, nothing streamed again; a sample
	// removed is resolved.
	victim := filepath.Join(root, "wp-content", "uploads", filepath.FromSlash(found[0].Location[len("wp-content/uploads/"):]))
	if err := os.Remove(victim); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RequestScan(ctx, f.a, "shop.example.com", core.ScanFiles); err != nil {
		t.Fatal(err)
	}
	if ran, err := agA.RunOnce(ctx); !ran || err != nil {
		t.Fatalf("agent, second: ran %v, %v", ran, err)
	}
	js = f.jobs(t, f.a, "shop.example.com")
	sum = Summary{}
	if err := json.Unmarshal([]byte(js[0].Summary), &sum); err != nil || js[0].State != core.JobDone {
		t.Fatalf("second job %+v: %v", js[0], err)
	}
	if sum.FilesScanned != 0 || sum.FilesUnchanged != samples || sum.Resolved != 1 || sum.New != 0 {
		t.Fatalf("second summary: %+v", sum)
	}
	if n := malwareEmails(t, f.svc, f.a); n != 1 {
		t.Fatalf("%d malware emails after a scan with nothing new, want 1", n)
	}

	// Quarantine and restore, on the agent: the file moves aside and
	// comes back byte for byte; the core records each as a node's.
	file := filepath.Join(root, filepath.FromSlash(found[1].Location))
	orig, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	finding := func() core.Finding {
		t.Helper()
		fs, err := f.svc.Findings(ctx, f.a, "shop.example.com", core.FindingFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range fs {
			if x.ID == found[1].ID {
				return x
			}
		}
		t.Fatalf("finding %d is gone", found[1].ID)
		return core.Finding{}
	}
	for _, step := range []struct {
		action string
		state  string
		exists bool
	}{{core.ActionQuarantine, core.FindingQuarantined, false}, {core.ActionRestore, core.FindingOpen, true}} {
		if _, err := f.svc.RequestFindingAction(ctx, f.a, "shop.example.com", found[1].ID, step.action); err != nil {
			t.Fatal(err)
		}
		if ran, err := node.RunOnce(ctx); ran || err != nil {
			t.Fatalf("node and the agent's %s: ran %v, %v", step.action, ran, err)
		}
		if ran, err := agB.RunOnce(ctx); ran || err != nil {
			t.Fatalf("B's agent and A's %s: ran %v, %v", step.action, ran, err)
		}
		if ran, err := agA.RunOnce(ctx); !ran || err != nil {
			t.Fatalf("agent %s: ran %v, %v", step.action, ran, err)
		}
		js, err := f.svc.ScanJobs(ctx, f.a, "shop.example.com", core.ScanAction, 1)
		if err != nil || len(js) != 1 || js[0].State != core.JobDone {
			t.Fatalf("%s job: %+v, %v", step.action, js, err)
		}
		b, err := os.ReadFile(file)
		if step.exists != (err == nil) || (step.exists && !bytes.Equal(b, orig)) {
			t.Fatalf("after %s the file: %v (%d bytes, want %d)", step.action, err, len(b), len(orig))
		}
		if x := finding(); x.State != step.state {
			t.Fatalf("after %s the finding: %+v", step.action, x)
		}
	}

	// Revoked: the key is refused.
	list, err := f.svc.ScanAgents(ctx, f.a)
	if err != nil || len(list) != 2 {
		t.Fatalf("A's agents: %+v, %v", list, err)
	}
	if list[0].SeenAt == nil {
		t.Fatalf("web01's last call is not recorded: %+v", list[0])
	}
	if _, err := f.svc.RevokeScanAgent(ctx, f.a, list[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RequestScan(ctx, f.a, "shop.example.com", core.ScanFiles); err != nil {
		t.Fatal(err)
	}
	ran, err := agA.RunOnce(ctx)
	var e *Error
	if ran || Code(err) != core.EUNAUTHORIZED || !asError(err, &e) || e.Status != http.StatusUnauthorized {
		t.Fatalf("revoked agent: ran %v, %v; want 401 unauthorized", ran, err)
	}
	// B cannot revoke A's agent: not found, as one that does not exist.
	if _, err := f.svc.RevokeScanAgent(ctx, f.b, list[1].ID); core.ErrorCode(err) != core.ENOTFOUND {
		t.Fatalf("B revoking A's agent: %v", err)
	}
}

func asError(err error, e **Error) bool {
	x, ok := err.(*Error)
	if ok {
		*e = x
	}
	return ok
}

// TestAgentCannotReportOnOthersJobs: with the lease token of partner A's
// agent's job, another partner's agent and A's other agent can neither
// renew, report on nor finish it; a wrong token is refused too; A's agent
// reporting more findings than allowed is refused without a change.
func TestAgentCannotReportOnOthersJobs(t *testing.T) {
	ctx := context.Background()
	f := newFleet(t)
	agA, _ := f.agent(t, f.a, "web01")
	agA2, _ := f.agent(t, f.a, "web02")
	agB, _ := f.agent(t, f.b, "web01")
	f.site(t, f.a, "shop.example.com", "web01", filepath.Join(f.www, "shop"))
	if _, err := f.svc.RequestScan(ctx, f.a, "shop.example.com", core.ScanFiles); err != nil {
		t.Fatal(err)
	}
	var ans agentapi.LeaseAnswer
	if err := agA.call(ctx, "/v1/agent/lease", struct{}{}, &ans); err != nil || ans.Job == nil {
		t.Fatalf("lease: %+v, %v", ans, err)
	}
	j := *ans.Job
	if j.Domain != "shop.example.com" || j.Path != filepath.Join(f.www, "shop") || j.Lease == "" {
		t.Fatalf("leased %+v", j)
	}
	p := "/v1/agent/jobs/" + strconv.FormatInt(j.ID, 10)
	rep := agentapi.Report{Lease: j.Lease, Complete: true, Findings: []agentapi.Finding{{Location: "x.php", Signature: "Palisade.PHP.Webshell.EvalPost",
		Class: "webshell", Severity: "critical"}}}
	for name, ag := range map[string]*Agent{"partner B's agent": agB, "A's other agent": agA2} {
		for _, c := range []struct {
			path string
			body any
		}{{p + "/renew", agentapi.Renew{Lease: j.Lease}}, {p + "/findings", rep}, {p + "/finish", agentapi.Finish{Lease: j.Lease, Error: "x"}}} {
			if err := ag.call(ctx, c.path, c.body, nil); Code(err) != core.ENOTFOUND {
				t.Errorf("%s, %s: %v; want not_found", name, c.path, err)
			}
		}
	}
	// Its own agent renews it: the lease moves on.
	var renewed struct {
		LeaseUntil time.Time `json:"lease_until"`
	}
	if err := agA.call(ctx, p+"/renew", agentapi.Renew{Lease: j.Lease}, &renewed); err != nil || renewed.LeaseUntil.IsZero() {
		t.Fatalf("renew: %+v, %v", renewed, err)
	}
	bad := rep
	bad.Lease = "0123"
	if err := agA.call(ctx, p+"/findings", bad, nil); Code(err) != core.ECONFLICT {
		t.Errorf("a wrong lease token: %v; want conflict", err)
	}
	big := agentapi.Report{Lease: j.Lease, Findings: make([]agentapi.Finding, core.MaxAgentFindings+1)}
	for i := range big.Findings {
		big.Findings[i] = rep.Findings[0]
	}
	if err := agA.call(ctx, p+"/findings", big, nil); Code(err) != core.EINVALID {
		t.Errorf("too many findings: %v; want invalid", err)
	}
	badSev := rep
	badSev.Findings = []agentapi.Finding{{Location: "/etc/passwd", Signature: "x", Severity: "critical"}}
	if err := agA.call(ctx, p+"/findings", badSev, nil); Code(err) != core.EINVALID {
		t.Errorf("an absolute location: %v; want invalid", err)
	}
	if fs, err := f.svc.Findings(ctx, f.a, "shop.example.com", core.FindingFilter{}); err != nil || len(fs) != 0 {
		t.Fatalf("findings after refused reports: %+v, %v", fs, err)
	}
	// A's own agent, with its token: recorded and finished.
	var ra agentapi.ReportAnswer
	if err := agA.call(ctx, p+"/findings", rep, &ra); err != nil || ra.New != 1 {
		t.Fatalf("report: %+v, %v", ra, err)
	}
	if err := agA.call(ctx, p+"/finish", agentapi.Finish{Lease: j.Lease, Summary: json.RawMessage(`{"files_seen": 1}`)}, nil); err != nil {
		t.Fatal(err)
	}
	if js := f.jobs(t, f.a, "shop.example.com"); len(js) != 1 || js[0].State != core.JobDone || js[0].Summary != `{"files_seen":1}` {
		t.Fatalf("job: %+v", js)
	}
	// Finished: its token is worth nothing now.
	if err := agA.call(ctx, p+"/renew", agentapi.Renew{Lease: j.Lease}, nil); Code(err) != core.ECONFLICT {
		t.Errorf("renewing a finished job: %v; want conflict", err)
	}
	// No key, a partner's API key: 401.
	for _, key := range []string{"", "pk_notanagentkey", "pak_" + "abcdefghijkmnopqrstuvwxyz2345678abcdefgh"} {
		ag := &Agent{Server: f.url, Key: key}
		if _, err := ag.RunOnce(ctx); Code(err) != core.EUNAUTHORIZED {
			t.Errorf("key %q: %v; want unauthorized", key, err)
		}
	}
}

// TestAgentRefusesRootsOutsideItsOwn: a document root outside the agent's
// --root folders is neither read nor changed, whatever the website's
// settings say: the job fails with the reason.
func TestAgentRefusesRootsOutsideItsOwn(t *testing.T) {
	ctx := context.Background()
	f := newFleet(t)
	ag, _ := f.agent(t, f.a, "web01")
	ag.Clamd = malware.NewClient("unix", filepath.Join(f.base, "no-clamd.sock"), malware.ClientOptions{})
	outside := filepath.Join(f.base, "etc")
	f.site(t, f.a, "shop.example.com", "web01", outside)
	if _, err := f.svc.RequestScan(ctx, f.a, "shop.example.com", core.ScanFiles); err != nil {
		t.Fatal(err)
	}
	if ran, err := ag.RunOnce(ctx); !ran || err != nil {
		t.Fatalf("ran %v, %v", ran, err)
	}
	js := f.jobs(t, f.a, "shop.example.com")
	if len(js) != 1 || js[0].State != core.JobFailed || !strings.Contains(js[0].Error, "is not under this agent's --root folders") {
		t.Fatalf("job: %+v", js)
	}
	// A root that only starts like an allowed one is not inside it.
	ag.Roots = []string{outside + "-not"}
	if ag.allowed(outside) || ag.allowed(outside+"-not/../etc") || !ag.allowed(outside+"-not/x") {
		t.Fatal("allowed() is wrong about prefixes or unclean paths")
	}
}
