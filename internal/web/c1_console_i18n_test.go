package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/i18n"
	"github.com/palisadehq/palisade/internal/testenv"
	"github.com/palisadehq/palisade/internal/waf"
)

var (
	c1Hidden  = regexp.MustCompile(`(?is)<(script|style|head)\b.*?</(script|style|head)>|<code class="api">[^<]*</code>|<(td|small)[^>]* translate="no">[^<]*</(td|small)>`)
	c1Subject = regexp.MustCompile(`<td lang="(en|de)" translate="no">([^<]*)</td>`)
	c1Tag     = regexp.MustCompile(`(?s)<[^>]*>`)
	c1Inline  = regexp.MustCompile(`<wbr>|</?span[^>]*>`)
	c1Title   = regexp.MustCompile(`(?s)<title>(.*?)</title>`)
	c1Lang    = regexp.MustCompile(`<html lang="([a-z]+)"`)
)

// c1Visible is a page's visible text: its title and its body's text,
// without tags, scripts and styles, and without the API names shown small
// for scripters (<code class="api">), as the browser test reads pages, and
// the customers' own words in their language (an email's subject, marked
// translate="no").
func c1Visible(page string) string {
	title := ""
	if m := c1Title.FindStringSubmatch(page); m != nil {
		title = m[1]
	}
	body := c1Tag.ReplaceAllString(c1Inline.ReplaceAllString(c1Hidden.ReplaceAllString(page, " "), ""), " ")
	return html.UnescapeString(title + "\n" + body)
}

// c1Check fails when page (in lang) is not all in lang: English catalogue
// strings left, the product's name, or a wrong lang attribute.
func c1Check(t *testing.T, what, lang, page string) {
	t.Helper()
	text := c1Visible(page)
	if m := c1Lang.FindStringSubmatch(page); m == nil || m[1] != lang {
		t.Errorf("%s in %s: <html lang> is %v", what, lang, m)
	}
	if left := i18n.Untranslated(lang, text); len(left) > 0 {
		t.Errorf("%s in %s: English left: %q", what, lang, left)
	}
	if strings.Contains(strings.ToLower(text), "palisade") {
		t.Errorf("%s in %s names the product:\n%s", what, lang, text)
	}
	if strings.Contains(text, "[[") {
		t.Errorf("%s in %s: a message id without a message:\n%s", what, lang, text)
	}
}

// c1Console is the fixture with a console user signed in, some history
// (a virtual patch, a revoked key, a paused website) and a customer who
// signed in with its API key.
func c1Console(t *testing.T) (*testenv.Stack, *browser) {
	t.Helper()
	e, jane, _, _ := fixture(t)
	ctx := context.Background()
	if _, err := e.Service.CreateConsoleUser(ctx, core.Operator(), e.Caller.PartnerID, "anna@host.example", "S3cure-Passw0rd"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.CreateWAFPatch(ctx, e.Caller, core.WAFPatch{Name: "forms hole", Reason: "r",
		Rule: &waf.PatchRule{Path: "/wp-admin/", Method: "POST", Target: "arg:action", Op: "starts_with", Value: "up", Action: "log"}}); err != nil {
		t.Fatal(err)
	}
	// The customer opens its pages with its API key in the link.
	cb := newBrowser(t, e.URL)
	if code, _, _ := cb.get("/de/website/shop.example.com/statistics?api-key=" + url.QueryEscape(jane.APIKey)); code != 200 {
		t.Fatalf("the customer's key link: %d", code)
	}
	br := newBrowser(t, e.URL)
	if code, _ := login(t, br, "anna@host.example", "S3cure-Passw0rd", ""); code != 200 {
		t.Fatalf("sign-in: %d", code)
	}
	_, page, _ := br.get("/console")
	token := csrf(t, page)
	br.post("/console/keys", url.Values{"csrf": {token}, "name": {"WHMCS"}})
	br.post("/console/status", url.Values{"csrf": {token}, "domain": {"bob.example.org"}, "status": {"paused"}})
	return e, br
}

// TestC1ConsoleTranslated: every console tab and the sign-in page, in
// German, French, Spanish and Dutch, hold none of the English catalogue's
// strings and never the product's name.
func TestC1ConsoleTranslated(t *testing.T) {
	e, br := c1Console(t)
	for _, l := range []string{"de", "fr", "es", "nl"} {
		for i, tab := range []string{"websites", "customers", "credit", "keys", "plans", "emails", "audit", "branding", "security", "userapi", "firewall"} {
			path := "/console/" + tab
			if tab == "websites" {
				path = "/console"
			}
			if i == 0 {
				path += "?lang=" + l
			}
			code, page, _ := br.get(path)
			if code != 200 {
				t.Fatalf("%s in %s: %d", path, l, code)
			}
			c1Check(t, path, l, page)
		}
		code, page, _ := newBrowser(t, e.URL).get("/console/login?lang=" + l)
		if code != 200 {
			t.Fatalf("sign-in page in %s: %d", l, code)
		}
		c1Check(t, "/console/login", l, page)
		code, page = newBrowser(t, e.URL).post("/console/login?lang="+l, url.Values{"email": {"anna@host.example"}, "password": {"wrong"}})
		if code != 401 || !strings.Contains(page, `class="error"`) {
			t.Fatalf("a failed sign-in in %s: %d", l, code)
		}
		c1Check(t, "a failed sign-in", l, page)
	}
	// English too has no product name, and names the tabs in words.
	_, page, _ := br.get("/console/userapi?lang=en")
	c1Check(t, "/console/userapi", "en", page)
	for _, want := range []string{">Customers&#39; API</a>", ">Overview</a>", `href="/console/overview"`, ">Website firewall</a>"} {
		if !strings.Contains(page, want) {
			t.Errorf("the tab strip lacks %s", want)
		}
	}
	if strings.Contains(page, ">userapi<") || strings.Contains(page, ">Userapi<") {
		t.Error("a tab is named by its API name")
	}
}

// TestC1ConsoleLanguageChoice: ?lang= wins and is remembered in a cookie;
// then the cookie; then the browser's Accept-Language; then the partner's
// default language; an unknown ?lang= changes nothing.
func TestC1ConsoleLanguageChoice(t *testing.T) {
	e, _, _, _ := fixture(t)
	ctx := context.Background()
	if _, err := e.Service.CreateConsoleUser(ctx, core.Operator(), e.Caller.PartnerID, "anna@host.example", "S3cure-Passw0rd"); err != nil {
		t.Fatal(err)
	}
	langOf := func(page string) string {
		if m := c1Lang.FindStringSubmatch(page); m != nil {
			return m[1]
		}
		return ""
	}
	br := newBrowser(t, e.URL)
	login(t, br, "anna@host.example", "S3cure-Passw0rd", "")
	// Nothing chosen, no Accept-Language (Go's client sends none): the
	// partner's default, English here.
	if _, page, _ := br.get("/console"); langOf(page) != "en" {
		t.Fatalf("no choice: %s", langOf(page))
	}
	// The partner's default language.
	if _, err := e.Service.SetBranding(ctx, e.Caller, e.Caller.PartnerID, core.Branding{Name: "Acme Shield", DefaultLang: "nl"}); err != nil {
		t.Fatal(err)
	}
	if _, page, _ := br.get("/console/plans"); langOf(page) != "nl" || !strings.Contains(page, "Pakketten") {
		t.Fatalf("the partner's default: %s", langOf(page))
	}
	// The browser's language beats the partner's default.
	get := func(path, accept string) (string, *http.Response) {
		req, _ := http.NewRequest("GET", e.URL+path, nil)
		if accept != "" {
			req.Header.Set("Accept-Language", accept)
		}
		resp, err := br.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 32<<10)
		for i := 0; i < 1000; i++ {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return b.String(), resp
	}
	if page, _ := get("/console/plans", "fr-CH, de;q=0.5"); langOf(page) != "fr" {
		t.Fatalf("Accept-Language: %s", langOf(page))
	}
	// ?lang= beats both and is remembered for a year, for every staff page.
	page, resp := get("/console/plans?lang=es", "fr")
	if langOf(page) != "es" {
		t.Fatalf("?lang=es: %s", langOf(page))
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "palisade_lang" {
			cookie = c
		}
	}
	if cookie == nil || cookie.Value != "es" || cookie.Path != "/" || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.MaxAge < 364*24*3600 {
		t.Fatalf("the language cookie: %+v", cookie)
	}
	if page, _ := get("/console/audit", "fr"); langOf(page) != "es" {
		t.Fatalf("the remembered language: %s", langOf(page))
	}
	// An unknown code is no choice.
	if page, _ := get("/console/audit?lang=xx", "fr"); langOf(page) != "es" {
		t.Fatalf("?lang=xx: %s", langOf(page))
	}
	// The sign-in page: the browser's language, else English (no partner
	// yet), with the switch's links to ?lang=.
	if page, _ := get("/console/login", "de-AT"); langOf(page) == "" {
		t.Fatal("no sign-in page")
	}
	fresh := newBrowser(t, e.URL)
	_, page, _ = fresh.get("/console/login")
	if langOf(page) != "en" || !strings.Contains(page, `href="/console/login?lang=de"`) {
		t.Fatalf("the sign-in page without a choice: %s", langOf(page))
	}
	if _, page, _ = fresh.get("/console/login?lang=de"); langOf(page) != "de" || !strings.Contains(page, "Anmelden") {
		t.Fatalf("the sign-in page in German: %s", langOf(page))
	}
}

// TestC1ConsoleSignInBrand: the sign-in page before anyone signs in is
// neutral (no name) or the operator's own name, never the product's.
func TestC1ConsoleSignInBrand(t *testing.T) {
	e := testenv.New(t)
	_, page, _ := newBrowser(t, e.URL).get("/console/login")
	if strings.Contains(strings.ToLower(c1Visible(page)), "palisade") || !strings.Contains(page, "<h1>Sign in to your dashboard</h1>") {
		t.Fatalf("the neutral sign-in page:\n%s", c1Visible(page))
	}
	if m := c1Title.FindStringSubmatch(page); m == nil || strings.TrimSpace(m[1]) != "Sign in" {
		t.Fatalf("the sign-in page's title: %q", m)
	}
}

// TestC1AuditInWords: the audit log says who did what in words: the API
// key by its name, the console user by email, the customer who signed in
// with its key link, the website's first traffic; no raw "session", "sso"
// or "first_traffic website".
func TestC1AuditInWords(t *testing.T) {
	e, br := c1Console(t)
	ctx := context.Background()
	site, err := e.Service.Website(ctx, e.Caller, "shop.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.MarkSeen(ctx, site.PartnerID, site.ID, site.Domain); err != nil {
		t.Fatal(err)
	}
	_, page, _ := br.get("/console/audit?lang=en")
	text := c1Visible(page)
	for _, want := range []string{
		"Created website shop.example.com",
		"Console: anna@host.example",
		"Signed in to the console",
		"Created API key WHMCS (pk_",
		"Suspended website bob.example.org",
		"Customer jane@example.com",
		"Link with the customer's API key",
		"Signed in to the pages of website shop.example.com",
		"Pushed virtual patch forms hole",
		"First traffic from website shop.example.com",
		"Automatic",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the audit log lacks %q:\n%s", want, text)
		}
	}
	for _, raw := range []string{" session ", "sso", "first_traffic", "update_settings", "partner:", "user:", "customer:"} {
		if strings.Contains(text, raw) {
			t.Errorf("the audit log shows the raw %q:\n%s", raw, text)
		}
	}
	// The patch list names its author in words too.
	_, page, _ = br.get("/console/firewall")
	if !strings.Contains(c1Visible(page), "POST requests: parameter action starts with “up”, under /wp-admin/ (recorded only)") {
		t.Errorf("the patch in words:\n%s", c1Visible(page))
	}
	// German.
	_, page, _ = br.get("/console/audit?lang=de")
	for _, want := range []string{"Website shop.example.com angelegt", "Konsole: anna@host.example", "Kunde jane@example.com"} {
		if !strings.Contains(c1Visible(page), want) {
			t.Errorf("the German audit log lacks %q", want)
		}
	}
}

// TestC1EmailSubjects: an email's subject is in its recipient's language
// and marked so.
func TestC1EmailSubjects(t *testing.T) {
	_, br := c1Console(t)
	_, page, _ := br.get("/console/emails?lang=fr")
	got := map[string]bool{}
	for _, m := range c1Subject.FindAllStringSubmatch(page, -1) {
		got[m[1]+" "+html.UnescapeString(m[2])] = true
	}
	if !got["de shop.example.com ist jetzt durch Acme Shield geschützt"] || !got["en bob.example.org is now protected by Acme Shield"] {
		t.Fatalf("subjects: %v", got)
	}
}

// TestC1ConsoleNotices: a notice is named by id and said in the page's
// language; text of the address's own is never shown.
func TestC1ConsoleNotices(t *testing.T) {
	_, br := c1Console(t)
	if _, page, _ := br.get("/console?notice=paused&arg=bob.example.org&lang=de"); !strings.Contains(page, "bob.example.org ist gesperrt.") {
		t.Fatalf("the notice in German: %s", c1Visible(page))
	}
	// (Not "555" alone: the page's random tokens and nonces hold it now
	// and then.)
	if _, page, _ := br.get("/console?notice=" + url.QueryEscape("Your account is closed, call +1 555")); strings.Contains(page, "call +1 555") ||
		strings.Contains(page, "account is closed") || strings.Contains(page, `class="notice"`) {
		t.Fatal("a notice of the address's own words is shown")
	}
}

// TestC1Branding: the branding form sets the customers' default language
// and the "powered by" line (off unless ticked); a refused form says what
// went wrong in the page's language, with the service's detail.
func TestC1Branding(t *testing.T) {
	e, br := c1Console(t)
	ctx := context.Background()
	_, page, _ := br.get("/console/branding?lang=de")
	token := csrf(t, page)
	if !strings.Contains(page, `name="powered_by" value="1">`) || !strings.Contains(page, `<option value="de" lang="de">Deutsch</option>`) {
		t.Fatalf("the branding form:\n%s", page)
	}
	code, page := br.post("/console/branding", url.Values{"csrf": {token}, "name": {"Acme Shield"}, "color": {"rot"}})
	if code != 422 || !strings.Contains(page, i18n.T("de", "common.err.invalid")) || !strings.Contains(page, `<small lang="en">`) || !strings.Contains(page, "#rrggbb") {
		t.Fatalf("a bad colour: %d\n%s", code, c1Visible(page))
	}
	c1Check(t, "a refused branding form", "de", strings.Replace(page, `<small lang="en">`, `<small lang="en" translate="no">`, 1))
	br.post("/console/branding", url.Values{"csrf": {token}, "name": {"Acme Shield"}, "color": {"#123456"}, "default_lang": {"fr"}, "powered_by": {"1"}})
	b, err := e.Service.Branding(ctx, e.Caller)
	if err != nil || !b.PoweredBy || b.DefaultLang != "fr" {
		t.Fatalf("branding after the form: %+v %v", b, err)
	}
	br.post("/console/branding", url.Values{"csrf": {token}, "name": {"Acme Shield"}, "color": {"#123456"}, "default_lang": {"fr"}})
	if b, _ = e.Service.Branding(ctx, e.Caller); b.PoweredBy {
		t.Fatal("the powered-by line stays on when unticked")
	}
}

// TestC1CreditInWords: each charge of the ledger reads in words in the
// page's language (the core's English reasons read back), for a new
// website, a renewal, an upgrade and extra requests.
func TestC1CreditInWords(t *testing.T) {
	e, br := c1Console(t)
	ctx := context.Background()
	site, err := e.Service.Website(ctx, e.Caller, "shop.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Service.ModifyWebsite(ctx, e.Caller, "shop.example.com", core.WebsiteChange{RenewMonths: 3}, core.Match{}, core.Idem{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Service.ModifyWebsite(ctx, e.Caller, "shop.example.com", core.WebsiteChange{Plan: "20k"}, core.Match{}, core.Idem{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.ProvisionAddon(ctx, e.Caller, site.ID, core.AddonExtraRequests, 2); err != nil {
		t.Fatal(err)
	}
	_, page, _ := br.get("/console/credit?lang=en")
	text := c1Visible(page)
	for _, want := range []string{"New website shop.example.com, plan 10k, first month", "Renewal of shop.example.com, plan 10k, for 3 months",
		"shop.example.com moved from plan 10k to 20k, for the rest of the term", "Extra requests for shop.example.com: 2 units of 10,000 a month"} {
		if !strings.Contains(text, want) {
			t.Errorf("the ledger lacks %q:\n%s", want, text)
		}
	}
	for _, raw := range []string{"register ", "renew ", "upgrade ", "month(s)"} {
		if strings.Contains(text, raw) {
			t.Errorf("the ledger shows the core's %q:\n%s", raw, text)
		}
	}
	_, page, _ = br.get("/console/credit?lang=de")
	if text = c1Visible(page); !strings.Contains(text, "Verlängerung von shop.example.com, Tarif 10k, um 3 Monate") || !strings.Contains(text, "2 Einheiten zu 10.000 pro Monat") {
		t.Errorf("the German ledger:\n%s", text)
	}
}
