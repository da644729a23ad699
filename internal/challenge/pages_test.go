package challenge

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/i18n"
)

func renderPage(t *testing.T, wb *Web, pol *engine.Policy, v engine.Verdict, lang string) string {
	t.Helper()
	r := httptest.NewRequest("GET", "/products/42", nil)
	r.Header.Set("Accept-Language", lang)
	w := httptest.NewRecorder()
	wb.Page(w, r, pol, v, Client{Website: pol.WebsiteID, IP: webClientIP, UserAgent: "curl/8.5.0"}, "/products/42", http.StatusForbidden)
	return html.UnescapeString(w.Body.String())
}

// noJSText is what a browser without JavaScript shows: the page without
// its scripts, with <noscript> content shown.
func noJSText(body string) string {
	body = regexp.MustCompile(`(?s)<script.*?</script>|<style.*?</style>`).ReplaceAllString(body, "")
	return regexp.MustCompile(`<[^>]*>`).ReplaceAllString(body, "")
}

// TestPagesNeverLeaveAVisitorStuck: challenge and deny pages show the
// decision's reference ID, the reason in plain words and a way forward,
// in the visitor's language.
func TestPagesNeverLeaveAVisitorStuck(t *testing.T) {
	is, _ := newIssuer(t)
	wb, pol := testWeb(t, is)
	ref := core.NewRef()
	cases := []struct {
		name, lang string
		v          engine.Verdict
		want       []string
	}{
		{"deny ai crawler", "en", engine.Verdict{Action: engine.Deny, Category: engine.AICrawlers, Source: engine.SourceCategory, Reason: "ai_crawlers", Ref: ref},
			[]string{"Access denied", "does not admit automated clients", ref, `href=""`, "Try again", "contact the website's owner"}},
		{"deny rate limit de", "de-DE,de;q=0.9", engine.Verdict{Action: engine.Deny, Source: engine.SourceRateLimit, Reason: "login-burst", Ref: ref},
			[]string{"Zugriff verweigert", "Zu viele Anfragen", ref, "Erneut versuchen", "Betreiber der Website"}},
		{"deny waf", "en", engine.Verdict{Action: engine.Deny, Source: engine.SourceWAF, Reason: "waf", Detail: "sqli: 942100 SQL Injection", Ref: ref},
			[]string{"Access denied", "firewall found something", ref, "contact the website's owner"}},
		{"deny waf de", "de", engine.Verdict{Action: engine.Deny, Source: engine.SourceWAF, Reason: "waf", Ref: ref},
			[]string{"Zugriff verweigert", "Firewall der Website", ref}},
		{"challenge rule", "en", engine.Verdict{Action: engine.Challenge, Source: engine.SourceRule, Reason: "admin", Ref: ref},
			[]string{"Checking your browser", "A rule the website's owner set up", ref, `href=""`, "contact the website's owner"}},
	}
	for _, c := range cases {
		body := renderPage(t, wb, pol, c.v, c.lang)
		for _, s := range c.want {
			if !strings.Contains(body, s) {
				t.Errorf("%s: page lacks %q:\n%s", c.name, s, body)
			}
		}
		if strings.Contains(body, "login-burst") {
			t.Errorf("%s: the page shows the rate limit's name; the reference ID is for the owner to look it up", c.name)
		}
	}
}

// TestPageWithoutRefPromisesNone: a page fetched without its reference ID
// (an old web-server snippet) does not point to one.
func TestPageWithoutRefPromisesNone(t *testing.T) {
	is, _ := newIssuer(t)
	wb, pol := testWeb(t, is)
	body := renderPage(t, wb, pol, engine.Verdict{Action: engine.Deny}, "en")
	if !strings.Contains(body, "contact the website's owner.") || strings.Contains(body, "reference ID") || strings.Contains(body, "<code>") {
		t.Fatalf("deny page without a reference ID:\n%s", body)
	}
}

// TestChallengePageAccessible: progress is announced in a live region,
// motion stops when the visitor asks for less, and the page reads in order
// without its CSS.
func TestChallengePageAccessible(t *testing.T) {
	is, _ := newIssuer(t)
	wb, pol := testWeb(t, is)
	body := renderPage(t, wb, pol, engine.Verdict{Action: engine.Challenge, Category: engine.EmulatedHumans, Source: engine.SourceCategory, Ref: core.NewRef()}, "en")
	for _, s := range []string{`role="status"`, `aria-live="polite"`, "@media (prefers-reduced-motion: reduce)", "<main>", "<h1>", `lang="en"`} {
		if !strings.Contains(body, s) {
			t.Errorf("challenge page lacks %q", s)
		}
	}
	if strings.Contains(body, "style=") {
		t.Error("inline style attributes: the page's look belongs in its <style>, so that it reads in order without CSS")
	}
}

// TestNoJSPageSaysOneThing: without JavaScript the page says that
// JavaScript is off and never "checking…" at the same time; with it, the
// script says "checking…".
func TestNoJSPageSaysOneThing(t *testing.T) {
	is, _ := newIssuer(t)
	wb, pol := testWeb(t, is)
	st := engine.Settings{}
	st.Challenge.Difficulty = 8
	st.Challenge.NoJSDelay = 5
	waitPol, err := engine.Compile(engine.Site{ID: 7, PartnerID: 1, Domain: "shop.example.com", Status: "online", ServerKeyHash: strings.Repeat("ab", 32), Settings: st})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		pol  *engine.Policy
		want string
	}{{pol, "This check needs JavaScript"}, {waitPol, "JavaScript is off: please wait 5 seconds"}} {
		body := renderPage(t, wb, c.pol, engine.Verdict{Action: engine.Challenge, Ref: core.NewRef()}, "en")
		text := noJSText(body)
		if !strings.Contains(text, c.want) {
			t.Errorf("no-JS page lacks %q:\n%s", c.want, text)
		}
		if strings.Contains(text, "Checking…") {
			t.Errorf("no-JS page says both %q and checking:\n%s", c.want, text)
		}
		if !strings.Contains(body, `"Checking… this usually takes less than a second."`) {
			t.Error("the script does not announce the check")
		}
	}
}

// TestFailedCheckPageHasReportedRef: a failed solution's page shows a
// reference ID, the same the outcome reports (and events store).
func TestFailedCheckPageHasReportedRef(t *testing.T) {
	is, _ := newIssuer(t)
	wb, pol := testWeb(t, is)
	var got []Outcome
	wb.Report = func(o Outcome) { got = append(got, o) }
	mux := http.NewServeMux()
	wb.Register(mux)
	ch := is.Issue(Client{Website: pol.WebsiteID, IP: webClientIP, UserAgent: "Mozilla/5.0 Test"}, 8)
	// A counter that does not solve it (one in 256 does, at 8 bits).
	wrong := 0
	for Check(ch.Token, strconv.Itoa(wrong), 8) {
		wrong++
	}
	form := url.Values{"token": {ch.Token}, "counter": {strconv.Itoa(wrong)}, "return": {"/cart"}}
	r := httptest.NewRequest("POST", Prefix+"verify", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("User-Agent", "Mozilla/5.0 Test")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden || len(got) != 1 || got[0].Solved {
		t.Fatalf("%d, outcomes %+v", w.Code, got)
	}
	if !strings.Contains(w.Body.String(), `<a href="/cart">Try again</a>`) {
		t.Errorf("the failed check's page does not lead back to where the visitor was going:\n%s", w.Body.String())
	}
	if len(got[0].Ref) != 10 || !strings.Contains(w.Body.String(), got[0].Ref) {
		t.Fatalf("reported ref %q not on the page:\n%s", got[0].Ref, w.Body.String())
	}
}

func TestNewRef(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		r := core.NewRef()
		if !regexp.MustCompile(`^[A-Z2-7]{10}$`).MatchString(r) || seen[r] {
			t.Fatalf("ref %q (repeat: %v)", r, seen[r])
		}
		seen[r] = true
	}
}

// visibleText is what a visitor reads on a page: its text without
// markup, scripts' code or style, plus its <title>.
func visibleText(body string) string {
	title := ""
	if m := regexp.MustCompile(`(?s)<title>(.*?)</title>`).FindStringSubmatch(body); m != nil {
		title = m[1]
	}
	body = regexp.MustCompile(`(?s)<script.*?</script>|<style.*?</style>|<title>.*?</title>`).ReplaceAllString(body, "")
	return title + "\n" + html.UnescapeString(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(body, " "))
}

// TestPagesInEveryLanguage: challenge, deny and failed-check pages speak
// each of the five languages through the catalogue (no English left), show
// the reference ID with the sentence asking to quote it, carry the
// partner's name, and name the product only when the partner turned on
// "powered by".
func TestPagesInEveryLanguage(t *testing.T) {
	is, _ := newIssuer(t)
	wb, _ := testWeb(t, is)
	site := func(powered bool) *engine.Policy {
		st := engine.Settings{}
		st.Challenge.Difficulty = 8
		st.Challenge.NoJSDelay = 5
		pol, err := engine.Compile(engine.Site{ID: 7, PartnerID: 1, Domain: "shop.example.com", Status: "online", ServerKeyHash: strings.Repeat("ab", 32), Settings: st,
			Brand: "Acme Hosting", BrandLogo: "https://acme.example/logo.png", BrandColor: "#aa3300", PoweredBy: powered})
		if err != nil {
			t.Fatal(err)
		}
		return pol
	}
	ref := core.NewRef()
	verdicts := map[string]engine.Verdict{
		"deny":      {Action: engine.Deny, Source: engine.SourceWAF, Reason: "waf", Ref: ref},
		"challenge": {Action: engine.Challenge, Category: engine.AICrawlers, Source: engine.SourceCategory, Ref: ref},
	}
	for _, lang := range i18n.Languages {
		for _, powered := range []bool{false, true} {
			pol := site(powered)
			for name, v := range verdicts {
				body := renderPage(t, wb, pol, v, lang+";q=0.9")
				text := visibleText(body)
				if left := i18n.Untranslated(lang, text); len(left) > 0 {
					t.Errorf("%s %s: English left: %q\n%s", lang, name, left, text)
				}
				for _, want := range []string{`lang="` + lang + `"`, ref, i18n.T(lang, "ch.contact"), i18n.T(lang, "ch.ref_label"), "Acme Hosting", "#aa3300", "https://acme.example/logo.png"} {
					if !strings.Contains(body, html.EscapeString(want)) && !strings.Contains(body, want) {
						t.Errorf("%s %s: page lacks %q", lang, name, want)
					}
				}
				if has := strings.Contains(text, "Palisade"); has != powered {
					t.Errorf("%s %s powered_by=%v: product name shown %v:\n%s", lang, name, powered, has, text)
				}
			}
		}
	}
	// The partner's language when the browser names none we speak.
	pol := site(false)
	pol.Lang = "nl"
	if body := renderPage(t, wb, pol, verdicts["deny"], "ja"); !strings.Contains(body, `lang="nl"`) || !strings.Contains(body, i18n.T("nl", "ch.denied_title")) {
		t.Errorf("a Japanese visitor of a Dutch partner's site:\n%s", body)
	}
}

// TestUnknownSitePageIsNeutral: a deny page for a request no website
// answers carries the operator's --brand-name, or no name at all, and
// never the product's; so do the challenge endpoints' error pages.
func TestUnknownSitePageIsNeutral(t *testing.T) {
	is, _ := newIssuer(t)
	for _, brand := range []string{"", "Example Cloud"} {
		wb := &Web{Issuer: is, BrandName: brand, Resolve: func(*http.Request) (*engine.Policy, netip.Addr) { return nil, netip.Addr{} }}
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Language", "fr-FR")
		w := httptest.NewRecorder()
		wb.Page(w, r, nil, engine.Verdict{Action: engine.Deny, Ref: "ABCDEFGHJK"}, Client{IP: webClientIP}, "/", http.StatusForbidden)
		mux := http.NewServeMux()
		wb.Register(mux)
		for _, req := range []*http.Request{httptest.NewRequest("POST", Prefix+"verify", strings.NewReader("token=x")), httptest.NewRequest("GET", Prefix+"nojs?token=x", nil)} {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Accept-Language", "fr-FR")
			ew := httptest.NewRecorder()
			mux.ServeHTTP(ew, req)
			if ew.Code != http.StatusNotFound || !strings.Contains(ew.Body.String(), html.EscapeString(i18n.T("fr", "ch.err.unknown_site"))) {
				t.Errorf("%s %s: %d\n%s", req.Method, req.URL.Path, ew.Code, ew.Body.String())
			}
			if strings.Contains(ew.Body.String(), "alisade") {
				t.Errorf("%s: the product's name on an error page:\n%s", req.URL.Path, ew.Body.String())
			}
		}
		text := visibleText(w.Body.String())
		if strings.Contains(text, "Palisade") || strings.Contains(text, "palisade") {
			t.Errorf("brand %q: the product's name on an unknown site's page:\n%s", brand, text)
		}
		if brand != "" && !strings.Contains(text, brand) {
			t.Errorf("the operator's name %q is missing:\n%s", brand, text)
		}
		if brand == "" && strings.Contains(text, i18n.T("fr", "ch.protected", map[string]any{"Brand": ""})) {
			t.Errorf("an empty brand line:\n%s", text)
		}
		if left := i18n.Untranslated("fr", text); len(left) > 0 {
			t.Errorf("English left: %q", left)
		}
	}
}

// TestFailedCheckInTheVisitorsWords: a failed check's cause is told in the
// visitor's language, not as the error's English text.
func TestFailedCheckInTheVisitorsWords(t *testing.T) {
	is, _ := newIssuer(t)
	wb, _ := testWeb(t, is)
	mux := http.NewServeMux()
	wb.Register(mux)
	form := url.Values{"token": {"garbage"}, "counter": {"1"}, "return": {"/cart"}}
	r := httptest.NewRequest("POST", Prefix+"verify", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Accept-Language", "es")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	body := html.UnescapeString(w.Body.String())
	if w.Code != http.StatusForbidden || !strings.Contains(body, i18n.T("es", "ch.err.malformed")) || strings.Contains(body, ErrMalformed.Error()) {
		t.Fatalf("%d\n%s", w.Code, body)
	}
	if left := i18n.Untranslated("es", visibleText(w.Body.String())); len(left) > 0 {
		t.Errorf("English left: %q", left)
	}
}
