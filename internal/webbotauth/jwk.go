package webbotauth

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
)

// MediaType is the media type of a key directory.
const MediaType = "application/http-message-signatures-directory+json"

// maxKeys bounds the keys of one directory.
const maxKeys = 32

// Thumbprint is the JWK SHA-256 thumbprint (RFC 7638; for an OKP key RFC
// 8037 appendix A.3) of an Ed25519 public key, base64url without padding:
// the keyid Web Bot Auth signatures carry.
func Thumbprint(pub ed25519.PublicKey) string {
	// The required members in lexicographic order, no white space.
	j := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(j))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// rfcTestKey is the thumbprint of the Ed25519 key of RFC 9421 appendix
// B.1.4, whose private half is published: the drafts say verifiers should
// refuse it in directories.
const rfcTestKey = "poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U"

type dirKey struct {
	pub      ed25519.PublicKey
	nbf, exp time.Time // zero: unbounded
}

// keySet is a directory's usable keys by thumbprint.
type keySet map[string]dirKey

type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Nbf *int64 `json:"nbf"`
	Exp *int64 `json:"exp"`
}

// parseDirectory reads a key directory (a JWK Set, RFC 7517 section 5). It
// keeps the Ed25519 keys and skips others (RSA, EC: not supported here);
// a key whose kid is not its thumbprint, or with use other than "sig", is
// skipped. allowTestKeys false skips the RFC 9421 test key. It returns the
// usable keys by thumbprint, or an error for a malformed set or one with
// more than maxKeys keys.
func parseDirectory(body []byte, allowTestKeys bool) (keySet, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&set); err != nil {
		return nil, fmt.Errorf("directory is not a JWK Set: %v", err)
	}
	if set.Keys == nil {
		return nil, fmt.Errorf(`directory has no "keys" array`)
	}
	if len(set.Keys) > maxKeys {
		return nil, fmt.Errorf("directory has %d keys; at most %d are read", len(set.Keys), maxKeys)
	}
	ks := keySet{}
	for _, raw := range set.Keys {
		var k jwk
		if err := json.Unmarshal(raw, &k); err != nil {
			return nil, fmt.Errorf("directory key: %v", err)
		}
		if k.Kty != "OKP" || k.Crv != "Ed25519" || (k.Use != "" && k.Use != "sig") {
			continue
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			continue
		}
		pub := ed25519.PublicKey(x)
		tp := Thumbprint(pub)
		if (k.Kid != "" && k.Kid != tp) || (tp == rfcTestKey && !allowTestKeys) {
			continue
		}
		dk := dirKey{pub: pub}
		if k.Nbf != nil {
			dk.nbf = time.Unix(*k.Nbf, 0)
		}
		if k.Exp != nil {
			dk.exp = time.Unix(*k.Exp, 0)
		}
		ks[tp] = dk
	}
	return ks, nil
}

// EncodeDirectory writes a key directory holding keys, as agents publish
// it (for tests and for operators configuring a directory by file).
func EncodeDirectory(keys ...ed25519.PublicKey) []byte {
	type out struct {
		Kty string `json:"kty"`
		Crv string `json:"crv"`
		Kid string `json:"kid"`
		X   string `json:"x"`
		Use string `json:"use"`
	}
	set := struct {
		Keys []out `json:"keys"`
	}{Keys: []out{}}
	for _, k := range keys {
		set.Keys = append(set.Keys, out{"OKP", "Ed25519", Thumbprint(k), base64.RawURLEncoding.EncodeToString(k), "sig"})
	}
	b, _ := json.Marshal(set)
	return b
}
