package challenge

import (
	"crypto/rand"
	"encoding/base32"
	"net/url"
)

// NewRef returns a fresh reference ID for a challenge or deny page: ten
// characters of base32 (A–Z, 2–7; 50 random bits), short enough to read
// out on the phone, stored with the decision's event so that the site's
// owner finds it (core.ParseRef reads it back as a visitor quotes it).
func NewRef() string {
	var b [7]byte
	_, _ = rand.Read(b[:])
	return base32.StdEncoding.EncodeToString(b[:])[:10]
}

func queryEscape(s string) string { return url.QueryEscape(s) }
