package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
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
		if err != nil || v != 11 {
			t.Fatalf("schema version %d %v", v, err)
		}
		db.Close()
	}
}

func TestReadOnlyView(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	err := db.View(ctx, func(tx core.Tx) error {
		return tx.InsertPlan(ctx, &core.Plan{Name: "x", CreatedAt: time.Now()})
	})
	if err == nil {
		t.Fatal("a write inside View succeeded")
	}
}
