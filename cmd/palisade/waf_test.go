package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
)

// TestCLIWAFPatches: waf patch add pushes the operator's patch (SecLang
// from a file or the own form), refuses a bad one with the directive, line
// and reason, list shows them, rm deletes them; each change moves the
// config version the fleet reloads on.
func TestCLIWAFPatches(t *testing.T) {
	dir := t.TempDir()
	if out, _, err := runBoth(t, "waf", "patch", "help"); err != nil || !strings.Contains(out, "--seclang-file") {
		t.Fatalf("waf patch help: %v %s", err, out)
	}
	version := func() int64 {
		t.Helper()
		ctx := context.Background()
		db, err := store.Open(ctx, "", dir)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var v int64
		if err := db.View(ctx, func(tx core.Tx) (err error) { v, err = tx.ConfigVersion(ctx); return err }); err != nil {
			t.Fatal(err)
		}
		return v
	}
	file := filepath.Join(dir, "vuln.conf")
	if err := os.WriteFile(file, []byte("# the vuln plugin\nSecRule REQUEST_FILENAME \"@streq /wp-content/plugins/vuln/ajax.php\" \\\n  \"id:1001,phase:2,deny,chain\"\n  SecRule ARGS:action \"@streq exploit\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runBoth(t, "migrate", "--data-dir", dir); err != nil {
		t.Fatal(err)
	}
	v0 := version()
	out, _, err := runBoth(t, "waf", "patch", "add", "--name", "vuln-ajax", "--reason", "CVE-0000-0001", "--seclang-file", file, "--expires", "72h", "--data-dir", dir)
	if err != nil || !regexp.MustCompile(`^pushed virtual patch \d+ "vuln-ajax" to every website, expiring \S+\n$`).MatchString(out) {
		t.Fatalf("add: %v %q", err, out)
	}
	if v1 := version(); v1 <= v0 {
		t.Fatalf("config version %d after add (was %d): other nodes would not load the patch", v1, v0)
	}
	out, _, err = runBoth(t, "waf", "patch", "add", "--name", "no-env", "--rule", `{"target":"path","op":"equals","value":"/.env"}`, "--data-dir", dir)
	if err != nil || !strings.Contains(out, "never expiring") {
		t.Fatalf("add --rule: %v %q", err, out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--name", "x", "--rule", `{"target":"path","op":"like","value":"x"}`}, `rule.op "like"`},
		{[]string{"--name", "x", "--rule", `{"target":"path","oops":1}`}, `unknown field "oops"`},
		{[]string{"--name", "x"}, "one of --seclang-file and --rule"},
		{[]string{"--name", "x", "--rule", `{"target":"args","op":"exists"}`, "--expires", "soon"}, `--expires "soon"`},
		{[]string{"--name", "x", "--rule", `{"target":"args","op":"exists"}`, "--expires", "9000h"}, "within a year"},
	} {
		_, _, err := runBoth(t, append(append([]string{"waf", "patch", "add"}, c.args...), "--data-dir", dir)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("add %v: %v, want %q", c.args, err, c.want)
		}
	}
	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(bad, []byte("SecRule ARGS \"@rx a\" \"id:1,deny\"\n\nSecRule ARGS \"@pmFromFile /etc/passwd\" \"id:2,deny\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = runBoth(t, "waf", "patch", "add", "--name", "bad", "--seclang-file", bad, "--data-dir", dir)
	if err == nil || !strings.Contains(err.Error(), "directive 2 (line 3): operator @pmFromFile reads files") {
		t.Fatalf("bad SecLang: %v", err)
	}
	list := cli(t, noEnv, "waf", "patch", "list", "--data-dir", dir)
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], "vuln-ajax") || !strings.Contains(lines[1], `SecRule REQUEST_FILENAME "@streq`) || !strings.Contains(lines[2], `"value":"/.env"`) || !strings.Contains(lines[2], "never") {
		t.Fatalf("list:\n%s", list)
	}
	id := strings.Fields(lines[1])[0]
	v2 := version()
	if out := cli(t, noEnv, "waf", "patch", "rm", id, "--data-dir", dir); out != "deleted virtual patch "+id+"\n" {
		t.Fatalf("rm: %q", out)
	}
	if v3 := version(); v3 <= v2 {
		t.Fatal("rm left the config version")
	}
	if _, _, err := runBoth(t, "waf", "patch", "rm", "--data-dir", dir, id); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("rm again: %v", err)
	}
	if _, _, err := runBoth(t, "waf", "patch", "rm", "--data-dir", dir); !errors.Is(err, errUsage) {
		t.Fatalf("rm without id: %v", err)
	}
	if list := cli(t, noEnv, "waf", "patch", "list", "--data-dir", dir); strings.Contains(list, "vuln-ajax") {
		t.Fatalf("list after rm:\n%s", list)
	}
}
