package core_test

import (
	"context"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestAttack2CleanedIsAudited: when a job's auto_clean changes a
// customer's file (MarkCleaned), the partner's audit log says so, with the
// file, the signature and where the original is kept. Before, Palisade
// rewrote customers' files without an audit entry.
func TestAttack2CleanedIsAudited(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f, a, w := scanFixture(t, db)
		var err error
		if _, err := f.svc.SetWebsiteScanSettings(ctx, a, w.Domain, core.ScanSettings{Files: core.FileScanSettings{Enabled: true, AutoClean: true,
			Source: core.FileSource{Kind: "local", Path: "/var/www/shop"}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.RequestScan(ctx, a, w.Domain, core.ScanFiles); err != nil {
			t.Fatal(err)
		}
		j, ok, err := f.svc.ClaimScanJob(ctx, "node", 60e9)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		found := []core.Finding{{Location: "index.php", Signature: "Palisade.PHP.Injected.Prepend", Class: "injection", Severity: "high", SHA256: "aa"}}
		if _, _, err := f.svc.RecordFindings(ctx, j, found, true); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.MarkCleaned(ctx, j, found[0].ID, "q-123"); err != nil {
			t.Fatal(err)
		}
		entries, err := f.svc.Audit(ctx, a, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Action == "finding_cleaned" && e.ObjectID == w.Domain && strings.Contains(e.OldState, "index.php") && strings.Contains(e.NewState, "q-123") {
				return
			}
		}
		t.Fatalf("no audit entry for a file Palisade cleaned: %+v", entries)
	})
}
