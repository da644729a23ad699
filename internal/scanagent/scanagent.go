// Package scanagent is `palisade agent`: a remote worker that runs on a
// web server next to a local clamd, for hosts with many web servers. It
// polls Palisade over HTTPS (internal/api/agentapi) with its agent key,
// leases the files and action jobs of the websites whose files are on this agent (the
// core gives it those of its own partner and name only), scans the
// document root here with the node's own scan code (scanrun.ScanFiles:
// clamd through internal/malware, incremental by a local state), and
// reports the findings and the job's end. It changes a file only when
// Palisade asks for an action on a finding (quarantine, restore, clean),
// with the node's own action code (scanrun.RunAction); the quarantine is
// kept on this machine, under the agent's state folder.
package scanagent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/api/agentapi"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/malware"
	"github.com/palisadehq/palisade/internal/scanrun"
	"github.com/palisadehq/palisade/internal/sitefiles"
)

// Agent is one agent process.
type Agent struct {
	// Server is Palisade's base URL (https://palisade.example.net).
	Server string
	// Key is the agent key (POST /v1/scan-agents).
	Key string
	// HTTP is the client for Palisade (default: 30 s timeout).
	HTTP *http.Client
	// Clamd scans the files.
	Clamd *malware.Client
	// Roots are the folders this agent may scan (absolute): a document
	// root Palisade names outside them is refused, whatever the
	// website's settings say.
	Roots []string
	// Dir keeps the scan states (what the last scan of each website saw).
	Dir string
	// Scan tunes scans (workers, pace, sizes); Client, Engine and Now
	// are the agent's.
	Scan malware.Options
	// Poll is how often Run asks for a job when there was none (default 30 s).
	Poll time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	Log *slog.Logger
}

// Error is Palisade's answer to a call that failed.
type Error struct {
	Status int
	agentapi.ErrorBody
}

func (e *Error) Error() string {
	return fmt.Sprintf("palisade: %d %s: %s", e.Status, e.Code, e.Message)
}

// Code is err's Palisade error code ("" when it is not an answer).
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func (a *Agent) log() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.Default()
}

func (a *Agent) client() *http.Client {
	c := &http.Client{Timeout: 30 * time.Second}
	if a.HTTP != nil {
		cp := *a.HTTP
		c = &cp
	}
	// The agent API never redirects. Following one would send the key
	// (Go keeps Authorization for the same host, whatever the scheme) and
	// the findings where --server does not say: to http://, past the
	// https-only rule.
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// call POSTs in as JSON to path and reads the answer into out.
func (a *Agent) call(ctx context.Context, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(a.Server, "/")+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+a.Key)
	resp, err := a.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		e := &Error{Status: resp.StatusCode}
		if json.Unmarshal(body, &e.ErrorBody) != nil || e.Code == "" {
			e.Code, e.Message = "http_"+strconv.Itoa(resp.StatusCode), strings.TrimSpace(string(body[:min(len(body), 300)]))
		}
		return e
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(body, out)
}

// Run leases and runs jobs until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	poll := a.Poll
	if poll <= 0 {
		poll = 30 * time.Second
	}
	for {
		ran, err := a.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			a.log().Warn("scan agent", "err", err)
		}
		if ran && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// Summary is what an agent's files job stores as its summary: the node's
// (scanrun.FilesSummary), and how many findings were not reported (past
// core.MaxAgentFindings).
type Summary struct {
	scanrun.FilesSummary
	Truncated int `json:"findings_not_reported,omitempty"`
}

// RunOnce leases one job and runs it; ran is false when there was none.
// The job's own failure is reported to Palisade (err is nil); err is a
// failure to reach Palisade.
func (a *Agent) RunOnce(ctx context.Context) (ran bool, err error) {
	var ans agentapi.LeaseAnswer
	if err := a.call(ctx, "/v1/agent/lease", struct{}{}, &ans); err != nil {
		return false, err
	}
	if ans.Job == nil {
		return false, nil
	}
	j := *ans.Job
	jobPath := "/v1/agent/jobs/" + strconv.FormatInt(j.ID, 10)
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		t := time.NewTicker(core.AgentJobLease / 3)
		defer t.Stop()
		for {
			select {
			case <-jctx.Done():
				return
			case <-t.C:
				if err := a.call(jctx, jobPath+"/renew", agentapi.Renew{Lease: j.Lease}, nil); err != nil {
					if c := Code(err); c == core.ECONFLICT || c == core.ENOTFOUND || c == core.EUNAUTHORIZED {
						a.log().Warn("scan job lease lost: stopping it", "job", j.ID, "domain", j.Domain, "err", err)
						cancel()
						return
					}
					a.log().Warn("renewing a scan job's lease", "job", j.ID, "err", err)
				}
			}
		}
	}()
	var sum any
	var jerr error
	switch j.Kind {
	case string(core.ScanFiles):
		sum, jerr = a.files(jctx, j, jobPath)
	case string(core.ScanAction):
		sum, jerr = a.action(jctx, j, jobPath)
	default:
		jerr = fmt.Errorf("%s jobs are not run by this version of the agent", j.Kind)
	}
	cancel()
	<-renewed
	if ctx.Err() != nil {
		return true, ctx.Err() // shutting down: the lease runs out, the job is leased again
	}
	fin := agentapi.Finish{Lease: j.Lease}
	if jerr != nil {
		fin.Error = jerr.Error()
		a.log().Info("scan job failed", "job", j.ID, "domain", j.Domain, "err", jerr)
	} else if fin.Summary, err = json.Marshal(sum); err != nil {
		return true, err
	}
	return true, a.call(ctx, jobPath+"/finish", fin, nil)
}

// siteKey names a website's state and quarantine here: one per website
// and document root (a website moved to another folder starts afresh).
func siteKey(j agentapi.Job) string {
	h := sha256.Sum256([]byte(j.Domain + "\x00" + j.Path))
	return hex.EncodeToString(h[:12])
}

// action quarantines, restores or cleans one finding's file.
func (a *Agent) action(ctx context.Context, j agentapi.Job, jobPath string) (*scanrun.ActionSummary, error) {
	if j.Finding == nil {
		return nil, errors.New("an action job without its finding")
	}
	if !a.allowed(j.Path) {
		return nil, fmt.Errorf("document root %q is not under this agent's --root folders: not changed", j.Path)
	}
	if j.Action == core.ActionQuarantine || j.Action == core.ActionClean {
		if err := a.flagged(j); err != nil {
			return nil, err
		}
	}
	fsys, err := sitefiles.Local(j.Path)
	if err != nil {
		return nil, err
	}
	defer fsys.Close()
	q := &malware.Quarantine{Dir: filepath.Join(a.Dir, "quarantine", siteKey(j)), Now: a.Now}
	f := core.Finding{ID: j.Finding.ID, Location: j.Finding.Location, Signature: j.Finding.Signature, QuarantineID: j.Finding.QuarantineID}
	sum, err := scanrun.RunAction(ctx, fsys, q, a.Clamd, j.Action, f, func(state, quarantineID string) error {
		return a.call(ctx, jobPath+"/action", agentapi.ActionDone{Lease: j.Lease, QuarantineID: quarantineID}, nil)
	})
	return &sum, err
}

// flagged refuses to quarantine or clean a file that this agent's last
// scan of the job's document root did not flag: the server names the
// file, and a compromised or spoofed one must not get any file under
// --root moved (a customer's wp-config.php, another user's files).
func (a *Agent) flagged(j agentapi.Job) error {
	var st malware.State
	b, err := os.ReadFile(a.statePath(j))
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil || st.Files[j.Finding.Location].Signature == "" {
		return fmt.Errorf("%s was not flagged by this agent's last scan of the website: not changed (scan it again first)", j.Finding.Location)
	}
	return nil
}

// statePath is where the agent keeps what its last scan of the job's
// website saw.
func (a *Agent) statePath(j agentapi.Job) string {
	return filepath.Join(a.Dir, "state", siteKey(j)+".files.json")
}

// allowed says whether path is one of a.Roots or inside one.
func (a *Agent) allowed(path string) bool {
	if !filepath.IsAbs(path) || filepath.Clean(path) != path {
		return false
	}
	for _, r := range a.Roots {
		r = filepath.Clean(r)
		if path == r || strings.HasPrefix(path, strings.TrimSuffix(r, "/")+"/") {
			return true
		}
	}
	return false
}

func (a *Agent) files(ctx context.Context, j agentapi.Job, jobPath string) (*Summary, error) {
	if a.Clamd == nil {
		return nil, errors.New("the agent has no clamd (--clamd)")
	}
	if !a.allowed(j.Path) {
		return nil, fmt.Errorf("document root %q is not under this agent's --root folders: not scanned", j.Path)
	}
	fsys, err := sitefiles.Local(j.Path)
	if err != nil {
		return nil, err
	}
	defer fsys.Close()
	opts := a.Scan
	opts.Client, opts.Now = a.Clamd, a.Now
	opts.Engine = scanrun.EngineName(ctx, a.Clamd)
	res, found, err := scanrun.ScanFiles(ctx, fsys, a.statePath(j), opts)
	if err != nil {
		return nil, err
	}
	rep := agentapi.Report{Lease: j.Lease, Findings: make([]agentapi.Finding, 0, min(len(found), core.MaxAgentFindings))}
	for _, f := range found[:min(len(found), core.MaxAgentFindings)] {
		rep.Findings = append(rep.Findings, agentapi.Finding{Location: f.Location, Signature: f.Signature, Class: f.Class, Severity: f.Severity,
			SHA256: f.SHA256, Detail: json.RawMessage(f.Detail)})
	}
	truncated := len(found) - len(rep.Findings)
	// A scan that skipped files, or findings not reported, did not show
	// everything: nothing is resolved for want of being seen.
	rep.Complete = res.FilesSkipped == 0 && res.FindingsDropped == 0 && truncated == 0
	var ans agentapi.ReportAnswer
	if err := a.call(ctx, jobPath+"/findings", rep, &ans); err != nil {
		return nil, fmt.Errorf("reporting the findings: %w", err)
	}
	sum := &Summary{FilesSummary: scanrun.FilesSummary{Result: res, Findings: len(found), New: ans.New, Resolved: ans.Resolved}, Truncated: truncated}
	sum.Result.Findings = nil
	return sum, nil
}
