// Package storetest opens the stores a test suite runs against: SQLite in a
// temporary directory always, and PostgreSQL when PALISADE_TEST_POSTGRES_URL
// is set (required when CI=true). Each PostgreSQL store gets a database of
// its own, a copy of a migrated template, dropped when the test ends.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

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
	schema := throwaway(tb, base, "CREATE SCHEMA %s", "DROP SCHEMA %s CASCADE")
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// PostgresDatabaseURL creates a database holding the newest schema and
// returns its URL; the database is dropped when the test ends. It is a
// copy of a template database migrated once (CREATE DATABASE ... TEMPLATE:
// tens of milliseconds, where migrating a fresh schema takes most of a
// second). Where the template cannot be made (a role without CREATEDB), it
// falls back to a fresh schema, which the store migrates when opened.
func PostgresDatabaseURL(tb testing.TB) string {
	tb.Helper()
	base := PostgresURL(tb)
	tpl, err := template(base)
	if err != nil {
		tb.Logf("no template database (%v): a fresh schema instead", err)
		return PostgresSchemaURL(tb)
	}
	name := throwaway(tb, base, "CREATE DATABASE %s TEMPLATE "+tpl, "DROP DATABASE IF EXISTS %s WITH (FORCE)")
	return withDatabase(base, name)
}

// throwaway creates an object named palisade_test_<random> on base with
// create (a format with one %s, the name) and runs drop (the same) when the
// test ends; it returns the name. A create PostgreSQL refuses because a
// database it names is in use is tried again (whileInUse).
func throwaway(tb testing.TB, base, create, drop string) string {
	tb.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "palisade_test_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatal(err)
	}
	stmt := fmt.Sprintf(create, name)
	if err := whileInUse(func() error {
		_, err := admin.Exec(stmt)
		return err
	}); err != nil {
		admin.Close()
		tb.Fatalf("%s on %s: %v", stmt, base, err)
	}
	tb.Cleanup(func() {
		_, _ = admin.Exec(fmt.Sprintf(drop, name))
		admin.Close()
	})
	return name
}

// tpl is the template database of this test binary, made (or found) once.
var tpl struct {
	once sync.Once
	name string
	err  error
}

func template(base string) (string, error) {
	tpl.once.Do(func() { tpl.name, tpl.err = makeTemplate(base) })
	return tpl.name, tpl.err
}

// templateLock is the advisory lock (on the base database) under which one
// test binary at a time makes a template: go test runs packages at once.
const templateLock = 0x70616c74706c // "paltpl"

// makeTemplate returns the template database of the embedded migrations,
// named by their digest, making it when it does not exist: migrated under
// a temporary name, then renamed, so that a template by that name is
// always complete. Templates of other migrations are dropped when nobody
// uses them.
func makeTemplate(base string) (string, error) {
	if _, err := url.Parse(base); err != nil {
		return "", err
	}
	digest, err := store.MigrationsDigest("postgres")
	if err != nil {
		return "", err
	}
	name := "palisade_tpl_" + digest[:16]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", err
	}
	defer admin.Close()
	conn, err := admin.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", templateLock); err != nil {
		return "", err
	}
	defer conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", templateLock)
	var exists bool
	if err := conn.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_new"
	if _, err := conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+building); err != nil {
		return "", err
	}
	db, err := store.OpenPostgres(ctx, withDatabase(base, building))
	if err != nil {
		return "", fmt.Errorf("migrate %s: %w", building, err)
	}
	if err := db.Close(); err != nil {
		return "", err
	}
	if err := whileInUse(func() error {
		_, err := conn.ExecContext(ctx, "ALTER DATABASE "+building+" RENAME TO "+name)
		return err
	}); err != nil {
		return "", err
	}
	rows, err := conn.QueryContext(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'palisade\_tpl\_%' AND datname <> $1`, name)
	if err != nil {
		return name, nil
	}
	var old []string
	for rows.Next() {
		var n string
		if rows.Scan(&n) == nil {
			old = append(old, n)
		}
	}
	rows.Close()
	for _, n := range old {
		_, _ = conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pgIdent(n)) // in use: left for next time
	}
	return name, nil
}

// whileInUse runs fn again, for up to 10 s, while PostgreSQL says a
// database it names is in use (a closed pool's sessions end a moment
// after Close returns; a copy is refused while anyone uses the template).
func whileInUse(fn func() error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := fn()
		var pe *pgconn.PgError
		if err == nil || !errors.As(err, &pe) || pe.Code != "55006" || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func pgIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// withDatabase returns base with its database replaced by name; base
// parsed already (makeTemplate).
func withDatabase(base, name string) string {
	u, _ := url.Parse(base)
	u.Path = "/" + name
	return u.String()
}

// Postgres opens a PostgreSQL store in a fresh database (PostgresDatabaseURL).
func Postgres(tb testing.TB) *store.DB {
	tb.Helper()
	db, err := store.OpenPostgres(context.Background(), PostgresDatabaseURL(tb))
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
