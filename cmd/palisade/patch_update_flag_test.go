package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

// TestPatchUpdateCommandFlag: a --patch-update-command that a shell would
// be needed for, or that does not name the install's folder, stops serve
// at start with the reason.
func TestPatchUpdateCommandFlag(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ cmd, want string }{
		{"wp --path={root} plugin update {slug}; rm -rf /", "without a shell"},
		{"wp plugin update {slug}", "{root}"},
		{"wp --path={root} {version}", "unknown placeholder"},
	} {
		err := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--patch-update-command", c.cmd, "--data-dir", dir}, noEnv,
			testclock.New(t).Now, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--patch-update-command") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v; want it to mention %q", c.cmd, err, c.want)
		}
	}
}

// TestPatchUpdateCommandAsRoot: run as root, serve refuses an update
// command that would run the website's own code (wp-config.php, plugins)
// as root: it must name {owner}; as another user, or with {owner}, the
// template is taken.
func TestPatchUpdateCommandAsRoot(t *testing.T) {
	for _, c := range []struct {
		euid    int
		cmd     string
		refused bool
	}{
		{0, "wp --path={root} {type} update {slug}", true},
		{0, "sudo -u www-data wp --path={root} {type} update {slug}", true},
		{0, "sudo -u {owner} wp --path={root} {type} update {slug}", false},
		{1000, "wp --path={root} {type} update {slug}", false},
	} {
		sf := storeFlags{now: testclock.New(t).Now}
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		sf.register(fs)
		if err := fs.Parse([]string{"--data-dir", t.TempDir(), "--patch-update-command", c.cmd}); err != nil {
			t.Fatal(err)
		}
		euid := c.euid
		sf.euid = func() int { return euid }
		db, _, err := sf.open(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
		if db != nil {
			db.Close()
		}
		if refused := err != nil && strings.Contains(err.Error(), "{owner}"); refused != c.refused {
			t.Errorf("euid %d, %q: %v; want refused %v", c.euid, c.cmd, err, c.refused)
		}
	}
}
