package sitefiles

import (
	"testing"

	"github.com/palisadehq/palisade/internal/testenv/sshdtest"
	"golang.org/x/crypto/ssh"
)

// testKey is a fresh ed25519 key: its PEM (OpenSSH format, encrypted with
// passphrase when not empty) and its public half.
func testKey(t *testing.T, passphrase string) (pemBytes []byte, pub ssh.PublicKey) {
	return sshdtest.Key(t, passphrase)
}

// openSSH is an sshd of this machine started for one test.
type openSSH struct {
	port      int
	user      string
	hostKey   ssh.PublicKey // authorized_keys line: string(ssh.MarshalAuthorizedKey(hostKey))
	clientKey []byte        // PEM, accepted by the server
}

// startSSHD starts Debian's sshd on a free loopback port for the test
// (internal/testenv/sshdtest).
func startSSHD(t *testing.T) *openSSH {
	t.Helper()
	s := sshdtest.Start(t)
	return &openSSH{port: s.Port, user: s.User, hostKey: s.HostKey, clientKey: s.ClientKey}
}
