package core_test

import (
	"context"
	"sync"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// EditWebsiteScanSettings: concurrent edits of one website's scan
// settings, each changing its own fields (one of them a secret), all
// land; an edit that fails changes nothing; the customer cannot edit.
func TestEditWebsiteScanSettingsConcurrent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f, a, w := scanFixture(t, db)
		if _, err := f.svc.SetWebsiteScanSettings(ctx, a, w.Domain, core.ScanSettings{Files: core.FileScanSettings{Enabled: true,
			Source: core.FileSource{Kind: "local", Path: "/var/www/shop"}}}); err != nil {
			t.Fatal(err)
		}
		edits := []func(*core.ScanSettings) error{
			func(s *core.ScanSettings) error { s.Files.EveryHours = 6; return nil },
			func(s *core.ScanSettings) error { s.Patch.Enabled, s.Patch.EveryHours = true, 24; return nil },
			func(s *core.ScanSettings) error {
				s.Database.Host, s.Database.User, s.Database.Name, s.Database.Password = "db.example.net", "shop", "shop", "s3cret"
				return nil
			},
			func(s *core.ScanSettings) error { s.Files.AutoClean = true; return nil },
			func(s *core.ScanSettings) error { s.Database.EveryHours = 48; return nil },
			func(s *core.ScanSettings) error { s.Patch.EveryHours = 24; return nil },
		}
		var wg sync.WaitGroup
		errs := make(chan error, len(edits))
		for _, e := range edits {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := f.svc.EditWebsiteScanSettings(ctx, a, w.Domain, e)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		st, err := f.svc.WebsiteScanSettings(ctx, a, w.Domain)
		if err != nil {
			t.Fatal(err)
		}
		if st.Files.EveryHours != 6 || !st.Files.AutoClean || !st.Patch.Enabled || st.Patch.EveryHours != 24 || st.Database.Host != "db.example.net" ||
			!st.Database.PasswordSet || st.Database.EveryHours != 48 || st.Files.Source.Path != "/var/www/shop" {
			t.Fatalf("after concurrent edits: %+v", st)
		}
		// A failing edit, and an invalid result, leave the settings as
		// they were.
		if _, err := f.svc.EditWebsiteScanSettings(ctx, a, w.Domain, func(s *core.ScanSettings) error {
			s.Files.EveryHours = 1
			return core.Errorf(core.EINVALID, "no")
		}); core.ErrorCode(err) != core.EINVALID {
			t.Fatalf("a failing edit: %v", err)
		}
		if _, err := f.svc.EditWebsiteScanSettings(ctx, a, w.Domain, func(s *core.ScanSettings) error { s.Files.EveryHours = 9999; return nil }); core.ErrorCode(err) != core.EINVALID {
			t.Fatalf("an invalid edit: %v", err)
		}
		if again, _ := f.svc.WebsiteScanSettings(ctx, a, w.Domain); again.Files.EveryHours != 6 || !again.Database.PasswordSet {
			t.Fatalf("after failed edits: %+v", again)
		}
		// Not the customer's, nor another partner's.
		b := f.partner(t, "b", 0)
		if _, err := f.svc.EditWebsiteScanSettings(ctx, b, w.Domain, func(*core.ScanSettings) error { return nil }); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("another partner: %v", err)
		}
	})
}
