-- +goose Up
-- A partner's allow and deny lists (JSON: {"allow": [...], "deny": [...]}),
-- applied to all of its websites after each website's own lists.
ALTER TABLE partners ADD COLUMN lists TEXT NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE partners DROP COLUMN lists;
