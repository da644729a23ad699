package web_test

import (
	"context"
	"html"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
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
	conflicted(t, code, page, `Saved now: rule 1 is "block-admin" (deny)`)
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
