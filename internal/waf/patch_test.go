package waf

import (
	"fmt"
	"github.com/palisadehq/palisade/internal/testenv/cputime"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"
)

var patchNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const vulnPatch = `# CVE-0000-0001: the vuln plugin's AJAX handler
SecRule REQUEST_FILENAME "@streq /wp-content/plugins/vuln/ajax.php" \
    "id:1001,phase:2,deny,log,msg:'vuln plugin exploit',chain"
    SecRule ARGS:action "@streq exploit" "t:none"
`

func patchReq(method, path, query string, body string, hdr ...string) *Input {
	in := &Input{ClientAddr: netip.MustParseAddr("192.0.2.7"), Method: method, Host: "shop.example", Path: path, Query: query,
		Header: http.Header{"User-Agent": {"Mozilla/5.0"}}}
	for i := 0; i+1 < len(hdr); i += 2 {
		in.Header.Add(hdr[i], hdr[i+1])
	}
	if body != "" {
		in.Body = []byte(body)
		if in.Header.Get("Content-Type") == "" {
			in.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	return in
}

func mustSet(t *testing.T, r *Registry, ps ...Patch) *PatchSet {
	t.Helper()
	for _, p := range ps {
		if err := ValidatePatch(p); err != nil {
			t.Fatalf("ValidatePatch(%q): %v", p.Name, err)
		}
	}
	s, err := r.PatchSet(ps)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func runSet(s *PatchSet, in *Input, now time.Time) Result {
	var res Result
	s.evaluate(in, now, &res)
	return res
}

func TestPatchSecLangBlocksExactlyTheExploit(t *testing.T) {
	s := mustSet(t, NewRegistry(), Patch{ID: 1, Name: "vuln-ajax", Reason: "CVE-0000-0001", SecLang: vulnPatch})
	for _, c := range []struct {
		name  string
		in    *Input
		block bool
	}{
		{"exploit in the query", patchReq("GET", "/wp-content/plugins/vuln/ajax.php", "action=exploit", ""), true},
		{"exploit in the body", patchReq("POST", "/wp-content/plugins/vuln/ajax.php", "", "action=exploit&x=1"), true},
		{"exploit in multipart", patchReq("POST", "/wp-content/plugins/vuln/ajax.php", "", "--B\r\nContent-Disposition: form-data; name=\"action\"\r\n\r\nexploit\r\n--B--\r\n", "Content-Type", "multipart/form-data; boundary=B"), true},
		{"JSON (its parameter is json.action)", patchReq("POST", "/wp-content/plugins/vuln/ajax.php", "", `{"action":"exploit"}`, "Content-Type", "application/json"), false},
		{"another action", patchReq("GET", "/wp-content/plugins/vuln/ajax.php", "action=list", ""), false},
		{"another path", patchReq("GET", "/wp-content/plugins/other/ajax.php", "action=exploit", ""), false},
		{"no parameters", patchReq("GET", "/wp-content/plugins/vuln/ajax.php", "", ""), false},
		{"home page", patchReq("GET", "/", "", ""), false},
	} {
		res := runSet(s, c.in, patchNow)
		if res.Blocked != c.block {
			t.Errorf("%s: blocked %v, want %v (%+v)", c.name, res.Blocked, c.block, res)
			continue
		}
		if !c.block {
			if len(res.Matches) != 0 {
				t.Errorf("%s: matches %+v", c.name, res.Matches)
			}
			continue
		}
		if res.Class != ClassPatch || res.Patch != "vuln-ajax" || len(res.Matches) != 1 {
			t.Fatalf("%s: %+v", c.name, res)
		}
		m := res.Matches[0]
		if m.ID != 1001 || m.Class != ClassPatch || m.Patch != "vuln-ajax" || m.Message != "vuln plugin exploit" {
			t.Errorf("%s: match %+v", c.name, m)
		}
	}
}

func TestPatchLogOnlyRecordsWithoutBlocking(t *testing.T) {
	log := strings.Replace(vulnPatch, "deny,", "pass,", 1)
	own := &PatchRule{Path: "/wp-login.php", Target: "arg:log", Op: "equals", Value: "admin", Action: "log"}
	s := mustSet(t, NewRegistry(), Patch{ID: 1, Name: "watch-vuln", SecLang: log}, Patch{ID: 2, Name: "watch-admin", Rule: own})
	res := runSet(s, patchReq("GET", "/wp-content/plugins/vuln/ajax.php", "action=exploit", ""), patchNow)
	if res.Blocked || res.Class != "" || res.Patch != "" || len(res.Matches) != 1 || res.Matches[0].Patch != "watch-vuln" {
		t.Fatalf("log-only SecLang: %+v", res)
	}
	res = runSet(s, patchReq("POST", "/wp-login.php", "", "log=admin&pwd=x"), patchNow)
	if res.Blocked || len(res.Matches) != 1 || res.Matches[0].Patch != "watch-admin" || res.Matches[0].Message != "watch-admin" {
		t.Fatalf("log-only own form: %+v", res)
	}
	if m := res.Matches[0]; m.Variable != "ARGS:log" || m.Data != "admin" {
		t.Errorf("own form match reports %q=%q, want the target ARGS:log=admin", m.Variable, m.Data)
	}
}

func TestPatchExpiredIsIgnored(t *testing.T) {
	p := Patch{ID: 1, Name: "vuln-ajax", SecLang: vulnPatch, Expires: patchNow.Add(time.Hour)}
	s := mustSet(t, NewRegistry(), p)
	in := patchReq("GET", "/wp-content/plugins/vuln/ajax.php", "action=exploit", "")
	if res := runSet(s, in, patchNow); !res.Blocked {
		t.Fatalf("before expiry: %+v", res)
	}
	for _, now := range []time.Time{p.Expires, p.Expires.Add(time.Second)} {
		if res := runSet(s, in, now); res.Blocked || len(res.Matches) != 0 {
			t.Fatalf("at %v (expires %v): %+v", now, p.Expires, res)
		}
	}
	// An expired patch sharing a set with a live one: only the live one counts.
	live := Patch{ID: 2, Name: "live", Rule: &PatchRule{Target: "arg:action", Op: "equals", Value: "exploit"}}
	s = mustSet(t, NewRegistry(), p, live)
	res := runSet(s, in, p.Expires.Add(time.Minute))
	if !res.Blocked || len(res.Matches) != 1 || res.Matches[0].Patch != "live" {
		t.Fatalf("expired and live: %+v", res)
	}
}

func TestPatchOwnFormTargetsAndOps(t *testing.T) {
	cases := []struct {
		rule       PatchRule
		hit, miss  *Input
		wantVarPfx string
	}{
		{PatchRule{Target: "path", Op: "starts_with", Value: "/wp-content/plugins/vuln/"},
			patchReq("GET", "/wp-content/plugins/vuln/x.php", "", ""), patchReq("GET", "/wp-content/plugins/vulnx/x.php", "", ""), "REQUEST_FILENAME"},
		{PatchRule{Target: "path", Op: "equals", Value: "/xmlrpc.php"},
			patchReq("GET", "/a/../xmlrpc.php", "", ""), patchReq("GET", "/xmlrpc.php.bak", "", ""), "REQUEST_FILENAME"},
		{PatchRule{Target: "query", Op: "contains", Value: "debug=1"},
			patchReq("GET", "/", "a=b&debug=1", ""), patchReq("GET", "/", "debug=0", ""), "QUERY_STRING"},
		{PatchRule{Target: "body", Op: "contains", Value: "<!ENTITY"},
			patchReq("POST", "/api", "", "<!ENTITY x>", "Content-Type", "text/plain"), patchReq("POST", "/api", "", "hello", "Content-Type", "text/plain"), "REQUEST_BODY"},
		{PatchRule{Target: "arg:json.user.role", Op: "equals", Value: "admin"},
			patchReq("POST", "/api", "", `{"user":{"role":"admin"}}`, "Content-Type", "application/json"), patchReq("POST", "/api", "", `{"user":{"role":"editor"}}`, "Content-Type", "application/json"), "ARGS:json.user.role"},
		{PatchRule{Target: "args", Op: "regex", Value: `(?i)union\s+select`},
			patchReq("GET", "/", "q=1%20UNION%20%20select%202", ""), patchReq("GET", "/", "q=union", ""), "ARGS:q"},
		{PatchRule{Target: "arg:id", Op: "regex", Value: `^[0-9]+$`, Method: "GET"},
			patchReq("GET", "/", "id=42", ""), patchReq("GET", "/", "id=42x", ""), "ARGS:id"},
		{PatchRule{Target: "arg:id", Op: "exists", Method: "POST", Path: "/checkout"},
			patchReq("POST", "/checkout/pay", "", "id=1"), patchReq("GET", "/checkout/pay", "id=1", ""), "ARGS"},
		{PatchRule{Target: "args", Op: "exists", Path: "/static/"},
			patchReq("GET", "/static/app.js", "v=1", ""), patchReq("GET", "/static/app.js", "", ""), "ARGS"},
		{PatchRule{Target: "query", Op: "exists"},
			patchReq("GET", "/", "x", ""), patchReq("GET", "/", "", ""), "QUERY_STRING"},
		{PatchRule{Target: "header:X-Exploit", Op: "equals", Value: "yes"},
			patchReq("GET", "/", "", "", "X-Exploit", "yes"), patchReq("GET", "/", "", "", "X-Exploit", "yes please"), "REQUEST_HEADERS:x-exploit"},
		{PatchRule{Target: "cookie:wp_lang", Op: "contains", Value: "../"},
			patchReq("GET", "/", "", "", "Cookie", "wp_lang=../../etc"), patchReq("GET", "/", "", "", "Cookie", "wp_lang=en_US"), "REQUEST_COOKIES:wp_lang"},
		{PatchRule{Target: "user_agent", Op: "starts_with", Value: "sqlmap/"},
			patchReq("GET", "/", "", "", "User-Agent", "sqlmap/1.7"), patchReq("GET", "/", "", "", "User-Agent", "x sqlmap/1.7"), "REQUEST_HEADERS:"},
	}
	for i, c := range cases {
		rule := c.rule
		s := mustSet(t, NewRegistry(), Patch{ID: int64(100 + i), Name: "own", Rule: &rule})
		hit := runSet(s, c.hit, patchNow)
		if !hit.Blocked || len(hit.Matches) != 1 {
			sl, _ := rule.SecLang(1)
			t.Errorf("%+v: hit not blocked: %+v\n%s", rule, hit, sl)
			continue
		}
		if m := hit.Matches[0]; !strings.HasPrefix(strings.ToLower(m.Variable), strings.ToLower(c.wantVarPfx)) || m.ID != patchOwnRuleID(int64(100+i)) {
			t.Errorf("%+v: match %+v, want variable %s", rule, m, c.wantVarPfx)
		}
		if miss := runSet(s, c.miss, patchNow); miss.Blocked || len(miss.Matches) != 0 {
			t.Errorf("%+v: miss matched: %+v", rule, miss)
		}
	}
}

func TestPatchCookieMatchIsRedacted(t *testing.T) {
	s := mustSet(t, NewRegistry(), Patch{ID: 1, Name: "c", Rule: &PatchRule{Target: "cookie:session", Op: "exists"}},
		Patch{ID: 2, Name: "pw", Rule: &PatchRule{Target: "arg:password", Op: "contains", Value: "hunter"}})
	res := runSet(s, patchReq("POST", "/", "", "password=hunter2", "Cookie", "session=s3cr3tvalue"), patchNow)
	if len(res.Matches) != 2 {
		t.Fatalf("%+v", res)
	}
	for _, m := range res.Matches {
		if strings.Contains(m.Data, "s3cr3t") || strings.Contains(m.Data, "hunter") {
			t.Errorf("match shows a secret: %+v", m)
		}
	}
}

func TestPatchDataIsTruncated(t *testing.T) {
	s := mustSet(t, NewRegistry(), Patch{ID: 1, Name: "long", Rule: &PatchRule{Target: "arg:q", Op: "contains", Value: "evil"}})
	res := runSet(s, patchReq("GET", "/", "q=evil"+strings.Repeat("é", 100), ""), patchNow)
	if len(res.Matches) != 1 || len(res.Matches[0].Data) > MaxData || !strings.HasPrefix(res.Matches[0].Data, "evil") {
		t.Fatalf("%+v", res)
	}
}

// Two patches (of one owner) may use the same rule id or marker: the set
// keeps both.
func TestPatchSameIDsInOneSet(t *testing.T) {
	a := Patch{ID: 1, Name: "a", SecLang: `SecRule ARGS:a "@streq 1" "id:10,deny"
SecMarker END`}
	b := Patch{ID: 2, Name: "b", SecLang: `SecRule ARGS:b "@streq 1" "id:10,deny,skipAfter:END"
SecMarker END`}
	s := mustSet(t, NewRegistry(), a, b)
	if len(s.groups) != 2 {
		t.Fatalf("groups %d, want 2", len(s.groups))
	}
	for _, q := range []string{"a=1", "b=1"} {
		res := runSet(s, patchReq("GET", "/", q, ""), patchNow)
		if !res.Blocked || len(res.Matches) != 1 || res.Matches[0].Patch != q[:1] {
			t.Errorf("%s: %+v", q, res)
		}
	}
}

func TestPatchValidateRefuses(t *testing.T) {
	big := strings.Repeat("SecMarker M\n", 1) + strings.Repeat("#", PatchMaxSecLang)
	many := ""
	for i := 1; i <= PatchMaxDirectives+1; i++ {
		many += "SecMarker M" + strings.Repeat("x", i) + "\n"
	}
	for _, c := range []struct {
		name    string
		seclang string
		want    string
	}{
		{"Include", `Include /etc/passwd`, `directive 1 (line 1): directive "Include" is not allowed`},
		{"SecRuleEngine", `SecRuleEngine Off`, `directive "SecRuleEngine" is not allowed`},
		{"SecAuditLog", `SecAuditLog /tmp/x`, `directive "SecAuditLog" is not allowed`},
		{"SecAuditEngine", `SecAuditEngine On`, `directive "SecAuditEngine" is not allowed`},
		{"SecDataDir", `SecDataDir /tmp`, `directive "SecDataDir" is not allowed`},
		{"SecDebugLog", `SecDebugLog /tmp/x`, `directive "SecDebugLog" is not allowed`},
		{"SecRequestBodyAccess", `SecRequestBodyAccess Off`, `directive "SecRequestBodyAccess" is not allowed`},
		{"SecDefaultAction", `SecDefaultAction "phase:2,deny"`, `directive "SecDefaultAction" is not allowed`},
		{"SecRuleRemoveById", `SecRuleRemoveById 1`, `directive "SecRuleRemoveById" is not allowed`},
		{"SecDataset", "SecDataset x `\na\n`", "backtick blocks (SecDataset) are not allowed"},
		{"second directive, line", "SecRule ARGS \"@rx a\" \"id:1,deny\"\n\n# c\nSecRuleEngine Off", `directive 2 (line 4)`},
		{"pmFromFile", `SecRule ARGS "@pmFromFile /etc/passwd" "id:1,deny"`, `operator @pmFromFile reads files`},
		{"pmf", `SecRule ARGS "@pmf x.txt" "id:1,deny"`, `operator @pmf reads files`},
		{"ipMatchFromFile", `SecRule REMOTE_ADDR "@ipMatchFromFile ips.txt" "id:1,deny"`, `operator @ipMatchFromFile reads files`},
		{"ipMatchF", `SecRule REMOTE_ADDR "@ipMatchF ips.txt" "id:1,deny"`, `operator @ipMatchF reads files`},
		{"inspectFile", `SecRule FILES "@inspectFile /bin/sh" "id:1,deny"`, `operator @inspectFile runs programs`},
		{"rbl", `SecRule REMOTE_ADDR "@rbl zen.spamhaus.org" "id:1,deny"`, `operator @rbl makes DNS queries`},
		{"geoLookup", `SecRule REMOTE_ADDR "@geoLookup" "id:1,deny"`, `operator @geoLookup needs a geo database`},
		{"validateSchema", `SecRule REQUEST_BODY "@validateSchema /x.json" "id:1,deny"`, `operator @validateSchema reads files`},
		{"negated refused operator", `SecRule ARGS "!@pmFromFile x" "id:1,deny"`, `operator @pmFromFile reads files`},
		{"unknown operator", `SecRule ARGS "@fuzzyHash x" "id:1,deny"`, `operator @fuzzyHash is not allowed`},
		{"exec", `SecRule ARGS "@rx a" "id:1,deny,exec:/bin/sh"`, `action "exec:/bin/sh" runs programs`},
		{"setenv", `SecRule ARGS "@rx a" "id:1,pass,setenv:PATH=/tmp"`, `action "setenv:PATH=/tmp" changes the process environment`},
		{"ctl:ruleEngine", `SecRule ARGS "@rx a" "id:1,pass,ctl:ruleEngine=Off"`, `action "ctl:ruleEngine=Off" changes the engine's configuration`},
		{"ctl:auditEngine", `SecAction "id:1,phase:1,pass,ctl:auditEngine=On"`, `action "ctl:auditEngine=On" changes`},
		{"ctl:requestBodyAccess", `SecAction "id:1,phase:1,pass,ctl:requestBodyAccess=Off"`, `action "ctl:requestBodyAccess=Off" changes`},
		{"ctl:ruleRemoveById", `SecAction "id:1,phase:1,pass,ctl:ruleRemoveById=942100"`, `action "ctl:ruleRemoveById=942100" changes`},
		{"initcol", `SecAction "id:1,phase:1,pass,initcol:ip=%{REMOTE_ADDR}"`, `action "initcol:ip=%{REMOTE_ADDR}" opens persistent collections`},
		{"allow", `SecRule ARGS "@rx a" "id:1,allow"`, `action "allow" would stop other patches`},
		{"redirect", `SecRule ARGS "@rx a" "id:1,redirect:http://x"`, `action "redirect:http://x" is not a blocking action`},
		{"skip", `SecRule ARGS "@rx a" "id:1,pass,skip:2"`, `action "skip:2" counts rules across patches`},
		{"setvar outside TX", `SecRule ARGS "@rx a" "id:1,pass,setvar:ip.x=1"`, `setvar may only set TX variables`},
		{"skipAfter to nowhere", `SecRule ARGS "@rx a" "id:1,pass,skipAfter:NOPE"`, `skipAfter:NOPE names no SecMarker of this patch`},
		{"ENV variable", `SecRule ENV:HOME "@rx ." "id:1,deny"`, `variable "ENV" is not allowed`},
		{"response variable", `SecRule RESPONSE_BODY "@rx ." "id:1,deny"`, `variable "RESPONSE_BODY" is not allowed`},
		{"second variable", `SecRule ARGS|FILES_TMP_CONTENT "@rx ." "id:1,deny"`, `variable "FILES_TMP_CONTENT" is not allowed`},
		{"a variable hidden after a regex key", `SecRule ARGS:/a/XENV "@rx ." "id:1,deny"`, `follows it where '|' or a space should`},
		{"unclosed regex key", `SecRule ARGS:/a "@rx ." "id:1,deny"`, `regex/ key is not closed`},
		{"slash in a plain key", `SecRule ARGS:a/|ENV "@rx ." "id:1,deny"`, `its key has a '/'`},
		{"trailing pipe", `SecRule ARGS| "@rx ." "id:1,deny"`, `end with '|'`},
		{"ENV macro", `SecRule ARGS "@rx a" "id:1,deny,msg:'%{ENV.HOME}'"`, `macro %{ENV} is not allowed`},
		{"no id", `SecRule ARGS "@rx a" "deny"`, `every rule needs an id`},
		{"CRS id", `SecRule ARGS "@rx a" "id:942100,deny"`, `id "942100": a virtual patch's rule ids are 1-899999`},
		{"two ids", `SecRule ARGS "@rx a" "id:1,id:2,deny"`, `a rule has one id`},
		{"two phases", `SecRule ARGS "@rx a" "id:1,phase:1,phase:2,deny"`, `a rule has one phase`},
		{"id 0", `SecRule ARGS "@rx a" "id:0,deny"`, `id "0"`},
		{"duplicate id", "SecRule ARGS \"@rx a\" \"id:5,deny\"\nSecRule ARGS \"@rx b\" \"id:5,deny\"", `directive 2 (line 2): id 5 is already used by directive 1`},
		{"phase 3", `SecRule ARGS "@rx a" "id:1,phase:3,deny"`, `phase "3": a virtual patch runs in phase 1 (headers) or 2 (body) only`},
		{"phase response", `SecRule ARGS "@rx a" "id:1,phase:response,deny"`, `phase "response"`},
		{"dangling chain", `SecRule ARGS "@rx a" "id:1,deny,chain"`, `asks for a chain but no SecRule follows`},
		{"chain link with id", "SecRule ARGS \"@rx a\" \"id:1,deny,chain\"\nSecRule ARGS \"@rx b\" \"id:2\"", `directive 2 (line 2): a chained rule takes no id or phase`},
		{"continuation at the end", "SecRule ARGS \"@rx a\" \"id:1,deny\" \\", `ends with a backslash`},
		{"too long", big, `at most 16384 bytes`},
		{"too many", many, `at most 50 directives`},
		{"empty", "# nothing\n", `seclang: no directive`},
		{"unquoted operator", `SecRule ARGS @rx "id:1"`, `operator must be in double quotes`},
		{"Coraza's own error", "SecRule ARGS \"@rx a\" \"id:1,deny\"\nSecRule ARGS \"@rx (\" \"id:2,deny\"", `directive 2 (line 2): Coraza: `},
		{"Coraza: bad transformation", `SecRule ARGS "@rx a" "id:1,deny,t:nope"`, `directive 1 (line 1): Coraza: `},
	} {
		err := ValidatePatch(Patch{Name: "p", SecLang: c.seclang})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

func TestPatchValidateFields(t *testing.T) {
	ok := `SecRule ARGS "@rx a" "id:1,deny"`
	for _, c := range []struct {
		p    Patch
		want string
	}{
		{Patch{Name: "", SecLang: ok}, "name: required"},
		{Patch{Name: strings.Repeat("n", 101), SecLang: ok}, "name: at most 100"},
		{Patch{Name: "a\nb", SecLang: ok}, "name: no control characters"},
		{Patch{Name: "n", Reason: strings.Repeat("r", 501), SecLang: ok}, "reason: at most 500"},
		{Patch{Name: "n"}, "seclang or rule: required"},
		{Patch{Name: "n", SecLang: ok, Rule: &PatchRule{Target: "args", Op: "exists"}}, "not both"},
		{Patch{Name: "n", Rule: &PatchRule{Target: "arg:a b", Op: "exists"}}, `target "arg:a b"`},
		{Patch{Name: "n", Rule: &PatchRule{Target: "header:X\"", Op: "exists"}}, `target "header:X\""`},
		{Patch{Name: "n", Rule: &PatchRule{Target: "response", Op: "exists"}}, `rule.target "response": one of`},
		{Patch{Name: "n", Rule: &PatchRule{Target: "args", Op: "like", Value: "x"}}, `rule.op "like"`},
		{Patch{Name: "n", Rule: &PatchRule{Target: "args", Op: "regex", Value: "(a"}}, `not an RE2 regular expression`},
		{Patch{Name: "n", Rule: &PatchRule{Target: "args", Op: "regex", Value: `(?<=a)b`}}, `not an RE2 regular expression`},
		{Patch{Name: "n", Rule: &PatchRule{Target: "args", Op: "contains"}}, `rule.value: required`},
		{Patch{Name: "n", Rule: &PatchRule{Target: "args", Op: "exists", Value: "x"}}, `takes no value`},
		{Patch{Name: "n", Rule: &PatchRule{Target: "args", Op: "exists", Path: "wp-admin"}}, `rule.path: must start with /`},
		{Patch{Name: "n", Rule: &PatchRule{Target: "args", Op: "exists", Method: "get it"}}, `rule.method "get it"`},
		{Patch{Name: "n", Rule: &PatchRule{Target: "args", Op: "exists", Action: "drop"}}, `rule.action "drop"`},
	} {
		err := ValidatePatch(c.p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.p, err, c.want)
		}
	}
	for _, sl := range []string{vulnPatch,
		`SecRule ARGS:/^user\/[a-z]+$/|!ARGS:'/^x/'|&REQUEST_HEADERS:User-Agent|REQUEST_COOKIES_NAMES "@rx a" "id:1,deny"`,
		`SecRule XML:/root/item/@id|JSON "@rx a" "id:2,phase:2,log,pass,setvar:'tx.seen=1'"`,
		"SecAction \"id:3,phase:1,nolog,pass,setvar:tx.x=1\"\nSecRule TX:x \"@eq 1\" \"id:4,deny,skipAfter:END\"\nSecMarker END",
	} {
		if err := ValidatePatch(Patch{Name: "fine", Reason: "x", SecLang: sl}); err != nil {
			t.Errorf("%s: %v", sl, err)
		}
	}
}

// Whatever a PatchRule's values hold, the rule stays one chain matching
// the value literally.
func TestPatchRuleValuesCannotInject(t *testing.T) {
	for _, v := range []string{
		`x" "id:5,phase:1,pass,ctl:ruleEngine=Off`,
		`a\" "id:6,deny`,
		`back\\slash\`,
		"new\nSecRuleEngine Off\n",
		"cr\r\nSecRule ARGS \"@rx .\" \"id:7,deny\"",
		`%{TX.anomaly_score}`,
		`%{ENV.HOME}`,
		"tab\tspace quote' comma,colon:",
		"`backtick`",
		"#comment",
		`\`,
	} {
		for _, op := range []string{"contains", "equals", "starts_with"} {
			r := &PatchRule{Path: "/p" + v, Target: "arg:q", Op: op, Value: v}
			p := Patch{ID: 3, Name: "inj", Rule: r}
			if err := ValidatePatch(p); err != nil {
				t.Fatalf("%q %s: %v", v, op, err)
			}
			sl, _ := r.SecLang(1)
			dirs, err := checkPatchSecLang(sl)
			if err != nil || len(dirs) != 2 || strings.Count(sl, "\n") != 2 || strings.Contains(sl, "ctl:") || strings.Contains(sl, "%{") {
				t.Fatalf("%q %s: the rule changed shape (%v):\n%s", v, op, err, sl)
			}
			s := mustSet(t, NewRegistry(), p)
			in := &Input{Method: "GET", Path: "/p" + urlEscape(v), Query: "q=" + urlEscape(v), Header: http.Header{}}
			if res := runSet(s, in, patchNow); !res.Blocked {
				t.Errorf("%q %s: the literal value does not match: %+v\n%s", v, op, res, sl)
			}
			in.Query = "q=" + urlEscape("other")
			if res := runSet(s, in, patchNow); res.Blocked {
				t.Errorf("%q %s: another value matches\n%s", v, op, sl)
			}
		}
	}
	// A regex with quotes, spaces and macros stays a regex of the value.
	r := &PatchRule{Target: "arg:q", Op: "regex", Value: `^a" "id:9,ctl:ruleEngine=Off %{TX.x} [" ]b$`}
	sl, err := r.SecLang(1)
	if err != nil || strings.Count(sl, "\n") != 1 || strings.Contains(sl, "ctl:ruleEngine=Off %") || strings.Contains(sl, "%{") {
		t.Fatalf("regex: %v\n%s", err, sl)
	}
	s := mustSet(t, NewRegistry(), Patch{ID: 4, Name: "rx", Rule: r})
	hit := `a" "id:9,ctl:ruleEngine=Off %{TX.x} "b`
	if res := runSet(s, &Input{Method: "GET", Path: "/", Query: "q=" + urlEscape(hit), Header: http.Header{}}, patchNow); !res.Blocked {
		t.Errorf("regex does not match its literal text\n%s", sl)
	}
	if res := runSet(s, &Input{Method: "GET", Path: "/", Query: "q=x%0a" + urlEscape(hit), Header: http.Header{}}, patchNow); res.Blocked {
		t.Errorf("^ matched after a newline (multiline)\n%s", sl)
	}
}

func urlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			b.WriteString("%")
			b.WriteString(strings.ToUpper(string("0123456789abcdef"[c>>4])) + strings.ToUpper(string("0123456789abcdef"[c&15])))
		}
	}
	return b.String()
}

func TestPatchSetCache(t *testing.T) {
	r := NewRegistry()
	p := []Patch{{ID: 1, Name: "a", SecLang: vulnPatch}}
	s1 := mustSet(t, r, p...)
	s2 := mustSet(t, r, Patch{ID: 1, Name: "a", Reason: "another reason", SecLang: vulnPatch})
	if s1 != s2 {
		t.Fatal("equal content, different sets")
	}
	for _, other := range []Patch{
		{ID: 2, Name: "a", SecLang: vulnPatch},
		{ID: 1, Name: "b", SecLang: vulnPatch},
		{ID: 1, Name: "a", SecLang: vulnPatch, Expires: patchNow},
		{ID: 1, Name: "a", SecLang: vulnPatch + "\n"},
	} {
		if s := mustSet(t, r, other); s == s1 {
			t.Errorf("%+v shares the set of %+v", other, p[0])
		}
	}
	if s, err := r.PatchSet(nil); s != nil || err != nil {
		t.Errorf("no patches: %v %v", s, err)
	}

	old := patchCacheSize
	patchCacheSize = 3
	defer func() { patchCacheSize = old }()
	r = NewRegistry()
	var sets []*PatchSet
	for i := 0; i < 5; i++ {
		sets = append(sets, mustSet(t, r, Patch{ID: int64(i + 1), Name: "n", Rule: &PatchRule{Target: "args", Op: "exists"}}))
		_ = mustSet(t, r, Patch{ID: 1, Name: "n", Rule: &PatchRule{Target: "args", Op: "exists"}}) // keep the first in use
	}
	if len(r.patchSets) != 3 || len(r.patchOrder) != 3 {
		t.Fatalf("cache holds %d sets (%d in order), want 3", len(r.patchSets), len(r.patchOrder))
	}
	if s := mustSet(t, r, Patch{ID: 1, Name: "n", Rule: &PatchRule{Target: "args", Op: "exists"}}); s != sets[0] {
		t.Error("the most recently used set was dropped")
	}
	if s := mustSet(t, r, Patch{ID: 2, Name: "n", Rule: &PatchRule{Target: "args", Op: "exists"}}); s == sets[1] {
		t.Error("the least recently used set was kept")
	}
}

func TestPatchSetConcurrent(t *testing.T) {
	r := NewRegistry()
	done := make(chan *PatchSet, 8)
	for i := 0; i < 8; i++ {
		go func() {
			s, _ := r.PatchSet([]Patch{{ID: 1, Name: "a", SecLang: vulnPatch}})
			var res Result
			s.evaluate(patchReq("GET", "/wp-content/plugins/vuln/ajax.php", "action=exploit", ""), patchNow, &res)
			if !res.Blocked {
				s = nil
			}
			done <- s
		}()
	}
	first := <-done
	for i := 1; i < 8; i++ {
		if s := <-done; s != first || s == nil {
			t.Fatal("concurrent callers got different (or failing) sets")
		}
	}
}

// BenchmarkPatchSet: what a set of two patches costs a request it does
// not match (a browser GET) and one it blocks.
func BenchmarkPatchSet(b *testing.B) {
	s, err := NewRegistry().PatchSet([]Patch{{ID: 1, Name: "vuln", SecLang: vulnPatch},
		{ID: 2, Name: "env", Rule: &PatchRule{Target: "path", Op: "equals", Value: "/.env"}}})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		in   *Input
	}{
		{"clean GET", patchReq("GET", "/products/42", "color=blue", "", "Accept", "text/html", "Accept-Language", "en", "Cookie", "a=b")},
		{"blocked", patchReq("GET", "/wp-content/plugins/vuln/ajax.php", "action=exploit", "")},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				var res Result
				s.evaluate(c.in, patchNow, &res)
			}
		})
	}
}

func TestPatchMatchesAreBounded(t *testing.T) {
	var ps []Patch
	for i := 1; i <= MaxMatches+5; i++ {
		ps = append(ps, Patch{ID: int64(i), Name: "p", Rule: &PatchRule{Target: "arg:x", Op: "exists", Action: "log"}})
	}
	ps[len(ps)-1].Rule = &PatchRule{Target: "arg:x", Op: "exists"} // the last one blocks
	ps[len(ps)-1].Name = "last"
	res := runSet(mustSet(t, NewRegistry(), ps...), patchReq("GET", "/", "x=1", ""), patchNow)
	if len(res.Matches) != MaxMatches || !res.Blocked || res.Patch != "last" {
		t.Fatalf("%d matches, blocked %v by %q", len(res.Matches), res.Blocked, res.Patch)
	}
}

// TestPatchRegexBounds: a pattern whose program is over
// PatchMaxRegexInsts, or a patch whose patterns together cost over
// PatchMaxRegexCost, is refused with the directive and the figures; a
// literal anchored at the value's start counts 1 whatever its length.
func TestPatchRegexBounds(t *testing.T) {
	rule := func(vars, op string) string {
		return `SecRule ` + vars + ` "` + op + `" "id:1001,phase:2,deny"`
	}
	for _, c := range []struct{ seclang, want string }{
		{rule("ARGS", `@rx \pL{999}`), "directive 1 (line 1): @rx pattern too complex: 1001 instructions, at most 150"},
		{rule("ARGS", `!@rx [a-z]{200}`), "directive 1 (line 1): @rx pattern too complex: 202 instructions"},
		{rule("ARGS", `(?:ab|c){80}`), "@rx pattern too complex"},
		{`SecAction "id:1,phase:1,pass,nolog"` + "\n" + rule("ARGS", strings.Repeat("a", 300)), "directive 2 (line 2): @rx pattern too complex: 302 instructions"},
		// 80 instructions, read in three variables: 240
		{rule("ARGS|REQUEST_BODY|REQUEST_HEADERS", `\pL{78}`), "directive 1 (line 1): the patch's regular expressions are too complex together: 240 instructions"},
		// 80 instructions under multiMatch with one transformation: 160
		{`SecRule ARGS "@rx \pL{78}" "id:1001,phase:2,deny,t:lowercase,multiMatch"`, "too complex together: 160 instructions"},
		{rule("ARGS", `\pL{78}`) + "\n" + `SecRule ARGS "@rx \pL{78}" "id:1002,phase:2,deny"`, "directive 2 (line 2): the patch's regular expressions are too complex together: 160 instructions so far"},
	} {
		err := ValidatePatch(Patch{ID: 1, Name: "x", SecLang: c.seclang})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.seclang, err, c.want)
		}
	}
	for _, ok := range []string{
		rule("ARGS:action", `@rx ^(?:vuln_save_options|vuln_import|vuln_delete)$`),
		rule("ARGS|REQUEST_BODY", `(?i)union[\s(]+select`),
		rule("REQUEST_FILENAME", `@rx \A/wp-content/plugins/`+strings.Repeat("x", 2000)),
		rule("ARGS", `@pm `+strings.Repeat("word ", 500)),
		rule("ARGS", `@rx \pL{140}`),
	} {
		if err := ValidatePatch(Patch{ID: 1, Name: "x", SecLang: ok}); err != nil {
			t.Errorf("%.80s: %v", ok, err)
		}
	}
	// The own form: long literals where they run in linear time.
	for _, r := range []PatchRule{
		{Path: "/" + strings.Repeat("p", 900), Target: "arg:action", Op: "equals", Value: strings.Repeat("v", 4000)},
		{Target: "args", Op: "starts_with", Value: strings.Repeat("v", 4000)},
	} {
		if err := ValidatePatch(Patch{ID: 1, Name: "x", Rule: &r}); err != nil {
			t.Errorf("%s %.20s: %v", r.Op, r.Value, err)
		}
	}
	for _, c := range []struct {
		r    PatchRule
		want string
	}{
		{PatchRule{Target: "args", Op: "contains", Value: strings.Repeat("v", 400)}, "rule.value: @rx pattern too complex: 402 instructions, at most 150 (a substring of at most 145 characters)"},
		{PatchRule{Target: "args", Op: "regex", Value: `\w{500}`}, "rule.value: @rx pattern too complex"},
	} {
		err := ValidatePatch(Patch{ID: 1, Name: "x", Rule: &c.r})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %.20s: %v, want %q", c.r.Op, c.r.Value, err, c.want)
		}
	}
}

// TestPatchRegexWorstCaseCost measures the costliest patch ValidatePatch
// accepts (a never-matching pattern at PatchMaxRegexInsts, Unicode
// classes, the slowest instructions) on a request with a 16 KiB
// parameter, against the same pattern run once by Go's regexp on the same
// parameter on the same machine: evaluating a patch must not multiply the
// regular expression's own cost (a scan per variable, per transformation,
// per phase). The time itself depends on the machine (86 to 102 ms on the
// AMD EPYC VM of bench/README.md's latest run): it is logged, not judged
// (it was, against 100 ms, which that machine missed under CI's load);
// PatchMaxRegexInsts is what bounds it.
func TestPatchRegexWorstCaseCost(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	var p Patch
	var n int
	for n = PatchMaxRegexInsts; ; n-- {
		p = Patch{ID: 1, Name: "worst", SecLang: fmt.Sprintf(`SecRule ARGS "@rx (\pL{%d})\PL" "id:1001,phase:2,deny,capture"`, n)}
		if ValidatePatch(p) == nil {
			break
		}
	}
	s := mustSet(t, NewRegistry(), p)
	param := strings.Repeat("b", 16<<10)
	in := patchReq("GET", "/search", "q="+param, "")
	rx := regexp.MustCompile(fmt.Sprintf(`(\pL{%d})\PL`, n))
	// CPU time of this thread, best of three: a loaded machine does not count.
	bestOf := func(f func()) time.Duration {
		best := time.Duration(1 << 62)
		for i := 0; i < 3; i++ {
			if d := cputime.Of(f); d < best {
				best = d
			}
		}
		return best
	}
	best := bestOf(func() { runSet(s, in, patchNow) })
	ref := bestOf(func() { rx.FindStringSubmatchIndex(param) })
	t.Logf("worst accepted patch %s, 16 KiB parameter: %v per request; the pattern alone: %v", p.SecLang, best, ref)
	if best > 3*ref+raceSlowdown*5*time.Millisecond {
		t.Errorf("the costliest accepted patch takes %v per request with a 16 KiB parameter, more than 3 times the pattern's own %v", best, ref)
	}
}

// TestPatchMessageMacros: msg, logdata and tag go into events: only
// %{RULE.…} macros, which carry no request data.
func TestPatchMessageMacros(t *testing.T) {
	for _, act := range []string{
		`msg:'%{REQUEST_HEADERS.authorization}'`, `logdata:'%{ARGS.password}'`, `msg:'x %{request_cookies.sid}'`,
		`logdata:'%{MATCHED_VAR}'`, `msg:'%{TX.0}'`, `tag:'%{REQUEST_BODY}'`, `msg:'%{MATCHED_VAR_NAME}'`,
	} {
		err := ValidatePatch(Patch{ID: 1, Name: "x", SecLang: `SecRule ARGS "@rx a" "id:1001,phase:2,deny,` + act + `"`})
		if err == nil || !strings.Contains(err.Error(), "directive 1 (line 1): ") || !strings.Contains(err.Error(), "may carry request data into events") {
			t.Errorf("%s: %v", act, err)
		}
	}
	ok := `SecRule ARGS "@rx a" "id:1001,phase:2,deny,msg:'rule %{RULE.id} matched',logdata:'%{rule.msg}',setvar:'tx.x=%{MATCHED_VAR}'"`
	if err := ValidatePatch(Patch{ID: 1, Name: "x", SecLang: ok}); err != nil {
		t.Errorf("RULE macros: %v", err)
	}
}

// TestPatchSetEvictedStillEvaluates: an evicted set is closed (its
// patterns leave Coraza's memoize cache) and still works for a policy
// that holds it.
func TestPatchSetEvictedStillEvaluates(t *testing.T) {
	old := patchCacheSize
	patchCacheSize = 1
	defer func() { patchCacheSize = old }()
	r := NewRegistry()
	first := mustSet(t, r, Patch{ID: 1, Name: "vuln-ajax", SecLang: vulnPatch})
	mustSet(t, r, Patch{ID: 2, Name: "other", Rule: &PatchRule{Target: "args", Op: "exists"}})
	if len(r.patchSets) != 1 {
		t.Fatalf("%d sets cached", len(r.patchSets))
	}
	res := runSet(first, patchReq("POST", "/wp-content/plugins/vuln/ajax.php", "", "action=exploit"), patchNow)
	if !res.Blocked {
		t.Error("the evicted set no longer blocks")
	}
}

// TestPatchRESTRouteSpellings: an own-form patch whose path is under
// /wp-json/ fires on every spelling WordPress serves the route under.
func TestPatchRESTRouteSpellings(t *testing.T) {
	s := mustSet(t, NewRegistry(),
		Patch{ID: 4, Name: "vuln REST", Rule: &PatchRule{Path: "/wp-json/vuln/v1/", Method: "POST", Target: "args", Op: "exists"}},
		Patch{ID: 5, Name: "blog REST", Rule: &PatchRule{Path: "/blog/wp-json/other/v2/", Target: "arg:x", Op: "equals", Value: "1"}})
	body := "option=siteurl"
	for _, c := range []struct {
		method, path, query, body string
		want                      string
	}{
		{"POST", "/wp-json/vuln/v1/options", "", body, "vuln REST"},
		{"POST", "/", "rest_route=/vuln/v1/options", body, "vuln REST"},
		{"POST", "/", "", body + "&rest_route=/vuln/v1/options", "vuln REST"},
		{"POST", "/index.php/wp-json/vuln/v1/options", "", body, "vuln REST"},
		{"POST", "/wp-json/VULN/v1/options", "", body, "vuln REST"},
		{"POST", "/index.php", "rest_route=%2Fvuln%2Fv1%2Foptions", body, "vuln REST"},
		{"GET", "/blog/wp-json/other/v2/x", "x=1", "", "blog REST"},
		{"GET", "/blog/", "rest_route=/other/v2/x&x=1", "", "blog REST"},
		{"POST", "/wp-json/other/v1/options", "", body, ""},
		{"POST", "/", "rest_route=/other/v1/options", body, ""},
		{"GET", "/wp-json/vuln/v1/options", "a=1", "", ""},
	} {
		res := runSet(s, patchReq(c.method, c.path, c.query, c.body), patchNow)
		if res.Patch != c.want {
			t.Errorf("%s %s?%s %s: patch %q, want %q", c.method, c.path, c.query, c.body, res.Patch, c.want)
		}
	}
}

// TestPatchVariableKeyRegexBounded: a /regex/ key is matched against
// every name of its collection and is bounded like an operator's.
func TestPatchVariableKeyRegexBounded(t *testing.T) {
	err := ValidatePatch(Patch{ID: 1, Name: "x", SecLang: `SecRule ARGS:/\pL{999}/ "@rx a" "id:1001,phase:2,deny"`})
	if err == nil || !strings.Contains(err.Error(), `directive 1 (line 1): variable key /\pL{999}/: @rx pattern too complex: 1001 instructions, at most 150`) {
		t.Errorf("key regex: %v", err)
	}
	if err := ValidatePatch(Patch{ID: 1, Name: "x", SecLang: `SecRule ARGS:/^vuln_/|ARGS_NAMES "@rx a" "id:1001,phase:2,deny"`}); err != nil {
		t.Errorf("small key regex: %v", err)
	}
	for _, c := range []struct {
		p    Patch
		want int
	}{
		{Patch{SecLang: vulnPatch}, 0},
		{Patch{SecLang: `SecRule ARGS|REQUEST_BODY "@rx a[bc]+d" "id:1,phase:2,deny"`}, 2 * 6},
		{Patch{Rule: &PatchRule{Target: "args", Op: "equals", Value: strings.Repeat("v", 4000)}}, 1},
	} {
		got, err := PatchRegexCost(c.p)
		if err != nil || got != c.want {
			t.Errorf("%+v: cost %d, %v; want %d", c.p, got, err, c.want)
		}
	}
}

// TestPatchReadsEveryArgument: a patch's target is found however many
// arguments come first (CRS's collections stop at 1000).
func TestPatchReadsEveryArgument(t *testing.T) {
	s := mustSet(t, NewRegistry(), Patch{ID: 3, Name: "vuln REST",
		Rule: &PatchRule{Path: "/wp-json/vuln/v1/", Target: "arg:json.action", Op: "equals", Value: "save_options"}},
		Patch{ID: 4, Name: "vuln ajax", Rule: &PatchRule{Target: "arg:action", Op: "equals", Value: "vuln_save"}})
	var jb, fb strings.Builder
	jb.WriteString("{")
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&jb, `"a%d":0,`, i)
		fmt.Fprintf(&fb, "a%d=&", i)
	}
	jb.WriteString(`"action":"save_options"}`)
	fb.WriteString("action=vuln_save")
	if res := runSet(s, patchReq("POST", "/wp-json/vuln/v1/options", "", jb.String(), "Content-Type", "application/json"), patchNow); res.Patch != "vuln REST" {
		t.Errorf("the 5001st JSON member: patch %q", res.Patch)
	}
	if res := runSet(s, patchReq("POST", "/wp-admin/admin-ajax.php", "", fb.String()), patchNow); res.Patch != "vuln ajax" {
		t.Errorf("the 5001st form field: patch %q", res.Patch)
	}
}
