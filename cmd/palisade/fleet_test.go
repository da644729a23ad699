package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/client"
	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

// fleetNode is one running `palisade serve` of a test fleet.
type fleetNode struct {
	url  string
	out  *lineWriter
	stop func() error
}

// fleet is what the nodes of a test fleet share: the store settings (which
// the CLI takes too: database and master key) and the User API signing key.
type fleet struct {
	store   []string
	userKey string
}

func newFleet(t *testing.T, databaseURL string) fleet {
	t.Helper()
	mk := make([]byte, 32)
	_, _ = rand.Read(mk)
	return fleet{store: []string{"--database-url", databaseURL, "--master-key", hex.EncodeToString(mk)},
		userKey: filepath.Join(t.TempDir(), "userapi-key.pem")}
}

// startNode starts a node of f, with its own data directory.
func startNode(t *testing.T, f fleet, extra ...string) fleetNode {
	t.Helper()
	args := append(append([]string{"--data-dir", t.TempDir(), "--userapi-key", f.userKey}, f.store...), extra...)
	url, out, stop := startServe(t, noEnv, args...)
	return fleetNode{url: url, out: out, stop: stop}
}

// provisionSite creates a partner with credit through the CLI and a website
// through node's partner API, and returns the partner key and server key.
func provisionSite(t *testing.T, shared []string, node, domain string) (apiKey, serverKey string) {
	t.Helper()
	created := cli(t, noEnv, append([]string{"partner", "create", "--name", "Fleet Hosting"}, shared...)...)
	m := regexp.MustCompile(`(?m)^api_key: (pk_\S+)$`).FindStringSubmatch(created)
	if m == nil {
		t.Fatalf("partner create: %s", created)
	}
	cli(t, noEnv, append([]string{"partner", "topup", "--name", "Fleet Hosting", "--amount", "1000.00"}, shared...)...)
	w, err := client.New(node, m[1]).CreateWebsite(context.Background(), client.WebsiteCreate{Domain: domain, Plan: "10k"})
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	return m[1], w.ServerKey
}

// decide asks node's forward-auth about a request from ip and returns the
// status and the action header.
func decide(t *testing.T, node, serverKey, ip string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", node+"/forward-auth", nil)
	req.Header.Set("X-Palisade-Key", serverKey)
	req.Header.Set("X-Original-Uri", "/")
	req.Header.Set("X-Real-Ip", ip)
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36")
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Accept-Language", "en")
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("X-Palisade-Action")
}

var noFollow = &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// waitDeny polls node until it denies ip for the site and returns how long
// that took from start.
func waitDeny(t *testing.T, node, serverKey, ip string, start time.Time) time.Duration {
	t.Helper()
	deadline := start.Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if _, act := decide(t, node, serverKey, ip); act == "deny" {
			return time.Since(start)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s never denied %s", node, ip)
	return 0
}

func putSettings(t *testing.T, node, key, domain, body string) {
	t.Helper()
	var st client.Settings
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if _, err := client.New(node, key).PutSettings(context.Background(), domain, st); err != nil {
		t.Fatalf("PUT settings on %s: %v", node, err)
	}
}

// TestFleetConfigPropagation: three nodes share one PostgreSQL database. A
// rule saved through node A reaches B and C by LISTEN/NOTIFY alone: they
// poll the config version only hourly in this test.
func TestFleetConfigPropagation(t *testing.T) {
	f := newFleet(t, storetest.PostgresSchemaURL(t))
	a := startNode(t, f)
	b := startNode(t, f, "--config-poll", "1h")
	c := startNode(t, f, "--config-poll", "1h")
	key, sk := provisionSite(t, f.store, a.url, "fleet.example.com")
	for _, n := range []fleetNode{b, c} { // the new website itself came by notification
		if st, _ := waitAction(t, n.url, sk, "198.51.100.1", "grant"); st != 200 {
			t.Fatalf("%s: %d", n.url, st)
		}
	}
	for i, ip := range []string{"203.0.113.7", "203.0.113.8", "203.0.113.9"} {
		start := time.Now()
		putSettings(t, a.url, key, "fleet.example.com", `{"deny":["`+ip+`"]}`)
		for _, n := range []fleetNode{a, b, c} {
			t.Logf("change %d: %s denies after %v", i, n.url, waitDeny(t, n.url, sk, ip, start))
		}
	}
	// Every node comes to report the same config version. Not at once: the
	// deny checks above are a website's first traffic, which turns it
	// online, another change that reaches each node by its own notification.
	var versions []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		versions = versions[:0]
		for _, n := range []fleetNode{a, b, c} {
			m := regexp.MustCompile(`(?m)^palisade_config_version (\d+)$`).FindStringSubmatch(get(t, n.url+"/metrics"))
			if m == nil {
				t.Fatalf("%s: no palisade_config_version in /metrics", n.url)
			}
			versions = append(versions, m[1])
		}
		if versions[0] == versions[1] && versions[1] == versions[2] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("config versions still differ across nodes after 10 s: %v", versions)
		}
	}
}

// TestFleetPollHeals: without notifications (two nodes on one SQLite file,
// where there are none), the periodic version check alone brings a change
// to the other node.
func TestFleetPollHeals(t *testing.T) {
	f := fleet{store: []string{"--data-dir", t.TempDir()}, userKey: filepath.Join(t.TempDir(), "userapi-key.pem")}
	a := startNode(t, f)
	b := startNode(t, f, "--config-poll", "100ms")
	key, sk := provisionSite(t, f.store, a.url, "poll.example.com")
	start := time.Now()
	putSettings(t, a.url, key, "poll.example.com", `{"deny":["203.0.113.50"]}`)
	t.Logf("node B denies after %v (polling every 100ms)", waitDeny(t, b.url, sk, "203.0.113.50", start))
}

func waitAction(t *testing.T, node, serverKey, ip, want string) (int, string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, act := decide(t, node, serverKey, ip)
		if act == want || time.Now().After(deadline) {
			return st, act
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = io.Copy(&b, resp.Body)
	return b.String()
}

// TestRoles: a control node serves the APIs and not the decision endpoints,
// an edge node the reverse; a website provisioned on the control node is
// decided on the edge node.
func TestRoles(t *testing.T) {
	f := newFleet(t, storetest.PostgresSchemaURL(t))
	ctl := startNode(t, f, "--role", "control")
	edge := startNode(t, f, "--role", "edge")
	_, sk := provisionSite(t, f.store, ctl.url, "roles.example.com")
	if st, act := waitAction(t, edge.url, sk, "198.51.100.1", "grant"); st != 200 || act != "grant" {
		t.Fatalf("edge: %d %q", st, act)
	}
	for _, c := range []struct {
		node, method, path string
		want               int
		body               string
	}{
		{edge.url, "GET", "/website", 404, "--role edge"},
		{edge.url, "GET", "/api/account", 404, "--role edge"},
		{edge.url, "GET", "/en/login", 404, "--role edge"},
		{ctl.url, "GET", "/forward-auth", 404, "--role control"},
		{ctl.url, "POST", "/v2.1/check", 404, "--role control"},
		{ctl.url, "GET", "/_palisade/challenge.js", 404, "--role control"},
		{edge.url, "GET", "/readyz", 200, `"role":"edge"`},
		{ctl.url, "GET", "/readyz?plane=control", 200, `"control":"ok"`},
		{ctl.url, "GET", "/readyz?plane=decision", 400, "not served by this node"},
		{edge.url, "GET", "/metrics", 200, `palisade_node_info{node=`},
		{ctl.url, "GET", "/metrics", 200, "palisade_store_up 1"},
	} {
		req, _ := http.NewRequest(c.method, c.node+c.path, nil)
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want || !strings.Contains(string(b), c.body) {
			t.Errorf("%s %s on %s: %d %s", c.method, c.path, c.node, resp.StatusCode, b)
		}
	}
}

// TestBackupRestore: a backup taken while serving holds what was there;
// restore refuses while Palisade runs, then brings it back.
func TestBackupRestore(t *testing.T) {
	dir := t.TempDir()
	f := fleet{store: []string{"--data-dir", dir}, userKey: filepath.Join(t.TempDir(), "userapi-key.pem")}
	n := startNode(t, f)
	key, _ := provisionSite(t, f.store, n.url, "kept.example.com")
	backup := filepath.Join(t.TempDir(), "palisade-backup.db")
	out := cli(t, noEnv, "backup", "--data-dir", dir, "--out", backup)
	if !strings.Contains(out, "integrity checked") || !strings.Contains(out, "master.key") {
		t.Fatalf("backup: %s", out)
	}
	if err := run(t.Context(), []string{"backup", "--data-dir", dir, "--out", backup}, noEnv, testclock.New(t).Now, io.Discard, io.Discard); err == nil {
		t.Fatal("a backup overwrote an existing file")
	}
	if r := request(t, "POST", n.url+"/website", key, "domain=later.example.com&plan=10k"); r.status != 201 {
		t.Fatalf("register after the backup: %d %s", r.status, r.raw)
	}
	var errOut strings.Builder
	if err := run(t.Context(), []string{"restore", "--data-dir", dir, "--from", backup}, noEnv, testclock.New(t).Now, io.Discard, &errOut); err == nil || !strings.Contains(err.Error(), "running Palisade") {
		t.Fatalf("restore while serving: %v", err)
	}
	if err := n.stop(); err != nil {
		t.Fatal(err)
	}
	if out := cli(t, noEnv, "restore", "--data-dir", dir, "--from", backup); !strings.Contains(out, "restored") || !strings.Contains(out, "before-restore") {
		t.Fatalf("restore: %s", out)
	}
	n2 := startNode(t, f)
	if r := request(t, "GET", n2.url+"/website/kept.example.com", key, ""); r.status != 200 {
		t.Fatalf("backed-up website after restore: %d %s", r.status, r.raw)
	}
	if r := request(t, "GET", n2.url+"/website/later.example.com", key, ""); r.status != 404 {
		t.Fatalf("website made after the backup: %d %s", r.status, r.raw)
	}
	var pgErr error
	if pgErr = run(t.Context(), []string{"backup", "--database-url", "postgres://x@127.0.0.1/none", "--out", filepath.Join(t.TempDir(), "x")}, noEnv, testclock.New(t).Now, io.Discard, io.Discard); pgErr == nil || !strings.Contains(pgErr.Error(), "pg_dump") {
		t.Fatalf("backup of PostgreSQL: %v", pgErr)
	}
}
