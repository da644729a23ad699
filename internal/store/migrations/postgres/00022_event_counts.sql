-- +goose Up
-- Identical refused requests (same website, client address, user agent,
-- action and reason) within a short window are stored as one event that
-- counts them (issue 21, package events): count is how many requests the
-- event stands for, last_at when the last of them came (NULL: the event's
-- own time). The decision plane inserts an event at its first request and
-- adds the window's repeats to it by (website_id, ref, at) when the window
-- ends (events_website_ref finds it; at picks the partition). Columns
-- added to the partitioned table reach every partition (a constant
-- default rewrites nothing), and palisade_events_partition copies rows
-- with SELECT *, so it keeps working.
ALTER TABLE events ADD COLUMN count BIGINT NOT NULL DEFAULT 1;
ALTER TABLE events ADD COLUMN last_at TIMESTAMPTZ;

-- +goose Down
ALTER TABLE events DROP COLUMN last_at;
ALTER TABLE events DROP COLUMN count;
