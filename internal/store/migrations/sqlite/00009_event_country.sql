-- +goose Up
-- The client's country (ISO 3166 alpha-2) when a GeoIP database is loaded.
ALTER TABLE events ADD COLUMN country TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE events DROP COLUMN country;
