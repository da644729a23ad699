package engine

import (
	"fmt"
	"strings"
	"testing"
)

// heavyPattern is the red team's: a 3.9 KB alternation.
func heavyPattern() string {
	var words []string
	for i := 0; len(strings.Join(words, "|")) < 3900; i++ {
		words = append(words, fmt.Sprintf("w%dxq", i*7919%100000))
	}
	return "(" + strings.Join(words, "|") + ")"
}

func heavySettings() Settings {
	var st Settings
	p := heavyPattern()
	for i := 0; i < 200; i++ {
		st.Rules = append(st.Rules, Rule{Name: fmt.Sprintf("heavy %d", i), Action: "deny", Expression: fmt.Sprintf("user_agent.matches(%q)", p)})
	}
	return st
}

func fieldErr(err error, path string) string {
	fe, _ := IsValidationError(err)
	for _, e := range fe {
		if e.Path == path {
			return e.Message
		}
	}
	return ""
}

// TestRuleBudgetValidation: the red team's 200-rule site is refused when
// saved, and so is a site of acceptable rules whose sum goes over the
// budget, naming the rule that does (issue 16 follow-up, finding 4).
func TestRuleBudgetValidation(t *testing.T) {
	st := heavySettings()
	err := st.Validate()
	if msg := fieldErr(err, "rules[0].expression"); !strings.Contains(msg, "at most 256") {
		t.Fatalf("a 3.9 KB regex: %v", err)
	}
	// 200-byte alternations are allowed one by one, but not 200 of them.
	var words []string
	for i := 0; len(strings.Join(words, "|")) < 190; i++ {
		words = append(words, fmt.Sprintf("tok%d", i))
	}
	p := "(?i)(" + strings.Join(words, "|") + ")"
	st = Settings{}
	for i := 0; i < 200; i++ {
		st.Rules = append(st.Rules, Rule{Name: fmt.Sprintf("r%d", i), Action: "deny", Expression: fmt.Sprintf("user_agent.matches(%q)", p)})
	}
	err = st.Validate()
	fe, _ := IsValidationError(err)
	over := ""
	for _, e := range fe {
		if strings.Contains(e.Message, "over the budget") {
			over = e.Path
			break
		}
	}
	if over == "" || over == "rules[0]" {
		t.Fatalf("200 alternations: the budget error names %q: %v", over, err)
	}
	n := 0
	fmt.Sscanf(over, "rules[%d]", &n)
	st.Rules = st.Rules[:n]
	if err := st.Validate(); err != nil {
		t.Fatalf("the %d rules before %s: %v", n, over, err)
	}
	t.Logf("%d rules of user_agent.matches(<%d-byte alternation>) fit the budget; %s is refused", n, len(p), over)

	for expr, want := range map[string]string{
		`user_agent.matches(path)`:                                                  "literal pattern",
		`user_agent.matches("(")`:                                                   "does not compile",
		`user_agent.matches("` + strings.Repeat("a", 300) + `")`:                    "at most 256",
		`path.matches("((a|b){30}){30}")`:                                           "instructions",
		`headers.exists(k, headers[k].matches("(?i)(bot|crawler|spider|scraper)"))`: "over the budget",
	} {
		st := Settings{Rules: []Rule{{Name: "x", Action: "deny", Expression: expr}}}
		if err := st.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", expr, err, want)
		}
	}
	st = Settings{Rules: []Rule{{Name: "x", Action: "deny", Conditions: []Condition{{Field: "user_agent", Op: "regex", Value: heavyPattern()}}}}}
	if msg := fieldErr(st.Validate(), "rules[0].conditions[0]"); !strings.Contains(msg, "at most 256") {
		t.Errorf("a 3.9 KB regex condition: %q", msg)
	}
	// Light rules are not limited by the budget: 200 contains.
	st = Settings{}
	for i := 0; i < 200; i++ {
		st.Rules = append(st.Rules, Rule{Name: fmt.Sprintf("r%d", i), Action: "deny", Expression: fmt.Sprintf(`user_agent.contains("evil-%d") || path.startsWith("/x%d/")`, i, i)})
	}
	if err := st.Validate(); err != nil {
		t.Errorf("200 light expressions: %v", err)
	}
}

// TestRuleBudgetAtRunTime: settings stored before the budget existed (the
// red team's site, forced past Validate) cost at most the budget per
// request, counted by CEL's ActualCost; the rules that do not fit are not
// evaluated and the others still apply; a fail-closed site denies instead.
func TestRuleBudgetAtRunTime(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	st := heavySettings()
	st.Rules = append(st.Rules[:199], Rule{Name: "Light", Action: "deny", Expression: `user_agent.contains("evil")`})
	pol, err := Compile(Site{ID: 1, Domain: "shop.example.com", Status: "online", Settings: st})
	if err != nil {
		t.Fatal(err)
	}
	ua := chromeUA + strings.Repeat(" padding", 200)[:1000-len(chromeUA)]
	r := req("198.51.100.7", ua)
	v := e.Decide(pol, r)
	if r.spent > RuleBudget {
		t.Fatalf("the request cost %d, over the budget of %d", r.spent, RuleBudget)
	}
	if v.Action != Grant {
		t.Fatalf("forced heavy site, fail-open: %s (%s)", v.Action, v.Reason)
	}
	r = req("198.51.100.7", ua[:len(ua)-4]+"evil")
	if v := e.Decide(pol, r); v.Action != Deny || v.Reason != "Light" || r.spent > RuleBudget {
		t.Fatalf("the light rule after the heavy ones: %s (%s), cost %d", v.Action, v.Reason, r.spent)
	}
	// Counted, not estimated: the light rule's actual cost was charged.
	if r.spent == 0 {
		t.Fatal("no cost charged")
	}
	// A rule over the budget on its own never runs, whatever the fail
	// mode (a fail-closed site would otherwise refuse every request), and
	// Load says so.
	st.FailMode = "closed"
	errs := e.Load([]Site{{ID: 1, Domain: "shop.example.com", Status: "online", Settings: st}}, nil)
	if len(errs) != 1 || !errs[0].Degraded || !strings.Contains(errs[0].Err.Error(), "heavy 0") {
		t.Fatalf("Load: %+v", errs)
	}
	if v := e.Decide(e.ByDomain("shop.example.com"), req("198.51.100.7", ua)); v.Action != Grant {
		t.Fatalf("forced heavy site, fail-closed: %s (%s)", v.Action, v.Reason)
	}
	// Rules that fit one by one but not together: the ones left over are
	// not evaluated, and a fail-closed site refuses the request.
	var words []string
	for i := 0; len(strings.Join(words, "|")) < 190; i++ {
		words = append(words, fmt.Sprintf("tok%d", i))
	}
	sum := Settings{FailMode: "closed"}
	for i := 0; i < 3; i++ {
		sum.Rules = append(sum.Rules, Rule{Name: fmt.Sprintf("alt %d", i), Action: "deny", Expression: fmt.Sprintf("user_agent.matches(%q)", "("+strings.Join(words, "|")+")")})
	}
	pol, err = Compile(Site{ID: 1, Domain: "shop.example.com", Status: "online", Settings: sum})
	if err != nil {
		t.Fatal(err)
	}
	r = req("198.51.100.7", ua)
	if v := e.Decide(pol, r); v.Action != Deny || v.Reason != ReasonOverBudget || r.spent > RuleBudget || r.spent == 0 {
		t.Fatalf("over the budget together, fail-closed: %s (%s), cost %d", v.Action, v.Reason, r.spent)
	}
	sum.FailMode = ""
	pol, _ = Compile(Site{ID: 1, Domain: "shop.example.com", Status: "online", Settings: sum})
	r = req("198.51.100.7", ua)
	if v := e.Decide(pol, r); v.Action != Grant || r.spent > RuleBudget {
		t.Fatalf("over the budget together, fail-open: %s (%s), cost %d", v.Action, v.Reason, r.spent)
	}
}

// TestRuleInputCaps: an expression does not read an input over its cap
// (a 2 KB user agent): fail-open it does not match, fail-closed the
// request is denied; rules that do not read it are unaffected.
func TestRuleInputCaps(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	st := Settings{Rules: []Rule{
		{Name: "Path", Action: "deny", Expression: `path.startsWith("/admin")`},
		{Name: "UA", Action: "deny", Expression: `user_agent.contains("evil")`},
	}}
	p := load(t, e, st)
	long := chromeUA + strings.Repeat("x", 2048) + "evil"
	if v := e.Decide(p, req("198.51.100.7", long)); v.Action != Grant {
		t.Errorf("fail-open, long user agent: %s (%s)", v.Action, v.Reason)
	}
	if v := e.Decide(p, req("198.51.100.7", long, func(r *Request) { r.Path = "/admin" })); v.Action != Deny || v.Reason != "Path" {
		t.Errorf("a rule not reading the long input: %s (%s)", v.Action, v.Reason)
	}
	st.FailMode = "closed"
	p = load(t, e, st)
	if v := e.Decide(p, req("198.51.100.7", long)); v.Action != Deny || v.Reason != ReasonOverBudget {
		t.Errorf("fail-closed, long user agent: %s (%s)", v.Action, v.Reason)
	}
	if v := e.Decide(p, req("198.51.100.7", chromeUA+" evil")); v.Action != Deny || v.Reason != "UA" {
		t.Errorf("a short user agent: %s (%s)", v.Action, v.Reason)
	}
}

// maximalSite is a site of case-insensitive alternations (the slowest
// common regex per byte) just within the budget.
func maximalSite(tb testing.TB) Settings {
	var st Settings
	for i := 0; ; i++ {
		next := st
		next.Rules = append(append([]Rule(nil), st.Rules...), Rule{Name: fmt.Sprintf("r%d", i), Action: "deny",
			Expression: fmt.Sprintf(`user_agent.matches("(?i)(bot%d|crawl%d|spider%d|scan%d)")`, i, i, i, i)})
		if next.Validate() != nil || len(next.Rules) > maxRules {
			break
		}
		st = next
	}
	for i := 0; len(st.Rules) < maxRules; i++ {
		next := st
		next.Rules = append(append([]Rule(nil), st.Rules...), Rule{Name: fmt.Sprintf("c%d", i), Action: "deny", Expression: fmt.Sprintf(`path.startsWith("/c%d/")`, i)})
		if next.Validate() != nil {
			break
		}
		st = next
	}
	return st
}

func TestMaximalSiteWithinBudget(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	st := maximalSite(t)
	p := load(t, e, st)
	r := req("198.51.100.7", chromeUA+strings.Repeat(" x", 512)[:1024-len(chromeUA)])
	if v := e.Decide(p, r); v.Action != Grant || r.spent > RuleBudget {
		t.Fatalf("%s (%s), cost %d", v.Action, v.Reason, r.spent)
	}
	regexes := 0
	for _, rl := range st.Rules {
		if strings.Contains(rl.Expression, "matches") {
			regexes++
		}
	}
	t.Logf("%d rules, %d of them regexes; a 1 KB user agent costs %d of %d", len(st.Rules), regexes, r.spent, RuleBudget)
}

// BenchmarkMaximalSite decides requests on a site at the rule budget: a
// 1 KB user agent (the cap) and a typical one.
func BenchmarkMaximalSite(b *testing.B) {
	e, _ := newTestEngine(b, nil)
	p := load(b, e, maximalSite(b))
	for name, ua := range map[string]string{"ua-1KB": chromeUA + strings.Repeat(" x", 512)[:1024-len(chromeUA)], "ua-typical": chromeUA} {
		b.Run(name, func(b *testing.B) {
			r := req("198.51.100.7", ua)
			var spent uint64
			for b.Loop() {
				r.canon = false
				e.Decide(p, r)
				spent = r.spent
			}
			b.ReportMetric(float64(spent), "cost/op")
		})
	}
}

// BenchmarkRedTeamSite is the red team's 200 rules forced past Validate,
// with a 1 KB user agent.
func BenchmarkRedTeamSite(b *testing.B) {
	e, _ := newTestEngine(b, nil)
	p, err := Compile(Site{ID: 1, Domain: "shop.example.com", Status: "online", Settings: heavySettings()})
	if err != nil {
		b.Fatal(err)
	}
	r := req("198.51.100.7", chromeUA+strings.Repeat(" x", 512)[:1024-len(chromeUA)])
	for b.Loop() {
		e.Decide(p, r)
	}
}

// TestStoredInvalidRegexStillLoads: an expression with an invalid regex
// literal, which Validate accepted before regexes were checked, still
// compiles from storage and never matches, as before.
func TestStoredInvalidRegexStillLoads(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	st := Settings{Rules: []Rule{{Name: "Broken", Action: "deny", Expression: `user_agent.matches("(")`}, {Name: "Next", Action: "deny", Expression: `path == "/x"`},
		{Name: "Visitor's regex", Action: "deny", Expression: `user_agent.matches(query)`}}}
	// A pattern from the request is unbounded: that rule never runs.
	if errs := e.Load([]Site{{ID: 1, Domain: "shop.example.com", Status: "online", Settings: st}}, nil); len(errs) != 1 || !errs[0].Degraded || !strings.Contains(errs[0].Err.Error(), "Visitor's regex") {
		t.Fatalf("Load: %+v", errs)
	}
	if v := e.Decide(e.ByDomain("shop.example.com"), req("198.51.100.7", chromeUA, func(r *Request) { r.Query = "Mozilla" })); v.Action != Grant {
		t.Errorf("a visitor's pattern: %s (%s)", v.Action, v.Reason)
	}
	p := e.ByDomain("shop.example.com")
	if v := e.Decide(p, req("198.51.100.7", chromeUA)); v.Action != Grant {
		t.Errorf("%s (%s)", v.Action, v.Reason)
	}
	if v := e.Decide(p, req("198.51.100.7", chromeUA, func(r *Request) { r.Path = "//x" })); v.Reason != "Next" {
		t.Errorf("%s (%s)", v.Action, v.Reason)
	}
}

// TestRegexConditionLongInput: a regex condition has no input cap, but a
// visitor's oversized input cannot make it cost more than the budget: it
// is then not evaluated, and a fail-closed site refuses the request.
func TestRegexConditionLongInput(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	st := Settings{FailMode: "closed", Rules: []Rule{{Name: "Admin", Action: "deny", Conditions: []Condition{{Field: "path", Op: "regex", Value: `^/(admin|wp-admin|administrator)(/|$)`}}}}}
	p := load(t, e, st)
	long := "/admin/" + strings.Repeat("a", 200_000)
	r := req("198.51.100.7", chromeUA, func(r *Request) { r.Path = long })
	if v := e.Decide(p, r); v.Action != Deny || v.Reason != ReasonOverBudget || r.spent > RuleBudget {
		t.Fatalf("fail-closed, 200 KB path: %s (%s), cost %d", v.Action, v.Reason, r.spent)
	}
	if v := e.Decide(p, req("198.51.100.7", chromeUA, func(r *Request) { r.Path = "/admin/x" })); v.Reason != "Admin" {
		t.Fatalf("short path: %s (%s)", v.Action, v.Reason)
	}
}
