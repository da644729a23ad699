package redteam19

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/waf"
)

// FINDING (critical, anonymous visitor, every integration): Coraza reads
// at most 1000 parameters per collection (its default argument limit)
// and silently drops the rest; CRS's "too many arguments" rule (920380)
// only runs when tx.max_num_args is set, which Palisade does not do. One
// GET of 6 KiB, "/search?a0=&a1=&...&a999=&id=1' OR '1'='1", puts the
// SQL injection past the limit: CRS never sees it, nothing is scored,
// and the request is granted. It fits nginx's default 8 KiB request line,
// so it passes through auth_request (which has no body) as well as the
// proxy; the same works for a form or a JSON body. Go (net/url), Flask,
// Rails and Tomcat (10,000) hand "id" to the application; PHP's
// max_input_vars and Node's qs also stop at 1000 for the query and forms,
// but not for JSON: PHP's json_decode reads every member, so a WordPress
// REST route (or any PHP JSON API) gets the 1001st member uninspected.
// Set tx.max_num_args (920380) at or below Coraza's limit so an
// over-long parameter list is itself an anomaly, or count the
// parameters before Coraza and block past the limit.
func TestFixed_ArgumentLimitHidesTheAttack(t *testing.T) {
	var sb strings.Builder
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&sb, "a%d=&", i)
	}
	junk := sb.String()
	if r := evaluate(t, get("/search?id=1%27%20OR%20%271%27%3D%271")); !r.Blocked {
		t.Fatalf("control not blocked: %v", ruleIDs(r))
	}
	target := "/search?" + junk + "id=1%27%20OR%20%271%27%3D%271"
	if r := evaluate(t, get(target)); !r.Blocked {
		t.Errorf("GET of %d bytes with the SQL injection as the 1001st parameter is not blocked (score %d, matches %v)", len(target), r.Score, ruleIDs(r))
	}
	if r := evaluate(t, post("/login", "application/x-www-form-urlencoded", []byte(junk+"id=1%27+OR+%271%27%3D%271"))); !r.Blocked {
		t.Errorf("form with the SQL injection as the 1001st field is not blocked (score %d)", r.Score)
	}
	var jb strings.Builder
	jb.WriteString("{")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&jb, `"a%d":0,`, i)
	}
	jb.WriteString(`"id":"1' OR '1'='1"}`)
	if r := evaluate(t, post("/api/login", "application/json", []byte(jb.String()))); !r.Blocked {
		t.Errorf("JSON body with the SQL injection as the 1001st member is not blocked (score %d)", r.Score)
	}
}

// The same limit hides the target of a virtual patch: a patch on a JSON
// member (a WordPress REST route's parameter, "arg:json.action") does
// not fire when 1000 other members come first; PHP's json_decode reads
// them all.
//
// Fixed: patch sets read every argument (patch.go, patchMaxArgs).
func TestFixed_ArgumentLimitHidesAVirtualPatchTarget(t *testing.T) {
	p := waf.Patch{ID: 3, Name: "vuln-plugin REST", Reason: "CVE",
		Rule: &waf.PatchRule{Path: "/wp-json/vuln/v1/", Target: "arg:json.action", Op: "equals", Value: "save_options"}}
	ps, err := waf.NewRegistry().PatchSet([]waf.Patch{p})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	if r := waf.EvaluatePatches(post("/wp-json/vuln/v1/options", "application/json", []byte(`{"action":"save_options"}`)), []*waf.PatchSet{ps}, now); r.Patch == "" {
		t.Fatalf("control: the patch does not fire: %+v", r)
	}
	var jb strings.Builder
	jb.WriteString("{")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&jb, `"a%d":0,`, i)
	}
	jb.WriteString(`"action":"save_options"}`)
	if r := waf.EvaluatePatches(post("/wp-json/vuln/v1/options", "application/json", []byte(jb.String())), []*waf.PatchSet{ps}, now); r.Patch == "" {
		t.Errorf("the virtual patch does not fire when its parameter is the 1001st JSON member (%d bytes)", jb.Len())
	}
}
