-- +goose Up
-- Where a partner's keys may be used from, as the operator set it
-- (partner create --allowed-ip, partner allow-ip). A key minted by a
-- partner (console, rotation) must lie within these ranges, and GP and
-- XML requests must come from them. Existing partners start from the
-- ranges of their unnamed keys, which only the operator's commands made.
ALTER TABLE partners ADD COLUMN allowed_cidrs TEXT NOT NULL DEFAULT '';
UPDATE partners SET allowed_cidrs = COALESCE((
    SELECT string_agg(k.allowed_cidrs, ',') FROM partner_api_keys k
    WHERE k.partner_id = partners.id AND k.revoked_at IS NULL AND k.name = '' AND k.allowed_cidrs <> ''), '');
-- getAccounts pages a partner's customers by id.
CREATE INDEX subaccounts_partner_id ON subaccounts(partner_id, id) WHERE deleted_at IS NULL;

-- +goose Down
DROP INDEX subaccounts_partner_id;
ALTER TABLE partners DROP COLUMN allowed_cidrs;
