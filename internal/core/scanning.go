package core

import (
	"context"
	"time"
)

// Scanning (issue 22): the file scan (SMART), the database scan (SMART
// Database), the patch check (SMART Patch) and backups run as jobs in the
// store, so that a fleet of nodes shares them: a node claims a job with a
// lease (ClaimScanJob), renews the lease while it works and finishes the
// job; a node that dies leaves a lease that runs out, and the job is
// queued again (at most MaxScanAttempts times). At most one job runs per
// website at a time across the fleet, and at most one job of each kind is
// queued or running per website: both are unique indexes in the store, not
// only checks in code. What a job finds is a Finding, kept per website,
// kind, location and signature, so that a file found again is the same
// finding with a new last_seen.

// ScanKind is what a job does.
type ScanKind string

const (
	ScanFiles    ScanKind = "files"    // malware in the website's files (clamd)
	ScanDatabase ScanKind = "database" // injected content in the website's database
	ScanPatch    ScanKind = "patch"    // outdated and vulnerable CMS components
	ScanBackup   ScanKind = "backup"   // a backup of files and database (restic)
	// Jobs that change a website rather than look at it (scan_actions.go):
	ScanAction  ScanKind = "action"  // quarantine, restore or clean one finding (Params: FindingAction)
	ScanRestore ScanKind = "restore" // put a backup back into the website (Params: RestoreRequest)
	// ScanUpdate (scan_update.go): the CMS's updater for one component.
)

// Valid reports whether k is one of the kinds above.
func (k ScanKind) Valid() bool {
	switch k {
	case ScanFiles, ScanDatabase, ScanPatch, ScanBackup, ScanAction, ScanRestore, ScanUpdate:
		return true
	}
	return false
}

// Scan reports whether k is a kind RequestScan queues (a scan or a
// backup), not an action with parameters.
func (k ScanKind) Scan() bool {
	switch k {
	case ScanFiles, ScanDatabase, ScanPatch, ScanBackup:
		return true
	}
	return false
}

// The states of a scan job.
const (
	JobQueued  = "queued"
	JobRunning = "running"
	JobDone    = "done"
	JobFailed  = "failed"
)

// MaxScanAttempts is how many times a job is claimed before a lease that
// ran out fails it instead of queueing it again.
const MaxScanAttempts = 3

// ScanJob is one run of a scan or a backup for one website.
type ScanJob struct {
	ID        int64
	PartnerID int64
	WebsiteID int64
	Kind      ScanKind
	State     string // JobQueued, JobRunning, JobDone, JobFailed
	Trigger   string // "schedule" or "on_demand"
	// Params are an action's or a restore's parameters (JSON of
	// FindingAction or RestoreRequest), "" for scans.
	Params string
	// Target is what the job acts on ("finding:12" for an action), "" for
	// the others: one job per website, kind and target is queued or
	// running at a time.
	Target string
	// Agent is the scan agent (its name) the job is for: a files job of a
	// website whose files are on an agent (scan_agents.go); "" for the
	// nodes' own workers.
	Agent      string
	Owner      string // the node holding the lease while running
	LeaseUntil *time.Time
	Attempts   int
	Summary    string // JSON: what the job did (files seen, findings, snapshot...)
	Error      string // why it failed
	CreatedAt  time.Time
	StartedAt  *time.Time
	FinishedAt *time.Time
}

// The states of a finding.
const (
	FindingOpen        = "open"
	FindingQuarantined = "quarantined" // moved aside, restorable
	FindingCleaned     = "cleaned"     // the injection removed, the original kept
	FindingIgnored     = "ignored"     // the customer says it is not malware
	FindingResolved    = "resolved"    // not found any more by a later scan
)

// ValidFindingState reports whether s is one of the states above.
func ValidFindingState(s string) bool {
	switch s {
	case FindingOpen, FindingQuarantined, FindingCleaned, FindingIgnored, FindingResolved:
		return true
	}
	return false
}

// Finding is something a scan found on a website.
type Finding struct {
	ID           int64
	PartnerID    int64
	WebsiteID    int64
	Kind         ScanKind // ScanFiles, ScanDatabase or ScanPatch
	Location     string   // a file's path, a database row ("wp_posts/123"), a component ("plugin:contact-form-7")
	Signature    string   // the signature or advisory
	Class        string   // webshell, obfuscated, skimmer, redirect, seo_spam, htaccess, vulnerable, outdated, ...
	Severity     string   // critical, high, medium, low
	SHA256       string   // of the file or the value, when there is one
	Detail       string   // JSON: what else the scan said (fixed version, matched data, ...)
	State        string
	QuarantineID string // the quarantine entry: the file while quarantined, its original once cleaned
	JobID        int64  // the job that last saw it
	FirstSeen    time.Time
	LastSeen     time.Time
	ChangedAt    time.Time // of the state
}

// FindingFilter narrows Tx.Findings. Zero fields do not filter.
type FindingFilter struct {
	Kind  ScanKind
	State string
	After int64 // cursor: IDs greater than this
	Limit int   // 0: no limit
}

// ScanTx is the scanning aggregate's part of Tx.
type ScanTx interface {
	// InsertScanJob queues j (State, Attempts, Owner and the times but
	// CreatedAt are set by the store). ECONFLICT when the website has a
	// job of that kind queued or running.
	InsertScanJob(ctx context.Context, j *ScanJob) error
	// ClaimScanJob gives owner the oldest queued job of a website with no
	// job running, running until now+lease. Jobs whose lease ran out are
	// queued again first, or failed after MaxScanAttempts. ENOTFOUND when
	// there is nothing to claim; ECONFLICT when another node claimed
	// concurrently (try again).
	ClaimScanJob(ctx context.Context, owner string, now time.Time, lease time.Duration) (ScanJob, error)
	// RenewScanJob moves the lease of a job owner still holds; ECONFLICT
	// when it lost it.
	RenewScanJob(ctx context.Context, id int64, owner string, until time.Time) error
	// ScanJobHeld checks, holding the job's row until the transaction
	// ends, that owner still runs the job; ECONFLICT when not.
	ScanJobHeld(ctx context.Context, id int64, owner string) error
	// FinishScanJob ends a job owner holds, as JobDone or JobFailed;
	// ECONFLICT when it lost the lease.
	FinishScanJob(ctx context.Context, id int64, owner, state, summary, errMsg string, at time.Time) error
	// ScanJob loads one of the partner's jobs.
	ScanJob(ctx context.Context, partnerID, id int64) (ScanJob, error)
	// ScanJobs lists a website's jobs, newest first, at most limit.
	ScanJobs(ctx context.Context, partnerID, websiteID int64, kind ScanKind, limit int) ([]ScanJob, error)

	// SaveFinding records what a job found: a new finding, or the same
	// (website, kind, location, signature) seen again, whose last_seen,
	// job, severity, class, hash and detail are updated. A finding seen
	// again is open again unless it is ignored with the same hash. created
	// says whether it is new.
	SaveFinding(ctx context.Context, f *Finding) (created bool, err error)
	// ResolveFindings marks the website's open findings of kind that job
	// did not see as resolved, and returns how many.
	ResolveFindings(ctx context.Context, partnerID, websiteID int64, kind ScanKind, jobID int64, at time.Time) (int, error)
	// CountJobFindings counts the website's findings last recorded by
	// job jobID.
	CountJobFindings(ctx context.Context, websiteID, jobID int64) (int, error)
	// Finding loads one of the partner's findings.
	Finding(ctx context.Context, partnerID, id int64) (Finding, error)
	// Findings lists a website's findings by ID.
	Findings(ctx context.Context, partnerID, websiteID int64, f FindingFilter) ([]Finding, error)
	// SetFindingState changes a finding's state (and quarantine entry).
	SetFindingState(ctx context.Context, partnerID, id int64, state, quarantineID string, at time.Time) error
	// ScanScheduleCandidates lists, across partners, the websites that
	// are set up or online and have scan settings, with when the last job
	// of each kind was queued: for QueueDueScans only.
	ScanScheduleCandidates(ctx context.Context) ([]ScheduleCandidate, error)
}

// ScheduleCandidate is one website QueueDueScans looks at.
type ScheduleCandidate struct {
	PartnerID, WebsiteID int64
	Settings             string                 // the stored settings (secrets sealed)
	Last                 map[ScanKind]time.Time // when the last job of each kind was queued; absent: never
}
