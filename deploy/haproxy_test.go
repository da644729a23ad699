package deploy_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/api/spoe"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// spoeNode runs Palisade's SPOE agent for pal on addr until stop.
func spoeNode(t *testing.T, pal *testenv.Stack, addr string) (string, func()) {
	return sideNode(t, addr, spoe.New(pal.Protector, nil, slog.New(slog.NewTextHandler(io.Discard, nil))).Serve)
}

// TestHAProxySPOE runs deploy/haproxy in Debian's HAProxy: SPOE decisions,
// Palisade's pages and challenge endpoints, a redirect, and fail-open and
// fail-closed hosts while Palisade is down.
func TestHAProxySPOE(t *testing.T) {
	haproxy := testenv.NeedBinary(t, "haproxy", "/usr/sbin/haproxy")
	pal := testenv.New(t)
	pal.Website(t, "open.example.com", remoteVisitors(engine.Settings{Rules: []engine.Rule{
		{Name: "Moved", Action: "redirect", Location: "https://moved.example.test/", Conditions: []engine.Condition{{Field: "path", Op: "is", Value: "/old"}}}}}))
	pal.Website(t, "closed.example.com", remoteVisitors(engine.Settings{FailMode: "closed"}))
	pal.Website(t, "guarded.example.com", remoteVisitors(guardedSettings()))
	agentAddr, stopAgent := spoeNode(t, pal, "127.0.0.1:0")
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s%s", r.Host, r.URL.Path)
	}))
	defer site.Close()

	dir := t.TempDir()
	port := freePort(t)
	read := func(f string) string {
		b, err := os.ReadFile(filepath.Join("haproxy", f))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	spoeConf := filepath.Join(dir, "palisade-spoe.conf")
	if err := os.WriteFile(spoeConf, []byte(read("palisade-spoe.conf")), 0o644); err != nil {
		t.Fatal(err)
	}
	lst := filepath.Join(dir, "palisade-fail-closed.lst")
	if err := os.WriteFile(lst, []byte(read("palisade-fail-closed.lst")+"closed.example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fe := read("palisade-frontend.cfg")
	for old, repl := range map[string]string{
		"/etc/haproxy/palisade-spoe.conf":       spoeConf,
		"/etc/haproxy/palisade-fail-closed.lst": lst,
		"bind :80":                              fmt.Sprintf("bind 127.0.0.1:%d", port),
		"server web1 127.0.0.1:8000":            "server web1 " + strings.TrimPrefix(site.URL, "http://"),
		"server palisade 127.0.0.1:9082":        "server palisade " + agentAddr,
		"server palisade 127.0.0.1:8080":        "server palisade " + pal.Addr,
	} {
		if !strings.Contains(fe, old) {
			t.Fatalf("palisade-frontend.cfg no longer has %q", old)
		}
		fe = strings.ReplaceAll(fe, old, repl)
	}
	cfg := "global\n    log stderr format short local0 warning\n\ndefaults\n    log global\n    timeout connect 1s\n    timeout client 10s\n    timeout server 10s\n\n" + fe
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(haproxy, "-c", "-f", cfgPath).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	cmd := exec.Command(haproxy, "-db", "-f", cfgPath)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	get := webGetter(port)
	get.waitUp(t, "open.example.com", "HAProxy")
	get.checkVerdicts(t, "HAProxy", "/page", func(host string) string { return "hello from " + host + "/page" }, "open.example.com", "closed.example.com")
	checkForgedHeaders(t, "HAProxy", webHeaderGetter(port), "guarded.example.com")
	checkNoSpellingServed(t, "HAProxy", port, "guarded.example.com")

	stopAgent()
	pal.Stop()
	if code, body, _ := get("open.example.com", "/page", "sqlmap/1.7.2#stable"); code != 200 || body != "hello from open.example.com/page" {
		t.Fatalf("fail-open while Palisade is down: %d %q", code, body)
	}
	if code, body, _ := get("closed.example.com", "/", chromeUA); code != 503 || strings.Contains(body, "hello") {
		t.Fatalf("fail-closed while Palisade is down: %d %q", code, body)
	}
	pal.Start(t)
	spoeNode(t, pal, agentAddr)
	get.waitCode(t, "open.example.com", "/", "sqlmap/1.7.2#stable", 403, "protection after Palisade restarted")
}
