package client

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"time"
)

// ---- scanning and backups (docs/SCANNING.md) ----

// ScanSettings are a website's scan and backup settings (schema
// ScanSettings). Secrets (the *Password, PrivateKey and S3SecretKey fields)
// are write-only: the server never answers them, only the matching *Set
// flag; on PutScanner an empty secret keeps the stored one and "-" removes
// it.
type ScanSettings struct {
	Files    FileScanSettings   `json:"files"`
	Database DBScanSettings     `json:"database"`
	Patch    PatchScanSettings  `json:"patch"`
	Backup   BackupScanSettings `json:"backup"`
}

// FileScanSettings: the malware scan of the website's files.
type FileScanSettings struct {
	Enabled    bool       `json:"enabled"`
	Source     FileSource `json:"source"`
	EveryHours int        `json:"every_hours"` // 0: on demand only; at most 720
	AutoClean  bool       `json:"auto_clean"`
}

// FileSource is where the website's files are: Kind "local" (Path under
// one of the operator's --scan-root folders), "sftp" (Host, Port, User,
// HostKey and a Password or PrivateKey) or "agent" (Agent: the name of
// your scan agent on the web server, Path: the document root there).
type FileSource struct {
	Kind          string `json:"kind"`
	Path          string `json:"path"`
	Host          string `json:"host,omitempty"`
	Port          int    `json:"port,omitempty"`
	User          string `json:"user,omitempty"`
	HostKey       string `json:"host_key,omitempty"`
	Agent         string `json:"agent,omitempty"`
	Password      string `json:"password,omitempty"`
	PrivateKey    string `json:"private_key,omitempty"`
	PasswordSet   bool   `json:"password_set"`
	PrivateKeySet bool   `json:"private_key_set"`
}

// DBScanSettings: the scan of the website's MySQL/MariaDB database.
type DBScanSettings struct {
	Enabled     bool   `json:"enabled"`
	Host        string `json:"host"`
	Port        int    `json:"port"`
	User        string `json:"user"`
	Name        string `json:"name"`
	TablePrefix string `json:"table_prefix"`
	Password    string `json:"password,omitempty"`
	PasswordSet bool   `json:"password_set"`
	Clean       bool   `json:"clean"`
	EveryHours  int    `json:"every_hours"`
}

// PatchScanSettings: the check of the CMS and its components against the
// vulnerability feed.
type PatchScanSettings struct {
	Enabled    bool `json:"enabled"`
	EveryHours int  `json:"every_hours"`
}

// BackupScanSettings: backups of the files and the database (restic).
type BackupScanSettings struct {
	Enabled               bool   `json:"enabled"`
	Repository            string `json:"repository"`
	RepositoryPassword    string `json:"repository_password,omitempty"`
	RepositoryPasswordSet bool   `json:"repository_password_set"`
	// An sftp: repository's own key (write-only) and its server's public
	// key as in known_hosts.
	RepositoryPrivateKey    string `json:"repository_private_key,omitempty"`
	RepositoryPrivateKeySet bool   `json:"repository_private_key_set"`
	RepositoryHostKey       string `json:"repository_host_key,omitempty"`
	S3AccessKeyID           string `json:"s3_access_key_id,omitempty"`
	S3SecretKey             string `json:"s3_secret_key,omitempty"`
	S3SecretKeySet          bool   `json:"s3_secret_key_set"`
	EveryHours              int    `json:"every_hours"`
	KeepDaily               int    `json:"keep_daily"`
	KeepWeekly              int    `json:"keep_weekly"`
	KeepMonthly             int    `json:"keep_monthly"`
}

// Scanner is a website's settings as GET and PUT .../scanner answer them
// (schema ScannerView).
type Scanner struct {
	Domain   string       `json:"domain"`
	Settings ScanSettings `json:"settings"`
}

// ScanJob is a scan, backup, finding action or restore job (schema
// ScanJob). Summary is what the job did, as the server wrote it.
type ScanJob struct {
	ID         int64           `json:"id"`
	Kind       string          `json:"kind"`  // files, database, patch, backup, action, restore
	State      string          `json:"state"` // queued, running, done, failed
	Trigger    string          `json:"trigger"`
	Target     string          `json:"target,omitempty"`
	Params     json.RawMessage `json:"params,omitempty"`
	Node       string          `json:"node,omitempty"`
	Attempts   int             `json:"attempts"`
	Summary    json.RawMessage `json:"summary,omitempty"`
	Error      string          `json:"error,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	StartedAt  *time.Time      `json:"started_at"`
	FinishedAt *time.Time      `json:"finished_at"`
}

// Finding is something a scan found (schema Finding).
type Finding struct {
	ID           int64           `json:"id"`
	Kind         string          `json:"kind"` // files, database, patch
	Location     string          `json:"location"`
	Signature    string          `json:"signature"`
	Class        string          `json:"class"`
	Severity     string          `json:"severity"` // critical, high, medium, low
	SHA256       string          `json:"sha256,omitempty"`
	Detail       json.RawMessage `json:"detail,omitempty"`
	State        string          `json:"state"` // open, quarantined, cleaned, ignored, resolved
	QuarantineID string          `json:"quarantine_id,omitempty"`
	JobID        int64           `json:"job_id"`
	FirstSeen    time.Time       `json:"first_seen"`
	LastSeen     time.Time       `json:"last_seen"`
	ChangedAt    time.Time       `json:"changed_at"`
}

// Backup is one backup of a website (schema Backup).
type Backup struct {
	JobID            int64     `json:"job_id"`
	Time             time.Time `json:"time"`
	Snapshot         string    `json:"snapshot"`
	ShortID          string    `json:"short_id"`
	Files            int64     `json:"files"`
	Bytes            int64     `json:"bytes"`
	Database         bool      `json:"database"`
	DatabaseSnapshot string    `json:"database_snapshot,omitempty"`
	DatabaseFile     string    `json:"database_file,omitempty"`
	Incomplete       string    `json:"incomplete,omitempty"`
}

// RestoreRequest asks for a backup back (schema RestoreRequest): Path ""
// restores every file, else a file or folder relative to the document
// root; Database also restores the backup's database dump.
type RestoreRequest struct {
	Snapshot string `json:"snapshot"`
	Path     string `json:"path"`
	Database bool   `json:"database"`
}

// FindingFilter narrows Findings.
type FindingFilter struct {
	Kind  string // files, database, patch; "" any
	State string // open, quarantined, cleaned, ignored, resolved; "" any
	ListOptions
}

func scanPath(domain, rest string) string { return "/v1/websites/" + pathEscape(domain) + rest }

// Scanner returns a website's scan and backup settings (secrets as *Set
// flags only).
//
// Operation: GET /v1/websites/{domain}/scanner
func (c *Client) Scanner(ctx context.Context, domain string) (Scanner, error) {
	var out Scanner
	return out, c.call(ctx, "GET", scanPath(domain, "/scanner"), nil, nil, Options{}, &out)
}

// PutScanner replaces a website's scan and backup settings.
//
// Operation: PUT /v1/websites/{domain}/scanner
func (c *Client) PutScanner(ctx context.Context, domain string, s ScanSettings) (Scanner, error) {
	var out Scanner
	return out, c.call(ctx, "PUT", scanPath(domain, "/scanner"), nil, s, Options{}, &out)
}

// StartScan queues a job of kind files, database, patch or backup
// (ErrConflict while one of that kind is queued or running,
// ErrPreconditionFailed when the kind is not switched on).
//
// Operation: POST /v1/websites/{domain}/scans
func (c *Client) StartScan(ctx context.Context, domain, kind string) (ScanJob, error) {
	var out ScanJob
	return out, c.call(ctx, "POST", scanPath(domain, "/scans"), nil, map[string]string{"kind": kind}, Options{}, &out)
}

// ScanJobs lists a website's jobs, newest first: of kind ("" every kind),
// at most limit (0: the server's default).
//
// Operation: GET /v1/websites/{domain}/scans
func (c *Client) ScanJobs(ctx context.Context, domain, kind string, limit int) ([]ScanJob, error) {
	q := url.Values{}
	if kind != "" {
		q.Set("kind", kind)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out struct {
		Data []ScanJob `json:"data"`
	}
	return out.Data, c.call(ctx, "GET", scanPath(domain, "/scans"), q, nil, Options{}, &out)
}

// Findings lists what the scans found on a website, a page at a time.
//
// Operation: GET /v1/websites/{domain}/findings
func (c *Client) Findings(ctx context.Context, domain string, f FindingFilter) (Page[Finding], error) {
	q := listQuery(f.ListOptions)
	if f.Kind != "" {
		q.Set("kind", f.Kind)
	}
	if f.State != "" {
		q.Set("state", f.State)
	}
	var out Page[Finding]
	return out, c.call(ctx, "GET", scanPath(domain, "/findings"), q, nil, Options{}, &out)
}

// IgnoreFinding marks a finding as not malware (ignored true) or opens an
// ignored one again.
//
// Operation: POST /v1/websites/{domain}/findings/{id}/ignore
// Operation: POST /v1/websites/{domain}/findings/{id}/unignore
func (c *Client) IgnoreFinding(ctx context.Context, domain string, id int64, ignored bool) (Finding, error) {
	verb := "/ignore"
	if !ignored {
		verb = "/unignore"
	}
	var out Finding
	return out, c.call(ctx, "POST", scanPath(domain, "/findings/"+idPath(id)+verb), nil, nil, Options{}, &out)
}

// FindingAction queues "quarantine", "restore" or "clean" of a finding;
// the returned job (kind action) does it.
//
// Operation: POST /v1/websites/{domain}/findings/{id}/quarantine
// Operation: POST /v1/websites/{domain}/findings/{id}/restore
// Operation: POST /v1/websites/{domain}/findings/{id}/clean
func (c *Client) FindingAction(ctx context.Context, domain string, id int64, action string) (ScanJob, error) {
	var out ScanJob
	return out, c.call(ctx, "POST", scanPath(domain, "/findings/"+idPath(id)+"/"+url.PathEscape(action)), nil, nil, Options{}, &out)
}

// Backups lists a website's backups, newest first (limit 0: the server's
// default).
//
// Operation: GET /v1/websites/{domain}/backups
func (c *Client) Backups(ctx context.Context, domain string, limit int) ([]Backup, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out struct {
		Data []Backup `json:"data"`
	}
	return out.Data, c.call(ctx, "GET", scanPath(domain, "/backups"), q, nil, Options{}, &out)
}

// RestoreBackup queues the restore of a backup into the website; the
// returned job (kind restore) does it.
//
// Operation: POST /v1/websites/{domain}/backups/restore
func (c *Client) RestoreBackup(ctx context.Context, domain string, r RestoreRequest) (ScanJob, error) {
	var out ScanJob
	return out, c.call(ctx, "POST", scanPath(domain, "/backups/restore"), nil, r, Options{}, &out)
}
