package web_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/i18n"
	"github.com/palisadehq/palisade/internal/testenv"
)

var (
	scriptOrStyle = regexp.MustCompile(`(?is)<(script|style)\b.*?</(script|style)>`)
	// visibleAttr are the attributes a person reads or hears: alternative
	// texts, placeholders, labels and tooltips.
	visibleAttr = regexp.MustCompile(`(?i)\s(?:alt|placeholder|aria-label|title)="([^"]*)"`)
	anyTag      = regexp.MustCompile(`(?s)<[^>]*>`)
	// Not words for people: the service's header and path names in
	// attributes and code (X-Palisade-Key, /_palisade/).
	productIdentifiers = regexp.MustCompile(`X-Palisade-[A-Za-z-]+|/_palisade/`)
)

// visibleText is what a person reads on page: its text and its visible
// attributes, without scripts and styles, entities decoded.
func visibleText(page string) string {
	page = scriptOrStyle.ReplaceAllString(page, " ")
	var attrs []string
	for _, m := range visibleAttr.FindAllStringSubmatch(page, -1) {
		attrs = append(attrs, m[1])
	}
	s := anyTag.ReplaceAllString(page, " ") + " " + strings.Join(attrs, " ")
	return strings.Join(strings.Fields(html.UnescapeString(s)), " ")
}

// namesProduct says whether page names the product outside the
// identifiers that configuration needs.
func namesProduct(page string) bool {
	return strings.Contains(strings.ToLower(productIdentifiers.ReplaceAllString(page, "")), "palisade")
}

// a1Traffic gives shop.example.com decisions of several kinds: a denied
// scanner, a challenged browser, challenges solved and failed, and a path
// with a segment that must not break.
func a1Traffic(t *testing.T, now time.Time, svc *core.Service, site core.Website) {
	t.Helper()
	ev := func(action, cat, source, reason, path string) core.Event {
		return core.Event{PartnerID: site.PartnerID, WebsiteID: site.ID, At: now.Add(-time.Minute), IP: "203.0.113.60", Method: "GET",
			Host: site.Domain, Path: path, Action: action, Category: cat, Source: source, Reason: reason, UserAgent: "curl/8.0"}
	}
	row := func(action, cat string, n int64) core.StatRow {
		return core.StatRow{WebsiteID: site.ID, PartnerID: site.PartnerID, Minute: now.Add(-time.Minute).Truncate(time.Minute), Action: action, Category: cat, Count: n}
	}
	if err := svc.RecordDecisions(context.Background(),
		[]core.Event{ev("deny", "security_issues", "category", "security_issues", "/shop/cart/checkout"), ev("challenge", "automation_tools", "category", "automation_tools", "/")},
		[]core.StatRow{row("deny", "security_issues", 12345), row("challenge", "automation_tools", 20), row("solved", "challenge", 7), row("failed", "challenge", 3),
			row("grant", "humans", 5000)}); err != nil {
		t.Fatal(err)
	}
}

// TestA1CustomerPagesTranslated: the statistics and events pages in every
// language: no English of the catalogue left, no product name, numbers
// grouped the language's way, the challenge funnel in words, human labels
// for categories and decisions (with the API name small), the page's
// language in <html lang>, a language switch, and paths that break only
// after "/".
func TestA1CustomerPagesTranslated(t *testing.T) {
	e, jane, _, site := fixture(t)
	a1Traffic(t, e.Clock.Now(), e.Service, site)
	br := newBrowser(t, e.URL)
	if code, _, _ := br.get("/en/website/shop.example.com/statistics?api-key=" + jane.APIKey); code != 200 {
		t.Fatalf("sign-in: %d", code)
	}
	want := map[string]map[string][]string{
		"en": {"statistics": {"12,345", "of 10,000", "Issued", "Abandoned", "Attacks and scanners", `<code class="api">security_issues</code>`, "35.0%"},
			"events": {"Blocked", "/<wbr>shop/<wbr>cart/<wbr>checkout"}},
		"de": {"statistics": {"12.345", "von 10.000", "Gestellt", "Abgebrochen", "Angriffe und Scanner", "35,0\u00a0%"}, "events": {"Gesperrt", "Geprüft"}},
		"fr": {"statistics": {"Émises", "Abandonnées", "Attaques et scanners"}, "events": {"Bloqué"}},
		"es": {"statistics": {"12.345", "Emitidas", "Abandonadas", "Ataques y escáneres"}, "events": {"Bloqueado"}},
		"nl": {"statistics": {"12.345", "Gesteld", "Afgebroken", "Aanvallen en scanners"}, "events": {"Geblokkeerd"}},
	}
	for _, l := range i18n.Languages {
		for _, p := range []string{"statistics", "events", "statistics?by=category&period=month", "statistics?period=day"} {
			code, page, _ := br.get("/" + l + "/website/shop.example.com/" + p)
			if code != 200 {
				t.Fatalf("%s %s: %d", l, p, code)
			}
			if !strings.Contains(page, `<html lang="`+l+`">`) {
				t.Errorf("%s %s: <html lang> is not the page's language", l, p)
			}
			if left := i18n.Untranslated(l, visibleText(page)); len(left) > 0 {
				t.Errorf("%s %s: English left on the page: %q", l, p, left)
			}
			if namesProduct(page) {
				t.Errorf("%s %s names the product: %s", l, p, page)
			}
			if strings.Contains(page, "[[") {
				t.Errorf("%s %s: a message is missing: %s", l, p, page)
			}
			for _, other := range i18n.Languages {
				if !strings.Contains(page, `hreflang="`+other+`"`) {
					t.Errorf("%s %s: the language switch lacks %s", l, p, other)
				}
			}
			base := strings.SplitN(p, "?", 2)[0]
			for _, w := range want[l][base] {
				if !strings.Contains(page, w) {
					t.Errorf("%s %s lacks %q", l, p, w)
				}
			}
			if strings.Contains(page, "<title>") && !regexp.MustCompile(`<title>[^<]+ · Acme Shield</title>`).MatchString(page) {
				t.Errorf("%s %s: the title does not end with the partner's name", l, p)
			}
		}
	}
	// The switch keeps the page and its query.
	_, page, _ := br.get("/de/website/shop.example.com/statistics?period=day")
	if !strings.Contains(page, `href="/fr/website/shop.example.com/statistics?period=day"`) {
		t.Errorf("the language switch does not keep the page: %s", page)
	}
	// An unknown language code is English.
	if _, page, _ = br.get("/xx/website/shop.example.com/statistics"); !strings.Contains(page, `<html lang="en">`) || !strings.Contains(page, "Requests this month") {
		t.Errorf("an unknown language is not English")
	}
	// Nothing challenged: a sentence, not a bare 0.0%.
	e2, jane2, _, _ := fixture(t)
	br2 := newBrowser(t, e2.URL)
	if _, page, _ = br2.get("/de/website/shop.example.com/statistics?api-key=" + jane2.APIKey); !strings.Contains(page, i18n.T("de", "funnel.none")) || strings.Contains(page, "0,0\u00a0%</p>") {
		t.Errorf("the funnel without challenges: %s", page)
	}
	// The favicon is served, neutral, in the partner's colour.
	code, icon, resp := br.get("/favicon.svg?c=aa3300")
	if code != 200 || !strings.Contains(icon, "#aa3300") || namesProduct(icon) || resp.Header.Get("Content-Type") != "image/svg+xml" {
		t.Errorf("favicon: %d %s %q", code, icon, resp.Header.Get("Content-Type"))
	}
	if code, _, _ := br.get("/favicon.ico"); code != 200 {
		t.Errorf("/favicon.ico: %d", code)
	}
	if !strings.Contains(page, `<link rel="icon" href="/favicon.svg?c=`) {
		t.Errorf("no favicon link")
	}
}

// TestA1BeforeSignIn: pages before sign-in (a wrong key, an expired link,
// signed out, the switch confirmation) are in the page's language, carry
// no partner's and no product's name, and do not repeat the domain asked
// for.
func TestA1BeforeSignIn(t *testing.T) {
	e, jane, bob, _ := fixture(t)
	for _, l := range i18n.Languages {
		anon := newBrowser(t, e.URL)
		for _, q := range []string{"?api-key=ck_nope", "?api-key=" + bob.APIKey, "?token=lt_nope", ""} {
			code, page, _ := anon.get("/" + l + "/website/shop.example.com/statistics" + q)
			if code != 401 {
				t.Fatalf("%s %s: %d", l, q, code)
			}
			if namesProduct(page) || strings.Contains(page, "Acme") || strings.Contains(page, "shop.example.com") {
				t.Errorf("%s %s: the page names the product, the partner or the domain: %s", l, q, page)
			}
			if left := i18n.Untranslated(l, visibleText(page)); len(left) > 0 {
				t.Errorf("%s %s: English left: %q", l, q, left)
			}
			if !strings.Contains(page, html.EscapeString(i18n.T(l, "common.err.unauthorized"))) || !strings.Contains(page, `<html lang="`+l+`">`) {
				t.Errorf("%s %s: not the page's language: %s", l, q, page)
			}
		}
	}
	// Sign-out and the switch page have no language in their address: the
	// browser's Accept-Language chooses.
	br := newBrowser(t, e.URL)
	_, page, _ := br.get("/en/website/shop.example.com/statistics?api-key=" + jane.APIKey)
	token := csrf(t, page)
	get := func(path, al string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", e.URL+path, nil)
		req.Header.Set("Accept-Language", al)
		resp, err := br.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, page := get("/en/website/bob.example.org/statistics?api-key="+bob.APIKey, "nl-NL,nl;q=0.9,en;q=0.5")
	if code != 200 || !strings.Contains(page, i18n.T("nl", "common.switch.title")) || !strings.Contains(page, `<html lang="nl">`) || namesProduct(page) {
		t.Errorf("the switch page in Dutch: %d %s", code, page)
	}
	if left := i18n.Untranslated("nl", visibleText(page)); len(left) > 0 {
		t.Errorf("switch page: English left: %q", left)
	}
	req, _ := http.NewRequest("POST", e.URL+"/logout", strings.NewReader("csrf="+token))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept-Language", "es")
	resp, err := br.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), html.EscapeString(i18n.T("es", "common.signedout"))) || namesProduct(string(b)) {
		t.Errorf("signed out in Spanish: %d %s", resp.StatusCode, b)
	}
}

// TestA1BrandAndPoweredBy: the operator's --brand-name heads the pages
// before sign-in; a partner that chose "powered by" gets the small footer
// line in the page's language, one that did not gets none.
func TestA1BrandAndPoweredBy(t *testing.T) {
	e := testenv.New(t, func(c *core.Config) { c.BrandName = "Hostco Shield" })
	anon := newBrowser(t, e.URL)
	code, page, _ := anon.get("/de/website/nosuch.example.net/statistics?api-key=ck_nope")
	if code != 401 || !strings.Contains(page, "Hostco Shield") || !regexp.MustCompile(`<title>[^<]+ · Hostco Shield</title>`).MatchString(page) ||
		strings.Contains(page, "nosuch.example.net") || namesProduct(page) {
		t.Errorf("before sign-in with --brand-name: %d %s", code, page)
	}

	f, jane, _, _ := fixture(t)
	br := newBrowser(t, f.URL)
	if _, page, _ = br.get("/fr/website/shop.example.com/statistics?api-key=" + jane.APIKey); strings.Contains(page, `class="powered"`) || namesProduct(page) {
		t.Errorf("powered by without the partner's choice: %s", page)
	}
	if _, err := f.Service.SetBranding(context.Background(), f.Caller, f.Caller.PartnerID, core.Branding{Name: "Acme Shield", Color: "#aa3300", PoweredBy: true}); err != nil {
		t.Fatal(err)
	}
	if _, page, _ = br.get("/fr/website/shop.example.com/statistics"); !strings.Contains(page, i18n.T("fr", "common.poweredby")) {
		t.Errorf("powered by, chosen, is not on the page: %s", page)
	}
}
