-- +goose Up
-- Where a partner's keys may be used from, as the operator set it
-- (partner create --allowed-ip, partner allow-ip). A key minted by a
-- partner (console, rotation) must lie within these ranges, and GP and
-- XML requests must come from them.
--
-- Existing partners start from what is certainly the operator's: the
-- ranges of the partner's first key, which partner create made (with
-- --allowed-ip) and only partner allow-ip changed since. Later keys are
-- not trusted: the console let a partner mint unnamed keys with any
-- ranges, and rotation merged every key's ranges, so their ranges may be
-- the partner's own (0.0.0.0/0 included). Only binding ranges are kept
-- (IPv4 /8 to /32, IPv6 /32 to /128; core.IsBinding); an unparsable one is
-- dropped. Operators check the result with palisade partner show
-- (docs/OPERATIONS.md, Upgrading).
ALTER TABLE partners ADD COLUMN allowed_cidrs TEXT NOT NULL DEFAULT '';
UPDATE partners p SET allowed_cidrs = COALESCE((
    SELECT k.allowed_cidrs FROM partner_api_keys k WHERE k.partner_id = p.id ORDER BY k.id LIMIT 1), '');
UPDATE partners p SET allowed_cidrs = COALESCE((
    SELECT string_agg(DISTINCT r, ',') FROM unnest(string_to_array(p.allowed_cidrs, ',')) AS r
    WHERE CASE
        WHEN split_part(r, '/', 1) = '' OR split_part(r, '/', 2) !~ '^[0-9]{1,3}$' THEN false
        WHEN position(':' IN r) > 0 THEN position('.' IN r) = 0 AND split_part(r, '/', 2)::int BETWEEN 32 AND 128
        ELSE split_part(r, '/', 2)::int BETWEEN 8 AND 32
    END), '');
-- getAccounts pages a partner's customers by id.
CREATE INDEX subaccounts_partner_id ON subaccounts(partner_id, id) WHERE deleted_at IS NULL;

-- +goose Down
DROP INDEX subaccounts_partner_id;
ALTER TABLE partners DROP COLUMN allowed_cidrs;
