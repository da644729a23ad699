package xmlapi_test

import (
	"context"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/waf"
)

// wafAnswer is the answer of getWafSettings and setWafSettings, byte for
// byte, in the methodName shape: each setting as SiteLock's getWafSettings
// words a policy.
func wafAnswer(method string, siteID int64, domain, included, mode string, paranoia, threshold int, sets map[string]bool, exclusions int) string {
	policy := func(name, setting string, options ...string) string {
		s := "<" + name + ">"
		if len(options) > 0 {
			s += "<options>"
			for _, o := range options {
				s += "<option>" + o + "</option>"
			}
			s += "</options>"
		}
		return s + "<setting>" + setting + "</setting><status>ok</status></" + name + ">"
	}
	b := `<?xml version="1.0" encoding="UTF-8"?>` + "\n<SiteLockOnlineResponse><methodName>" + method + "</methodName><" + method + ">" +
		"<site_id>" + strconv.FormatInt(siteID, 10) + "</site_id><domain>" + domain + "</domain><firewall_included>" + included + "</firewall_included>" +
		policy("mode", mode, "block", "detect", "off") + policy("paranoia", strconv.Itoa(paranoia), "1", "2", "3", "4") + policy("threshold", strconv.Itoa(threshold)) +
		"<exclusion_sets>"
	for _, s := range waf.Sets() {
		on := s.Default
		if v, ok := sets[s.Name]; ok {
			on = v
		}
		b += policy(s.Name, map[bool]string{true: "on", false: "off"}[on], "on", "off")
	}
	return b + "</exclusion_sets><exclusions>" + strconv.Itoa(exclusions) + "</exclusions></" + method + "></SiteLockOnlineResponse>\n"
}

// TestWafSettings: TrueShield's configuration through getWafSettings and
// setWafSettings: the site's firewall mode, paranoia level, threshold and
// exclusion sets are read and changed (only what the call gives), the
// answers are exact, refusals name what is wrong, and another partner's
// site is not found.
func TestWafSettings(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	site, _, err := e.Service.CreateWebsite(ctx, e.Caller, core.WebsiteCreate{Domain: "shop.example.com"}, core.Idem{})
	if err != nil {
		t.Fatal(err)
	}
	sid := "<site_id>" + strconv.FormatInt(site.ID, 10) + "</site_id>"
	stored := func() engine.WAFSettings {
		t.Helper()
		_, st, err := e.Service.WebsiteSettings(ctx, e.Caller, site.Domain)
		if err != nil {
			t.Fatal(err)
		}
		return st.WAF
	}
	exact := func(r resp, want string) {
		t.Helper()
		if r.status != 200 || r.raw != want {
			t.Fatalf("answer %d\n%s\nwant\n%s", r.status, r.raw, want)
		}
	}
	// The defaults; by site_id and by domain.
	exact(e.call(t, "getWafSettings", sid), wafAnswer("getWafSettings", site.ID, site.Domain, "yes", "block", 1, 5, nil, 0))
	exact(e.call(t, "getWafSettings", "<domain>SHOP.example.com</domain>"), wafAnswer("getWafSettings", site.ID, site.Domain, "yes", "block", 1, 5, nil, 0))

	// A change elsewhere (the dashboard) that a set must keep.
	if _, _, err := e.Service.EditWebsiteSettings(ctx, e.Caller, site.Domain, core.Match{}, func(st *engine.Settings) error {
		st.WAF.Exclusions = []waf.Exclusion{{RuleIDs: []int{942100}, Path: "/search", Parameters: []string{"q"}}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sets, flipped := "", map[string]bool{}
	for _, s := range waf.Sets() {
		sets += "<" + s.Name + ">" + map[bool]string{true: "on", false: "OFF"}[!s.Default] + "</" + s.Name + ">"
		flipped[s.Name] = !s.Default
	}
	r := e.call(t, "setWafSettings", sid+"<mode>Detect</mode><paranoia>2</paranoia><threshold> 7 </threshold><exclusion_sets>"+sets+"</exclusion_sets>")
	exact(r, wafAnswer("setWafSettings", site.ID, site.Domain, "yes", "detect", 2, 7, flipped, 1))
	want := engine.WAFSettings{Mode: "detect", Paranoia: 2, Threshold: 7, Exclusions: []waf.Exclusion{{RuleIDs: []int{942100}, Path: "/search", Parameters: []string{"q"}}}}
	if len(flipped) > 0 {
		want.ExclusionSets = flipped
	}
	if w := stored(); !reflect.DeepEqual(w, want) {
		t.Fatalf("stored %+v; want %+v", w, want)
	}
	exact(e.call(t, "getWafSettings", sid), wafAnswer("getWafSettings", site.ID, site.Domain, "yes", "detect", 2, 7, flipped, 1))
	// Only what is given changes; "default" gives a set back its default.
	r = e.call(t, "setWafSettings", sid+"<mode>block</mode>")
	exact(r, wafAnswer("setWafSettings", site.ID, site.Domain, "yes", "block", 2, 7, flipped, 1))
	if len(waf.Sets()) > 0 {
		s := waf.Sets()[0]
		ok(t, e.call(t, "setWafSettings", sid+"<exclusion_sets><"+s.Name+">default</"+s.Name+"></exclusion_sets>"))
		if _, chosen := stored().ExclusionSets[s.Name]; chosen {
			t.Fatalf("%s=default kept the choice: %+v", s.Name, stored())
		}
		delete(flipped, s.Name)
	}

	// A plan without the firewall: the answer says so.
	if _, err := e.Service.SetPlanWAF(ctx, core.Operator(), site.Plan.Name, false); err != nil {
		t.Fatal(err)
	}
	exact(e.call(t, "getWafSettings", sid), wafAnswer("getWafSettings", site.ID, site.Domain, "no", "block", 2, 7, flipped, 1))

	// Refusals: nothing changes, the error says what is wrong.
	before := stored()
	for _, c := range []struct{ params, err string }{
		{sid + "<mode>panic</mode>", `invalid settings: waf.mode: must be block, detect or off, not "panic"`},
		{sid + "<paranoia>9</paranoia>", "invalid settings: waf.paranoia: must be a paranoia level from 1 to 4, not 9"},
		{sid + "<threshold>0</threshold><mode>off</mode>", ""}, // 0 is the default: allowed
		{sid + "<paranoia>high</paranoia>", `paranoia must be a paranoia level from 1 to 4, not "high"`},
		{sid + "<threshold>lots</threshold>", `threshold must be an anomaly score from 1 to 1000, not "lots"`},
		{sid + "<threshold>5000</threshold>", "invalid settings: waf.threshold: must be an anomaly score from 1 to 1000, not 5000"},
		{sid + "<exclusion_sets><typo3>on</typo3></exclusion_sets>", `exclusion_sets: "typo3" is not an exclusion set; the sets are`},
		{sid, "nothing to change: give mode, paranoia, threshold or exclusion_sets"},
		{"<mode>off</mode>", "site_id is required"},
		{"<site_id>x</site_id><mode>off</mode>", `site_id must be a positive number, not "x"`},
		{"<site_id>999999</site_id><mode>off</mode>", "site_id 999999 not found"},
	} {
		r := e.call(t, "setWafSettings", c.params)
		if c.err == "" {
			ok(t, r)
			if w := stored(); w.Mode != "off" || w.Threshold != 0 {
				t.Fatalf("%s: stored %+v", c.params, w)
			}
			before = stored()
			continue
		}
		if r.status != 200 {
			t.Fatalf("%s: status %d", c.params, r.status)
		}
		wantErr(t, r, c.err)
		if w := stored(); !reflect.DeepEqual(w, before) {
			t.Fatalf("%s: a refused call changed the settings to %+v", c.params, w)
		}
	}
	if len(waf.Sets()) > 0 {
		s := waf.Sets()[0]
		wantErr(t, e.call(t, "setWafSettings", sid+"<exclusion_sets><"+s.Name+">maybe</"+s.Name+"></exclusion_sets>"), "exclusion_sets: "+s.Name+` must be on, off or default, not "maybe"`)
	}

	// Another partner's site: not found, by id and by domain, and unchanged.
	op := core.Operator()
	pb, keyB, err := e.Service.CreatePartner(ctx, op, core.PartnerCreate{Name: "rival", AllowedIPs: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.TopUp(ctx, op, pb.ID, 100000, ""); err != nil {
		t.Fatal(err)
	}
	b, err := e.Service.Authenticate(ctx, keyB, netip.MustParseAddr("127.0.0.1"), core.ProtocolV1)
	if err != nil {
		t.Fatal(err)
	}
	rival, _, err := e.Service.CreateWebsite(ctx, b, core.WebsiteCreate{Domain: "rival.example.org"}, core.Idem{})
	if err != nil {
		t.Fatal(err)
	}
	rid := strconv.FormatInt(rival.ID, 10)
	wantErr(t, e.call(t, "getWafSettings", "<site_id>"+rid+"</site_id>"), "site_id "+rid+" not found")
	wantErr(t, e.call(t, "setWafSettings", "<site_id>"+rid+"</site_id><mode>off</mode>"), "site_id "+rid+" not found")
	if r := e.call(t, "setWafSettings", "<domain>rival.example.org</domain><mode>off</mode>"); !strings.Contains(r.err(), "not registered") {
		t.Fatalf("another partner's domain: %s", r.raw)
	}
	if _, st, err := e.Service.WebsiteSettings(ctx, b, rival.Domain); err != nil || st.WAF.Mode != "" {
		t.Fatalf("another partner's site changed: %+v %v", st.WAF, err)
	}
}
