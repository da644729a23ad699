package sitefiles

import (
	"context"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/netguard"
	"golang.org/x/crypto/ssh"
)

func authorizedLine(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

// openSSHSite starts sshd and a site (siteTree plus escapeLayout) and
// returns a config for it.
func openSSHSite(t *testing.T) (cfg SFTPConfig, base, site string) {
	t.Helper()
	srv := startSSHD(t)
	base = t.TempDir()
	site = filepath.Join(base, "site")
	mkfiles(t, site, siteTree)
	escapeLayout(t, base, site)
	cfg = SFTPConfig{
		Host:        "127.0.0.1",
		Port:        srv.port,
		User:        srv.user,
		PrivateKey:  srv.clientKey,
		HostKey:     authorizedLine(srv.hostKey),
		Root:        site,
		DialTimeout: 5 * time.Second,
	}
	return cfg, base, site
}

func dialSFTP(t *testing.T, cfg SFTPConfig) FS {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f, err := SFTP(ctx, cfg)
	if err != nil {
		t.Fatalf("SFTP: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestSFTPOpenSSH runs the FS against Debian's OpenSSH server (internal-sftp).
func TestSFTPOpenSSH(t *testing.T) {
	cfg, base, site := openSSHSite(t)
	ctx := context.Background()

	t.Run("KeyAuthAndWalk", func(t *testing.T) {
		f := dialSFTP(t, cfg)
		if got := walkPaths(t, f); !reflect.DeepEqual(got, siteOrder) {
			t.Fatalf("Walk order:\n got %q\nwant %q", got, siteOrder)
		}
		if err := Probe(ctx, f); err != nil {
			t.Fatalf("Probe: %v", err)
		}
		mt := time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)
		os.Chtimes(filepath.Join(site, "a-b.txt"), mt, mt)
		os.Chmod(filepath.Join(site, "a-b.txt"), 0o640)
		e, err := f.Stat(ctx, "a-b.txt")
		if err != nil || e.Size != 4 || !e.ModTime.Equal(mt) || e.Mode != 0o640 || e.Path != "a-b.txt" {
			t.Fatalf("Stat = %+v, %v", e, err)
		}
		if got := readAll(t, f, "a/deep/z.js"); got != "z" {
			t.Fatalf("a/deep/z.js = %q", got)
		}
	})

	t.Run("RelativeRoot", func(t *testing.T) {
		// Root relative to the login directory (the user's home).
		home, err := os.UserHomeDir()
		if err != nil {
			t.Skip("no home directory")
		}
		rel, err := filepath.Rel(home, site)
		if err != nil {
			t.Skipf("no relative path from the home %s to %s", home, site)
		}
		c := cfg
		c.Root = rel
		f := dialSFTP(t, c)
		if got := walkPaths(t, f); !reflect.DeepEqual(got, siteOrder) {
			t.Fatalf("Walk = %q", got)
		}
	})

	t.Run("WriteFileAndRemove", func(t *testing.T) {
		f := dialSFTP(t, cfg)
		if err := f.WriteFile(ctx, "index.php", []byte("clean"), 0o664); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(site, "index.php"))
		if b, _ := os.ReadFile(filepath.Join(site, "index.php")); err != nil || string(b) != "clean" || fi.Mode() != 0o664 {
			t.Fatalf("index.php = %q, %v, %v", b, fi, err)
		}
		if err := f.WriteFile(ctx, "new/dir/up.php", []byte("n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(filepath.Join(site, "new/dir/up.php")); err != nil || fi.Mode() != 0o600 {
			t.Fatalf("new/dir/up.php: %v %v", fi, err)
		}
		if got := readAll(t, f, "new/dir/up.php"); got != "n" {
			t.Fatalf("read back %q", got)
		}
		// Through a link to a directory inside.
		if err := f.WriteFile(ctx, "inside-dir/via-link.txt", []byte("v"), 0o644); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(filepath.Join(site, "a/via-link.txt")); err != nil || string(b) != "v" {
			t.Fatalf("a/via-link.txt = %q, %v", b, err)
		}
		big := strings.Repeat("0123456789", 100_000) // several SFTP packets
		if err := f.WriteFile(ctx, "big.bin", []byte(big), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, f, "big.bin"); got != big {
			t.Fatalf("big.bin: read back %d bytes", len(got))
		}
		if err := f.WriteFile(ctx, "a", []byte("x"), 0o644); err == nil {
			t.Fatal("WriteFile over a directory succeeded")
		}
		for _, p := range walkPaths(t, f) {
			if strings.Contains(p, ".palisade-") {
				t.Fatalf("temporary file left: %s", p)
			}
		}

		if err := f.Remove(ctx, "new/dir/up.php"); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(site, "new/dir/up.php")); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("still there: %v", err)
		}
		if err := f.Remove(ctx, "new/dir/up.php"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("second Remove = %v", err)
		}
		if err := f.Remove(ctx, "new/dir"); err == nil {
			t.Fatal("Remove removed a directory")
		}
		if _, err := os.Stat(filepath.Join(site, "new/dir")); err != nil {
			t.Fatalf("new/dir: %v", err)
		}
		// A link inside goes, not its target.
		if err := f.Remove(ctx, "inside.php"); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(filepath.Join(site, "inside.php")); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("inside.php: %v", err)
		}
		if _, err := os.Stat(filepath.Join(site, "index.php")); err != nil {
			t.Fatalf("index.php went with the link: %v", err)
		}
	})

	t.Run("Confinement", func(t *testing.T) {
		f := dialSFTP(t, cfg)
		bad := []string{"", "/etc/passwd", "../outside/secret.txt", "a/../../outside/secret.txt",
			"./index.php", "a//x.php", "a/x.php\x00", "..", "escape/secret.txt",
			"rel-escape/secret.txt", "leak.php", "a/out-again"}
		for _, p := range bad {
			if _, err := f.Open(ctx, p); !errors.Is(err, ErrOutside) {
				t.Errorf("Open(%q) = %v, want ErrOutside", p, err)
			}
			if _, err := f.Stat(ctx, p); !errors.Is(err, ErrOutside) {
				t.Errorf("Stat(%q) = %v, want ErrOutside", p, err)
			}
			if err := f.Remove(ctx, p); !errors.Is(err, ErrOutside) {
				t.Errorf("Remove(%q) = %v, want ErrOutside", p, err)
			}
			if err := f.WriteFile(ctx, p, []byte("pwned"), 0o644); !errors.Is(err, ErrOutside) {
				t.Errorf("WriteFile(%q) = %v, want ErrOutside", p, err)
			}
		}
		for _, p := range []string{"escape/new.php", "rel-escape/sub/new.php"} {
			if err := f.WriteFile(ctx, p, []byte("pwned"), 0o644); !errors.Is(err, ErrOutside) {
				t.Errorf("WriteFile(%q) = %v, want ErrOutside", p, err)
			}
		}
		ents, err := os.ReadDir(filepath.Join(base, "outside"))
		if err != nil || len(ents) != 1 {
			t.Fatalf("outside now holds %v (%v)", ents, err)
		}
		if b, _ := os.ReadFile(filepath.Join(base, "outside", "secret.txt")); string(b) != "secret" {
			t.Fatalf("outside/secret.txt = %q", b)
		}
		if got := readAll(t, f, "a/up.php"); got == "" {
			t.Fatal("a/up.php (a link inside) unreadable")
		}
		if _, err := f.Open(ctx, "a"); err == nil || errors.Is(err, ErrOutside) {
			t.Fatalf("Open(a directory) = %v", err)
		}
	})

	t.Run("WalkSkipsVanished", func(t *testing.T) {
		// A directory listed but gone (or unreadable) when the walk
		// reaches it is skipped.
		other := filepath.Join(base, "other")
		mkfiles(t, other, map[string]string{"a/x": "x", "b/y": "y", "c/z": "z"})
		c := cfg
		c.Root = other
		f := dialSFTP(t, c)
		var got []string
		err := f.Walk(ctx, func(e Entry) error {
			got = append(got, e.Path)
			if e.Path == "a/x" {
				return os.RemoveAll(filepath.Join(other, "b"))
			}
			return nil
		})
		if want := []string{"a/x", "c/z"}; err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("Walk = %q, %v; want %q", got, err, want)
		}
	})

	t.Run("MaxFiles", func(t *testing.T) {
		c := cfg
		c.MaxFiles = 3
		f := dialSFTP(t, c)
		n := 0
		err := f.Walk(ctx, func(Entry) error { n++; return nil })
		if !errors.Is(err, ErrTooManyFiles) || n != 3 {
			t.Fatalf("Walk = %v after %d files, want ErrTooManyFiles after 3", err, n)
		}
		c.MaxFiles = 1000
		f = dialSFTP(t, c)
		if err := f.Walk(ctx, func(Entry) error { return nil }); err != nil {
			t.Fatalf("Walk under the bound: %v", err)
		}
	})

	t.Run("HostKey", func(t *testing.T) {
		_, other := testKey(t, "")
		c := cfg
		c.HostKey = authorizedLine(other)
		_, err := SFTP(ctx, c)
		if !errors.Is(err, ErrHostKey) {
			t.Fatalf("SFTP with another host key = %v, want ErrHostKey", err)
		}
		var srvKey ssh.PublicKey
		srvKey, _, _, _, _ = ssh.ParseAuthorizedKey([]byte(cfg.HostKey))
		if !strings.Contains(err.Error(), ssh.FingerprintSHA256(srvKey)) {
			t.Fatalf("the error does not name the key the server showed: %v", err)
		}
		c.HostKey = ssh.FingerprintSHA256(other)
		if _, err := SFTP(ctx, c); !errors.Is(err, ErrHostKey) {
			t.Fatalf("SFTP with another fingerprint = %v, want ErrHostKey", err)
		}
		c.HostKey = ssh.FingerprintSHA256(srvKey)
		f := dialSFTP(t, c)
		if err := Probe(ctx, f); err != nil {
			t.Fatal(err)
		}
		c.HostKey = ""
		if _, err := SFTP(ctx, c); err == nil {
			t.Fatal("SFTP without a host key succeeded")
		}
	})

	t.Run("Auth", func(t *testing.T) {
		otherKey, _ := testKey(t, "")
		c := cfg
		c.PrivateKey = otherKey
		if _, err := SFTP(ctx, c); err == nil || errors.Is(err, ErrHostKey) {
			t.Fatalf("SFTP with an unknown client key = %v", err)
		}
		c.PrivateKey = nil
		if _, err := SFTP(ctx, c); err == nil {
			t.Fatal("SFTP with no credentials succeeded")
		}
		t.Log("password authentication is not run against OpenSSH: it would need a known password for a system account; TestSFTPPassword runs it against an in-process SSH server")
	})

	t.Run("BadRoot", func(t *testing.T) {
		for _, root := range []string{filepath.Join(base, "missing"), filepath.Join(site, "index.php")} {
			c := cfg
			c.Root = root
			if f, err := SFTP(ctx, c); err == nil {
				f.Close()
				t.Errorf("SFTP with root %s succeeded", root)
			}
		}
	})

	// The runner's dialer refuses loopback unless the operator allows it:
	// the refusal comes from the socket, before any SSH byte.
	t.Run("GuardedDial", func(t *testing.T) {
		c := cfg
		c.Dial = netguard.Policy{}.DialContext
		if f, err := SFTP(ctx, c); err == nil || !errors.Is(err, netguard.ErrNotPermitted) {
			if f != nil {
				f.Close()
			}
			t.Fatalf("SFTP to loopback through a guard without allowances: %v", err)
		}
		c.Dial = netguard.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}.DialContext
		f := dialSFTP(t, c)
		if err := Probe(ctx, f); err != nil {
			t.Fatalf("Probe through an allowing guard: %v", err)
		}
	})

	t.Run("ContextEndsMidWalk", func(t *testing.T) {
		before := runtime.NumGoroutine()
		f, err := SFTP(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithCancel(ctx)
		n := 0
		err = f.Walk(wctx, func(Entry) error {
			if n++; n == 2 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) || n != 2 {
			t.Fatalf("Walk = %v after %d files", err, n)
		}
		if _, err := f.Stat(ctx, "index.php"); !errors.Is(err, ErrClosed) {
			t.Fatalf("Stat after the walk's context ended = %v, want ErrClosed", err)
		}
		f.Close()
		waitGoroutines(t, before)
	})
}

// waitGoroutines waits (boundedly) for the goroutine count to come back to
// n, failing with a dump if it does not.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
