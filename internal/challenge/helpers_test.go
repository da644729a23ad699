package challenge

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/engine"
)

var webClientIP = netip.MustParseAddr("198.51.100.23")

// testWeb returns the challenge endpoints for one website (difficulty 8,
// the lowest a website may set) whose visitors all come from webClientIP,
// unless the request names another address in X-Test-IP.
func testWeb(t testing.TB, is *Issuer) (*Web, *engine.Policy) {
	t.Helper()
	st := engine.Settings{}
	st.Challenge.Difficulty = 8
	pol, err := engine.Compile(engine.Site{ID: 7, PartnerID: 1, Domain: "shop.example.com", Status: "online", ServerKeyHash: strings.Repeat("ab", 32), Settings: st})
	if err != nil {
		t.Fatal(err)
	}
	wb := &Web{Issuer: is, Resolve: func(r *http.Request) (*engine.Policy, netip.Addr) {
		if s := r.Header.Get("X-Test-IP"); s != "" {
			return pol, netip.MustParseAddr(s)
		}
		return pol, webClientIP
	}}
	return wb, pol
}
