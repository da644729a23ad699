package gp_test

import (
	"crypto/tls"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/api/gp"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/netutil"
)

// TestSessionCookieSecure is issue 16 item 21: the session cookie's Secure
// flag follows --public-url and a trusted proxy's X-Forwarded-Proto, never
// a client's.
func TestSessionCookieSecure(t *testing.T) {
	lb, _ := netutil.ParseProxy("10.0.0.5")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	login := core.Login{Value: "v", Next: "/", Session: core.Session{CreatedAt: now, ExpiresAt: now.Add(time.Hour)}}
	cases := []struct {
		name, public, peer, xfp string
		tls, want               bool
	}{
		{"https public URL, an untrusted client says http", "https://shield.example.net", "203.0.113.9:1", "http", false, true},
		{"https public URL, a trusted proxy says http", "https://shield.example.net", "10.0.0.5:1", "http", false, true},
		{"https public URL, plain connection", "https://shield.example.net", "203.0.113.9:1", "", false, true},
		{"http public URL, an untrusted client says https", "http://127.0.0.1:8080", "203.0.113.9:1", "https", false, false},
		{"http public URL, the trusted proxy says https", "http://127.0.0.1:8080", "10.0.0.5:1", "https", false, true},
		{"http public URL, the trusted proxy says http", "http://127.0.0.1:8080", "10.0.0.5:1", "http", false, false},
		{"http public URL, TLS", "http://127.0.0.1:8080", "203.0.113.9:1", "", true, true},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		if c.xfp != "" {
			r.Header.Set("X-Forwarded-Proto", c.xfp)
		}
		if c.tls {
			r.TLS = &tls.ConnectionState{}
		}
		w := httptest.NewRecorder()
		gp.SessionCookies{PublicURL: c.public, Proxies: netutil.Proxies{lb}}.Set(w, r, login)
		cookie := w.Header().Get("Set-Cookie")
		if got := strings.Contains(cookie, "; Secure"); got != c.want {
			t.Errorf("%s: %q, Secure %v, want %v", c.name, cookie, got, c.want)
		}
	}
	// Framed (SameSite=None) needs Secure, which a client cannot claim.
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "203.0.113.9:1"
	r.Header.Set("X-Forwarded-Proto", "https")
	w := httptest.NewRecorder()
	framed := login
	framed.Framed = true
	gp.SessionCookies{PublicURL: "http://127.0.0.1:8080"}.Set(w, r, framed)
	if c := w.Header().Get("Set-Cookie"); strings.Contains(c, "SameSite=None") {
		t.Errorf("framed cookie over plain HTTP from a client's word: %q", c)
	}
}
