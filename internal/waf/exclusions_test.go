package waf

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

const (
	sqliID  = "id=1%27%20OR%20%271%27%3D%271"
	xssQ    = "q=%3Cscript%3Ealert(1)%3C%2Fscript%3E"
	wpLogin = "wordpress_logged_in_abc123"
)

func mustExclusions(t *testing.T, own ...Exclusion) *Exclusions {
	t.Helper()
	ex, err := CompileExclusions(map[string]bool{}, own)
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

func classes(r Result) []string {
	var out []string
	for _, m := range r.Matches {
		if !slices.Contains(out, m.Class) {
			out = append(out, m.Class)
		}
	}
	slices.Sort(out)
	return out
}

func TestExclusions(t *testing.T) {
	fw := firewall(t, 1)
	withCookie := func(in *Input) *Input {
		in.Header.Set("Cookie", wpLogin+"=admin%7C1700000000%7Cabc; theme=dark")
		return in
	}
	cases := []struct {
		name string
		ex   Exclusion
		in   *Input
		want []string // classes left; nil: nothing left
	}{
		{"rule id drops that rule", Exclusion{RuleIDs: []int{942100}}, get("/p?" + sqliID), nil},
		{"rule id leaves other rules", Exclusion{RuleIDs: []int{942100}}, get("/p?" + sqliID + "&" + xssQ), []string{ClassXSS}},
		{"tag drops its rules", Exclusion{Tags: []string{"attack-sqli"}}, get("/p?" + sqliID), nil},
		{"tag is case-insensitive", Exclusion{Tags: []string{"ATTACK-XSS"}}, get("/p?" + sqliID + "&" + xssQ), []string{ClassSQLi}},
		{"crs file tag", Exclusion{Tags: []string{"OWASP_CRS/ATTACK-SQLI"}}, get("/p?" + sqliID), nil},
		{"file tags", Exclusion{Tags: []string{"OWASP_CRS/ATTACK-SQLI", "OWASP_CRS/ATTACK-XSS"}}, get("/p?" + sqliID + "&" + xssQ), nil},
		{"path drops everything under it", Exclusion{Path: "/wp-admin/"}, get("/wp-admin/post.php?" + sqliID + "&" + xssQ), nil},
		{"path is a prefix of the canonical path", Exclusion{Path: "/wp-admin/"}, get("/static/../wp-admin/x.php?" + xssQ), nil},
		{"path elsewhere", Exclusion{Path: "/wp-admin/"}, get("/shop?" + sqliID), []string{ClassSQLi}},
		{"dot segments leave the path", Exclusion{Path: "/wp-admin/"}, get("/wp-admin/../shop?" + sqliID), []string{ClassLFI, ClassSQLi}},
		{"encoded dot segments leave the path", Exclusion{Path: "/wp-admin/"}, get("/wp-admin/%2e%2e/shop?" + sqliID), []string{ClassLFI, ClassSQLi}},
		{"path with rule id", Exclusion{Path: "/search", RuleIDs: []int{941100, 941110, 941160, 941390}}, get("/search?" + xssQ + "&" + sqliID), []string{ClassSQLi}},
		{"parameter drops its matches", Exclusion{Parameters: []string{"q"}}, get("/search?" + xssQ), nil},
		{"parameter leaves an attack in another", Exclusion{Parameters: []string{"q"}}, get("/search?" + xssQ + "&" + sqliID), []string{ClassSQLi}},
		{"parameter in event form", Exclusion{Parameters: []string{"ARGS:q"}}, get("/search?" + xssQ), nil},
		{"parameter prefix", Exclusion{Parameters: []string{"qu*"}}, get("/search?query=%3Cscript%3Ealert(1)%3C%2Fscript%3E"), nil},
		{"parameter is case-insensitive", Exclusion{Parameters: []string{"Q"}}, get("/search?" + xssQ), nil},
		{"parameter of a POST form", Exclusion{Parameters: []string{"comment"}}, post("/c", "application/x-www-form-urlencoded", "comment=%3Cscript%3Ealert(1)%3C%2Fscript%3E&"+sqliID), []string{ClassSQLi}},
		{"JSON field", Exclusion{Parameters: []string{"json.comment.content"}}, post("/api", "application/json", `{"comment":{"content":"<script>alert(1)</script>"},"id":"1' OR '1'='1"}`), []string{ClassSQLi}},
		{"JSON prefix", Exclusion{Parameters: []string{"json.comment.*"}}, post("/api", "application/json", `{"comment":{"content":"<script>alert(1)</script>"}}`), nil},
		{"a cookie parameter is not the argument", Exclusion{Parameters: []string{"cookie:q"}}, get("/search?" + xssQ), []string{ClassXSS}},
		{"cookie condition met", Exclusion{Parameters: []string{"q"}, Cookie: "wordpress_logged_in_"}, withCookie(get("/search?" + xssQ)), nil},
		{"cookie condition not met", Exclusion{Parameters: []string{"q"}, Cookie: "wordpress_logged_in_"}, get("/search?" + xssQ), []string{ClassXSS}},
		{"rule and parameter both needed", Exclusion{RuleIDs: []int{942100}, Parameters: []string{"q"}}, get("/p?" + sqliID), []string{ClassSQLi}},
	}
	for _, c := range cases {
		o := &Options{Exclusions: mustExclusions(t, c.ex)}
		res := fw.Evaluate(c.in, o)
		if got := classes(res); !slices.Equal(got, c.want) {
			t.Errorf("%s: classes %v (rules %v), want %v", c.name, got, ids(res), c.want)
		}
		if (c.want == nil) == res.Blocked {
			t.Errorf("%s: blocked %v with score %d", c.name, res.Blocked, res.Score)
		}
		// Without the exclusion the request is blocked.
		if res := fw.Evaluate(c.in, &Options{}); !res.Blocked {
			t.Errorf("%s: not blocked without the exclusion", c.name)
		}
	}
}

func TestCookieParameterExclusion(t *testing.T) {
	fw := firewall(t, 1)
	in := get("/")
	in.Header.Set("Cookie", "pref=1%27%20OR%20%271%27%3D%271; theme=dark")
	if res := fw.Evaluate(in, &Options{}); !res.Blocked {
		t.Fatalf("SQLi in a cookie not blocked: %+v", res)
	}
	for _, p := range []string{"cookie:pref", "REQUEST_COOKIES:pref", "cookie:pr*"} {
		if res := fw.Evaluate(in, &Options{Exclusions: mustExclusions(t, Exclusion{Parameters: []string{p}})}); res.Score != 0 {
			t.Errorf("%s: %+v", p, res)
		}
	}
	if res := fw.Evaluate(in, &Options{Exclusions: mustExclusions(t, Exclusion{Parameters: []string{"pref"}})}); !res.Blocked {
		t.Errorf("argument exclusion dropped a cookie's match")
	}
}

func TestCompileExclusionsSets(t *testing.T) {
	if _, err := CompileExclusions(map[string]bool{"no-such-set": true}, nil); err == nil || !strings.Contains(err.Error(), "no-such-set") {
		t.Errorf("unknown set: %v", err)
	}
	_, err := CompileExclusions(nil, []Exclusion{{Path: "/ok"}, {Note: "names nothing"}})
	if err == nil || !strings.HasPrefix(err.Error(), "exclusions[1]: ") {
		t.Errorf("invalid own exclusion: %v", err)
	}
	for _, s := range Sets() {
		if _, err := CompileExclusions(map[string]bool{s.Name: true}, nil); err != nil {
			t.Errorf("set %s: %v", s.Name, err)
		}
	}
	var nilEx *Exclusions
	if nilEx.drops(942100, &ruleInfo{}, nil, &reqContext{in: &Input{}}) {
		t.Error("nil exclusions drop")
	}
}

func TestValidateExclusion(t *testing.T) {
	ok := []Exclusion{
		{RuleIDs: []int{942100}},
		{Tags: []string{"attack-sqli"}},
		{Path: "/wp-admin/"},
		{Parameters: []string{"json.content", "cookie:wp-settings-1", "header:Referer", "ARGS:id"}},
		{Path: "/x", Cookie: "wordpress_logged_in_", Note: "editors"},
	}
	for _, e := range ok {
		if err := ValidateExclusion(e); err != nil {
			t.Errorf("%+v: %v", e, err)
		}
	}
	many := make([]int, 101)
	for i := range many {
		many[i] = 942100 + i
	}
	bad := []struct {
		e    Exclusion
		want string
	}{
		{Exclusion{}, "at least one of rule_ids, tags, path or parameters"},
		{Exclusion{Cookie: "x", Note: "n"}, "at least one"},
		{Exclusion{RuleIDs: []int{0}}, "rule_ids: 0 is not a rule id"},
		{Exclusion{RuleIDs: []int{100000000}}, "rule_ids: 100000000"},
		{Exclusion{RuleIDs: many}, "rule_ids: at most 100"},
		{Exclusion{Tags: make([]string, 21)}, "tags: at most 20"},
		{Exclusion{Tags: []string{""}}, "tags: \"\" is not a rule tag"},
		{Exclusion{Tags: []string{"a\x00b"}}, "tags:"},
		{Exclusion{Tags: []string{strings.Repeat("t", 101)}}, "tags:"},
		{Exclusion{Path: "wp-admin"}, "path: \"wp-admin\" must start with /"},
		{Exclusion{Path: "/" + strings.Repeat("a", 512)}, "path: at most 512 bytes"},
		{Exclusion{Path: "/a b"}, "path:"},
		{Exclusion{Parameters: make([]string, 51)}, "parameters: at most 50"},
		{Exclusion{Parameters: []string{""}}, "parameters: \"\" is not a parameter name"},
		{Exclusion{Parameters: []string{strings.Repeat("p", 129)}}, "parameters:"},
		{Exclusion{Parameters: []string{"cookie:"}}, "names no parameter"},
		{Exclusion{Path: "/", Cookie: strings.Repeat("c", 65)}, "cookie: at most 64"},
		{Exclusion{Path: "/", Cookie: "a=b"}, "cookie:"},
		{Exclusion{Path: "/", Note: strings.Repeat("n", 201)}, "note: at most 200"},
	}
	for _, c := range bad {
		err := ValidateExclusion(c.e)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			b, _ := json.Marshal(c.e)
			t.Errorf("%s: error %v, want one saying %q", truncate(string(b), 80), err, c.want)
		}
	}
}

func TestCanonicalPath(t *testing.T) {
	for in, want := range map[string]string{
		"":                 "/",
		"/":                "/",
		"/a/b":             "/a/b",
		"/a/b/":            "/a/b/",
		"/a/./b/../c":      "/a/c",
		"/a/%2e%2e/b":      "/b",
		"//a///b":          "/a/b",
		"/a/..":            "/",
		"/a/b/..":          "/a/",
		"/%zz":             "/%zz",
		"/wp-admin%2Fpost": "/wp-admin/post",
		"/../../etc":       "/etc",
	} {
		if got := canonicalPath(in); got != want {
			t.Errorf("canonicalPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExclusionSetsAreShared(t *testing.T) {
	sets := Sets()
	if len(sets) == 0 {
		t.Fatal("no ready exclusion sets: Sets() is empty")
	}
	a, err := CompileExclusions(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := CompileExclusions(map[string]bool{}, nil)
	if a != b {
		t.Error("two websites with the default sets and no exclusions of their own do not share one *Exclusions")
	}
	c, _ := CompileExclusions(nil, []Exclusion{{Path: "/x"}})
	if c == a || len(c.own) != 1 || len(c.sets) != len(a.sets) {
		t.Errorf("own exclusions: %d own, %d sets (default %d)", len(c.own), len(c.sets), len(a.sets))
	}
	for _, s := range sets {
		if len(s.Exclusions) == 0 {
			continue
		}
		off, _ := CompileExclusions(map[string]bool{s.Name: false}, nil)
		on, _ := CompileExclusions(map[string]bool{s.Name: true}, nil)
		if len(on.sets) != len(off.sets)+1 {
			t.Errorf("set %s: on gives %d sets, off %d", s.Name, len(on.sets), len(off.sets))
		}
		if len(c.sets) > 0 && &c.sets[0][0] != &a.sets[0][0] {
			t.Error("a set is compiled per website")
		}
	}
}

// TestExclusionThatSwitchesTheFirewallOffRefused: an exclusion that drops
// every rule on the whole website (no rule ids or tags on every path and
// parameter, or a tag almost every CRS rule carries) is refused with a
// message pointing at mode off or detect, and one stored before is
// ignored at run time; narrower ones are accepted.
func TestExclusionThatSwitchesTheFirewallOffRefused(t *testing.T) {
	for name, e := range map[string]Exclusion{
		"path /":                {Path: "/"},
		"path //":               {Path: "//"},
		"parameters *":          {Parameters: []string{"*"}},
		"path / parameters *":   {Path: "/", Parameters: []string{"ARGS:*"}},
		"path / and a cookie":   {Path: "/", Cookie: "wordpress_logged_in_"},
		"tag OWASP_CRS":         {Tags: []string{"OWASP_CRS"}},
		"tag owasp_crs on /x/":  {Tags: []string{"owasp_crs"}, Path: "/x/"},
		"tag OWASP_CRS/*":       {Tags: []string{"OWASP_CRS/*"}},
		"tag platform-multi":    {Tags: []string{"attack-sqli", "platform-multi"}},
		"tag application-multi": {Tags: []string{"application-multi"}, Parameters: []string{"q"}},
		"tag language-multi":    {Tags: []string{"language-multi"}},
		"tag paranoia-level/1":  {Tags: []string{"paranoia-level/1"}}, // over half of the rules
	} {
		err := ValidateExclusion(e)
		if err == nil || !strings.Contains(err.Error(), `"detect"`) || !strings.Contains(err.Error(), `"off"`) {
			t.Errorf("%s: %v; want refused, pointing at mode detect or off", name, err)
		}
		ex, err := CompileExclusions(map[string]bool{}, []Exclusion{e})
		if err != nil {
			t.Errorf("%s stored before: %v; want compiled (and ignored)", name, err)
			continue
		}
		res := firewall(t, 1).Evaluate(get("/x/login?user=1%27%20OR%20%271%27%3D%271&q=%3Cscript%3Ealert(1)%3C/script%3E"),
			&Options{Paranoia: 1, Threshold: 5, Exclusions: ex})
		if !res.Blocked {
			t.Errorf("%s stored before: the attack passes (score %d); want the exclusion ignored", name, res.Score)
		}
	}
	for name, e := range map[string]Exclusion{
		"path /wp-admin/":           {Path: "/wp-admin/"},
		"parameter content":         {Parameters: []string{"content"}},
		"parameters json.*":         {Parameters: []string{"json.*"}},
		"rule on /":                 {RuleIDs: []int{942100}, Path: "/"},
		"tag attack-xss":            {Tags: []string{"attack-xss"}},
		"tag paranoia-level/2":      {Tags: []string{"paranoia-level/2"}},
		"cookies everywhere":        {Parameters: []string{"cookie:*"}},
		"tag OWASP_CRS/ATTACK-SQLI": {Tags: []string{"OWASP_CRS/ATTACK-SQLI"}},
	} {
		if err := ValidateExclusion(e); err != nil {
			t.Errorf("%s: %v; want accepted", name, err)
		}
	}
}

// TestExclusionCannotLiftPalisadeChecks: Palisade's own checks (a request
// too large to inspect, 999100 and up) are not excludable.
func TestExclusionCannotLiftPalisadeChecks(t *testing.T) {
	for _, id := range []int{RuleBusy, RuleBusy + 1, RuleBusy + 2} {
		if err := ValidateExclusion(Exclusion{RuleIDs: []int{id}, Path: "/upload"}); err == nil || !strings.Contains(err.Error(), "Palisade's own check") {
			t.Errorf("rule %d: %v; want refused as Palisade's own check", id, err)
		}
	}
}
