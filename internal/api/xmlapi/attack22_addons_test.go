package xmlapi_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
)

// TestAttack22XMLAddons: what a billing module's mistakes and retries do
// through provisionAddon and deleteAddon. A quantity that is not a
// positive number is the method's <error> and charges nothing; a site
// whose term has ended buys nothing (it would be charged 0.00) until it
// is renewed; deleteAddon of a deleted site's add-on, by its addon_id,
// leaves the feature of the site registered since under the same domain
// on (it has its own add-on, charged every renewal).
func TestAttack22XMLAddons(t *testing.T) {
	e := newEnv(t, nil, func(c *core.Config) { c.ScanRoots = []string{"/var/www"}; c.ScanAddonsRequired = true })
	ctx := context.Background()
	balance := func() core.Cents {
		t.Helper()
		p, err := e.Service.Partner(ctx, e.Caller)
		if err != nil {
			t.Fatal(err)
		}
		return p.Balance
	}
	site, _, err := e.Service.CreateWebsite(ctx, e.Caller, core.WebsiteCreate{Domain: "again.example.com", Plan: "10k"}, core.Idem{})
	if err != nil {
		t.Fatal(err)
	}
	sid := "<site_id>" + strconv.FormatInt(site.ID, 10) + "</site_id>"

	before := balance()
	for _, q := range []string{"", "0", "-1", "abc", "1.0", "99999999999999999999", "10001"} {
		r := e.call(t, "provisionAddon", sid+"<addon>extra_requests</addon><quantity>"+q+"</quantity>")
		if r.err() == "" {
			t.Fatalf("quantity %q accepted: %s", q, r.raw)
		}
	}
	wantErr(t, e.call(t, "provisionAddon", sid+"<addon>smart</addon><quantity>0</quantity>"), "quantity must be a positive number")
	wantErr(t, e.call(t, "provisionAddon", sid+"<addon>SMART</addon><quantity>1</quantity>"), `unknown add-on "SMART"`)
	if got := balance(); got != before {
		t.Fatalf("refused purchases charged: %s → %s", before, got)
	}

	// The first registration buys smart and switches the scan on, then
	// is deleted; the domain is registered again and buys its own.
	stale := ok(t, e.call(t, "provisionAddon", sid+"<addon> smart </addon><quantity>1</quantity>")).get("addon_id")
	ok(t, e.call(t, "setSmartSettings", sid+"<source>local</source><path>/var/www/again</path><enabled>on</enabled>"))
	if _, err := e.Service.DeleteWebsite(ctx, e.Caller, "again.example.com", core.Match{}); err != nil {
		t.Fatal(err)
	}
	site, _, err = e.Service.CreateWebsite(ctx, e.Caller, core.WebsiteCreate{Domain: "again.example.com", Plan: "10k"}, core.Idem{})
	if err != nil {
		t.Fatal(err)
	}
	sid = "<site_id>" + strconv.FormatInt(site.ID, 10) + "</site_id>"
	ok(t, e.call(t, "provisionAddon", sid+"<addon>smart</addon><quantity>1</quantity>"))
	ok(t, e.call(t, "setSmartSettings", sid+"<source>local</source><path>/var/www/again</path><enabled>on</enabled>"))
	if r := e.call(t, "deleteAddon", "<addon_id>"+stale+"</addon_id>"); r.status != 200 {
		t.Fatalf("deleteAddon of the deleted site's add-on: %s", r.raw)
	}
	if r := ok(t, e.call(t, "getSmartSettings", sid)); r.get("enabled", "setting") != "on" {
		t.Fatalf("the new site's scan after the old site's add-on was deleted: %s", r.raw)
	}

	// A month and a day later the term has ended: nothing is bought.
	e.Clock.Advance(32 * 24 * time.Hour)
	before = balance()
	wantErr(t, e.call(t, "provisionAddon", sid+"<addon>backup</addon><quantity>1</quantity>"), "website again.example.com expired on ")
	if got := balance(); got != before {
		t.Fatalf("a purchase for an expired site charged: %s → %s", before, got)
	}
	if r := ok(t, e.call(t, "getBackupSettings", sid)); r.get("enabled", "setting") != "off" {
		t.Fatalf("backup: %s", r.raw)
	}
}
