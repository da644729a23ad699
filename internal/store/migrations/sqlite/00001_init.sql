-- +goose Up
CREATE TABLE plans (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    monthly_quota INTEGER NOT NULL CHECK (monthly_quota >= 0),
    price_cents   INTEGER NOT NULL CHECK (price_cents >= 0),
    rank          INTEGER NOT NULL,
    created_at    TIMESTAMP NOT NULL
);

CREATE TABLE partners (
    id              INTEGER PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE,
    email           TEXT    NOT NULL DEFAULT '',
    balance_cents   INTEGER NOT NULL DEFAULT 0 CHECK (balance_cents >= 0),
    allow_downgrade INTEGER NOT NULL DEFAULT 0,
    created_at      TIMESTAMP NOT NULL
);

CREATE TABLE partner_api_keys (
    id            INTEGER PRIMARY KEY,
    partner_id    INTEGER NOT NULL REFERENCES partners(id),
    key_prefix    TEXT    NOT NULL,
    key_hash      TEXT    NOT NULL UNIQUE,
    key_sealed    TEXT    NOT NULL,
    allowed_cidrs TEXT    NOT NULL DEFAULT '',
    created_at    TIMESTAMP NOT NULL,
    revoked_at    TIMESTAMP
);
CREATE INDEX partner_api_keys_partner ON partner_api_keys(partner_id);

CREATE TABLE ledger (
    id                  INTEGER PRIMARY KEY,
    partner_id          INTEGER NOT NULL REFERENCES partners(id),
    amount_cents        INTEGER NOT NULL,
    balance_after_cents INTEGER NOT NULL CHECK (balance_after_cents >= 0),
    kind                TEXT    NOT NULL CHECK (kind IN ('topup', 'charge', 'refund', 'adjustment')),
    reason              TEXT    NOT NULL,
    website_id          INTEGER,
    actor               TEXT    NOT NULL,
    created_at          TIMESTAMP NOT NULL
);
CREATE INDEX ledger_partner ON ledger(partner_id, id);
-- +goose StatementBegin
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN SELECT RAISE(ABORT, 'ledger is append-only'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN SELECT RAISE(ABORT, 'ledger is append-only'); END;
-- +goose StatementEnd

CREATE TABLE subaccounts (
    id             INTEGER PRIMARY KEY,
    partner_id     INTEGER NOT NULL REFERENCES partners(id),
    email          TEXT    NOT NULL,
    first_name     TEXT    NOT NULL DEFAULT '',
    last_name      TEXT    NOT NULL DEFAULT '',
    company        TEXT    NOT NULL DEFAULT '',
    country        TEXT    NOT NULL DEFAULT '',
    address        TEXT    NOT NULL DEFAULT '',
    lang           TEXT    NOT NULL DEFAULT 'en',
    api_key_hash   TEXT    NOT NULL UNIQUE,
    api_key_sealed TEXT    NOT NULL,
    password_hash  TEXT    NOT NULL DEFAULT '',
    created_at     TIMESTAMP NOT NULL,
    deleted_at     TIMESTAMP
);
CREATE UNIQUE INDEX subaccounts_partner_email ON subaccounts(partner_id, email) WHERE deleted_at IS NULL;

CREATE TABLE websites (
    id                INTEGER PRIMARY KEY,
    partner_id        INTEGER NOT NULL REFERENCES partners(id),
    subaccount_id     INTEGER REFERENCES subaccounts(id),
    domain            TEXT    NOT NULL,
    plan_id           INTEGER NOT NULL REFERENCES plans(id),
    status            TEXT    NOT NULL CHECK (status IN ('setup', 'online', 'paused', 'deleted')),
    server_key_hash   TEXT    NOT NULL UNIQUE,
    server_key_sealed TEXT    NOT NULL,
    settings          TEXT    NOT NULL DEFAULT '{}',
    version           INTEGER NOT NULL DEFAULT 1,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    renewed_at        TIMESTAMP NOT NULL,
    expires_at        TIMESTAMP NOT NULL,
    first_seen_at     TIMESTAMP,
    paused_at         TIMESTAMP,
    deleted_at        TIMESTAMP
);
-- One live registration per domain across all partners.
CREATE UNIQUE INDEX websites_domain_live ON websites(domain) WHERE status <> 'deleted';
CREATE INDEX websites_partner ON websites(partner_id, id);
CREATE INDEX websites_subaccount ON websites(partner_id, subaccount_id);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          TIMESTAMP NOT NULL,
    partner_id  INTEGER,
    actor       TEXT NOT NULL,
    protocol    TEXT NOT NULL,
    source_ip   TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    action      TEXT NOT NULL,
    old_state   TEXT NOT NULL DEFAULT '',
    new_state   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_partner ON audit_log(partner_id, id);

CREATE TABLE idempotency_keys (
    partner_id   INTEGER NOT NULL,
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    object_type  TEXT    NOT NULL,
    object_id    TEXT    NOT NULL DEFAULT '',
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (partner_id, key)
);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE audit_log;
DROP TABLE websites;
DROP TABLE subaccounts;
DROP TABLE ledger;
DROP TABLE partner_api_keys;
DROP TABLE partners;
DROP TABLE plans;
