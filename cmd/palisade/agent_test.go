package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/api/agentapi"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/malware/clamdtest"
	"github.com/palisadehq/palisade/internal/secret"
	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

// TestAgentCommand: palisade agent documents itself, refuses what it
// cannot run with (no key, plain http to another host, no --root), and
// with --once leases its website's files job from a loopback Palisade,
// scans a harmless sample with the real clamd and reports it.
func TestAgentCommand(t *testing.T) {
	ctx := context.Background()
	now := testclock.New(t).Now
	var help bytes.Buffer
	if err := run(ctx, []string{"agent", "--help"}, noEnv, now, io.Discard, &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, w := range []string{"-key-file", "-server", "-clamd", "-root", "POST /v1/scan-agents", "quarantine is kept under --state-dir"} {
		if !strings.Contains(help.String(), w) {
			t.Errorf("--help does not mention %s", w)
		}
	}

	db := storetest.SQLite(t)
	box, err := secret.NewBox(make([]byte, secret.KeySize), nil)
	if err != nil {
		t.Fatal(err)
	}
	svc := core.NewService(db, box, core.Config{PublicURL: "https://palisade.test"}, core.WithClock(now))
	if _, err := svc.SeedPlans(ctx); err != nil {
		t.Fatal(err)
	}
	_, pkey, err := svc.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "host", Email: "ops@host.example"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Authenticate(ctx, pkey, netip.MustParseAddr("127.0.0.1"), core.ProtocolREST)
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := svc.CreateScanAgent(ctx, p, "web01")
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	root := filepath.Join(base, "www", "shop")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	sample, err := os.ReadFile("../../internal/malware/testdata/samples/php-webshell/EvalRequest.php")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "shell.php"), sample, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.CreateWebsite(ctx, p, core.WebsiteCreate{Domain: "shop.example.com"}, core.Idem{}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetWebsiteScanSettings(ctx, p, "shop.example.com", core.ScanSettings{Files: core.FileScanSettings{Enabled: true,
		Source: core.FileSource{Kind: "agent", Agent: "web01", Path: root}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RequestScan(ctx, p, "shop.example.com", core.ScanFiles); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	agentapi.New(svc, nil).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	keyFile := filepath.Join(base, "agent.key")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, sock := clamdtest.StartSocket(t)
	args := func(extra ...string) []string {
		a := []string{"agent", "--server", srv.URL, "--key-file", keyFile, "--clamd", "unix:" + sock, "--root", filepath.Join(base, "www"),
			"--state-dir", filepath.Join(base, "state"), "--once"}
		return append(a, extra...)
	}
	for name, a := range map[string][]string{
		"plain http to another host": {"agent", "--server", "http://palisade.example.net", "--key-file", keyFile, "--clamd", "unix:" + sock, "--root", base},
		"no key file":                {"agent", "--server", srv.URL, "--clamd", "unix:" + sock, "--root", base},
		"no root":                    {"agent", "--server", srv.URL, "--key-file", keyFile, "--clamd", "unix:" + sock},
		"a relative root":            {"agent", "--server", srv.URL, "--key-file", keyFile, "--clamd", "unix:" + sock, "--root", "www"},
	} {
		if err := run(ctx, a, noEnv, now, io.Discard, io.Discard); exitCode(err) != 2 {
			t.Errorf("%s: %v; want a usage error", name, err)
		}
	}
	var out bytes.Buffer
	if err := run(ctx, args(), noEnv, now, &out, io.Discard); err != nil || strings.TrimSpace(out.String()) != "ran one job" {
		t.Fatalf("agent --once: %q, %v", out.String(), err)
	}
	fs, err := svc.Findings(ctx, p, "shop.example.com", core.FindingFilter{})
	if err != nil || len(fs) != 1 || fs[0].Location != "shell.php" || fs[0].Class != "php-webshell" {
		t.Fatalf("findings: %+v, %v", fs, err)
	}
	out.Reset()
	if err := run(ctx, args(), noEnv, now, &out, io.Discard); err != nil || strings.TrimSpace(out.String()) != "no job" {
		t.Fatalf("agent --once with nothing queued: %q, %v", out.String(), err)
	}
}
