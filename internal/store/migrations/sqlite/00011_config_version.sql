-- +goose Up
-- One number that grows with every change the decision engine must see,
-- bumped by triggers in the same transaction as the change; nodes poll it
-- (SQLite has no LISTEN), so a change made by another process (palisade
-- partner ..., a second server on the same file) is seen within a second.
CREATE TABLE config_version (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    version    INTEGER NOT NULL,
    changed_at TEXT NOT NULL
);
INSERT INTO config_version (id, version, changed_at) VALUES (1, 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

-- +goose StatementBegin
CREATE TRIGGER websites_config_insert AFTER INSERT ON websites BEGIN
    UPDATE config_version SET version = version + 1, changed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER websites_config_delete AFTER DELETE ON websites BEGIN
    UPDATE config_version SET version = version + 1, changed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER websites_config_update AFTER UPDATE OF domain, partner_id, status, server_key_hash, settings ON websites BEGIN
    UPDATE config_version SET version = version + 1, changed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER partners_config_update AFTER UPDATE OF name, lists, brand_name, brand_logo ON partners BEGIN
    UPDATE config_version SET version = version + 1, changed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER meta_config_insert AFTER INSERT ON meta WHEN NEW.key = 'challenge_keys' BEGIN
    UPDATE config_version SET version = version + 1, changed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER meta_config_update AFTER UPDATE ON meta WHEN NEW.key = 'challenge_keys' BEGIN
    UPDATE config_version SET version = version + 1, changed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER meta_config_update;
DROP TRIGGER meta_config_insert;
DROP TRIGGER partners_config_update;
DROP TRIGGER websites_config_update;
DROP TRIGGER websites_config_delete;
DROP TRIGGER websites_config_insert;
DROP TABLE config_version;
