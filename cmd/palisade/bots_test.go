package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

// TestBotsRefreshRefusesForgedLists: 'palisade bots refresh' refuses a
// source over plain http to the network, a list of 0.0.0.0/0 and ::/0, and
// a wholesale change from the last good copy unless --force; a refused list
// keeps the last good copy.
func TestBotsRefreshRefusesForgedLists(t *testing.T) {
	list := `{"creationTime":"2026-11-20T00:00:00","prefixes":[{"ipv4Prefix":"192.0.2.0/24"}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(list)) }))
	defer srv.Close()
	dir := t.TempDir()
	refresh := func(extra ...string) (string, error) {
		args := append([]string{"bots", "refresh", "--data-dir", dir, "--bot-source", "mybot=" + srv.URL + "/x.json"}, dropDefaults()...)
		var out bytes.Buffer
		err := run(context.Background(), append(args, extra...), noEnv, testclock.New(t).Now, &out, io.Discard)
		return out.String(), err
	}
	if out, err := refresh(); err != nil {
		t.Fatalf("first refresh: %v\n%s", err, out)
	}
	list = `{"creationTime":"2026-11-21T00:00:00","prefixes":[{"ipv4Prefix":"0.0.0.0/0"},{"ipv6Prefix":"::/0"}]}`
	for _, force := range [][]string{nil, {"--force"}} {
		if out, err := refresh(force...); err == nil || !strings.Contains(out, "implausibly broad") {
			t.Fatalf("0.0.0.0/0 with %v: %v\n%s", force, err, out)
		}
	}
	list = `{"creationTime":"2026-11-22T00:00:00","prefixes":[{"ipv4Prefix":"198.51.100.0/24"}]}`
	if out, err := refresh(); err == nil || !strings.Contains(out, "--force") {
		t.Fatalf("wholesale change: %v\n%s", err, out)
	}
	if out := cli(t, noEnv, "bots", "list", "--data-dir", dir); !strings.Contains(out, "2026-11-20") {
		t.Fatalf("the last good copy was not kept: %s", out)
	}
	if out, err := refresh("--force"); err != nil {
		t.Fatalf("forced: %v\n%s", err, out)
	}
	if out := cli(t, noEnv, "bots", "list", "--data-dir", dir); !strings.Contains(out, "2026-11-22") {
		t.Fatalf("the forced list was not written: %s", out)
	}
	args := append([]string{"bots", "refresh", "--data-dir", dir, "--bot-source", "mybot=http://192.0.2.1/x.json"}, dropDefaults()...)
	if err := run(context.Background(), args, noEnv, testclock.New(t).Now, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "https") {
		t.Fatalf("plain http source: %v", err)
	}
}

// TestBotsStatus: with nothing downloaded, 'palisade bots status' shows the
// snapshot shipped in the binary, each list with its date, age and source; a
// downloaded list shows its file instead.
func TestBotsStatus(t *testing.T) {
	dir := t.TempDir()
	now := func() time.Time { return time.Date(2026, 9, 19, 12, 0, 0, 0, time.UTC) }
	status := func() string {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"bots", "status", "--data-dir", dir}, noEnv, now, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	out := status()
	var google string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "googlebot ") {
			google = l
		}
	}
	for _, want := range []string{"2026-08-20", "30 days", "shipped snapshot", "https://developers.google.com/static/crawling/ipranges/common-crawlers.json"} {
		if !strings.Contains(google, want) {
			t.Fatalf("googlebot line %q lacks %q:\n%s", google, want, out)
		}
	}
	// Lists the snapshot holds no copy of are shown empty and dated, with
	// their source, or as published nowhere.
	lines := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			lines[f[0]] = l
		}
	}
	for name, want := range map[string][]string{
		"stripe-webhooks":         {" 0 ", "2026-08-20", "30 days", "no snapshot copy, awaiting first download", "https://stripe.com/files/ips/ips_webhooks.txt"},
		"google-special-crawlers": {" 0 ", "2026-08-20", "awaiting first download", "https://developers.google.com/static/crawling/ipranges/special-crawlers.json"},
		"pingdom":                 {"https://my.pingdom.com/probes/ipv4 https://my.pingdom.com/probes/ipv6"},
		"meta":                    {" 0 ", "2026-08-20", "none published", "--bot-source meta="},
	} {
		for _, w := range want {
			if !strings.Contains(lines[name], w) {
				t.Errorf("%s line %q lacks %q", name, lines[name], w)
			}
		}
	}
	for _, name := range []string{"bingbot", "applebot", "duckduckbot", "common-crawl", "openai-gptbot", "openai-searchbot", "perplexitybot"} {
		if !strings.Contains(out, "\n"+name+" ") {
			t.Errorf("no %s list:\n%s", name, out)
		}
	}
	os.MkdirAll(filepath.Join(dir, "bots"), 0o755)
	os.WriteFile(filepath.Join(dir, "bots", "googlebot.json"), []byte(`{"creationTime":"2026-09-18T00:00:00","prefixes":[{"ipv4Prefix":"66.249.64.0/27"}]}`), 0o644)
	if out := status(); !strings.Contains(out, filepath.Join(dir, "bots", "googlebot.json")) || !strings.Contains(out, "2026-09-18") {
		t.Fatalf("the downloaded list is not shown:\n%s", out)
	}
}

// TestBotsImport: 'palisade bots import' writes the snapshot format.
func TestBotsImport(t *testing.T) {
	from, to := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(from, "examplebot.json"), []byte(`{"creationTime":"2026-08-20T00:00:00","source":"https://bots.example.com/x.json","prefixes":[{"ipv4Prefix":"192.0.2.0/24"}]}`), 0o644)
	if out := cli(t, noEnv, "bots", "import", "--from", from, "--out", to); !strings.Contains(out, "examplebot") || !strings.Contains(out, "1 prefixes") {
		t.Fatalf("import: %s", out)
	}
	b, err := os.ReadFile(filepath.Join(to, "examplebot.ranges"))
	if err != nil || !strings.Contains(string(b), "published 2026-08-20\n192.0.2.0/24\n") {
		t.Fatalf("%s %v", b, err)
	}
}
