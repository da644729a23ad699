package web_test

import (
	"context"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
)

// TestConsoleCreditScanAddons: the charges of the scanning add-ons, and a
// renewal with them, read in words in the page's language, not as the
// core's English reasons.
func TestConsoleCreditScanAddons(t *testing.T) {
	e, br := c1Console(t)
	ctx := context.Background()
	site, err := e.Service.Website(ctx, e.Caller, "shop.example.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{core.AddonSmart, core.AddonBackup} {
		if _, err := e.Service.ProvisionAddon(ctx, e.Caller, site.ID, p, 1); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := e.Service.ModifyWebsite(ctx, e.Caller, "shop.example.com", core.WebsiteChange{RenewMonths: 2}, core.Match{}, core.Idem{}); err != nil {
		t.Fatal(err)
	}
	_, page, _ := br.get("/console/credit?lang=en")
	text := c1Visible(page)
	for _, want := range []string{"Add-on smart for shop.example.com: 3.00 a month, for the rest of the term",
		"Add-on backup for shop.example.com: 4.00 a month, for the rest of the term",
		"Renewal of shop.example.com, plan 10k, for 2 months with add-ons smart, backup"} {
		if !strings.Contains(text, want) {
			t.Errorf("the ledger lacks %q:\n%s", want, text)
		}
	}
	for _, raw := range []string{"renew ", "left of the term", "month(s)"} {
		if strings.Contains(text, raw) {
			t.Errorf("the ledger shows the core's %q:\n%s", raw, text)
		}
	}
	_, page, _ = br.get("/console/credit?lang=de")
	if text = c1Visible(page); !strings.Contains(text, "Zusatzprodukt smart für shop.example.com: 3.00 pro Monat") ||
		!strings.Contains(text, "um 2 Monate mit den Zusatzprodukten smart, backup") {
		t.Errorf("the German ledger:\n%s", text)
	}
}
