-- +goose Up
-- Batches of events already stored, so a batch retried after a lost commit
-- acknowledgement is not stored twice. Kept a day. (SQLite keeps events in
-- one table; PostgreSQL partitions them by day in its migration 12.)
CREATE TABLE event_batches (
    id TEXT PRIMARY KEY,
    at TEXT NOT NULL
);
CREATE INDEX event_batches_at ON event_batches(at);

-- +goose Down
DROP TABLE event_batches;
