package tenancy_test

import (
	"context"
	"encoding/json"
	"github.com/palisadehq/palisade/internal/testenv/gplink"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/api/gp"
	"github.com/palisadehq/palisade/internal/api/userapi"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/waf"
)

// The tenancy rules: one per route of every adapter (docs/TENANCY.md).
// The key is the pattern as registered ("GET /v1/websites/{domain}"), or
// a pattern and what it dispatches to ("POST /v1/partner
// methodName=getAccounts"), or "userapi METHOD PATH" for the User API.
// Every request aims at the victim: partner A's customer's website
// victim.example (or, for rules with scratch, a fresh one of partner A).

func at(method, pattern string) func(x *cell) req {
	return func(x *cell) req { return req{method: method, path: expand(pattern, x.t, nil)} }
}

func form(method, pattern string, f func(x *cell) url.Values) func(x *cell) req {
	return func(x *cell) req {
		return req{method: method, path: expand(pattern, x.t, nil), body: f(x).Encode()}
	}
}

func jsonBody(method, pattern string, f func(x *cell) any) func(x *cell) req {
	return func(x *cell) req {
		b, _ := json.Marshal(f(x))
		return req{method: method, path: expand(pattern, x.t, nil), body: string(b), ctype: "application/json"}
	}
}

func none(*cell) url.Values { return url.Values{} }

// upper asks for the target's domain in capitals: the check and the act
// must read the same, normalised name.
func upper(b func(x *cell) req) func(x *cell) req {
	return func(x *cell) req {
		r := b(x)
		r.path = strings.Replace(r.path, x.t.domain, strings.ToUpper(x.t.domain), 1)
		return r
	}
}

// brandOf is the brand a partner sets: partner A keeps its own, which a
// refusal must never show.
func brandOf(x *cell) string {
	if x.p == partner {
		return victimBrand
	}
	return "Rival Brand"
}

func gpCall(ep string, extra func(x *cell) url.Values) func(x *cell) req {
	return func(x *cell) req {
		var f url.Values
		if extra != nil {
			f = extra(x)
		}
		return req{method: "POST", path: "/api/v1/" + ep + "/", body: x.gpForm(x.t.domain, f)}
	}
}

func xmlCall(method string, inner func(x *cell) string) func(x *cell) req {
	return func(x *cell) req {
		in := ""
		if inner != nil {
			in = inner(x)
		}
		return req{method: "POST", path: "/v1/partner", body: x.xmlDoc(method, in), ctype: "text/xml"}
	}
}

func el(name string, v any) string {
	return "<" + name + ">" + strings.NewReplacer("&", "&amp;", "<", "&lt;").Replace(fmtv(v)) + "</" + name + ">"
}

func fmtv(v any) string {
	switch v := v.(type) {
	case int64:
		return strconv.FormatInt(v, 10)
	case string:
		return v
	}
	return ""
}

// userRoute asks a User API route as documented, with its example body.
func userRoute(method, path string) func(x *cell) req {
	body := ""
	for _, r := range userapi.Routes {
		if r.Method == method && r.Path == path {
			body = r.Body
		}
	}
	return func(x *cell) req {
		r := req{method: method, path: expand(path, x.t, nil), body: body}
		if body != "" {
			r.ctype = "application/json"
		}
		return r
	}
}

// userTokens signs the principal in to the User API with what it holds
// (refused for anyone but a customer: then its key stands in).
func userTokens(x *cell) (access, refresh string) {
	resp, err := x.c.client.PostForm(x.w.e.URL+"/api/login", url.Values{"username": {x.c.email}, "password": {x.c.pwd}})
	if err == nil {
		defer resp.Body.Close()
		var out struct {
			Data struct {
				Access  string `json:"access_token"`
				Refresh string `json:"refresh_token"`
			} `json:"data"`
		}
		if json.NewDecoder(resp.Body).Decode(&out) == nil && out.Data.Access != "" {
			return out.Data.Access, out.Data.Refresh
		}
	}
	return x.c.bearer, x.c.bearer
}

// victimPatch pushes a fresh virtual patch of partner A's, named after the
// victim's domain, and returns its id.
func victimPatch(x *cell) int64 {
	p, err := x.w.e.Service.CreateWAFPatch(context.Background(), x.w.e.Caller,
		core.WAFPatch{Name: "victim.example " + x.uniq("patch"), Rule: &waf.PatchRule{Target: "arg:x", Op: "exists"}})
	if err != nil {
		x.w.t.Fatal(err)
	}
	return p.ID
}

func rules() map[string]rule {
	rs := map[string]rule{}
	add := func(key string, r rule) {
		if _, dup := rs[key]; dup {
			panic("two tenancy rules for " + key)
		}
		rs[key] = r
	}
	pub := func(key string, k kind, b func(x *cell) req) { add(key, rule{class: public, kind: k, build: b}) }

	// ---- server ----
	pub("GET /healthz", kNone, at("GET", "/healthz"))
	pub("GET /readyz", kNone, at("GET", "/readyz"))
	pub("GET /metrics", kNone, at("GET", "/metrics")) // --metrics-allow (loopback here) decides, not a principal
	pub("GET /{$}", kNone, at("GET", "/"))
	add("/", rule{class: nobody, kind: kNone, build: at("GET", "/no-such-route")})

	// ---- partner REST (BotGuard-compatible) and /v1 ----
	rest := func(key string, c class, b func(x *cell) req, scratch bool) {
		add(key, rule{class: c, kind: kREST, build: b, scratch: scratch})
	}
	newSite := func(x *cell) url.Values {
		return url.Values{"domain": {x.uniq("new") + ".example"}, "user": {strconv.FormatInt(x.t.userID, 10)}}
	}
	add("GET /website", rule{class: partnerAny, kind: kREST, build: at("GET", "/website")})
	rest("POST /website", partnerOwn, form("POST", "/website", newSite), false)
	rest("GET /website/{domain}", partnerOwn, at("GET", "/website/{domain}"), false)
	rest("PUT /website/{domain}", partnerOwn, form("PUT", "/website/{domain}", func(*cell) url.Values { return url.Values{"status": {"paused"}} }), true)
	rest("DELETE /website/{domain}", partnerOwn, at("DELETE", "/website/{domain}"), true)
	add("GET /user", rule{class: partnerAny, kind: kREST, build: at("GET", "/user"),
		also: []func(x *cell) req{at("GET", "/user?email=victim-owner@example.net")}})
	rest("POST /user", partnerAny, form("POST", "/user", func(x *cell) url.Values { return url.Values{"email": {x.uniq("u") + "@example.net"}} }), false)
	rest("DELETE /user/{id}", partnerOwn, at("DELETE", "/user/{id}"), true)
	rest("GET /v1/plans", partnerAny, at("GET", "/v1/plans"), false)
	add("GET /v1/websites", rule{class: partnerAny, kind: kREST, build: at("GET", "/v1/websites"), also: []func(x *cell) req{
		func(x *cell) req {
			return req{method: "GET", path: "/v1/websites?user=" + strconv.FormatInt(x.w.victim.userID, 10)}
		},
		at("GET", "/v1/websites?domain=victim"),
	}})
	rest("POST /v1/websites", partnerOwn, jsonBody("POST", "/v1/websites", func(x *cell) any {
		return map[string]any{"domain": x.uniq("new") + ".example", "user": x.t.userID}
	}), false)
	add("GET /v1/websites/{domain}", rule{class: partnerOwn, kind: kREST, build: at("GET", "/v1/websites/{domain}"), also: []func(x *cell) req{upper(at("GET", "/v1/websites/{domain}"))}})
	rest("PATCH /v1/websites/{domain}", partnerOwn, jsonBody("PATCH", "/v1/websites/{domain}", func(*cell) any { return map[string]any{"status": "paused"} }), true)
	rest("DELETE /v1/websites/{domain}", partnerOwn, at("DELETE", "/v1/websites/{domain}"), true)
	rest("POST /v1/websites/{domain}/plan", partnerOwn, jsonBody("POST", "/v1/websites/{domain}/plan", func(*cell) any { return map[string]any{"plan": "10k"} }), true)
	rest("POST /v1/websites/{domain}/renew", partnerOwn, jsonBody("POST", "/v1/websites/{domain}/renew", func(*cell) any { return map[string]any{"months": 1} }), true)
	rest("GET /v1/websites/{domain}/settings", partnerOwn, at("GET", "/v1/websites/{domain}/settings"), false)
	rest("PUT /v1/websites/{domain}/settings", partnerOwn, jsonBody("PUT", "/v1/websites/{domain}/settings", func(*cell) any { return map[string]any{"mode": "monitor"} }), true)
	rest("GET /v1/websites/{domain}/events", partnerOwn, at("GET", "/v1/websites/{domain}/events"), false)
	rest("GET /v1/websites/{domain}/stats", partnerOwn, at("GET", "/v1/websites/{domain}/stats"), false)
	add("GET /v1/websites/{domain}/waf/stats", rule{class: partnerOwn, kind: kREST, build: at("GET", "/v1/websites/{domain}/waf/stats"),
		also: []func(x *cell) req{upper(at("GET", "/v1/websites/{domain}/waf/stats"))}})
	rest("GET /v1/lists", partnerAny, at("GET", "/v1/lists"), false)
	rest("PUT /v1/lists", partnerAny, jsonBody("PUT", "/v1/lists", func(*cell) any { return map[string]any{"allow": []string{}, "deny": []string{"198.51.100.9"}} }), false)
	add("GET /v1/users", rule{class: partnerAny, kind: kREST, build: at("GET", "/v1/users"),
		also: []func(x *cell) req{at("GET", "/v1/users?email=victim-owner@example.net")}})
	rest("POST /v1/users", partnerAny, jsonBody("POST", "/v1/users", func(x *cell) any { return map[string]any{"email": x.uniq("v") + "@example.net"} }), false)
	// Virtual patches: partner A's carry the victim's domain in their name,
	// so another partner's list must not show them.
	rest("GET /v1/waf/patches", partnerAny, func(x *cell) req {
		victimPatch(x)
		return req{method: "GET", path: "/v1/waf/patches"}
	}, false)
	rest("POST /v1/waf/patches", partnerAny, jsonBody("POST", "/v1/waf/patches", func(x *cell) any {
		return map[string]any{"name": x.uniq("patch"), "rule": map[string]any{"target": "arg:x", "op": "exists"}, "expires_in": "1h"}
	}), false)
	rest("DELETE /v1/waf/patches/{id}", partnerOwn, func(x *cell) req {
		return req{method: "DELETE", path: "/v1/waf/patches/" + strconv.FormatInt(victimPatch(x), 10)}
	}, false)
	rest("GET /v1/waf/defaults", partnerAny, at("GET", "/v1/waf/defaults"), false)
	rest("PUT /v1/waf/defaults", partnerAny, jsonBody("PUT", "/v1/waf/defaults", func(*cell) any { return map[string]any{"new_site_mode": "block"} }), false)
	rest("GET /v1/users/{id}", partnerOwn, at("GET", "/v1/users/{id}"), false)
	rest("DELETE /v1/users/{id}", partnerOwn, at("DELETE", "/v1/users/{id}"), true)
	rest("GET /v1/credit", partnerAny, at("GET", "/v1/credit"), false)
	rest("GET /v1/credit/ledger", partnerAny, at("GET", "/v1/credit/ledger"), false)
	rest("GET /v1/emails", partnerAny, at("GET", "/v1/emails"), false)
	rest("POST /v1/emails/{id}/sent", partnerOwn, func(x *cell) req {
		return req{method: "POST", path: "/v1/emails/" + strconv.FormatInt(x.w.email, 10) + "/sent"}
	}, false)
	rest("GET /v1/email-templates", partnerAny, at("GET", "/v1/email-templates"), false)
	rest("PUT /v1/email-templates/{kind}", partnerAny, func(x *cell) req {
		return req{method: "PUT", path: "/v1/email-templates/welcome", body: `{"subject":"","body":""}`, ctype: "application/json"}
	}, false)
	rest("GET /v1/branding", partnerAny, at("GET", "/v1/branding"), false)
	rest("PUT /v1/branding", partnerAny, jsonBody("PUT", "/v1/branding", func(x *cell) any { return map[string]any{"name": brandOf(x), "color": "#336699"} }), false)
	rest("POST /v1/websites/{domain}/login-link", partnerOwn, at("POST", "/v1/websites/{domain}/login-link"), false)
	rest("POST /v1/users/{id}/login-link", partnerOwn, at("POST", "/v1/users/{id}/login-link"), false)
	rest("GET /v1/userapi", partnerAny, at("GET", "/v1/userapi"), false)
	rest("PUT /v1/userapi", partnerAny, func(x *cell) req {
		// The principal's own configuration, written back unchanged.
		r, _ := http.NewRequest("GET", x.w.e.URL+"/v1/userapi", nil)
		r.Header.Set("Authorization", "Bearer "+x.c.bearer)
		cfg := []byte("{}")
		if resp, err := x.c.client.Do(r); err == nil {
			var out struct {
				Config json.RawMessage `json:"config"`
			}
			if resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(&out) == nil && len(out.Config) > 0 {
				cfg = out.Config
			}
			resp.Body.Close()
		}
		return req{method: "PUT", path: "/v1/userapi", body: string(cfg), ctype: "application/json"}
	}, false)
	rest("GET /v1/userapi/log", partnerAny, at("GET", "/v1/userapi/log"), false)
	rest("GET /v1/audit", partnerAny, at("GET", "/v1/audit"), false)
	pub("GET /openapi.json", kNone, at("GET", "/openapi.json"))
	pub("GET /docs", kNone, at("GET", "/docs"))
	// Each path's other methods: 405 to everyone, before authentication.
	for _, p := range []string{"/website", "/website/{domain}", "/user", "/user/{id}", "/v1/plans", "/v1/websites", "/v1/websites/{domain}",
		"/v1/websites/{domain}/plan", "/v1/websites/{domain}/renew", "/v1/websites/{domain}/settings", "/v1/websites/{domain}/events",
		"/v1/websites/{domain}/stats", "/v1/websites/{domain}/waf/stats", "/v1/lists", "/v1/users", "/v1/users/{id}", "/v1/credit", "/v1/credit/ledger", "/v1/emails",
		"/v1/emails/{id}/sent", "/v1/email-templates", "/v1/email-templates/{kind}", "/v1/branding", "/v1/websites/{domain}/login-link",
		"/v1/users/{id}/login-link", "/v1/userapi", "/v1/userapi/log", "/v1/audit", "/v1/waf/patches", "/v1/waf/patches/{id}", "/v1/waf/defaults"} {
		pub(p, kNone, func(x *cell) req {
			return req{method: "TRACE", path: expand(p, x.t, map[string]string{"kind": "welcome"})}
		})
	}

	// ---- GP reseller API ----
	add("/api/v1/{endpoint}/", rule{class: dispatcher})
	add("/api/v1/{endpoint}", rule{class: dispatcher}) // the same endpoints without the slash
	gpRule := func(ep string, c class, scratch bool, extra func(x *cell) url.Values) {
		add("/api/v1/{endpoint}/ endpoint="+ep, rule{class: c, kind: kGP, scratch: scratch, build: gpCall(ep, extra)})
	}
	gpRule("connection", partnerAny, false, nil)
	gpRule("getcredit", partnerAny, false, nil)
	gpRule("list", partnerOwn, false, nil)
	add("/api/v1/{endpoint}/ endpoint=autoregister", rule{class: partnerAny, kind: kGP, build: func(x *cell) req {
		d := x.uniq("gp") + ".example"
		f := url.Values{"package": {"Free"}, "uemail": {x.uniq("gp") + "@example.net"},
			"password": {gp.EncryptPassword(x.c.bearer, "Quiet-Meadow-Orbit-77", []byte("0123456789abcdef"))}}
		return req{method: "POST", path: "/api/v1/autoregister/", body: x.gpForm(d, f)}
	}})
	gpRule("suspended", partnerOwn, true, nil)
	gpRule("active", partnerOwn, true, nil)
	gpRule("delete", partnerOwn, true, nil)
	gpRule("packageupdate", partnerOwn, true, func(*cell) url.Values { return url.Values{"status": {"active"}, "package": {"10k"}} })
	gpRule("passwordreset", partnerOwn, true, func(x *cell) url.Values {
		return url.Values{"password": {gp.EncryptPassword(x.c.bearer, "Quiet-Meadow-Orbit-77", []byte("0123456789abcdef"))}}
	})
	gpRule("renew", partnerOwn, true, func(*cell) url.Values { return url.Values{"months": {"1"}} })
	// A login link is asked for with the loginlink call, from the key's
	// addresses (issue 17 finding 2): a client link for the partner's own
	// customers only; an admin link opens the caller's own console.
	add("/api/v1/{endpoint}/ endpoint=loginlink", rule{class: partnerOwn, kind: kGP,
		build: gpCall("loginlink", func(*cell) url.Values { return url.Values{"panel": {"client"}} }),
		also: []func(x *cell) req{func(x *cell) req {
			return req{method: "POST", path: "/api/v1/loginlink/", body: x.gpForm(x.c.ownDomain, url.Values{"panel": {"admin"}}), class: &partnerAny}
		}}})
	// Links a module signs itself (the previous release's form) open
	// nothing, for anyone: signed with the key alone, they worked from any
	// address.
	add("GET /api/v1/login/", rule{class: nobody, kind: kGPLink, build: func(x *cell) req {
		key := x.c.bearer
		if key == "" {
			key = "no key at all"
		}
		l := gplink.New(key, "client", x.t.domain, x.w.e.Clock.Now())
		q := url.Values{"panel": {l.Panel}, "domain": {l.Domain}, "timestamp": {l.Timestamp}, "key": {l.Key}, "hash": {l.Hash}}
		return req{method: "GET", path: "/api/v1/login/?" + q.Encode()}
	}, also: []func(x *cell) req{func(x *cell) req {
		key := x.c.bearer
		if key == "" {
			key = "no key at all"
		}
		l := gplink.New(key, "admin", x.c.ownDomain, x.w.e.Clock.Now().Add(-time.Second))
		q := url.Values{"panel": {l.Panel}, "domain": {l.Domain}, "timestamp": {l.Timestamp}, "key": {l.Key}, "hash": {l.Hash}}
		return req{method: "GET", path: "/api/v1/login/?" + q.Encode()}
	}}})

	// ---- XML API ----
	xmlRule := func(m string, c class, scratch bool, inner func(x *cell) string) {
		add("POST /v1/partner methodName="+m, rule{class: c, kind: kXML, scratch: scratch, build: xmlCall(m, inner)})
	}
	acct := func(x *cell) string { return el("account_id", x.t.userID) }
	xmlRule("provisionAccount", partnerOwn, false, func(x *cell) string {
		return "<account>" + el("account_id", x.t.userID) + "</account><site>" + el("domain", x.uniq("xml")+".example") + el("subscription", "Free") + "</site>"
	})
	xmlRule("modifyAccount", partnerOwn, true, func(x *cell) string {
		return el("account_id", x.t.userID) + el("email", x.uniq("moved")+"@example.net")
	})
	xmlRule("deleteAccount", partnerOwn, true, acct)
	add("POST /v1/partner methodName=createToken", rule{class: partnerOwn, kind: kXML, build: xmlCall("createToken", acct), also: []func(x *cell) req{
		xmlCall("createToken", func(x *cell) string { return el("site_id", x.t.siteID) }),
	}})
	xmlRule("getAccounts", partnerAny, false, nil)
	add("POST /v1/partner methodName=getStatus", rule{class: partnerOwn, kind: kXML, build: xmlCall("getStatus", acct), also: []func(x *cell) req{
		xmlCall("getStatus", func(x *cell) string { return el("site_id", x.t.siteID) }),
		xmlCall("getStatus", func(x *cell) string { return el("domain", x.t.domain) }),
	}})
	xmlRule("getPendingEmails", partnerAny, false, nil)
	xmlRule("markEmailSent", partnerOwn, false, func(x *cell) string { return el("queue_id", x.w.email) })
	xmlRule("passwordReset", partnerOwn, true, func(x *cell) string { return acct(x) + el("password", "Quiet-Meadow-Orbit-77") })
	xmlRule("provisionAddon", partnerOwn, true, func(x *cell) string {
		return el("site_id", x.t.siteID) + el("addon", core.AddonExtraRequests) + el("quantity", "1")
	})
	xmlRule("modifyAddon", partnerOwn, true, func(x *cell) string { return el("addon_id", x.t.addon) + el("quantity", "2") })
	xmlRule("deleteAddon", partnerOwn, true, func(x *cell) string { return el("addon_id", x.t.addon) })
	addonRules(add) // the partner REST add-on routes: rules_addons_test.go
	xmlRule("getIpAddresses", partnerAny, false, nil)
	xmlRule("freeScan", partnerAny, false, func(*cell) string { return el("domain", "localhost") }) // no network: refused as not public
	add("POST /v1/partner methodName=getWafSettings", rule{class: partnerOwn, kind: kXML, build: xmlCall("getWafSettings", func(x *cell) string { return el("site_id", x.t.siteID) }),
		also: []func(x *cell) req{xmlCall("getWafSettings", func(x *cell) string { return el("domain", x.t.domain) })}})
	xmlRule("setWafSettings", partnerOwn, true, func(x *cell) string { return el("site_id", x.t.siteID) + el("mode", "detect") })
	add("POST /v1/partner", rule{class: dispatcher})
	add("POST /v1/partner/{$}", rule{class: dispatcher}) // the same methods with a trailing slash

	// ---- User API ----
	for _, r := range userapi.Routes {
		c := customerOwn
		if !strings.Contains(r.Path, "{domain}") {
			c = customerAny
		}
		rl := rule{class: c, kind: kUser, build: userRoute(r.Method, r.Path)}
		if r.Method == "GET" && strings.Contains(r.Path, "{domain}") {
			rl.also = []func(x *cell) req{upper(userRoute(r.Method, r.Path))}
		}
		add("userapi "+r.Method+" "+r.Path, rl)
	}
	scanRules(rs, add)   // scanning and backups in every protocol: rules_scan_test.go
	agentRules(add)      // scan agents: rules_agent_test.go
	updateRules(rs, add) // updates (SMART Patch): rules_update_test.go
	// Signed out, the documentation is the named partner's public face.
	pub("userapi /api/docs", kNone, at("GET", "/api/docs?partner=host"))
	pub("userapi /api/openapi.json", kNone, at("GET", "/api/openapi.json?partner=host"))
	add("userapi /api/login", rule{class: customerAny, kind: kNone, build: func(x *cell) req {
		return req{method: "POST", path: "/api/login", body: url.Values{"username": {x.c.email}, "password": {x.c.pwd}}.Encode()}
	}})
	add("userapi /api/token", rule{class: customerAny, kind: kNone, build: func(x *cell) req {
		_, refresh := userTokens(x)
		return req{method: "POST", path: "/api/token", body: url.Values{"refresh_token": {refresh}}.Encode()}
	}})
	add("userapi /api/logout", rule{class: customerAny, kind: kNone, build: func(x *cell) req {
		access, _ := userTokens(x)
		return req{method: "POST", path: "/api/logout", header: http.Header{"Authorization": {"Bearer " + access}}}
	}})
	// RFC 7009: the answer never says whether the token was valid, and
	// holding a token is enough to end it.
	pub("userapi /api/revoke", kNone, func(x *cell) req {
		return req{method: "POST", path: "/api/revoke", body: url.Values{"token": {"not-a-token"}}.Encode()}
	})

	// ---- dashboards: customer pages, console, operator ----
	pub("GET /sso", kNone, func(x *cell) req {
		// A login link is a bearer credential: whoever opens it gets the
		// session it was made for.
		u, _, err := x.w.e.Service.CreateLoginToken(x.w.t.Context(), x.w.e.Caller, core.ScopeCustomer, x.w.victim.domain)
		if err != nil {
			x.w.t.Fatal(err)
		}
		return req{method: "GET", path: strings.TrimPrefix(u, x.w.e.URL)}
	})
	// Confirming a sign-in that would replace the browser's session: only
	// the browser holding the pending sign-in (a cookie the link set) may.
	add("GET /sso/switch", rule{class: nobody, kind: kWeb, build: at("GET", "/sso/switch")})
	add("POST /sso/switch", rule{class: nobody, kind: kWeb, build: at("POST", "/sso/switch")})
	add("POST /logout", rule{class: public, kind: kWeb, fresh: true, build: at("POST", "/logout")})
	pub("GET /console/login", kNone, at("GET", "/console/login"))
	add("POST /console/login", rule{class: staffSelf, kind: kNone, build: func(x *cell) req {
		return req{method: "POST", path: "/console/login", body: url.Values{"email": {x.c.email}, "password": {x.c.pwd}}.Encode()}
	}})
	pub("GET /partner", kNone, at("GET", "/partner"))
	web := func(key string, c class, b func(x *cell) req) { add(key, rule{class: c, kind: kWeb, build: b}) }
	web("GET /console", partnerAny, at("GET", "/console"))
	for _, p := range []string{"customers", "credit", "keys", "plans", "emails", "audit", "branding", "security", "userapi", "firewall"} {
		web("GET /console/"+p, partnerAny, at("GET", "/console/"+p))
	}
	// The partner's overview of its own websites (and its export): a
	// partner's page; what it shows is scoped in the core (PartnerOverview).
	web("GET /console/overview", partnerAny, at("GET", "/console/overview"))
	web("GET /console/overview.csv", partnerAny, at("GET", "/console/overview.csv"))
	add("POST /console/{action}", rule{class: dispatcher})
	consoleAction := func(a string, c class, scratch, fresh bool, f func(x *cell) url.Values) {
		add("POST /console/{action} action="+a, rule{class: c, kind: kWeb, scratch: scratch, fresh: fresh, build: form("POST", "/console/"+a, f)})
	}
	consoleAction("status", partnerOwn, true, false, func(x *cell) url.Values { return url.Values{"domain": {x.t.domain}, "status": {"paused"}} })
	consoleAction("keys", partnerAny, false, false, func(x *cell) url.Values {
		return url.Values{"name": {x.uniq("k")}, "allowed_ips": {"127.0.0.1/32"}}
	})
	consoleAction("revoke", partnerOwn, true, false, func(x *cell) url.Values { return url.Values{"prefix": {x.t.key}} })
	consoleAction("branding", partnerAny, false, false, func(x *cell) url.Values { return url.Values{"name": {brandOf(x)}, "color": {"#336699"}} })
	// The firewall page: the principal's own new-site mode and patches; a
	// patch of partner A's, made for the cell, to delete.
	consoleAction("waf-mode", partnerAny, false, false, func(*cell) url.Values { return url.Values{"mode": {"block"}} })
	consoleAction("patch", partnerAny, false, false, func(x *cell) url.Values {
		return url.Values{"name": {x.uniq("patch")}, "reason": {"r"}, "kind": {"rule"}, "target": {"arg:x"}, "op": {"exists"}}
	})
	consoleAction("patch-delete", partnerOwn, false, false, func(x *cell) url.Values {
		p, err := x.w.e.Service.CreateWAFPatch(x.w.t.Context(), x.w.e.Caller, core.WAFPatch{Name: x.uniq("victim-patch"), Reason: "r",
			SecLang: `SecRule ARGS:x "@rx ." "id:100002,phase:1,deny"`})
		if err != nil {
			x.w.t.Fatal(err)
		}
		return url.Values{"id": {strconv.FormatInt(p.ID, 10)}}
	})
	consoleAction("totp", partnerAny, false, true, func(x *cell) url.Values {
		s, _ := core.NewTOTPSecret("Palisade", "x@example.net")
		return url.Values{"secret": {s}, "code": {core.TOTPCode(s, x.w.e.Clock.Now())}}
	})
	add("POST /console/{action} action=signout-all", rule{class: partnerAny, kind: kWeb, fresh: true, build: form("POST", "/console/signout-all", none),
		check: func(x *cell, resp *http.Response, body []byte) (verdict, string) {
			// Done means the session it was sent with has ended.
			if x.c.cookie == "" {
				return vRefused, "no session to end"
			}
			if _, err := x.w.e.Service.SessionByValue(x.w.t.Context(), x.c.cookie); err != nil {
				return vAllowed, strconv.Itoa(resp.StatusCode) + ", session ended"
			}
			return vRefused, strconv.Itoa(resp.StatusCode) + ", session still live"
		}})
	web("GET /operator", operatorOnly, at("GET", "/operator"))
	add("POST /operator/{action}", rule{class: dispatcher})
	operatorAction := func(a string, f func(x *cell) url.Values) {
		add("POST /operator/{action} action="+a, rule{class: operatorOnly, kind: kWeb, build: form("POST", "/operator/"+a, f)})
	}
	operatorAction("partners", func(x *cell) url.Values { return url.Values{"name": {x.uniq("p")}, "allowed_ips": {"192.0.2.0/24"}} })
	operatorAction("topup", func(x *cell) url.Values {
		return url.Values{"partner": {strconv.FormatInt(x.w.e.Caller.PartnerID, 10)}, "amount": {"1.00"}}
	})
	operatorAction("plans", func(x *cell) url.Values {
		return url.Values{"name": {x.uniq("plan")}, "quota": {"1000"}, "price": {"1.00"}, "rank": {strconv.FormatInt(100+x.seq, 10)}}
	})
	pub("GET /favicon.ico", kNone, at("GET", "/favicon.ico"))
	pub("GET /favicon.svg", kNone, at("GET", "/favicon.svg"))
	pub("GET /_assets/{file}", kNone, at("GET", "/_assets/app.css"))
	pub("GET /_assets/vendor/{file}", kNone, at("GET", "/_assets/vendor/htmx.min.js"))
	add("GET /{lang}/website/{domain}/{page}", rule{class: dispatcher})
	for _, p := range []string{"statistics", "events", "edit", "integration"} {
		add("GET /{lang}/website/{domain}/{page} page="+p, rule{class: customerPage, kind: kWeb, build: at("GET", "/en/website/{domain}/"+p),
			also: []func(x *cell) req{upper(at("GET", "/en/website/{domain}/"+p))}})
	}
	// A filled-in configuration file of the integration guide: it carries
	// the website's server key, so only who may open the guide may.
	add("GET /{lang}/website/{domain}/integration/{kind}/{file}", rule{class: customerPage, kind: kWeb,
		build: at("GET", "/en/website/{domain}/integration/nginx/protection.conf"),
		also:  []func(x *cell) req{upper(at("GET", "/en/website/{domain}/integration/nginx/protection.conf"))}})
	web("POST /{lang}/website/{domain}/edit", customerPage, form("POST", "/en/website/{domain}/edit", func(*cell) url.Values {
		return url.Values{"form": {"test"}, "ip": {"192.0.2.1"}, "ua": {"curl/8"}, "path": {"/"}, "method": {"GET"}}
	}))
	add("GET /{lang}/website/{domain}/events/{id}", rule{class: customerPage, kind: kWeb, build: func(x *cell) req {
		return req{method: "GET", path: "/en/website/" + x.t.domain + "/events/" + strconv.FormatInt(x.w.event, 10)}
	}, also: []func(x *cell) req{func(x *cell) req {
		// The victim's event id under a website the principal may open.
		return req{method: "GET", path: "/en/website/" + x.c.ownDomain + "/events/" + strconv.FormatInt(x.w.event, 10)}
	}}})
	// "This is fine": an exclusion made from the victim's event (or, for
	// an event without firewall findings, a refusal of that: 422).
	add("POST /{lang}/website/{domain}/events/{id}/allow", rule{class: customerPage, kind: kWeb, build: func(x *cell) req {
		return req{method: "POST", path: "/en/website/" + x.t.domain + "/events/" + strconv.FormatInt(x.w.event, 10) + "/allow"}
	}, also: []func(x *cell) req{func(x *cell) req {
		// The victim's event id under a website the principal may open.
		return req{method: "POST", path: "/en/website/" + x.c.ownDomain + "/events/" + strconv.FormatInt(x.w.event, 10) + "/allow"}
	}}})
	// "Allow this": the victim's event's client into the allow list (an
	// event that was not refused: a refusal of that, 422).
	add("POST /{lang}/website/{domain}/events/{id}/allow-this", rule{class: customerPage, kind: kWeb, build: func(x *cell) req {
		return req{method: "POST", path: "/en/website/" + x.t.domain + "/events/" + strconv.FormatInt(x.w.event, 10) + "/allow-this", body: "kind=client"}
	}, also: []func(x *cell) req{func(x *cell) req {
		// The victim's event id under a website the principal may open.
		return req{method: "POST", path: "/en/website/" + x.c.ownDomain + "/events/" + strconv.FormatInt(x.w.event, 10) + "/allow-this", body: "kind=client"}
	}}})

	// ---- decision endpoints and the challenge ----
	keyHeader := func(x *cell) http.Header {
		h := http.Header{"X-Original-Uri": {"/"}, "X-Forwarded-Uri": {"/"}, "X-Original-Method": {"GET"}, "X-Forwarded-Method": {"GET"},
			"X-Original-Host": {x.t.domain}, "X-Forwarded-Host": {x.t.domain}, "User-Agent": {"Mozilla/5.0"}}
		if x.c.bearer != "" {
			h.Set("X-Palisade-Key", x.c.bearer)
		}
		return h
	}
	for _, p := range []string{"/forward-auth", "/forward-auth/nginx", "/forward-auth/nginx-static", "/forward-auth/caddy", "/forward-auth/traefik", "/forward-auth/apache"} {
		add(p, rule{class: serverKeyOwn, kind: kDecision, build: func(x *cell) req {
			return req{method: "GET", path: p, header: keyHeader(x)}
		}})
	}
	// The page a visitor is shown, found by Host: what any visitor sees.
	pub("GET /forward-auth/page", kNone, func(x *cell) req {
		return req{method: "GET", path: "/forward-auth/page", header: http.Header{"X-Original-Host": {x.t.domain}}}
	})
	add("POST /init-request/v1", rule{class: serverKeyOwn, kind: kDecision, build: func(x *cell) req {
		b, _ := json.Marshal(map[string]string{"serverKey": x.c.bearer})
		return req{method: "POST", path: "/init-request/v1", body: string(b), ctype: "application/json"}
	}})
	add("POST /validate-request/v2", rule{class: serverKeyOwn, kind: kDecision, build: func(x *cell) req {
		b, _ := json.Marshal(map[string]any{"server_key": x.c.bearer, "request_info": map[string]any{
			"remote_addr": "192.0.2.10", "request_method": "GET", "request_uri": "/", "server_name": x.t.domain, "created_at": time.Now().Unix(), "server_port": 443},
			"headers": map[string]any{"User-Agent": "Mozilla/5.0", "Accept": "text/html"}})
		return req{method: "POST", path: "/validate-request/v2", body: string(b), ctype: "application/json"}
	}})
	add("POST /v2.1/check", rule{class: serverKeyOwn, kind: kDecision, build: func(x *cell) req {
		h := http.Header{"Bg-Remoteaddr": {"192.0.2.10"}}
		if x.c.bearer != "" {
			h.Set("BG-Key", x.c.bearer)
		}
		return req{method: "POST", path: "/v2.1/check", body: "GET / HTTP/1.1\r\nHost: " + x.t.domain + "\r\nUser-Agent: Mozilla/5.0\r\n\r\n", header: h}
	}})
	for _, p := range []string{"GET /_palisade/worker.js", "GET /_palisade/palisade.js", "GET /_palisade/nojs", "GET /_palisade/challenge"} {
		m, path, _ := strings.Cut(p, " ")
		pub(p, kNone, func(x *cell) req {
			return req{method: m, path: path + "?return=/", header: http.Header{"X-Original-Host": {x.t.domain}, "User-Agent": {"Mozilla/5.0"}}}
		})
	}
	for _, p := range []string{"POST /_palisade/verify", "POST /_palisade/token"} {
		_, path, _ := strings.Cut(p, " ")
		pub(p, kNone, func(x *cell) req {
			return req{method: "POST", path: path, body: "{}", ctype: "application/json", header: http.Header{"X-Original-Host": {x.t.domain}, "User-Agent": {"Mozilla/5.0"}}}
		})
	}
	scanWebRules(add) // the dashboard's Security scan and Backups pages (rules_scanweb_test.go)
	return rs
}
