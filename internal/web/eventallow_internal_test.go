package web

import (
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/i18n"
)

// TestExplainEvent: every kind of decision is said in words, in every
// language, with no message missing; a rule's conditions are listed as
// they read now, and a deleted or changed rule is said to be so.
func TestExplainEvent(t *testing.T) {
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	off := false
	st := engine.Settings{
		Allow: []string{"198.51.100.0/24"},
		Rules: []engine.Rule{
			{Name: "Block admin", Action: "deny", Conditions: []engine.Condition{
				{Field: "path", Op: "starts_with", Value: "/admin"}, {Field: "header", Header: "X-Debug", Op: "is_any_of", Values: []string{"1", "yes"}}},
				Expression: `method == "POST"`},
			{Name: "Old", Action: "grant", Enabled: &off, Conditions: []engine.Condition{{Field: "country", Op: "is", Value: "DE"}}},
		},
		RateLimits: []engine.RateLimit{{Name: "Logins", Requests: 10, Period: "1m", Burst: 5, PathPrefix: "/login"}},
		Categories: map[string]string{"ai_crawlers": "challenge"},
	}
	site := core.Website{UpdatedAt: at.Add(-time.Hour)}
	changed := core.Website{UpdatedAt: at.Add(time.Hour)}
	ev := func(source, reason, action, category, detail string) core.Event {
		return core.Event{At: at, IP: "198.51.100.7", Source: source, Reason: reason, Action: action, Category: category, Detail: detail}
	}
	wafEv := ev("waf", "waf", "deny", "waf", "sqli: 942100 SQL Injection")
	wafEv.WAF = &core.EventWAF{Mode: "block", Blocked: true, Score: 5, Class: "sqli"}
	monitored := ev("category", "ai_crawlers", "deny", "ai_crawlers", "GPTBot")
	monitored.Monitored = true
	cases := []struct {
		name string
		ev   core.Event
		w    core.Website
		want []string // English
	}{
		{"allow list", ev("list", "allow list", "grant", "lists", ""), site, []string{"allow list contains this client's address (198.51.100.7)", "The entry that matched: 198.51.100.0/24."}},
		{"deny list gone", ev("list", "deny list", "deny", "lists", ""), site, []string{"deny list contains", "has been removed since"}},
		{"partner list", ev("list", "partner deny list", "deny", "lists", ""), site, []string{"hosting provider's deny list"}},
		{"rule", ev("rule", "Block admin", "deny", "custom_rules", ""), site, []string{"Your custom rule “Block admin” decided: Blocked.", "It is rule 1 of 2.",
			"the path starts with “/admin”", "the request header X-Debug is one of “1”, “yes”", `method == "POST"`}},
		{"rule changed", ev("rule", "Old", "deny", "custom_rules", ""), changed, []string{"it now says Allowed", "switched off now", "settings have changed since this request"}},
		{"rule deleted", ev("rule", "Gone", "deny", "custom_rules", ""), site, []string{"no rule named “Gone” any more"}},
		{"budget", ev("rule", engine.ReasonOverBudget, "deny", "custom_rules", ""), site, []string{"fail closed"}},
		{"verified", ev("category", "search_engines", "grant", "search_engines", "Googlebot"), site, []string{"verified crawler: Googlebot"}},
		{"fake", ev("category", "emulated_humans", "challenge", "emulated_humans", "fake Googlebot"), site, []string{"called itself Googlebot", "impostor"}},
		{"unverified", ev("category", "emulated_humans", "challenge", "emulated_humans", "unverified Bingbot"), site, []string{"called itself Bingbot; that could not be checked"}},
		{"signed", ev("category", "signed_agents", "grant", "signed_agents", "chatgpt.com"), site, []string{"Web Bot Auth", "chatgpt.com"}},
		{"signature", ev("category", "automation_tools", "challenge", "automation_tools", "curl"), site, []string{"recognised as Automation tools", "was: Challenged", "user agent names curl"}},
		{"no ua", ev("category", "suspicious_behaviour", "challenge", "suspicious_behaviour", "no User-Agent"), site, []string{"no user agent at all"}},
		{"signals", ev("category", "suspicious_behaviour", "challenge", "suspicious_behaviour", "no Accept-Language"), site, []string{"technical detail", "no Accept-Language"}},
		{"category now", ev("category", "ai_crawlers", "deny", "ai_crawlers", "GPTBot"), site, []string{"Your setting for it is now: Challenged."}},
		{"builtin", ev("builtin", "robots_txt", "grant", "ai_crawlers", "GPTBot"), site, []string{"built-in exception", "GET /robots.txt"}},
		{"rate limit", ev("rate_limit", "Logins", "challenge", "humans", ""), site, []string{"rate limit “Logins”", "10 requests every minute for each client address", "burst of 5", "starting with /login"}},
		{"rate limit deleted", ev("rate_limit", "Search", "challenge", "humans", ""), site, []string{"no rate limit named “Search”"}},
		{"waf", wafEv, site, []string{"website firewall refused it", "SQL injection", "anomaly score of 5", "none of them can lift"}},
		{"patch", ev("waf", "virtual patch", "deny", "waf", "CVE-2025-1234"), site, []string{"virtual patch of your hosting provider", "CVE-2025-1234"}},
		{"clearance", ev("category", "clearance", "grant", "automation_tools", "cleared automation_tools"), site, []string{"solved a browser challenge earlier", "(Automation tools)"}},
		{"monitor", monitored, site, []string{"monitor mode: Blocked is what protection would have done"}},
		{"solved", ev("challenge", "challenge", "challenge_solved", "challenge", "solved in 300 ms"), site, []string{"solved the browser challenge"}},
		{"unprotected", ev("", "protection off", "grant", "unprotected", ""), site, []string{"not active"}},
	}
	for _, c := range cases {
		for _, l := range i18n.Languages {
			x := explainEvent(l, c.ev, c.w, st)
			var all []string
			all = append(all, x.Lines...)
			for _, k := range x.Conds {
				all = append(all, k.Text+" "+k.API)
			}
			all = append(all, x.Expr)
			all = append(all, x.Notes...)
			text := strings.Join(all, "\n")
			if strings.Contains(text, "[[") || len(x.Lines) == 0 {
				t.Errorf("%s in %s: %q", c.name, l, text)
			}
			if l != "en" {
				continue
			}
			for _, w := range c.want {
				if !strings.Contains(text, w) {
					t.Errorf("%s: %q lacks %q", c.name, text, w)
				}
			}
		}
	}
}

// TestAllowViewWords: every option, preview and outcome has its words in
// every language.
func TestAllowViewWords(t *testing.T) {
	at := core.AllowThis{Event: core.Event{ID: 7, Source: "category"}, Options: []core.AllowOption{
		{Kind: core.AllowClient, Value: "192.0.2.1", Preview: core.AllowPreview{Requests: 1, Clients: 1}},
		{Kind: core.AllowNetwork, Value: "192.0.2.0/24", Preview: core.AllowPreview{Requests: 12000, Clients: 3, Scanned: 20000, Capped: true,
			From: time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)}},
		{Kind: core.AllowUserAgent, Value: "curl/8", Rule: true, Before: "No robots"},
		{Kind: core.AllowPath, Value: "/a/", Rule: true, Exists: true},
	}}
	for _, l := range i18n.Languages {
		v := newAllowView(l, at)
		var all []string
		for _, o := range v.Options {
			all = append(all, o.Title, o.Creates, o.Says, o.Button)
		}
		for _, o := range v.Options {
			all = append(all, o.Place)
		}
		for _, a := range []core.AllowThis{{NotOffered: core.AllowFirewall}, {NotOffered: core.AllowNotRefused}, {Event: core.Event{Source: "list"}}, {Event: core.Event{Source: "rate_limit"}}} {
			all = append(all, newAllowView(l, a).Why)
		}
		for _, k := range []string{core.AllowClient, core.AllowNetwork, core.AllowUserAgent, core.AllowPath} {
			all = append(all, allowDone(l, map[string][]string{"allowed": {k}, "added": {"1"}, "value": {"x"}}), allowRuleName(l, 7, k))
		}
		all = append(all, allowDone(l, map[string][]string{"allowed": {"client"}}), period(l, "1s"), period(l, "90s"), period(l, "2h"))
		if text := strings.Join(all, "\n"); strings.Contains(text, "[[") {
			t.Errorf("%s: %s", l, text)
		}
	}
	v := newAllowView("en", at)
	if !strings.HasPrefix(v.Options[1].Says, "Among the last 20,000 refused requests (since ") || !strings.HasSuffix(v.Options[1].Says, ") this would have let through 12,000 refused requests from 3 different clients.") {
		t.Errorf("network preview: %q", v.Options[1].Says)
	}
	if !strings.Contains(v.Options[0].Creates, "never rate-limited") || v.Options[0].Place != "" {
		t.Errorf("client: %q / %q", v.Options[0].Creates, v.Options[0].Place)
	}
	if !strings.Contains(v.Options[2].Place, "just before your rule “No robots”") || !strings.Contains(v.Options[3].Place, "after all of your own rules") {
		t.Errorf("places: %q / %q", v.Options[2].Place, v.Options[3].Place)
	}
	if w := newAllowView("en", core.AllowThis{Event: core.Event{Source: "rate_limit"}}).Why; !strings.Contains(w, "never rate-limited") {
		t.Errorf("rate limit: %q", w)
	}
	if got := allowRuleName("de", 7, core.AllowPath); got != "Erlaubt aus Ereignis 7 (Pfad)" {
		t.Errorf("German rule name %q", got)
	}
}
