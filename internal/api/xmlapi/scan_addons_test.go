package xmlapi_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
)

// TestScanAddons: the scanning add-ons through provisionAddon, modifyAddon
// and deleteAddon, and the set methods refusing a feature whose add-on the
// site has not bought, each refusal the method's <error>.
func TestScanAddons(t *testing.T) {
	e := newEnv(t, nil, func(c *core.Config) { c.ScanRoots = []string{"/var/www"}; c.ScanAddonsRequired = true })
	ctx := context.Background()
	site, _, err := e.Service.CreateWebsite(ctx, e.Caller, core.WebsiteCreate{Domain: "addons.example.com", Plan: "10k"}, core.Idem{})
	if err != nil {
		t.Fatal(err)
	}
	sid := "<site_id>" + strconv.FormatInt(site.ID, 10) + "</site_id>"
	balance := func() core.Cents {
		t.Helper()
		p, err := e.Service.Partner(ctx, e.Caller)
		if err != nil {
			t.Fatal(err)
		}
		return p.Balance
	}

	// Where the files are may be set; switching the scan on needs smart.
	ok(t, e.call(t, "setSmartSettings", sid+"<source>local</source><path>/var/www/addons</path>"))
	wantErr(t, e.call(t, "setSmartSettings", sid+"<enabled>on</enabled>"),
		"files.enabled: malware scanning (SMART) is sold as add-on smart, which website addons.example.com does not have")
	wantErr(t, e.call(t, "setSmartPatchSettings", sid+"<enabled>on</enabled>"), "patch.enabled: patch checks (SMART Patch) is sold as add-on smart_patch")

	// Bought right after registration: a whole month at the default price.
	before := balance()
	a := ok(t, e.call(t, "provisionAddon", sid+"<addon>smart</addon><quantity>1</quantity>"))
	if a.get("addon") != "smart" || a.get("quantity") != "1" || a.get("status") != "active" {
		t.Fatalf("provisionAddon smart: %s", a.raw)
	}
	if got := before - balance(); got != core.DefaultSmartPrice {
		t.Fatalf("smart charged %s; want %s", got, core.DefaultSmartPrice)
	}
	smartID := a.get("addon_id")
	before = balance()
	wantErr(t, e.call(t, "provisionAddon", sid+"<addon>smart</addon><quantity>1</quantity>"), "website addons.example.com already has add-on smart (addon_id "+smartID+")")
	wantErr(t, e.call(t, "provisionAddon", sid+"<addon>backup</addon><quantity>2</quantity>"), "quantity of add-on backup must be 1")
	wantErr(t, e.call(t, "modifyAddon", "<addon_id>"+smartID+"</addon_id><quantity>3</quantity>"), "quantity of add-on smart must be 1")
	wantErr(t, e.call(t, "provisionAddon", sid+"<addon>smart_scan</addon><quantity>1</quantity>"),
		`unknown add-on "smart_scan"; the add-on products are: extra_requests, smart, smart_patch, smart_database, backup`)
	if got := balance(); got != before {
		t.Fatalf("refusals charged: %s → %s", before, got)
	}

	if r := ok(t, e.call(t, "setSmartSettings", sid+"<enabled>on</enabled>")); r.get("enabled", "setting") != "on" {
		t.Fatalf("setSmartSettings with smart: %s", r.raw)
	}
	for _, p := range []string{"smart_patch", "smart_database", "backup"} {
		ok(t, e.call(t, "provisionAddon", sid+"<addon>"+p+"</addon><quantity>1</quantity>"))
	}
	if got, want := before-balance(), core.DefaultSmartPatchPrice+core.DefaultSmartDatabasePrice+core.DefaultBackupPrice; got != want {
		t.Fatalf("three add-ons charged %s; want %s", got, want)
	}
	ok(t, e.call(t, "setSmartPatchSettings", sid+"<enabled>on</enabled>"))

	// Removing smart switches the scan off (the patch check stays on).
	ok(t, e.call(t, "deleteAddon", "<addon_id>"+smartID+"</addon_id>"))
	if r := ok(t, e.call(t, "getSmartSettings", sid)); r.get("enabled", "setting") != "off" || r.get("path", "setting") != "/var/www/addons" {
		t.Fatalf("after deleteAddon: %s", r.raw)
	}
	if r := ok(t, e.call(t, "getSmartPatchSettings", sid)); r.get("enabled", "setting") != "on" {
		t.Fatalf("patch after smart was removed: %s", r.raw)
	}
	wantErr(t, e.call(t, "startScan", sid+"<kind>smart</kind>"), "files is not switched on")
	if sum, bal, _ := e.Service.LedgerBalanced(ctx, e.Caller, e.Caller.PartnerID); sum != bal {
		t.Fatalf("ledger %s != balance %s", sum, bal)
	}
}
