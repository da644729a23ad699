package scanagent

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/api/agentapi"
	"github.com/palisadehq/palisade/internal/core"
)

// TestAttack22AgentRefusesRedirects: a Palisade (or a proxy in front of
// it) that answers the agent with a redirect to http:// does not get the
// agent's key, or anything else, sent there in plain text. Go's client
// keeps Authorization on a redirect to the same host whatever the scheme
// and port, so the key went out over http, past the agent's https-only
// rule for --server.
func TestAttack22AgentRefusesRedirects(t *testing.T) {
	var mu sync.Mutex
	var plainAuth []string
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		plainAuth = append(plainAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"job": null}`))
	}))
	defer plain.Close()
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusFound} {
		tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, plain.URL+r.URL.Path, status)
		}))
		const key = "pak_0123456789abcdefghijklmnopqrstuvwxyzABCD"
		ag := &Agent{Server: tlsSrv.URL, Key: key, HTTP: tlsSrv.Client()}
		ran, err := ag.RunOnce(context.Background())
		tlsSrv.Close()
		if ran || err == nil || !strings.Contains(err.Error(), "http_") {
			t.Errorf("%d redirect: ran %v, %v; want the redirect answered as an error", status, ran, err)
		}
		mu.Lock()
		got := plainAuth
		plainAuth = nil
		mu.Unlock()
		if len(got) != 0 {
			t.Errorf("%d redirect: the plain http server got %d request(s), Authorization %q", status, len(got), got)
		}
	}
}

// TestAttack22AgentQuarantinesOnlyItsFindings: a compromised or spoofed
// Palisade that leases the agent an action job on any file under its
// --root (a customer's wp-config.php, .htaccess, another user's files
// named by a document root that is a --root itself) does not get the file
// moved: the agent quarantines or cleans only a file its own last scan of
// that document root flagged. The agent moved any file it was named.
func TestAttack22AgentQuarantinesOnlyItsFindings(t *testing.T) {
	root := t.TempDir()
	site := filepath.Join(root, "shop")
	if err := os.MkdirAll(site, 0o755); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(site, "wp-config.php")
	if err := os.WriteFile(victim, []byte("<?php define('DB_PASSWORD', 'x');\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	pal := serveOneJob(t, agentapi.Job{ID: 7, Kind: string(core.ScanAction), Lease: "aa", Domain: "shop.example.com",
		Path: site, LeaseUntil: time.Now().Add(time.Minute), Action: core.ActionQuarantine,
		Finding: &agentapi.JobFinding{ID: 1, Location: "wp-config.php", Signature: "Palisade.PHP.Webshell.EvalPost"}})
	ag := &Agent{Server: pal.url, Key: "pak_0123456789abcdefghijklmnopqrstuvwxyzABCD", Roots: []string{root}, Dir: t.TempDir()}
	ran, err := ag.RunOnce(context.Background())
	if !ran || err != nil {
		t.Fatalf("RunOnce: %v, %v", ran, err)
	}
	if _, err := os.Stat(victim); err != nil {
		t.Errorf("the file the agent never flagged was moved: %v", err)
	}
	pal.mu.Lock()
	defer pal.mu.Unlock()
	for _, c := range pal.calls {
		if strings.HasSuffix(c, "/action") {
			t.Errorf("the agent reported the action done: %v", pal.calls)
		}
	}
	if pal.finish.Error == "" {
		t.Errorf("the job was not failed: %+v", pal.finish)
	}
}

// TestAttack22AgentRestoreErrorHidesStateDir: a restore whose quarantined
// copy is not on this agent fails with a reason the website's customer
// reads (the job's error), without the web server's --state-dir path. It
// named the quarantine folder (/var/lib/palisade-agent/quarantine/...).
func TestAttack22AgentRestoreErrorHidesStateDir(t *testing.T) {
	root := t.TempDir()
	site := filepath.Join(root, "shop")
	if err := os.MkdirAll(site, 0o755); err != nil {
		t.Fatal(err)
	}
	stateDir := t.TempDir()
	pal := serveOneJob(t, agentapi.Job{ID: 8, Kind: string(core.ScanAction), Lease: "bb", Domain: "shop.example.com",
		Path: site, LeaseUntil: time.Now().Add(time.Minute), Action: core.ActionRestore,
		Finding: &agentapi.JobFinding{ID: 1, Location: "x.php", Signature: "Palisade.PHP.Webshell.EvalPost", QuarantineID: "0123456789abcdef0123456789abcdef"}})
	ag := &Agent{Server: pal.url, Key: "pak_0123456789abcdefghijklmnopqrstuvwxyzABCD", Roots: []string{root}, Dir: stateDir}
	if ran, err := ag.RunOnce(context.Background()); !ran || err != nil {
		t.Fatalf("RunOnce: %v, %v", ran, err)
	}
	pal.mu.Lock()
	defer pal.mu.Unlock()
	if pal.finish.Error == "" || strings.Contains(pal.finish.Error, stateDir) || !strings.Contains(pal.finish.Error, "x.php") {
		t.Errorf("the restore's error %q; want it failed naming x.php, not %s", pal.finish.Error, stateDir)
	}
}

// oneJobPalisade is a spoofed Palisade (serveOneJob): it leases one job
// once, answers an action report as recorded, and keeps the paths the
// agent asked and the job's finish.
type oneJobPalisade struct {
	url    string
	mu     sync.Mutex
	calls  []string
	finish agentapi.Finish
}

func serveOneJob(t *testing.T, job agentapi.Job) *oneJobPalisade {
	t.Helper()
	p := &oneJobPalisade{}
	leased := false
	jobPath := "/v1/agent/jobs/" + strconv.FormatInt(job.ID, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.calls = append(p.calls, r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/agent/lease":
			if leased {
				_, _ = w.Write([]byte(`{"job": null}`))
				return
			}
			leased = true
			_ = json.NewEncoder(w).Encode(agentapi.LeaseAnswer{Job: &job})
		case jobPath + "/action":
			_, _ = w.Write([]byte(`{"recorded": true}`))
		case jobPath + "/finish":
			_ = json.NewDecoder(r.Body).Decode(&p.finish)
			_, _ = w.Write([]byte(`{"state": "failed"}`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}
