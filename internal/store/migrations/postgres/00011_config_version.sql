-- +goose Up
-- One number that grows with every change the decision engine must see.
-- Triggers bump it in the same transaction as the change (so a node that
-- reads the new number also reads the change) and pg_notify every node that
-- LISTENs on palisade_config; nodes also poll it, so a missed notification
-- heals itself within a second.
CREATE TABLE config_version (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    version    BIGINT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL
);
INSERT INTO config_version (id, version, changed_at) VALUES (1, 1, now());

-- +goose StatementBegin
CREATE FUNCTION palisade_config_changed() RETURNS trigger AS $$
DECLARE v BIGINT;
BEGIN
    UPDATE config_version SET version = version + 1, changed_at = clock_timestamp() WHERE id = 1 RETURNING version INTO v;
    PERFORM pg_notify('palisade_config', v::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

CREATE TRIGGER websites_config_insert AFTER INSERT OR DELETE ON websites
    FOR EACH STATEMENT EXECUTE FUNCTION palisade_config_changed();
CREATE TRIGGER websites_config_update AFTER UPDATE OF domain, partner_id, status, server_key_hash, settings ON websites
    FOR EACH STATEMENT EXECUTE FUNCTION palisade_config_changed();
CREATE TRIGGER partners_config_update AFTER UPDATE OF name, lists, brand_name, brand_logo ON partners
    FOR EACH STATEMENT EXECUTE FUNCTION palisade_config_changed();
CREATE TRIGGER meta_config_change AFTER INSERT OR UPDATE ON meta
    FOR EACH ROW WHEN (NEW.key = 'challenge_keys') EXECUTE FUNCTION palisade_config_changed();

-- +goose Down
DROP TRIGGER meta_config_change ON meta;
DROP TRIGGER partners_config_update ON partners;
DROP TRIGGER websites_config_update ON websites;
DROP TRIGGER websites_config_insert ON websites;
DROP FUNCTION palisade_config_changed();
DROP TABLE config_version;
