package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/botdata"
	"github.com/palisadehq/palisade/internal/mail/mailtest"
	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/testenv"
	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

// lineWriter collects output and reports when a line matching re appears.
type lineWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func (w *lineWriter) wait(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	// Generous: a node's start-up (migrations, an RSA key for the User
	// API, the bot data) takes a few seconds on a loaded 2-core machine.
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(w.String()); m != nil {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("output never matched %s:\n%s", re, w.String())
	return nil
}

func noEnv(string) string { return "" }

// startServe runs `palisade serve` on a free port and returns its base URL and
// a function that stops it and returns run's error.
func startServe(t *testing.T, getenv func(string) string, args ...string) (string, *lineWriter, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &lineWriter{}
	done := make(chan error, 1)
	now := testclock.New(t).Now
	go func() {
		// --bot-refresh 0: no test reaches the network (the shipped snapshot
		// of the range lists is used); a test may still pass its own.
		done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--bot-refresh", "0"}, args...), getenv, now, out, io.Discard)
	}()
	m := out.wait(t, regexp.MustCompile(`listening on (http://\S+)`))
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			return fmt.Errorf("serve did not stop")
		}
	}
	t.Cleanup(func() { _ = stop() })
	return m[1], out, stop
}

func cli(t *testing.T, getenv func(string) string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), args, getenv, testclock.New(t).Now, &out, &errOut); err != nil {
		t.Fatalf("palisade %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

type httpResult struct {
	status int
	body   map[string]any
	raw    string
}

func request(t *testing.T, method, url, key, form string) httpResult {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(form))
	req.Header.Set("Authorization", "Bearer "+key)
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := httpResult{status: resp.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// TestWalkthrough follows the README's five-minute walk-through against the
// real binary's run function, on SQLite and on PostgreSQL.
func TestWalkthrough(t *testing.T) {
	cases := map[string]func(t *testing.T) []string{
		"sqlite": func(t *testing.T) []string { return []string{"--data-dir", t.TempDir()} },
		"postgres": func(t *testing.T) []string {
			return []string{"--database-url", storetest.PostgresSchemaURL(t), "--data-dir", t.TempDir()}
		},
	}
	for name, storeArgs := range cases {
		t.Run(name, func(t *testing.T) {
			sa := storeArgs(t)
			base, out, stop := startServe(t, noEnv, sa...)
			if !strings.Contains(out.String(), "No partners yet") || !strings.Contains(out.String(), "palisade partner create") {
				t.Fatalf("first run does not say how to create a partner:\n%s", out)
			}
			created := cli(t, noEnv, append([]string{"partner", "create", "--name", "My Hosting", "--email", "ops@myhosting.example"}, sa...)...)
			m := regexp.MustCompile(`(?m)^api_key: (pk_\S+)$`).FindStringSubmatch(created)
			if m == nil {
				t.Fatalf("partner create printed no api_key line:\n%s", created)
			}
			key := m[1]
			if out := cli(t, noEnv, append([]string{"partner", "topup", "--name", "My Hosting", "--amount", "100.00"}, sa...)...); !strings.Contains(out, "balance is now 100.00") {
				t.Fatalf("topup: %s", out)
			}
			if out := cli(t, noEnv, append([]string{"plan", "list"}, sa...)...); !strings.Contains(out, "200k") || !strings.Contains(out, "60.00") {
				t.Fatalf("plan list: %s", out)
			}

			u := request(t, "POST", base+"/user", key, "email=jane@example.com&first_name=Jane&last_name=Doe&company=Doe+Ltd&country=DE&lang=en")
			if u.status != 201 || u.body["api_key"] == nil {
				t.Fatalf("create subaccount: %d %s", u.status, u.raw)
			}
			userID := fmt.Sprint(u.body["id"])
			w := request(t, "POST", base+"/website", key, "domain=shop.example.com&user="+userID+"&plan=10k")
			if w.status != 201 || w.body["status"] != "setup" {
				t.Fatalf("register: %d %s", w.status, w.raw)
			}
			if g := request(t, "GET", base+"/website/shop.example.com", key, ""); g.status != 200 || g.body["server_key"] == nil {
				t.Fatalf("get: %d %s", g.status, g.raw)
			}
			if p := request(t, "PUT", base+"/website/shop.example.com", key, "status=paused"); p.status != 200 || p.body["status"] != "paused" {
				t.Fatalf("pause: %d %s", p.status, p.raw)
			}
			if p := request(t, "PUT", base+"/website/shop.example.com", key, "status=online"); p.status != 200 || p.body["status"] != "setup" {
				t.Fatalf("resume: %d %s", p.status, p.raw)
			}
			if d := request(t, "DELETE", base+"/website/shop.example.com", key, ""); d.status != 200 || d.body["status"] != "deleted" {
				t.Fatalf("delete: %d %s", d.status, d.raw)
			}
			if c := request(t, "GET", base+"/v1/credit", key, ""); c.body["balance"] != "95.00" {
				t.Fatalf("credit: %s", c.raw)
			}
			if out := cli(t, noEnv, append([]string{"partner", "brand", "--name", "My Hosting", "--display", "My Hosting Shield", "--logo", "https://myhosting.example/logo.png"}, sa...)...); !strings.Contains(out, `"My Hosting Shield"`) {
				t.Fatalf("partner brand: %s", out)
			}
			show := cli(t, noEnv, append([]string{"partner", "show", "--name", "My Hosting"}, sa...)...)
			if !strings.Contains(show, "balance:    95.00 (ledger sum 95.00)") || !strings.Contains(show, "brand:      My Hosting Shield https://myhosting.example/logo.png") {
				t.Fatalf("partner show: %s", show)
			}
			if err := stop(); err != nil {
				t.Fatalf("serve returned %v", err)
			}
		})
	}
}

// TestGracefulShutdown: a request in flight when the signal arrives finishes.
func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	base, _, stop := startServe(t, noEnv, "--data-dir", dir)
	key := regexp.MustCompile(`api_key: (\S+)`).FindStringSubmatch(cli(t, noEnv, "partner", "create", "--name", "p", "--data-dir", dir))[1]

	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", base+"/user", pr)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	type resp struct {
		status int
		err    error
	}
	got := make(chan resp, 1)
	go func() {
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- resp{err: err}
			return
		}
		r.Body.Close()
		got <- resp{status: r.StatusCode}
	}()
	_, _ = pw.Write([]byte("email=slow@"))
	time.Sleep(200 * time.Millisecond) // the request is now in flight
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	time.Sleep(200 * time.Millisecond) // shutdown has begun
	_, _ = pw.Write([]byte("example.com"))
	pw.Close()
	r := <-got
	if r.err != nil || r.status != 201 {
		t.Fatalf("in-flight request: %d %v", r.status, r.err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("server still answers after shutdown")
	}
}

func TestConfigPrecedence(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "palisade.yaml")
	os.WriteFile(cfg, []byte("# settings\naddr: 10.0.0.1:1\npublic-url: \"https://file.example\"\nnode:\n  - https://a.example\n  - https://b.example\nlog-level: debug # comment\n"), 0o600)
	env := map[string]string{"PALISADE_CONFIG": cfg, "PALISADE_PUBLIC_URL": "https://env.example"}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "")
	pub := fs.String("public-url", "", "")
	lvl := fs.String("log-level", "info", "")
	var nodes stringList
	fs.Var(&nodes, "node", "")
	if err := parseFlags(fs, []string{"--addr", "127.0.0.2:9"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if *addr != "127.0.0.2:9" || *pub != "https://env.example" || *lvl != "debug" || nodes.String() != "https://a.example,https://b.example" {
		t.Fatalf("addr %s public-url %s log-level %s nodes %s", *addr, *pub, *lvl, nodes.String())
	}

	os.WriteFile(cfg, []byte("adr: x\n"), 0o600)
	fs = flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.String("addr", "", "")
	if err := parseFlags(fs, nil, func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "unknown setting(s) adr") {
		t.Fatalf("typo in config file: %v", err)
	}
}

func TestCLIErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, "unknown command"},
		{[]string{"partner", "create", "--data-dir", dir}, "--name is required"},
		{[]string{"partner", "topup", "--name", "x", "--amount", "1.234", "--data-dir", dir}, "--amount"},
		{[]string{"partner", "topup", "--name", "nobody", "--amount", "5", "--data-dir", dir}, `no partner is named "nobody"`},
		{[]string{"partner", "create", "--name", "x", "--allowed-ip", "nope", "--data-dir", dir}, "not an IP address or CIDR"},
		{[]string{"partner", "brand", "--name", "nobody", "--display", "X", "--data-dir", dir}, `no partner is named "nobody"`},
		{[]string{"plan", "create", "--name", "x", "--data-dir", dir}, "needs --name, --quota, --price and --rank"},
		{[]string{"serve", "--role", "bogus", "--data-dir", dir}, "--role"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--master-key", "short", "--data-dir", dir}, "--master-key"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--challenge-key", "abcd", "--data-dir", dir}, "--challenge-key: 2 bytes"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--egress-ip", "nope", "--data-dir", dir}, `--egress-ip "nope" is not an IP address`},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--addon-price", "-1", "--data-dir", dir}, "--addon-price"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--smart-patch-price", "0", "--data-dir", dir}, `--smart-patch-price "0": give a positive amount`},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--backup-price", "4.001", "--data-dir", dir}, `--backup-price "4.001"`},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--scan-root", "var/www", "--data-dir", dir}, `--scan-root "var/www": give [PARTNER=]DIR`},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--backup-root", "/", "--data-dir", dir}, `--backup-root "/"`},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--smtp-url", "http://x", "--data-dir", dir}, "--smtp-url must look like"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--smtp-url", "smtp://127.0.0.1:25", "--data-dir", dir}, "--smtp-from is required"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--challenge-key", "not a key!", "--data-dir", dir}, "--challenge-key: not hex or base64"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--trusted-proxy", "10.0.0.5=X Real IP", "--data-dir", dir}, `--trusted-proxy "10.0.0.5=X Real IP"`},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--trusted-proxy", "lb.example.net", "--data-dir", dir}, "is not an IP or CIDR"},
		{[]string{"proxy", "--upstream", "http://127.0.0.1:9", "--trusted-proxy", "10.0.0.5=", "--data-dir", dir}, "--trusted-proxy"},
	} {
		err := run(context.Background(), c.args, noEnv, testclock.New(t).Now, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("palisade %s: error %v; want it to mention %q", strings.Join(c.args, " "), err, c.want)
		}
	}
	cli(t, noEnv, "partner", "create", "--name", "dup", "--data-dir", dir)
	err := run(context.Background(), []string{"partner", "create", "--name", "dup", "--data-dir", dir}, noEnv, testclock.New(t).Now, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate partner: %v", err)
	}
	rotated := cli(t, noEnv, "partner", "rotate-key", "--name", "dup", "--keep-old", "--data-dir", dir)
	if !regexp.MustCompile(`(?m)^api_key: pk_\S+$`).MatchString(rotated) {
		t.Fatalf("rotate-key: %s", rotated)
	}
	if show := cli(t, noEnv, "partner", "show", "--name", "dup", "--data-dir", dir); strings.Count(show, "api key:") != 2 || !strings.Contains(show, "allowed:    ") {
		t.Fatalf("two keys expected after rotate --keep-old: %s", show)
	}
	out := cli(t, noEnv, "plan", "create", "--name", "500k", "--quota", "500000", "--price", "120", "--rank", "6", "--data-dir", dir)
	if !strings.Contains(out, "created plan 500k") || !strings.Contains(cli(t, noEnv, "plan", "list", "--data-dir", dir), "500,000") {
		t.Fatalf("plan create: %s", out)
	}
	err = run(context.Background(), []string{"plan", "list", "--data-dir", dir, "--master-key", strings.Repeat("ab", 32)}, noEnv, testclock.New(t).Now, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "master key does not match") {
		t.Fatalf("wrong master key: %v", err)
	}
	if out := cli(t, noEnv, "migrate", "--data-dir", dir); !strings.Contains(out, fmt.Sprintf("schema is at version %d", newestMigration(t))) {
		t.Fatalf("migrate: %s", out)
	}
	var help bytes.Buffer
	_ = run(context.Background(), []string{"serve", "--help"}, noEnv, testclock.New(t).Now, io.Discard, &help)
	for _, want := range []string{"-addr", "PALISADE_", "-database-url", "-data-dir"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("serve --help lacks %q:\n%s", want, help.String())
		}
	}
	sc := bufio.NewScanner(strings.NewReader(cli(t, noEnv, "help")))
	lines := 0
	for sc.Scan() {
		lines++
	}
	if lines < 5 {
		t.Fatal("help is too short")
	}
}

// TestProxyCommand: `palisade proxy` protects an application with no web
// server in front, using the websites in the shared store.
func TestProxyCommand(t *testing.T) {
	dir := t.TempDir()
	base, _, stop := startServe(t, noEnv, "--data-dir", dir)
	key := regexp.MustCompile(`api_key: (\S+)`).FindStringSubmatch(cli(t, noEnv, "partner", "create", "--name", "p", "--data-dir", dir))[1]
	if r := request(t, "POST", base+"/website", key, "domain=app.example.com"); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "the app") }))
	defer app.Close()

	ctx, cancel := context.WithCancel(context.Background())
	out := &lineWriter{}
	done := make(chan error, 1)
	now := testclock.New(t).Now
	go func() {
		done <- run(ctx, []string{"proxy", "--addr", "127.0.0.1:0", "--upstream", app.URL, "--site", "App.Example.com", "--data-dir", dir, "--verify-rdns=false"}, noEnv, now, out, io.Discard)
	}()
	m := out.wait(t, regexp.MustCompile(`proxy listening on (http://\S+)`))
	if !strings.Contains(out.String(), "app.example.com -> "+app.URL) {
		t.Fatalf("proxy did not list its route:\n%s", out)
	}
	get := func(host, ua string) (int, string) {
		req, _ := http.NewRequest("GET", m[1]+"/", nil)
		req.Host = host
		testenv.AsBrowser(req, ua)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("app.example.com", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"); code != 200 || body != "the app" {
		t.Fatalf("browser: %d %q", code, body)
	}
	if code, _ := get("app.example.com", "sqlmap/1.7"); code != 403 {
		t.Fatalf("bad bot: %d", code)
	}
	if code, _ := get("other.example.com", "sqlmap/1.7"); code != http.StatusMisdirectedRequest {
		t.Fatalf("other host: %d", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("proxy: %v", err)
	}
	if err := run(context.Background(), []string{"proxy", "--data-dir", dir}, noEnv, testclock.New(t).Now, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "--upstream or at least one --route") {
		t.Fatalf("proxy without upstream: %v", err)
	}
}

func TestBotsCommands(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/html" {
			w.Write([]byte("<html>moved</html>"))
			return
		}
		w.Write([]byte(`{"creationTime":"2026-11-20T00:00:00","prefixes":[{"ipv4Prefix":"192.0.2.0/24"}]}`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	// Every default source is dropped so that the test reaches only loopback.
	args := []string{"bots", "refresh", "--data-dir", dir, "--bot-source", "mybot=" + srv.URL + "/x.json"}
	args = append(args, dropDefaults()...)
	if out := cli(t, noEnv, args...); !strings.Contains(out, "mybot") || !strings.Contains(out, "1 prefixes") {
		t.Fatalf("refresh: %s", out)
	}
	if out := cli(t, noEnv, "bots", "list", "--data-dir", dir); !strings.Contains(out, "mybot") || !strings.Contains(out, "2026-11-20") {
		t.Fatalf("list: %s", out)
	}
	bad := append([]string{"bots", "refresh", "--data-dir", dir, "--bot-source", "mybot=" + srv.URL + "/html"}, dropDefaults()...)
	var out bytes.Buffer
	err := run(context.Background(), bad, noEnv, testclock.New(t).Now, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "1 of 1 lists were not refreshed") || !strings.Contains(out.String(), "FAILED") {
		t.Fatalf("bad list: %v\n%s", err, out.String())
	}
	if out := cli(t, noEnv, "bots", "list", "--data-dir", dir); !strings.Contains(out, "2026-11-20") {
		t.Fatalf("the last good copy was not kept: %s", out)
	}
}

// dropDefaults returns flags that remove every default (internet) source.
func dropDefaults() []string {
	var out []string
	for name := range botdata.DefaultSources {
		out = append(out, "--bot-source", name+"=")
	}
	return out
}

func TestChallengeKeyRotation(t *testing.T) {
	dir := t.TempDir()
	cli(t, noEnv, "plan", "list", "--data-dir", dir) // creates the store
	if out := cli(t, noEnv, "challenge", "rotate-key", "--data-dir", dir); !strings.Contains(out, "rotated") {
		t.Fatalf("rotate: %s", out)
	}
	if err := run(context.Background(), []string{"challenge"}, noEnv, testclock.New(t).Now, io.Discard, io.Discard); err == nil {
		t.Fatal("challenge without a subcommand succeeded")
	}
}

func TestParseChallengeKey(t *testing.T) {
	raw := bytes.Repeat([]byte{0xfe}, 32)
	for _, v := range []string{hex.EncodeToString(raw), base64.StdEncoding.EncodeToString(raw), base64.RawURLEncoding.EncodeToString(raw), " " + hex.EncodeToString(raw) + "\n"} {
		k, err := parseChallengeKey(v)
		if err != nil || !bytes.Equal(k, raw) {
			t.Errorf("parseChallengeKey(%q) = %x, %v", v, k, err)
		}
	}
	if k, err := parseChallengeKey(""); k != nil || err != nil {
		t.Errorf("empty: %x %v", k, err)
	}
}

// TestServeDeliversEmails: with --smtp-url, the welcome email of a website
// registered through the API reaches the SMTP server, once.
func TestServeDeliversEmails(t *testing.T) {
	srv := mailtest.Start(t)
	dir := t.TempDir()
	cli(t, noEnv, "plan", "list", "--data-dir", dir)
	key := regexp.MustCompile(`api_key: (\S+)`).FindStringSubmatch(cli(t, noEnv, "partner", "create", "--name", "p", "--data-dir", dir))[1]
	cli(t, noEnv, "partner", "topup", "--name", "p", "--amount", "50", "--data-dir", dir)
	base, _, stop := startServe(t, noEnv, "--data-dir", dir, "--smtp-url", "smtp://"+srv.Addr(), "--smtp-from", "Acme Hosting <noreply@acme.example>")
	defer stop()
	u := request(t, "POST", base+"/user", key, "email=jane@example.com&first_name=Jane")
	if u.status != 201 {
		t.Fatalf("user: %d %s", u.status, u.raw)
	}
	if w := request(t, "POST", base+"/website", key, "domain=shop.example.com&plan=10k&user="+fmt.Sprint(u.body["id"])); w.status != 201 {
		t.Fatalf("website: %d %s", w.status, w.raw)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(srv.Messages()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || !strings.Contains(msgs[0].Data, "shop.example.com is now protected by p") || !strings.HasPrefix(msgs[0].To, "<jane@example.com>") {
		t.Fatalf("delivered %+v", msgs)
	}
	deadline = time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if e := request(t, "GET", base+"/v1/emails?status=sent", key, ""); strings.Contains(e.raw, `"kind":"welcome"`) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the delivered email is not marked sent")
}

func TestUserAdd(t *testing.T) {
	dir := t.TempDir()
	cli(t, noEnv, "partner", "create", "--name", "p", "--data-dir", dir)
	out := cli(t, noEnv, "user", "add", "--email", "ops@p.example", "--partner", "p", "--data-dir", dir)
	if !strings.Contains(out, "ops@p.example can now sign in at /console/login to p's console") || !regexp.MustCompile(`password: \S{20,}`).MatchString(out) {
		t.Fatalf("user add: %s", out)
	}
	if out := cli(t, noEnv, "user", "add", "--email", "root@p.example", "--password", "0perator-Secret", "--data-dir", dir); !strings.Contains(out, "operator pages") || strings.Contains(out, "password:") {
		t.Fatalf("operator: %s", out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "add", "--data-dir", dir}, "--email is required"},
		{[]string{"user", "add", "--email", "x@p.example", "--partner", "nobody", "--data-dir", dir}, `no partner is named "nobody"`},
		{[]string{"user", "add", "--email", "ops@p.example", "--data-dir", dir}, "already exists"},
		{[]string{"user", "add", "--email", "y@p.example", "--password", "short", "--data-dir", dir}, "weak password"},
	} {
		err := run(context.Background(), c.args, noEnv, testclock.New(t).Now, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("palisade %s: %v; want %q", strings.Join(c.args, " "), err, c.want)
		}
	}
}

// newestMigration is the version of the newest SQLite migration file, so
// the migrate check follows new migrations without an edit.
func newestMigration(t *testing.T) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "internal", "store", "migrations", "sqlite", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v", err)
	}
	newest := 0
	for _, f := range files {
		var n int
		if _, err := fmt.Sscanf(filepath.Base(f), "%05d_", &n); err == nil && n > newest {
			newest = n
		}
	}
	return newest
}
