-- +goose Up
-- Every Palisade process writes a heartbeat here about every 30 seconds
-- (package protect): what it decides by and how it is doing, for the
-- operator's overview. A node not seen for two minutes is shown gone; its
-- row is deleted after seven days.
CREATE TABLE nodes (
    name             TEXT PRIMARY KEY,
    role             TEXT NOT NULL,
    version          TEXT NOT NULL DEFAULT '',
    config_version   INTEGER NOT NULL,
    lag_ms           INTEGER NOT NULL DEFAULT 0,
    events_dropped   INTEGER NOT NULL DEFAULT 0,
    redis            TEXT NOT NULL DEFAULT '',
    redis_latency_us INTEGER NOT NULL DEFAULT 0,
    started_at       TIMESTAMP NOT NULL,
    seen_at          TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE nodes;
