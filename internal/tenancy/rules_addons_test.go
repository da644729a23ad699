package tenancy_test

import (
	"strconv"
	"strings"
)

// addonRules adds the rules of the partner REST add-on routes
// (/v1/websites/{domain}/addons): the target's add-on is the one the world
// gave it (extra requests), so a change or removal aims at a real add-on
// of the victim's website.
func addonRules(add func(key string, r rule)) {
	rest := func(key string, b func(x *cell) req, scratch bool, also ...func(x *cell) req) {
		add(key, rule{class: partnerOwn, kind: kREST, build: b, scratch: scratch, also: also})
	}
	const list, one = "/v1/websites/{domain}/addons", "/v1/websites/{domain}/addons/{addon}"
	onAddon := func(method, body string) func(x *cell) req {
		return func(x *cell) req {
			r := req{method: method, path: expand(one, x.t, map[string]string{"addon": strconv.FormatInt(x.t.addon, 10)}), body: body}
			if body != "" {
				r.ctype = "application/json"
			}
			return r
		}
	}
	rest("GET "+list, at("GET", list), false, upper(at("GET", list)))
	rest("POST "+list, jsonBody("POST", list, func(*cell) any { return map[string]any{"addon": "smart_patch", "quantity": 1} }), true)
	rest("PATCH "+one, onAddon("PATCH", `{"quantity":2}`), true)
	rest("DELETE "+one, onAddon("DELETE", ""), true)
	for _, p := range []string{list, one} {
		add(p, rule{class: public, kind: kNone, build: func(x *cell) req {
			return req{method: "TRACE", path: strings.ReplaceAll(expand(p, x.t, nil), "{addon}", "1")}
		}})
	}
}
