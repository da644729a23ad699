-- +goose Up
-- GP reseller requests seen: (domain, timestamp, hash) is a nonce.
CREATE TABLE gp_nonces (
    partner_id INTEGER NOT NULL,
    domain     TEXT NOT NULL,
    ts         TEXT NOT NULL,
    hash       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (partner_id, domain, ts, hash)
);
CREATE INDEX gp_nonces_created ON gp_nonces(created_at);

-- Outbox: notification emails queued per partner.
CREATE TABLE emails (
    id              INTEGER PRIMARY KEY,
    partner_id      INTEGER NOT NULL REFERENCES partners(id),
    subaccount_id   INTEGER,
    website_id      INTEGER,
    kind            TEXT NOT NULL,
    dedupe          TEXT NOT NULL DEFAULT '',
    to_addr         TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP
);
CREATE INDEX emails_partner ON emails(partner_id, status, id);
CREATE INDEX emails_due ON emails(status, next_attempt_at);
CREATE UNIQUE INDEX emails_dedupe ON emails(partner_id, kind, dedupe) WHERE dedupe <> '';

-- A partner's own wording of a kind of email.
CREATE TABLE email_templates (
    partner_id INTEGER NOT NULL REFERENCES partners(id),
    kind       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    body       TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (partner_id, kind)
);

-- Single-use login links (single sign-on) and the sessions they open.
CREATE TABLE login_tokens (
    hash          TEXT PRIMARY KEY,
    partner_id    INTEGER NOT NULL REFERENCES partners(id),
    subaccount_id INTEGER,
    website_id    INTEGER,
    scope         TEXT NOT NULL CHECK (scope IN ('partner', 'customer')),
    created_at    TIMESTAMP NOT NULL,
    expires_at    TIMESTAMP NOT NULL,
    used_at       TIMESTAMP
);
CREATE INDEX login_tokens_expires ON login_tokens(expires_at);
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

-- Add-on products of a website, such as extra monthly requests.
CREATE TABLE addons (
    id         INTEGER PRIMARY KEY,
    partner_id INTEGER NOT NULL REFERENCES partners(id),
    website_id INTEGER NOT NULL REFERENCES websites(id),
    product    TEXT NOT NULL,
    quantity   INTEGER NOT NULL CHECK (quantity > 0),
    status     TEXT NOT NULL CHECK (status IN ('active', 'deleted')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX addons_website ON addons(website_id);

-- +goose Down
DROP TABLE addons;
DROP TABLE sessions;
DROP TABLE login_tokens;
DROP TABLE email_templates;
DROP TABLE emails;
DROP TABLE gp_nonces;
