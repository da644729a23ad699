-- +goose Up
-- Scanning (issue 22): jobs that a fleet shares through leases, and what
-- they find. At most one job runs per website and at most one job of each
-- kind is queued or running per website: partial unique indexes, so that
-- two nodes claiming at once cannot both win.
CREATE TABLE scan_jobs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_id  BIGINT NOT NULL REFERENCES partners(id),
    website_id  BIGINT NOT NULL REFERENCES websites(id),
    kind        TEXT NOT NULL CHECK (kind IN ('files', 'database', 'patch', 'backup')),
    state       TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    triggered_by TEXT NOT NULL DEFAULT 'on_demand' CHECK (triggered_by IN ('schedule', 'on_demand')),
    owner       TEXT NOT NULL DEFAULT '',
    lease_until TIMESTAMPTZ,
    attempts    INTEGER NOT NULL DEFAULT 0,
    summary     TEXT NOT NULL DEFAULT '',
    error       TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    started_at  TIMESTAMPTZ,
    finished_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX scan_jobs_one_running ON scan_jobs(website_id) WHERE state = 'running';
CREATE UNIQUE INDEX scan_jobs_one_pending ON scan_jobs(website_id, kind) WHERE state IN ('queued', 'running');
CREATE INDEX scan_jobs_queue ON scan_jobs(state, created_at, id);
CREATE INDEX scan_jobs_website ON scan_jobs(partner_id, website_id, id);

CREATE TABLE scan_findings (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_id    BIGINT NOT NULL REFERENCES partners(id),
    website_id    BIGINT NOT NULL REFERENCES websites(id),
    kind          TEXT NOT NULL CHECK (kind IN ('files', 'database', 'patch')),
    location      TEXT NOT NULL,
    signature     TEXT NOT NULL,
    class         TEXT NOT NULL DEFAULT '',
    severity      TEXT NOT NULL DEFAULT '',
    sha256        TEXT NOT NULL DEFAULT '',
    detail        TEXT NOT NULL DEFAULT '',
    state         TEXT NOT NULL CHECK (state IN ('open', 'quarantined', 'cleaned', 'ignored', 'resolved')),
    quarantine_id TEXT NOT NULL DEFAULT '',
    job_id        BIGINT NOT NULL DEFAULT 0,
    first_seen    TIMESTAMPTZ NOT NULL,
    last_seen     TIMESTAMPTZ NOT NULL,
    changed_at    TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX scan_findings_key ON scan_findings(website_id, kind, location, signature);
CREATE INDEX scan_findings_website ON scan_findings(partner_id, website_id, id);

-- Where a website's files, database and backup repository are (JSON of
-- core.ScanSettings with its secrets sealed by the master key); set by the
-- website's partner only.
CREATE TABLE scan_settings (
    website_id BIGINT PRIMARY KEY REFERENCES websites(id),
    partner_id BIGINT NOT NULL REFERENCES partners(id),
    settings   TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE scan_settings;
DROP TABLE scan_findings;
DROP TABLE scan_jobs;
