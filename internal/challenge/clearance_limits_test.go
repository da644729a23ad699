package challenge

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

// TestClearanceNeverLiftsRateLimits: a clearance earned by a real solve lets
// a browser past what would challenge it (its category, a rule), but a
// rate-limit verdict stays whatever its action: with "login 5/1m" a cleared
// client gets five grants and then the limit's answer, exactly like one
// without clearance. Before, one clearance turned 30 login attempts of 30
// into grants for 24 hours.
func TestClearanceNeverLiftsRateLimits(t *testing.T) {
	sigs, err := engine.LoadSignatures()
	if err != nil {
		t.Fatal(err)
	}
	const browser = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	const script = "python-requests/2.31.0" // automation tools: challenged
	cases := []struct {
		name      string
		ua        string
		action    string // the limit's action
		rule      bool   // a rule challenges /login as well
		overLimit engine.Action
	}{
		{"browser, limit challenges", browser, "", false, engine.Challenge},
		{"browser, limit denies", browser, "deny", false, engine.Deny},
		{"script, limit challenges", script, "", false, engine.Challenge},
		{"script, limit denies", script, "deny", false, engine.Deny},
		{"rule challenges, limit denies", browser, "deny", true, engine.Deny},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{t: testclock.Now(t)}
			e := engine.New(engine.NewClassifier(sigs, nil, nil), clk.now)
			keys, _ := NewKeys(NewKey())
			is := NewIssuer(keys, NewMemorySpent(clk.now), clk.now)
			e.SetClearance(is)
			st := engine.Settings{RateLimits: []engine.RateLimit{{Name: "login", PathPrefix: "/login", Requests: 5, Period: "1m", Action: tc.action}}}
			if tc.rule {
				st.Rules = []engine.Rule{{Name: "Login needs a browser", Action: "challenge", Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/login"}}}}
			}
			site := engine.Site{ID: 7, PartnerID: 1, Domain: "shop.example.com", Status: "online", ServerKeyHash: strings.Repeat("ab", 32), Settings: st}
			if errs := e.Load([]engine.Site{site}, nil); len(errs) > 0 {
				t.Fatal(errs[0].Err)
			}
			pol := e.ByDomain("shop.example.com")
			// A real solve of a real challenge earns the clearance.
			c := Client{Website: 7, IP: netip.MustParseAddr("198.51.100.23"), UserAgent: tc.ua}
			ch := is.Issue(c, 8)
			if _, err := is.Verify(c, ch.Token, solve(t, ch)); err != nil {
				t.Fatal(err)
			}
			clearance := is.Clearance(c, 24*time.Hour)
			newReq := func(ip string, withClearance bool) *engine.Request {
				r := &engine.Request{IP: netip.MustParseAddr(ip), Method: "POST", Host: "shop.example.com", Path: "/login", Proto: "HTTP/1.1", UserAgent: tc.ua,
					Header: http.Header{"Accept": {"text/html"}, "Accept-Language": {"en"}, "Accept-Encoding": {"gzip"}}}
				if withClearance {
					r.Clearance = clearance
				}
				return r
			}
			for i := range 30 {
				v := e.Decide(pol, newReq("198.51.100.23", true))
				want := engine.Grant
				if i >= 5 {
					want = tc.overLimit
				}
				if v.Action != want {
					t.Fatalf("cleared attempt %d: %s, want %s", i+1, v, want)
				}
				if i >= 5 && v.Source != engine.SourceRateLimit {
					t.Fatalf("cleared attempt %d: decided by %q, want the rate limit", i+1, v.Source)
				}
			}
			// Another address of the same /24 without clearance: its own
			// five, the way it always was (or challenged, for a script).
			for i := range 8 {
				v := e.Decide(pol, newReq("198.51.100.99", false))
				switch {
				case tc.ua == script || tc.rule:
					if v.Action != engine.Challenge || v.Source == engine.SourceRateLimit {
						t.Fatalf("uncleared attempt %d: %s", i+1, v)
					}
				case i < 5 && v.Action != engine.Grant, i >= 5 && v.Action != tc.overLimit:
					t.Fatalf("uncleared attempt %d: %s", i+1, v)
				}
			}
			// A minute later the cleared client has its allowance back.
			clk.t = clk.t.Add(time.Minute)
			if v := e.Decide(pol, newReq("198.51.100.23", true)); v.Action != engine.Grant {
				t.Fatalf("after the period: %s", v)
			}
		})
	}
}
