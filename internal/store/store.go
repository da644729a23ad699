// Package store persists Palisade's domain in SQLite (the embedded default) or
// PostgreSQL. Both run the same SQL through database/sql; a small dialect
// covers what differs (row locks, time encoding, error codes), and each has its
// own embedded goose migrations with the same versions and meaning.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/palisadehq/palisade/internal/core"
)

// DB is a core.Store over database/sql.
type DB struct {
	dialect dialect
	write   *sql.DB // SQLite: exactly one connection, so writers queue in-process
	read    *sql.DB // SQLite: a pool of read-only connections; PostgreSQL: same as write
	name    string
	url     string   // PostgreSQL: the URL, for the LISTEN connection
	path    string   // SQLite: the database file
	lock    *os.File // SQLite: shared lock held while open (see RestoreSQLite)
}

var _ core.Store = (*DB)(nil)

type dialect interface {
	name() string
	// lock is appended to a SELECT that must hold its rows until commit.
	lock() string
	// arg converts a Go value into what the driver stores.
	arg(v any) any
	// uniqueViolation reports whether err broke a unique constraint, and which.
	uniqueViolation(err error) (constraint string, ok bool)
	// full reports whether err says the disk (or database) is full.
	full(err error) bool
}

// Open opens the store named by databaseURL: "postgres://..." or
// "postgresql://..." for PostgreSQL, anything else ("", "sqlite:PATH" or a
// path) for SQLite at that path (default dataDir/palisade.db).
func Open(ctx context.Context, databaseURL, dataDir string) (*DB, error) {
	if path := SQLitePath(databaseURL, dataDir); path != "" {
		return OpenSQLite(ctx, path)
	}
	return OpenPostgres(ctx, databaseURL)
}

// SQLitePath is the SQLite file databaseURL names (see Open), or "" for a
// PostgreSQL URL.
func SQLitePath(databaseURL, dataDir string) string {
	switch {
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		return ""
	case databaseURL == "":
		return dataDir + "/palisade.db"
	}
	return strings.TrimPrefix(strings.TrimPrefix(databaseURL, "sqlite://"), "sqlite:")
}

// Name says which engine this is: "sqlite" or "postgres".
func (db *DB) Name() string { return db.name }

// Ping checks the database answers.
func (db *DB) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var one int
	return db.read.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Close closes every connection.
func (db *DB) Close() error {
	err := db.write.Close()
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	if db.lock != nil {
		db.lock.Close()
	}
	return err
}

// Update runs fn in a read-write transaction.
func (db *DB) Update(ctx context.Context, fn func(core.Tx) error) error {
	return db.run(ctx, db.write, false, fn)
}

// View runs fn in a read-only transaction.
func (db *DB) View(ctx context.Context, fn func(core.Tx) error) error {
	return db.run(ctx, db.read, true, fn)
}

func (db *DB) run(ctx context.Context, pool *sql.DB, readOnly bool, fn func(core.Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: readOnly}
	if db.name == "sqlite" {
		opts = nil // read-only is enforced by the reader connections' mode
	}
	sqlTx, err := pool.BeginTx(ctx, opts)
	if err != nil {
		return db.unavailable(fmt.Errorf("begin: %w", err))
	}
	t := &tx{tx: sqlTx, d: db.dialect}
	if err := fn(t); err != nil {
		_ = sqlTx.Rollback()
		return db.unavailable(err)
	}
	if err := sqlTx.Commit(); err != nil {
		return db.commitFailed(err)
	}
	return nil
}

// commitFailed classifies an error from COMMIT. When the server answered
// with an error of its own, the transaction was rolled back: nothing
// changed. When the connection broke while committing (reset, EOF, a
// timeout), the server may have committed without our hearing it: the
// outcome is unknown, and a blind retry of a charge could charge twice, so
// the caller is told to check before retrying (core.EUNKNOWN). SQLite
// commits in-process: its commit errors are always definite.
func (db *DB) commitFailed(err error) error {
	err = fmt.Errorf("commit: %w", err)
	var pgErr *pgconn.PgError
	if db.name == "postgres" && !errors.As(err, &pgErr) && !db.dialect.full(err) {
		return &core.Error{Code: core.EUNKNOWN, Cause: errors.Join(core.ErrOutcomeUnknown, err),
			Message: "the connection to Palisade's database broke while the change was being saved, so it may or may not have been applied; read the resource to check before retrying"}
	}
	return db.unavailable(err)
}

// unavailable turns errors that mean "the database cannot be reached" or
// "the disk is full" into core EUNAVAILABLE errors, which adapters answer
// with 503 and a message saying to retry; nothing was changed. Other
// errors pass through.
func (db *DB) unavailable(err error) error {
	var ce *core.Error
	if errors.As(err, &ce) || errors.Is(err, context.Canceled) {
		return err
	}
	if db.dialect.full(err) {
		return &core.Error{Code: core.EUNAVAILABLE, Message: "Palisade's storage is full, so nothing was changed; the operator has to free disk space. Retry later", Cause: err}
	}
	if unreachable(err) {
		return &core.Error{Code: core.EUNAVAILABLE, Message: "Palisade's database does not answer, so nothing was changed; retry in a few seconds", Cause: err}
	}
	return err
}

// unreachable reports whether err means the connection to the database
// failed or was lost.
func unreachable(err error) bool {
	var ne net.Error
	var ce *pgconn.ConnectError
	switch {
	case errors.As(err, &ce), errors.As(err, &ne), errors.Is(err, driver.ErrBadConn),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "failed to connect") || strings.Contains(msg, "connection reset")
}

// tx implements core.Tx.
type tx struct {
	tx *sql.Tx
	d  dialect
}

func (t *tx) args(in []any) []any {
	out := make([]any, len(in))
	for i, v := range in {
		out[i] = t.d.arg(v)
	}
	return out
}

func (t *tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, q, t.args(args)...)
}

func (t *tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, q, t.args(args)...)
}

func (t *tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, q, t.args(args)...)
}

// insert runs an INSERT ... RETURNING id and returns the id.
func (t *tx) insert(ctx context.Context, q string, args ...any) (int64, error) {
	var id int64
	err := t.queryRow(ctx, q+" RETURNING id", args...).Scan(&id)
	return id, err
}

// notFound turns sql.ErrNoRows into a core ENOTFOUND error.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return core.Errorf(core.ENOTFOUND, "%s not found", what)
	}
	return err
}

// scanTime converts what either driver returns for a timestamp column:
// PostgreSQL gives a time.Time, SQLite a time.Time or the text we wrote.
func scanTime(v any) (*time.Time, error) {
	var str string
	switch x := v.(type) {
	case nil:
		return nil, nil
	case time.Time:
		u := x.UTC()
		return &u, nil
	case string:
		str = x
	case []byte:
		str = string(x)
	default:
		return nil, fmt.Errorf("cannot scan %T into a time", v)
	}
	for _, layout := range []string{sqliteTime, time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, str); err == nil {
			t = t.UTC()
			return &t, nil
		}
	}
	return nil, fmt.Errorf("cannot parse time %q", str)
}

// timeCol scans a NOT NULL timestamp.
type timeCol struct{ dst *time.Time }

func (c timeCol) Scan(v any) error {
	t, err := scanTime(v)
	if err != nil {
		return err
	}
	if t == nil {
		return errors.New("unexpected NULL time")
	}
	*c.dst = *t
	return nil
}

// nullTimeCol scans a nullable timestamp into a *time.Time.
type nullTimeCol struct{ dst **time.Time }

func (c nullTimeCol) Scan(v any) error {
	t, err := scanTime(v)
	if err != nil {
		return err
	}
	*c.dst = t
	return nil
}

// Exec runs one statement outside the domain's queries; for operators' repair
// scripts and tests.
func (db *DB) Exec(ctx context.Context, query string, args ...any) error {
	_, err := db.write.ExecContext(ctx, query, args...)
	return err
}
