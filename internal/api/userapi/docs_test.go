package userapi_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	. "github.com/palisadehq/palisade/internal/api/userapi"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/i18n"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestDocsDoNotTellPartners: before authentication, /api/docs and
// /api/openapi.json answer the same, byte for byte, for a partner that
// exists (whose docs the visitor may not see yet) and for one that does not,
// and name neither; a signed-in customer sees its own partner's.
func TestDocsDoNotTellPartners(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.Service.SetBranding(ctx, e.Caller, e.Caller.PartnerID, core.Branding{Name: "Acme Shield"}); err != nil {
		t.Fatal(err)
	}
	cfg := core.DefaultUserAPIConfig()
	cfg.Routes = map[string]core.RouteConfig{"events.list": {Alias: "/api/sites/{domain}/log", Name: "Blocked requests"}}
	if _, err := e.Service.SetUserAPIConfig(ctx, e.Caller, cfg, RoutePaths()); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/docs", "/api/openapi.json"} {
		known := e.do(t, "GET", path+"?partner=host", "", "")
		unknown := e.do(t, "GET", path+"?partner=nosuch", "", "")
		none := e.do(t, "GET", path, "", "")
		if known.status != unknown.status || known.raw != unknown.raw || none.status != known.status || none.raw != known.raw {
			t.Fatalf("%s: existing partner %d, unknown %d, none %d\n%s\n---\n%s", path, known.status, unknown.status, none.status, known.raw, unknown.raw)
		}
		if known.header.Get("Content-Type") != unknown.header.Get("Content-Type") {
			t.Fatalf("%s: content types differ", path)
		}
		for _, leak := range []string{"Acme", "host User API", "partner=host", "Blocked requests", "/api/sites/"} {
			if strings.Contains(known.raw, leak) {
				t.Fatalf("%s names the partner before authentication (%q): %s", path, leak, known.raw)
			}
		}
	}
	// Signed in, the customer reads its partner's docs: names and aliases.
	auth := basic("jane@example.com", janePW)
	if d := e.do(t, "GET", "/api/docs", auth, ""); d.status != 200 || !strings.Contains(d.raw, "Acme Shield User API") || !strings.Contains(d.raw, "Blocked requests") {
		t.Fatalf("signed-in docs: %d %s", d.status, d.raw)
	}
	if o := e.do(t, "GET", "/api/openapi.json", auth, ""); o.status != 200 || !strings.Contains(o.raw, `"/api/sites/{domain}/log"`) {
		t.Fatalf("signed-in openapi: %d %s", o.status, o.raw)
	}
}

// docsGet fetches path from srv with the given headers (name, value …).
func docsGet(t *testing.T, srv, path string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// docsText is a docs page's visible text: its title and its text without
// markup, and without code (API names, paths and examples, the same in
// every language).
func docsText(body string) string {
	body = regexp.MustCompile(`(?s)<style.*?</style>|<code>.*?</code>|<pre>.*?</pre>`).ReplaceAllString(body, " ")
	return html.UnescapeString(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(body, " "))
}

const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

// TestDocsForBrowsersAndScripts: before sign-in a browser reads a friendly
// page (the operator's name or none, never the product's, in its
// language) that says where its provider's docs are and offers the
// sign-in, the same for every ?partner= and scope; a JSON client gets a
// JSON error; a failed sign-in is a page for a browser and JSON for a
// script; a signed-in customer reads its partner's docs in its language.
func TestDocsForBrowsersAndScripts(t *testing.T) {
	for _, brand := range []string{"", "Example Cloud"} {
		st := testenv.New(t, func(c *core.Config) { c.BrandName = brand })
		ctx := context.Background()
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(New(st.Service, key, "https://palisade.test", nil, nil))
		t.Cleanup(srv.Close)
		if _, _, err := st.Service.ProvisionAccount(ctx, st.Caller, core.Provision{Account: core.SubaccountCreate{Email: "jane@example.com", Lang: "fr"}, Password: janePW, Domain: "shop.example.com", Plan: "10k"}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Service.SetBranding(ctx, st.Caller, st.Caller.PartnerID, core.Branding{Name: "Acme Shield"}); err != nil {
			t.Fatal(err)
		}
		for _, lang := range i18n.Languages {
			var first string
			for _, path := range []string{"/api/docs", "/api/docs?partner=host", "/api/docs?partner=nosuch", "/api/p/host/docs", "/api/p/nosuch/docs"} {
				status, h, body := docsGet(t, srv.URL, path, "Accept", browserAccept, "Accept-Language", lang)
				text := docsText(body)
				if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(body, `lang="`+lang+`"`) {
					t.Fatalf("%s %s: %d %s\n%s", lang, path, status, h.Get("Content-Type"), body)
				}
				for _, want := range []string{i18n.T(lang, "docs.welcome.open"), i18n.T(lang, "docs.signin"), `href="?signin=1"`} {
					if !strings.Contains(text, want) && !strings.Contains(body, want) {
						t.Errorf("%s %s lacks %q", lang, path, want)
					}
				}
				if strings.Contains(text, "Palisade") || strings.Contains(text, "Acme") || (brand != "" && !strings.Contains(text, brand)) {
					t.Errorf("%s %s brand %q:\n%s", lang, path, brand, text)
				}
				if left := i18n.Untranslated(lang, text); len(left) > 0 {
					t.Errorf("%s %s: English left %q", lang, path, left)
				}
				if first == "" {
					first = body
				} else if body != first {
					t.Errorf("%s %s answers differently from /api/docs: it tells who is a partner", lang, path)
				}
			}
		}
		// A JSON client: JSON, never a page.
		status, h, body := docsGet(t, srv.URL, "/api/docs", "Accept", "application/json")
		var e struct {
			Success bool     `json:"success"`
			Error   []string `json:"error"`
		}
		if status != 404 || !strings.HasPrefix(h.Get("Content-Type"), "application/json") || json.Unmarshal([]byte(body), &e) != nil || e.Success || len(e.Error) != 1 {
			t.Fatalf("JSON client: %d %s %s", status, h.Get("Content-Type"), body)
		}
		// Sign-in: the browser is asked, with no product's name in the prompt.
		status, h, _ = docsGet(t, srv.URL, "/api/docs?signin=1", "Accept", browserAccept)
		if status != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), `Basic realm="User API"`) {
			t.Fatalf("?signin=1: %d %q", status, h.Get("WWW-Authenticate"))
		}
		// A wrong password: a page for a browser, JSON for a script.
		status, h, body = docsGet(t, srv.URL, "/api/docs?signin=1", "Accept", browserAccept, "Accept-Language", "de", "Authorization", basic("jane@example.com", "wrong"))
		if status != 401 || !strings.Contains(docsText(body), i18n.T("de", "docs.welcome.failed")) || h.Get("WWW-Authenticate") == "" {
			t.Fatalf("wrong password, browser: %d\n%s", status, body)
		}
		status, h, body = docsGet(t, srv.URL, "/api/docs", "Accept", "application/json", "Authorization", basic("jane@example.com", "wrong"))
		if status != 401 || !strings.HasPrefix(h.Get("Content-Type"), "application/json") || strings.Contains(h.Get("WWW-Authenticate"), "Palisade") {
			t.Fatalf("wrong password, JSON: %d %s", status, body)
		}
		// A malformed scope, in a browser: the friendly page.
		if status, _, body := docsGet(t, srv.URL, "/api/p/%20/docs", "Accept", browserAccept); status != 404 || !strings.Contains(body, `href="?signin=1"`) {
			t.Fatalf("malformed scope: %d\n%s", status, body)
		}
		// Signed in: the partner's docs, in the customer's language (or the
		// browser's), titled by the partner.
		auth := basic("jane@example.com", janePW)
		for _, c := range []struct{ accept, lang, title string }{{"", "fr", "API utilisateur Acme Shield"}, {"nl-NL", "nl", "Acme Shield Gebruikers-API"}, {"de", "de", "Acme Shield User-API"}} {
			status, _, body := docsGet(t, srv.URL, "/api/docs", "Accept", browserAccept, "Accept-Language", c.accept, "Authorization", auth)
			text := docsText(body)
			if status != 200 || !strings.Contains(body, `lang="`+c.lang+`"`) || !strings.Contains(text, c.title) || strings.Contains(text, "Palisade") {
				t.Fatalf("signed in (%s): %d\n%s", c.lang, status, text)
			}
			if left := i18n.Untranslated(c.lang, text); len(left) > 0 {
				t.Errorf("signed-in docs in %s: English left %q", c.lang, left)
			}
		}
		// A partner that shows "Powered by Palisade" has the line on its docs.
		b, _ := st.Service.Branding(ctx, st.Caller)
		b.PoweredBy = true
		if _, err := st.Service.SetBranding(ctx, st.Caller, st.Caller.PartnerID, b); err != nil {
			t.Fatal(err)
		}
		if _, _, body := docsGet(t, srv.URL, "/api/docs", "Accept", browserAccept, "Accept-Language", "nl", "Authorization", auth); !strings.Contains(docsText(body), i18n.T("nl", "common.poweredby")) {
			t.Errorf("powered_by on: the docs lack the line:\n%s", docsText(body))
		}
		// The generic reference, asked for: the operator's name or none.
		_, _, body = docsGet(t, srv.URL, "/api/docs?generic=1", "Accept", browserAccept, "Accept-Language", "es")
		if text := docsText(body); strings.Contains(text, "Palisade") || !strings.Contains(body, "/api/me") || (brand != "" && !strings.Contains(text, brand)) {
			t.Fatalf("generic reference:\n%s", text)
		} else if left := i18n.Untranslated("es", text); len(left) > 0 {
			t.Errorf("generic reference in es: English left %q", left)
		}
		// The OpenAPI document before sign-in names no product.
		if _, _, body := docsGet(t, srv.URL, "/api/openapi.json"); strings.Contains(body, "Palisade") || !strings.Contains(body, `"title":"`+strings.TrimSpace(brand+" User API")+`"`) {
			t.Fatalf("openapi.json title: %.300s", body)
		}
	}
}
