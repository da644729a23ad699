//go:build redteam

package redteam20

import (
	"context"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// FAILS: "allow this user agent" on a request whose user agent is longer
// than 512 bytes writes a rule for the stored (clipped) agent, which never
// matches the real one: the page says "Done: a rule now allows the user
// agent", and the very next request of that agent is refused again.
func TestFAILS_AllowThisLongUserAgentNeverMatches(t *testing.T) {
	e, w := site(t, engine.Settings{Rules: []engine.Rule{{Name: "no probes", Action: "deny",
		Conditions: []engine.Condition{{Field: "user_agent", Op: "contains", Value: "Probe"}}}}})
	ua := "Mozilla/5.0 (compatible; UptimeProbe/3.1; +https://probe.example/" + strings.Repeat("x", 600) + ")"
	if code := askNginx(t, e, w.ServerKey, "198.51.100.20", ua, "/health"); code != 403 {
		t.Fatalf("before: %d, want 403", code)
	}
	ev := refusedEvent(t, e, "198.51.100.20")
	opt, added, err := e.Service.AllowFromEvent(context.Background(), e.Caller, shop, ev.ID, core.AllowChoice{Kind: core.AllowUserAgent})
	if err != nil || !added {
		t.Fatalf("allow this user agent: %v added=%v", err, added)
	}
	caughtUp(t, e)
	if code := askNginx(t, e, w.ServerKey, "198.51.100.20", ua, "/health"); code != 200 {
		t.Errorf("after 'allow this user agent' (rule %q, %d bytes; the agent is %d bytes) the agent's next request: %d, want 200",
			opt.Value[:40]+"…", len(opt.Value), len(ua), code)
	}
}

// FAILS: "allow this path" (or "this user agent") offered on a request a
// rate limit refused makes a grant rule placed first, and a rule's grant
// skips every rate limit: one click on one client's rate-limited login
// attempt removes the login's brute-force limit for every client in the
// world (and lifts the categories' denies there too). The page says only
// "allows every request whose path starts with /login".
func TestFAILS_AllowThisOnRateLimitRemovesTheLimitForEveryone(t *testing.T) {
	e, w := site(t, engine.Settings{RateLimits: []engine.RateLimit{{Name: "login", Key: "ip", PathPrefix: "/login",
		Requests: 3, Period: "1m", Action: "deny"}}})
	refused := 0
	for i := 0; i < 6; i++ {
		if askNginx(t, e, w.ServerKey, "203.0.113.9", testenv.ChromeUA, "/login") == 403 {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("the rate limit never refused")
	}
	ev := refusedEvent(t, e, "203.0.113.9")
	if ev.Source != engine.SourceRateLimit {
		t.Fatalf("event source %q", ev.Source)
	}
	at, err := e.Service.AllowThisOptions(context.Background(), e.Caller, shop, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := at.Option(core.AllowPath, "/login"); !ok {
		t.Skipf("not offered any more: %+v", at.Options)
	}
	if _, _, err := e.Service.AllowFromEvent(context.Background(), e.Caller, shop, ev.ID, core.AllowChoice{Kind: core.AllowPath, Value: "/login"}); err != nil {
		t.Fatal(err)
	}
	caughtUp(t, e)
	// An unrelated attacker now guesses passwords without any limit.
	got := 0
	for i := 0; i < 50; i++ {
		if askNginx(t, e, w.ServerKey, "192.0.2.66", testenv.ChromeUA, "/login") == 200 {
			got++
		}
	}
	if got > 3 {
		t.Errorf("after 'allow this path' on one client's rate-limited event, another client got %d of 50 /login requests through (limit: 3 a minute)", got)
	}
}

// FAILS: "allow this user agent" is offered on a fake crawler's event (a
// client that claimed to be Googlebot from an address that is not
// Google's). The rule it makes, first in the order, grants the very user
// agent every spoofer sends: afterwards any client claiming Googlebot's
// user agent skips the fake-crawler check, the categories and every custom
// deny rule.
func TestFAILS_AllowThisUserAgentOfAFakeCrawler(t *testing.T) {
	e, w := site(t, engine.Settings{Rules: []engine.Rule{{Name: "no admin", Action: "deny",
		Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/admin/"}}}}})
	const gbot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	if code := askNginx(t, e, w.ServerKey, "203.0.113.77", gbot, "/"); code == 200 {
		t.Skipf("a fake Googlebot is not refused by default here: %d", code)
	}
	ev := refusedEvent(t, e, "203.0.113.77")
	at, err := e.Service.AllowThisOptions(context.Background(), e.Caller, shop, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := at.Option(core.AllowUserAgent, ""); !ok {
		return // held: not offered
	}
	if _, _, err := e.Service.AllowFromEvent(context.Background(), e.Caller, shop, ev.ID, core.AllowChoice{Kind: core.AllowUserAgent}); err != nil {
		t.Fatal(err)
	}
	caughtUp(t, e)
	code := askNginx(t, e, w.ServerKey, "192.0.2.200", gbot, "/admin/users")
	if code == 200 {
		t.Errorf("after 'allow this user agent' on a fake Googlebot, another spoofer from 192.0.2.200 reads /admin/ past the site's own deny rule: %d", code)
	}
}
