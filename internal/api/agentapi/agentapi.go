// Package agentapi is the API scan agents (`palisade agent`, package
// scanagent) call on Palisade, under /v1/agent/: lease a files job (or an
// action on a finding's file) of a website whose files are on the agent,
// keep its lease, report what the scan found (or what the action did) and
// finish it. Every call carries the agent's key
// (Authorization: Bearer pak_...); the core authenticates it and decides
// what the agent may see (core/scan_agents.go). This package reads
// requests, calls the core and maps its errors through ErrorTable.
package agentapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/core"
)

// Body limits: a report of findings, and every other call.
const (
	MaxReportBody = 16 << 20
	MaxBody       = 128 << 10
)

// Job is a leased job (the answer of POST /v1/agent/lease).
type Job struct {
	ID         int64     `json:"id"`
	Kind       string    `json:"kind"`  // files or action
	Lease      string    `json:"lease"` // named by every later call on the job
	Domain     string    `json:"domain"`
	Path       string    `json:"path"` // the document root on the agent's server
	LeaseUntil time.Time `json:"lease_until"`
	// An action job's: quarantine, restore or clean the finding's file.
	Action  string      `json:"action,omitempty"`
	Finding *JobFinding `json:"finding,omitempty"`
}

// JobFinding is the finding an action job acts on.
type JobFinding struct {
	ID           int64  `json:"id"`
	Location     string `json:"location"`
	Signature    string `json:"signature"`
	QuarantineID string `json:"quarantine_id,omitempty"` // a restore's entry
}

// ActionDone is the body of POST /v1/agent/jobs/{id}/action: the action
// was done; QuarantineID is the entry a quarantine or a clean made.
type ActionDone struct {
	Lease        string `json:"lease"`
	QuarantineID string `json:"quarantine_id,omitempty"`
}

// LeaseAnswer is the answer of POST /v1/agent/lease: Job is nil when
// there is nothing to do.
type LeaseAnswer struct {
	Job *Job `json:"job"`
}

// Renew is the body of POST /v1/agent/jobs/{id}/renew.
type Renew struct {
	Lease string `json:"lease"`
}

// Finding is one finding in a report.
type Finding struct {
	Location  string          `json:"location"` // the file's path relative to the document root
	Signature string          `json:"signature"`
	Class     string          `json:"class"`
	Severity  string          `json:"severity"`
	SHA256    string          `json:"sha256,omitempty"`
	Detail    json.RawMessage `json:"detail,omitempty"`
}

// Report is the body of POST /v1/agent/jobs/{id}/findings: at most
// core.MaxAgentFindings findings; complete says the scan looked at every
// file (open findings not seen again are then resolved).
type Report struct {
	Lease    string   `json:"lease"`
	Findings Findings `json:"findings"`
	Complete bool     `json:"complete"`
}

// Findings are a report's findings. They are decoded one by one and
// refused past core.MaxAgentFindings: a body of millions of "{}" within
// MaxReportBody is not decoded whole first (hundreds of MB for one call).
type Findings []Finding

// UnmarshalJSON decodes at most core.MaxAgentFindings findings.
func (fs *Findings) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		*fs = nil
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return core.FieldError("findings", "an array of findings")
	}
	var out []Finding
	for dec.More() {
		if len(out) == core.MaxAgentFindings {
			return core.FieldError("findings", "at most %d findings in one report", core.MaxAgentFindings)
		}
		var f Finding
		if err := dec.Decode(&f); err != nil {
			return err
		}
		out = append(out, f)
	}
	*fs = out
	return nil
}

// ReportAnswer says how many findings are new and how many were resolved.
type ReportAnswer struct {
	New      int `json:"new"`
	Resolved int `json:"resolved"`
}

// Finish is the body of POST /v1/agent/jobs/{id}/finish: the job is done
// with Summary (a JSON object), or failed when Error is set.
type Finish struct {
	Lease   string          `json:"lease"`
	Summary json.RawMessage `json:"summary,omitempty"`
	Error   string          `json:"error,omitempty"`
}

// ErrorBody is every error's body.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// ErrorTable is the one table from core error codes to HTTP statuses.
var ErrorTable = map[string]int{
	core.EINVALID:         http.StatusBadRequest,
	core.EUNAUTHORIZED:    http.StatusUnauthorized,
	core.EFORBIDDEN:       http.StatusForbidden,
	core.ENOTFOUND:        http.StatusNotFound,
	core.ECONFLICT:        http.StatusConflict,
	core.EPRECONDITION:    http.StatusPreconditionFailed,
	core.ERATELIMITED:     http.StatusTooManyRequests,
	core.EPAYMENTREQUIRED: http.StatusPaymentRequired,
	core.EUNAVAILABLE:     http.StatusServiceUnavailable,
	core.EUNKNOWN:         http.StatusBadGateway,
	core.EINTERNAL:        http.StatusInternalServerError,
}

// API serves the agent routes.
type API struct {
	svc *core.Service
	log *slog.Logger
}

// New returns the agent API on svc.
func New(svc *core.Service, log *slog.Logger) *API {
	if log == nil {
		log = slog.Default()
	}
	return &API{svc: svc, log: log}
}

// Registrar is where routes are registered (a routes.Table or a ServeMux).
type Registrar interface {
	Handle(pattern string, h http.Handler)
}

// Register adds the agent routes to mux.
func (a *API) Register(mux Registrar) {
	mux.Handle("POST /v1/agent/lease", a.h(MaxBody, a.lease))
	mux.Handle("POST /v1/agent/jobs/{id}/renew", a.h(MaxBody, a.renew))
	mux.Handle("POST /v1/agent/jobs/{id}/findings", a.h(MaxReportBody, a.findings))
	mux.Handle("POST /v1/agent/jobs/{id}/action", a.h(MaxBody, a.action))
	mux.Handle("POST /v1/agent/jobs/{id}/finish", a.h(MaxBody, a.finish))
}

// h reads the agent's key and bounds the body; fn's error is answered
// through ErrorTable.
func (a *API) h(limit int64, fn func(w http.ResponseWriter, r *http.Request, key string) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		var err error
		if !ok || strings.TrimSpace(key) == "" {
			err = core.Errorf(core.EUNAUTHORIZED, "send the scan agent's key: Authorization: Bearer pak_...")
		} else {
			err = fn(w, r, strings.TrimSpace(key))
		}
		if err != nil {
			a.writeError(w, r, err)
		}
	})
}

func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := core.ErrorCode(err)
	status, ok := ErrorTable[code]
	if !ok {
		code, status = core.EINTERNAL, http.StatusInternalServerError
	}
	msg := core.ErrorMessage(err)
	if status >= 500 {
		a.log.Warn("agent API request failed", "path", r.URL.Path, "code", code, "err", err)
		if code == core.EINTERNAL {
			msg = "internal error"
		}
	}
	if code == core.EUNAUTHORIZED {
		w.Header().Set("WWW-Authenticate", `Bearer realm="palisade agent"`)
	}
	if code == core.EUNAVAILABLE {
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, status, ErrorBody{Code: code, Message: msg, Field: core.ErrorField(err)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// decode reads a JSON body into v (an empty body is an empty object).
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		return nil
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return core.Errorf(core.EINVALID, "request body is larger than %d bytes", tooBig.Limit)
	}
	var ce *core.Error
	if errors.As(err, &ce) {
		return ce // a field's own refusal (Findings)
	}
	if err != nil {
		return core.Errorf(core.EINVALID, "send JSON: %v", err)
	}
	return nil
}

func jobID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, core.FieldError("id", "a job id (a positive number), not %q", r.PathValue("id"))
	}
	return id, nil
}

func (a *API) lease(w http.ResponseWriter, r *http.Request, key string) error {
	if err := decode(r, &struct{}{}); err != nil {
		return err
	}
	j, ok, err := a.svc.LeaseAgentJob(r.Context(), key)
	if err != nil {
		return err
	}
	var out LeaseAnswer
	if ok {
		out.Job = &Job{ID: j.ID, Kind: string(j.Kind), Lease: j.Lease, Domain: j.Domain, Path: j.Path, LeaseUntil: j.LeaseUntil.UTC(), Action: j.Action}
		if j.Kind == core.ScanAction {
			f := j.Finding
			out.Job.Finding = &JobFinding{ID: f.ID, Location: f.Location, Signature: f.Signature, QuarantineID: f.QuarantineID}
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) renew(w http.ResponseWriter, r *http.Request, key string) error {
	id, err := jobID(r)
	if err != nil {
		return err
	}
	var in Renew
	if err := decode(r, &in); err != nil {
		return err
	}
	until, err := a.svc.RenewAgentJob(r.Context(), key, id, in.Lease)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"lease_until": until.UTC()})
	return nil
}

func (a *API) findings(w http.ResponseWriter, r *http.Request, key string) error {
	id, err := jobID(r)
	if err != nil {
		return err
	}
	var in Report
	if err := decode(r, &in); err != nil {
		return err
	}
	if len(in.Findings) > core.MaxAgentFindings {
		return core.FieldError("findings", "at most %d findings in one report, not %d", core.MaxAgentFindings, len(in.Findings))
	}
	found := make([]core.Finding, 0, len(in.Findings))
	for _, f := range in.Findings {
		found = append(found, core.Finding{Location: f.Location, Signature: f.Signature, Class: f.Class, Severity: f.Severity, SHA256: f.SHA256,
			Detail: string(f.Detail)})
	}
	created, resolved, err := a.svc.ReportAgentFindings(r.Context(), key, id, in.Lease, found, in.Complete)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ReportAnswer{New: created, Resolved: resolved})
	return nil
}

func (a *API) action(w http.ResponseWriter, r *http.Request, key string) error {
	id, err := jobID(r)
	if err != nil {
		return err
	}
	var in ActionDone
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := a.svc.FinishAgentAction(r.Context(), key, id, in.Lease, in.QuarantineID); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"recorded": true})
	return nil
}

func (a *API) finish(w http.ResponseWriter, r *http.Request, key string) error {
	id, err := jobID(r)
	if err != nil {
		return err
	}
	var in Finish
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := a.svc.FinishAgentJob(r.Context(), key, id, in.Lease, in.Summary, in.Error); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"state": map[bool]string{true: core.JobFailed, false: core.JobDone}[in.Error != ""]})
	return nil
}
