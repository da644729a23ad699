package storetest

import (
	"context"
	"database/sql"
	"testing"

	"github.com/palisadehq/palisade/internal/store"
)

// TestDatabaseCopies: each PostgreSQL store is a database of its own with
// the newest schema (the version a fresh schema migrates to), nothing one
// test writes shows in another's, and the database is gone when its test
// ends.
func TestDatabaseCopies(t *testing.T) {
	ctx := context.Background()
	var names []string
	var versions []int64
	for _, open := range []func(testing.TB) string{PostgresDatabaseURL, PostgresDatabaseURL, PostgresSchemaURL} {
		t.Run("open", func(t *testing.T) {
			db, err := store.OpenPostgres(ctx, open(t))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			v, err := db.SchemaVersion(ctx)
			if err != nil {
				t.Fatal(err)
			}
			versions = append(versions, v)
			got, err := Query(t, db, "SELECT current_database()")
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, got[0])
			// What one test writes, no other sees.
			n, err := Query(t, db, "SELECT COUNT(*)::text FROM goose_db_version WHERE version_id = -7")
			if err != nil || n[0] != "0" {
				t.Fatalf("another test's row: %v %v", n, err)
			}
			if _, err := Query(t, db, "INSERT INTO goose_db_version (version_id, is_applied) VALUES (-7, false) RETURNING 'x'"); err != nil {
				t.Fatal(err)
			}
		})
	}
	if len(versions) != 3 || versions[0] == 0 || versions[0] != versions[1] || versions[1] != versions[2] {
		t.Fatalf("schema versions %v: the copies are not at the newest migration", versions)
	}
	if names[0] == names[1] {
		t.Fatalf("two tests share database %s", names[0])
	}
	admin, err := sql.Open("pgx", PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, n := range names[:2] {
		var left bool
		if err := admin.QueryRow("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", n).Scan(&left); err != nil || left {
			t.Fatalf("database %s left after its test: %v %v", n, left, err)
		}
	}
}
