-- +goose Up
-- The reference ID a visitor's challenge or deny page shows (issue 18), so
-- the site's owner finds the decision by it. Earlier events have none.
ALTER TABLE events ADD COLUMN ref TEXT NOT NULL DEFAULT '';
CREATE INDEX events_website_ref ON events(website_id, ref) WHERE ref <> '';

-- +goose Down
DROP INDEX events_website_ref;
ALTER TABLE events DROP COLUMN ref;
