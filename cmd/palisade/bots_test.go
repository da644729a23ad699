package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
