package store

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// ConfigVersion returns the number that triggers bump in the transaction
// of every change the decision engine must see (migration 11).
func (t *tx) ConfigVersion(ctx context.Context) (int64, error) {
	var v int64
	err := t.queryRow(ctx, "SELECT version FROM config_version WHERE id = 1").Scan(&v)
	return v, err
}

// ListenConfig calls fn with the new config version each time another
// transaction (on any node) commits a change the engine must see, until ctx
// ends. It keeps one PostgreSQL connection LISTENing on palisade_config and
// reconnects after a failure. Each time it starts listening it calls fn(0):
// changes committed before the LISTEN (since the caller's last load, or
// while disconnected) sent no notification this connection heard. On SQLite it returns at once with
// ErrNoListen: nodes there rely on polling ConfigVersion.
func (db *DB) ListenConfig(ctx context.Context, fn func(version int64), onErr func(error)) error {
	if db.name != "postgres" {
		return ErrNoListen
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := db.listenOnce(ctx, fn)
		if ctx.Err() != nil {
			return nil
		}
		if onErr != nil && err != nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
	return nil
}

// ErrNoListen says the store cannot push changes (SQLite).
var ErrNoListen = errors.New("this store has no change notifications; poll its config version")

func (db *DB) listenOnce(ctx context.Context, fn func(int64)) error {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	conn, err := pgx.Connect(cctx, db.url)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN palisade_config"); err != nil {
		return err
	}
	fn(0)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		v, _ := strconv.ParseInt(n.Payload, 10, 64)
		fn(v)
	}
}

// QueryStrings runs a query of one text column (for tests and diagnostics).
func (db *DB) QueryStrings(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
