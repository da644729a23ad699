-- +goose Up
CREATE TABLE plans (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    monthly_quota BIGINT  NOT NULL CHECK (monthly_quota >= 0),
    price_cents   BIGINT  NOT NULL CHECK (price_cents >= 0),
    rank          INTEGER NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE partners (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE,
    email           TEXT    NOT NULL DEFAULT '',
    balance_cents   BIGINT  NOT NULL DEFAULT 0 CHECK (balance_cents >= 0),
    allow_downgrade BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE partner_api_keys (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_id    BIGINT NOT NULL REFERENCES partners(id),
    key_prefix    TEXT   NOT NULL,
    key_hash      TEXT   NOT NULL UNIQUE,
    key_sealed    TEXT   NOT NULL,
    allowed_cidrs TEXT   NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    revoked_at    TIMESTAMPTZ
);
CREATE INDEX partner_api_keys_partner ON partner_api_keys(partner_id);

CREATE TABLE ledger (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_id          BIGINT NOT NULL REFERENCES partners(id),
    amount_cents        BIGINT NOT NULL,
    balance_after_cents BIGINT NOT NULL CHECK (balance_after_cents >= 0),
    kind                TEXT   NOT NULL CHECK (kind IN ('topup', 'charge', 'refund', 'adjustment')),
    reason              TEXT   NOT NULL,
    website_id          BIGINT,
    actor               TEXT   NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX ledger_partner ON ledger(partner_id, id);
-- +goose StatementBegin
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger is append-only';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER ledger_no_update_delete BEFORE UPDATE OR DELETE ON ledger
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

CREATE TABLE subaccounts (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_id     BIGINT NOT NULL REFERENCES partners(id),
    email          TEXT   NOT NULL,
    first_name     TEXT   NOT NULL DEFAULT '',
    last_name      TEXT   NOT NULL DEFAULT '',
    company        TEXT   NOT NULL DEFAULT '',
    country        TEXT   NOT NULL DEFAULT '',
    address        TEXT   NOT NULL DEFAULT '',
    lang           TEXT   NOT NULL DEFAULT 'en',
    api_key_hash   TEXT   NOT NULL UNIQUE,
    api_key_sealed TEXT   NOT NULL,
    password_hash  TEXT   NOT NULL DEFAULT '',
    created_at     TIMESTAMPTZ NOT NULL,
    deleted_at     TIMESTAMPTZ
);
CREATE UNIQUE INDEX subaccounts_partner_email ON subaccounts(partner_id, email) WHERE deleted_at IS NULL;

CREATE TABLE websites (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_id        BIGINT NOT NULL REFERENCES partners(id),
    subaccount_id     BIGINT REFERENCES subaccounts(id),
    domain            TEXT   NOT NULL,
    plan_id           BIGINT NOT NULL REFERENCES plans(id),
    status            TEXT   NOT NULL CHECK (status IN ('setup', 'online', 'paused', 'deleted')),
    server_key_hash   TEXT   NOT NULL UNIQUE,
    server_key_sealed TEXT   NOT NULL,
    settings          TEXT   NOT NULL DEFAULT '{}',
    version           BIGINT NOT NULL DEFAULT 1,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    renewed_at        TIMESTAMPTZ NOT NULL,
    expires_at        TIMESTAMPTZ NOT NULL,
    first_seen_at     TIMESTAMPTZ,
    paused_at         TIMESTAMPTZ,
    deleted_at        TIMESTAMPTZ
);
-- One live registration per domain across all partners.
CREATE UNIQUE INDEX websites_domain_live ON websites(domain) WHERE status <> 'deleted';
CREATE INDEX websites_partner ON websites(partner_id, id);
CREATE INDEX websites_subaccount ON websites(partner_id, subaccount_id);

CREATE TABLE audit_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    partner_id  BIGINT,
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
    partner_id   BIGINT NOT NULL,
    key          TEXT   NOT NULL,
    request_hash TEXT   NOT NULL,
    object_type  TEXT   NOT NULL,
    object_id    TEXT   NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (partner_id, key)
);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE audit_log;
DROP TABLE websites;
DROP TABLE subaccounts;
DROP TABLE ledger;
DROP FUNCTION ledger_append_only() CASCADE;
DROP TABLE partner_api_keys;
DROP TABLE partners;
DROP TABLE plans;
