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
