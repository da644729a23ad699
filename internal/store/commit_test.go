package store_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/faultnet"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestLostCommitIsOutcomeUnknown cuts the connection to PostgreSQL between
// the last statement of a transaction and its COMMIT: the store cannot know
// whether the server committed, and must say so (EUNKNOWN), never "nothing
// was changed" (EUNAVAILABLE), which would invite a blind retry and a
// second charge. A connection already down before the transaction starts is
// still EUNAVAILABLE.
func TestLostCommitIsOutcomeUnknown(t *testing.T) {
	ctx := context.Background()
	direct := storetest.PostgresSchemaURL(t)
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatal(err)
	}
	host := u.Host
	if !strings.Contains(host, ":") {
		host += ":5432"
	}
	px := faultnet.New(t, host)
	u.Host = px.Addr()
	db, err := store.OpenPostgres(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	err = db.Update(ctx, func(tx core.Tx) error {
		if _, err := tx.Plans(ctx); err != nil {
			return err
		}
		px.Cut() // the statements ran; the COMMIT will not be heard
		return nil
	})
	if core.ErrorCode(err) != core.EUNKNOWN || !errors.Is(err, core.ErrOutcomeUnknown) {
		t.Fatalf("lost commit: %v (code %q); want %q", err, core.ErrorCode(err), core.EUNKNOWN)
	}
	if msg := core.ErrorMessage(err); !strings.Contains(msg, "may or may not have been applied") || strings.Contains(msg, "nothing was changed") {
		t.Fatalf("lost commit message %q", msg)
	}

	err = db.Update(ctx, func(tx core.Tx) error { _, err := tx.Plans(ctx); return err })
	if core.ErrorCode(err) != core.EUNAVAILABLE {
		t.Fatalf("database down before the transaction: %v (code %q); want %q", err, core.ErrorCode(err), core.EUNAVAILABLE)
	}
	px.Restore()
}

// TestRefusedCommitIsDefinite: when the server itself refuses the COMMIT
// (here a deferred constraint), the transaction was rolled back, which is
// not "unknown".
func TestRefusedCommitIsDefinite(t *testing.T) {
	ctx := context.Background()
	db := storetest.Postgres(t)
	if err := db.Exec(ctx, "CREATE TABLE commit_probe (id INTEGER PRIMARY KEY, other INTEGER REFERENCES commit_probe(id) DEFERRABLE INITIALLY DEFERRED)"); err != nil {
		t.Fatal(err)
	}
	err := db.Update(ctx, func(tx core.Tx) error {
		return store.ExecInTx(ctx, tx, "INSERT INTO commit_probe (id, other) VALUES (1, 99)")
	})
	if err == nil || core.ErrorCode(err) == core.EUNKNOWN {
		t.Fatalf("refused commit: %v (code %q); want a definite failure", err, core.ErrorCode(err))
	}
}
