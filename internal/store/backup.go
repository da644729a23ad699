package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// The lock file beside a SQLite database: every process that opens the
// database holds a shared lock on it, and restore takes it exclusively, so
// a restore can never swap the file under a running Palisade.
func lockPath(dbPath string) string { return dbPath + ".lock" }

func lockFile(path string, how int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// ErrBackupPostgres says backups of PostgreSQL are PostgreSQL's own tools'.
var ErrBackupPostgres = errors.New("back up PostgreSQL with its own tools: pg_dump --format=custom --file palisade.dump \"$PALISADE_DATABASE_URL\" (restore with pg_restore --clean --if-exists --dbname ...); see docs/OPERATIONS.md")

// Backup writes a consistent copy of the SQLite database to dest while
// Palisade may keep running (VACUUM INTO reads one snapshot; writers go
// on), then checks the copy's integrity. dest must not exist.
func (db *DB) Backup(ctx context.Context, dest string) error {
	if db.name != "sqlite" {
		return ErrBackupPostgres
	}
	if _, err := os.Stat(dest); err == nil {
		return fmt.Errorf("%s exists; choose a new file name (a backup never overwrites)", dest)
	}
	tmp := dest + ".partial"
	_ = os.Remove(tmp)
	if _, err := db.write.ExecContext(ctx, "VACUUM INTO ?", tmp); err != nil {
		_ = os.Remove(tmp)
		return db.unavailable(fmt.Errorf("back up into %s: %w", dest, err))
	}
	if err := checkSQLiteFile(ctx, tmp); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := syncFile(tmp); err != nil {
		return err
	}
	return os.Rename(tmp, dest)
}

// checkSQLiteFile opens path read-only and runs integrity_check, and
// checks it holds a Palisade schema.
func checkSQLiteFile(ctx context.Context, path string) error {
	c, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=query_only(ON)")
	if err != nil {
		return err
	}
	defer c.Close()
	var res string
	if err := c.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil {
		return fmt.Errorf("%s is not a readable SQLite database: %w", path, err)
	}
	if res != "ok" {
		return fmt.Errorf("%s fails SQLite's integrity check: %s", path, res)
	}
	var v int64
	if err := c.QueryRowContext(ctx, "SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version WHERE is_applied").Scan(&v); err != nil || v == 0 {
		return fmt.Errorf("%s is not a Palisade database (no schema version)", path)
	}
	return nil
}

// RestoreSQLite replaces the database at dbPath with the backup from. It
// refuses while any Palisade process has the database open, checks the
// backup first, and swaps the file in with a rename, so a failed restore
// leaves the old database as it was. An existing database is kept as
// dbPath + ".before-restore".
func RestoreSQLite(ctx context.Context, from, dbPath string) error {
	if err := checkSQLiteFile(ctx, from); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dbPath), 0o700); err != nil {
		return err
	}
	lock, err := lockFile(lockPath(dbPath), syscall.LOCK_EX)
	if err != nil {
		return fmt.Errorf("%s is in use by a running Palisade (or another command); stop it first: %w", dbPath, err)
	}
	defer lock.Close()
	tmp := dbPath + ".restoring"
	if err := copyFile(from, tmp); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if _, err := os.Stat(dbPath); err == nil {
		// Fold the old database's WAL into it before keeping it aside.
		if old, err := sql.Open("sqlite", "file:"+dbPath); err == nil {
			_, _ = old.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
			old.Close()
		}
		if err := os.Rename(dbPath, dbPath+".before-restore"); err != nil {
			return err
		}
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		_ = os.Remove(dbPath + suffix)
	}
	return os.Rename(tmp, dbPath)
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
