package main

import (
	"context"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

// TestPlanWAF: the operator makes a plan without the website firewall,
// sees it in the list, and turns the firewall on for it again.
func TestPlanWAF(t *testing.T) {
	dir := t.TempDir()
	row := func(list, name string) string {
		t.Helper()
		m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(name) + `\s.*$`).FindString(list)
		if m == "" {
			t.Fatalf("plan %s is not listed:\n%s", name, list)
		}
		return m
	}
	out := cli(t, noEnv, "plan", "create", "--name", "bots-only", "--quota", "10000", "--price", "3", "--rank", "7", "--waf=false", "--data-dir", dir)
	if !strings.Contains(out, "created plan bots-only") || !strings.Contains(out, "no website firewall") {
		t.Fatalf("plan create --waf=false: %s", out)
	}
	list := cli(t, noEnv, "plan", "list", "--data-dir", dir)
	if !strings.Contains(list, "WAF") || !strings.HasSuffix(strings.TrimSpace(row(list, "bots-only")), "no") || !strings.HasSuffix(strings.TrimSpace(row(list, "10k")), "yes") {
		t.Fatalf("plan list: %s", list)
	}
	if out := cli(t, noEnv, "plan", "set-waf", "--name", "bots-only", "--waf=true", "--data-dir", dir); !strings.Contains(out, "plan bots-only: website firewall included") {
		t.Fatalf("set-waf: %s", out)
	}
	if list := cli(t, noEnv, "plan", "list", "--data-dir", dir); !strings.HasSuffix(strings.TrimSpace(row(list, "bots-only")), "yes") {
		t.Fatalf("plan list after set-waf: %s", list)
	}
	err := run(context.Background(), []string{"plan", "set-waf", "--name", "nope", "--waf=false", "--data-dir", dir}, noEnv, testclock.New(t).Now, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("set-waf of an unknown plan: %v", err)
	}
	err = run(context.Background(), []string{"plan", "set-waf", "--waf=false", "--data-dir", dir}, noEnv, testclock.New(t).Now, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "needs --name") {
		t.Fatalf("set-waf without --name: %v", err)
	}
}
