package core

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/palisadehq/palisade/internal/secret"
)

// Scan agents (issue 22): `palisade agent` runs on a web server and scans
// the document roots there for Palisade, for hosts with many web servers.
// A partner creates an agent by name (CreateScanAgent); its key is shown
// once and stored as a SHA-256 hash. A website whose scan settings say
// files.source.kind "agent" with that name has its files jobs queued for
// that agent: only that agent of the website's partner leases them (the
// store's claim filters on both), and no node does. Every agent call
// authenticates with the key here, in the core, and names the job and the
// lease token it got: an agent can never lease, read or report on another
// partner's or another agent's job.
//
// Agents run files scans and the actions on their findings (quarantine,
// restore, clean: the quarantine is kept on the agent's machine). The
// patch check, cleaning after every scan (files.auto_clean), backups and
// their restores need the files on a node, and are refused for a website
// whose files are on an agent (EPRECONDITION, with the reason).

// ScanAgent is one agent of a partner.
type ScanAgent struct {
	ID        int64
	PartnerID int64
	Name      string
	KeyHash   string // SHA-256 of the key (secret.Hash); never answered
	KeyPrefix string // the key's first characters, to tell keys apart
	CreatedAt time.Time
	RevokedAt *time.Time
	SeenAt    *time.Time // its last call
}

// Limits of agents.
const (
	// MaxScanAgents bounds a partner's agents that are not revoked.
	MaxScanAgents = 200
	// MaxScanAgentRows bounds a partner's agents, revoked ones included.
	MaxScanAgentRows = 2000
	// MaxAgentFindings bounds the findings of one report.
	MaxAgentFindings = 5000
	// MaxAgentSummary bounds a finished job's summary (bytes of JSON).
	MaxAgentSummary = 64 << 10
	// AgentJobLease is how long a leased job is the agent's without
	// renewal; the agent renews it every third.
	AgentJobLease = 2 * time.Minute
	// AgentKeyPrefix starts every agent key.
	AgentKeyPrefix = "pak_"
)

// ScanAgentTx is the store's part of scan agents (embedded in Tx).
type ScanAgentTx interface {
	// InsertScanAgent adds an agent; ECONFLICT when the partner has an
	// agent of that name that is not revoked.
	InsertScanAgent(ctx context.Context, a *ScanAgent) error
	// ScanAgents lists the partner's agents (revoked ones too) by id.
	ScanAgents(ctx context.Context, partnerID int64) ([]ScanAgent, error)
	// CountScanAgents counts the partner's agents: not revoked, and all.
	CountScanAgents(ctx context.Context, partnerID int64) (active, all int, err error)
	// ScanAgentByKeyHash finds the agent, revoked or not, with that key
	// hash; ENOTFOUND when none.
	ScanAgentByKeyHash(ctx context.Context, hash string) (ScanAgent, error)
	// RevokeScanAgent revokes one of the partner's agents (at the first
	// revocation only); ENOTFOUND when it is not the partner's.
	RevokeScanAgent(ctx context.Context, partnerID, id int64, at time.Time) error
	// SetScanAgentSeen records an agent's last call.
	SetScanAgentSeen(ctx context.Context, id int64, at time.Time) error
	// ClaimAgentScanJob is ClaimScanJob for the partner's agent named
	// agent: only files and action jobs queued for it (ScanJob.Agent) are
	// claimed.
	ClaimAgentScanJob(ctx context.Context, owner string, now time.Time, lease time.Duration, partnerID int64, agent string) (ScanJob, error)
}

var agentNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// validAgentName says why name is not an agent name, or "".
func validAgentName(name string) string {
	if !agentNameRE.MatchString(name) {
		return "an agent name of 1 to 63 lower-case letters, digits, '.', '_' and '-' (such as the web server's host name), not " + strconv.Quote(name)
	}
	return ""
}

// jobAgent is the agent a job of kind for a website with st is queued
// for: its agent's name for a files or action job of a website whose files
// are on an agent, else "" (a node runs it).
func (st *ScanSettings) jobAgent(kind ScanKind) string {
	if (kind == ScanFiles || kind == ScanAction) && st.Files.Source.Kind == "agent" {
		return st.Files.Source.Agent
	}
	return ""
}

// errOnAgent is the refusal of what needs a website's files on a node.
func errOnAgent(domain, agent, what string) error {
	return Errorf(EPRECONDITION, "website %s has its files on scan agent %q: %s needs the files on a Palisade node and is not available for files on an agent (docs/SCANNING.md)", domain, agent, what)
}

// CreateScanAgent adds an agent named name to the caller's (a partner's)
// account and returns it with its key, shown here and never again.
func (s *Service) CreateScanAgent(ctx context.Context, c Caller, name string) (ScanAgent, string, error) {
	if err := c.partnerOnly("create scan agents"); err != nil {
		return ScanAgent{}, "", err
	}
	name = strings.TrimSpace(name)
	if msg := validAgentName(name); msg != "" {
		return ScanAgent{}, "", FieldError("name", "%s", msg)
	}
	key, err := secret.NewToken(s.rand, AgentKeyPrefix)
	if err != nil {
		return ScanAgent{}, "", err
	}
	a := ScanAgent{PartnerID: c.PartnerID, Name: name, KeyHash: secret.Hash(key), KeyPrefix: key[:len(AgentKeyPrefix)+6]}
	err = s.store.Update(ctx, func(tx Tx) error {
		// The partner's row, locked: two creations at once are counted
		// one after the other.
		if _, err := tx.Partner(ctx, c.PartnerID, true); err != nil {
			return err
		}
		active, all, err := tx.CountScanAgents(ctx, c.PartnerID)
		if err != nil {
			return err
		}
		if active >= MaxScanAgents {
			return Errorf(ECONFLICT, "you have %d scan agents, the most there can be: revoke one you no longer use", active)
		}
		if all >= MaxScanAgentRows {
			return Errorf(ECONFLICT, "you have created %d scan agents, the most there can be (revoked ones included)", all)
		}
		a.CreatedAt = s.clock()
		if err := tx.InsertScanAgent(ctx, &a); err != nil {
			if ErrorCode(err) == ECONFLICT {
				return Errorf(ECONFLICT, "you have a scan agent named %q already: revoke it first, or choose another name", name)
			}
			return err
		}
		return s.audit(ctx, tx, c, a.CreatedAt, "scan_agent", strconv.FormatInt(a.ID, 10), "create", nil,
			map[string]any{"name": a.Name, "key_prefix": a.KeyPrefix})
	})
	if err != nil {
		return ScanAgent{}, "", err
	}
	return a, key, nil
}

// ScanAgents lists the caller's (a partner's) agents, revoked ones too.
func (s *Service) ScanAgents(ctx context.Context, c Caller) ([]ScanAgent, error) {
	if err := c.partnerOnly("list scan agents"); err != nil {
		return nil, err
	}
	var out []ScanAgent
	err := s.store.View(ctx, func(tx Tx) (err error) { out, err = tx.ScanAgents(ctx, c.PartnerID); return err })
	return out, err
}

// RevokeScanAgent revokes one of the caller's (a partner's) agents: its
// key is refused from now on, and a job it holds is taken back when its
// lease runs out. Revoking a revoked agent succeeds.
func (s *Service) RevokeScanAgent(ctx context.Context, c Caller, id int64) (ScanAgent, error) {
	if err := c.partnerOnly("revoke scan agents"); err != nil {
		return ScanAgent{}, err
	}
	var a ScanAgent
	err := s.store.Update(ctx, func(tx Tx) error {
		all, err := tx.ScanAgents(ctx, c.PartnerID)
		if err != nil {
			return err
		}
		found := false
		for _, x := range all {
			if x.ID == id {
				a, found = x, true
			}
		}
		if !found {
			return Errorf(ENOTFOUND, "scan agent %d not found", id)
		}
		if a.RevokedAt != nil {
			return nil
		}
		now := s.clock()
		if err := tx.RevokeScanAgent(ctx, c.PartnerID, id, now); err != nil {
			return err
		}
		a.RevokedAt = &now
		return s.audit(ctx, tx, c, now, "scan_agent", strconv.FormatInt(id, 10), "revoke", map[string]any{"name": a.Name}, nil)
	})
	return a, err
}

// agentByKey authenticates an agent's key: EUNAUTHORIZED, in the same
// words, for a key that is unknown, revoked or malformed.
func (s *Service) agentByKey(ctx context.Context, tx Tx, key string) (ScanAgent, error) {
	refused := Errorf(EUNAUTHORIZED, "unknown or revoked scan agent key")
	if !strings.HasPrefix(key, AgentKeyPrefix) || len(key) > 200 {
		return ScanAgent{}, refused
	}
	a, err := tx.ScanAgentByKeyHash(ctx, secret.Hash(key))
	if ErrorCode(err) == ENOTFOUND {
		return ScanAgent{}, refused
	}
	if err != nil {
		return ScanAgent{}, err
	}
	if a.RevokedAt != nil {
		return ScanAgent{}, refused
	}
	return a, nil
}

// agentNode is how an agent is named in its jobs' Owner (before "#").
func agentNode(a ScanAgent) string { return "agent:" + a.Name + "/" + strconv.FormatInt(a.ID, 10) }

// AgentJob is a job an agent leased: a files scan, or an action on one
// finding's file; where, and until when.
type AgentJob struct {
	ID         int64
	Kind       ScanKind // ScanFiles or ScanAction
	Lease      string   // the lease token: every later call on the job names it
	Domain     string
	Path       string // the document root on the agent's machine
	LeaseUntil time.Time
	// Action and Finding are an action job's: what to do to which file
	// (Finding's ID, Location, Signature and QuarantineID).
	Action  string
	Finding Finding
}

// LeaseAgentJob gives the agent with key the next files or action job
// queued for it (ok false when there is none, or when another claim took
// it at the same time). A job whose website is paused or deleted, or whose
// files are no longer on this agent, is failed with the reason and the
// next is looked at.
func (s *Service) LeaseAgentJob(ctx context.Context, key string) (AgentJob, bool, error) {
	for range 5 {
		var a ScanAgent
		var j ScanJob
		var tok [16]byte
		if _, err := io.ReadFull(s.rand, tok[:]); err != nil {
			return AgentJob{}, false, err
		}
		now := s.clock()
		err := s.store.Update(ctx, func(tx Tx) (err error) {
			if a, err = s.agentByKey(ctx, tx, key); err != nil {
				return err
			}
			if err := tx.SetScanAgentSeen(ctx, a.ID, now); err != nil {
				return err
			}
			j, err = tx.ClaimAgentScanJob(ctx, agentNode(a)+"#"+hex.EncodeToString(tok[:]), now, AgentJobLease, a.PartnerID, a.Name)
			if ErrorCode(err) == ENOTFOUND {
				j, err = ScanJob{}, nil // nothing queued: the call is still recorded (seen_at)
			}
			return err // ECONFLICT (a concurrent claim) rolls back
		})
		if ErrorCode(err) == ECONFLICT {
			return AgentJob{}, false, nil
		}
		if err != nil || j.ID == 0 {
			return AgentJob{}, false, err
		}
		// The store claims only this partner's jobs for this agent; the
		// website is checked again now, as a node checks its jobs.
		if j.PartnerID != a.PartnerID || j.Agent != a.Name || (j.Kind != ScanFiles && j.Kind != ScanAction) {
			return AgentJob{}, false, Errorf(EINTERNAL, "the store gave agent %d job %d of another agent", a.ID, j.ID)
		}
		st, err := s.ScanJobSettings(ctx, j)
		if err == nil && (st.Files.Source.Kind != "agent" || st.Files.Source.Agent != a.Name) {
			err = Errorf(EPRECONDITION, "the website's files are no longer on scan agent %q (scan settings changed after the job was queued): not run", a.Name)
		}
		out := AgentJob{ID: j.ID, Kind: j.Kind, Lease: hex.EncodeToString(tok[:]), Domain: st.Domain, Path: st.Files.Source.Path, LeaseUntil: *j.LeaseUntil}
		if err == nil && j.Kind == ScanAction {
			var act FindingAction
			var f Finding
			act, f, err = s.ActionJob(ctx, j)
			out.Action = act.Action
			out.Finding = Finding{ID: f.ID, Location: f.Location, Signature: f.Signature, QuarantineID: f.QuarantineID}
		}
		if err != nil {
			if c := ErrorCode(err); c != EPRECONDITION && c != ENOTFOUND {
				// Not the job's fault (the store, a secret that does not
				// open): its lease runs out and it is leased again.
				return AgentJob{}, false, err
			}
			if ferr := s.FinishScanJob(ctx, j, nil, err.Error()); ferr != nil {
				return AgentJob{}, false, ferr
			}
			continue
		}
		return out, true, nil
	}
	return AgentJob{}, false, nil
}

// agentJob authenticates key and loads the job id it leased with token:
// ENOTFOUND for a job that is not this agent's (another partner's or
// another agent's, in the same words as one that does not exist),
// ECONFLICT for its job whose lease it lost.
func (s *Service) agentJob(ctx context.Context, tx Tx, key string, id int64, token string) (ScanJob, error) {
	a, err := s.agentByKey(ctx, tx, key)
	if err != nil {
		return ScanJob{}, err
	}
	j, err := tx.ScanJob(ctx, a.PartnerID, id)
	if ErrorCode(err) == ENOTFOUND || (err == nil && (j.Agent != a.Name || (j.Kind != ScanFiles && j.Kind != ScanAction))) {
		return ScanJob{}, Errorf(ENOTFOUND, "scan job %d not found", id)
	}
	if err != nil {
		return ScanJob{}, err
	}
	if j.State != JobRunning || j.Owner != agentNode(a)+"#"+token || token == "" {
		return ScanJob{}, Errorf(ECONFLICT, "scan job %d is not running under this agent's lease any more", id)
	}
	return j, nil
}

func (s *Service) agentJobView(ctx context.Context, key string, id int64, token string) (ScanJob, error) {
	var j ScanJob
	err := s.store.View(ctx, func(tx Tx) (err error) { j, err = s.agentJob(ctx, tx, key, id, token); return err })
	return j, err
}

// RenewAgentJob moves the lease of the agent's job to now+AgentJobLease;
// ECONFLICT when the agent lost it (it must stop).
func (s *Service) RenewAgentJob(ctx context.Context, key string, id int64, token string) (time.Time, error) {
	until := s.clock().Add(AgentJobLease)
	err := s.store.Update(ctx, func(tx Tx) error {
		j, err := s.agentJob(ctx, tx, key, id, token)
		if err != nil {
			return err
		}
		return tx.RenewScanJob(ctx, j.ID, j.Owner, until)
	})
	return until, err
}

// ReportAgentFindings records what the agent's job found, as a node's
// runner records it (RecordFindings: the same findings, the same email on
// new malware); complete says the scan looked at every file, so that open
// findings it did not see again are resolved. At most MaxAgentFindings in
// one report, and in all the job's reports together.
func (s *Service) ReportAgentFindings(ctx context.Context, key string, id int64, token string, found []Finding, complete bool) (created, resolved int, err error) {
	if len(found) > MaxAgentFindings {
		return 0, 0, FieldError("findings", "at most %d findings in one report, not %d", MaxAgentFindings, len(found))
	}
	for i := range found {
		if msg := checkAgentFinding(&found[i]); msg != "" {
			return 0, 0, FieldError("findings["+strconv.Itoa(i)+"]", "%s", msg)
		}
	}
	j, err := s.agentJobView(ctx, key, id, token)
	if err != nil {
		return 0, 0, err
	}
	if j.Kind != ScanFiles {
		return 0, 0, Errorf(EINVALID, "job %d is a %s job: findings are reported by files jobs", id, j.Kind)
	}
	// RecordFindings checks again, in its own transaction, that this
	// claim still holds the job. A job's reports together record at most
	// MaxAgentFindings (as a node's one scan records at most its bound):
	// reports repeated under one lease cannot grow the findings without end.
	return s.recordFindings(ctx, j, found, complete, MaxAgentFindings)
}

var sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// checkAgentFinding says what is wrong with a finding an agent reports,
// or "". Only what a files scan records is kept.
func checkAgentFinding(f *Finding) string {
	in := *f
	*f = Finding{Location: in.Location, Signature: in.Signature, Class: in.Class, Severity: in.Severity, SHA256: in.SHA256, Detail: in.Detail}
	switch {
	case f.Location == "" || len(f.Location) > 4096 || !relativeInside(f.Location):
		return "location: the file's path relative to the document root (at most 4096 bytes; no '.', '..' or empty parts)"
	case f.Signature == "" || len(f.Signature) > 256:
		return "signature: 1 to 256 bytes"
	case len(f.Class) > 64:
		return "class: at most 64 bytes"
	case severityRank[f.Severity] == 0:
		return "severity: critical, high, medium or low, not " + strconv.Quote(f.Severity)
	case f.SHA256 != "" && !sha256RE.MatchString(f.SHA256):
		return "sha256: 64 lower-case hex digits"
	case len(f.Detail) > 4096 || (f.Detail != "" && !json.Valid([]byte(f.Detail))):
		return "detail: JSON of at most 4096 bytes"
	}
	return ""
}

// relativeInside says whether loc is a path inside a document root as a
// files scan names it (sitefiles' rule): slash-separated, not absolute, no
// NUL, no ".", ".." or empty part. "../other-site/index.php" is not one.
func relativeInside(loc string) bool {
	if strings.ContainsRune(loc, 0) {
		return false
	}
	for elem := range strings.SplitSeq(loc, "/") {
		if elem == "" || elem == "." || elem == ".." {
			return false
		}
	}
	return true
}

// FinishAgentJob ends the agent's job: done with its summary (a JSON
// object of at most MaxAgentSummary bytes), or failed with errMsg.
func (s *Service) FinishAgentJob(ctx context.Context, key string, id int64, token string, summary json.RawMessage, errMsg string) error {
	if len(summary) > MaxAgentSummary {
		return FieldError("summary", "at most %d bytes", MaxAgentSummary)
	}
	if len(summary) > 0 && (!json.Valid(summary) || summary[0] != '{') {
		return FieldError("summary", "a JSON object")
	}
	if !utf8.ValidString(errMsg) {
		errMsg = strings.ToValidUTF8(errMsg, "\uFFFD")
	}
	j, err := s.agentJobView(ctx, key, id, token)
	if err != nil {
		return err
	}
	var sum any
	if len(summary) > 0 {
		sum = summary
	}
	return s.FinishScanJob(ctx, j, sum, errMsg)
}

var quarantineIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// FinishAgentAction records what the agent's action job did to its
// finding's file, as a node's runner records it (FinishFindingAction):
// quarantined or cleaned (quarantineID the agent's quarantine entry), or
// restored (quarantineID ""). The finding and the new state are the job's,
// not the agent's to choose; the finding must still be in the state the
// action needs.
func (s *Service) FinishAgentAction(ctx context.Context, key string, id int64, token, quarantineID string) error {
	j, err := s.agentJobView(ctx, key, id, token)
	if err != nil {
		return err
	}
	if j.Kind != ScanAction {
		return Errorf(EINVALID, "job %d is a %s job, not an action", id, j.Kind)
	}
	a, f, err := s.ActionJob(ctx, j)
	if err != nil {
		return err
	}
	state := FindingQuarantined
	switch a.Action {
	case ActionRestore:
		state = FindingOpen
		if quarantineID != "" {
			return FieldError("quarantine_id", "a restore empties the quarantine entry: send none")
		}
	case ActionClean:
		state = FindingCleaned
	}
	if state != FindingOpen && !quarantineIDRE.MatchString(quarantineID) {
		return FieldError("quarantine_id", "the quarantine entry's id (32 lower-case hex digits)")
	}
	return s.FinishFindingAction(ctx, j, f.ID, state, quarantineID)
}
