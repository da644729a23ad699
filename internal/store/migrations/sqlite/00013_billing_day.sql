-- +goose Up
-- The anniversary day of a website's billing term (1..31). Renewals land on
-- this day, clamped to the month's last day, so a term begun on January 31
-- runs to Feb 28, Mar 31, Apr 30 and never drifts (core.AddMonths).
ALTER TABLE websites ADD COLUMN billing_day INTEGER NOT NULL DEFAULT 0;
UPDATE websites SET billing_day = CAST(substr(expires_at, 9, 2) AS INTEGER);

-- +goose Down
ALTER TABLE websites DROP COLUMN billing_day;
