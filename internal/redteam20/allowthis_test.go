package redteam20

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// FIXED (was low): "allow this user agent" on a request whose user agent
// was longer than the 512 bytes an event keeps wrote a rule for the cut
// agent, which never matched the real one ("Done", and the next request
// was refused again). Now an agent that may be cut is not offered (the
// client is); events cut it at a rune boundary (PostgreSQL refuses
// invalid UTF-8).
func TestFixed_AllowThisLongUserAgentNeverMatches(t *testing.T) {
	e, w := site(t, engine.Settings{Rules: []engine.Rule{{Name: "no probes", Action: "deny",
		Conditions: []engine.Condition{{Field: "user_agent", Op: "contains", Value: "Probe"}}}}})
	// "é" (2 bytes) straddles byte 512.
	head := "Mozilla/5.0 (compatible; UptimeProbe/3.1; +https://probe.example/"
	ua := head + strings.Repeat("x", core.UserAgentMax-1-len(head)) + strings.Repeat("é", 60) + ")"
	if code := e.AskNginx(t, w.ServerKey, shop, "198.51.100.20", ua, "/health"); code != 403 {
		t.Fatalf("before: %d, want 403", code)
	}
	ev := refusedEvent(t, e, "198.51.100.20")
	if len(ev.UserAgent) > core.UserAgentMax || !utf8.ValidString(ev.UserAgent) || !strings.HasPrefix(ua, ev.UserAgent) {
		t.Errorf("stored user agent: %d bytes, valid UTF-8 %v", len(ev.UserAgent), utf8.ValidString(ev.UserAgent))
	}
	ctx := context.Background()
	at, err := e.Service.AllowThisOptions(ctx, e.Caller, shop, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := at.Option(core.AllowUserAgent, ""); ok {
		t.Fatalf("a cut user agent is offered: %d bytes", len(o.Value))
	}
	if _, _, err := e.Service.AllowFromEvent(ctx, e.Caller, shop, ev.ID, core.AllowChoice{Kind: core.AllowUserAgent}); !errors.Is(err, core.ErrAllowNotOffered) {
		t.Fatalf("allow this user agent: %v, want not offered", err)
	}
	// A short agent refused by the same rule is offered, and works.
	const short = "UptimeProbe/3.1"
	if code := e.AskNginx(t, w.ServerKey, shop, "198.51.100.21", short, "/health"); code != 403 {
		t.Fatalf("short agent before: %d", code)
	}
	sev := refusedEvent(t, e, "198.51.100.21")
	if _, _, err := e.Service.AllowFromEvent(ctx, e.Caller, shop, sev.ID, core.AllowChoice{Kind: core.AllowUserAgent}); err != nil {
		t.Fatal(err)
	}
	e.EngineCaughtUp(t)
	if code := e.AskNginx(t, w.ServerKey, shop, "198.51.100.22", short, "/health"); code != 200 {
		t.Errorf("after 'allow this user agent' the agent's next request: %d, want 200", code)
	}
}

// FIXED (was medium): "allow this path" offered on a request a rate limit
// refused made a grant rule, and a rule's grant skips every rate limit:
// one click on one client's rate-limited login removed the login's limit
// for every client. Now a rate limit's event offers only the client and
// its network (an allow-list entry, which the page says is then never
// rate-limited); the limit keeps holding for everyone else.
func TestFixed_AllowThisOnRateLimitRemovesTheLimitForEveryone(t *testing.T) {
	e, w := site(t, engine.Settings{RateLimits: []engine.RateLimit{{Name: "login", Key: "ip", PathPrefix: "/login",
		Requests: 3, Period: "1m", Action: "deny"}}})
	refused := 0
	for i := 0; i < 6; i++ {
		if e.AskNginx(t, w.ServerKey, shop, "203.0.113.9", testenv.ChromeUA, "/login") == 403 {
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
	ctx := context.Background()
	at, err := e.Service.AllowThisOptions(ctx, e.Caller, shop, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, o := range at.Options {
		kinds = append(kinds, o.Kind)
	}
	if strings.Join(kinds, " ") != "client network" {
		t.Fatalf("a rate limit's event offers %q, want the client and the network only", kinds)
	}
	for _, ch := range []core.AllowChoice{{Kind: core.AllowPath, Value: "/login"}, {Kind: core.AllowUserAgent}} {
		if _, _, err := e.Service.AllowFromEvent(ctx, e.Caller, shop, ev.ID, ch); !errors.Is(err, core.ErrAllowNotOffered) {
			t.Errorf("%s: %v, want not offered", ch.Kind, err)
		}
	}
	if _, _, err := e.Service.AllowFromEvent(ctx, e.Caller, shop, ev.ID, core.AllowChoice{Kind: core.AllowClient}); err != nil {
		t.Fatal(err)
	}
	e.EngineCaughtUp(t)
	// The allowed client is never rate-limited; an unrelated one still is.
	mine, other := 0, 0
	for i := 0; i < 20; i++ {
		if e.AskNginx(t, w.ServerKey, shop, "203.0.113.9", testenv.ChromeUA, "/login") == 200 {
			mine++
		}
		if e.AskNginx(t, w.ServerKey, shop, "192.0.2.66", testenv.ChromeUA, "/login") == 200 {
			other++
		}
	}
	if mine != 20 || other > 3 {
		t.Errorf("after 'allow this client': the client got %d of 20 through, another client %d of 20 (limit: 3 a minute)", mine, other)
	}
}

// FIXED (was medium): "allow this user agent" was offered on a fake
// crawler's event, and the rule it made, first in the order, granted the
// user agent every spoofer sends, past the site's own deny rules. Now the
// user agent is offered only where it is itself what the site refused
// (a custom rule on the user agent; a category's signature that the user
// agent alone names), never for an impostor, an unverified claim, a crawler
// verified by address or emulated humans; and a grant rule goes just
// before the custom rule that refused the event, or after all of the
// site's own rules when a category did, so those still apply.
func TestFixed_AllowThisUserAgentOfAFakeCrawler(t *testing.T) {
	e, w := site(t, engine.Settings{
		Categories: map[string]string{"automation_tools": "deny"},
		Rules: []engine.Rule{{Name: "no admin", Action: "deny",
			Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/admin/"}}}}})
	const gbot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	if code := e.AskNginx(t, w.ServerKey, shop, "203.0.113.77", gbot, "/blog/post"); code == 200 {
		t.Fatalf("a fake Googlebot is not refused by default here: %d", code)
	}
	ev := refusedEvent(t, e, "203.0.113.77")
	ctx := context.Background()
	at, err := e.Service.AllowThisOptions(ctx, e.Caller, shop, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := at.Option(core.AllowUserAgent, ""); ok {
		t.Fatalf("the user agent of a fake crawler (%s: %s) is offered", ev.Category, ev.Detail)
	}
	if _, _, err := e.Service.AllowFromEvent(ctx, e.Caller, shop, ev.ID, core.AllowChoice{Kind: core.AllowUserAgent}); !errors.Is(err, core.ErrAllowNotOffered) {
		t.Fatalf("allow the fake crawler's user agent: %v, want not offered", err)
	}
	// An automation tool's user agent is offered (the site refused that
	// agent), and its rule goes after the site's own deny rule.
	if code := e.AskNginx(t, w.ServerKey, shop, "203.0.113.78", "curl/8.5.0", "/shop"); code != 403 {
		t.Fatalf("curl before: %d", code)
	}
	cev := refusedEvent(t, e, "203.0.113.78")
	cat, err := e.Service.AllowThisOptions(ctx, e.Caller, shop, cev.ID)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := cat.Option(core.AllowUserAgent, "")
	if !ok || o.Position != 1 || o.Before != "" {
		t.Fatalf("curl's user agent: offered %v, position %d before %q; want after the site's one rule", ok, o.Position, o.Before)
	}
	if _, _, err := e.Service.AllowFromEvent(ctx, e.Caller, shop, cev.ID, core.AllowChoice{Kind: core.AllowUserAgent}); err != nil {
		t.Fatal(err)
	}
	e.EngineCaughtUp(t)
	if code := e.AskNginx(t, w.ServerKey, shop, "192.0.2.200", "curl/8.5.0", "/shop"); code != 200 {
		t.Errorf("curl after 'allow this user agent': %d, want 200", code)
	}
	for _, ua := range []string{"curl/8.5.0", gbot} {
		if code := e.AskNginx(t, w.ServerKey, shop, "192.0.2.200", ua, "/admin/users"); code != 403 {
			t.Errorf("%s reads /admin/ past the site's own deny rule: %d", ua, code)
		}
	}
	if code := e.AskNginx(t, w.ServerKey, shop, "192.0.2.201", gbot, "/blog/post"); code == 200 {
		t.Errorf("another fake Googlebot is let through: %d", code)
	}
	_, st, err := e.Service.WebsiteSettings(ctx, e.Caller, shop)
	if err != nil || len(st.Rules) != 2 || st.Rules[0].Name != "no admin" || st.Rules[1].Action != "grant" {
		t.Errorf("rules: %+v %v", st.Rules, err)
	}
}
