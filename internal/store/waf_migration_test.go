package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestWAFEventsMigration: migration 19 keeps what was there: plans made
// before it include the website firewall, events recorded before it read
// back without a finding, and it goes down and up again cleanly.
func TestWAFEventsMigration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.MigrateDownTo(ctx, 18); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			"INSERT INTO plans (name, monthly_quota, price_cents, rank, created_at) VALUES ('old', 1000, 100, 1, '2026-11-01 00:00:00')",
			"INSERT INTO partners (name, created_at) VALUES ('p', '2026-11-01 00:00:00')",
			"INSERT INTO events (partner_id, website_id, at, ip, method, host, path, user_agent, action, category, source, reason) " +
				"VALUES ((SELECT id FROM partners WHERE name = 'p'), 7, '2026-11-01T00:00:00Z', '192.0.2.1', 'GET', 'a.example', '/', 'x', 'deny', 'humans', 'category', 'humans')",
		} {
			if err := db.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		// Up through 19 and on to the latest schema, which the queries read.
		if err := db.MigrateUpTo(ctx, 1<<62); err != nil {
			t.Fatal(err)
		}
		var plan core.Plan
		var evs []core.Event
		err := db.View(ctx, func(tx core.Tx) error {
			var err error
			if plan, err = tx.PlanByName(ctx, "old"); err != nil {
				return err
			}
			p, err := tx.PartnerByName(ctx, "p")
			if err != nil {
				return err
			}
			evs, err = tx.Events(ctx, p.ID, 7, core.EventFilter{Limit: 10})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if !plan.WAF {
			t.Fatalf("a plan made before migration 19 comes without the firewall: %+v", plan)
		}
		if len(evs) != 1 || evs[0].WAF != nil || !evs[0].At.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("events after migration 19: %+v", evs)
		}
		if err := db.MigrateDownTo(ctx, 18); err != nil {
			t.Fatalf("down from 19: %v", err)
		}
		if err := db.MigrateUpTo(ctx, 19); err != nil {
			t.Fatalf("up to 19 again: %v", err)
		}
	})
}
