package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

type postgresDialect struct{}

func (postgresDialect) name() string  { return "postgres" }
func (postgresDialect) lock() string  { return " FOR UPDATE" }
func (postgresDialect) arg(v any) any { return v }

func (postgresDialect) uniqueViolation(err error) (string, bool) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return pe.ConstraintName, true
	}
	return "", false
}

// full: disk_full (53100) and the other "insufficient resources" codes.
func (postgresDialect) full(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "53100" || pe.Code == "53200")
}

// OpenPostgres connects to PostgreSQL at url and migrates the schema.
func OpenPostgres(ctx context.Context, url string) (*DB, error) {
	p, err := sql.Open("pgx", url)
	if err != nil {
		return nil, err
	}
	p.SetMaxOpenConns(20)
	p.SetMaxIdleConns(10)
	if err := p.PingContext(ctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	db := &DB{dialect: postgresDialect{}, write: p, read: p, name: "postgres", url: url}
	if err := db.migrate(ctx); err != nil {
		p.Close()
		return nil, err
	}
	return db, nil
}
