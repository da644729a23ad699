-- +goose Up
-- Updates (issue 22, SMART Patch) are jobs too: kind 'update' runs the
-- operator's update command for one component the last patch check
-- reported, after a backup, with its parameters as JSON in params.
ALTER TABLE scan_jobs DROP CONSTRAINT scan_jobs_kind_check;
ALTER TABLE scan_jobs ADD CONSTRAINT scan_jobs_kind_check CHECK (kind IN ('files', 'database', 'patch', 'backup', 'action', 'restore', 'update'));

-- +goose Down
DELETE FROM scan_jobs WHERE kind = 'update';
ALTER TABLE scan_jobs DROP CONSTRAINT scan_jobs_kind_check;
ALTER TABLE scan_jobs ADD CONSTRAINT scan_jobs_kind_check CHECK (kind IN ('files', 'database', 'patch', 'backup', 'action', 'restore'));
