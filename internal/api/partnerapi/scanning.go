package partnerapi

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/palisadehq/palisade/internal/core"
)

// ---- scanning and backups (issue 22): docs/SCANNING.md ----
//
// Every call goes through the core, which checks that the website is the
// caller's and words every refusal; this file reads the request and writes
// the answer.

// scanJobView is a scan, backup, finding action or restore job.
type scanJobView struct {
	ID       int64           `json:"id"`
	Kind     string          `json:"kind"`
	State    string          `json:"state"`
	Trigger  string          `json:"trigger"`
	Target   string          `json:"target,omitempty"`
	Params   json.RawMessage `json:"params,omitempty"`
	Node     string          `json:"node,omitempty"`
	Attempts int             `json:"attempts"`
	Summary  json.RawMessage `json:"summary,omitempty"`
	Error    string          `json:"error,omitempty"`
	Created  string          `json:"created_at"`
	Started  *string         `json:"started_at"`
	Finished *string         `json:"finished_at"`
}

// rawJSON is s when it is a JSON value, else nil (left out).
func rawJSON(s string) json.RawMessage {
	if s == "" || !json.Valid([]byte(s)) {
		return nil
	}
	return json.RawMessage(s)
}

func scanJob(j core.ScanJob) scanJobView {
	node, _, _ := strings.Cut(j.Owner, "#") // the claim token after # is the node's own
	return scanJobView{ID: j.ID, Kind: string(j.Kind), State: j.State, Trigger: j.Trigger, Target: j.Target, Params: rawJSON(j.Params),
		Node: node, Attempts: j.Attempts, Summary: rawJSON(j.Summary), Error: j.Error,
		Created: rfc3339(j.CreatedAt), Started: optTime(j.StartedAt), Finished: optTime(j.FinishedAt)}
}

// findingView is something a scan found.
type findingView struct {
	ID           int64           `json:"id"`
	Kind         string          `json:"kind"`
	Location     string          `json:"location"`
	Signature    string          `json:"signature"`
	Class        string          `json:"class"`
	Severity     string          `json:"severity"`
	SHA256       string          `json:"sha256,omitempty"`
	Detail       json.RawMessage `json:"detail,omitempty"`
	State        string          `json:"state"`
	QuarantineID string          `json:"quarantine_id,omitempty"`
	JobID        int64           `json:"job_id"`
	FirstSeen    string          `json:"first_seen"`
	LastSeen     string          `json:"last_seen"`
	ChangedAt    string          `json:"changed_at"`
}

func finding(f core.Finding) findingView {
	return findingView{ID: f.ID, Kind: string(f.Kind), Location: f.Location, Signature: f.Signature, Class: f.Class, Severity: f.Severity,
		SHA256: f.SHA256, Detail: rawJSON(f.Detail), State: f.State, QuarantineID: f.QuarantineID, JobID: f.JobID,
		FirstSeen: rfc3339(f.FirstSeen), LastSeen: rfc3339(f.LastSeen), ChangedAt: rfc3339(f.ChangedAt)}
}

// scannerView is the body of GET and PUT /v1/websites/{domain}/scanner.
type scannerView struct {
	Domain   string            `json:"domain"`
	Settings core.ScanSettings `json:"settings"`
}

func (a *API) handleScannerGet() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		c := callerFrom(r.Context())
		st, err := a.svc.WebsiteScanSettings(r.Context(), c, r.PathValue("domain"))
		if err != nil {
			return err
		}
		site, err := a.svc.Website(r.Context(), c, r.PathValue("domain"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, scannerView{Domain: site.Domain, Settings: st})
		return nil
	})
}

// handleScannerPut replaces the scan settings with the JSON body: the
// settings object, or {"settings": {...}} as GET answers it.
func (a *API) handleScannerPut() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return core.Errorf(core.EINVALID, "request body is larger than %d bytes", maxBody)
		}
		var wrapped struct {
			Settings json.RawMessage `json:"settings"`
			Domain   string          `json:"domain"`
		}
		if json.Unmarshal(body, &wrapped) == nil && len(wrapped.Settings) > 0 {
			body = wrapped.Settings
		}
		var st core.ScanSettings
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&st); err != nil {
			return core.Errorf(core.EINVALID, `send JSON {"files": {...}, "database": {...}, "patch": {...}, "backup": {...}} (GET answers the shape): %v`, err)
		}
		c := callerFrom(r.Context())
		out, err := a.svc.SetWebsiteScanSettings(r.Context(), c, r.PathValue("domain"), st)
		if err != nil {
			return err
		}
		site, err := a.svc.Website(r.Context(), c, r.PathValue("domain"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, scannerView{Domain: site.Domain, Settings: out})
		return nil
	})
}

func (a *API) handleScanStart() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Kind string `json:"kind"`
		}
		if err := decodeJSON(r, &in, `{"kind": "files", "database", "patch" or "backup"}`); err != nil {
			return err
		}
		if strings.TrimSpace(in.Kind) == "" {
			return core.FieldError("kind", "kind is required: files, database, patch or backup")
		}
		j, err := a.svc.RequestScan(r.Context(), callerFrom(r.Context()), r.PathValue("domain"), core.ScanKind(strings.TrimSpace(in.Kind)))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusAccepted, scanJob(j))
		return nil
	})
}

// listLimit reads the optional limit query parameter (1 to 500, default
// def).
func listLimit(r *http.Request, def int) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > core.MaxScanListing {
		return 0, core.FieldError("limit", "limit must be between 1 and %d, not %q", core.MaxScanListing, s)
	}
	return n, nil
}

func (a *API) handleScanJobs() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		limit, err := listLimit(r, 50)
		if err != nil {
			return err
		}
		js, err := a.svc.ScanJobs(r.Context(), callerFrom(r.Context()), r.PathValue("domain"), core.ScanKind(r.URL.Query().Get("kind")), limit)
		if err != nil {
			return err
		}
		out := make([]scanJobView, 0, len(js))
		for _, j := range js {
			out = append(out, scanJob(j))
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": out})
		return nil
	})
}

func (a *API) handleFindings() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		after, limit, err := page(r)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		fs, err := a.svc.Findings(r.Context(), callerFrom(r.Context()), r.PathValue("domain"),
			core.FindingFilter{Kind: core.ScanKind(q.Get("kind")), State: q.Get("state"), After: after, Limit: limit})
		if err != nil {
			return err
		}
		out := make([]findingView, 0, len(fs))
		for _, f := range fs {
			out = append(out, finding(f))
		}
		return writeRows(w, out, limit, func(f findingView) int64 { return f.ID })
	})
}

// findingID reads the {id} of a finding's path.
func findingID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, core.FieldError("id", "id must be a finding id (a positive number), not %q", r.PathValue("id"))
	}
	return id, nil
}

// handleFindingIgnore marks a finding ignored (not malware), or open
// again (ignored false).
func (a *API) handleFindingIgnore(ignored bool) http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		id, err := findingID(r)
		if err != nil {
			return err
		}
		f, err := a.svc.IgnoreFinding(r.Context(), callerFrom(r.Context()), r.PathValue("domain"), id, ignored)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, finding(f))
		return nil
	})
}

// handleFindingAction queues action (quarantine, restore, clean) on a
// finding; the job does it.
func (a *API) handleFindingAction(action string) http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		id, err := findingID(r)
		if err != nil {
			return err
		}
		j, err := a.svc.RequestFindingAction(r.Context(), callerFrom(r.Context()), r.PathValue("domain"), id, action)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusAccepted, scanJob(j))
		return nil
	})
}

func (a *API) handleBackups() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		limit, err := listLimit(r, 50)
		if err != nil {
			return err
		}
		bs, err := a.svc.Backups(r.Context(), callerFrom(r.Context()), r.PathValue("domain"), limit)
		if err != nil {
			return err
		}
		if bs == nil {
			bs = []core.Backup{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": bs})
		return nil
	})
}

func (a *API) handleBackupRestore() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		var in core.RestoreRequest
		if err := decodeJSON(r, &in, `{"snapshot": "<a backup's snapshot or short_id>", "path": "" or "wp-content/uploads", "database": true or false}`); err != nil {
			return err
		}
		j, err := a.svc.RequestRestore(r.Context(), callerFrom(r.Context()), r.PathValue("domain"), in)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusAccepted, scanJob(j))
		return nil
	})
}
