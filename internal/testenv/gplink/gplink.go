// Package gplink makes GP login links the way modules of an earlier release
// signed them themselves, from the partner key alone:
// /api/v1/login/?panel=&domain=&timestamp=&key=&hash=. Palisade refuses
// every such link (core.LoginWithGPLink; a link made from the key alone
// opened the partner's console from anywhere), and tests use these to show
// that even a correctly signed one opens nothing.
package gplink

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Link is a self-signed login link's parameters.
type Link struct {
	Panel     string // "client" (the customer pages of Domain) or "admin" (the partner's console)
	Domain    string
	Timestamp string // the Unix time the link was made, not shuffled
	Key       string // KeyID of the signing key
	Hash      string // Hash
}

// Query is the link's query string.
func (l Link) Query() string {
	return url.Values{"panel": {l.Panel}, "domain": {l.Domain}, "timestamp": {l.Timestamp}, "key": {l.Key}, "hash": {l.Hash}}.Encode()
}

// Hash is the signature: hex(HMAC-SHA256(key=trim(API key),
// "palisade-gp-login|" + panel + "|" + domain + "|" + timestamp)).
func Hash(key, panel, domain, timestamp string) string {
	m := hmac.New(sha256.New, []byte(strings.TrimSpace(key)))
	m.Write([]byte("palisade-gp-login|" + panel + "|" + domain + "|" + timestamp))
	return hex.EncodeToString(m.Sum(nil))
}

// KeyID named the signing key: the first 16 hex digits of
// sha256("palisade-gp-key-id|" + trim(key)).
func KeyID(key string) string {
	sum := sha256.Sum256([]byte("palisade-gp-key-id|" + strings.TrimSpace(key)))
	return hex.EncodeToString(sum[:8])
}

// New signs a link for panel and domain at t.
func New(key, panel, domain string, t time.Time) Link {
	key = strings.TrimSpace(key)
	ts := strconv.FormatInt(t.Unix(), 10)
	return Link{Panel: panel, Domain: domain, Timestamp: ts, Key: KeyID(key), Hash: Hash(key, panel, domain, ts)}
}
