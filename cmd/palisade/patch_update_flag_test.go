package main

import (
	"context"
	"io"
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
