package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

// runBoth runs the CLI and returns its stdout, stderr and error.
func runBoth(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, noEnv, testclock.New(t).Now, &out, &errOut)
	return out.String(), errOut.String(), err
}

// TestCLIPartnerAllowedRanges: --allowed-ip's help says what the ranges
// are (set by the operator only; none: REST from anywhere, no GP or XML);
// partner create accepts a range wider than /8 (IPv6 /32) with a warning
// on stderr that it binds nothing, allow-ip refuses it; partner deny-ip removes a range (and refuses one
// the partner lacks, and its last).
func TestCLIPartnerAllowedRanges(t *testing.T) {
	dir := t.TempDir()
	_, help, _ := runBoth(t, "partner", "create", "--help")
	if strings.Contains(help, "default: any") || !strings.Contains(help, "binds nothing") || !strings.Contains(help, "none: REST from anywhere") {
		t.Fatalf("partner create --help: %s", help)
	}
	if _, usage, _ := runBoth(t, "partner", "help"); !strings.Contains(usage, "deny-ip") {
		t.Fatalf("partner usage lacks deny-ip: %s", usage)
	}

	if _, stderr, err := runBoth(t, "partner", "create", "--name", "wide", "--allowed-ip", "0.0.0.0/0", "--data-dir", dir); err != nil || !strings.Contains(stderr, "warning:") || !strings.Contains(stderr, "binds nothing") {
		t.Fatalf("partner create --allowed-ip 0.0.0.0/0: %v; stderr %q", err, stderr)
	}
	// allow-ip refuses a range that binds nothing, and one that is not a
	// range (issue 17 findings 3 and 9): nothing is stored.
	for _, c := range []struct{ cidr, want string }{{"::/0", "binds nothing"}, {"10.0.0.0/7", "binds nothing"}, {"::ffff:0:0/64", "not an IP address or CIDR"}} {
		if _, _, err := runBoth(t, "partner", "allow-ip", "--name", "wide", "--data-dir", dir, c.cidr); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("partner allow-ip %s: %v; want %q", c.cidr, err, c.want)
		}
	}
	if show := cli(t, noEnv, "partner", "show", "--name", "wide", "--data-dir", dir); !strings.Contains(show, "allowed:    0.0.0.0/0 (binds nothing)\n") {
		t.Fatalf("show after refused allow-ip: %s", show)
	}
	if _, stderr, err := runBoth(t, "partner", "create", "--name", "host", "--allowed-ip", "198.51.100.0/24", "--data-dir", dir); err != nil || stderr != "" {
		t.Fatalf("a binding range: %v %q", err, stderr)
	}
	if _, stderr, err := runBoth(t, "partner", "allow-ip", "--name", "host", "--data-dir", dir, "203.0.113.0/24"); err != nil || stderr != "" {
		t.Fatalf("a binding range: %v %q", err, stderr)
	}

	out, _, err := runBoth(t, "partner", "deny-ip", "--name", "host", "--data-dir", dir, "203.0.113.0/24")
	if err != nil || !strings.Contains(out, "203.0.113.0/24") {
		t.Fatalf("deny-ip: %v %q", err, out)
	}
	show := cli(t, noEnv, "partner", "show", "--name", "host", "--data-dir", dir)
	if strings.Contains(show, "203.0.113.0/24") || !strings.Contains(show, "allowed:    198.51.100.0/24") || !strings.Contains(show, "allowed from: 198.51.100.0/24") {
		t.Fatalf("show after deny-ip: %s", show)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"partner", "deny-ip", "--name", "host", "--data-dir", dir, "192.0.2.0/24"}, "is not one of"},
		{[]string{"partner", "deny-ip", "--name", "host", "--data-dir", dir, "198.51.100.0/24"}, "last allowed range"},
		{[]string{"partner", "deny-ip", "--name", "host", "--data-dir", dir}, "give exactly one IP or CIDR"},
		{[]string{"partner", "deny-ip", "--name", "host", "--data-dir", dir, "nope"}, "not an IP address or CIDR"},
	} {
		if _, _, err := runBoth(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("palisade %s: %v; want %q", strings.Join(c.args, " "), err, c.want)
		}
	}
}
