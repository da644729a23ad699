package core_test

import (
	"context"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestBrandingReachesVisitorPages: the partner's name, logo, colour,
// default language and powered_by go with each of its websites to the
// engine, which the challenge and deny pages read; powered_by is off
// until the partner turns it on, and SetBrand (the operator's CLI) keeps it.
func TestBrandingReachesVisitorPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		c := f.partner(t, "host", 100000)
		if _, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "shop.example.com", Plan: "10k"}, core.Idem{}); err != nil {
			t.Fatal(err)
		}
		site := func() (brand, logo, color, lang string, powered bool) {
			t.Helper()
			sites, err := f.svc.EngineSites(ctx)
			if err != nil || len(sites) != 1 {
				t.Fatalf("sites: %v %+v", err, sites)
			}
			s := sites[0]
			return s.Brand, s.BrandLogo, s.BrandColor, s.Lang, s.PoweredBy
		}
		if brand, _, color, lang, powered := site(); brand != "host" || color != "" || lang != "en" || powered {
			t.Fatalf("before branding: %q %q %q %v", brand, color, lang, powered)
		}
		if b, _ := f.svc.Branding(ctx, c); b.PoweredBy {
			t.Fatal("powered_by is on before the partner chose it")
		}
		if _, err := f.svc.SetBranding(ctx, c, c.PartnerID, core.Branding{Name: "Acme Hosting", Logo: "https://acme.example/logo.svg", Color: "#aa3300", DefaultLang: "fr", PoweredBy: true}); err != nil {
			t.Fatal(err)
		}
		if brand, logo, color, lang, powered := site(); brand != "Acme Hosting" || logo != "https://acme.example/logo.svg" || color != "#aa3300" || lang != "fr" || !powered {
			t.Fatalf("after branding: %q %q %q %q %v", brand, logo, color, lang, powered)
		}
		if err := f.svc.SetBrand(ctx, core.Operator(), c.PartnerID, "Acme", ""); err != nil {
			t.Fatal(err)
		}
		if b, _ := f.svc.Branding(ctx, c); !b.PoweredBy || b.Name != "Acme" {
			t.Fatalf("SetBrand lost powered_by: %+v", b)
		}
	})
}
