package backup

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/testenv/sshdtest"
	"golang.org/x/crypto/ssh"
)

// attackSFTPRepo is a Repo on srv (loopback) with the server's own key and
// host key, as scanrun builds it.
func attackSFTPRepo(t *testing.T, srv *sshdtest.Server, bin string) *Repo {
	t.Helper()
	dir := t.TempDir()
	return &Repo{
		Location:    "sftp://" + srv.User + "@backup.example.net:" + strconv.Itoa(srv.Port) + "/" + filepath.Join(dir, "repo"),
		Password:    "repo-pw-" + randHex(t, 8),
		SFTPKey:     string(srv.ClientKey),
		SFTPHostKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(srv.HostKey))),
		ResolveHost: func(context.Context, string) (string, error) { return "127.0.0.1", nil },
		CacheDir:    filepath.Join(dir, "cache"),
		Binary:      bin,
		Compression: "off",
	}
}

func attackNeedSSH(t *testing.T) string {
	t.Helper()
	bin := needTool(t, "restic", "restic")
	if _, err := os.Stat("/usr/bin/ssh"); err != nil && os.Getenv("CI") != "true" {
		t.Skip("ssh (openssh-client) is missing")
	}
	t.Setenv("SSH_AUTH_SOCK", "")
	return bin
}

// TestAttack22SFTPKeyPKCS8: a partner's ed25519 key in PKCS#8 ("BEGIN
// PRIVATE KEY", what openssl genpkey writes) passes Validate and the
// core's check, but OpenSSH 9.2 calls it "invalid format": every backup
// failed, and the error named the key file under the node's data folder.
// ssh now gets the key in OpenSSH's format.
func TestAttack22SFTPKeyPKCS8(t *testing.T) {
	bin := attackNeedSSH(t)
	srv := sshdtest.Start(t)
	raw, err := ssh.ParseRawPrivateKey(srv.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	k, ok := raw.(*ed25519.PrivateKey)
	if !ok {
		t.Fatalf("sshdtest key is a %T", raw)
	}
	der, err := x509.MarshalPKCS8PrivateKey(*k)
	if err != nil {
		t.Fatal(err)
	}
	r := attackSFTPRepo(t, srv, bin)
	r.SFTPKey = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if err := r.Validate(); err != nil {
		t.Fatalf("PKCS#8 key refused by Validate (the core accepts it too): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := r.Init(ctx); err != nil {
		t.Fatalf("Init with a PKCS#8 ed25519 key: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(r.CacheDir, "ssh", "*")); len(left) != 0 {
		t.Errorf("ssh key files left behind: %v", left)
	}
}

// TestAttack22SFTPErrorNamesNoNodePath: with a wrong pinned host key, ssh
// says where its known_hosts is ("Add correct host key in
// /<data>/restic/ssh/run-…/known_hosts", "Offending … key in …"; a key
// it cannot read: "Load key …/key"), and a job's error is the customer's
// to read: the node's folders are not. Whether restic passes ssh's words
// on is a race (it may stop reading first), so a restic stand-in prints
// them as ssh does, with the paths of the command it was given.
func TestAttack22SFTPErrorNamesNoNodePath(t *testing.T) {
	keyPEM, pub := sshdtest.Key(t, "")
	dir := t.TempDir()
	spy := filepath.Join(dir, "restic-spy")
	script := "#!/bin/sh\nfor a in \"$@\"; do case \"$a\" in sftp.command=*) set -- $a; while [ $# -gt 0 ]; do case \"$1\" in -i) echo \"subprocess ssh: Load key \\\"$2\\\": invalid format\" >&2;; UserKnownHostsFile=*) echo \"subprocess ssh: Offending ED25519 key in ${1#UserKnownHostsFile=}:1\" >&2;; esac; shift; done;; esac; done\nexit 1\n"
	if err := os.WriteFile(spy, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	r := &Repo{
		Location: "sftp://backup@store.example.net:2222//srv/repo", Password: "pw",
		SFTPKey: string(keyPEM), SFTPHostKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))),
		ResolveHost: func(context.Context, string) (string, error) { return "192.0.2.7", nil },
		CacheDir:    filepath.Join(dir, "node-data", "restic"), Binary: spy,
	}
	_, err := r.Snapshots(context.Background(), "site-a")
	if err == nil || !strings.Contains(err.Error(), "Offending ED25519 key in") || !strings.Contains(err.Error(), "Load key") {
		t.Fatalf("the stand-in's words are not in the error: %v", err)
	}
	if strings.Contains(err.Error(), filepath.Join(dir, "node-data")) {
		t.Errorf("the error names the node's folders: %v", err)
	}
}

// TestAttack22SFTPStaleKeysSwept: a run cut short by the service's own
// death (SIGKILL, OOM, power) never reaches wrap: its key stayed under
// CacheDir/ssh for good. The next run removes key folders older than an
// hour, and leaves a folder a run may still be using.
func TestAttack22SFTPStaleKeysSwept(t *testing.T) {
	bin := attackNeedSSH(t)
	srv := sshdtest.Start(t)
	r := attackSFTPRepo(t, srv, bin)
	base := filepath.Join(r.CacheDir, "ssh")
	old, fresh := filepath.Join(base, "run-111"), filepath.Join(base, "run-222")
	for _, d := range []string{old, fresh} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "key"), []byte("a partner's private key"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := os.Chtimes(old, long, long); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := r.Init(ctx); err != nil {
		t.Fatalf("Init: %v", err)
	}
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a key folder left by a run that died long ago is still there (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(fresh, "key")); err != nil {
		t.Errorf("a key folder a run may be using was removed: %v", err)
	}
}

// TestAttack22SFTPCacheDirSpace: restic splits sftp.command on every
// Unicode space (\v, \f, \r, U+00A0 as well as ' ' and \t): a cache folder
// holding one cut ssh's command line apart (the rest of a path became
// ssh's destination). Refused before restic runs, like a plain space.
func TestAttack22SFTPCacheDirSpace(t *testing.T) {
	bin := attackNeedSSH(t)
	srv := sshdtest.Start(t)
	for _, sp := range []string{"\u00a0", "\v", "\f", "\r", "\u2003"} {
		r := attackSFTPRepo(t, srv, bin)
		r.CacheDir = filepath.Join(t.TempDir(), "ca"+sp+"che")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := r.Snapshots(ctx, "site-a")
		cancel()
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "cache directory") {
			t.Errorf("cache folder with %q: %v, want ErrInvalid about the cache directory", sp, err)
		}
		if left, _ := filepath.Glob(filepath.Join(r.CacheDir, "ssh", "*")); len(left) != 0 {
			t.Errorf("ssh key files left behind: %v", left)
		}
	}
}

// TestAttack22SFTPNoOperatorAgent: the service's environment keeps
// SSH_AUTH_SOCK (env passes it on); an agent holding a key the server
// accepts must not sign in for a repository whose own key it refuses,
// and the key file ssh reads is the owner's alone while restic runs.
func TestAttack22SFTPNoOperatorAgent(t *testing.T) {
	bin := attackNeedSSH(t)
	if _, err := exec.LookPath("ssh-agent"); err != nil {
		t.Skip("ssh-agent is missing")
	}
	srv := sshdtest.Start(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	keyFile := filepath.Join(dir, "operator_key")
	if err := os.WriteFile(keyFile, srv.ClientKey, 0o600); err != nil {
		t.Fatal(err)
	}
	add := exec.Command("ssh-add", keyFile)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v %s", err, out)
	}

	r := attackSFTPRepo(t, srv, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := r.Init(ctx); err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Setenv("SSH_AUTH_SOCK", sock)
	otherKey, _ := sshdtest.Key(t, "")
	r.SFTPKey = string(otherKey)
	if _, err := r.Snapshots(ctx, "site-a"); err == nil {
		t.Fatal("the repository was reached through the operator's agent, not its own key")
	}

	// The key file's and its folder's modes while restic runs: a restic
	// stand-in that looks at them.
	spy := filepath.Join(dir, "restic-spy")
	report := filepath.Join(dir, "modes")
	script := "#!/bin/sh\nfor a in \"$@\"; do case \"$a\" in sftp.command=*) set -- $a; while [ $# -gt 0 ]; do [ \"$1\" = -i ] && { stat -c %a \"$2\" \"$(dirname \"$2\")\" \"$(dirname \"$(dirname \"$2\")\")\" > " + report + "; }; shift; done;; esac; done\necho '[]'\n"
	if err := os.WriteFile(spy, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	r.Binary = spy
	if _, err := r.Snapshots(ctx, "site-a"); err != nil {
		t.Fatalf("Snapshots with the stand-in: %v", err)
	}
	got, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("the stand-in saw no -i in sftp.command: %v", err)
	}
	if f := strings.Fields(string(got)); len(f) != 3 || f[0] != "600" || f[1] != "700" || f[2] != "700" {
		t.Errorf("modes of key, its folder and ssh/: %q, want 600 700 700", got)
	}
	if left, _ := filepath.Glob(filepath.Join(r.CacheDir, "ssh", "*")); len(left) != 0 {
		t.Errorf("ssh key files left behind: %v", left)
	}
}

// TestAttack22SFTPHostNameCase: the host key is pinned under the
// location's host name as written ("Backup.Example.NET") and found
// again by ssh, whatever case it compares the alias in.
func TestAttack22SFTPHostNameCase(t *testing.T) {
	bin := attackNeedSSH(t)
	srv := sshdtest.Start(t)
	r := attackSFTPRepo(t, srv, bin)
	r.Location = strings.Replace(r.Location, "backup.example.net", "Backup.Example.NET", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := r.Init(ctx); err != nil {
		t.Fatalf("Init with a host name in capitals: %v", err)
	}
}

// TestAttack22SFTPHostKeyCommentAndBrackets: the pinned key's comment
// (spaces, quotes, a backslash: what would cut restic's split of
// sftp.command apart) goes into known_hosts only, never into the
// command; a host written as a bracketed address literal is the address
// checked and connected to.
func TestAttack22SFTPHostKeyCommentAndBrackets(t *testing.T) {
	bin := attackNeedSSH(t)
	srv := sshdtest.Start(t)
	r := attackSFTPRepo(t, srv, bin)
	r.SFTPHostKey += ` it's "a" \ comment -oProxyCommand=x`
	var asked []string
	r.ResolveHost = func(_ context.Context, host string) (string, error) {
		asked = append(asked, host)
		return host, nil
	}
	r.Location = strings.Replace(r.Location, "backup.example.net", "[127.0.0.1]", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := r.Init(ctx); err != nil {
		t.Fatalf("Init: %v", err)
	}
	if len(asked) == 0 || asked[0] != "127.0.0.1" {
		t.Errorf("ResolveHost asked about %q, want 127.0.0.1", asked)
	}
}

// TestAttack22SFTPKeyFormats: every key format Validate takes (PKCS#1,
// SEC 1, PKCS#8 and OpenSSH; RSA, ECDSA, ed25519) is written so that
// OpenSSH reads it as the same key (ssh-keygen -y prints its public half).
func TestAttack22SFTPKeyFormats(t *testing.T) {
	keygen, err := exec.LookPath("ssh-keygen")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: ssh-keygen (openssh-client) is missing")
		}
		t.Skip("ssh-keygen is missing")
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pemOf := func(typ string, der []byte, err error) string {
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}
	openssh := func(k any) string {
		b, err := ssh.MarshalPrivateKey(k, "comment")
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(b))
	}
	ecDER, ecErr := x509.MarshalECPrivateKey(ecKey)
	rsaP8, rsaP8Err := x509.MarshalPKCS8PrivateKey(rsaKey)
	ecP8, ecP8Err := x509.MarshalPKCS8PrivateKey(ecKey)
	edP8, edP8Err := x509.MarshalPKCS8PrivateKey(edKey)
	dir := t.TempDir()
	for name, k := range map[string]string{
		"RSA PKCS#1":      pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey), nil),
		"RSA PKCS#8":      pemOf("PRIVATE KEY", rsaP8, rsaP8Err),
		"RSA OpenSSH":     openssh(rsaKey),
		"ECDSA SEC 1":     pemOf("EC PRIVATE KEY", ecDER, ecErr),
		"ECDSA PKCS#8":    pemOf("PRIVATE KEY", ecP8, ecP8Err),
		"ECDSA OpenSSH":   openssh(ecKey),
		"ed25519 PKCS#8":  pemOf("PRIVATE KEY", edP8, edP8Err),
		"ed25519 OpenSSH": openssh(edKey),
		"CRLF line ends":  strings.ReplaceAll(openssh(edKey), "\n", "\r\n"),
	} {
		signer, err := ssh.ParsePrivateKey([]byte(k))
		if err != nil {
			t.Errorf("%s: Go does not read it: %v", name, err)
			continue
		}
		f := filepath.Join(dir, "key")
		if err := os.WriteFile(f, []byte(sshKeyFile(k)), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(keygen, "-y", "-f", f).CombinedOutput()
		if err != nil {
			t.Errorf("%s: OpenSSH does not read the key file: %v %s", name, err, out)
			continue
		}
		pub, _, _, _, err := ssh.ParseAuthorizedKey(out)
		if err != nil || !bytes.Equal(pub.Marshal(), signer.PublicKey().Marshal()) {
			t.Errorf("%s: OpenSSH reads another key (%v): %s", name, err, out)
		}
	}
}
