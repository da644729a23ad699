-- +goose Up
-- Decisions worth keeping: every deny and challenge, a sample of grants.
CREATE TABLE events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_id BIGINT NOT NULL,
    website_id BIGINT NOT NULL,
    at         TIMESTAMPTZ NOT NULL,
    ip         TEXT NOT NULL,
    method     TEXT NOT NULL,
    host       TEXT NOT NULL,
    path       TEXT NOT NULL,
    query      TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL,
    referrer   TEXT NOT NULL DEFAULT '',
    action     TEXT NOT NULL,
    category   TEXT NOT NULL,
    source     TEXT NOT NULL,
    reason     TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '',
    monitored  BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX events_website_at ON events(website_id, at, id);
CREATE INDEX events_at ON events(at);

-- Decisions counted per website, minute, action and category.
CREATE TABLE stats_minute (
    website_id BIGINT NOT NULL,
    partner_id BIGINT NOT NULL,
    minute     TIMESTAMPTZ NOT NULL,
    action     TEXT NOT NULL,
    category   TEXT NOT NULL,
    count      BIGINT NOT NULL,
    PRIMARY KEY (website_id, minute, action, category)
);
CREATE INDEX stats_minute_minute ON stats_minute(minute);

-- +goose Down
DROP TABLE stats_minute;
DROP TABLE events;
