package store

import "context"

// MigrateDownTo and MigrateUpTo move the schema to version v (tests of a
// migration's data handling).
func (db *DB) MigrateDownTo(ctx context.Context, v int64) error {
	p, err := db.migrations()
	if err != nil {
		return err
	}
	_, err = p.DownTo(ctx, v)
	return err
}

func (db *DB) MigrateUpTo(ctx context.Context, v int64) error {
	p, err := db.migrations()
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, v)
	return err
}

// ExecInTx runs a statement inside a core.Tx of this package (tests of
// commit-time failures).
func ExecInTx(ctx context.Context, t interface{}, q string) error {
	_, err := t.(*tx).exec(ctx, q)
	return err
}
