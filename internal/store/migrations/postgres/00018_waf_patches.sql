-- +goose Up
-- Virtual patches (issue 19): rules the operator (partner_id NULL: every
-- website) or a partner (its websites) pushes at once, with a name, a
-- reason and an expiry. Exactly one of seclang and rule (the project's
-- own form, JSON of waf.PatchRule) is set. A deleted patch is deleted;
-- the audit log keeps who pushed and removed what.
CREATE TABLE waf_patches (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_id BIGINT REFERENCES partners(id),
    name       TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    seclang    TEXT NOT NULL DEFAULT '',
    rule       TEXT NOT NULL DEFAULT '',
    expires_at TIMESTAMPTZ,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    CHECK ((seclang = '') <> (rule = ''))
);
CREATE INDEX waf_patches_partner ON waf_patches(partner_id);

-- Every node loads the patches: each change moves config_version and
-- notifies (palisade_config_changed, 00011).
CREATE TRIGGER waf_patches_config_change AFTER INSERT OR UPDATE OR DELETE ON waf_patches
    FOR EACH STATEMENT EXECUTE FUNCTION palisade_config_changed();

-- The website-firewall mode a partner's new websites get: block (the
-- default for everyone) or detect (record only). Existing websites keep
-- theirs.
ALTER TABLE partners ADD COLUMN waf_new_site_mode TEXT NOT NULL DEFAULT 'block'
    CHECK (waf_new_site_mode IN ('block', 'detect'));

-- +goose Down
ALTER TABLE partners DROP COLUMN waf_new_site_mode;
DROP TRIGGER waf_patches_config_change ON waf_patches;
DROP TABLE waf_patches;
