package webbotauth_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/webbotauth/webbotauthtest"
)

// BenchmarkVerifyAgent: a signed request that verifies (parse, base,
// Ed25519, replay cache), and one whose signature bytes are wrong.
func BenchmarkVerifyAgent(b *testing.B) {
	clock := &testClock{t0}
	v := webbotauthtest.NewVerifier(clock.now)
	reqs := make([]*engine.Request, 1024)
	for i := range reqs {
		h := http.Header{}
		webbotauthtest.Sign(h, webbotauthtest.Signature{Host: "shop.example.com", Agent: webbotauthtest.Agent, Nonce: strconv.Itoa(i),
			Created: t0, Expires: t0.Add(time.Minute)})
		reqs[i] = &engine.Request{Method: "GET", Host: "shop.example.com", Path: "/", Header: h}
	}
	b.Run("valid", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			r := reqs[i%len(reqs)]
			if i < len(reqs) && v.VerifyAgent(r, true) == "" {
				b.Fatal("not verified")
			} else if i >= len(reqs) {
				v.VerifyAgent(r, true) // a replay: same work, refused at the end
			}
		}
	})
	bad := *reqs[0]
	bad.Header = bad.Header.Clone()
	bad.Header.Set("Signature", "sig1=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==:")
	b.Run("bad signature", func(b *testing.B) {
		for b.Loop() {
			if v.VerifyAgent(&bad, true) != "" {
				b.Fatal("verified")
			}
		}
	})
}
