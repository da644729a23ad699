// Package sshdtest starts Debian's OpenSSH server (/usr/sbin/sshd) on a
// loopback port for one test, with fresh host and client keys: the SFTP
// site tests and the SFTP backup repository tests use it.
package sshdtest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

const sshdPath = "/usr/sbin/sshd"

// Key is a fresh ed25519 key: its PEM (OpenSSH format, encrypted with
// passphrase when not empty) and its public half.
func Key(t testing.TB, passphrase string) (pemBytes []byte, pub ssh.PublicKey) {
	t.Helper()
	pk, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(sk, "")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(sk, "", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	pub, err = ssh.NewPublicKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block), pub
}

// syncBuffer collects sshd's log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Server is an sshd of this machine started for one test.
type Server struct {
	Port      int
	User      string        // the user running the test, the only one allowed in
	HostKey   ssh.PublicKey // authorized_keys line: string(ssh.MarshalAuthorizedKey(HostKey))
	ClientKey []byte        // PEM, accepted by the server
}

// Start starts /usr/sbin/sshd (Debian's openssh-server) in the
// foreground on a free loopback port, with a fresh host key and an
// authorized_keys file holding a fresh client key, for the current user.
// It skips the test when sshd is missing, unless CI=true.
func Start(t *testing.T) *Server {
	t.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing (apt-get install openssh-server): %v", sshdPath, err)
		}
		t.Skipf("%s is missing: install Debian's openssh-server to run the SFTP tests against OpenSSH", sshdPath)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// The privilege separation directory sshd insists on as root.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatalf("create /run/sshd: %v", err)
		}
	}
	dir := t.TempDir()
	hostPEM, hostPub := Key(t, "")
	clientPEM, clientPub := Key(t, "")
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hostKeyFile := write("host_ed25519_key", hostPEM)
	authKeys := write("authorized_keys", ssh.MarshalAuthorizedKey(clientPub))

	var lastLog string
	for attempt := 0; attempt < 3; attempt++ {
		port := freePort(t)
		conf := write("sshd_config", []byte(strings.Join([]string{
			"Port " + strconv.Itoa(port),
			"ListenAddress 127.0.0.1",
			"HostKey " + hostKeyFile,
			"PidFile " + filepath.Join(dir, "sshd.pid"),
			"AuthorizedKeysFile " + authKeys,
			"Subsystem sftp internal-sftp",
			"StrictModes no",
			"UsePAM no",
			"PermitRootLogin prohibit-password",
			"PubkeyAuthentication yes",
			"PasswordAuthentication no",
			"KbdInteractiveAuthentication no",
			"AllowUsers " + u.Username,
			"LogLevel VERBOSE",
			"",
		}, "\n")))
		logs := &syncBuffer{}
		cmd := exec.Command(sshdPath, "-D", "-e", "-f", conf)
		cmd.Stdout, cmd.Stderr = logs, logs
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its children die with it
		if err := cmd.Start(); err != nil {
			t.Fatalf("start sshd: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-exited
			}
		}
		if waitPort(port, exited, 10*time.Second) {
			t.Cleanup(func() {
				stop()
				if t.Failed() {
					t.Logf("sshd log:\n%s", logs.String())
				}
			})
			return &Server{Port: port, User: u.Username, HostKey: hostPub, ClientKey: clientPEM}
		}
		stop()
		lastLog = logs.String()
	}
	t.Fatalf("sshd did not listen; its log:\n%s", lastLog)
	return nil
}

// freePort is a loopback TCP port free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitPort waits for a listener on the loopback port, giving up when the
// server exits or after limit.
func waitPort(port int, exited <-chan struct{}, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}
