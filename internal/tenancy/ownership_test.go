package tenancy_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
)

// TestTenancyFollowsOwnership: what a customer may open follows the
// website, not the credential it signed in with. A session, a User API
// sign-in or a customer key of the customer who had a website no longer
// opens it once the partner moves it to another customer; a session a
// partner's link opened for a website without a customer ends its reach
// when the website gets one; nobody reaches a deleted website.
func TestTenancyFollowsOwnership(t *testing.T) {
	w := setUp(t)
	ctx := context.Background()
	svc, a := w.e.Service, w.e.Caller
	cust, neigh := w.creds[customer], w.creds[neighbour]
	ask := func(c *cred, k kind, path string) verdict {
		t.Helper()
		x := &cell{w: w, p: customer, c: c, t: w.victim, seq: w.n.Add(1)}
		resp, body := w.send(x, k, req{method: "GET", path: path})
		v, _ := classify(k, resp, body)
		return v
	}
	type look struct {
		what string
		k    kind
		path func(domain string) string
		as   func(c *cred) *cred
	}
	session := func(c *cred) *cred { cc := *c; cc.userAuth = ""; return &cc }
	basic := func(c *cred) *cred { cc := *c; cc.cookie = ""; return &cc }
	byKey := func(c *cred) *cred { return &cred{apiKey: c.custKey, client: c.client} }
	looks := []look{
		{"session", kWeb, func(d string) string { return "/en/website/" + d + "/statistics" }, session},
		{"User API", kUser, func(d string) string { return "/api/websites/" + d + "/settings" }, basic},
		{"customer key", kWeb, func(d string) string { return "/en/website/" + d + "/statistics" }, byKey},
	}
	want := func(step string, c *cred, name, domain string, v verdict) {
		t.Helper()
		for _, l := range looks {
			if got := ask(l.as(c), l.k, l.path(domain)); got != v {
				t.Errorf("%s: %s by %s on %s: got %v, want %v", step, name, l.what, domain, got, v)
			}
		}
	}
	d := w.victim.domain
	want("before", cust, "the customer", d, vAllowed)
	want("before", neigh, "the neighbour", d, vRefused)

	// The partner moves the website to the neighbour.
	to := w.neighbourID
	if _, err := svc.UpdateWebsite(ctx, a, d, core.WebsiteUpdate{SubaccountID: &to}, core.Match{}); err != nil {
		t.Fatal(err)
	}
	want("moved", cust, "the former customer", d, vRefused)
	want("moved", neigh, "the new customer", d, vAllowed)

	// A session a partner's link opened for a website without a customer.
	orphan, _, err := svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "orphan.example"}, core.Idem{})
	if err != nil {
		t.Fatal(err)
	}
	link, _, err := svc.CreateLoginToken(ctx, a, core.ScopeCustomer, orphan.Domain)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := w.creds[anonymous].client.Get(w.e.URL + strings.TrimPrefix(link, w.e.Service.Config().PublicURL))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var linked string
	for _, ck := range resp.Cookies() {
		if ck.Value != "" {
			linked = ck.Value
		}
	}
	if linked == "" {
		t.Fatalf("the login link opened no session: %d", resp.StatusCode)
	}
	holder := &cred{cookie: linked, client: w.creds[anonymous].client}
	page := "/en/website/" + orphan.Domain + "/statistics"
	if v := ask(holder, kWeb, page); v != vAllowed {
		t.Fatalf("the link's session does not open its website: %v", v)
	}
	if v := ask(holder, kWeb, "/en/website/"+d+"/statistics"); v != vRefused {
		t.Errorf("the link's session opens another website of the partner: %v", v)
	}
	id := w.victim.userID
	if _, err := svc.UpdateWebsite(ctx, a, orphan.Domain, core.WebsiteUpdate{SubaccountID: &id}, core.Match{}); err != nil {
		t.Fatal(err)
	}
	if v := ask(holder, kWeb, page); v != vRefused {
		t.Errorf("the link's session still opens its website after it went to a customer: %v", v)
	}
	want("orphan given", cust, "its new customer", orphan.Domain, vAllowed)

	// Deleted: nobody.
	if _, err := svc.DeleteWebsite(ctx, a, d, core.Match{}); err != nil {
		t.Fatal(err)
	}
	want("deleted", neigh, "its last customer", d, vRefused)
	x := &cell{w: w, p: partner, c: w.creds[partner], t: w.victim, seq: w.n.Add(1)}
	r, body := w.send(x, kREST, req{method: "GET", path: "/v1/websites/" + url.PathEscape(d) + "/settings"})
	if v, why := classify(kREST, r, body); v != vRefused {
		t.Errorf("the partner reads a deleted website's settings: %s", why)
	}
}
