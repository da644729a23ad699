//go:build redteam

package redteam21

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
)

func mustInt(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// TestFinding_AssetPassTripsTheFirewall: the pass cookie rides along on
// every later request of the browser, pages included, where the website
// firewall reads cookies. Its hash is base64url: '-' and '_' are in its
// alphabet, and a hash with "--" followed later by another '-' trips the
// Core Rule Set's SQL comment detection at paranoia 2: the browser's next
// page is denied (and recorded as an attack) until the pass expires. About
// 1 pass in 1,400 has that shape (simulated over random hashes), and every
// granted page hands out a new one. Here: a pass exactly as Palisade hands
// it out (the website's key, 127.0.0.1, Chrome, reason humans) for the
// first expiry in the next two days whose hash has that shape; at
// paranoia 1 the same cookie passes.
func TestFinding_AssetPassTripsTheFirewall(t *testing.T) {
	r := newPassRig(t)
	w := r.pal.Website(t, "pl2.example.com", remoteVisitors(engine.Settings{WAF: engine.WAFSettings{Paranoia: 2}}))
	port := freePort(t)
	addr := r.start(t, port, passSite(port, "pl2.example.com", w.ServerKey, r.root, r.appURL), nil)
	getPass(t, addr, "pl2.example.com") // a pass is handed out on this website
	comment := regexp.MustCompile(`--[^-]*-`)
	now := time.Now().Unix()
	pass := ""
	for e := now + 60; e < now+2*86400 && pass == ""; e++ {
		if p := mintPass(w.ServerKey, strconv.FormatInt(e, 10), "humans", "127.0.0.1", "pl2.example.com", chromeUA); comment.MatchString(strings.SplitN(p, ".", 2)[0]) {
			pass = p
		}
	}
	if pass == "" {
		t.Skip("no hash of that shape in two days of expiries")
	}
	code, body, _ := send(t, addr, "GET", "pl2.example.com", "/shop", browserHeaders(chromeUA)+"Cookie: palisade_pass="+pass+"\r\n")
	if code != 200 {
		t.Errorf("a browser's next page with the pass %s Palisade hands out: %d %.60q, want 200", pass, code, body)
	}
}
