package store_test

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

func TestTimesRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		at := time.Date(2026, 2, 28, 23, 59, 59, 123456000, time.UTC)
		var got core.Plan
		err := db.Update(ctx, func(tx core.Tx) error {
			p := core.Plan{Name: "t", MonthlyQuota: 1, Price: 1, Rank: 1, CreatedAt: at}
			if err := tx.InsertPlan(ctx, &p); err != nil {
				return err
			}
			var err error
			got, err = tx.PlanByName(ctx, "t")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if !got.CreatedAt.Equal(at) || got.CreatedAt.Location() != time.UTC {
			t.Fatalf("time %v; want %v", got.CreatedAt, at)
		}
		err = db.View(ctx, func(tx core.Tx) error {
			_, err := tx.PlanByName(ctx, "missing")
			return err
		})
		if core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("missing plan: %v", err)
		}
		err = db.Update(ctx, func(tx core.Tx) error {
			return tx.InsertPlan(ctx, &core.Plan{Name: "t", CreatedAt: at})
		})
		if core.ErrorCode(err) != core.ECONFLICT {
			t.Fatalf("duplicate plan: %v", err)
		}
	})
}

func TestReopenAndMigrateTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		db, err := store.OpenSQLite(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		v, err := db.SchemaVersion(ctx)
		if want := newestMigration(t); err != nil || v != want {
			t.Fatalf("schema version %d %v; want %d", v, err, want)
		}
		db.Close()
	}
}

// newestMigration is the highest version among the SQLite migration files,
// so that adding one does not need this test changed.
func newestMigration(t *testing.T) int64 {
	t.Helper()
	files, err := filepath.Glob("migrations/sqlite/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: %v", err)
	}
	var newest int64
	for _, f := range files {
		n, err := strconv.ParseInt(strings.SplitN(filepath.Base(f), "_", 2)[0], 10, 64)
		if err != nil {
			t.Fatalf("migration file %s: %v", f, err)
		}
		newest = max(newest, n)
	}
	return newest
}

func TestReadOnlyView(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	err := db.View(ctx, func(tx core.Tx) error {
		return tx.InsertPlan(ctx, &core.Plan{Name: "x", CreatedAt: testclock.Now(t)})
	})
	if err == nil {
		t.Fatal("a write inside View succeeded")
	}
}

// TestEventPartitionMigration: PostgreSQL's migration 12 moves existing
// events into daily partitions with their ids, and new ids follow on.
func TestEventPartitionMigration(t *testing.T) {
	db := storetest.Postgres(t)
	ctx := context.Background()
	if err := db.MigrateDownTo(ctx, 11); err != nil {
		t.Fatal(err)
	}
	ins := "INSERT INTO events (partner_id, website_id, at, ip, method, host, path, user_agent, action, category, source, reason) VALUES (1, 1, $1, '192.0.2.1', 'GET', 'a.example', '/', 'x', 'deny', 'humans', 'rule', 'r')"
	// The migration creates partitions up to two days past PostgreSQL's
	// now(), so the events are placed by the database's clock, not the
	// test clock (which PALISADE_TEST_NOW may have moved).
	epoch, err := db.QueryStrings(ctx, "SELECT floor(extract(epoch FROM now()))::bigint::text")
	if err != nil || len(epoch) != 1 {
		t.Fatal(epoch, err)
	}
	sec, _ := strconv.ParseInt(epoch[0], 10, 64)
	dbNow := time.Unix(sec, 0).UTC()
	for _, at := range []time.Time{dbNow.AddDate(0, 0, -3), dbNow, dbNow.AddDate(0, 0, 9)} {
		if err := db.Exec(ctx, ins, at); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := db.QueryStrings(ctx, "SELECT id::text FROM events ORDER BY id")
	if err := db.MigrateUpTo(ctx, 12); err != nil {
		t.Fatal(err)
	}
	after, err := db.QueryStrings(ctx, "SELECT id::text FROM events ORDER BY id")
	if err != nil || strings.Join(after, ",") != strings.Join(before, ",") || len(after) != 3 {
		t.Fatalf("ids before %v, after %v (%v)", before, after, err)
	}
	// The event nine days ahead waits in the default partition; the others
	// are in their days.
	def, _ := db.QueryStrings(ctx, "SELECT count(*)::text FROM events_default")
	if len(def) != 1 || def[0] != "1" {
		t.Fatalf("default partition holds %v", def)
	}
	if err := db.Exec(ctx, ins, dbNow); err != nil {
		t.Fatal(err)
	}
	last, _ := db.QueryStrings(ctx, "SELECT (max(id) > "+after[2]+")::text FROM events")
	if len(last) != 1 || last[0] != "true" {
		t.Fatalf("new id does not follow %s: %v", after[2], last)
	}
}
