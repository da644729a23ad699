-- +goose Up
-- Scan agents (issue 22): `palisade agent` runs on a web server and scans
-- the document roots there for Palisade. A partner creates an agent with a
-- name; its key is shown once and kept here as a SHA-256 hash. A revoked
-- agent keeps its row (revoked_at) so that its name stays in the audit
-- trail; a new agent may take the name of a revoked one.
CREATE TABLE scan_agents (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_id  BIGINT NOT NULL REFERENCES partners(id),
    name        TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    key_prefix  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ,
    seen_at     TIMESTAMPTZ
);
CREATE UNIQUE INDEX scan_agents_name ON scan_agents(partner_id, name) WHERE revoked_at IS NULL;
CREATE INDEX scan_agents_partner ON scan_agents(partner_id, id);

-- The agent a job is for ('' for the nodes' own workers): a job of a
-- website whose files are on an agent is leased by that agent of the
-- website's partner only, and never by a node.
ALTER TABLE scan_jobs ADD COLUMN agent TEXT NOT NULL DEFAULT '';
CREATE INDEX scan_jobs_agent_queue ON scan_jobs(partner_id, agent, state, created_at, id);

-- +goose Down
DROP INDEX scan_jobs_agent_queue;
ALTER TABLE scan_jobs DROP COLUMN agent;
DROP TABLE scan_agents;
