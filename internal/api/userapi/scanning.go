package userapi

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/core"
)

// Scanning and backups (issue 22) for the customer: its website's scan
// settings without where its hosting provider's machines are, asking for
// a scan, the jobs and what they found, marking a finding as not malware,
// quarantining, restoring or cleaning a file, and its backups and their
// restore. The core decides what a customer may (the website must be
// its own) and redacts the settings; docs/USER_API.md.

// scanJobView is a scan, backup, finding action or restore job.
type scanJobView struct {
	ID       int64           `json:"id"`
	Kind     string          `json:"kind"`
	State    string          `json:"state"`
	Trigger  string          `json:"trigger"`
	Target   string          `json:"target,omitempty"`
	Params   json.RawMessage `json:"params,omitempty"`
	Attempts int             `json:"attempts"`
	Summary  json.RawMessage `json:"summary,omitempty"`
	Error    string          `json:"error,omitempty"`
	Created  time.Time       `json:"created_at"`
	Started  *time.Time      `json:"started_at"`
	Finished *time.Time      `json:"finished_at"`
}

// rawJSON is s when it is a JSON value, else nil (left out).
func rawJSON(s string) json.RawMessage {
	if s == "" || !json.Valid([]byte(s)) {
		return nil
	}
	return json.RawMessage(s)
}

func scanJob(j core.ScanJob) scanJobView {
	return scanJobView{ID: j.ID, Kind: string(j.Kind), State: j.State, Trigger: j.Trigger, Target: j.Target, Params: rawJSON(j.Params),
		Attempts: j.Attempts, Summary: rawJSON(j.Summary), Error: j.Error,
		Created: j.CreatedAt, Started: j.StartedAt, Finished: j.FinishedAt}
}

// findingView is something a scan found.
type findingView struct {
	ID        int64           `json:"id"`
	Kind      string          `json:"kind"`
	Location  string          `json:"location"`
	Signature string          `json:"signature"`
	Class     string          `json:"class"`
	Severity  string          `json:"severity"`
	SHA256    string          `json:"sha256,omitempty"`
	Detail    json.RawMessage `json:"detail,omitempty"`
	State     string          `json:"state"`
	JobID     int64           `json:"job_id"`
	FirstSeen time.Time       `json:"first_seen"`
	LastSeen  time.Time       `json:"last_seen"`
	ChangedAt time.Time       `json:"changed_at"`
}

func finding(f core.Finding) findingView {
	return findingView{ID: f.ID, Kind: string(f.Kind), Location: f.Location, Signature: f.Signature, Class: f.Class, Severity: f.Severity,
		SHA256: f.SHA256, Detail: rawJSON(f.Detail), State: f.State, JobID: f.JobID,
		FirstSeen: f.FirstSeen, LastSeen: f.LastSeen, ChangedAt: f.ChangedAt}
}

func (h *Handler) scannerGet(r *request) (any, error) {
	w, err := h.site(r)
	if err != nil {
		return nil, err
	}
	// The core answers a customer without hosts, users, paths,
	// repositories or secrets.
	return h.svc.WebsiteScanSettings(r.Context(), r.caller, w.Domain)
}

func (h *Handler) scanStart(r *request) (any, error) {
	w, err := h.site(r)
	if err != nil {
		return nil, err
	}
	var in struct {
		Kind string `json:"kind"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	if strings.TrimSpace(in.Kind) == "" {
		return nil, core.FieldError("kind", "kind is required: files, database, patch or backup")
	}
	j, err := h.svc.RequestScan(r.Context(), r.caller, w.Domain, core.ScanKind(strings.TrimSpace(in.Kind)))
	if err != nil {
		return nil, err
	}
	return scanJob(j), nil
}

// listLimit reads the optional limit (1 to 500, default 50).
func listLimit(r *request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return 50, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > core.MaxScanListing {
		return 0, core.FieldError("limit", "limit must be between 1 and 500")
	}
	return n, nil
}

func (h *Handler) scanJobs(r *request) (any, error) {
	w, err := h.site(r)
	if err != nil {
		return nil, err
	}
	limit, err := listLimit(r)
	if err != nil {
		return nil, err
	}
	js, err := h.svc.ScanJobs(r.Context(), r.caller, w.Domain, core.ScanKind(r.URL.Query().Get("kind")), limit)
	if err != nil {
		return nil, err
	}
	out := make([]scanJobView, 0, len(js))
	for _, j := range js {
		out = append(out, scanJob(j))
	}
	return listPage{Items: out}, nil
}

func (h *Handler) findings(r *request) (any, error) {
	w, err := h.site(r)
	if err != nil {
		return nil, err
	}
	after, limit, err := page(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	fs, err := h.svc.Findings(r.Context(), r.caller, w.Domain, core.FindingFilter{Kind: core.ScanKind(q.Get("kind")), State: q.Get("state"), After: after, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]findingView, 0, len(fs))
	for _, f := range fs {
		out = append(out, finding(f))
	}
	p := listPage{Items: out}
	if len(fs) == limit {
		p.NextCursor = strconv.FormatInt(fs[len(fs)-1].ID, 10)
	}
	return p, nil
}

// findingID reads the {id} of a finding's path.
func findingID(r *request) (int64, error) {
	id, err := strconv.ParseInt(r.vars["id"], 10, 64)
	if err != nil || id <= 0 {
		return 0, core.FieldError("id", "id must be a finding id (a positive number), not %q", r.vars["id"])
	}
	return id, nil
}

// findingIgnore marks a finding as not malware (ignored), or open again.
func findingIgnore(ignored bool) func(h *Handler, r *request) (any, error) {
	return func(h *Handler, r *request) (any, error) {
		w, err := h.site(r)
		if err != nil {
			return nil, err
		}
		id, err := findingID(r)
		if err != nil {
			return nil, err
		}
		f, err := h.svc.IgnoreFinding(r.Context(), r.caller, w.Domain, id, ignored)
		if err != nil {
			return nil, err
		}
		return finding(f), nil
	}
}

// findingAction queues action (quarantine, restore, clean) on a finding.
func findingAction(action string) func(h *Handler, r *request) (any, error) {
	return func(h *Handler, r *request) (any, error) {
		w, err := h.site(r)
		if err != nil {
			return nil, err
		}
		id, err := findingID(r)
		if err != nil {
			return nil, err
		}
		j, err := h.svc.RequestFindingAction(r.Context(), r.caller, w.Domain, id, action)
		if err != nil {
			return nil, err
		}
		return scanJob(j), nil
	}
}

func (h *Handler) backups(r *request) (any, error) {
	w, err := h.site(r)
	if err != nil {
		return nil, err
	}
	limit, err := listLimit(r)
	if err != nil {
		return nil, err
	}
	bs, err := h.svc.Backups(r.Context(), r.caller, w.Domain, limit)
	if err != nil {
		return nil, err
	}
	if bs == nil {
		bs = []core.Backup{}
	}
	return listPage{Items: bs}, nil
}

func (h *Handler) backupRestore(r *request) (any, error) {
	w, err := h.site(r)
	if err != nil {
		return nil, err
	}
	var in core.RestoreRequest
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	j, err := h.svc.RequestRestore(r.Context(), r.caller, w.Domain, in)
	if err != nil {
		return nil, err
	}
	return scanJob(j), nil
}
