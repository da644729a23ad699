package partnerapi_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// jsonRequest is a request with a JSON body, as the PHP client and curl
// send it.
func jsonRequest(method, path, key, body string) string {
	return fmt.Sprintf("%s %s HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nAccept: application/json\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", method, path, key, len(body), body)
}

type wireBranding struct {
	Name        string `json:"name"`
	DefaultLang string `json:"default_lang"`
	Status      string `json:"status"`
	Field       string `json:"field"`
	Message     string `json:"message"`
}

// TestPartnerDefaultLanguageWire: the partner sets its default language in
// its branding (PUT /v1/branding default_lang, names or codes); a customer
// created with a language Palisade does not know, or none, gets it, with a
// warning naming it, on the BotGuard-compatible POST /user as the WHMCS
// module sends it and on POST /v1/users (issue 17 item 2).
func TestPartnerDefaultLanguageWire(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		key := e.keyB

		var b wireBranding
		wantJSON(t, "GET /v1/branding", e.raw(t, jsonRequest("GET", "/v1/branding", key, "")), "200 OK", &b)
		if b.DefaultLang != "en" {
			t.Fatalf("a partner's default language before it sets one: %+v", b)
		}
		wantJSON(t, "default_lang klingon", e.raw(t, jsonRequest("PUT", "/v1/branding", key, `{"name":"B Hosting","default_lang":"klingon"}`)), "400 Bad Request", &b)
		if b.Status != "error" || b.Field != "default_lang" || !strings.Contains(b.Message, `"klingon"`) {
			t.Fatalf("default_lang klingon: %+v", b)
		}
		b = wireBranding{}
		wantJSON(t, "default_lang German", e.raw(t, jsonRequest("PUT", "/v1/branding", key, `{"name":"B Hosting","default_lang":"German"}`)), "200 OK", &b)
		if b.DefaultLang != "de" || b.Name != "B Hosting" {
			t.Fatalf("default_lang German: %+v", b)
		}
		// A branding PUT without the field (older clients) keeps it.
		wantJSON(t, "branding without default_lang", e.raw(t, jsonRequest("PUT", "/v1/branding", key, `{"name":"B Hosting GmbH"}`)), "200 OK", &b)
		if b.DefaultLang != "de" {
			t.Fatalf("branding without default_lang: %+v", b)
		}

		// The WHMCS module's CreateAccount with a language Palisade does not
		// know: the order goes through with the partner's language.
		var u wireUser
		wantJSON(t, "POST /user lang=klingon", e.raw(t, phpStream("POST", "/user", key, whmcsClient("k@example.com", "K", "L", "", "DE", "a", "1", "b", "klingon"))), "201 Created", &u)
		if u.Lang != "de" || len(u.Warnings) != 1 || !strings.Contains(u.Warnings[0], `"klingon"`) || !strings.Contains(u.Warnings[0], "default language, de") {
			t.Fatalf("POST /user lang=klingon: %+v", u)
		}
		// None (an empty lang; the WHMCS module itself sends en for a
		// client without a language): the partner's language, no warning.
		u = wireUser{}
		wantJSON(t, "POST /user lang=", e.raw(t, phpStream("POST", "/user", key, &url.Values{"email": {"n@example.com"}, "lang": {""}})), "201 Created", &u)
		if u.Lang != "de" || len(u.Warnings) != 0 {
			t.Fatalf("POST /user without lang: %+v", u)
		}
		// A known one is taken as sent.
		u = wireUser{}
		wantJSON(t, "POST /user lang=russian", e.raw(t, phpStream("POST", "/user", key, whmcsClient("r@example.com", "R", "L", "", "RU", "a", "1", "b", "russian"))), "201 Created", &u)
		if u.Lang != "ru" || len(u.Warnings) != 0 {
			t.Fatalf("POST /user lang=russian: %+v", u)
		}
		// /v1/users, JSON.
		u = wireUser{}
		wantJSON(t, "POST /v1/users lang klingon", e.raw(t, jsonRequest("POST", "/v1/users", key, `{"email":"v1@example.com","lang":"Klingon"}`)), "201 Created", &u)
		if u.Lang != "de" || len(u.Warnings) != 1 || !strings.Contains(u.Warnings[0], "default language, de") {
			t.Fatalf("POST /v1/users lang Klingon: %+v", u)
		}
		// Dashboard links: ?lang= as sent, else the partner's language.
		var site struct {
			URLs struct {
				Statistics string `json:"statistics"`
			} `json:"urls"`
		}
		wantJSON(t, "POST /website", e.raw(t, phpStream("POST", "/website", key, &url.Values{"domain": {"shop.example.com"}})), "201 Created", &site)
		if !strings.Contains(site.URLs.Statistics, "/de/website/shop.example.com/") {
			t.Fatalf("dashboard link without ?lang: %q", site.URLs.Statistics)
		}
		for l, want := range map[string]string{"english": "/en/", "klingon": "/de/"} {
			wantJSON(t, "GET /website/shop.example.com?lang="+l, e.raw(t, jsonRequest("GET", "/website/shop.example.com?lang="+l, key, "")), "200 OK", &site)
			if !strings.Contains(site.URLs.Statistics, want+"website/shop.example.com/") {
				t.Fatalf("dashboard link with ?lang=%s: %q; want %s", l, site.URLs.Statistics, want)
			}
		}
		// Another partner keeps en.
		u = wireUser{}
		wantJSON(t, "other partner", e.raw(t, phpStream("POST", "/user", e.keyA, &url.Values{"email": {"k@example.com"}, "lang": {"klingon"}})), "201 Created", &u)
		if u.Lang != "en" || len(u.Warnings) != 1 || !strings.Contains(u.Warnings[0], "default language, en") {
			t.Fatalf("other partner: %+v", u)
		}
	})
}
