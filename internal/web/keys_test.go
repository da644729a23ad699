package web_test

import (
	"context"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
)

// TestConsoleKeysStayWithinOperatorRanges: whichever way a partner reaches
// its console (a GP admin link, an XML createToken link), the keys it mints
// there lie within the addresses the operator allowed it: 0.0.0.0/0, ::/0
// and ranges outside or wider are refused, and a key with no addresses
// given gets the operator's ranges, not "any address".
func TestConsoleKeysStayWithinOperatorRanges(t *testing.T) {
	e, _, _, _ := fixture(t)
	ctx := context.Background()
	if err := e.Service.AllowIP(ctx, core.Operator(), e.Caller.PartnerID, "127.0.0.0/8"); err != nil {
		t.Fatal(err)
	}
	// A GP admin link: the loginlink call, from the panel's address.
	ts := core.GPTimestamp(e.Clock.Now(), 1)
	gc, _, err := e.Service.AuthenticateGP(ctx, netip.MustParseAddr("127.0.0.1"), "panel.acme.example", ts, core.GPHash(e.PartnerKey, "panel.acme.example", ts))
	if err != nil {
		t.Fatal(err)
	}
	gpLink, _, err := e.Service.GPLoginLink(ctx, gc, "admin", "panel.acme.example")
	if err != nil {
		t.Fatal(err)
	}
	gu, _ := url.Parse(gpLink)
	gpAdmin := gu.RequestURI()
	sso, _, err := e.Service.CreateLoginToken(ctx, e.Caller, core.ScopePartner, "")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(sso)
	xmlToken := u.RequestURI()

	for _, link := range []string{gpAdmin, xmlToken} {
		br := newBrowser(t, e.URL)
		code, page, _ := br.get(link)
		if code != 200 || !strings.Contains(page, "shop.example.com") {
			t.Fatalf("%s: %d", link, code)
		}
		token := csrf(t, page)
		for _, wide := range []string{"0.0.0.0/0", "::/0", "0.0.0.0/1", "10.0.0.0/8", "127.0.0.0/7", "203.0.113.9"} {
			code, page := br.post("/console/keys", url.Values{"csrf": {token}, "name": {"wide"}, "allowed_ips": {wide}})
			if code != 422 || regexp.MustCompile(`id="new-key">pk_`).MatchString(page) {
				t.Fatalf("%s: a key for %s: %d", link, wide, code)
			}
		}
		code, page = br.post("/console/keys", url.Values{"csrf": {token}, "name": {"default"}})
		key := regexp.MustCompile(`id="new-key">(pk_[^<]+)<`).FindStringSubmatch(page)
		if code != 200 || key == nil {
			t.Fatalf("%s: a key with no addresses given: %d", link, code)
		}
		if _, err := e.Service.Authenticate(ctx, key[1], netip.MustParseAddr("203.0.113.9"), core.ProtocolV1); err == nil {
			t.Fatalf("%s: the new key works from anywhere", link)
		}
		if _, err := e.Service.Authenticate(ctx, key[1], netip.MustParseAddr("127.0.0.1"), core.ProtocolV1); err != nil {
			t.Fatalf("%s: the new key does not work from the operator's range: %v", link, err)
		}
	}
}
