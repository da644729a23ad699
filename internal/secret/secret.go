// Package secret generates API keys and protects them at rest. Keys are looked
// up by their SHA-256 and kept sealed with AES-256-GCM under a master key, so a
// copy of the database alone reveals no usable credential.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the length of a master key in bytes.
const KeySize = 32

// Box seals and opens secrets with one master key.
type Box struct {
	aead cipher.AEAD
	rand io.Reader
}

// NewBox returns a Box for a 32-byte master key. rnd supplies nonces; nil
// means crypto/rand.
func NewBox(key []byte, rnd io.Reader) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("master key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	return &Box{aead: aead, rand: rnd}, nil
}

// Seal encrypts plaintext and returns "v1:" followed by base64(nonce|ciphertext).
func (b *Box) Seal(plaintext string) (string, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := io.ReadFull(b.rand, nonce); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	out := b.aead.Seal(nonce, nonce, []byte(plaintext), nil)
	return "v1:" + base64.RawStdEncoding.EncodeToString(out), nil
}

// Open reverses Seal. It fails if the value was sealed under another key or
// was altered.
func (b *Box) Open(sealed string) (string, error) {
	body, ok := strings.CutPrefix(sealed, "v1:")
	if !ok {
		return "", errors.New("open: unknown sealed format")
	}
	raw, err := base64.RawStdEncoding.Strict().DecodeString(body)
	if err != nil || len(raw) < b.aead.NonceSize() {
		return "", errors.New("open: malformed sealed value")
	}
	n := b.aead.NonceSize()
	pt, err := b.aead.Open(nil, raw[:n], raw[n:], nil)
	if err != nil {
		return "", errors.New("open: wrong master key or altered value")
	}
	return string(pt), nil
}

// ParseKey decodes a master key given as 64 hex digits or base64 of 32 bytes.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) == KeySize {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	return nil, errors.New("master key must be 32 bytes as 64 hex digits or base64")
}

// LoadOrCreateKeyFile reads a master key from path, or creates the file with a
// new random key (mode 0600) when it does not exist. created reports which.
func LoadOrCreateKeyFile(path string) (key []byte, created bool, err error) {
	data, err := os.ReadFile(path)
	if err == nil {
		key, err := ParseKey(string(data))
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		return key, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	key = make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) { // another process won the race: use its key
			return LoadOrCreateKeyFile(path)
		}
		return nil, false, err
	}
	defer f.Close()
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		return nil, false, err
	}
	return key, true, f.Sync()
}

// NewToken returns prefix followed by 40 characters of base32-like random
// text (200 bits), e.g. "pk_" for partner keys.
func NewToken(rnd io.Reader, prefix string) (string, error) {
	const alphabet = "abcdefghijkmnopqrstuvwxyz2345678" // 32 symbols, no l, 0, 1: easy to read aloud
	if rnd == nil {
		rnd = rand.Reader
	}
	buf := make([]byte, 40)
	if _, err := io.ReadFull(rnd, buf); err != nil {
		return "", err
	}
	var sb strings.Builder
	sb.WriteString(prefix)
	for _, c := range buf {
		sb.WriteByte(alphabet[int(c)%32]) // uniform: 256 is a multiple of 32
	}
	return sb.String(), nil
}

// Hash returns the hex SHA-256 of a token, the form used for lookups.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
