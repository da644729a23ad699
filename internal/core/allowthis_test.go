package core_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

func TestPathPrefixes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"/shop/cart/add", []string{"/shop/cart/add", "/shop/cart/", "/shop/"}},
		{"/shop/cart/add/x/y", []string{"/shop/cart/add/x/y", "/shop/cart/add/x/", "/shop/cart/add/"}},
		{"/shop/", []string{"/shop/"}},
		{"/a/b?x=1", []string{"/a/b", "/a/"}},
		{"/", nil},
		{"", nil},
		{"/%61dmin/./x", []string{"/admin/x", "/admin/"}},
	} {
		if got := core.PathPrefixes(c.in); !slices.Equal(got, c.want) {
			t.Errorf("PathPrefixes(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for ip, want := range map[string]string{"203.0.113.7": "203.0.113.0/24", "2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64", "::ffff:192.0.2.9": "192.0.2.0/24"} {
		if got := core.Network(netip.MustParseAddr(ip)).String(); got != want {
			t.Errorf("Network(%s) = %s, want %s", ip, got, want)
		}
	}
}

// allowFixture: partner a's website with a customer, partner b, and a
// month of events around one refused request (the target).
type allowFixture struct {
	f           *fixture
	a, b, owner core.Caller
	other       core.Caller // another customer of a
	w           core.Website
	target      int64
	ids         map[string]int64
}

func newAllowFixture(t *testing.T, db *store.DB) *allowFixture {
	t.Helper()
	ctx := context.Background()
	f := newFixture(t, db)
	x := &allowFixture{f: f, a: f.partner(t, "a", 0), b: f.partner(t, "b", 0), ids: map[string]int64{}}
	jane, _, err := f.svc.CreateSubaccount(ctx, x.a, core.SubaccountCreate{Email: "jane@example.com"}, core.Idem{})
	if err != nil {
		t.Fatal(err)
	}
	bob, _, _ := f.svc.CreateSubaccount(ctx, x.a, core.SubaccountCreate{Email: "bob@example.com"}, core.Idem{})
	x.owner = core.Caller{Role: core.RoleSubaccount, PartnerID: x.a.PartnerID, SubaccountID: jane.ID, Actor: "jane"}
	x.other = core.Caller{Role: core.RoleSubaccount, PartnerID: x.a.PartnerID, SubaccountID: bob.ID, Actor: "bob"}
	if x.w, _, err = f.svc.CreateWebsite(ctx, x.a, core.WebsiteCreate{Domain: "shop.example.com", SubaccountID: jane.ID}, core.Idem{}); err != nil {
		t.Fatal(err)
	}
	other, _, err := f.svc.CreateWebsite(ctx, x.a, core.WebsiteCreate{Domain: "blog.example.com"}, core.Idem{})
	if err != nil {
		t.Fatal(err)
	}
	now := *f.now.Load()
	const curl = "curl/8.5.0"
	ev := func(ago time.Duration, ip, ua, path, action, source string) core.Event {
		return core.Event{PartnerID: x.a.PartnerID, WebsiteID: x.w.ID, At: now.Add(-ago), IP: ip, Method: "GET", Host: "shop.example.com", Path: path,
			UserAgent: ua, Action: action, Category: "automation_tools", Source: source, Reason: "automation_tools"}
	}
	named := []struct {
		name string
		e    core.Event
	}{
		{"target", ev(time.Minute, "203.0.113.7", curl, "/shop/cart/add", "challenge", "category")},
		{"same ip", ev(time.Hour, "203.0.113.7", "Wget/1.21", "/", "deny", "category")},
		{"same net", ev(2*time.Hour, "203.0.113.9", curl, "/shop/cart/view", "deny", "category")},
		{"same net firewall", ev(3*time.Hour, "203.0.113.10", curl, "/shop/cart/add", "deny", "waf")},
		{"same ua list", ev(4*time.Hour, "198.51.100.1", "CURL/8.5.0", "/shop/cart/add", "deny", "list")},
		{"same ua elsewhere", ev(5*time.Hour, "198.51.100.2", curl, "/blog/", "deny", "rule")},
		{"old", ev(31*24*time.Hour, "203.0.113.7", curl, "/shop/cart/add", "deny", "category")},
		{"granted", ev(6*time.Hour, "203.0.113.7", curl, "/shop/cart/add", "grant", "category")},
		{"solved", ev(7*time.Hour, "203.0.113.7", curl, "/shop/cart/add", "challenge_solved", "challenge")},
		{"v6 a", ev(8*time.Hour, "2001:db8::1:2:3:4", curl, "/x", "deny", "category")},
		{"v6 b", ev(9*time.Hour, "2001:db8::9", curl, "/x", "deny", "category")},
		{"v6 other net", ev(10*time.Hour, "2001:db8:0:1::9", curl, "/x", "deny", "category")},
		{"firewall", ev(11*time.Hour, "192.0.2.1", curl, "/login", "deny", "waf")},
	}
	var es []core.Event
	for _, n := range named {
		es = append(es, n.e)
	}
	// Another website's refused request of the same client.
	otherEv := ev(time.Minute, "203.0.113.7", curl, "/shop/cart/add", "deny", "category")
	otherEv.WebsiteID, otherEv.Host = other.ID, "blog.example.com"
	es = append(es, otherEv)
	if err := f.svc.RecordDecisions(ctx, es, nil); err != nil {
		t.Fatal(err)
	}
	all, err := f.svc.Events(ctx, x.a, "shop.example.com", core.EventFilter{})
	if err != nil || len(all) != len(named) {
		t.Fatalf("events: %d %v", len(all), err)
	}
	// Newest first, in the order inserted: ids ascend with the list.
	for i, e := range all {
		x.ids[named[len(named)-1-i].name] = e.ID
	}
	ob, _ := f.svc.Events(ctx, x.a, "blog.example.com", core.EventFilter{})
	x.ids["other website"] = ob[0].ID
	x.target = x.ids["target"]
	return x
}

func TestAllowThisPreview(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		x := newAllowFixture(t, db)
		at, err := x.f.svc.AllowThisOptions(ctx, x.owner, "shop.example.com", x.target)
		if err != nil {
			t.Fatal(err)
		}
		if at.NotOffered != "" || at.Event.ID != x.target {
			t.Fatalf("%+v", at)
		}
		type want struct {
			requests, clients int64
			examples          []string
		}
		wants := map[string]want{
			// The client: the target and its deny an hour earlier (not the
			// old one, the grant, the solved challenge, the other site's).
			"client 203.0.113.7": {2, 1, []string{"target", "same ip"}},
			// The network: also its neighbours, the firewall's deny
			// included (the allow list comes before the firewall).
			"network 203.0.113.0/24": {4, 3, []string{"target", "same ip", "same net", "same net firewall"}},
			// A grant rule does not lift a list's or the firewall's deny;
			// user agents compare ignoring case.
			"user_agent curl/8.5.0": {6, 6, []string{"target", "same net", "same ua elsewhere", "v6 a", "v6 b"}},
			"path /shop/cart/add":   {1, 1, []string{"target"}},
			"path /shop/cart/":      {2, 2, []string{"target", "same net"}},
			"path /shop/":           {2, 2, []string{"target", "same net"}},
		}
		if len(at.Options) != len(wants) {
			t.Fatalf("%d options: %+v", len(at.Options), at.Options)
		}
		for _, o := range at.Options {
			k := o.Kind + " " + o.Value
			w, ok := wants[k]
			if !ok {
				t.Errorf("unexpected option %s", k)
				continue
			}
			var ex []string
			for _, e := range o.Preview.Examples {
				for n, id := range x.ids {
					if id == e.ID {
						ex = append(ex, n)
					}
				}
			}
			if o.Preview.Requests != w.requests || o.Preview.Clients != w.clients || !slices.Equal(ex, w.examples) || o.Exists || o.Rule != (o.Kind == core.AllowUserAgent || o.Kind == core.AllowPath) {
				t.Errorf("%s: %d requests, %d clients, examples %q, exists %v; want %d, %d, %q", k, o.Preview.Requests, o.Preview.Clients, ex, o.Exists, w.requests, w.clients, w.examples)
			}
			if !o.Preview.To.After(*x.f.now.Load()) || o.Preview.To.Sub(o.Preview.From) < core.AllowWindow {
				t.Errorf("%s: window %s–%s", k, o.Preview.From, o.Preview.To)
			}
		}

		// An IPv6 /64 with zero groups, written with "::" in different
		// places, is counted by address, not by its text.
		v6, err := x.f.svc.AllowThisOptions(ctx, x.a, "shop.example.com", x.ids["v6 a"])
		if err != nil {
			t.Fatal(err)
		}
		net, ok := v6.Option(core.AllowNetwork, "")
		if !ok || net.Value != "2001:db8::/64" || net.Preview.Requests != 2 || net.Preview.Clients != 2 || len(net.Preview.Examples) != 2 {
			t.Fatalf("v6 network: %+v", net)
		}

		// A firewall deny offers no allow entry; a grant nothing.
		for name, why := range map[string]string{"firewall": core.AllowFirewall, "granted": core.AllowNotRefused, "solved": core.AllowNotRefused} {
			at, err := x.f.svc.AllowThisOptions(ctx, x.a, "shop.example.com", x.ids[name])
			if err != nil || at.NotOffered != why || len(at.Options) != 0 {
				t.Errorf("%s: %q %+v %v", name, at.NotOffered, at.Options, err)
			}
		}
		// A list's deny: only the allow list lifts it.
		lst, err := x.f.svc.AllowThisOptions(ctx, x.a, "shop.example.com", x.ids["same ua list"])
		if err != nil || len(lst.Options) != 2 || lst.Options[0].Kind != core.AllowClient || lst.Options[1].Kind != core.AllowNetwork {
			t.Errorf("list deny: %+v %v", lst.Options, err)
		}

		// Who may look: the partner and the owner; not another customer,
		// not another partner, not through another website.
		_, err = x.f.svc.AllowThisOptions(ctx, x.other, "shop.example.com", x.target)
		wantCode(t, err, core.ENOTFOUND)
		_, err = x.f.svc.AllowThisOptions(ctx, x.b, "shop.example.com", x.target)
		wantCode(t, err, core.ENOTFOUND)
		_, err = x.f.svc.AllowThisOptions(ctx, x.a, "shop.example.com", x.ids["other website"])
		wantCode(t, err, core.ENOTFOUND)
		_, err = x.f.svc.AllowThisOptions(ctx, x.a, "blog.example.com", x.target)
		wantCode(t, err, core.ENOTFOUND)
	})
}

func TestAllowFromEvent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		x := newAllowFixture(t, db)
		svc := x.f.svc
		settings := func() (core.Website, []string, []string) {
			t.Helper()
			w, st, err := svc.WebsiteSettings(ctx, x.a, "shop.example.com")
			if err != nil {
				t.Fatal(err)
			}
			var rules []string
			for _, r := range st.Rules {
				rules = append(rules, r.Name+": "+r.Action+" "+r.Conditions[0].Field+" "+r.Conditions[0].Op+" "+r.Conditions[0].Value)
			}
			return w, st.Allow, rules
		}
		// A rule of the customer's own, which "allow this" goes before.
		if _, _, err := svc.EditWebsiteSettings(ctx, x.owner, "shop.example.com", core.Match{}, func(st *engine.Settings) error {
			st.Rules = append(st.Rules, engine.Rule{Name: "Block carts", Action: "deny", Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/shop/cart/"}}})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		allow := func(c core.Caller, id int64, kind, value, name string) (core.AllowOption, bool, error) {
			return svc.AllowFromEvent(ctx, c, "shop.example.com", id, core.AllowChoice{Kind: kind, Value: value, RuleName: name})
		}

		w0, _, _ := settings()
		o, added, err := allow(x.owner, x.target, core.AllowClient, "", "")
		if err != nil || !added || o.Value != "203.0.113.7" || !o.Exists {
			t.Fatalf("client: %+v %v %v", o, added, err)
		}
		w1, list, _ := settings()
		if !slices.Equal(list, []string{"203.0.113.7"}) || w1.Version != w0.Version+1 {
			t.Fatalf("allow list %q, version %d → %d", list, w0.Version, w1.Version)
		}
		// The same twice adds nothing, and the settings keep their version.
		if _, added, err := allow(x.owner, x.target, core.AllowClient, "", ""); err != nil || added {
			t.Fatalf("client again: %v %v", added, err)
		}
		if w2, _, _ := settings(); w2.Version != w1.Version {
			t.Fatalf("version moved on a no-op: %d → %d", w1.Version, w2.Version)
		}
		// The network; then the client is inside it (no new entry for a
		// neighbour already covered).
		if o, added, err := allow(x.a, x.target, core.AllowNetwork, "", ""); err != nil || !added || o.Value != "203.0.113.0/24" {
			t.Fatalf("network: %+v %v %v", o, added, err)
		}
		if _, added, err := allow(x.a, x.ids["same net"], core.AllowClient, "", ""); err != nil || added {
			t.Fatalf("a client of an allowed network: %v %v", added, err)
		}
		// The user agent and a path: grant rules, after the site's own.
		if o, added, err := allow(x.owner, x.target, core.AllowUserAgent, "", "Erlaubt aus Ereignis"); err != nil || !added || o.Value != "curl/8.5.0" {
			t.Fatalf("user agent: %+v %v %v", o, added, err)
		}
		if _, added, err := allow(x.owner, x.ids["same net"], core.AllowUserAgent, "", ""); err != nil || added {
			t.Fatalf("the same user agent from another event: %v %v", added, err)
		}
		if _, added, err := allow(x.owner, x.target, core.AllowPath, "/shop/cart/", "Erlaubt aus Ereignis"); err != nil || !added {
			t.Fatalf("path: %v %v", added, err)
		}
		_, list, rules := settings()
		// A category refused the target: the rules go after the site's own
		// (whose deny still applies).
		want := []string{"Block carts: deny path starts_with /shop/cart/", "Erlaubt aus Ereignis: grant user_agent is curl/8.5.0", "Erlaubt aus Ereignis 2: grant path starts_with /shop/cart/"}
		if !slices.Equal(rules, want) || !slices.Equal(list, []string{"203.0.113.7", "203.0.113.0/24"}) {
			t.Fatalf("rules %q, allow list %q", rules, list)
		}
		// Refused: a prefix the event does not offer, "/" (every path), an
		// unknown kind, a firewall's deny, a grant.
		for _, c := range []struct {
			id          int64
			kind, value string
			cause       error
		}{
			{x.target, core.AllowPath, "/", core.ErrAllowNotOffered}, {x.target, core.AllowPath, "/blog/", core.ErrAllowNotOffered}, {x.target, "everything", "", core.ErrAllowNotOffered},
			{x.ids["firewall"], core.AllowClient, "", core.ErrAllowFirewall}, {x.ids["granted"], core.AllowClient, "", core.ErrAllowNotRefused},
			{x.ids["same ua list"], core.AllowUserAgent, "", core.ErrAllowNotOffered},
		} {
			_, _, err := allow(x.a, c.id, c.kind, c.value, "")
			wantCode(t, err, core.EINVALID)
			if !errors.Is(err, c.cause) {
				t.Errorf("%s %q of event %d: %v, want %v", c.kind, c.value, c.id, err, c.cause)
			}
		}
		// Not found: another customer, another partner, another website's
		// event, no event.
		for _, c := range []struct {
			who core.Caller
			id  int64
		}{{x.other, x.target}, {x.b, x.target}, {x.a, x.ids["other website"]}, {x.a, 0}, {x.a, 1 << 40}} {
			_, _, err := allow(c.who, c.id, core.AllowClient, "", "")
			wantCode(t, err, core.ENOTFOUND)
		}
		_, _, err = svc.AllowFromEvent(ctx, core.Operator(), "shop.example.com", x.target, core.AllowChoice{Kind: core.AllowClient})
		wantCode(t, err, core.EFORBIDDEN)
	})
}

// TestPathPrefixesCompileToThemselves: every prefix offered is its own
// canonical form, so the grant rule made of it, compiled by the engine,
// matches exactly the paths under the prefix shown; a spelling the engine
// would canonicalise again (double encoding) is never offered.
func TestPathPrefixesCompileToThemselves(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"/%252f/", nil},
		{"/%255c/", nil},
		{"/blog/%252e%252e/x", []string{"/blog/"}},
		{"/a/%2525/b", []string{"/a/"}},
		{"/caf%C3%A9/menu", []string{"/café/menu", "/café/"}},
		{"/%FF/x", nil},
		{"/a%00b/c", nil},
		{"/x/%2e%2e/%2e%2e/admin/", []string{"/admin/"}},
	} {
		if got := core.PathPrefixes(c.in); !slices.Equal(got, c.want) {
			t.Errorf("PathPrefixes(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	sigs, err := engine.LoadSignatures()
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(engine.NewClassifier(sigs, nil, nil), time.Now)
	for _, raw := range []string{"/%252f/", "/%255c/", "/blog/%252e%252e/x", "/caf%C3%A9/menu", "/shop/cart/add", "/a//b/../c/%2e/d", "/%2561dmin/x", "/..;/x/y"} {
		for _, p := range core.PathPrefixes(raw) {
			st := engine.Settings{Categories: map[string]string{"automation_tools": "deny"}, WAF: engine.WAFSettings{Mode: "off"},
				Rules: []engine.Rule{{Name: "allow", Action: "grant", Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: p}}}}}
			pol, err := engine.Compile(engine.Site{ID: 1, PartnerID: 1, Domain: "shop.example.com", Status: "online", ServerKeyHash: strings.Repeat("ab", 32), Settings: st})
			if err != nil {
				t.Fatal(err)
			}
			granted := func(path string) bool {
				v := eng.Explain(pol, &engine.Request{IP: netip.MustParseAddr("192.0.2.1"), Method: "GET", Host: "shop.example.com", Path: path, UserAgent: "curl/8.5.0"})
				return v.Action == engine.Grant && v.Source == engine.SourceRule
			}
			if !granted(raw) {
				v := eng.Explain(pol, &engine.Request{IP: netip.MustParseAddr("192.0.2.1"), Method: "GET", Host: "shop.example.com", Path: raw, UserAgent: "curl/8.5.0"})
				t.Errorf("%q: the rule for %q does not let the event's own path through: %v %s", raw, p, v, v.Source)
			}
			for _, other := range []string{"/", "/admin/users", "/zz", "//", "/%2f"} {
				if granted(other) {
					t.Errorf("%q: the rule for %q (shown as such) lets %q through", raw, p, other)
				}
			}
		}
	}
}

// TestAllowThisChoicesByDecision: what refused the event decides what is
// offered and where a grant rule goes.
func TestAllowThisChoicesByDecision(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		x := newAllowFixture(t, db)
		svc := x.f.svc
		if _, _, err := svc.EditWebsiteSettings(ctx, x.owner, "shop.example.com", core.Match{}, func(st *engine.Settings) error {
			st.Rules = append(st.Rules,
				engine.Rule{Name: "No admin", Action: "deny", Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/admin/"}}},
				engine.Rule{Name: "No probes", Action: "deny", Conditions: []engine.Condition{{Field: "user_agent", Op: "contains", Value: "Probe"}}})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		now := *x.f.now.Load()
		const chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
		ev := func(ip, ua, path, category, source, reason, detail string) core.Event {
			return core.Event{PartnerID: x.a.PartnerID, WebsiteID: x.w.ID, At: now.Add(-time.Second), IP: ip, Method: "GET", Host: "shop.example.com",
				Path: path, UserAgent: ua, Action: "deny", Category: category, Source: source, Reason: reason, Detail: detail}
		}
		cases := []struct {
			name  string
			e     core.Event
			kinds []string
			place int
		}{
			{"rate limit", ev("192.0.2.10", chrome, "/login", "humans", "rate_limit", "login", ""), []string{"client", "network"}, 0},
			{"fake crawler", ev("192.0.2.11", "Mozilla/5.0 (compatible; Googlebot/2.1)", "/x/y", "emulated_humans", "category", "emulated_humans", "fake Googlebot"), []string{"client", "network", "path", "path"}, 2},
			{"unverified", ev("192.0.2.12", "Mozilla/5.0 (compatible; Googlebot/2.1)", "/x/y", "emulated_humans", "category", "emulated_humans", "unverified Googlebot"), []string{"client", "network", "path", "path"}, 2},
			{"verified crawler", ev("192.0.2.13", "Mozilla/5.0 (compatible; Googlebot/2.1)", "/x/y", "search_engines", "category", "search_engines", "Googlebot"), []string{"client", "network", "path", "path"}, 2},
			{"signals", ev("192.0.2.14", chrome, "/x/y", "suspicious_behaviour", "category", "suspicious_behaviour", "no Accept-Language"), []string{"client", "network", "path", "path"}, 2},
			{"automation tool", ev("192.0.2.15", "curl/8.5.0", "/x/y", "automation_tools", "category", "automation_tools", "curl"), []string{"client", "network", "user_agent", "path", "path"}, 2},
			{"rule on the path", ev("192.0.2.16", "curl/8.5.0", "/admin/x", "", "rule", "No admin", ""), []string{"client", "network", "path", "path"}, 0},
			{"rule on the agent", ev("192.0.2.17", "UptimeProbe/1", "/health", "", "rule", "No probes", ""), []string{"client", "network", "user_agent", "path"}, 1},
			{"cut agent", ev("192.0.2.18", "curl/8.5.0 "+strings.Repeat("x", core.UserAgentMax-11), "/x/y", "automation_tools", "category", "automation_tools", "curl"), []string{"client", "network", "path", "path"}, 2},
			{"over budget", ev("192.0.2.19", "curl/8.5.0", "/x/y", "", "rule", engine.ReasonOverBudget, ""), []string{"client", "network"}, 0},
		}
		var es []core.Event
		for _, c := range cases {
			es = append(es, c.e)
		}
		if err := svc.RecordDecisions(ctx, es, nil); err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			got, err := svc.Events(ctx, x.a, "shop.example.com", core.EventFilter{IP: c.e.IP})
			if err != nil || len(got) != 1 {
				t.Fatalf("%s: %v %d", c.name, err, len(got))
			}
			at, err := svc.AllowThisOptions(ctx, x.a, "shop.example.com", got[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, o := range at.Options {
				kinds = append(kinds, o.Kind)
				if o.Rule && o.Position != c.place {
					t.Errorf("%s: %s %q placed at %d, want %d", c.name, o.Kind, o.Value, o.Position, c.place)
				}
			}
			if !slices.Equal(kinds, c.kinds) {
				t.Errorf("%s: offers %q, want %q", c.name, kinds, c.kinds)
			}
			if at.Event.Source == "rule" && c.place < 2 {
				for _, o := range at.Options {
					if o.Rule && o.Before != at.Event.Reason {
						t.Errorf("%s: placed before %q", c.name, o.Before)
					}
				}
			}
		}
		// The rule on the agent: created just before "No probes", after
		// "No admin" (which still applies to the agent).
		got, _ := svc.Events(ctx, x.a, "shop.example.com", core.EventFilter{IP: "192.0.2.17"})
		if _, added, err := svc.AllowFromEvent(ctx, x.a, "shop.example.com", got[0].ID, core.AllowChoice{Kind: core.AllowUserAgent}); err != nil || !added {
			t.Fatal(added, err)
		}
		_, st, _ := svc.WebsiteSettings(ctx, x.a, "shop.example.com")
		if len(st.Rules) != 3 || st.Rules[0].Name != "No admin" || st.Rules[1].Action != "grant" || st.Rules[2].Name != "No probes" {
			t.Errorf("rules: %+v", st.Rules)
		}
		// A rate limit's event refuses a path rule.
		got, _ = svc.Events(ctx, x.a, "shop.example.com", core.EventFilter{IP: "192.0.2.10"})
		_, _, err := svc.AllowFromEvent(ctx, x.a, "shop.example.com", got[0].ID, core.AllowChoice{Kind: core.AllowPath, Value: "/login"})
		if !errors.Is(err, core.ErrAllowNotOffered) {
			t.Errorf("path on a rate limit's event: %v", err)
		}
	})
}
