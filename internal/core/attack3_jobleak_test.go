package core_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// The customer reads its scan settings without hosts, paths and the
// backup repository (the hosting provider's machines are not its to know),
// but the node writes them into job errors and summaries: "connecting to
// 10.0.0.7:3306", the snapshot's paths, restic's "stat
// /srv/backups/shop/config". The customer's view of jobs and backups hides
// them too; the partner's keeps them.
func TestAttack3CustomerJobsHideWhereThingsAre(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		x := newActionFixture(t, db)
		svc := x.svc
		if _, err := svc.EditWebsiteScanSettings(ctx, x.a, x.shop.Domain, func(st *core.ScanSettings) error {
			st.Database.Host, st.Database.Enabled = "db7.internal.example", true
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.RequestScan(ctx, x.a, x.shop.Domain, core.ScanDatabase); err != nil {
			t.Fatal(err)
		}
		j, ok, err := svc.ClaimScanJob(ctx, "node-1", time.Minute)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		if err := svc.FinishScanJob(ctx, j, nil, "dbscan: connecting to db7.internal.example:3306 as shop: dial tcp 10.0.0.7:3306: connection refused"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.RequestScan(ctx, x.a, x.shop.Domain, core.ScanBackup); err != nil {
			t.Fatal(err)
		}
		j, ok, err = svc.ClaimScanJob(ctx, "node-1", time.Minute)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		if err := svc.FinishScanJob(ctx, j, backupSummary(hexID('a'), "", time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)),
			"forget: Fatal: unable to open config file: stat /srv/backups/shop/config: permission denied"); err != nil {
			t.Fatal(err)
		}
		hidden := []string{"db7.internal.example", "10.0.0.7", "/var/www/shop", "/srv/backups/shop"}
		jobs, err := svc.ScanJobs(ctx, x.jane, x.shop.Domain, "", 0)
		if err != nil || len(jobs) < 2 {
			t.Fatalf("jobs: %+v %v", jobs, err)
		}
		for _, j := range jobs {
			for _, h := range hidden {
				if strings.Contains(j.Error, h) || strings.Contains(j.Summary, h) {
					t.Errorf("the customer's job %d (%s) names %s: error %q summary %s", j.ID, j.Kind, h, j.Error, j.Summary)
				}
			}
		}
		if !strings.Contains(jobs[1].Error, "connection refused") || !strings.Contains(jobs[0].Summary, hexID('a')) {
			t.Errorf("the customer's jobs lost what is its to know: %+v", jobs[:2])
		}
		bs, err := svc.Backups(ctx, x.jane, x.shop.Domain, 0)
		if err != nil || len(bs) != 1 {
			t.Fatalf("backups: %+v %v", bs, err)
		}
		if strings.Contains(bs[0].Incomplete, "/srv/backups/shop") || bs[0].Incomplete == "" {
			t.Errorf("the customer's backup says %q", bs[0].Incomplete)
		}
		// The partner sees everything.
		pj, err := svc.ScanJobs(ctx, x.a, x.shop.Domain, "", 0)
		if err != nil || !strings.Contains(pj[1].Error, "db7.internal.example:3306") || !strings.Contains(pj[0].Summary, "/var/www/shop") {
			t.Fatalf("partner's jobs: %+v %v", pj, err)
		}
		pb, err := svc.Backups(ctx, x.a, x.shop.Domain, 0)
		if err != nil || len(pb) != 1 || !strings.Contains(pb[0].Incomplete, "/srv/backups/shop/config") {
			t.Fatalf("partner's backups: %+v %v", pb, err)
		}
	})
}
