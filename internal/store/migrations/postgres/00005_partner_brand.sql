-- +goose Up
-- White-label branding shown on challenge and deny pages.
ALTER TABLE partners ADD COLUMN brand_name TEXT NOT NULL DEFAULT '';
ALTER TABLE partners ADD COLUMN brand_logo TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE partners DROP COLUMN brand_logo;
ALTER TABLE partners DROP COLUMN brand_name;
