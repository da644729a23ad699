package forwardauth_test

import (
	"testing"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestRedteam18CaddyTraefikNoLoopbackSelfCall pins what Caddy and Traefik
// actually send: both set X-Forwarded-Proto (and -Host, -For) afresh for a
// client they do not trust, and the shipped Caddyfile removes X-Real-IP. A
// proxy in front of them (nginx on the same machine, which adds X-Real-IP
// and X-Forwarded-For) therefore leaves no trace in what reaches Palisade
// but X-Forwarded-Proto, which nginx does not set either. Counting
// X-Forwarded-Proto as these contracts' own header would make every
// visitor of such a setup (all at 127.0.0.1) a self call; so a loopback
// client through /forward-auth/caddy or /forward-auth/traefik is not one
// (list the server in server_addresses instead).
func TestRedteam18CaddyTraefikNoLoopbackSelfCall(t *testing.T) {
	e := testenv.New(t)
	w := e.Website(t, "shop.example.com", engine.Settings{})
	for _, path := range []string{"/forward-auth/caddy", "/forward-auth/traefik"} {
		hd := map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/wp-cron.php", "X-Forwarded-Host": "shop.example.com",
			"X-Forwarded-Proto": "https", "X-Forwarded-For": "127.0.0.1", "User-Agent": "curl/8.5.0"}
		if _, act := ask(t, e.URL+path, w.ServerKey, hd); act != "challenge" {
			t.Errorf("%s: loopback client as Caddy/Traefik send it: %s; want challenge (not a self call)", path, act)
		}
	}
}
