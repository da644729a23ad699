-- +goose Up
-- The website firewall (issue 19). An event keeps what the firewall found:
-- the attack class on its own (to filter by) and the whole finding as JSON
-- (core.EventWAF: mode, blocked, score, class, rules). Earlier events have
-- neither. Columns added to the partitioned events table reach every
-- partition, and palisade_events_partition copies rows with SELECT *, so
-- it keeps working.
ALTER TABLE events ADD COLUMN waf_class TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN waf TEXT NOT NULL DEFAULT '';

-- Firewall decisions counted per website, minute and attack class:
-- blocked (the firewall denied the request) and detected (it matched and
-- only recorded: detect mode, monitor mode, or below the threshold).
CREATE TABLE waf_stats (
    website_id BIGINT NOT NULL,
    partner_id BIGINT NOT NULL,
    minute     TIMESTAMPTZ NOT NULL,
    class      TEXT NOT NULL,
    blocked    BIGINT NOT NULL DEFAULT 0,
    detected   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (website_id, minute, class)
);
CREATE INDEX waf_stats_minute ON waf_stats(minute);

-- A plan (a reseller's package) includes the website firewall or not; the
-- plans there are include it.
ALTER TABLE plans ADD COLUMN waf BOOLEAN NOT NULL DEFAULT TRUE;

-- Whether a website has the firewall now depends on its plan: moving a
-- website to another plan, or changing what a plan includes, is a change
-- every node must load.
CREATE TRIGGER websites_config_plan AFTER UPDATE OF plan_id ON websites
    FOR EACH STATEMENT EXECUTE FUNCTION palisade_config_changed();
CREATE TRIGGER plans_config_waf AFTER UPDATE OF waf ON plans
    FOR EACH STATEMENT EXECUTE FUNCTION palisade_config_changed();

-- +goose Down
DROP TRIGGER plans_config_waf ON plans;
DROP TRIGGER websites_config_plan ON websites;
ALTER TABLE plans DROP COLUMN waf;
DROP TABLE waf_stats;
ALTER TABLE events DROP COLUMN waf;
ALTER TABLE events DROP COLUMN waf_class;
