package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/palisadehq/palisade/internal/core"
)

// ---- scanning: jobs and findings (core.ScanTx) ----

const scanJobCols = "id, partner_id, website_id, kind, state, triggered_by, owner, lease_until, attempts, summary, error, created_at, started_at, finished_at, params, target, agent"

func scanJobRow(sc interface{ Scan(...any) error }) (core.ScanJob, error) {
	var j core.ScanJob
	var kind string
	err := sc.Scan(&j.ID, &j.PartnerID, &j.WebsiteID, &kind, &j.State, &j.Trigger, &j.Owner, nullTimeCol{&j.LeaseUntil}, &j.Attempts,
		&j.Summary, &j.Error, timeCol{&j.CreatedAt}, nullTimeCol{&j.StartedAt}, nullTimeCol{&j.FinishedAt}, &j.Params, &j.Target, &j.Agent)
	j.Kind = core.ScanKind(kind)
	return j, err
}

func (t *tx) InsertScanJob(ctx context.Context, j *core.ScanJob) error {
	if !j.Kind.Valid() {
		return core.Errorf(core.EINVALID, "unknown scan kind %q", j.Kind)
	}
	if j.Trigger == "" {
		j.Trigger = "on_demand"
	}
	j.State, j.Attempts, j.Owner, j.LeaseUntil, j.StartedAt, j.FinishedAt = core.JobQueued, 0, "", nil, nil, nil
	id, err := t.insert(ctx, "INSERT INTO scan_jobs (partner_id, website_id, kind, state, triggered_by, created_at, params, target, agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
		j.PartnerID, j.WebsiteID, string(j.Kind), j.State, j.Trigger, j.CreatedAt, j.Params, j.Target, j.Agent)
	if _, ok := t.d.uniqueViolation(err); ok {
		if j.Target != "" {
			return core.Errorf(core.ECONFLICT, "a %s job for %s is already queued or running for this website", j.Kind, j.Target)
		}
		return core.Errorf(core.ECONFLICT, "a %s job is already queued or running for this website", j.Kind)
	}
	j.ID = id
	return err
}

// ClaimScanJob claims for a node: never a job queued for a scan agent.
func (t *tx) ClaimScanJob(ctx context.Context, owner string, now time.Time, lease time.Duration) (core.ScanJob, error) {
	return t.claimScanJob(ctx, owner, now, lease, "j.agent = ''")
}

// ClaimAgentScanJob claims for the partner's agent named agent: only the
// files and action jobs queued for it.
func (t *tx) ClaimAgentScanJob(ctx context.Context, owner string, now time.Time, lease time.Duration, partnerID int64, agent string) (core.ScanJob, error) {
	if partnerID <= 0 || agent == "" {
		return core.ScanJob{}, core.Errorf(core.EINVALID, "an agent's claim needs its partner and name")
	}
	return t.claimScanJob(ctx, owner, now, lease, "j.partner_id = $4 AND j.agent = $5 AND j.kind IN ('files', 'action')", partnerID, agent)
}

// claimScanJob claims the oldest queued job matching where (on scan_jobs
// j; its arguments are $4 onwards).
func (t *tx) claimScanJob(ctx context.Context, owner string, now time.Time, lease time.Duration, where string, args ...any) (core.ScanJob, error) {
	if owner == "" || lease <= 0 {
		return core.ScanJob{}, core.Errorf(core.EINVALID, "a claim needs an owner and a lease")
	}
	// Leases that ran out: the job goes back to the queue, or fails once
	// it was claimed MaxScanAttempts times.
	if _, err := t.exec(ctx, "UPDATE scan_jobs SET state = CASE WHEN attempts >= $1 THEN 'failed' ELSE 'queued' END, "+
		"error = CASE WHEN attempts >= $1 THEN 'the node running it stopped answering (lease ran out) ' || attempts || ' times' ELSE error END, "+
		"finished_at = CASE WHEN attempts >= $1 THEN $2 ELSE finished_at END, owner = '', lease_until = NULL "+
		"WHERE state = 'running' AND lease_until < $2", core.MaxScanAttempts, now); err != nil {
		return core.ScanJob{}, err
	}
	row := t.queryRow(ctx, "UPDATE scan_jobs SET state = 'running', owner = $1, lease_until = $2, attempts = attempts + 1, started_at = $3 "+
		"WHERE state = 'queued' AND id = (SELECT j.id FROM scan_jobs j WHERE j.state = 'queued' AND "+where+" "+
		"AND NOT EXISTS (SELECT 1 FROM scan_jobs r WHERE r.website_id = j.website_id AND r.state = 'running') "+
		"ORDER BY j.created_at, j.id LIMIT 1) RETURNING "+scanJobCols, append([]any{owner, now.Add(lease), now}, args...)...)
	j, err := scanJobRow(row)
	if _, ok := t.d.uniqueViolation(err); ok {
		return core.ScanJob{}, core.Errorf(core.ECONFLICT, "another node claimed a job of this website at the same time")
	}
	if errors.Is(err, sql.ErrNoRows) {
		return core.ScanJob{}, core.Errorf(core.ENOTFOUND, "no scan job to claim")
	}
	return j, err
}

func (t *tx) RenewScanJob(ctx context.Context, id int64, owner string, until time.Time) error {
	res, err := t.exec(ctx, "UPDATE scan_jobs SET lease_until = $1 WHERE id = $2 AND owner = $3 AND state = 'running'", until, id, owner)
	return lostLease(res, err, id)
}

func (t *tx) FinishScanJob(ctx context.Context, id int64, owner, state, summary, errMsg string, at time.Time) error {
	if state != core.JobDone && state != core.JobFailed {
		return core.Errorf(core.EINVALID, "a job finishes done or failed, not %q", state)
	}
	res, err := t.exec(ctx, "UPDATE scan_jobs SET state = $1, summary = $2, error = $3, finished_at = $4, lease_until = NULL "+
		"WHERE id = $5 AND owner = $6 AND state = 'running'", state, summary, errMsg, at, id, owner)
	return lostLease(res, err, id)
}

func (t *tx) ScanJobHeld(ctx context.Context, id int64, owner string) error {
	var one int
	err := t.queryRow(ctx, "SELECT 1 FROM scan_jobs WHERE id = $1 AND owner = $2 AND state = 'running'"+t.d.lock(), id, owner).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return core.Errorf(core.ECONFLICT, "scan job %d is not running under this node's lease any more", id)
	}
	return err
}

// lostLease turns an update of no row into ECONFLICT: the job is not (any
// more) the caller's.
func lostLease(res sql.Result, err error, id int64) error {
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return core.Errorf(core.ECONFLICT, "scan job %d is not running under this node's lease any more", id)
	}
	return nil
}

func (t *tx) ScanJob(ctx context.Context, partnerID, id int64) (core.ScanJob, error) {
	j, err := scanJobRow(t.queryRow(ctx, "SELECT "+scanJobCols+" FROM scan_jobs WHERE partner_id = $1 AND id = $2", partnerID, id))
	return j, notFound(err, "scan job")
}

func (t *tx) ScanJobs(ctx context.Context, partnerID, websiteID int64, kind core.ScanKind, limit int) ([]core.ScanJob, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	q := "SELECT " + scanJobCols + " FROM scan_jobs WHERE partner_id = $1 AND website_id = $2"
	args := []any{partnerID, websiteID}
	if kind != "" {
		q += " AND kind = $3"
		args = append(args, string(kind))
	}
	rows, err := t.query(ctx, q+" ORDER BY id DESC LIMIT "+itoa(limit), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.ScanJob
	for rows.Next() {
		j, err := scanJobRow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

const findingCols = "id, partner_id, website_id, kind, location, signature, class, severity, sha256, detail, state, quarantine_id, job_id, first_seen, last_seen, changed_at"

func findingRow(sc interface{ Scan(...any) error }) (core.Finding, error) {
	var f core.Finding
	var kind string
	err := sc.Scan(&f.ID, &f.PartnerID, &f.WebsiteID, &kind, &f.Location, &f.Signature, &f.Class, &f.Severity, &f.SHA256, &f.Detail,
		&f.State, &f.QuarantineID, &f.JobID, timeCol{&f.FirstSeen}, timeCol{&f.LastSeen}, timeCol{&f.ChangedAt})
	f.Kind = core.ScanKind(kind)
	return f, err
}

func (t *tx) SaveFinding(ctx context.Context, f *core.Finding) (bool, error) {
	if f.Kind != core.ScanFiles && f.Kind != core.ScanDatabase && f.Kind != core.ScanPatch {
		return false, core.Errorf(core.EINVALID, "findings are of files, database or patch scans, not %q", f.Kind)
	}
	if f.Location == "" || f.Signature == "" {
		return false, core.Errorf(core.EINVALID, "a finding needs a location and a signature")
	}
	old, err := findingRow(t.queryRow(ctx, "SELECT "+findingCols+" FROM scan_findings WHERE website_id = $1 AND kind = $2 AND location = $3 AND signature = $4"+t.d.lock(),
		f.WebsiteID, string(f.Kind), f.Location, f.Signature))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		f.State, f.QuarantineID, f.FirstSeen, f.ChangedAt = core.FindingOpen, "", f.LastSeen, f.LastSeen
		id, err := t.insert(ctx, "INSERT INTO scan_findings (partner_id, website_id, kind, location, signature, class, severity, sha256, detail, state, job_id, first_seen, last_seen, changed_at) "+
			"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
			f.PartnerID, f.WebsiteID, string(f.Kind), f.Location, f.Signature, f.Class, f.Severity, f.SHA256, f.Detail, f.State, f.JobID, f.FirstSeen, f.LastSeen, f.ChangedAt)
		f.ID = id
		return err == nil, err
	case err != nil:
		return false, err
	case old.PartnerID != f.PartnerID:
		return false, core.Errorf(core.ENOTFOUND, "finding not found")
	}
	// Seen again: open again, unless the customer ignored this very
	// content (an ignored file that changed is looked at again).
	state, qid, changed := core.FindingOpen, "", f.LastSeen
	if old.State == core.FindingOpen || (old.State == core.FindingIgnored && old.SHA256 == f.SHA256) {
		state, qid, changed = old.State, old.QuarantineID, old.ChangedAt
	}
	if _, err := t.exec(ctx, "UPDATE scan_findings SET class = $1, severity = $2, sha256 = $3, detail = $4, state = $5, quarantine_id = $6, job_id = $7, last_seen = $8, changed_at = $9 WHERE id = $10",
		f.Class, f.Severity, f.SHA256, f.Detail, state, qid, f.JobID, f.LastSeen, changed, old.ID); err != nil {
		return false, err
	}
	f.ID, f.State, f.QuarantineID, f.FirstSeen, f.ChangedAt = old.ID, state, qid, old.FirstSeen, changed
	return false, nil
}

func (t *tx) ResolveFindings(ctx context.Context, partnerID, websiteID int64, kind core.ScanKind, jobID int64, at time.Time) (int, error) {
	res, err := t.exec(ctx, "UPDATE scan_findings SET state = 'resolved', changed_at = $1 WHERE partner_id = $2 AND website_id = $3 AND kind = $4 AND state = 'open' AND job_id <> $5",
		at, partnerID, websiteID, string(kind), jobID)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (t *tx) CountJobFindings(ctx context.Context, websiteID, jobID int64) (int, error) {
	var n int
	err := t.queryRow(ctx, "SELECT COUNT(*) FROM scan_findings WHERE website_id = $1 AND job_id = $2", websiteID, jobID).Scan(&n)
	return n, err
}

func (t *tx) Finding(ctx context.Context, partnerID, id int64) (core.Finding, error) {
	f, err := findingRow(t.queryRow(ctx, "SELECT "+findingCols+" FROM scan_findings WHERE partner_id = $1 AND id = $2", partnerID, id))
	return f, notFound(err, "finding")
}

func (t *tx) Findings(ctx context.Context, partnerID, websiteID int64, ff core.FindingFilter) ([]core.Finding, error) {
	q := "SELECT " + findingCols + " FROM scan_findings WHERE partner_id = $1 AND website_id = $2 AND id > $3"
	args := []any{partnerID, websiteID, ff.After}
	if ff.Kind != "" {
		args = append(args, string(ff.Kind))
		q += " AND kind = $" + itoa(len(args))
	}
	if ff.State != "" {
		args = append(args, ff.State)
		q += " AND state = $" + itoa(len(args))
	}
	q += " ORDER BY id"
	if ff.Limit > 0 {
		q += " LIMIT " + itoa(ff.Limit)
	}
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.Finding
	for rows.Next() {
		f, err := findingRow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

func (t *tx) SetFindingState(ctx context.Context, partnerID, id int64, state, quarantineID string, at time.Time) error {
	if !core.ValidFindingState(state) {
		return core.Errorf(core.EINVALID, "unknown finding state %q", state)
	}
	if (state == core.FindingQuarantined && quarantineID == "") || (quarantineID != "" && state != core.FindingQuarantined && state != core.FindingCleaned) {
		return core.Errorf(core.EINVALID, "a quarantined finding names its quarantine entry, a cleaned one may (its original), no other does")
	}
	res, err := t.exec(ctx, "UPDATE scan_findings SET state = $1, quarantine_id = $2, changed_at = $3 WHERE partner_id = $4 AND id = $5",
		state, quarantineID, at, partnerID, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return core.Errorf(core.ENOTFOUND, "finding not found")
	}
	return nil
}

func (t *tx) ScanSettings(ctx context.Context, partnerID, websiteID int64) (string, error) {
	var s string
	err := t.queryRow(ctx, "SELECT settings FROM scan_settings WHERE partner_id = $1 AND website_id = $2", partnerID, websiteID).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return s, err
}

func (t *tx) SetScanSettings(ctx context.Context, partnerID, websiteID int64, settings string, at time.Time) error {
	res, err := t.exec(ctx, "INSERT INTO scan_settings (website_id, partner_id, settings, updated_at) SELECT id, partner_id, $1, $2 FROM websites WHERE id = $3 AND partner_id = $4 "+
		"ON CONFLICT (website_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at WHERE scan_settings.partner_id = excluded.partner_id",
		settings, at, websiteID, partnerID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return core.Errorf(core.ENOTFOUND, "website not found")
	}
	return nil
}

// AllScanSettings returns the settings of every website that is not
// deleted (a deleted website's folders are free again; its jobs are not
// run). On PostgreSQL it first locks scan_settings against other writers
// until the transaction ends: the caller checks a change against every
// other website's settings and then saves it, and two such transactions
// reading before either wrote would both save the same folder. (SQLite's
// single writer connection serialises them already.)
func (t *tx) AllScanSettings(ctx context.Context) ([]core.StoredScanSettings, error) {
	if t.d.name() == "postgres" {
		if _, err := t.exec(ctx, "LOCK TABLE scan_settings IN SHARE ROW EXCLUSIVE MODE"); err != nil {
			return nil, err
		}
	}
	rows, err := t.query(ctx, "SELECT s.partner_id, s.website_id, s.settings FROM scan_settings s JOIN websites w ON w.id = s.website_id "+
		"WHERE w.status <> 'deleted' ORDER BY s.website_id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.StoredScanSettings
	for rows.Next() {
		var s core.StoredScanSettings
		if err := rows.Scan(&s.PartnerID, &s.WebsiteID, &s.Settings); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
