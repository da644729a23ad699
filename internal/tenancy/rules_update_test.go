package tenancy_test

import (
	"bytes"
	"net/http"
)

// The tenancy rules of updates (issue 22, SMART Patch): POST
// /v1/websites/{domain}/updates, the User API's
// /api/websites/{domain}/updates (its generic rule) and the Security scan
// page's "Update" button. The victim's partner (and customer) is told why
// its update is refused (412: no update command on this server, its files
// on sftp), on the page itself for the dashboard; everyone else that the
// website is not theirs.
func updateRules(rs map[string]rule, add func(key string, r rule)) {
	add("POST /v1/websites/{domain}/updates", rule{class: partnerOwn, kind: kREST,
		build: onVictim(jsonBody("POST", "/v1/websites/{domain}/updates", func(*cell) any { return map[string]string{"type": "plugin", "slug": "example-forms"} }))})
	add("/v1/websites/{domain}/updates", rule{class: public, kind: kNone, build: func(x *cell) req {
		return req{method: "TRACE", path: expand("/v1/websites/{domain}/updates", x.t, nil)}
	}})
	post := func(path, body string) func(x *cell) req {
		return func(x *cell) req { return req{method: "POST", path: expand(path, x.t, nil), body: body} }
	}
	add("POST /{lang}/website/{domain}/scan/update", rule{class: customerPage, kind: kWeb,
		build: post("/en/website/{domain}/scan/update", "type=plugin&slug=example-forms"),
		also:  []func(x *cell) req{post("/en/website/{domain}/scan/update", "type=core")},
		check: func(x *cell, resp *http.Response, body []byte) (verdict, string) {
			if bytes.Contains(body, []byte(`id="scan-page"`)) && resp.StatusCode < 500 {
				return vAllowed, resp.Status + " on the website's page (the core decided)"
			}
			return classify(kWeb, resp, body)
		}})
}
