package backup

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/testenv/sshdtest"
	"golang.org/x/crypto/ssh"
)

// TestSFTPRepository: a repository on a real OpenSSH server (loopback),
// reached with the repository's own key and pinned host key and nothing of
// the operator's ssh set-up: init, back up, restore a deleted file
// byte-identical; a wrong host key, an unknown key and a host address
// check that refuses are each refused, and no key file is left behind.
func TestSFTPRepository(t *testing.T) {
	bin := needTool(t, "restic", "restic")
	if _, err := os.Stat("/usr/bin/ssh"); err != nil && os.Getenv("CI") != "true" {
		t.Skip("ssh (openssh-client) is missing")
	}
	srv := sshdtest.Start(t)
	// The operator's own ssh set-up must play no part: HOME is an empty
	// folder and there is no agent.
	t.Setenv("HOME", t.TempDir())
	t.Setenv("SSH_AUTH_SOCK", "")

	dir := t.TempDir()
	repoDir := filepath.Join(dir, "repo")
	hostKey := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(srv.HostKey)))
	var resolved []string
	r := &Repo{
		Location:    "sftp://" + srv.User + "@backup.example.net:" + strconv.Itoa(srv.Port) + "/" + repoDir,
		Password:    "repo-pw-" + randHex(t, 8),
		SFTPKey:     string(srv.ClientKey),
		SFTPHostKey: hostKey,
		ResolveHost: func(_ context.Context, host string) (string, error) {
			resolved = append(resolved, host)
			return "127.0.0.1", nil
		},
		CacheDir:    filepath.Join(dir, "cache"),
		Binary:      bin,
		Host:        "test-host",
		Compression: "off",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := r.Init(ctx); err != nil {
		t.Fatalf("Init over sftp: %v", err)
	}
	if _, err := os.Stat(filepath.Join(repoDir, "config")); err != nil {
		t.Fatalf("no repository written on the server: %v", err)
	}
	if len(resolved) == 0 || resolved[0] != "backup.example.net" {
		t.Errorf("ResolveHost asked about %v, want backup.example.net", resolved)
	}

	site := filepath.Join(dir, "site")
	makeSite(t, site, 40, 7)
	res, err := r.Backup(ctx, BackupRequest{Site: "site-a", Dir: site, Time: time.Date(2027, 1, 31, 12, 0, 0, 0, time.UTC)})
	if err != nil || res.Files == nil {
		t.Fatalf("Backup over sftp: %+v %v", res, err)
	}
	want, err := os.ReadFile(filepath.Join(site, "index.php"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(site, "index.php")); err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	if err := r.Restore(ctx, "site-a", res.Files.ID, "/index.php", target); err != nil {
		t.Fatalf("Restore over sftp: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(target, "index.php")); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("restored index.php differs (%v)", err)
	}
	if list, err := r.Snapshots(ctx, "site-a"); err != nil || len(list) != 1 {
		t.Fatalf("Snapshots over sftp: %v %v", list, err)
	}

	// No key file outlives a run.
	if left, _ := filepath.Glob(filepath.Join(r.CacheDir, "ssh", "*")); len(left) != 0 {
		t.Errorf("ssh key files left behind: %v", left)
	}

	// A host key other than the server's: ssh refuses to connect.
	_, otherPub := sshdtest.Key(t, "")
	wrongHost := *r
	wrongHost.SFTPHostKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(otherPub)))
	if _, err := wrongHost.Snapshots(ctx, "site-a"); err == nil {
		t.Error("a repository reached with a wrong pinned host key")
	} else if !strings.Contains(err.Error(), "Host key verification failed") && !strings.Contains(err.Error(), "unable to start the sftp session") {
		// restic passes ssh's words on when it reads them before the
		// pipe closes; either way the session never started.
		t.Errorf("wrong host key: %v, want ssh's host key verification failure", err)
	} else {
		noSecrets(t, err, r.Password, strings.TrimSpace(r.SFTPKey))
	}
	// A key the server does not know.
	otherKey, _ := sshdtest.Key(t, "")
	wrongKey := *r
	wrongKey.SFTPKey = string(otherKey)
	if _, err := wrongKey.Snapshots(ctx, "site-a"); err == nil {
		t.Error("a repository reached with a key the server does not accept")
	}
	// The address check refuses: restic never starts.
	refused := *r
	refused.ResolveHost = func(context.Context, string) (string, error) { return "", errors.New("not permitted") }
	if _, err := refused.Snapshots(ctx, "site-a"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "not permitted") {
		t.Errorf("refused host: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(r.CacheDir, "ssh", "*")); len(left) != 0 {
		t.Errorf("ssh key files left behind after failures: %v", left)
	}
}

// TestSFTPValidate: what an sftp: location with its own key must be before
// anything runs.
func TestSFTPValidate(t *testing.T) {
	keyPEM, pub := sshdtest.Key(t, "")
	encPEM, _ := sshdtest.Key(t, "secret")
	host := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
	ok := Repo{Location: "sftp:backup@store.example.net:/srv/repo", Password: "pw", CacheDir: "/tmp/cache", SFTPKey: string(keyPEM), SFTPHostKey: host}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid: %v", err)
	}
	for name, change := range map[string]func(r *Repo){
		"key without host key": func(r *Repo) { r.SFTPHostKey = "" },
		"host key without key": func(r *Repo) { r.SFTPKey = "" },
		"host key not a key":   func(r *Repo) { r.SFTPHostKey = "ssh-ed25519 nope" },
		"two host keys":        func(r *Repo) { r.SFTPHostKey = host + "\n" + host },
		"encrypted key":        func(r *Repo) { r.SFTPKey = string(encPEM) },
		"no user":              func(r *Repo) { r.Location = "sftp:store.example.net:/srv/repo" },
		"space in host":        func(r *Repo) { r.Location = "sftp:backup@store example:/srv/repo" },
		"option as host":       func(r *Repo) { r.Location = "sftp:backup@-oProxyCommand=x:/srv/repo" },
		"quote in user":        func(r *Repo) { r.Location = "sftp:ba'ck@store.example.net:/srv/repo" },
		"port not a word":      func(r *Repo) { r.Location = "sftp://backup@store.example.net:22 -oX=y//srv/repo" },
	} {
		r := ok
		change(&r)
		if err := r.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Validate = %v, want ErrInvalid", name, err)
		}
	}
	for loc, want := range map[string][4]string{
		"sftp:backup@store.example.net:/srv/repo":        {"backup", "store.example.net", "", "/srv/repo"},
		"sftp://backup@store.example.net:2222//srv/repo": {"backup", "store.example.net", "2222", "/srv/repo"},
		"sftp://backup@[2001:db8::1]:2222//srv/repo":     {"backup", "2001:db8::1", "2222", "/srv/repo"},
	} {
		u, h, p, path := SFTPLocation(loc)
		if got := [4]string{u, h, p, path}; got != want {
			t.Errorf("SFTPLocation(%q) = %q, want %q", loc, got, want)
		}
	}
}
