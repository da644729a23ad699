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
UPDATE partners SET allowed_cidrs = COALESCE((
    SELECT k.allowed_cidrs FROM partner_api_keys k WHERE k.partner_id = partners.id ORDER BY k.id LIMIT 1), '');
WITH RECURSIVE split(pid, item, rest) AS (
    SELECT id, '', allowed_cidrs || ',' FROM partners WHERE allowed_cidrs <> ''
    UNION ALL
    SELECT pid, substr(rest, 1, instr(rest, ',') - 1), substr(rest, instr(rest, ',') + 1) FROM split WHERE rest <> ''
), kept(pid, item) AS (
    SELECT pid, item FROM split
    WHERE instr(item, '/') > 1 AND substr(item, instr(item, '/') + 1) NOT GLOB '*[^0-9]*' AND length(substr(item, instr(item, '/') + 1)) BETWEEN 1 AND 3
      AND (instr(item, ':') = 0 AND CAST(substr(item, instr(item, '/') + 1) AS INTEGER) BETWEEN 8 AND 32
        OR instr(item, ':') > 0 AND instr(item, '.') = 0 AND CAST(substr(item, instr(item, '/') + 1) AS INTEGER) BETWEEN 32 AND 128)
)
UPDATE partners SET allowed_cidrs = COALESCE((SELECT group_concat(DISTINCT item) FROM kept WHERE kept.pid = partners.id), '');
-- getAccounts pages a partner's customers by id.
CREATE INDEX subaccounts_partner_id ON subaccounts(partner_id, id) WHERE deleted_at IS NULL;

-- +goose Down
DROP INDEX subaccounts_partner_id;
ALTER TABLE partners DROP COLUMN allowed_cidrs;
