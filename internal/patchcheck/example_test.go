package patchcheck_test

import (
	"context"
	"fmt"
	"log"

	"github.com/palisadehq/palisade/internal/patchcheck"
	"github.com/palisadehq/palisade/internal/sitefiles"
)

// Detect a site's installs, load a feed, and list what is vulnerable.
func Example() {
	ctx := context.Background()
	site, err := sitefiles.Local("testdata/sites/wordpress")
	if err != nil {
		log.Fatal(err)
	}
	defer site.Close()
	inv, err := patchcheck.Detect(ctx, site, patchcheck.DetectOptions{})
	if err != nil {
		log.Fatal(err)
	}
	// A URL works too: patchcheck.Load(ctx, "https://.../all.zip", ...).
	feed, err := patchcheck.Load(ctx, "testdata/feed", patchcheck.LoadOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for _, in := range patchcheck.Check(inv, feed).Installs {
		for _, c := range in.Components {
			for _, v := range c.Vulnerabilities {
				fmt.Printf("/%s %s %s %s: %s %s, fixed in %q\n", in.Root, c.Type, c.Slug, c.Version, v.ID, v.Severity, v.Fixed)
			}
		}
	}
	// Output:
	// / core wordpress 6.4.2: PAL-TEST-2026-0006 medium, fixed in "6.4.3"
	// / plugin example-forms 2.3.1: PAL-TEST-2026-0001 critical, fixed in "2.3.4"
	// / plugin seo-helper 4.0.2: PAL-TEST-2026-0003 high, fixed in ""
	// / theme example-theme 1.4: PAL-TEST-2026-0004 unknown, fixed in ""
}
