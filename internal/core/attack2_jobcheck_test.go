package core_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/secret"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestAttack2JobSettingsCheckedWhenRun: the settings a job runs with are
// checked when it runs, not only when they were saved: a job of a website
// paused or deleted since it was queued is not run, and a local path the
// operator no longer allows (its --scan-root removed) is not opened.
func TestAttack2JobSettingsCheckedWhenRun(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, func(c *core.Config) {
			c.ScanRoots = []string{"a=/home/a"}
			c.BackupRoots = []string{"a=/srv/backups/a"}
		})
		a := f.partner(t, "a", 0)
		site := func(d, root string) core.Website {
			w, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: d}, core.Idem{})
			if err != nil {
				t.Fatal(err)
			}
			st := core.ScanSettings{Files: core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "local", Path: root}},
				Backup: core.BackupScanSettings{Enabled: true, Repository: "/srv/backups/a/repo", RepositoryPassword: "pw"}}
			if _, err := f.svc.SetWebsiteScanSettings(ctx, a, w.Domain, st); err != nil {
				t.Fatal(err)
			}
			return w
		}
		claim := func(w core.Website, kind core.ScanKind) core.ScanJob {
			t.Helper()
			if _, err := f.svc.RequestScan(ctx, a, w.Domain, kind); err != nil {
				t.Fatal(err)
			}
			j, ok, err := f.svc.ClaimScanJob(ctx, "node", 60e9)
			if err != nil || !ok || j.WebsiteID != w.ID {
				t.Fatalf("claim: %+v %v %v", j, ok, err)
			}
			return j
		}
		paused, deleted, live := site("paused.example.com", "/home/a/p"), site("deleted.example.com", "/home/a/d"), site("live.example.com", "/home/a/l")

		jp := claim(paused, core.ScanFiles)
		st := core.StatusPaused
		if _, err := f.svc.UpdateWebsite(ctx, a, paused.Domain, core.WebsiteUpdate{Status: &st}, core.Match{}); err != nil {
			t.Fatal(err)
		}
		_, err := f.svc.ScanJobSettings(ctx, jp)
		wantErrCode(t, err, core.EPRECONDITION, "a job of a website paused since")

		jd := claim(deleted, core.ScanFiles)
		if _, err := f.svc.DeleteWebsite(ctx, a, deleted.Domain, core.Match{}); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.ScanJobSettings(ctx, jd)
		wantErrCode(t, err, core.EPRECONDITION, "a job of a website deleted since")

		jl := claim(live, core.ScanBackup)
		got, err := f.svc.ScanJobSettings(ctx, jl)
		if err != nil || got.Backup.RepositoryPassword != "pw" || got.Files.Source.Path != "/home/a/l" {
			t.Fatalf("a live website's job: %+v, %v", got, err)
		}

		// The operator takes partner a's roots away: the same store, a
		// service started with other flags.
		box, err := secret.NewBox(make([]byte, secret.KeySize), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, cfg := range []core.Config{
			{ScanRoots: []string{"b=/home/a"}, BackupRoots: []string{"a=/srv/backups/a"}},
			{ScanRoots: []string{"a=/home/a"}, BackupRoots: []string{"/srv/other"}},
		} {
			cfg.PublicURL = "https://palisade.test"
			svc2 := core.NewService(db, box, cfg)
			_, err = svc2.ScanJobSettings(ctx, jl)
			wantErrCode(t, err, core.EPRECONDITION, fmt.Sprintf("a path no longer allowed (%v)", cfg))
		}
	})
}
