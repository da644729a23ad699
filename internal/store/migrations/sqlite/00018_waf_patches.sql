-- +goose Up
-- Virtual patches (issue 19): rules the operator (partner_id NULL: every
-- website) or a partner (its websites) pushes at once, with a name, a
-- reason and an expiry. Exactly one of seclang and rule (the project's
-- own form, JSON of waf.PatchRule) is set. A deleted patch is deleted;
-- the audit log keeps who pushed and removed what.
CREATE TABLE waf_patches (
    id         INTEGER PRIMARY KEY,
    partner_id INTEGER REFERENCES partners(id),
    name       TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    seclang    TEXT NOT NULL DEFAULT '',
    rule       TEXT NOT NULL DEFAULT '',
    expires_at TIMESTAMP,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    CHECK ((seclang = '') <> (rule = ''))
);
CREATE INDEX waf_patches_partner ON waf_patches(partner_id);

-- Every node loads the patches: each change moves config_version.
-- +goose StatementBegin
CREATE TRIGGER waf_patches_config_insert AFTER INSERT ON waf_patches BEGIN
    UPDATE config_version SET version = version + 1, changed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER waf_patches_config_update AFTER UPDATE ON waf_patches BEGIN
    UPDATE config_version SET version = version + 1, changed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER waf_patches_config_delete AFTER DELETE ON waf_patches BEGIN
    UPDATE config_version SET version = version + 1, changed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = 1;
END;
-- +goose StatementEnd

-- The website-firewall mode a partner's new websites get: block (the
-- default for everyone) or detect (record only). Existing websites keep
-- theirs.
ALTER TABLE partners ADD COLUMN waf_new_site_mode TEXT NOT NULL DEFAULT 'block'
    CHECK (waf_new_site_mode IN ('block', 'detect'));

-- +goose Down
ALTER TABLE partners DROP COLUMN waf_new_site_mode;
DROP TRIGGER waf_patches_config_delete;
DROP TRIGGER waf_patches_config_update;
DROP TRIGGER waf_patches_config_insert;
DROP TABLE waf_patches;
