-- +goose Up
-- Whether the partner shows "Powered by Palisade" on the pages its
-- visitors and customers see (issue 20): off by default, so the product
-- name reaches no one unless the partner chooses it.
ALTER TABLE partners ADD COLUMN powered_by INTEGER NOT NULL DEFAULT 0
    CHECK (powered_by IN (0, 1));

-- +goose Down
ALTER TABLE partners DROP COLUMN powered_by;
