package web_test

import (
	"context"
	"html"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/i18n"
	"github.com/palisadehq/palisade/internal/testenv"
)

var versionRe = regexp.MustCompile(`name="version" value="(\d+\.\d+-[0-9a-f]{16})"`)

// formVersion returns the version the rule editor's forms carry, checking
// that every writing form carries the same one.
func formVersion(t *testing.T, page string) string {
	t.Helper()
	all := versionRe.FindAllStringSubmatch(page, -1)
	if len(all) == 0 {
		t.Fatalf("no version field in %s", page)
	}
	for _, m := range all {
		if m[1] != all[0][1] {
			t.Fatalf("forms of one page carry versions %s and %s", all[0][1], m[1])
		}
	}
	return all[0][1]
}

// TestRuleEditorConflict: a form posted from a page whose settings were
// changed elsewhere since is not saved; the page comes back (409) with the
// input as typed, the current settings and version, "changed elsewhere:
// reload" and a reload link; saving again from it lands without undoing
// the other change.
func TestRuleEditorConflict(t *testing.T) {
	e, jane, _, site := fixture(t)
	ctx := context.Background()
	br := newBrowser(t, e.URL)
	edit := "/en/website/shop.example.com/edit"
	code, page, _ := br.get(edit + "?api-key=" + jane.APIKey)
	if code != 200 {
		t.Fatalf("editor: %d", code)
	}
	token, stale := csrf(t, page), formVersion(t, page)
	// Elsewhere (the User API, another window): a deny entry is added.
	elsewhere := func(ip string) {
		t.Helper()
		if _, _, err := e.Service.EditWebsiteSettings(ctx, e.Caller, "shop.example.com", core.Match{}, func(st *engine.Settings) error {
			st.Deny = append(st.Deny, ip)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	elsewhere("198.51.100.1")
	settings := func() engine.Settings {
		t.Helper()
		_, st, err := e.Service.WebsiteSettings(ctx, e.Caller, "shop.example.com")
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	conflicted := func(t *testing.T, code int, page string, want ...string) string {
		t.Helper()
		if code != 409 {
			t.Fatalf("a stale form: %d; want 409", code)
		}
		text := strings.NewReplacer(`<span class="val">`, "", "</span>", "").Replace(html.UnescapeString(page))
		for _, w := range append([]string{"Changed elsewhere: reload.", `<a href="/en/website/shop.example.com/edit">Reload the current settings`}, want...) {
			if !strings.Contains(text, w) {
				t.Fatalf("conflict page lacks %q:\n%s", w, page)
			}
		}
		v := formVersion(t, page)
		if v == stale {
			t.Fatalf("the conflict page still carries the stale version %s", v)
		}
		return v
	}

	rule := url.Values{"csrf": {token}, "version": {stale}, "form": {"rule"}, "name": {"block-admin"}, "action": {"deny"}, "enabled": {"1"},
		"cond.0.field": {"path"}, "cond.0.op": {"starts_with"}, "cond.0.value": {"/admin/secret"}}
	code, page = br.post(edit, rule)
	current := conflicted(t, code, page, `name="name" value="block-admin"`, `name="cond.0.value" value="/admin/secret"`, "Saved now: 0 custom rules")
	if st := settings(); len(st.Rules) != 0 || !slices.Equal(st.Deny, []string{"198.51.100.1"}) {
		t.Fatalf("a stale rule form changed the settings: %+v", st)
	}
	// The lists form: the textareas hold the input, the notice what is saved.
	lists := url.Values{"csrf": {token}, "version": {stale}, "form": {"lists"}, "allow": {"192.0.2.0/24"}, "deny": {"203.0.113.9"}}
	code, page = br.post(edit, lists)
	conflicted(t, code, page, ">192.0.2.0/24</textarea>", ">203.0.113.9</textarea>", "Saved now: allow none; deny 198.51.100.1")
	// A form without a version (a page from before versioning) is stale.
	lists.Del("version")
	code, page = br.post(edit, lists)
	conflicted(t, code, page, ">203.0.113.9</textarea>")

	// Saved again from the conflict page, the rule lands and the deny
	// entry made elsewhere stays.
	rule.Set("version", current)
	if code, page = br.post(edit, rule); code != 200 || !strings.Contains(page, "Saved.") {
		t.Fatalf("save from the conflict page: %d %s", code, page)
	}
	if st := settings(); len(st.Rules) != 1 || st.Rules[0].Name != "block-admin" || !slices.Equal(st.Deny, []string{"198.51.100.1"}) {
		t.Fatalf("after saving again: %+v", st)
	}

	// A change of the website that leaves its settings alone (the first
	// traffic, a renewal) is no conflict: the form saves.
	version := formVersion(t, page)
	if seen, err := e.Service.MarkSeen(ctx, site.PartnerID, site.ID, site.Domain); err != nil || !seen {
		t.Fatalf("first traffic: %v %v", seen, err)
	}
	if code, page = br.post(edit, url.Values{"csrf": {token}, "version": {version}, "form": {"rule-toggle"}, "index": {"0"}}); code != 200 || !strings.Contains(page, "Saved.") {
		t.Fatalf("a form of a version whose settings are unchanged: %d %s", code, page)
	}

	// Buttons that act on a rule by its place are refused when the rules
	// changed meanwhile: rule 1 may be another rule by now.
	version = formVersion(t, page)
	elsewhere("198.51.100.2")
	code, page = br.post(edit, url.Values{"csrf": {token}, "version": {version}, "form": {"rule-delete"}, "index": {"0"}})
	conflicted(t, code, page, `Saved now: rule 1 is "block-admin" (Block): Path starts with "/admin/secret"`)
	if st := settings(); len(st.Rules) != 1 || len(st.Deny) != 2 {
		t.Fatalf("a stale delete changed the settings: %+v", st)
	}

	// German pages say it in German.
	_, page, _ = br.get("/de/website/shop.example.com/edit")
	code, page = br.post("/de/website/shop.example.com/edit", url.Values{"csrf": {csrf(t, page)}, "version": {stale}, "form": {"categories"}, "cat.ai_crawlers": {"deny"}})
	if code != 409 || !strings.Contains(html.UnescapeString(page), "Anderswo geändert: neu laden.") || !strings.Contains(page, `<option value="deny" selected>Blockieren</option>`) {
		t.Fatalf("German conflict page: %d %s", code, page)
	}
}

// TestRuleEditorBuiltins: every built-in grant is shown with its
// explanation and a switch; saving the form toggles them, declares
// webhooks (presets and paths), API paths and server addresses; bad input
// is refused next to its field; "test a request" names a built-in grant.
func TestRuleEditorBuiltins(t *testing.T) {
	e, jane, _, _ := fixture(t)
	ctx := context.Background()
	br := newBrowser(t, e.URL)
	edit := "/en/website/shop.example.com/edit"
	code, page, _ := br.get(edit + "?api-key=" + jane.APIKey)
	if code != 200 {
		t.Fatalf("editor: %d", code)
	}
	text := html.UnescapeString(page)
	for _, b := range engine.Builtins() {
		box := regexp.MustCompile(`<input type="checkbox" name="builtin\.` + b.Name + `" value="1"( checked)?>`).FindStringSubmatch(page)
		if box == nil || (box[1] != "") != b.Default {
			t.Errorf("built-in %s: switch %q; want checked %v", b.Name, box, b.Default)
		}
		if !strings.Contains(text, b.Explanation) {
			t.Errorf("built-in %s: the explanation %q is not shown", b.Name, b.Explanation)
		}
	}
	// Every category, the default grants among them, has its explanation.
	for _, c := range engine.Categories() {
		if !regexp.MustCompile(`<select name="cat\.` + c + `">.*?</select><br><span class="muted">[^<]{10,}</span>`).MatchString(page) {
			t.Errorf("category %s has no explanation", c)
		}
	}
	for _, p := range engine.WebhookPresets() {
		if !strings.Contains(page, `name="preset.`+p.Name+`" value="1">`) || !strings.Contains(text, p.Description) {
			t.Errorf("preset %s is not offered", p.Name)
		}
	}
	token, version := csrf(t, page), formVersion(t, page)
	form := url.Values{"csrf": {token}, "version": {version}, "form": {"builtins"}, "preset.woocommerce": {"1"},
		"webhooks": {"/hooks/pay\n/?give-listener=stripe\npreset:woocommerce"}, "api_paths": {"/api/\n/wp-json/wc/v3/"}, "server_addresses": {"192.0.2.10, 2001:db8::/64"}}
	for _, b := range engine.Builtins() {
		// robots_txt off, pending_crawlers on, the rest as they were.
		if (b.Default && b.Name != "robots_txt") || b.Name == "pending_crawlers" {
			form.Set("builtin."+b.Name, "1")
		}
	}
	// Refused: nothing saved, the problems next to their fields.
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("webhooks", "hooks/pay\n")
	bad.Set("server_addresses", "10.0.0.0/8")
	code, page = br.post(edit, bad)
	if code != 422 || !strings.Contains(page, "hooks/pay\n</textarea>"+`<span class="field-error" role="alert">&#34;hooks/pay&#34; must start with /</span>`) ||
		!strings.Contains(page, `wider than a server`) {
		t.Fatalf("bad built-in settings: %d %s", code, page)
	}
	settings := func() engine.Settings {
		t.Helper()
		_, st, err := e.Service.WebsiteSettings(ctx, e.Caller, "shop.example.com")
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := settings(); st.Builtins != nil || st.Webhooks != nil {
		t.Fatalf("a refused form was saved: %+v", st)
	}
	code, page = br.post(edit, form)
	if code != 200 || !strings.Contains(page, "Saved.") {
		t.Fatalf("save built-ins: %d %s", code, page)
	}
	st := settings()
	if len(st.Builtins) != 2 || st.Builtins["robots_txt"] || !st.Builtins["pending_crawlers"] ||
		!slices.Equal(st.Webhooks, []string{"preset:woocommerce", "/hooks/pay", "/?give-listener=stripe"}) ||
		!slices.Equal(st.APIPaths, []string{"/api/", "/wp-json/wc/v3/"}) || !slices.Equal(st.ServerAddresses, []string{"192.0.2.10", "2001:db8::/64"}) {
		t.Fatalf("saved built-in settings: %+v", st)
	}
	for name, want := range map[string]bool{"robots_txt": false, "pending_crawlers": true, "sitemaps": true} {
		if got := strings.Contains(page, `name="builtin.`+name+`" value="1" checked>`); got != want {
			t.Errorf("after saving, %s checked %v; want %v", name, got, want)
		}
	}
	if !strings.Contains(page, `name="preset.woocommerce" value="1" checked>`) || !strings.Contains(page, ">/hooks/pay\n/?give-listener=stripe</textarea>") {
		t.Errorf("after saving, the webhooks are not shown as saved: %s", page)
	}
	// Test a request: a built-in grant is named as the reason.
	code, page = br.post(edit, url.Values{"csrf": {token}, "form": {"test"}, "ip": {"198.51.100.4"}, "method": {"GET"}, "path": {"/sitemap.xml"}, "ua": {"curl/8.5.0"}})
	if code != 200 || !strings.Contains(page, `<span class="badge act-grant">Allow</span> <code class="api">grant</code> — built-in grant sitemaps`) {
		t.Fatalf("test a request: %d %s", code, page)
	}
	code, page = br.post(edit, url.Values{"csrf": {token}, "form": {"test"}, "ip": {"198.51.100.4"}, "method": {"GET"}, "path": {"/robots.txt"}, "ua": {"curl/8.5.0"}})
	if code != 200 || !strings.Contains(page, `<span class="badge act-challenge">Browser challenge</span> <code class="api">challenge</code> — Automation tools`) {
		t.Fatalf("test a request with robots_txt off: %d %s", code, page)
	}
	// German pages explain in German.
	_, page, _ = br.get("/de/website/shop.example.com/edit")
	if !strings.Contains(html.UnescapeString(page), "Standardmäßig nicht geprüft") || !strings.Contains(html.UnescapeString(page), "ein Crawler muss sie lesen") {
		t.Fatalf("German built-ins: %s", page)
	}
}

// editorAt opens the rule editor of shop.example.com as jane, in lang.
func editorAt(t *testing.T, e *testenv.Stack, jane core.Subaccount, lang string) (*browser, string) {
	t.Helper()
	br := newBrowser(t, e.URL)
	code, page, _ := br.get("/" + lang + "/website/shop.example.com/edit?api-key=" + jane.APIKey)
	if code != 200 {
		t.Fatalf("editor: %d %s", code, page)
	}
	return br, page
}

func setRules(t *testing.T, e *testenv.Stack, rules ...engine.Rule) {
	t.Helper()
	if _, _, err := e.Service.EditWebsiteSettings(context.Background(), e.Caller, "shop.example.com", core.Match{}, func(st *engine.Settings) error {
		st.Rules = rules
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func siteSettings(t *testing.T, e *testenv.Stack) engine.Settings {
	t.Helper()
	_, st, err := e.Service.WebsiteSettings(context.Background(), e.Caller, "shop.example.com")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

var (
	condRowRe = regexp.MustCompile(`<select name="cond\.(\d+)\.field"`)
	codeRe    = regexp.MustCompile(`(?s)<code[^>]*>.*?</code>`)
	ruleTagRe = regexp.MustCompile(`(?s)<script.*?</script>|<style.*?</style>|<[^>]*>`)
)

// editorText is a page's text as a reader sees it (tags dropped).
func editorText(page string) string {
	return html.UnescapeString(ruleTagRe.ReplaceAllString(page, " "))
}

// TestRuleEditorLabels: fields, operators, categories and actions are
// shown by their human labels, each with its API name small beside it; a
// rule's summary reads as words; the form offers only the actions its
// kind takes, and shows a rule's conditions plus one empty row.
func TestRuleEditorLabels(t *testing.T) {
	e, jane, _, _ := fixture(t)
	setRules(t, e, engine.Rule{Name: "block-admin", Action: "deny", Conditions: []engine.Condition{
		{Field: "path", Op: "starts_with", Value: "/admin"}, {Field: "header", Header: "X-Debug", Op: "is", Value: "1"}}})
	_, page := editorAt(t, e, jane, "en")
	for _, want := range []string{
		`<option value="ip" data-ops="is is_not is_any_of">Client IP address</option>`,
		`<option value="user_agent">User agent</option>`,
		`<option value="starts_with">starts with</option>`,
		`<td>starts with</td><td><code class="api">starts_with</code></td>`,
		`<td>Client IP address</td><td><code class="api">ip</code></td>`,
		`<option value="deny" selected>Block</option>`,
		`<option value="challenge">Browser challenge</option>`,
		`<strong>Serve fake data</strong> <code class="api">return_fake_data</code>: Lets the request through but tells your application to answer with worthless data`,
		`Search engines <code class="api">search_engines</code><br><select name="cat.search_engines"><option value="">Default (Allow)</option>`,
		`<span class="badge act-deny">Block</span> <code class="api">deny</code>`,
		`Path starts with &#34;/admin&#34; and Request header X-Debug is &#34;1&#34;`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the editor lacks %s", want)
		}
	}
	rule := page[strings.Index(page, `id="rule-form"`):strings.Index(page, `id="categories"`)]
	cats := page[strings.Index(page, `id="categories"`):strings.Index(page, `id="builtins"`)]
	if strings.Contains(rule, `<option value="return_fake_data"`) || !strings.Contains(rule, `<option value="redirect">Redirect</option>`) {
		t.Errorf("the rule form's actions: want redirect, not return_fake_data")
	}
	if strings.Contains(cats, `<option value="redirect"`) || !strings.Contains(cats, `<option value="return_fake_data">Serve fake data</option>`) {
		t.Errorf("the categories' actions: want return_fake_data, not redirect")
	}
	if n := len(condRowRe.FindAllString(rule, -1)); n != 1 {
		t.Errorf("a new rule's form has %d condition rows; want 1", n)
	}
	_, page, _ = newBrowserAs(t, e, jane).get("/en/website/shop.example.com/edit?rule=0")
	rule = page[strings.Index(page, `id="rule-form"`):strings.Index(page, `id="categories"`)]
	if n := len(condRowRe.FindAllString(rule, -1)); n != 3 || !strings.Contains(rule, `name="cond.1.header" value="X-Debug"`) {
		t.Errorf("editing a rule of two conditions: %d rows; want 3 (the two and an empty one)", n)
	}
	if !strings.Contains(page, `<script src="/_assets/rules.js" defer></script>`) {
		t.Error("the editor does not load rules.js")
	}
	if code, js, _ := newBrowser(t, e.URL).get("/_assets/rules.js"); code != 200 || !strings.Contains(js, "data-add-cond") {
		t.Errorf("rules.js: %d", code)
	}
}

// newBrowserAs is a browser signed in as customer c.
func newBrowserAs(t *testing.T, e *testenv.Stack, c core.Subaccount) *browser {
	t.Helper()
	br := newBrowser(t, e.URL)
	if code, page, _ := br.get("/en/website/shop.example.com/edit?api-key=" + c.APIKey); code != 200 {
		t.Fatalf("sign in: %d %s", code, page)
	}
	return br
}

// TestRuleEditorConditionRowsWithoutJS: "Add a condition" and "Remove"
// work as plain submit buttons: the form comes back with the input kept,
// one row more or less, and nothing saved. Enter in a box saves (the
// form's first submit button is Save, not a row's Remove).
func TestRuleEditorConditionRowsWithoutJS(t *testing.T) {
	e, jane, _, _ := fixture(t)
	br, page := editorAt(t, e, jane, "en")
	rule := page[strings.Index(page, `id="rule-form"`):]
	if save, rm := strings.Index(rule, `<button class="sr" tabindex="-1" aria-hidden="true">Save</button>`), strings.Index(rule, `name="remove_condition"`); save < 0 || rm < 0 || save > rm {
		t.Errorf("the rule form's default button is not Save (save at %d, remove at %d)", save, rm)
	}
	form := url.Values{"csrf": {csrf(t, page)}, "version": {formVersion(t, page)}, "form": {"rule"}, "index": {"-1"}, "name": {"block-admin"}, "action": {"deny"}, "enabled": {"1"},
		"cond.0.field": {"path"}, "cond.0.header": {""}, "cond.0.op": {"starts_with"}, "cond.0.value": {"/admin"}, "add_condition": {"1"}}
	code, page := br.post("/en/website/shop.example.com/edit", form)
	if code != 200 || strings.Contains(page, "Saved.") || strings.Contains(page, `class="error"`) {
		t.Fatalf("add a condition: %d %s", code, page)
	}
	rows := condRowRe.FindAllStringSubmatch(page, -1)
	if len(rows) != 2 || rows[1][1] != "1" || !strings.Contains(page, `name="cond.0.value" value="/admin"`) || !strings.Contains(page, `name="name" value="block-admin"`) ||
		!strings.Contains(page, `<details id="rule-form" open>`) {
		t.Fatalf("after add: %d rows, input kept? %s", len(rows), page)
	}
	// Remove the first of two filled rows: the second moves up.
	form.Del("add_condition")
	form.Set("cond.1.field", "country")
	form.Set("cond.1.op", "is_any_of")
	form.Set("cond.1.value", "KP, IR")
	form.Set("cond.1.header", "")
	form.Set("remove_condition", "0")
	code, page = br.post("/en/website/shop.example.com/edit", form)
	rows = condRowRe.FindAllStringSubmatch(page, -1)
	if code != 200 || len(rows) != 1 || !strings.Contains(page, `name="cond.0.value" value="KP, IR"`) || strings.Contains(page, `value="/admin"`) {
		t.Fatalf("after remove: %d, %d rows: %s", code, len(rows), page)
	}
	if st := siteSettings(t, e); len(st.Rules) != 0 {
		t.Fatalf("adding or removing a row saved: %+v", st.Rules)
	}
	// Saved, the empty rows are left out and the form shows one empty row.
	form.Del("remove_condition")
	code, page = br.post("/en/website/shop.example.com/edit", form)
	if code != 200 || !strings.Contains(page, "Saved.") {
		t.Fatalf("save: %d %s", code, page)
	}
	st := siteSettings(t, e)
	if len(st.Rules) != 1 || len(st.Rules[0].Conditions) != 2 || !slices.Equal(st.Rules[0].Conditions[1].Values, []string{"KP", "IR"}) {
		t.Fatalf("saved: %+v", st.Rules)
	}
}

// TestRuleEditorActionFields: the redirect address belongs to redirect
// only (refused, with its reason beside it, for another action), the
// header name to the header field only (dropped for another field; asked
// for when missing); both are marked for pages without JavaScript.
func TestRuleEditorActionFields(t *testing.T) {
	e, jane, _, _ := fixture(t)
	br, page := editorAt(t, e, jane, "en")
	if !strings.Contains(page, `<label data-only-action="redirect">Redirect to <span class="muted" data-nojs-hint>(only for the Redirect action)</span>`) ||
		!strings.Contains(page, `<label data-cond-header>Header name <span class="muted" data-nojs-hint>(only for the field &#34;Request header&#34;)</span>`) {
		t.Fatalf("the action- and field-specific boxes are not marked: %s", page)
	}
	base := url.Values{"csrf": {csrf(t, page)}, "version": {formVersion(t, page)}, "form": {"rule"}, "index": {"-1"}, "name": {"go-away"}, "enabled": {"1"},
		"cond.0.field": {"path"}, "cond.0.op": {"starts_with"}, "cond.0.value": {"/old/"}, "cond.0.header": {"X-Ignored"}}
	post := func(action, location string) (int, string) {
		f := url.Values{}
		for k, v := range base {
			f[k] = v
		}
		f.Set("action", action)
		f.Set("location", location)
		return br.post("/en/website/shop.example.com/edit", f)
	}
	code, page := post("deny", "https://example.net/")
	if code != 422 || !strings.Contains(page, `value="https://example.net/" placeholder="https://…"><span class="field-error" role="alert">Only the Redirect action sends visitors elsewhere: clear this box or choose Redirect.</span>`) {
		t.Fatalf("a location for deny: %d %s", code, page)
	}
	code, page = post("redirect", "")
	if code != 422 || !strings.Contains(page, `Enter where to send visitors`) {
		t.Fatalf("a redirect without a location: %d %s", code, page)
	}
	if st := siteSettings(t, e); len(st.Rules) != 0 {
		t.Fatalf("a refused rule was saved: %+v", st.Rules)
	}
	if code, page = post("redirect", "/new/"); code != 200 || !strings.Contains(page, "Saved.") {
		t.Fatalf("a redirect: %d %s", code, page)
	}
	st := siteSettings(t, e)
	if len(st.Rules) != 1 || st.Rules[0].Location != "/new/" || st.Rules[0].Conditions[0].Header != "" {
		t.Fatalf("saved: %+v", st.Rules)
	}
	// The header field needs its name.
	base.Set("name", "no-debug")
	base.Set("cond.0.field", "header")
	base.Set("cond.0.header", "")
	base.Set("cond.0.op", "is")
	base.Set("cond.0.value", "1")
	base.Set("version", formVersion(t, page))
	code, page = post("deny", "")
	if code != 422 || !strings.Contains(page, `Enter the header&#39;s name, such as X-Requested-With.`) {
		t.Fatalf("a header condition without a name: %d %s", code, page)
	}
	// The engine's problem with a condition, in words, beside its row.
	base.Set("cond.0.field", "ip")
	base.Set("cond.0.op", "starts_with")
	base.Set("cond.0.value", "10.")
	code, page = post("deny", "")
	if code != 422 || !strings.Contains(page, `<span class="field-error" role="alert">A client IP address is compared with “is”, “is not” or “is one of”`) {
		t.Fatalf("an IP condition with starts_with: %d %s", code, page)
	}
}

var celExampleRe = regexp.MustCompile(`<pre class="cel"><code>(.*?)</code></pre>`)

// TestRuleEditorCELExamples: every example shown under the CEL box
// compiles against the engine's CEL environment (as Validate checks a
// saved rule); an expression that does not is refused with the reason
// next to the box.
func TestRuleEditorCELExamples(t *testing.T) {
	e, jane, _, _ := fixture(t)
	br, page := editorAt(t, e, jane, "en")
	ex := celExampleRe.FindAllStringSubmatch(page, -1)
	if len(ex) < 3 {
		t.Fatalf("%d CEL examples", len(ex))
	}
	for _, m := range ex {
		expr := html.UnescapeString(m[1])
		st := engine.Settings{Rules: []engine.Rule{{Name: "example", Action: "deny", Expression: expr}}}
		if err := st.Validate(); err != nil {
			t.Errorf("example %s: %v", expr, err)
		}
	}
	form := url.Values{"csrf": {csrf(t, page)}, "version": {formVersion(t, page)}, "form": {"rule"}, "index": {"-1"}, "name": {"cel"}, "action": {"deny"}, "enabled": {"1"},
		"expression": {`path.startsWith("/admin") && ua == "x"`}}
	code, page := br.post("/en/website/shop.example.com/edit", form)
	if code != 422 || !regexp.MustCompile(`</textarea><span class="field-error" role="alert">This advanced condition cannot be used: [^<]*undeclared reference to &#39;ua&#39;`).MatchString(page) {
		t.Fatalf("a CEL expression that does not compile: %d %s", code, page)
	}
	form.Set("expression", "path")
	if code, page = br.post("/en/website/shop.example.com/edit", form); code != 422 || !strings.Contains(page, "This advanced condition cannot be used: expression must be true or false") {
		t.Fatalf("a CEL expression that is not true or false: %d %s", code, page)
	}
	if st := siteSettings(t, e); len(st.Rules) != 0 {
		t.Fatalf("a refused expression was saved: %+v", st.Rules)
	}
}

// TestRuleEditorHits: each rule's decisions of the last 30 days by the
// stack's clock, counted from this website's events only (the other
// customer's website has a rule of the same name); grants are marked as a
// sample; the counters' exact total; numbers in the page's language.
func TestRuleEditorHits(t *testing.T) {
	e, jane, _, site := fixture(t)
	ctx := context.Background()
	setRules(t, e,
		engine.Rule{Name: "block-admin", Action: "deny", Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/admin"}}},
		engine.Rule{Name: "office", Action: "grant", Conditions: []engine.Condition{{Field: "ip", Op: "is", Value: "192.0.2.0/24"}}},
		engine.Rule{Name: "quiet", Action: "challenge", Conditions: []engine.Condition{{Field: "path", Op: "is", Value: "/quiet"}}})
	bobSite, err := e.Service.Website(ctx, e.Caller, "bob.example.org")
	if err != nil {
		t.Fatal(err)
	}
	now := e.Service.Now()
	ev := func(w core.Website, ago time.Duration, reason, action string) core.Event {
		return core.Event{PartnerID: w.PartnerID, WebsiteID: w.ID, At: now.Add(-ago), IP: "198.51.100.7", Method: "GET", Host: w.Domain, Path: "/admin",
			UserAgent: "x", Action: action, Category: "custom_rules", Source: "rule", Reason: reason}
	}
	var evs []core.Event
	for i := 0; i < 3; i++ {
		evs = append(evs, ev(site, time.Duration(i)*time.Hour, "block-admin", "deny"))
	}
	evs = append(evs, ev(site, 31*24*time.Hour, "block-admin", "deny"), ev(site, time.Hour, "office", "grant"))
	for i := 0; i < 5; i++ {
		evs = append(evs, ev(bobSite, time.Hour, "block-admin", "deny"))
	}
	stats := []core.StatRow{
		{WebsiteID: site.ID, PartnerID: site.PartnerID, Minute: now.Add(-time.Hour).Truncate(time.Minute), Action: "deny", Category: "custom_rules", Count: 1234},
		{WebsiteID: bobSite.ID, PartnerID: bobSite.PartnerID, Minute: now.Add(-time.Hour).Truncate(time.Minute), Action: "deny", Category: "custom_rules", Count: 99999},
	}
	if err := e.Service.RecordDecisions(ctx, evs, stats); err != nil {
		t.Fatal(err)
	}
	_, page := editorAt(t, e, jane, "en")
	for _, want := range []string{
		`<th scope="col">Decisions recorded, last 30 days</th>`,
		`<td class="num"><a href="/en/website/shop.example.com/events?rule=block-admin" title="Show these decisions in the events">3</a></td>`,
		`<td class="num"><a href="/en/website/shop.example.com/events?rule=office" title="Show these decisions in the events">1</a><sup><a href="#hits-note" aria-label="a sample: allowed requests are only partly recorded">*</a></sup></td>`,
		`<td class="num">0</td>`,
		`All custom rules together decided 1,234 requests in this time (every request counted).`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the rule table lacks %s", want)
		}
	}
	_, page = editorAt(t, e, jane, "de")
	if !strings.Contains(page, "über 1.234 Anfragen") {
		t.Errorf("German totals are not grouped the German way")
	}
}

// TestRuleEditorTranslated: the editor in German, French, Spanish and
// Dutch holds no English catalogue string and never the product's name.
func TestRuleEditorTranslated(t *testing.T) {
	e, jane, _, _ := fixture(t)
	setRules(t, e, engine.Rule{Name: "block-admin", Action: "deny", Conditions: []engine.Condition{
		{Field: "path", Op: "starts_with", Value: "/admin"}, {Field: "user_agent", Op: "contains", Value: "sqlmap"}}, Expression: `method == "POST"`})
	for _, l := range []string{"de", "fr", "es", "nl"} {
		_, page := editorAt(t, e, jane, l)
		// API names (<code>) and CEL examples are the same in every
		// language.
		text := editorText(codeRe.ReplaceAllString(page, " "))
		if strings.Contains(text, "Palisade") {
			t.Errorf("%s: the product's name on the page", l)
		}
		if !i18n.Has(l, "save") {
			// The customer pages' own words (internal/i18n/locales/customer.*)
			// are not in this language yet: only this page's words count.
			t.Logf("%s: customer catalogue missing, checking only the rule editor's words", l)
			continue
		}
		if left := i18n.Untranslated(l, text); len(left) > 0 {
			t.Errorf("%s: English left on the page: %q", l, left)
		}
	}
	// What a conflict notice says is saved now, and the editor's own
	// problems with input, are in the page's language too.
	br, page := editorAt(t, e, jane, "de")
	token, stale := csrf(t, page), formVersion(t, page)
	setRules(t, e, engine.Rule{Name: "block-admin", Action: "deny", Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/admin"}}})
	code, page := br.post("/de/website/shop.example.com/edit", url.Values{"csrf": {token}, "version": {stale}, "form": {"rule-delete"}, "index": {"0"}})
	if code != 409 || !strings.Contains(html.UnescapeString(page), `Regel 1 ist „block-admin“ (Blockieren): Pfad beginnt mit "/admin"`) {
		t.Errorf("German conflict notice: %d %s", code, page)
	}
	code, page = br.post("/de/website/shop.example.com/edit", url.Values{"csrf": {token}, "form": {"test"}, "ip": {"nobody"}, "method": {"GET"}, "path": {"/"}})
	if code != 200 || !strings.Contains(page, "Geben Sie eine IP-Adresse ein, etwa 203.0.113.7.") {
		t.Errorf("German test error: %d %s", code, page)
	}
}

// TestRuleEditorScript: with JavaScript (headless Chromium), rows are
// added and removed in place and renumbered as the server reads them, the
// header box shows only for the header field and the redirect address only
// for redirect (hidden boxes are not posted), and the form saves what it
// shows.
func TestRuleEditorScript(t *testing.T) {
	chromium := testenv.NeedBinary(t, "chromium", "/usr/bin/chromium")
	e, jane, _, _ := fixture(t)
	ctx, cancelTimeout := context.WithTimeout(testenv.Browser(t, chromium), 60*time.Second)
	t.Cleanup(cancelTimeout)

	if err := chromedp.Do(ctx, chromedp.Navigate(e.URL+"/en/website/shop.example.com/edit?api-key="+jane.APIKey), chromedp.WaitReady(chromedp.CSS(`[data-rule-form]`))); err != nil {
		t.Fatal(err)
	}
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function(){ const f = document.querySelector("[data-rule-form]"); `+js+` })()`))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	// rows: each row's field name and whether its header box is shown.
	rows := `return Array.from(f.querySelectorAll("[data-cond]")).map(r => r.querySelector("select").name + ":" + (r.querySelector("[data-cond-header]").hidden ? "-" : "header")).join(" ");`
	if got := eval(rows); got != "cond.0.field:-" {
		t.Fatalf("on load: %s", got)
	}
	if got := eval(`return String(f.querySelector("[data-only-action]").hidden) + " " + String(f.querySelector("[name=location]").disabled);`); got != "true true" {
		t.Fatalf("the redirect address for deny: hidden, disabled = %s", got)
	}
	set := func(name, value string) {
		eval(`const el = f.querySelector("[name='` + name + `']"); el.value = ` + strconv.Quote(value) + `; el.dispatchEvent(new Event("change", {bubbles: true})); return "";`)
	}
	// A client IP address is compared with is, is not or is one of only.
	eval(`f.querySelector("[name='cond.0.op']").value = "starts_with"; return "";`)
	set("cond.0.field", "ip")
	if got := eval(`const op = f.querySelector("[name='cond.0.op']"); return op.value + " " + Array.from(op.options).filter(o => !o.disabled).map(o => o.value).join(",");`); got != "is is,is_not,is_any_of" {
		t.Fatalf("comparisons offered for an IP address: %s", got)
	}
	set("cond.0.field", "header")
	if got := eval(rows); got != "cond.0.field:header" {
		t.Fatalf("field header: %s", got)
	}
	if got := eval(`return String(f.querySelector("[name='cond.0.op'] option[value=starts_with]").disabled);`); got != "false" {
		t.Fatal("a header's comparisons stay limited to an IP address's")
	}
	eval(`f.querySelector("[data-add-cond]").click(); f.querySelector("[data-add-cond]").click(); return "";`)
	if got := eval(rows); got != "cond.0.field:header cond.1.field:- cond.2.field:-" {
		t.Fatalf("after adding two rows: %s", got)
	}
	set("cond.0.header", "X-Debug")
	set("cond.0.value", "1")
	set("cond.1.field", "path")
	set("cond.1.op", "starts_with")
	set("cond.1.value", "/admin")
	eval(`f.querySelectorAll("[data-remove-cond]")[0].click(); return "";`)
	if got := eval(rows); got != "cond.0.field:- cond.1.field:-" {
		t.Fatalf("after removing the first row: %s", got)
	}
	if got := eval(`return f.querySelector("[name='cond.0.value']").value + " " + f.querySelectorAll("[data-remove-cond]")[1].value;`); got != "/admin 1" {
		t.Fatalf("the rows were not renumbered: %s", got)
	}
	set("action", "redirect")
	if got := eval(`return String(f.querySelector("[data-only-action]").hidden);`); got != "false" {
		t.Fatal("the redirect address stays hidden for redirect")
	}
	set("name", "to-new-admin")
	set("location", "/new-admin/")
	eval(`f.requestSubmit(); return "";`)
	if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS(`p.notice[role=status]`))); err != nil {
		t.Fatal(err)
	}
	st := siteSettings(t, e)
	if len(st.Rules) != 1 || st.Rules[0].Location != "/new-admin/" || len(st.Rules[0].Conditions) != 1 || st.Rules[0].Conditions[0].Value != "/admin" {
		t.Fatalf("saved from the browser: %+v", st.Rules)
	}
}

var fieldOpsRe = regexp.MustCompile(`<option value="(\w+)" data-ops="([\w ]+)"`)

// TestRuleEditorFieldOps: the comparisons the page offers a field with
// JavaScript (data-ops) are exactly those the engine takes for it.
func TestRuleEditorFieldOps(t *testing.T) {
	e, jane, _, _ := fixture(t)
	_, page := editorAt(t, e, jane, "en")
	rule := page[strings.Index(page, `id="rule-form"`):strings.Index(page, `id="categories"`)]
	limited := map[string][]string{}
	for _, m := range fieldOpsRe.FindAllStringSubmatch(rule, -1) {
		limited[m[1]] = strings.Fields(m[2])
	}
	if len(limited) == 0 {
		t.Fatal("no field limits its comparisons")
	}
	sample := map[string]string{"ip": "192.0.2.1", "method": "1"}
	ops := []string{"is", "is_not", "contains", "not_contains", "starts_with", "greater_than", "less_than", "is_any_of", "regex"}
	for field, allowed := range limited {
		for _, op := range ops {
			c := engine.Condition{Field: field, Op: op, Value: sample[field]}
			if op == "is_any_of" {
				c.Value, c.Values = "", []string{sample[field]}
			}
			st := engine.Settings{Rules: []engine.Rule{{Name: "x", Action: "deny", Conditions: []engine.Condition{c}}}}
			if err := st.Validate(); (err == nil) != slices.Contains(allowed, op) {
				t.Errorf("field %s, op %s: offered %v, engine says %v", field, op, slices.Contains(allowed, op), err)
			}
		}
	}
}
