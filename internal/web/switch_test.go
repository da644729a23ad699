package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/api/gp"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/web/signin"
)

var switchCSRF = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// TestLinkNeverReplacesAnotherSession: a link (?api-key=, ?token=, /sso)
// that would sign the browser in as someone else than the session it holds
// does not switch it: it asks, and only a POST with the current session's
// CSRF token switches. A link of the same principal goes straight through.
func TestLinkNeverReplacesAnotherSession(t *testing.T) {
	e, jane, bob, _ := fixture(t)
	ctx := context.Background()
	if _, _, err := e.Service.CreateWebsite(ctx, e.Caller, core.WebsiteCreate{Domain: "jane2.example.com", SubaccountID: jane.ID}, core.Idem{}); err != nil {
		t.Fatal(err)
	}
	if gp.SessionCookie != signin.SessionCookie {
		t.Fatalf("cookie names differ: %s %s", gp.SessionCookie, signin.SessionCookie)
	}
	br := newBrowser(t, e.URL)
	if code, _, _ := br.get("/en/website/shop.example.com/statistics?api-key=" + jane.APIKey); code != 200 {
		t.Fatalf("jane signs in: %d", code)
	}
	isJane := func(when string) {
		t.Helper()
		if code, _, _ := br.get("/en/website/shop.example.com/statistics"); code != 200 {
			t.Fatalf("%s: jane's session is gone (%d)", when, code)
		}
		if code, _, _ := br.get("/en/website/bob.example.org/statistics"); code != 404 {
			t.Fatalf("%s: the browser sees bob's website (%d)", when, code)
		}
	}

	// Same principal (jane's key, another of her websites): no question.
	code, page, resp := br.get("/en/website/jane2.example.com/statistics?api-key=" + jane.APIKey)
	if code != 200 || resp.Request.URL.Path != "/en/website/jane2.example.com/statistics" {
		t.Fatalf("same principal: %d %s", code, resp.Request.URL)
	}
	isJane("after her own link")

	// Bob's key: a confirmation page, and jane stays signed in.
	code, page, resp = br.get("/en/website/bob.example.org/statistics?api-key=" + bob.APIKey)
	if code != 200 || resp.Request.URL.Path != signin.ConfirmPath || !strings.Contains(page, "bob.example.org") ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'self' https://panel.acme.example") {
		t.Fatalf("bob's key: %d %s %s", code, resp.Request.URL, page)
	}
	isJane("after bob's link")
	m := switchCSRF.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the confirmation page: %s", page)
	}
	// A cross-site POST (no token, or a wrong one) switches nothing.
	for _, f := range []url.Values{{"action": {"switch"}}, {"action": {"switch"}, "csrf": {strings.Repeat("0", 32)}}} {
		if code, _ := br.post(signin.ConfirmPath, f); code != http.StatusForbidden {
			t.Fatalf("switch without the CSRF token: %d", code)
		}
		isJane("after a forged confirmation")
	}
	// GET never switches.
	if code, _, _ := br.get(signin.ConfirmPath + "?action=switch&csrf=" + m[1]); code != 200 {
		t.Fatalf("GET confirm: %d", code)
	}
	isJane("after a GET of the confirmation")
	// Cancel: the parked session is dropped, jane stays.
	if code, _ := br.post(signin.ConfirmPath, url.Values{"action": {"cancel"}, "csrf": {m[1]}}); code != 200 {
		t.Fatalf("cancel: %d", code)
	}
	isJane("after cancelling")
	if code, _ := br.post(signin.ConfirmPath, url.Values{"action": {"switch"}, "csrf": {m[1]}}); code == 200 {
		t.Fatal("switched after cancelling")
	}
	isJane("after switching a cancelled link")

	// A single-sign-on link of bob's, by /sso and by ?token=: asked too.
	for _, path := range []string{"/sso?token=", "/en/website/bob.example.org/statistics?token="} {
		link, _, err := e.Service.CreateCustomerLoginToken(ctx, e.Caller, bob.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(link)
		code, page, resp = br.get(path + url.QueryEscape(u.Query().Get("token")))
		if code != 200 || resp.Request.URL.Path != signin.ConfirmPath {
			t.Fatalf("%s: %d %s", path, code, resp.Request.URL)
		}
		isJane("after bob's " + path)
	}
	// Confirmed: now the browser is bob's, on the page the link opens.
	m = switchCSRF.FindStringSubmatch(page)
	resp, err := br.c.PostForm(br.base+signin.ConfirmPath, url.Values{"action": {"switch"}, "csrf": {m[1]}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/en/website/bob.example.org/statistics" {
		t.Fatalf("confirmed switch: %d %s", resp.StatusCode, resp.Request.URL)
	}
	if code, _, _ := br.get("/en/website/shop.example.com/statistics"); code != 404 {
		t.Fatalf("after the switch the browser still sees jane's website: %d", code)
	}

	// Without a session, a link signs in at once, as before.
	fresh := newBrowser(t, e.URL)
	if code, _, resp := fresh.get("/en/website/bob.example.org/events?api-key=" + bob.APIKey); code != 200 || resp.Request.URL.Path != "/en/website/bob.example.org/events" {
		t.Fatalf("fresh browser: %d %s", code, resp.Request.URL)
	}
	// The partner's console session is not replaced by a customer's link.
	link, _, err := e.Service.CreateLoginToken(ctx, e.Caller, core.ScopePartner, "")
	if err != nil {
		t.Fatal(err)
	}
	admin := newBrowser(t, e.URL)
	if code, _, resp := admin.get(strings.TrimPrefix(link, e.URL)); code != 200 || resp.Request.URL.Path != "/console" {
		t.Fatalf("partner link: %d %s", code, resp.Request.URL)
	}
	if _, _, resp := admin.get("/en/website/bob.example.org/statistics?api-key=" + bob.APIKey); resp.Request.URL.Path != signin.ConfirmPath {
		t.Fatalf("a customer's link replaced the partner's session: %s", resp.Request.URL)
	}
	if code, _, _ := admin.get("/console"); code != 200 {
		t.Fatalf("partner console after the link: %d", code)
	}
}

// TestCustomerPagesDoNotTellPartners: before sign-in, a customer page of a
// registered website and of an unknown domain answer the same status,
// headers that matter and body, and neither names the partner.
func TestCustomerPagesDoNotTellPartners(t *testing.T) {
	e, jane, _, _ := fixture(t)
	other := newBrowser(t, e.URL)
	for _, q := range []string{"", "?api-key=ck_nope", "?api-key=" + jane.APIKey, "?token=lt_nope"} {
		for _, page := range []string{"statistics", "events", "edit", "nope", "events/1"} {
			known, kbody, kresp := other.get("/en/website/bob.example.org/" + page + q)
			unknown, ubody, uresp := other.get("/en/website/nosuch.example.net/" + page + q)
			kbody = strings.ReplaceAll(kbody, "bob.example.org", "DOMAIN")
			ubody = strings.ReplaceAll(ubody, "nosuch.example.net", "DOMAIN")
			if known != unknown || kbody != ubody {
				t.Errorf("%s%s: registered %d, unknown %d\n%s\n---\n%s", page, q, known, unknown, kbody, ubody)
			}
			for _, h := range []string{"Content-Security-Policy", "Content-Type", "Cache-Control"} {
				if kresp.Header.Get(h) != uresp.Header.Get(h) {
					t.Errorf("%s%s: %s differs: %q %q", page, q, h, kresp.Header.Get(h), uresp.Header.Get(h))
				}
			}
			if strings.Contains(kbody, "Acme") || strings.Contains(kresp.Header.Get("Content-Security-Policy"), "acme") {
				t.Errorf("%s%s names the partner before sign-in: %s", page, q, kbody)
			}
		}
	}
}
