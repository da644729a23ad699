-- +goose Up
-- Decisions worth keeping: every deny and challenge, a sample of grants.
CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    partner_id INTEGER NOT NULL,
    website_id INTEGER NOT NULL,
    at         TIMESTAMP NOT NULL,
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
    monitored  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_website_at ON events(website_id, at, id);
CREATE INDEX events_at ON events(at);

-- Decisions counted per website, minute, action and category.
CREATE TABLE stats_minute (
    website_id INTEGER NOT NULL,
    partner_id INTEGER NOT NULL,
    minute     TIMESTAMP NOT NULL,
    action     TEXT NOT NULL,
    category   TEXT NOT NULL,
    count      INTEGER NOT NULL,
    PRIMARY KEY (website_id, minute, action, category)
);
CREATE INDEX stats_minute_minute ON stats_minute(minute);

-- +goose Down
DROP TABLE stats_minute;
DROP TABLE events;
