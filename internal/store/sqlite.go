package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteTime is how times are written to SQLite: fixed width, UTC, so text
// order is time order.
const sqliteTime = "2006-01-02T15:04:05.000000Z"

type sqliteDialect struct{}

func (sqliteDialect) name() string { return "sqlite" }
func (sqliteDialect) lock() string { return "" } // the single writer connection serialises writers

func (sqliteDialect) arg(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(sqliteTime)
	case *time.Time:
		if x == nil {
			return nil
		}
		return x.UTC().Format(sqliteTime)
	case bool:
		if x {
			return 1
		}
		return 0
	}
	return v
}

func (sqliteDialect) uniqueViolation(err error) (string, bool) {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return se.Error(), true
		}
	}
	return "", false
}

// full: SQLITE_FULL ("database or disk is full"), and I/O errors, which on
// a full disk are what writes to the WAL report.
func (sqliteDialect) full(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	return se.Code()&0xff == sqlite3.SQLITE_FULL || se.Code()&0xff == sqlite3.SQLITE_IOERR
}

// OpenSQLite opens (creating if needed) the SQLite database at path in WAL
// mode, with one writer connection and a pool of readers, and migrates it.
// It holds a shared lock on path.lock while open, so 'palisade restore'
// cannot replace the file underneath.
func OpenSQLite(ctx context.Context, path string) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
	}
	lock, err := lockFile(lockPath(path), syscall.LOCK_SH)
	if err != nil {
		return nil, fmt.Errorf("%s is being restored; try again when 'palisade restore' has finished: %w", path, err)
	}
	dsn := func(readOnly bool) string {
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Add("_pragma", "foreign_keys(ON)")
		if readOnly {
			q.Add("_pragma", "query_only(ON)")
		} else {
			q.Set("_txlock", "immediate")
		}
		return "file:" + path + "?" + q.Encode()
	}
	w, err := sql.Open("sqlite", dsn(false))
	if err != nil {
		lock.Close()
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		lock.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn(true))
	if err != nil {
		w.Close()
		lock.Close()
		return nil, err
	}
	n := max(4, runtime.NumCPU())
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	db := &DB{dialect: sqliteDialect{}, write: w, read: r, name: "sqlite", path: path, lock: lock}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}
