-- +goose Up
-- GP reseller requests seen: (domain, timestamp, hash) is a nonce.
CREATE TABLE gp_nonces (
    partner_id BIGINT NOT NULL,
    domain     TEXT NOT NULL,
    ts         TEXT NOT NULL,
    hash       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (partner_id, domain, ts, hash)
);
CREATE INDEX gp_nonces_created ON gp_nonces(created_at);

-- Outbox: notification emails queued per partner.
CREATE TABLE emails (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_id      BIGINT NOT NULL REFERENCES partners(id),
    subaccount_id   BIGINT,
    website_id      BIGINT,
    kind            TEXT NOT NULL,
    dedupe          TEXT NOT NULL DEFAULT '',
    to_addr         TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ
);
CREATE INDEX emails_partner ON emails(partner_id, status, id);
CREATE INDEX emails_due ON emails(status, next_attempt_at);
CREATE UNIQUE INDEX emails_dedupe ON emails(partner_id, kind, dedupe) WHERE dedupe <> '';

-- A partner's own wording of a kind of email.
CREATE TABLE email_templates (
    partner_id BIGINT NOT NULL REFERENCES partners(id),
    kind       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    body       TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (partner_id, kind)
);

-- Single-use login links (single sign-on) and the sessions they open.
CREATE TABLE login_tokens (
    hash          TEXT PRIMARY KEY,
    partner_id    BIGINT NOT NULL REFERENCES partners(id),
    subaccount_id BIGINT,
    website_id    BIGINT,
    scope         TEXT NOT NULL CHECK (scope IN ('partner', 'customer')),
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    used_at       TIMESTAMPTZ
);
CREATE INDEX login_tokens_expires ON login_tokens(expires_at);
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

-- Add-on products of a website, such as extra monthly requests.
CREATE TABLE addons (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_id BIGINT NOT NULL REFERENCES partners(id),
    website_id BIGINT NOT NULL REFERENCES websites(id),
    product    TEXT NOT NULL,
    quantity   BIGINT NOT NULL CHECK (quantity > 0),
    status     TEXT NOT NULL CHECK (status IN ('active', 'deleted')),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX addons_website ON addons(website_id);

-- +goose Down
DROP TABLE addons;
DROP TABLE sessions;
DROP TABLE login_tokens;
DROP TABLE email_templates;
DROP TABLE emails;
DROP TABLE gp_nonces;
