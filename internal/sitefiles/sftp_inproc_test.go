package sitefiles

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// goServer is an in-process SSH server serving SFTP with pkg/sftp's
// server over the local file system. It reaches what OpenSSH cannot
// here: password authentication with a known password, a server without
// the posix-rename extension, a server that stops answering, several
// host keys of different types.
type goServer struct {
	addr  string
	stall atomic.Bool // when set, requests are read and never answered
	wg    sync.WaitGroup
}

const testPassword = "correct horse battery staple"

func startGoServer(t *testing.T, hostKeys ...ssh.Signer) *goServer {
	t.Helper()
	conf := &ssh.ServerConfig{
		PasswordCallback: func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if c.User() == "site" && string(pw) == testPassword {
				return nil, nil
			}
			return nil, errors.New("wrong password")
		},
		KeyboardInteractiveCallback: func(c ssh.ConnMetadata, client ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
			answers, err := client("", "", []string{"Password: "}, []bool{false})
			if err == nil && c.User() == "kbd" && len(answers) == 1 && answers[0] == testPassword {
				return nil, nil
			}
			return nil, errors.New("wrong answer")
		},
	}
	for _, k := range hostKeys {
		conf.AddHostKey(k)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &goServer{addr: l.Addr().String()}
	var mu sync.Mutex
	var conns []net.Conn
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serve(c, conf) }()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *goServer) port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(p)
	return n
}

func (s *goServer) serve(c net.Conn, conf *ssh.ServerConfig) {
	defer c.Close()
	_, chans, reqs, err := ssh.NewServerConn(c, conf)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "session only")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer ch.Close()
			for req := range creqs {
				ok := req.Type == "subsystem" && len(req.Payload) > 4 && string(req.Payload[4:]) == "sftp"
				req.Reply(ok, nil)
				if !ok {
					continue
				}
				srv, err := sftp.NewServer(&stallable{ch, &s.stall})
				if err != nil {
					return
				}
				srv.Serve()
				srv.Close()
				return
			}
		}()
	}
}

// stallable drops what it reads while stall is set: the server never
// answers, until the client goes away.
type stallable struct {
	ssh.Channel
	stall *atomic.Bool
}

func (s *stallable) Read(p []byte) (int, error) {
	for {
		n, err := s.Channel.Read(p)
		if err != nil || !s.stall.Load() {
			return n, err
		}
	}
}

func signer(t *testing.T, key any) ssh.Signer {
	t.Helper()
	s, err := ssh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ed25519Signer(t *testing.T) ssh.Signer {
	t.Helper()
	pemBytes, _ := testKey(t, "")
	s, err := ssh.ParsePrivateKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func goSite(t *testing.T) (cfg SFTPConfig, srv *goServer, site string) {
	t.Helper()
	host := ed25519Signer(t)
	srv = startGoServer(t, host)
	site = filepath.Join(t.TempDir(), "site")
	mkfiles(t, site, siteTree)
	return SFTPConfig{Host: "127.0.0.1", Port: srv.port(), User: "site", Password: testPassword,
		HostKey: authorizedLine(host.PublicKey()), Root: site, DialTimeout: 5 * time.Second}, srv, site
}

func TestSFTPPassword(t *testing.T) {
	cfg, _, _ := goSite(t)
	f := dialSFTP(t, cfg)
	if got := walkPaths(t, f); !reflect.DeepEqual(got, siteOrder) {
		t.Fatalf("Walk = %q", got)
	}
	// keyboard-interactive, as many servers ask for passwords.
	c := cfg
	c.User = "kbd"
	f = dialSFTP(t, c)
	if got := readAll(t, f, "index.php"); got != siteTree["index.php"] {
		t.Fatalf("index.php = %q", got)
	}
	c = cfg
	c.Password = "wrong"
	if _, err := SFTP(context.Background(), c); err == nil || errors.Is(err, ErrHostKey) {
		t.Fatalf("SFTP with a wrong password = %v", err)
	}
}

// An encrypted private key is opened with its passphrase; the Go server
// here takes passwords only, so the check is that the key parses and is
// offered (authentication then fails for want of a key callback).
func TestSFTPPrivateKeyPassphrase(t *testing.T) {
	cfg, _, _ := goSite(t)
	pemBytes, _ := testKey(t, "s3cret")
	c := cfg
	c.Password = ""
	c.PrivateKey = pemBytes
	if _, err := SFTP(context.Background(), c); err == nil || !strings.Contains(err.Error(), "private key") {
		t.Fatalf("an encrypted key without its passphrase: %v", err)
	}
	c.Passphrase = "wrong"
	if _, err := SFTP(context.Background(), c); err == nil || !strings.Contains(err.Error(), "private key") {
		t.Fatalf("an encrypted key with a wrong passphrase: %v", err)
	}
	c.Passphrase = "s3cret"
	_, err := SFTP(context.Background(), c)
	if err == nil || strings.Contains(err.Error(), "private key") || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("an encrypted key with its passphrase: %v (want the server's refusal, not a key error)", err)
	}
	// With the password too, the key is tried and the password admits.
	c.Password = testPassword
	f := dialSFTP(t, c)
	if err := Probe(context.Background(), f); err != nil {
		t.Fatal(err)
	}
}

// Without the posix-rename extension, WriteFile replaces a file with a
// remove and a plain rename.
func TestSFTPWriteFileWithoutPosixRename(t *testing.T) {
	if err := sftp.SetSFTPExtensions("statvfs@openssh.com"); err != nil {
		t.Fatal(err)
	}
	defer sftp.SetSFTPExtensions("hardlink@openssh.com", "posix-rename@openssh.com", "statvfs@openssh.com")
	cfg, _, site := goSite(t)
	f := dialSFTP(t, cfg)
	if f.(*sftpFS).posixRename {
		t.Fatal("the server still offers posix-rename")
	}
	ctx := context.Background()
	if err := f.WriteFile(ctx, "index.php", []byte("replaced"), 0o640); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(site, "index.php"))
	if b, _ := os.ReadFile(filepath.Join(site, "index.php")); err != nil || string(b) != "replaced" || fi.Mode() != 0o640 {
		t.Fatalf("index.php = %q, %v, %v", b, fi, err)
	}
	if err := f.WriteFile(ctx, "fresh/new.php", []byte("n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, f, "fresh/new.php"); got != "n" {
		t.Fatalf("fresh/new.php = %q", got)
	}
	for _, p := range walkPaths(t, f) {
		if strings.Contains(p, ".palisade-") {
			t.Fatalf("temporary file left: %s", p)
		}
	}
}

// A server that stops answering: the operation ends with its context, the
// connection is closed, and no goroutine is left behind.
func TestSFTPStalledServer(t *testing.T) {
	cfg, srv, _ := goSite(t)
	before := runtime.NumGoroutine()
	f, err := SFTP(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.stall.Store(true)
	for _, op := range []struct {
		name string
		run  func(ctx context.Context) error
	}{
		{"Stat", func(ctx context.Context) error { _, err := f.Stat(ctx, "index.php"); return err }},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		start := time.Now()
		err := op.run(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s on a stalled server = %v, want DeadlineExceeded", op.name, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("%s took %v", op.name, d)
		}
	}
	if err := f.Walk(context.Background(), func(Entry) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Walk after = %v, want ErrClosed", err)
	}
	f.Close()
	waitGoroutines(t, before)

	// The same for a reader, bound to Open's context.
	srv.stall.Store(false)
	f, err = SFTP(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	r, err := f.Open(ctx, "index.php")
	if err != nil {
		t.Fatal(err)
	}
	srv.stall.Store(true)
	if _, err := io.ReadAll(r); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("reading from a stalled server = %v, want DeadlineExceeded", err)
	}
	r.Close()
}

// A server that accepts the connection and says nothing: SFTP gives up
// after DialTimeout.
func TestSFTPDialTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	}()
	port := l.Addr().(*net.TCPAddr).Port
	host := ed25519Signer(t)
	cfg := SFTPConfig{Host: "127.0.0.1", Port: port, User: "u", Password: "p",
		HostKey: authorizedLine(host.PublicKey()), DialTimeout: 300 * time.Millisecond}
	start := time.Now()
	_, err = SFTP(context.Background(), cfg)
	if err == nil || time.Since(start) > 3*time.Second {
		t.Fatalf("SFTP to a silent server = %v after %v", err, time.Since(start))
	}
	// And a context ending first wins.
	cfg.DialTimeout = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := SFTP(ctx, cfg); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 3*time.Second {
		t.Fatalf("SFTP with a short context = %v after %v", err, time.Since(start))
	}
}

// A fingerprint pin matches any of the server's host keys, even one the
// client would not negotiate first (x/crypto prefers ECDSA to Ed25519).
func TestSFTPFingerprintOfAnotherHostKey(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecSigner := signer(t, ec)
	edSigner := ed25519Signer(t)
	srv := startGoServer(t, ecSigner, edSigner)
	site := filepath.Join(t.TempDir(), "site")
	mkfiles(t, site, siteTree)
	cfg := SFTPConfig{Host: "127.0.0.1", Port: srv.port(), User: "site", Password: testPassword, Root: site}

	for _, k := range []ssh.Signer{edSigner, ecSigner} {
		cfg.HostKey = ssh.FingerprintSHA256(k.PublicKey())
		f := dialSFTP(t, cfg)
		if err := Probe(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		cfg.HostKey = authorizedLine(k.PublicKey())
		f = dialSFTP(t, cfg)
		if err := Probe(context.Background(), f); err != nil {
			t.Fatal(err)
		}
	}
	// The right server (found by a later try) refusing the password is
	// an authentication error, not a host key mismatch.
	cfg.HostKey = ssh.FingerprintSHA256(edSigner.PublicKey())
	cfg.Password = "wrong"
	if _, err := SFTP(context.Background(), cfg); err == nil || errors.Is(err, ErrHostKey) || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("a wrong password on the pinned server = %v", err)
	}
	cfg.Password = testPassword

	_, other := testKey(t, "")
	cfg.HostKey = ssh.FingerprintSHA256(other)
	_, err = SFTP(context.Background(), cfg)
	if !errors.Is(err, ErrHostKey) {
		t.Fatalf("a foreign fingerprint = %v, want ErrHostKey", err)
	}
	for _, k := range []ssh.Signer{edSigner, ecSigner} {
		if !strings.Contains(err.Error(), ssh.FingerprintSHA256(k.PublicKey())) {
			t.Errorf("the error does not list the server's %s key: %v", k.PublicKey().Type(), err)
		}
	}
}
