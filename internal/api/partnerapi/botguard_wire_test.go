package partnerapi_test

// Wire compatibility with BotGuard's own partner-API clients, written from
// their published wire formats and sent as raw bytes over TCP (Go's HTTP
// client would canonicalise header names and hide what the clients send):
//
//   - BotGuard's PHP wrapper (botguard_api_v2.php), PHP's http stream
//     wrapper: HTTP/1.1, "Accept: application/json", "Authorization: Bearer
//     <key>" and, whenever it has parameters, "Content-type:
//     application/x-www-form-urlencoded" (lower-case t) with an
//     http_build_query body, for every method: getSubaccounts() is a GET
//     /user with email=… in the body, and with an empty body when no filter
//     is given.
//   - The wrapper's curl rewrite: GET parameters in the query string, POST
//     and PUT bodies form-encoded, "User-Agent: WHMCS-BotGuard-Module/2.0".
//   - BotGuard's WHMCS module (botguard.php), built on the wrapper:
//     CreateAccount POSTs /user (email, first_name, last_name, company,
//     country, address as "address1 postcode city", lang as WHMCS's
//     language name lower-cased, "en" when the client has none) before
//     every POST /website (domain, user = the answer's id); ClientArea asks
//     GET /user with email=… and shows dashboard links only when exactly
//     one subaccount comes back.
//
// Neither client reads answer headers or status codes: they json_decode
// the body and treat {"status":"error"} as a failure. So the answers are
// checked for their JSON and that shape, and the status line and
// Content-Type byte for byte.

import (
	"encoding/json"
	"fmt"
	"github.com/palisadehq/palisade/internal/testenv/rawhttp"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// rawAnswer is an HTTP answer as read from the socket.
type rawAnswer struct {
	statusLine string
	headers    []string // "Name: value", as sent
	body       []byte
}

func (a rawAnswer) header(name string) string {
	for _, h := range a.headers {
		if k, v, ok := strings.Cut(h, ": "); ok && k == name {
			return v
		}
	}
	return ""
}

// raw sends req as it is to the server and reads the whole answer (the
// request says Connection: close).
func (e *env) raw(t *testing.T, req string) rawAnswer {
	t.Helper()
	u, _ := url.Parse(e.url)
	a := rawhttp.Do(t, u.Host, []byte(strings.ReplaceAll(req, "{host}", u.Host)))
	return rawAnswer{statusLine: a.StatusLine, headers: a.Headers, body: a.Body}
}

// phpStream is a request as PHP's http stream wrapper sends it for the
// BotGuard PHP wrapper: its headers as the wrapper spells them, and the
// body, with the Content-type header, whenever params is not null (an
// empty filter sends an empty body).
func phpStream(method, path, key string, params *url.Values) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n", method, path)
	b.WriteString("Accept: application/json\r\nAuthorization: Bearer " + key + "\r\n")
	body := ""
	if params != nil {
		body = phpBuildQuery(*params)
		b.WriteString("Content-type: application/x-www-form-urlencoded\r\n")
		if body != "" {
			b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
		}
	}
	b.WriteString("\r\n" + body)
	return b.String()
}

// phpBuildQuery encodes as PHP's http_build_query does (spaces as +, '@'
// as %40), in the order the PHP array lists the keys.
func phpBuildQuery(v url.Values) string {
	order := []string{"email", "first_name", "last_name", "company", "country", "address", "lang", "domain", "user", "status"}
	var parts []string
	seen := map[string]bool{}
	for _, k := range append(order, sortedKeys(v)...) {
		if seen[k] || v[k] == nil {
			continue
		}
		seen[k] = true
		parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v.Get(k)))
	}
	return strings.Join(parts, "&")
}

func sortedKeys(v url.Values) []string {
	var ks []string
	for k := range v {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}

// curlForm is a request as the wrapper's curl rewrite sends a POST or PUT.
func curlForm(method, path, key, body, contentType string) string {
	return method + " " + path + " HTTP/1.1\r\nHost: {host}\r\nUser-Agent: WHMCS-BotGuard-Module/2.0\r\nAccept: application/json\r\n" +
		"Authorization: Bearer " + key + "\r\nContent-Type: " + contentType + "\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n" + body
}

// whmcsClient is the subaccount BotGuard's WHMCS module sends for a client.
func whmcsClient(email, first, last, company, country, address1, postcode, city, language string) *url.Values {
	lang := strings.ToLower(language)
	if lang == "" {
		lang = "en"
	}
	return &url.Values{"email": {email}, "first_name": {first}, "last_name": {last}, "company": {company}, "country": {country},
		"address": {address1 + " " + postcode + " " + city}, "lang": {lang}}
}

type wireUser struct {
	ID       int64    `json:"id"`
	Email    string   `json:"email"`
	Company  string   `json:"company"`
	Lang     string   `json:"lang"`
	APIKey   string   `json:"api_key"`
	Warnings []string `json:"warnings"`
	Status   string   `json:"status"`
	Message  string   `json:"message"`
	Field    string   `json:"field"`
}

// wantJSON checks the status line and Content-Type byte for byte and
// decodes the body into v.
func wantJSON(t *testing.T, what string, a rawAnswer, status string, v any) {
	t.Helper()
	if a.statusLine != "HTTP/1.1 "+status {
		t.Fatalf("%s: %q, body %s; want HTTP/1.1 %s", what, a.statusLine, a.body, status)
	}
	if ct := a.header("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("%s: Content-Type %q in %q", what, ct, a.headers)
	}
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("%s: body %s: %v", what, a.body, err)
	}
}

// TestBotGuardWHMCSModuleWire drives BotGuard's WHMCS module's calls as the
// PHP wrapper puts them on the wire: two orders by one customer (issue 17
// item 4), WHMCS language names (item 2) and the client area's GET /user
// with a form body once the partner has two customers (item 3).
func TestBotGuardWHMCSModuleWire(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		key := e.keyB

		// Order 1: CreateAccount for a WHMCS client whose language is German.
		jane := whmcsClient("Jane@Example.com", "Jane", "Doe", "Doe Ltd", "DE", "Main St 1", "10115", "Berlin", "German")
		var u1 wireUser
		wantJSON(t, "order 1: POST /user", e.raw(t, phpStream("POST", "/user", key, jane)), "201 Created", &u1)
		if u1.ID == 0 || !strings.HasPrefix(u1.APIKey, "ck_") || u1.Lang != "de" || u1.Email != "jane@example.com" || len(u1.Warnings) != 0 {
			t.Fatalf("order 1 user: %+v", u1)
		}
		var site map[string]any
		wantJSON(t, "order 1: POST /website", e.raw(t, phpStream("POST", "/website", key, &url.Values{"domain": {"shop1.example.com"}, "user": {strconv.FormatInt(u1.ID, 10)}})), "201 Created", &site)
		if site["domain"] != "shop1.example.com" || site["user"] != float64(u1.ID) {
			t.Fatalf("order 1 website: %v", site)
		}

		// Order 2 by the same client: the same POST /user answers the same
		// subaccount, and the website is created for it.
		var u2 wireUser
		wantJSON(t, "order 2: POST /user", e.raw(t, phpStream("POST", "/user", key, jane)), "200 OK", &u2)
		if u2.ID != u1.ID || u2.APIKey != u1.APIKey || u2.Status == "error" {
			t.Fatalf("order 2 user: %+v; want id %d", u2, u1.ID)
		}
		wantJSON(t, "order 2: POST /website", e.raw(t, phpStream("POST", "/website", key, &url.Values{"domain": {"shop2.example.com"}, "user": {strconv.FormatInt(u2.ID, 10)}})), "201 Created", &site)

		// A client who changed their last name in WHMCS: the error names the field.
		renamed := whmcsClient("jane@example.com", "Jane", "Roe", "Doe Ltd", "DE", "Main St 1", "10115", "Berlin", "german")
		var conflict wireUser
		wantJSON(t, "renamed client", e.raw(t, phpStream("POST", "/user", key, renamed)), "409 Conflict", &conflict)
		if conflict.Status != "error" || conflict.Field != "last_name" || !strings.Contains(conflict.Message, "last_name") {
			t.Fatalf("conflict: %+v", conflict)
		}

		// Every WHMCS language name, and none: accepted.
		for i, l := range []string{"russian", "ukranian", "portuguese-br", "farsi", "azerbaijani", "chinese", ""} {
			c := whmcsClient(fmt.Sprintf("c%d@example.com", i), "C", "L", "", "RU", "a", "1", "b", l)
			var u wireUser
			wantJSON(t, "language "+l, e.raw(t, phpStream("POST", "/user", key, c)), "201 Created", &u)
			if want := map[string]string{"russian": "ru", "ukranian": "uk", "portuguese-br": "pt", "farsi": "fa", "azerbaijani": "az", "chinese": "zh", "": "en"}[l]; u.Lang != want || len(u.Warnings) != 0 {
				t.Fatalf("language %q: %+v; want %s", l, u, want)
			}
		}
		// A language Palisade does not know: the order goes through, with a warning.
		var odd wireUser
		wantJSON(t, "unknown language", e.raw(t, phpStream("POST", "/user", key, whmcsClient("odd@example.com", "O", "D", "", "DE", "a", "1", "b", "Klingon"))), "201 Created", &odd)
		if odd.Lang != "en" || len(odd.Warnings) != 1 || !strings.Contains(odd.Warnings[0], `"klingon"`) {
			t.Fatalf("unknown language: %+v", odd)
		}

		// ClientArea: GET /user with email=… in a form body finds exactly
		// the one subaccount among several.
		var found []wireUser
		wantJSON(t, "client area", e.raw(t, phpStream("GET", "/user", key, &url.Values{"email": {"jane@example.com"}})), "200 OK", &found)
		if len(found) != 1 || found[0].ID != u1.ID || found[0].APIKey != u1.APIKey {
			t.Fatalf("GET /user with a form body: %+v", found)
		}
		// getSubaccounts() without a filter: an empty body, every subaccount.
		var all []wireUser
		wantJSON(t, "all users", e.raw(t, phpStream("GET", "/user", key, &url.Values{})), "200 OK", &all)
		if len(all) < 9 {
			t.Fatalf("GET /user with an empty body: %d subaccounts", len(all))
		}
		// Another partner asking for the email in the body learns nothing.
		var none []wireUser
		wantJSON(t, "other partner", e.raw(t, phpStream("GET", "/user", e.keyA, &url.Values{"email": {"jane@example.com"}})), "200 OK", &none)
		if len(none) != 0 {
			t.Fatalf("another partner's GET /user: %+v", none)
		}
		wantJSON(t, "other partner's create", e.raw(t, phpStream("POST", "/user", e.keyA, jane)), "201 Created", &u2)
		if u2.ID == u1.ID || u2.APIKey == u1.APIKey {
			t.Fatalf("another partner's create matched partner b's subaccount: %+v", u2)
		}

		// Suspend, unsuspend, terminate: the wrapper's PUT and DELETE.
		wantJSON(t, "suspend", e.raw(t, phpStream("PUT", "/website/shop1.example.com", key, &url.Values{"status": {"paused"}})), "200 OK", &site)
		if site["status"] != "paused" {
			t.Fatalf("suspend: %v", site)
		}
		wantJSON(t, "unsuspend", e.raw(t, phpStream("PUT", "/website/shop1.example.com", key, &url.Values{"status": {"online"}})), "200 OK", &site)
		wantJSON(t, "terminate", e.raw(t, phpStream("DELETE", "/website/shop1.example.com", key, nil)), "200 OK", &site)
		if site["status"] != "deleted" {
			t.Fatalf("terminate: %v", site)
		}
		// getDomain of an unknown website: the error shape the wrapper throws on.
		var missing wireUser
		wantJSON(t, "unknown website", e.raw(t, phpStream("GET", "/website/nowhere.example.com", key, nil)), "404 Not Found", &missing)
		if missing.Status != "error" || missing.Message == "" {
			t.Fatalf("unknown website: %+v", missing)
		}
	})
}

// TestBotGuardWrapperWireDetails: the rest of what BotGuard's clients and
// hand-written panels send to the compatible routes.
func TestBotGuardWrapperWireDetails(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	key := e.keyB
	var u wireUser
	wantJSON(t, "create", e.raw(t, phpStream("POST", "/user", key, &url.Values{"email": {"jane@example.com"}})), "201 Created", &u)
	wantJSON(t, "create other", e.raw(t, phpStream("POST", "/user", key, &url.Values{"email": {"bob@example.com"}})), "201 Created", &wireUser{})

	// The curl rewrite: GET parameters in the query string.
	var found []wireUser
	wantJSON(t, "query", e.raw(t, "GET /user?email=jane%40example.com HTTP/1.1\r\nHost: {host}\r\nUser-Agent: WHMCS-BotGuard-Module/2.0\r\nAccept: application/json\r\nAuthorization: Bearer "+key+"\r\nConnection: close\r\n\r\n"), "200 OK", &found)
	if len(found) != 1 || found[0].Email != "jane@example.com" {
		t.Fatalf("query: %+v", found)
	}
	// Query and body both: the query string wins.
	wantJSON(t, "query wins", e.raw(t, phpStream("GET", "/user?email=bob%40example.com", key, &url.Values{"email": {"jane@example.com"}})), "200 OK", &found)
	if len(found) != 1 || found[0].Email != "bob@example.com" {
		t.Fatalf("query and body: %+v", found)
	}
	// A JSON body on GET, with a charset parameter.
	body := `{"email":"jane@example.com"}`
	wantJSON(t, "json body", e.raw(t, "GET /user HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer "+key+"\r\nContent-Type: application/json; charset=UTF-8\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\nConnection: close\r\n\r\n"+body), "200 OK", &found)
	if len(found) != 1 || found[0].Email != "jane@example.com" {
		t.Fatalf("JSON body on GET: %+v", found)
	}
	// A chunked GET body.
	chunked := "GET /user HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer " + key + "\r\nContent-type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
		"6\r\nemail=\r\n14\r\nbob%40example.com&x=\r\n0\r\n\r\n"
	wantJSON(t, "chunked body", e.raw(t, chunked), "200 OK", &found)
	if len(found) != 1 || found[0].Email != "bob@example.com" {
		t.Fatalf("chunked GET body: %+v", found)
	}
	// A GET body larger than the API's 64 KiB bound is refused, in the error shape.
	big := "email=" + strings.Repeat("a", 70<<10)
	var tooBig wireUser
	wantJSON(t, "big body", e.raw(t, "GET /user HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer "+key+"\r\nContent-type: application/x-www-form-urlencoded\r\nContent-Length: "+strconv.Itoa(len(big))+"\r\nConnection: close\r\n\r\n"+big), "400 Bad Request", &tooBig)
	if tooBig.Status != "error" || !strings.Contains(tooBig.Message, "larger than") {
		t.Fatalf("big GET body: %+v", tooBig)
	}
	// lang in a GET body picks the dashboard links' language, by any name.
	wantJSON(t, "website", e.raw(t, phpStream("POST", "/website", key, &url.Values{"domain": {"shop.example.com"}})), "201 Created", &map[string]any{})
	var site struct {
		URLs struct {
			Statistics string `json:"statistics"`
		} `json:"urls"`
	}
	wantJSON(t, "lang in body", e.raw(t, phpStream("GET", "/website/shop.example.com", key, &url.Values{"lang": {"russian"}})), "200 OK", &site)
	if !strings.Contains(site.URLs.Statistics, "/ru/website/shop.example.com/statistics") {
		t.Fatalf("lang=russian in a GET body: %s", site.URLs.Statistics)
	}
	wantJSON(t, "lang locale", e.raw(t, phpStream("GET", "/website/shop.example.com?lang=de_DE", key, nil)), "200 OK", &site)
	if !strings.Contains(site.URLs.Statistics, "/de/website/") {
		t.Fatalf("lang=de_DE: %s", site.URLs.Statistics)
	}

	// Charset parameters: UTF-8 declared in any case, and Latin-1 converted.
	wantJSON(t, "utf-8", e.raw(t, curlForm("POST", "/user", key, "email=m1%40example.com&company=M%C3%BCller+GmbH", "application/x-www-form-urlencoded; charset=UTF-8")), "201 Created", &u)
	if u.Company != "Müller GmbH" {
		t.Fatalf("UTF-8 form: %+v", u)
	}
	wantJSON(t, "latin-1", e.raw(t, curlForm("POST", "/user", key, "email=m2%40example.com&company=M%FCller+GmbH", "application/x-www-form-urlencoded; charset=ISO-8859-1")), "201 Created", &u)
	if u.Company != "Müller GmbH" {
		t.Fatalf("Latin-1 form: %+v", u)
	}
	var bad wireUser
	wantJSON(t, "unknown charset", e.raw(t, curlForm("POST", "/user", key, "email=m3%40example.com", "application/x-www-form-urlencoded; charset=koi8-r")), "400 Bad Request", &bad)
	if bad.Status != "error" || !strings.Contains(bad.Message, "charset koi8-r is not supported") {
		t.Fatalf("unknown charset: %+v", bad)
	}

	// Unknown fields are ignored; missing optional ones are fine.
	wantJSON(t, "extra fields", e.raw(t, curlForm("POST", "/website", key, "domain=extra.example.com&foo=bar&user=&package=", "application/x-www-form-urlencoded")), "201 Created", &map[string]any{})
	wantJSON(t, "extra fields (user)", e.raw(t, curlForm("POST", "/user", key, "email=x%40example.com&phone=123&password=secret", "application/x-www-form-urlencoded")), "201 Created", &u)

	// Trailing slashes: BotGuard's clients send none; a panel that does is
	// told, in the error shape, which path to use.
	for _, p := range []string{"/website/", "/user/", "/website/shop.example.com/"} {
		var nf wireUser
		wantJSON(t, "trailing slash "+p, e.raw(t, phpStream("GET", p, key, nil)), "404 Not Found", &nf)
		if nf.Status != "error" || !strings.Contains(nf.Message, "no trailing slash") || !strings.Contains(nf.Message, strings.TrimSuffix(p, "/")) {
			t.Fatalf("GET %s: %+v", p, nf)
		}
	}
}
