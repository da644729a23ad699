-- +goose Up
-- People who sign in to the partner console (partner_id set) or the
-- operator pages (partner_id NULL, role operator).
CREATE TABLE console_users (
    id             INTEGER PRIMARY KEY,
    partner_id     INTEGER REFERENCES partners(id),
    role           TEXT NOT NULL CHECK (role IN ('partner', 'operator')),
    email          TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    totp_secret    TEXT NOT NULL DEFAULT '',
    totp_last_step INTEGER NOT NULL DEFAULT 0,
    created_at     TIMESTAMP NOT NULL,
    disabled_at    TIMESTAMP
);
ALTER TABLE partner_api_keys ADD COLUMN name TEXT NOT NULL DEFAULT '';
-- Sessions gain the operator scope and the user who signed in; they are
-- short-lived, so the table is recreated rather than migrated.
DROP TABLE sessions;
CREATE TABLE sessions (
    hash          TEXT PRIMARY KEY,
    partner_id    INTEGER,
    subaccount_id INTEGER,
    website_id    INTEGER,
    user_id       INTEGER,
    scope         TEXT NOT NULL CHECK (scope IN ('partner', 'customer', 'operator')),
    created_at    TIMESTAMP NOT NULL,
    expires_at    TIMESTAMP NOT NULL
);
CREATE INDEX sessions_expires ON sessions(expires_at);
CREATE INDEX sessions_user ON sessions(user_id);

-- +goose Down
DROP TABLE sessions;
CREATE TABLE sessions (
    hash          TEXT PRIMARY KEY,
    partner_id    INTEGER NOT NULL REFERENCES partners(id),
    subaccount_id INTEGER,
    website_id    INTEGER,
    scope         TEXT NOT NULL CHECK (scope IN ('partner', 'customer')),
    created_at    TIMESTAMP NOT NULL,
    expires_at    TIMESTAMP NOT NULL
);
CREATE INDEX sessions_expires ON sessions(expires_at);
ALTER TABLE partner_api_keys DROP COLUMN name;
DROP TABLE console_users;
