package tenancy_test

import (
	"bytes"
	"net/http"
	"strings"
)

// scanWebRules are the rules of the customer pages "Security scan" and
// "Backups" (internal/web/scan.go) and their actions. The victim has no
// scan settings, findings or backups, so an action the principal may ask
// for reaches the core and is refused there for what it asks (412: not
// set up; 404: no such finding), shown on the page itself; a principal
// that may not open the website never gets that page (the dashboard's 404).
func scanWebRules(add func(key string, r rule)) {
	for _, p := range []string{"scan", "backups"} {
		add("GET /{lang}/website/{domain}/{page} page="+p, rule{class: customerPage, kind: kWeb, build: at("GET", "/en/website/{domain}/"+p),
			also: []func(x *cell) req{upper(at("GET", "/en/website/{domain}/"+p))}})
	}
	post := func(path, body string) func(x *cell) req {
		return func(x *cell) req { return req{method: "POST", path: expand(path, x.t, nil), body: body} }
	}
	onPage := func(marker string) func(x *cell, resp *http.Response, body []byte) (verdict, string) {
		return func(x *cell, resp *http.Response, body []byte) (verdict, string) {
			if bytes.Contains(body, []byte(`id="`+marker+`"`)) && resp.StatusCode < 500 {
				return vAllowed, resp.Status + " on the website's page (the core decided)"
			}
			return classify(kWeb, resp, body)
		}
	}
	add("POST /{lang}/website/{domain}/scan/request", rule{class: customerPage, kind: kWeb, build: post("/en/website/{domain}/scan/request", "kind=files"),
		also: []func(x *cell) req{upper(post("/en/website/{domain}/scan/request", "kind=patch"))}, check: onPage("scan-page")})
	add("POST /{lang}/website/{domain}/scan/finding", rule{class: customerPage, kind: kWeb, build: post("/en/website/{domain}/scan/finding", "id=1&action=ignore"),
		also: []func(x *cell) req{post("/en/website/{domain}/scan/finding", "id=1&action=quarantine")}, check: onPage("scan-page")})
	add("POST /{lang}/website/{domain}/backups/request", rule{class: customerPage, kind: kWeb, build: post("/en/website/{domain}/backups/request", ""),
		check: onPage("backups-page")})
	// A download from a snapshot the victim does not have: the core
	// refuses it (412, no backups set up) on the Backups page.
	add("POST /{lang}/website/{domain}/backups/download", rule{class: customerPage, kind: kWeb,
		build: post("/en/website/{domain}/backups/download", "snapshot=0123abcd&path=index.php"),
		also:  []func(x *cell) req{post("/en/website/{domain}/backups/download", "snapshot=0123abcd&path=&browse=0123abcd")},
		check: onPage("backups-page")})
	add("POST /{lang}/website/{domain}/backups/restore", rule{class: customerPage, kind: kWeb,
		build: post("/en/website/{domain}/backups/restore", "snapshot="+strings.Repeat("ab", 32)+"&what=all&confirmed=1"),
		also:  []func(x *cell) req{post("/en/website/{domain}/backups/restore", "snapshot="+strings.Repeat("ab", 32)+"&what=database&confirmed=1")},
		check: onPage("backups-page")})
}
