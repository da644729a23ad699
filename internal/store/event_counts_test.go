package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

// TestEventCounts: an event stands for the identical requests added to it
// (AddEventCounts, by website, reference ID and time): Events reads its
// count and last time, and what ranks or previews requests sums counts.
// Repeats of an event that is not there (another website's, a wrong time)
// change nothing.
func TestEventCounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		at := testclock.Now(t).UTC().Truncate(time.Microsecond).Add(-time.Hour)
		ev := func(ref, ip, reason string, d time.Duration) core.Event {
			return core.Event{PartnerID: 1, WebsiteID: 7, At: at.Add(d), IP: ip, Method: "GET", Host: "a.example", Path: "/p", UserAgent: "curl/8",
				Action: "deny", Category: "custom_rules", Source: "rule", Reason: reason, Ref: ref, Count: 1}
		}
		err := db.Update(ctx, func(tx core.Tx) error {
			if err := tx.PrepareEvents(ctx, at); err != nil {
				return err
			}
			if err := tx.InsertEvents(ctx, []core.Event{ev("AAAAAAAAAA", "192.0.2.1", "r1", 0), ev("BBBBBBBBBB", "192.0.2.2", "r1", time.Second), ev("", "192.0.2.3", "r2", 2*time.Second)}); err != nil {
				return err
			}
			// Monitor mode: no page, so no reference ID to show, but the
			// recorder's handle finds it to add repeats.
			mon := ev("MMMMMMMMMM", "192.0.2.4", "r3", 3*time.Second)
			mon.Monitored, mon.WebsiteID = true, 9
			if err := tx.InsertEvents(ctx, []core.Event{mon}); err != nil {
				return err
			}
			if err := tx.AddEventCounts(ctx, []core.EventCount{{PartnerID: 1, WebsiteID: 9, Ref: "MMMMMMMMMM", At: mon.At, Add: 1, LastAt: mon.At}}); err != nil {
				return err
			}
			if m, err := tx.Events(ctx, 1, 9, core.EventFilter{}); err != nil || len(m) != 1 || m[0].Ref != "" || m[0].Count != 2 {
				return fmt.Errorf("monitored event: %+v, %v", m, err)
			}
			return tx.AddEventCounts(ctx, []core.EventCount{
				{PartnerID: 1, WebsiteID: 7, Ref: "AAAAAAAAAA", At: at, Add: 3, LastAt: at.Add(9 * time.Second)},
				{PartnerID: 1, WebsiteID: 7, Ref: "AAAAAAAAAA", At: at, Add: 1, LastAt: at.Add(5 * time.Second)},   // last_at never moves back
				{PartnerID: 1, WebsiteID: 8, Ref: "BBBBBBBBBB", At: at.Add(time.Second), Add: 50, LastAt: at},      // another website's
				{PartnerID: 1, WebsiteID: 7, Ref: "BBBBBBBBBB", At: at.Add(time.Millisecond), Add: 50, LastAt: at}, // not its time
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		var evs, byRef []core.Event
		var top []core.TopRow
		var hits []core.RuleHit
		var refused []core.Event
		err = db.View(ctx, func(tx core.Tx) (err error) {
			if evs, err = tx.Events(ctx, 1, 7, core.EventFilter{Limit: 10}); err != nil {
				return err
			}
			if byRef, err = tx.Events(ctx, 1, 7, core.EventFilter{Ref: "AAAAAAAAAA", Limit: 10}); err != nil {
				return err
			}
			if top, err = tx.TopEvents(ctx, 1, 7, "ip", at.Add(-time.Minute), at.Add(time.Minute), 10); err != nil {
				return err
			}
			if hits, err = tx.RuleHits(ctx, 1, 7, at.Add(-time.Minute), at.Add(time.Minute)); err != nil {
				return err
			}
			refused, _, err = tx.LatestRefused(ctx, 1, 7, at.Add(-time.Minute), at.Add(time.Minute), 10, 100)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 3 {
			t.Fatalf("%d events", len(evs))
		}
		a, b := evs[2], evs[1]
		if a.Ref != "AAAAAAAAAA" || a.Count != 5 || !a.LastAt.Equal(at.Add(9*time.Second)) || !a.At.Equal(at) {
			t.Fatalf("aggregated event: count %d at %s last %s", a.Count, a.At, a.LastAt)
		}
		if b.Count != 1 || !b.LastAt.Equal(b.At) {
			t.Fatalf("single event: count %d at %s last %s", b.Count, b.At, b.LastAt)
		}
		if len(byRef) != 1 || byRef[0].Count != 5 {
			t.Fatalf("by ref: %+v", byRef)
		}
		if len(top) != 3 || top[0].Value != "192.0.2.1" || top[0].Count != 5 {
			t.Fatalf("top clients: %+v", top)
		}
		want := map[string]int64{"r1": 6, "r2": 1}
		for _, h := range hits {
			if want[h.Rule] != h.Count {
				t.Errorf("rule %s: %d hits, want %d", h.Rule, h.Count, want[h.Rule])
			}
		}
		var sum int64
		for _, e := range refused {
			sum += e.Requests()
		}
		if len(refused) != 3 || sum != 7 {
			t.Fatalf("latest refused: %d events for %d requests", len(refused), sum)
		}
	})
}

// TestEventCountsMigration: migration 22 reads events recorded before it
// as one request each (count 1, last time its own), and goes down and up
// again cleanly (PostgreSQL: on the partitioned table).
func TestEventCountsMigration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.MigrateDownTo(ctx, 21); err != nil {
			t.Fatal(err)
		}
		// The time as Palisade writes it (SQLite compares text).
		if err := db.Exec(ctx, "INSERT INTO events (partner_id, website_id, at, ip, method, host, path, user_agent, action, category, source, reason, ref) "+
			"VALUES (1, 7, '2026-11-01T00:00:00.000000Z', '192.0.2.1', 'GET', 'a.example', '/', 'x', 'deny', 'humans', 'category', 'humans', 'CCCCCCCCCC')"); err != nil {
			t.Fatal(err)
		}
		if err := db.MigrateUpTo(ctx, 1<<62); err != nil {
			t.Fatal(err)
		}
		read := func() []core.Event {
			var evs []core.Event
			if err := db.View(ctx, func(tx core.Tx) (err error) {
				evs, err = tx.Events(ctx, 1, 7, core.EventFilter{Limit: 10})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return evs
		}
		at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		if evs := read(); len(evs) != 1 || evs[0].Count != 1 || !evs[0].LastAt.Equal(at) {
			t.Fatalf("events after migration 22: %+v", evs)
		}
		if err := db.Update(ctx, func(tx core.Tx) error {
			return tx.AddEventCounts(ctx, []core.EventCount{{PartnerID: 1, WebsiteID: 7, Ref: "CCCCCCCCCC", At: at, Add: 2, LastAt: at.Add(time.Second)}})
		}); err != nil {
			t.Fatal(err)
		}
		if evs := read(); len(evs) != 1 || evs[0].Count != 3 || !evs[0].LastAt.Equal(at.Add(time.Second)) {
			t.Fatalf("an old event's repeats: %+v", evs)
		}
		if err := db.MigrateDownTo(ctx, 21); err != nil {
			t.Fatalf("down from 22: %v", err)
		}
		if err := db.MigrateUpTo(ctx, 22); err != nil {
			t.Fatalf("up to 22 again: %v", err)
		}
	})
}
