package userapi_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	. "github.com/palisadehq/palisade/internal/api/userapi"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/waf"
)

// TestSettingsWAFRoundTrip: the website firewall's settings (settings.waf)
// go through PUT /api/websites/{domain}/settings and come back from GET as
// sent, guarded by If-Match like every settings change; bad ones are
// refused with each problem at its path ("waf.exclusions[0]: …") and
// nothing saved.
func TestSettingsWAFRoundTrip(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cfg := core.DefaultUserAPIConfig()
	cfg.RateRequests = 1000
	if _, err := e.Service.SetUserAPIConfig(ctx, e.Caller, cfg, RoutePaths()); err != nil {
		t.Fatal(err)
	}
	jane := basic("jane@example.com", janePW)
	const path = "/api/websites/shop.example.com/settings"
	v1 := etagOf(t, e.do(t, "GET", path, jane, ""))
	sets := map[string]bool{}
	for _, s := range waf.Sets() {
		sets[s.Name] = !s.Default
	}
	want := engine.WAFSettings{Mode: "detect", Paranoia: 2, Threshold: 7, Exclusions: []waf.Exclusion{
		{RuleIDs: []int{942100, 942190}, Path: "/search", Parameters: []string{"q"}, Note: "search box"},
		{Tags: []string{"attack-xss"}, Path: "/wp-admin/", Cookie: "wordpress_logged_in"},
	}}
	if len(sets) > 0 {
		want.ExclusionSets = sets
	}
	body, _ := json.Marshal(map[string]any{"mode": "protect", "waf": want})
	a := e.doMatch(t, "PUT", path, jane, v1, string(body))
	if a.status != 200 {
		t.Fatalf("PUT settings with waf: %d %s", a.status, a.raw)
	}
	v2 := etagOf(t, a)
	stored := func() engine.WAFSettings {
		t.Helper()
		_, st, err := e.Service.WebsiteSettings(ctx, e.Caller, "shop.example.com")
		if err != nil {
			t.Fatal(err)
		}
		return st.WAF
	}
	if got := stored(); !reflect.DeepEqual(got, want) {
		t.Fatalf("stored %+v; want %+v", got, want)
	}
	a = e.do(t, "GET", path, jane, "")
	var got struct {
		Data struct {
			WAF engine.WAFSettings `json:"waf"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(a.raw), &got); err != nil || !reflect.DeepEqual(got.Data.WAF, want) || etagOf(t, a) != v2 {
		t.Fatalf("GET after PUT: %s; want waf %+v", a.raw, want)
	}
	// The JSON names are the documented ones.
	for _, k := range []string{`"waf":{"mode":"detect","paranoia":2,"threshold":7`, `"exclusions":[{"rule_ids":[942100,942190],"path":"/search","parameters":["q"],"note":"search box"}`, `"cookie":"wordpress_logged_in"`} {
		if !strings.Contains(a.raw, k) {
			t.Fatalf("GET lacks %s: %s", k, a.raw)
		}
	}

	// A stale If-Match: 412, nothing saved.
	if a = e.doMatch(t, "PUT", path, jane, v1, `{"waf":{"mode":"off"}}`); a.status != 412 || etagOf(t, a) != v2 {
		t.Fatalf("PUT with a stale version: %d %s", a.status, a.raw)
	}
	// Refused: every problem at its path, nothing saved.
	a = e.doMatch(t, "PUT", path, jane, v2, `{"waf":{"mode":"panic","paranoia":5,"threshold":5000,"exclusion_sets":{"typo3":true},"exclusions":[{"note":"everything"},{"rule_ids":[942100],"path":"search"}]}}`)
	if a.status != 400 {
		t.Fatalf("bad waf settings: %d %s", a.status, a.raw)
	}
	for _, p := range []string{"waf.mode: ", "waf.paranoia: ", "waf.threshold: ", "waf.exclusion_sets.typo3: ", "waf.exclusions[0]: an exclusion must name", "waf.exclusions[1]: path: "} {
		if !strings.Contains(a.raw, `"`+p) {
			t.Errorf("the refusal does not name %q: %s", p, a.raw)
		}
	}
	if got := stored(); !reflect.DeepEqual(got, want) {
		t.Fatalf("a refused PUT changed the firewall settings: %+v", got)
	}
	// Unknown fields inside waf are refused, not dropped.
	if a = e.doMatch(t, "PUT", path, jane, v2, `{"waf":{"paranoia_level":2}}`); a.status != 400 || !strings.Contains(a.raw, "paranoia_level") {
		t.Fatalf("an unknown waf field: %d %s", a.status, a.raw)
	}
	// A part replaced elsewhere keeps the firewall settings.
	if a = e.do(t, "PUT", "/api/websites/shop.example.com/rules", jane, `[]`); a.status != 200 || !reflect.DeepEqual(stored(), want) {
		t.Fatalf("PUT rules: %d %+v", a.status, stored())
	}
	// Bob cannot read or change Jane's.
	bob := basic("bob@example.org", bobPW)
	if a = e.do(t, "PUT", path, bob, `{"waf":{"mode":"off"}}`); a.status != 404 || stored().Mode != "detect" {
		t.Fatalf("Bob's PUT on Jane's site: %d %s", a.status, a.raw)
	}
}
