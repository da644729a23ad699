-- +goose Up
-- Updates (issue 22, SMART Patch) are jobs too: kind 'update' runs the
-- operator's update command for one component the last patch check
-- reported, after a backup, with its parameters as JSON in params. SQLite
-- cannot change a CHECK constraint: the table is built again.
CREATE TABLE scan_jobs_new (
    id          INTEGER PRIMARY KEY,
    partner_id  INTEGER NOT NULL REFERENCES partners(id),
    website_id  INTEGER NOT NULL REFERENCES websites(id),
    kind        TEXT NOT NULL CHECK (kind IN ('files', 'database', 'patch', 'backup', 'action', 'restore', 'update')),
    state       TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    triggered_by TEXT NOT NULL DEFAULT 'on_demand' CHECK (triggered_by IN ('schedule', 'on_demand')),
    owner       TEXT NOT NULL DEFAULT '',
    lease_until TIMESTAMP,
    attempts    INTEGER NOT NULL DEFAULT 0,
    summary     TEXT NOT NULL DEFAULT '',
    error       TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    started_at  TIMESTAMP,
    finished_at TIMESTAMP,
    params      TEXT NOT NULL DEFAULT '',
    target      TEXT NOT NULL DEFAULT '',
    agent       TEXT NOT NULL DEFAULT ''
);
INSERT INTO scan_jobs_new (id, partner_id, website_id, kind, state, triggered_by, owner, lease_until, attempts, summary, error, created_at, started_at, finished_at, params, target, agent)
    SELECT id, partner_id, website_id, kind, state, triggered_by, owner, lease_until, attempts, summary, error, created_at, started_at, finished_at, params, target, agent FROM scan_jobs;
DROP TABLE scan_jobs;
ALTER TABLE scan_jobs_new RENAME TO scan_jobs;
CREATE UNIQUE INDEX scan_jobs_one_running ON scan_jobs(website_id) WHERE state = 'running';
CREATE UNIQUE INDEX scan_jobs_one_pending ON scan_jobs(website_id, kind, target) WHERE state IN ('queued', 'running');
CREATE INDEX scan_jobs_queue ON scan_jobs(state, created_at, id);
CREATE INDEX scan_jobs_website ON scan_jobs(partner_id, website_id, id);
CREATE INDEX scan_jobs_agent_queue ON scan_jobs(partner_id, agent, state, created_at, id);

-- +goose Down
DELETE FROM scan_jobs WHERE kind = 'update';
CREATE TABLE scan_jobs_new (
    id          INTEGER PRIMARY KEY,
    partner_id  INTEGER NOT NULL REFERENCES partners(id),
    website_id  INTEGER NOT NULL REFERENCES websites(id),
    kind        TEXT NOT NULL CHECK (kind IN ('files', 'database', 'patch', 'backup', 'action', 'restore')),
    state       TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    triggered_by TEXT NOT NULL DEFAULT 'on_demand' CHECK (triggered_by IN ('schedule', 'on_demand')),
    owner       TEXT NOT NULL DEFAULT '',
    lease_until TIMESTAMP,
    attempts    INTEGER NOT NULL DEFAULT 0,
    summary     TEXT NOT NULL DEFAULT '',
    error       TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    started_at  TIMESTAMP,
    finished_at TIMESTAMP,
    params      TEXT NOT NULL DEFAULT '',
    target      TEXT NOT NULL DEFAULT '',
    agent       TEXT NOT NULL DEFAULT ''
);
INSERT INTO scan_jobs_new (id, partner_id, website_id, kind, state, triggered_by, owner, lease_until, attempts, summary, error, created_at, started_at, finished_at, params, target, agent)
    SELECT id, partner_id, website_id, kind, state, triggered_by, owner, lease_until, attempts, summary, error, created_at, started_at, finished_at, params, target, agent FROM scan_jobs;
DROP TABLE scan_jobs;
ALTER TABLE scan_jobs_new RENAME TO scan_jobs;
CREATE UNIQUE INDEX scan_jobs_one_running ON scan_jobs(website_id) WHERE state = 'running';
CREATE UNIQUE INDEX scan_jobs_one_pending ON scan_jobs(website_id, kind, target) WHERE state IN ('queued', 'running');
CREATE INDEX scan_jobs_queue ON scan_jobs(state, created_at, id);
CREATE INDEX scan_jobs_website ON scan_jobs(partner_id, website_id, id);
CREATE INDEX scan_jobs_agent_queue ON scan_jobs(partner_id, agent, state, created_at, id);
