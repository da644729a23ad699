package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
	"github.com/palisadehq/palisade/internal/waf"
	"github.com/palisadehq/palisade/internal/web"
)

// TestRuleEditorWAF: the rule editor's firewall section shows the mode,
// the paranoia levels with their explanations, the threshold and every
// exclusion set; saving it stores only what differs from the defaults;
// bad input is refused next to its field with nothing saved; exclusions
// are added and removed; a stale form is a conflict.
func TestRuleEditorWAF(t *testing.T) {
	e, jane, _, _ := fixture(t)
	ctx := context.Background()
	br := newBrowser(t, e.URL)
	edit := "/en/website/shop.example.com/edit"
	code, page, _ := br.get(edit + "?api-key=" + jane.APIKey)
	if code != 200 {
		t.Fatalf("editor: %d", code)
	}
	text := html.UnescapeString(page)
	for _, want := range []string{`<section class="card" id="waf">`, "Website firewall", `<option value="block" selected>`, `<option value="detect">`, `<option value="off">`,
		`<input type="radio" name="paranoia" value="1" checked> 1 (default): only rules that almost never match`, `name="threshold" inputmode="numeric" size="5" value="5"`,
		"No exclusions of your own."} {
		if !strings.Contains(text, want) {
			t.Fatalf("the firewall section lacks %q:\n%s", want, page)
		}
	}
	for _, l := range []string{"2", "3", "4"} {
		if !regexp.MustCompile(`<input type="radio" name="paranoia" value="` + l + `"> ` + l + `: [^<]{20,}</label>`).MatchString(page) {
			t.Errorf("paranoia level %s is not offered with an explanation", l)
		}
	}
	for _, s := range waf.Sets() {
		box := regexp.MustCompile(`<input type="checkbox" name="set\.` + s.Name + `" value="1"( checked)?> ` + regexp.QuoteMeta(html.EscapeString(s.Title))).FindStringSubmatch(page)
		if box == nil || (box[1] != "") != s.Default {
			t.Errorf("exclusion set %s: switch %q; want checked %v", s.Name, box, s.Default)
		}
		if !strings.Contains(text, s.Description) {
			t.Errorf("exclusion set %s: the description is not shown", s.Name)
		}
	}
	token, version := csrf(t, page), formVersion(t, page)
	settings := func() engine.WAFSettings {
		t.Helper()
		_, st, err := e.Service.WebsiteSettings(ctx, e.Caller, "shop.example.com")
		if err != nil {
			t.Fatal(err)
		}
		return st.WAF
	}
	post := func(form url.Values) (int, string) {
		t.Helper()
		form.Set("csrf", token)
		form.Set("version", version)
		code, page := br.post(edit, form)
		if v := versionRe.FindStringSubmatch(page); v != nil {
			version = v[1]
		}
		return code, page
	}
	defaults := func(f url.Values) url.Values {
		for _, s := range waf.Sets() {
			if s.Default {
				f.Set("set."+s.Name, "1")
			}
		}
		return f
	}
	// Saved as shown, nothing is stored: the site keeps following the
	// defaults.
	if code, page := post(defaults(url.Values{"form": {"waf"}, "waf_mode": {"block"}, "paranoia": {"1"}, "threshold": {"5"}})); code != 200 || !strings.Contains(page, "Saved.") {
		t.Fatalf("save unchanged: %d %s", code, page)
	}
	if w := settings(); !reflect.DeepEqual(w, engine.WAFSettings{}) {
		t.Fatalf("saving the defaults stored %+v", w)
	}
	// Refused: nothing saved, each problem next to its field, the input kept.
	code, page = post(defaults(url.Values{"form": {"waf"}, "waf_mode": {"detect"}, "paranoia": {"7"}, "threshold": {"5"}}))
	if code != 422 || !strings.Contains(page, `<legend>Paranoia level</legend><span class="field-error" role="alert">must be a paranoia level from 1 to 4, not 7</span>`) ||
		!strings.Contains(page, `<option value="detect" selected>`) {
		t.Fatalf("paranoia level 7: %d %s", code, page)
	}
	code, page = post(defaults(url.Values{"form": {"waf"}, "waf_mode": {"detect"}, "paranoia": {"2"}, "threshold": {"many"}}))
	if code != 422 || !strings.Contains(page, `name="threshold" inputmode="numeric" size="5" value="many" placeholder="5"><span class="field-error" role="alert">must be a whole number</span>`) ||
		!strings.Contains(page, `name="paranoia" value="2" checked>`) {
		t.Fatalf("threshold \"many\": %d %s", code, page)
	}
	code, page = post(defaults(url.Values{"form": {"waf"}, "waf_mode": {"panic"}, "paranoia": {"1"}, "threshold": {"5000"}}))
	if code != 422 || !strings.Contains(page, `must be block, detect or off, not &#34;panic&#34;`) || !strings.Contains(page, `must be an anomaly score from 1 to 1000, not 5000`) {
		t.Fatalf("mode panic, threshold 5000: %d %s", code, page)
	}
	if w := settings(); !reflect.DeepEqual(w, engine.WAFSettings{}) {
		t.Fatalf("a refused form was saved: %+v", w)
	}
	// Every set switched away from its default, detect at level 2.
	form := url.Values{"form": {"waf"}, "waf_mode": {"detect"}, "paranoia": {"2"}, "threshold": {"7"}}
	want := engine.WAFSettings{Mode: "detect", Paranoia: 2, Threshold: 7}
	for _, s := range waf.Sets() {
		if !s.Default {
			form.Set("set."+s.Name, "1")
		}
		if want.ExclusionSets == nil {
			want.ExclusionSets = map[string]bool{}
		}
		want.ExclusionSets[s.Name] = !s.Default
	}
	if code, page = post(form); code != 200 || !strings.Contains(page, "Saved.") {
		t.Fatalf("save the firewall: %d %s", code, page)
	}
	if w := settings(); !reflect.DeepEqual(w, want) {
		t.Fatalf("saved %+v; want %+v", w, want)
	}
	if !strings.Contains(page, `<option value="detect" selected>`) || !strings.Contains(page, `name="paranoia" value="2" checked>`) || !strings.Contains(page, `name="threshold" inputmode="numeric" size="5" value="7"`) {
		t.Fatalf("the page does not show what was saved: %s", page)
	}

	// Exclusions: added, shown, refused when they narrow nothing, removed.
	code, page = post(url.Values{"form": {"waf-exclusion"}, "rule_ids": {"942100, 942190"}, "path": {"/search"}, "parameters": {"q"}, "note": {"search box"}})
	if code != 200 || !strings.Contains(page, "Saved.") || !strings.Contains(page, "rules 942100, 942190 · under /search · in q") || !strings.Contains(page, "search box") {
		t.Fatalf("add an exclusion: %d %s", code, page)
	}
	first := waf.Exclusion{RuleIDs: []int{942100, 942190}, Path: "/search", Parameters: []string{"q"}, Note: "search box"}
	if w := settings(); len(w.Exclusions) != 1 || !reflect.DeepEqual(w.Exclusions[0], first) {
		t.Fatalf("exclusions %+v", w.Exclusions)
	}
	code, page = post(url.Values{"form": {"waf-exclusion"}, "rule_ids": {"942x"}, "path": {"/a"}})
	if code != 422 || !strings.Contains(page, `name="rule_ids" value="942x" placeholder="942100, 942190"><span class="field-error" role="alert">&#34;942x&#34; is not a rule ID`) {
		t.Fatalf("a bad rule id: %d %s", code, page)
	}
	code, page = post(url.Values{"form": {"waf-exclusion"}, "note": {"nothing"}})
	if code != 422 || !regexp.MustCompile(`<input type="hidden" name="form" value="waf-exclusion">.*\s*<span class="field-error" role="alert">an exclusion must name at least one of`).MatchString(page) ||
		!strings.Contains(page, `<details id="exclusion-form" open>`) {
		t.Fatalf("an exclusion that narrows nothing: %d %s", code, page)
	}
	code, page = post(url.Values{"form": {"waf-exclusion"}, "tags": {"attack-xss"}, "path": {"/wp-admin/"}, "cookie": {"wordpress_logged_in"}})
	if code != 200 || len(settings().Exclusions) != 2 {
		t.Fatalf("a second exclusion: %d %+v", code, settings().Exclusions)
	}
	if code, page = post(url.Values{"form": {"waf-exclusion-delete"}, "index": {"0"}}); code != 200 {
		t.Fatalf("delete: %d %s", code, page)
	}
	if w := settings(); len(w.Exclusions) != 1 || w.Exclusions[0].Path != "/wp-admin/" || !reflect.DeepEqual(w.Exclusions[0].Tags, []string{"attack-xss"}) {
		t.Fatalf("after deleting the first: %+v", w.Exclusions)
	}

	// A form from before a change elsewhere is not saved: 409, the input
	// kept, what the part holds now.
	stale := version
	if _, _, err := e.Service.EditWebsiteSettings(ctx, e.Caller, "shop.example.com", core.Match{}, func(st *engine.Settings) error {
		st.WAF.Threshold = 9
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	code, page = br.post(edit, url.Values{"csrf": {token}, "version": {stale}, "form": {"waf"}, "waf_mode": {"off"}, "paranoia": {"3"}, "threshold": {"7"}})
	if code != 409 || !strings.Contains(page, "Changed elsewhere: reload.") || !strings.Contains(page, "mode detect, paranoia level 2, threshold 9") ||
		!strings.Contains(page, `<option value="off" selected>`) || !strings.Contains(page, `name="paranoia" value="3" checked>`) {
		t.Fatalf("a stale firewall form: %d %s", code, page)
	}
	if w := settings(); w.Mode != "detect" || w.Threshold != 9 {
		t.Fatalf("a stale form changed the settings: %+v", w)
	}
	code, page = br.post(edit, url.Values{"csrf": {token}, "version": {stale}, "form": {"waf-exclusion-delete"}, "index": {"0"}})
	if code != 409 || !strings.Contains(html.UnescapeString(page), "Saved now: <span class=\"val\">exclusion 1 is tags attack-xss · under /wp-admin/ · in every input · with a cookie wordpress_logged_in…") {
		t.Fatalf("a stale delete: %d %s", code, page)
	}
	if len(settings().Exclusions) != 1 {
		t.Fatal("a stale delete removed an exclusion")
	}

	if strings.Contains(page, `id="waf-noplan"`) {
		t.Fatal("a plan with the firewall: the editor says it has none")
	}
	// A plan without the firewall: the editor says so.
	if _, err := e.Service.SetPlanWAF(ctx, core.Operator(), "10k", false); err != nil {
		t.Fatal(err)
	}
	if _, page, _ = br.get(edit); !strings.Contains(page, `<p class="notice wait" id="waf-noplan">Your plan does not include the website firewall`) {
		t.Fatalf("a plan without the firewall: %s", page)
	}

	// German.
	_, page, _ = br.get("/de/website/shop.example.com/edit")
	if text := html.UnescapeString(page); !strings.Contains(text, "Website-Firewall") || !strings.Contains(text, "Paranoia-Stufe") || !strings.Contains(text, "Eigene Ausnahmen") {
		t.Fatalf("German firewall section: %s", page)
	}
	if !strings.Contains(html.UnescapeString(page), "Tags attack-xss · unter /wp-admin/ · in jeder Eingabe · mit einem Cookie wordpress_logged_in…") {
		t.Fatalf("the exclusion is not summarised in German: %s", page)
	}
	// Every exclusion set is described in German too.
	for _, s := range waf.Sets() {
		if !regexp.MustCompile(`name="set\.` + s.Name + `" value="1"[^>]*> [^<]+(<span class="badge">standardmäßig an</span>)?<br><span class="muted">[^<]*(Cross-Site-Scripting|SQL-Injection|Daten sind|Anbindungen)`).MatchString(page) {
			t.Errorf("exclusion set %s has no German description", s.Name)
		}
	}
}

// wafEvent records an event of site with the firewall's findings.
func wafEvent(t *testing.T, e interface {
	RecordDecisions(context.Context, []core.Event, []core.StatRow) error
}, site core.Website, at core.Event) {
	t.Helper()
	at.PartnerID, at.WebsiteID = site.PartnerID, site.ID
	if err := e.RecordDecisions(context.Background(), []core.Event{at}, nil); err != nil {
		t.Fatal(err)
	}
}

// TestEventAllowsWAFExclusion: a firewall event's page shows the attack
// class, score, rules, where they matched and the matched data, and offers
// "this is fine", which adds exactly the exclusion it shows (the matched
// rules, the event's path, the parameter) once; it needs the CSRF token,
// is refused for an event without firewall findings, and reaches no other
// tenant's event.
func TestEventAllowsWAFExclusion(t *testing.T) {
	e, jane, bob, site := fixture(t)
	ctx := context.Background()
	now := e.Clock.Now()
	sqli := core.Event{At: now, IP: "203.0.113.7", Method: "GET", Host: "shop.example.com", Path: "/search", Query: "q=1%27+or+%271%27%3D%271",
		Action: "deny", Category: "security_issues", Source: "waf", Reason: "waf", UserAgent: "Mozilla/5.0",
		WAF: &core.EventWAF{Mode: "block", Blocked: true, Score: 5, Class: "sqli", Rules: []core.EventWAFRule{
			{ID: 942100, Msg: "SQL Injection Attack Detected via libinjection", Class: "sqli", Var: "ARGS:q", Data: "1' or '1'='1"},
			{ID: 949110, Msg: "Inbound Anomaly Score Exceeded (Total Score: 5)"},
		}}}
	wafEvent(t, e.Service, site, sqli)
	wafEvent(t, e.Service, site, core.Event{At: now, IP: "203.0.113.8", Method: "GET", Host: "shop.example.com", Path: "/", Action: "deny",
		Category: "security_issues", Source: "category", Reason: "security_issues", UserAgent: "sqlmap/1.7"})
	bobSite, err := e.Service.Website(ctx, e.Caller, "bob.example.org")
	if err != nil {
		t.Fatal(err)
	}
	wafEvent(t, e.Service, bobSite, core.Event{At: now, IP: "203.0.113.9", Method: "GET", Host: "bob.example.org", Path: "/bob", Action: "deny",
		Source: "waf", Reason: "waf", WAF: &core.EventWAF{Mode: "block", Blocked: true, Score: 5, Class: "xss",
			Rules: []core.EventWAFRule{{ID: 941100, Msg: "XSS Attack Detected via libinjection", Class: "xss", Var: "ARGS:c", Data: "<script>"}}}})
	ids := map[string]int64{}
	for _, d := range []string{"shop.example.com", "bob.example.org"} {
		es, err := e.Service.Events(ctx, e.Caller, d, core.EventFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range es {
			ids[ev.Host+ev.Path] = ev.ID
		}
	}
	wafID, plainID, bobID := ids["shop.example.com/search"], ids["shop.example.com/"], ids["bob.example.org/bob"]
	if wafID == 0 || plainID == 0 || bobID == 0 {
		t.Fatalf("events %v", ids)
	}
	br := newBrowser(t, e.URL)
	base := "/en/website/shop.example.com"
	code, page, _ := br.get(base + "/events/" + strconv.FormatInt(wafID, 10) + "?api-key=" + jane.APIKey)
	text := html.UnescapeString(page)
	for _, want := range []string{"Website firewall", "SQL injection", "<dd>5</dd>", "942100", "SQL Injection Attack Detected via libinjection", "ARGS:q", "1' or '1'='1",
		`<dd>Blocked</dd>`, "rules 942100 · under /search · in q", "This is fine: allow this parameter on this path",
		`action="/en/website/shop.example.com/events/` + strconv.FormatInt(wafID, 10) + `/allow"`} {
		if !strings.Contains(text, want) {
			t.Fatalf("the firewall event's page lacks %q: %d %s", want, code, page)
		}
	}
	token := csrf(t, page)
	exclusions := func() []waf.Exclusion {
		t.Helper()
		_, st, err := e.Service.WebsiteSettings(ctx, e.Caller, "shop.example.com")
		if err != nil {
			t.Fatal(err)
		}
		return st.WAF.Exclusions
	}
	allow := func(id int64, tok string) (int, string) {
		t.Helper()
		f := url.Values{}
		if tok != "" {
			f.Set("csrf", tok)
		}
		return br.post(base+"/events/"+strconv.FormatInt(id, 10)+"/allow", f)
	}
	if code, _ := allow(wafID, ""); code != 403 || len(exclusions()) != 0 {
		t.Fatalf("without the CSRF token: %d %+v", code, exclusions())
	}
	if code, _ := allow(wafID, "0123456789abcdef0123456789abcdef"); code != 403 || len(exclusions()) != 0 {
		t.Fatalf("with a wrong CSRF token: %d", code)
	}
	code, page = allow(wafID, token)
	want := []waf.Exclusion{{RuleIDs: []int{942100}, Path: "/search", Parameters: []string{"q"}, Note: "allowed from event " + strconv.FormatInt(wafID, 10)}}
	if code != 200 || !strings.Contains(page, "Saved.") || !reflect.DeepEqual(exclusions(), want) {
		t.Fatalf("this is fine: %d %+v; want %+v\n%s", code, exclusions(), want, page)
	}
	if !strings.Contains(page, "rules 942100 · under /search · in q") {
		t.Fatalf("the editor does not list the new exclusion: %s", page)
	}
	// Twice is once.
	if code, _ = allow(wafID, token); code != 200 || !reflect.DeepEqual(exclusions(), want) {
		t.Fatalf("allowed twice: %d %+v", code, exclusions())
	}
	// An event without firewall findings offers nothing and is refused.
	code, page, _ = br.get(base + "/events/" + strconv.FormatInt(plainID, 10))
	if code != 200 || strings.Contains(page, `/allow"`) || strings.Contains(page, `id="waf"`) {
		t.Fatalf("a plain event's page: %d %s", code, page)
	}
	if code, page = allow(plainID, token); code != 422 || !strings.Contains(page, "The website firewall found nothing in this request") || !reflect.DeepEqual(exclusions(), want) {
		t.Fatalf("a plain event: %d %s", code, page)
	}
	// The events list filters by attack class.
	if code, page, _ = br.get(base + "/events?waf_class=sqli"); code != 200 || !strings.Contains(page, `<td class="path" data-label="Path">/<wbr>search</td>`) || strings.Contains(page, "203.0.113.8") ||
		!strings.Contains(page, `Website firewall <span class="badge">SQL injection</span>`) || !strings.Contains(page, `<option value="sqli" selected>SQL injection</option>`) {
		t.Fatalf("events of class sqli: %d %s", code, page)
	}
	if _, page, _ = br.get(base + "/events?waf_class=any"); !strings.Contains(page, `<td class="path" data-label="Path">/<wbr>search</td>`) || strings.Contains(page, "203.0.113.8") {
		t.Fatalf("events with any finding: %s", page)
	}
	if _, page, _ = br.get(base + "/events?waf_class=xss"); strings.Contains(page, `<td class="path" data-label="Path">/<wbr>search</td>`) {
		t.Fatalf("events of class xss: %s", page)
	}
	if _, page, _ = br.get(base + "/events?waf_class=nope"); !strings.Contains(page, `unknown attack class &#34;nope&#34;`) {
		t.Fatalf("an unknown class: %s", page)
	}
	// Another tenant's event is not there, by either website's address.
	if code, _ = allow(bobID, token); code != 404 {
		t.Fatalf("Bob's event under Jane's website: %d", code)
	}
	if code, _ = br.post("/en/website/bob.example.org/events/"+strconv.FormatInt(bobID, 10)+"/allow", url.Values{"csrf": {token}}); code != 404 {
		t.Fatalf("Bob's event under Bob's website, from Jane's session: %d", code)
	}
	_, st, _ := e.Service.WebsiteSettings(ctx, e.Caller, "bob.example.org")
	if len(st.WAF.Exclusions) != 0 || !reflect.DeepEqual(exclusions(), want) {
		t.Fatalf("exclusions after refused requests: Bob %+v, Jane %+v", st.WAF.Exclusions, exclusions())
	}
	bobBrowser := newBrowser(t, e.URL)
	if code, _, _ = bobBrowser.get("/en/website/bob.example.org/events/" + strconv.FormatInt(bobID, 10) + "?api-key=" + bob.APIKey); code != 200 {
		t.Fatalf("Bob's own event: %d", code)
	}
}

// TestExclusionFromEvent: which exclusion "this is fine" makes of a
// firewall finding.
func TestExclusionFromEvent(t *testing.T) {
	ev := func(rules ...core.EventWAFRule) core.Event {
		return core.Event{ID: 7, Path: "/wp-admin/post.php", WAF: &core.EventWAF{Mode: "block", Blocked: true, Rules: rules}}
	}
	for _, c := range []struct {
		name string
		ev   core.Event
		want *waf.Exclusion
	}{
		{"parameters, scoring rules left out", ev(
			core.EventWAFRule{ID: 941160, Var: "ARGS_POST:content"},
			core.EventWAFRule{ID: 941100, Var: "ARGS:content"},
			core.EventWAFRule{ID: 942100, Var: "REQUEST_COOKIES:pref"},
			core.EventWAFRule{ID: 949110}, core.EventWAFRule{ID: 980170}),
			&waf.Exclusion{RuleIDs: []int{941100, 941160, 942100}, Path: "/wp-admin/post.php", Parameters: []string{"content", "cookie:pref"}}},
		{"a match outside parameters: every input", ev(
			core.EventWAFRule{ID: 941100, Var: "ARGS:content"},
			core.EventWAFRule{ID: 920350, Var: "REQUEST_HEADERS:Host"},
			core.EventWAFRule{ID: 930120, Var: "REQUEST_FILENAME"}),
			&waf.Exclusion{RuleIDs: []int{920350, 930120, 941100}, Path: "/wp-admin/post.php"}},
		{"a name that reads as a kind", ev(core.EventWAFRule{ID: 941100, Var: "ARGS:header:x"}),
			&waf.Exclusion{RuleIDs: []int{941100}, Path: "/wp-admin/post.php", Parameters: []string{"arg:header:x"}}},
		{"only a virtual patch", ev(core.EventWAFRule{ID: 1000001, Var: "ARGS:x", Patch: "cve-2026-1"}), nil},
		{"no firewall part", core.Event{ID: 7, Path: "/"}, nil},
	} {
		got, ok := web.ExclusionFromEvent(c.ev)
		if c.want == nil {
			if ok {
				t.Errorf("%s: made %+v", c.name, got)
			}
			continue
		}
		c.want.Note = "allowed from event 7"
		if !ok || !reflect.DeepEqual(got, *c.want) {
			t.Errorf("%s: %+v %v; want %+v", c.name, got, ok, *c.want)
		}
		if err := waf.ValidateExclusion(got); err != nil {
			t.Errorf("%s: the exclusion made is refused: %v", c.name, err)
		}
	}
}

// TestStatisticsWAFClasses: the statistics page counts attacks by class.
func TestStatisticsWAFClasses(t *testing.T) {
	e, jane, _, site := fixture(t)
	now := e.Clock.Now()
	br := newBrowser(t, e.URL)
	_, page, _ := br.get("/en/website/shop.example.com/statistics?api-key=" + jane.APIKey)
	if !strings.Contains(page, "Attacks by class") || !strings.Contains(page, "No attacks recorded in this period.") {
		t.Fatalf("statistics without attacks: %s", page)
	}
	row := func(class, action string, n int64) core.StatRow {
		return core.StatRow{WebsiteID: site.ID, PartnerID: site.PartnerID, Minute: now.Add(-time.Minute).Truncate(time.Minute), Action: action, Count: n, WAFClass: class}
	}
	if err := e.Service.RecordDecisions(context.Background(), nil, []core.StatRow{row("sqli", core.WAFBlocked, 3), row("sqli", core.WAFDetected, 1), row("xss", core.WAFDetected, 2)}); err != nil {
		t.Fatal(err)
	}
	_, page, _ = br.get("/en/website/shop.example.com/statistics")
	if !regexp.MustCompile(`<a href="/en/website/shop.example.com/events\?waf_class=sqli">SQL injection</a> <span class="muted val">sqli</span></td><td class="num">3</td><td class="num">1</td>`).MatchString(page) ||
		!regexp.MustCompile(`Cross-site scripting</a> <span class="muted val">xss</span></td><td class="num">0</td><td class="num">2</td>`).MatchString(page) {
		t.Fatalf("attacks by class: %s", page)
	}
	_, page, _ = br.get("/de/website/shop.example.com/statistics")
	if !strings.Contains(page, "Angriffe nach Art") || !strings.Contains(page, "SQL-Injection") {
		t.Fatalf("German attacks by class: %s", page)
	}
}

// TestEventAllowEndToEnd: a browser's request with SQL injection in one
// parameter is denied by the website firewall; on its event's page the
// customer clicks "this is fine", and within a second the same request is
// let through, while the same payload on another path is still denied.
func TestEventAllowEndToEnd(t *testing.T) {
	e, jane, _, site := fixture(t)
	ctx := context.Background()
	const attack = "/products?id=1%27%20OR%20%271%27%3D%271"
	if fa := forwardAuth(t, e, site.ServerKey, testenv.ChromeUA, attack); fa.StatusCode != 403 || fa.Header.Get("X-Palisade-Reason") != "waf" {
		t.Fatalf("SQL injection from a browser: %d %v", fa.StatusCode, fa.Header)
	}
	e.Recorder.Flush(ctx)
	es, err := e.Service.Events(ctx, e.Caller, site.Domain, core.EventFilter{Reason: "waf"})
	if err != nil || len(es) != 1 || es[0].WAF == nil || es[0].Path != "/products" {
		t.Fatalf("the firewall's event: %+v %v", es, err)
	}
	br := newBrowser(t, e.URL)
	code, page, _ := br.get("/en/website/shop.example.com/events/" + strconv.FormatInt(es[0].ID, 10) + "?api-key=" + jane.APIKey)
	if code != 200 || !strings.Contains(page, "ARGS:id") || !strings.Contains(page, "/allow") {
		t.Fatalf("the event's page: %d %s", code, page)
	}
	if code, page = br.post("/en/website/shop.example.com/events/"+strconv.FormatInt(es[0].ID, 10)+"/allow", url.Values{"csrf": {csrf(t, page)}}); code != 200 || !strings.Contains(page, "Saved.") {
		t.Fatalf("this is fine: %d %s", code, page)
	}
	_, st, _ := e.Service.WebsiteSettings(ctx, e.Caller, site.Domain)
	if len(st.WAF.Exclusions) != 1 || st.WAF.Exclusions[0].Path != "/products" {
		t.Fatalf("exclusions %+v", st.WAF.Exclusions)
	}
	t.Logf("the exclusion made: %+v", st.WAF.Exclusions[0])
	deadline := time.Now().Add(2 * time.Second)
	var fa *http.Response
	for time.Now().Before(deadline) {
		if fa = forwardAuth(t, e, site.ServerKey, testenv.ChromeUA, attack); fa.StatusCode == 200 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if fa.StatusCode != 200 {
		t.Fatalf("the allowed request is still refused a second later: %d %v (exclusion %+v)", fa.StatusCode, fa.Header, st.WAF.Exclusions[0])
	}
	if fa = forwardAuth(t, e, site.ServerKey, testenv.ChromeUA, "/search?q=1%27%20OR%20%271%27%3D%271"); fa.StatusCode != 403 || fa.Header.Get("X-Palisade-Reason") != "waf" {
		t.Fatalf("the payload on another path: %d %v", fa.StatusCode, fa.Header)
	}
	if len(st.WAF.Exclusions[0].Parameters) > 0 {
		if fa = forwardAuth(t, e, site.ServerKey, testenv.ChromeUA, "/products?name=1%27%20OR%20%271%27%3D%271"); fa.StatusCode != 403 {
			t.Fatalf("the payload in another parameter: %d %v", fa.StatusCode, fa.Header)
		}
	}
}
