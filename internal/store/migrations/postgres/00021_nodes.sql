-- +goose Up
-- Every Palisade process writes a heartbeat here about every 30 seconds
-- (package protect): what it decides by and how it is doing, for the
-- operator's overview. A node not seen for two minutes is shown gone; its
-- row is deleted after seven days.
CREATE TABLE nodes (
    name             TEXT PRIMARY KEY,
    role             TEXT NOT NULL,
    version          TEXT NOT NULL DEFAULT '',
    config_version   BIGINT NOT NULL,
    lag_ms           BIGINT NOT NULL DEFAULT 0,
    events_dropped   BIGINT NOT NULL DEFAULT 0,
    redis            TEXT NOT NULL DEFAULT '',
    redis_latency_us BIGINT NOT NULL DEFAULT 0,
    started_at       TIMESTAMPTZ NOT NULL,
    seen_at          TIMESTAMPTZ NOT NULL
);

-- The partner overview sums one partner's counters over up to a month:
-- by partner and time, not by scanning every partner's rows of the span.
CREATE INDEX stats_minute_partner ON stats_minute(partner_id, minute);
CREATE INDEX waf_stats_partner ON waf_stats(partner_id, minute);

-- +goose Down
DROP INDEX waf_stats_partner;
DROP INDEX stats_minute_partner;
DROP TABLE nodes;
