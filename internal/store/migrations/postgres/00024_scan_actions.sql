-- +goose Up
-- Finding actions and backup restores (issue 22) are jobs too: kinds
-- 'action' (quarantine, restore or clean one finding) and 'restore' (a
-- backup put back into the website), with their parameters as JSON in
-- params. What a job acts on is its target ('finding:12' for an action, ''
-- otherwise): one job per website, kind and target is queued or running,
-- so several findings can each have one action pending.
ALTER TABLE scan_jobs DROP CONSTRAINT scan_jobs_kind_check;
ALTER TABLE scan_jobs ADD CONSTRAINT scan_jobs_kind_check CHECK (kind IN ('files', 'database', 'patch', 'backup', 'action', 'restore'));
ALTER TABLE scan_jobs ADD COLUMN params TEXT NOT NULL DEFAULT '';
ALTER TABLE scan_jobs ADD COLUMN target TEXT NOT NULL DEFAULT '';
DROP INDEX scan_jobs_one_pending;
CREATE UNIQUE INDEX scan_jobs_one_pending ON scan_jobs(website_id, kind, target) WHERE state IN ('queued', 'running');

-- +goose Down
DELETE FROM scan_jobs WHERE kind IN ('action', 'restore');
DROP INDEX scan_jobs_one_pending;
CREATE UNIQUE INDEX scan_jobs_one_pending ON scan_jobs(website_id, kind) WHERE state IN ('queued', 'running');
ALTER TABLE scan_jobs DROP COLUMN target;
ALTER TABLE scan_jobs DROP COLUMN params;
ALTER TABLE scan_jobs DROP CONSTRAINT scan_jobs_kind_check;
ALTER TABLE scan_jobs ADD CONSTRAINT scan_jobs_kind_check CHECK (kind IN ('files', 'database', 'patch', 'backup'));
