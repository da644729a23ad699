package backup

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/netguard"
)

// A repository or database host the operator's policy refuses stops the
// job before any program starts; an allowed one is what the tool gets.
func TestGuardedHosts(t *testing.T) {
	ctx := context.Background()
	strict := netguard.Policy{}
	noDNS := func(context.Context, string, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("10.9.8.7")}, nil
	}
	check := func(ctx context.Context, host string) error { return strict.CheckResolved(ctx, host, noDNS) }
	for loc, host := range map[string]string{
		"s3:https://169.254.169.254/bucket/site": "169.254.169.254",
		"s3:http://[::1]:9000/bucket":            "::1",
		"s3:https://minio.internal.example/b":    "minio.internal.example", // resolves to 10.9.8.7
		"sftp:backup@127.0.0.1:/srv/restic":      "127.0.0.1",
		"sftp://u@10.0.0.5:/srv":                 "10.0.0.5",
	} {
		r := &Repo{Location: loc, Password: "pw", S3AccessKeyID: "id", S3SecretAccessKey: "key", CacheDir: t.TempDir(),
			Binary: "/nonexistent/restic-must-not-run", CheckHost: check}
		if got := r.remoteHost(); got != host {
			t.Errorf("%s: remote host %q, want %q", loc, got, host)
		}
		err := r.Init(ctx)
		if !errors.Is(err, ErrInvalid) || !errors.Is(err, netguard.ErrNotPermitted) {
			t.Errorf("%s: Init = %v, want the host refused before restic runs", loc, err)
		}
	}
	// A local repository has no host to check.
	if h := (&Repo{Location: "/srv/backups/x"}).remoteHost(); h != "" {
		t.Errorf("local location: host %q", h)
	}

	for _, cfg := range []MySQLConfig{
		{Host: "127.0.0.1", User: "u", Database: "wp"},
		{Host: "", User: "u", Database: "wp"}, // the default 127.0.0.1
		{Host: "localhost", User: "u", Database: "wp"},
		{Host: "db.internal.example", User: "u", Database: "wp"},
		{Socket: "/run/mysqld/mysqld.sock", User: "u", Database: "wp"},
	} {
		cfg.DumpPath, cfg.ClientPath = "/nonexistent/dump", "/nonexistent/client"
		cfg.ResolveHost = func(ctx context.Context, host string) (string, error) {
			a, err := strict.Resolve(ctx, host, noDNS)
			return a.String(), err
		}
		if err := DumpMySQL(ctx, cfg, &strings.Builder{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: DumpMySQL = %v, want refused", cfg, err)
		}
		if err := RestoreMySQL(ctx, cfg, strings.NewReader("")); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: RestoreMySQL = %v, want refused", cfg, err)
		}
	}
	// Allowed: the option file names the checked address, not the name.
	lan := netguard.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	cfg := MySQLConfig{Host: "db.internal.example", Port: 3307, User: "u", Database: "wp", ResolveHost: func(ctx context.Context, host string) (string, error) {
		a, err := lan.Resolve(ctx, host, noDNS)
		return a.String(), err
	}}
	got, err := cfg.resolved(ctx)
	if err != nil || !strings.Contains(got.optionFile(), `host="10.9.8.7"`) || strings.Contains(got.optionFile(), "internal") {
		t.Fatalf("resolved: %v\n%s", err, got.optionFile())
	}
}
