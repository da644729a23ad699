-- +goose Up
-- The end-customer User API: each partner's configuration (JSON), the
-- request log, and issued tokens (by the hash of their id) for revocation.
ALTER TABLE partners ADD COLUMN userapi TEXT NOT NULL DEFAULT '';
CREATE TABLE userapi_log (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_id    BIGINT NOT NULL,
    subaccount_id BIGINT,
    at            TIMESTAMPTZ NOT NULL,
    method        TEXT NOT NULL,
    route         TEXT NOT NULL,
    path          TEXT NOT NULL,
    status        BIGINT NOT NULL,
    source_ip     TEXT NOT NULL,
    request       TEXT NOT NULL,
    response      TEXT NOT NULL
);
CREATE INDEX userapi_log_partner ON userapi_log(partner_id, id);
CREATE INDEX userapi_log_at ON userapi_log(at);
CREATE TABLE userapi_tokens (
    hash          TEXT PRIMARY KEY,
    partner_id    BIGINT NOT NULL,
    subaccount_id BIGINT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    revoked_at    TIMESTAMPTZ
);
CREATE INDEX userapi_tokens_expires ON userapi_tokens(expires_at);

-- +goose Down
DROP TABLE userapi_tokens;
DROP TABLE userapi_log;
ALTER TABLE partners DROP COLUMN userapi;
