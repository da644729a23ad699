package secret

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestBoxRoundTrip(t *testing.T) {
	key := make([]byte, KeySize)
	for i := range key {
		key[i] = byte(i)
	}
	b, err := NewBox(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := b.Seal("pk_secret")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s, "pk_secret") {
		t.Fatalf("sealed value contains the plaintext: %s", s)
	}
	got, err := b.Open(s)
	if err != nil || got != "pk_secret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	other := make([]byte, KeySize)
	b2, _ := NewBox(other, nil)
	if _, err := b2.Open(s); err == nil {
		t.Fatal("Open with another key succeeded")
	}
	// One character in the middle changed: it carries six whole bits.
	mid := []byte(s)
	if mid[len(mid)/2] == 'A' {
		mid[len(mid)/2] = 'B'
	} else {
		mid[len(mid)/2] = 'A'
	}
	tampered := string(mid)
	if _, err := b.Open(tampered); err == nil {
		t.Fatal("Open of an altered value succeeded")
	}
	if _, err := NewBox(key[:16], nil); err == nil {
		t.Fatal("NewBox accepted a short key")
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "master.key")
	k1, created, err := LoadOrCreateKeyFile(path)
	if err != nil || !created || len(k1) != KeySize {
		t.Fatalf("first load: %v %v %d", err, created, len(k1))
	}
	k2, created, err := LoadOrCreateKeyFile(path)
	if err != nil || created || string(k1) != string(k2) {
		t.Fatalf("second load did not return the same key: %v %v", err, created)
	}
}

func TestNewToken(t *testing.T) {
	a, _ := NewToken(nil, "pk_")
	b, _ := NewToken(nil, "pk_")
	if a == b || !strings.HasPrefix(a, "pk_") || len(a) != 43 {
		t.Fatalf("tokens %q %q", a, b)
	}
	if Hash(a) == Hash(b) || len(Hash(a)) != 64 {
		t.Fatal("hash")
	}
}
