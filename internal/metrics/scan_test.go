package metrics_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/metrics"
	"github.com/palisadehq/palisade/internal/secret"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// value reads one counter of the registry (-1: no such series).
func value(t *testing.T, m *metrics.Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, s := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range s.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			if len(got) != len(labels) {
				continue
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			return s.GetCounter().GetValue()
		}
	}
	return -1
}

// TestScanCounters: through the core's RecordFindings and FinishScanJob
// (a real service on SQLite, the test playing the node), new findings are
// counted by kind and severity once, not again when a later scan sees
// them again; finished jobs by kind and state; values outside the known
// ones are "other", so no label grows with what a scan finds.
func TestScanCounters(t *testing.T) {
	ctx := context.Background()
	box, err := secret.NewBox(make([]byte, secret.KeySize), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	svc := core.NewService(storetest.SQLite(t), box, core.Config{PublicURL: "https://palisade.test", ScanRoots: []string{"/var/www"}},
		core.WithClock(func() time.Time { return now }))
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
	if _, _, err := svc.CreateWebsite(ctx, p, core.WebsiteCreate{Domain: "shop.example.com"}, core.Idem{}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetWebsiteScanSettings(ctx, p, "shop.example.com", core.ScanSettings{Files: core.FileScanSettings{Enabled: true,
		Source: core.FileSource{Kind: "local", Path: "/var/www/shop"}}}); err != nil {
		t.Fatal(err)
	}
	m := metrics.New(nil, nil, nil, nil)
	svc.SetScanObserver(m.Scans())
	if v := value(t, m, "palisade_scan_findings_total", map[string]string{"kind": "files", "severity": "critical"}); v != 0 {
		t.Fatalf("before any scan: %v, want a series at 0", v)
	}
	found := []core.Finding{
		{Location: "wp-content/shell.php", Signature: "Palisade.PHP.Webshell.EvalPost", Class: "webshell", Severity: "critical"},
		{Location: "wp-content/a.php", Signature: "Palisade.PHP.Obfuscated.Base64Eval", Class: "obfuscated", Severity: "critical"},
		{Location: "index.php", Signature: "Palisade.JS.Skimmer", Class: "skimmer", Severity: "high"},
		{Location: "odd.php", Signature: "Palisade.Odd", Class: "odd", Severity: "weird"},
	}
	scan := func(state string) {
		t.Helper()
		if _, err := svc.RequestScan(ctx, p, "shop.example.com", core.ScanFiles); err != nil {
			t.Fatal(err)
		}
		j, ok, err := svc.ClaimScanJob(ctx, "node-1", time.Minute)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		fs := append([]core.Finding(nil), found...)
		if _, _, err := svc.RecordFindings(ctx, j, fs, true); err != nil {
			t.Fatal(err)
		}
		msg := ""
		if state == "failed" {
			msg = "clamd went away"
		}
		if err := svc.FinishScanJob(ctx, j, map[string]int{"files": 4}, msg); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Hour)
	}
	scan("done")
	scan("failed") // the same findings again: not new
	for sev, want := range map[string]float64{"critical": 2, "high": 1, "medium": 0, "other": 1} {
		if v := value(t, m, "palisade_scan_findings_total", map[string]string{"kind": "files", "severity": sev}); v != want {
			t.Errorf("findings of severity %s: %v, want %v", sev, v, want)
		}
	}
	if v := value(t, m, "palisade_scan_findings_total", map[string]string{"kind": "files", "severity": "weird"}); v != -1 {
		t.Errorf("a severity outside the known ones got its own series")
	}
	for state, want := range map[string]float64{"done": 1, "failed": 1} {
		if v := value(t, m, "palisade_scan_jobs_total", map[string]string{"kind": "files", "state": state}); v != want {
			t.Errorf("files jobs %s: %v, want %v", state, v, want)
		}
	}
	if v := value(t, m, "palisade_scan_jobs_total", map[string]string{"kind": "backup", "state": "done"}); v != 0 {
		t.Errorf("backup jobs: %v", v)
	}
}
