-- +goose Up
-- The language a partner's new customers get when a provisioning request
-- names none, or one Palisade does not know (issue 17): an ISO 639-1 code.
-- Existing partners get en, the language every partner had until now.
ALTER TABLE partners ADD COLUMN default_lang TEXT NOT NULL DEFAULT 'en'
    CHECK (default_lang ~ '^[a-z][a-z]$');

-- +goose Down
ALTER TABLE partners DROP COLUMN default_lang;
