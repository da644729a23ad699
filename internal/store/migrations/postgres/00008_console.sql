-- +goose Up
-- People who sign in to the partner console (partner_id set) or the
-- operator pages (partner_id NULL, role operator).
CREATE TABLE console_users (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_id     BIGINT REFERENCES partners(id),
    role           TEXT NOT NULL CHECK (role IN ('partner', 'operator')),
    email          TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    totp_secret    TEXT NOT NULL DEFAULT '',
    totp_last_step BIGINT NOT NULL DEFAULT 0,
    created_at     TIMESTAMPTZ NOT NULL,
    disabled_at    TIMESTAMPTZ
);
ALTER TABLE partner_api_keys ADD COLUMN name TEXT NOT NULL DEFAULT '';
-- Sessions gain the operator scope and the user who signed in; they are
-- short-lived, so the table is recreated rather than migrated.
DROP TABLE sessions;
CREATE TABLE sessions (
    hash          TEXT PRIMARY KEY,
    partner_id    BIGINT,
    subaccount_id BIGINT,
    website_id    BIGINT,
    user_id       BIGINT,
    scope         TEXT NOT NULL CHECK (scope IN ('partner', 'customer', 'operator')),
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_expires ON sessions(expires_at);
CREATE INDEX sessions_user ON sessions(user_id);

-- +goose Down
DROP TABLE sessions;
CREATE TABLE sessions (
    hash          TEXT PRIMARY KEY,
    partner_id    BIGINT NOT NULL REFERENCES partners(id),
    subaccount_id BIGINT,
    website_id    BIGINT,
    scope         TEXT NOT NULL CHECK (scope IN ('partner', 'customer')),
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_expires ON sessions(expires_at);
ALTER TABLE partner_api_keys DROP COLUMN name;
DROP TABLE console_users;
