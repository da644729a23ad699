package core_test

import (
	"context"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestAttack2InvalidUTF8Path: settings are stored as JSON, which turns
// bytes that are not UTF-8 into U+FFFD. A path with such a byte was checked
// against the other websites' roots as given and then stored as another
// path: here the very root of another website, so two websites (two
// customers, or two partners under a shared root) shared one folder. Such
// a path is refused.
func TestAttack2InvalidUTF8Path(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, func(c *core.Config) { c.ScanRoots = []string{"/var/www"} })
		a := f.partner(t, "a", 0)
		site := func(d string) core.Website {
			w, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: d}, core.Idem{})
			if err != nil {
				t.Fatal(err)
			}
			return w
		}
		w1, w2 := site("one.example.com"), site("two.example.com")
		local := func(p string) core.ScanSettings {
			return core.ScanSettings{Files: core.FileScanSettings{Source: core.FileSource{Kind: "local", Path: p}}}
		}
		if _, err := f.svc.SetWebsiteScanSettings(ctx, a, w1.Domain, local("/var/www/\uFFFD")); err != nil {
			t.Fatal(err)
		}
		got, err := f.svc.SetWebsiteScanSettings(ctx, a, w2.Domain, local("/var/www/\xff"))
		if err == nil {
			read, _ := f.svc.WebsiteScanSettings(ctx, a, w2.Domain)
			t.Fatalf("accepted %q, stored as %q: the other website's root", got.Files.Source.Path, read.Files.Source.Path)
		}
		wantErrCode(t, err, core.EINVALID, "a path that is not UTF-8")
	})
}
