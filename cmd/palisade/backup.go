package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/palisadehq/palisade/internal/store"
)

// sqlitePath is the SQLite file the store flags name ("" for PostgreSQL).
func (s *storeFlags) sqlitePath() string { return store.SQLitePath(s.databaseURL, s.dataDir) }

func cmdBackup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("backup", "backup --out FILE [--data-dir DIR]", stderr)
	var sf storeFlags
	sf.register(fs)
	out := fs.String("out", "", "file to write the backup to (must not exist)")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("backup needs --out FILE: %w", errUsage)
	}
	if sf.sqlitePath() == "" {
		return fmt.Errorf("%w: %w", store.ErrBackupPostgres, errUsage)
	}
	if _, err := os.Stat(sf.sqlitePath()); err != nil {
		return fmt.Errorf("no database at %s to back up (check --data-dir)", sf.sqlitePath())
	}
	db, err := store.Open(ctx, sf.databaseURL, sf.dataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Backup(ctx, *out); err != nil {
		if errors.Is(err, store.ErrBackupPostgres) {
			return fmt.Errorf("%w: %w", err, errUsage)
		}
		return err
	}
	st, _ := os.Stat(*out)
	v, _ := db.SchemaVersion(ctx)
	fmt.Fprintf(stdout, "backed up %s to %s (%d bytes, schema version %d; integrity checked)\n", sf.sqlitePath(), *out, st.Size(), v)
	if sf.masterKey == "" {
		fmt.Fprintf(stdout, "Keep %s with it: the API keys in the backup cannot be read without that master key.\n", filepath.Join(sf.dataDir, "master.key"))
	}
	return nil
}

func cmdRestore(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("restore", "restore --from FILE [--data-dir DIR]   (stop Palisade first)", stderr)
	var sf storeFlags
	sf.register(fs)
	from := fs.String("from", "", "backup file written by 'palisade backup'")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if *from == "" {
		return fmt.Errorf("restore needs --from FILE: %w", errUsage)
	}
	path := sf.sqlitePath()
	if path == "" {
		return fmt.Errorf("%w: %w", store.ErrBackupPostgres, errUsage)
	}
	if err := store.RestoreSQLite(ctx, *from, path); err != nil {
		return err
	}
	db, err := store.Open(ctx, sf.databaseURL, sf.dataDir) // migrates an older backup
	if err != nil {
		return fmt.Errorf("restored %s, but it does not open: %w", path, err)
	}
	defer db.Close()
	v, _ := db.SchemaVersion(ctx)
	fmt.Fprintf(stdout, "restored %s from %s (schema version %d)", path, *from, v)
	if _, err := os.Stat(path + ".before-restore"); err == nil {
		fmt.Fprintf(stdout, "; the previous database is kept as %s.before-restore", path)
	}
	fmt.Fprintln(stdout)
	return nil
}
