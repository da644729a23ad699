package patchcheck

import (
	"encoding/json"
	"testing"
)

func TestAffects(t *testing.T) {
	ev := func(kind, v string) Event {
		switch kind {
		case "i":
			return Event{Introduced: v}
		case "f":
			return Event{Fixed: v}
		case "l":
			return Event{LastAffected: v}
		}
		return Event{Limit: v}
	}
	rng := func(evs ...Event) Range { return Range{Type: "ECOSYSTEM", Events: evs} }
	for _, tc := range []struct {
		name  string
		a     Affected
		in    map[string]string // version -> fixed reported ("" when none)
		notIn []string
	}{
		{
			name:  "introduced 0, fixed",
			a:     Affected{Ranges: []Range{rng(ev("i", "0"), ev("f", "2.3.4"))}},
			in:    map[string]string{"0.1": "2.3.4", "2.3.3": "2.3.4", "2.3.4-beta1": "2.3.4"},
			notIn: []string{"2.3.4", "2.3.5", "3.0"},
		},
		{
			name:  "last_affected is inclusive",
			a:     Affected{Ranges: []Range{rng(ev("i", "1.0"), ev("l", "1.4"))}},
			in:    map[string]string{"1.0": "", "1.4": "", "1.4.0": "", "1.3.9": ""},
			notIn: []string{"0.9", "1.4.1", "2.0"},
		},
		{
			name: "two ranges, each with its fix",
			a: Affected{Ranges: []Range{
				rng(ev("i", "6.3.0"), ev("f", "6.3.3")),
				rng(ev("i", "6.4.0"), ev("f", "6.4.3")),
			}},
			in:    map[string]string{"6.3.0": "6.3.3", "6.3.2": "6.3.3", "6.4.2": "6.4.3"},
			notIn: []string{"6.2.9", "6.3.3", "6.3.10", "6.4.3", "6.5"},
		},
		{
			name:  "events out of order in one range, reintroduced",
			a:     Affected{Ranges: []Range{rng(ev("f", "2.0"), ev("i", "3.0"), ev("i", "1.0"), ev("f", "3.1"))}},
			in:    map[string]string{"1.5": "2.0", "3.0.5": "3.1"},
			notIn: []string{"0.5", "2.0", "2.9", "3.1"},
		},
		{
			name:  "versions list only",
			a:     Affected{Versions: []string{"4.0.1", "4.0.2"}},
			in:    map[string]string{"4.0.1": "", "4.0.2": "", "4.0.2.0": ""},
			notIn: []string{"4.0.0", "4.0.3"},
		},
		{
			name:  "limit",
			a:     Affected{Ranges: []Range{rng(ev("i", "0"), ev("lim", "2.0"))}},
			in:    map[string]string{"1.9": ""},
			notIn: []string{"2.0", "2.1"},
		},
		{
			name:  "GIT ranges are not evaluated",
			a:     Affected{Ranges: []Range{{Type: "GIT", Events: []Event{{Introduced: "0"}, {Fixed: "abc123"}}}}},
			notIn: []string{"1.0"},
		},
		{
			name:  "Drupal contrib against Packagist versions",
			a:     Affected{Ranges: []Range{rng(ev("i", "1.0.0"), ev("f", "1.12.1"))}},
			in:    map[string]string{"8.x-1.12": "1.12.1", "8.x-1.0": "1.12.1"},
			notIn: []string{"1.12.1", "8.x-1.13", "8.x-2.0"},
		},
		{
			name:  "SEMVER type",
			a:     Affected{Ranges: []Range{{Type: "SEMVER", Events: []Event{{Introduced: "1.0.0-beta.2"}, {Fixed: "1.0.1"}}}}},
			in:    map[string]string{"1.0.0-beta.11": "1.0.1", "1.0.0": "1.0.1"},
			notIn: []string{"1.0.0-beta.1", "1.0.1"},
		},
	} {
		for v, wantFix := range tc.in {
			pv, err := ParseVersion(v)
			if err != nil {
				t.Fatal(err)
			}
			hit, fix, bad := tc.a.affects(pv)
			if !hit || fix != wantFix || bad != 0 {
				t.Errorf("%s: %s: affected=%v fixed=%q bad=%d; want true, %q, 0", tc.name, v, hit, fix, bad, wantFix)
			}
		}
		for _, v := range tc.notIn {
			pv, err := ParseVersion(v)
			if err != nil {
				t.Fatal(err)
			}
			if hit, _, _ := tc.a.affects(pv); hit {
				t.Errorf("%s: %s reported affected", tc.name, v)
			}
		}
	}
}

func TestAffectsCountsUnreadableEvents(t *testing.T) {
	a := Affected{
		Ranges:   []Range{{Type: "ECOSYSTEM", Events: []Event{{Introduced: "0"}, {Fixed: "1.x-dev"}}}},
		Versions: []string{"trunk", "1.0"},
	}
	v, _ := ParseVersion("1.0")
	hit, _, bad := a.affects(v)
	if !hit || bad != 2 {
		t.Errorf("affected=%v bad=%d; want true (from versions) and 2 unreadable", hit, bad)
	}
}

func TestSeverityOrderOfSources(t *testing.T) {
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	cvss := []OSVSeverity{{Type: "CVSS_V3", Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"}}
	for _, tc := range []struct {
		name string
		r    Record
		a    Affected
		want Severity
	}{
		{"record vector", Record{Severity: cvss, DatabaseSpecific: raw(`{"severity":"CRITICAL"}`)}, Affected{}, SeverityMedium},
		{"package vector first", Record{Severity: []OSVSeverity{{Type: "CVSS_V3", Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}}}, Affected{Severity: cvss}, SeverityMedium},
		{"bad vector falls to database_specific", Record{Severity: []OSVSeverity{{Type: "CVSS_V3", Score: "nonsense"}}, DatabaseSpecific: raw(`{"severity":"MODERATE"}`)}, Affected{}, SeverityMedium},
		{"v4 only falls to database_specific", Record{Severity: []OSVSeverity{{Type: "CVSS_V4", Score: "CVSS:4.0/AV:N"}}, DatabaseSpecific: raw(`{"severity":"HIGH"}`)}, Affected{}, SeverityHigh},
		{"ecosystem_specific", Record{}, Affected{EcosystemSpecific: raw(`{"severity":"low"}`)}, SeverityLow},
		{"nothing", Record{DatabaseSpecific: raw(`{"cwe_ids":["CWE-79"]}`)}, Affected{}, SeverityUnknown},
		{"odd word", Record{DatabaseSpecific: raw(`{"severity":"spicy"}`)}, Affected{}, SeverityUnknown},
	} {
		got, _, _ := severity(&tc.r, &tc.a)
		if got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}
