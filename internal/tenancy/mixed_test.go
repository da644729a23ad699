package tenancy_test

import (
	"bytes"
	"context"
	"net/url"
	"strconv"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
)

// TestMixedReferences asks, as principals allowed on a route, for their
// own objects together with another tenant's (an id in a field, a filter,
// a domain): partner A naming partner B's customer, website, add-on,
// email or key; the victim customer naming partner B's website. Each must
// be refused (or, for a list, show nothing of partner B), and partner B's
// objects must be as they were.
func TestMixedReferences(t *testing.T) {
	w := setUp(t)
	ctx := context.Background()
	rv := w.rival
	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	rivalMarks := []string{"rival.example", "rival-customer@"}
	type probe struct {
		name string
		p    principal
		kind kind
		list bool // allowed, but must show nothing of partner B
		b    func(x *cell) req
	}
	own := func(x *cell) target { return w.scratch() }
	probes := []probe{
		{"REST create a website for B's customer", partner, kREST, false, jsonBody("POST", "/v1/websites", func(x *cell) any {
			return map[string]any{"domain": x.uniq("mix") + ".example", "user": rv.userID}
		})},
		{"compat create a website for B's customer", partner, kREST, false, form("POST", "/website", func(x *cell) url.Values {
			return url.Values{"domain": {x.uniq("mix") + ".example"}, "user": {id(rv.userID)}}
		})},
		{"REST move an own website to B's customer", partner, kREST, false, func(x *cell) req {
			return req{method: "PATCH", path: "/v1/websites/" + own(x).domain, body: `{"user":` + id(rv.userID) + `}`, ctype: "application/json"}
		}},
		{"compat move an own website to B's customer", partner, kREST, false, func(x *cell) req {
			return req{method: "PUT", path: "/website/" + own(x).domain, body: "user=" + id(rv.userID)}
		}},
		{"REST list websites of B's customer", partner, kREST, true, func(x *cell) req { return req{method: "GET", path: "/v1/websites?user=" + id(rv.userID)} }},
		{"REST list websites by B's domain", partner, kREST, true, func(x *cell) req { return req{method: "GET", path: "/v1/websites?domain=rival"} }},
		{"REST find B's customer by email", partner, kREST, true, func(x *cell) req { return req{method: "GET", path: "/user?email=rival-customer@example.org"} }},
		{"REST B's customer by id", partner, kREST, false, func(x *cell) req { return req{method: "GET", path: "/v1/users/" + id(rv.userID)} }},
		{"REST B's customer's login link", partner, kREST, false, func(x *cell) req { return req{method: "POST", path: "/v1/users/" + id(rv.userID) + "/login-link"} }},
		{"REST mark B's email sent", partner, kREST, false, func(x *cell) req { return req{method: "POST", path: "/v1/emails/" + id(w.rivalEmail) + "/sent"} }},
		{"XML token for own account and B's site", partner, kXML, false, xmlCall("createToken", func(x *cell) string {
			return el("account_id", w.victim.userID) + el("site_id", rv.siteID)
		})},
		{"XML token for B's site", partner, kXML, false, xmlCall("createToken", func(x *cell) string { return el("site_id", rv.siteID) })},
		{"XML add a site to B's account", partner, kXML, false, xmlCall("provisionAccount", func(x *cell) string {
			return "<account>" + el("account_id", rv.userID) + "</account><site>" + el("domain", x.uniq("mix")+".example") + el("subscription", "Free") + "</site>"
		})},
		{"XML delete B's site", partner, kXML, false, xmlCall("deleteAccount", func(x *cell) string { return el("site_id", rv.siteID) })},
		{"XML delete B's account", partner, kXML, false, xmlCall("deleteAccount", func(x *cell) string { return el("account_id", rv.userID) })},
		{"XML add-on on B's site", partner, kXML, false, xmlCall("provisionAddon", func(x *cell) string {
			return el("site_id", rv.siteID) + el("addon", core.AddonExtraRequests) + el("quantity", "1")
		})},
		{"XML change B's add-on", partner, kXML, false, xmlCall("modifyAddon", func(x *cell) string { return el("addon_id", rv.addon) + el("quantity", "3") })},
		{"XML delete B's add-on", partner, kXML, false, xmlCall("deleteAddon", func(x *cell) string { return el("addon_id", rv.addon) })},
		{"XML mark B's email sent", partner, kXML, false, xmlCall("markEmailSent", func(x *cell) string { return el("queue_id", w.rivalEmail) })},
		{"XML reset B's customer's password", partner, kXML, false, xmlCall("passwordReset", func(x *cell) string {
			return el("account_id", rv.userID) + el("password", "Quiet-Meadow-Orbit-77")
		})},
		// With account_id, getStatus describes that account (site_id is
		// not read): the own account's status, nothing of B's.
		{"XML own account's status with B's site", partner, kXML, true, xmlCall("getStatus", func(x *cell) string {
			return el("account_id", w.victim.userID) + el("site_id", rv.siteID)
		})},
		{"XML status of B's site", partner, kXML, false, xmlCall("getStatus", func(x *cell) string { return el("site_id", rv.siteID) })},
		{"GP list B's site", partner, kGP, false, func(x *cell) req { return req{method: "POST", path: "/api/v1/list/", body: x.gpForm(rv.domain, nil)} }},
		{"GP suspend B's site", partner, kGP, false, func(x *cell) req {
			return req{method: "POST", path: "/api/v1/suspended/", body: x.gpForm(rv.domain, nil)}
		}},
		{"console suspend B's site", partner, kWeb, false, form("POST", "/console/status", func(x *cell) url.Values {
			return url.Values{"domain": {rv.domain}, "status": {"paused"}}
		})},
		{"console revoke B's key", partner, kWeb, false, form("POST", "/console/revoke", func(x *cell) url.Values { return url.Values{"prefix": {rv.key}} })},
		{"customer page of B's site", customer, kWeb, false, func(x *cell) req { return req{method: "GET", path: "/en/website/" + rv.domain + "/statistics"} }},
		{"partner's session on B's site", partner, kWeb, false, func(x *cell) req { return req{method: "GET", path: "/en/website/" + rv.domain + "/events"} }},
		{"customer key for B's site", anonymous, kWeb, false, func(x *cell) req {
			return req{method: "GET", path: "/en/website/" + rv.domain + "/statistics?api-key=" + url.QueryEscape(w.creds[customer].custKey)}
		}},
		{"User API on B's site", customer, kUser, false, func(x *cell) req { return req{method: "GET", path: "/api/websites/" + rv.domain + "/settings"} }},
	}
	for _, pr := range probes {
		x := &cell{w: w, p: pr.p, c: w.creds[pr.p], t: w.victim, seq: w.n.Add(1)}
		r := pr.b(x)
		resp, body := w.send(x, pr.kind, r)
		v, why := classify(pr.kind, resp, body)
		if pr.list {
			for _, m := range rivalMarks {
				if bytes.Contains(body, []byte(m)) {
					t.Errorf("%s: the answer shows partner B's %q: %.300s", pr.name, m, body)
				}
			}
			if v != vAllowed {
				t.Errorf("%s: want an answer without B's data, got %s: %.300s", pr.name, why, body)
			}
			continue
		}
		if v != vRefused {
			t.Errorf("%s (as %s): want refused, got %s: %.300s", pr.name, pr.p, why, body)
		}
	}
	// Partner B's objects are as they were.
	b := w.partB
	site, err := w.e.Service.Website(ctx, b, rv.domain)
	if err != nil || site.Status == core.StatusPaused || site.SubaccountID != rv.userID {
		t.Errorf("partner B's website changed: %+v, %v", site, err)
	}
	if _, err := w.e.Service.Subaccount(ctx, b, rv.userID); err != nil {
		t.Errorf("partner B's customer: %v", err)
	}
	if keys, err := w.e.Service.PartnerKeys(ctx, b, b.PartnerID); err != nil || len(keys) == 0 {
		t.Errorf("partner B's key was revoked: %v", err)
	}
	es, err := w.e.Service.Emails(ctx, b, core.EmailFilter{Limit: 500})
	for _, e := range es {
		if e.ID == w.rivalEmail && e.Status != core.EmailPending {
			t.Errorf("partner B's email %d is %s", e.ID, e.Status)
		}
	}
	if err != nil {
		t.Error(err)
	}
	t.Logf("%d probes; partner B's website, customer, key and email unchanged", len(probes))
}
