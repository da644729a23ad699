package partnerapi_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/waf"
)

// TestSettingsWAFRoundTrip: settings.waf (the website firewall) goes
// through PUT /v1/websites/{domain}/settings and comes back from GET as
// sent, with If-Match; bad firewall settings are refused with each problem
// at its path in errors[] ("waf.exclusions[0]"), and nothing saved.
func TestSettingsWAFRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		const path = "/v1/websites/shop.example.com/settings"
		if r := e.do(t, call{method: "POST", path: "/v1/websites", key: e.keyA, body: `{"domain":"shop.example.com"}`}); r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		v1 := e.do(t, call{method: "GET", path: path, key: e.keyA}).header.Get("ETag")
		w := engine.WAFSettings{Mode: "detect", Paranoia: 3, Threshold: 10, Exclusions: []waf.Exclusion{
			{RuleIDs: []int{942100}, Path: "/search", Parameters: []string{"q", "cookie:prefs"}, Note: "search"},
			{Tags: []string{"attack-xss"}, Path: "/wp-admin/", Cookie: "wordpress_logged_in"},
		}}
		for _, s := range waf.Sets() {
			if w.ExclusionSets == nil {
				w.ExclusionSets = map[string]bool{}
			}
			w.ExclusionSets[s.Name] = !s.Default
		}
		sent, _ := json.Marshal(map[string]any{"waf": w})
		r := e.do(t, call{method: "PUT", path: path, key: e.keyA, body: string(sent), headers: map[string]string{"If-Match": v1}})
		v2 := r.header.Get("ETag")
		if r.status != 200 || v2 == v1 {
			t.Fatalf("PUT waf: %d %s", r.status, r.body)
		}
		r = e.do(t, call{method: "GET", path: path, key: e.keyA})
		var got struct {
			Settings json.RawMessage `json:"settings"`
		}
		if err := json.Unmarshal([]byte(r.body), &got); err != nil || string(got.Settings) != string(sent) || r.header.Get("ETag") != v2 {
			t.Fatalf("GET after PUT: %s; want settings %s", r.body, sent)
		}
		// A stale If-Match: 412, nothing saved.
		if r = e.do(t, call{method: "PUT", path: path, key: e.keyA, body: `{"waf":{"mode":"off"}}`, headers: map[string]string{"If-Match": v1}}); r.status != 412 {
			t.Fatalf("a stale PUT: %d %s", r.status, r.body)
		}
		// Refused: every problem at its path.
		r = e.do(t, call{method: "PUT", path: path, key: e.keyA, headers: map[string]string{"If-Match": v2},
			body: `{"waf":{"mode":"panic","paranoia":9,"threshold":-1,"exclusion_sets":{"typo3":true},"exclusions":[{},{"rule_ids":[942100],"parameters":[""]}]}}`})
		var refused struct {
			Errors []struct{ Path, Message string }
		}
		_ = json.Unmarshal([]byte(r.body), &refused)
		paths := map[string]string{}
		for _, p := range refused.Errors {
			paths[p.Path] = p.Message
		}
		for _, p := range []string{"waf.mode", "waf.paranoia", "waf.threshold", "waf.exclusion_sets.typo3", "waf.exclusions[0]", "waf.exclusions[1]"} {
			if paths[p] == "" {
				t.Errorf("the refusal does not name %s: %d %s", p, r.status, r.body)
			}
		}
		if r.status != 400 || !strings.HasPrefix(paths["waf.exclusions[0]"], "an exclusion must name at least one of") {
			t.Fatalf("bad waf settings: %d %s", r.status, r.body)
		}
		if r = e.do(t, call{method: "GET", path: path, key: e.keyA}); r.header.Get("ETag") != v2 {
			t.Fatalf("a refused PUT changed the settings: %v %s", r.header, r.body)
		}
		_ = json.Unmarshal([]byte(r.body), &got)
		var back struct {
			WAF engine.WAFSettings `json:"waf"`
		}
		if err := json.Unmarshal(got.Settings, &back); err != nil || !reflect.DeepEqual(back.WAF, w) {
			t.Fatalf("the firewall settings after a refused PUT: %+v; want %+v", back.WAF, w)
		}
		// Another partner's website: not found.
		if r = e.do(t, call{method: "PUT", path: path, key: e.keyB, body: `{"waf":{"mode":"off"}}`}); r.status != 404 {
			t.Fatalf("another partner's PUT: %d %s", r.status, r.body)
		}
	})
}
