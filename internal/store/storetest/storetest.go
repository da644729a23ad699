// Package storetest opens the stores a test suite runs against: SQLite in a
// temporary directory always, and PostgreSQL when PALISADE_TEST_POSTGRES_URL
// is set (required when CI=true). Each PostgreSQL store gets a schema of its
// own that is dropped when the test ends.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/palisadehq/palisade/internal/store"
)

// PostgresURL returns the test PostgreSQL URL. Without one it skips the test,
// or fails it under CI=true, where PostgreSQL is required.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	return requiredURL(tb, "PALISADE_TEST_POSTGRES_URL", "PostgreSQL", "postgres://postgres@127.0.0.1:5432/test")
}

// requiredURL reads a test service's URL from env; without it the test is
// skipped with how to set it, or failed under CI=true.
func requiredURL(tb testing.TB, env, service, example string) string {
	tb.Helper()
	u := os.Getenv(env)
	if u == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is not set; CI must test %s (see .ci/run)", env, service)
		}
		tb.Skipf("%s tests skipped: set %s=%s to run them", service, env, example)
	}
	return u
}

// SQLite opens a fresh SQLite store in a temporary directory.
func SQLite(tb testing.TB) *store.DB {
	tb.Helper()
	db, err := store.OpenSQLite(context.Background(), filepath.Join(tb.TempDir(), "palisade.db"))
	if err != nil {
		tb.Fatalf("open SQLite: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// PostgresSchemaURL creates an empty schema and returns a URL whose
// connections use it; the schema is dropped when the test ends.
func PostgresSchemaURL(tb testing.TB) string {
	tb.Helper()
	base := PostgresURL(tb)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "palisade_test_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		tb.Fatalf("create schema on %s: %v", base, err)
	}
	tb.Cleanup(func() {
		_, _ = admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Postgres opens a PostgreSQL store in a fresh schema.
func Postgres(tb testing.TB) *store.DB {
	tb.Helper()
	db, err := store.OpenPostgres(context.Background(), PostgresSchemaURL(tb))
	if err != nil {
		tb.Fatalf("open PostgreSQL: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// Each runs fn as a subtest against every store.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// Query runs a read-only query of one text column against db, for tests
// that look at the schema itself.
func Query(tb testing.TB, db *store.DB, q string, args ...any) ([]string, error) {
	tb.Helper()
	return db.QueryStrings(context.Background(), q, args...)
}

// RedisURL returns the test Redis URL (PALISADE_TEST_REDIS_URL). Without
// one it skips the test, or fails it under CI=true, where Redis is
// required.
func RedisURL(tb testing.TB) string {
	tb.Helper()
	return requiredURL(tb, "PALISADE_TEST_REDIS_URL", "Redis", "redis://127.0.0.1:6379/0")
}

// RedisClient is a client of the test Redis (RedisURL: skipped without
// one, failed under CI), closed when the test ends.
func RedisClient(tb testing.TB) *redis.Client {
	tb.Helper()
	opt, err := redis.ParseURL(RedisURL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	c := redis.NewClient(opt)
	tb.Cleanup(func() { c.Close() })
	return c
}

// RedisPrefix is a key prefix of its own for one test, so tests sharing the
// test Redis never see each other's keys.
func RedisPrefix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "palisade-test:" + hex.EncodeToString(b) + ":"
}
