-- +goose Up
-- White-label dashboards: colour, support link, origins allowed to embed them.
ALTER TABLE partners ADD COLUMN brand_color TEXT NOT NULL DEFAULT '';
ALTER TABLE partners ADD COLUMN support_url TEXT NOT NULL DEFAULT '';
ALTER TABLE partners ADD COLUMN embed_origins TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE partners DROP COLUMN embed_origins;
ALTER TABLE partners DROP COLUMN support_url;
ALTER TABLE partners DROP COLUMN brand_color;
