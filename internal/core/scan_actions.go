package core

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Actions on findings and backups (issue 22). They change a website's
// files or database, which only the node that runs jobs can reach, so they
// are jobs too: a partner or its customer asks for one here (the same
// rules as RequestScan: the website's partner and its customer; anyone
// else gets not_found, as for an unknown domain), the runner
// (internal/scanrun) does it, and the job's summary or error says how it
// went. A job acts on one website at a time like every other job (one
// runs per website across the fleet), so a quarantine never races a scan
// of the same files.

// The actions on a finding (RequestFindingAction).
const (
	// ActionQuarantine moves an open finding's file into the node's
	// quarantine (its bytes and metadata kept); the finding becomes
	// quarantined and names the entry.
	ActionQuarantine = "quarantine"
	// ActionRestore puts a quarantined finding's file back, byte for
	// byte; the finding is open again. Refused (the job fails) when a
	// different file now exists at that path.
	ActionRestore = "restore"
	// ActionClean removes a known injection from an open finding's file
	// (malware.Clean: only what is unambiguous, checked with clamd), the
	// original kept in quarantine; the finding becomes cleaned. A file
	// that cannot be cleaned safely is left alone and the job fails
	// saying so (quarantine it, or restore it from a backup).
	ActionClean = "clean"
)

// FindingAction is an action job's parameters (ScanJob.Params).
type FindingAction struct {
	FindingID int64  `json:"finding_id"`
	Action    string `json:"action"`
}

// RequestFindingAction queues action (quarantine, restore or clean) on the
// website's finding id. Only findings of files scans are acted on (a
// database or patch finding has no file to move). An explicit clean is
// allowed whether or not the website has files.auto_clean: auto_clean is
// about what the worker does on its own after every scan; a person asking
// for one finding to be cleaned is deciding for that file, and Clean only
// removes what it can prove is the injection.
//
// Errors: EINVALID for an id below 1 or an unknown action; ENOTFOUND for a
// finding that is not this website's; EPRECONDITION for a finding in the
// wrong state or kind, a paused website, or file scans not switched on;
// ECONFLICT when an action on this finding is already queued or running.
func (s *Service) RequestFindingAction(ctx context.Context, c Caller, domain string, id int64, action string) (ScanJob, error) {
	w, err := s.OwnedWebsite(ctx, c, domain)
	if err != nil {
		return ScanJob{}, err
	}
	if id <= 0 {
		return ScanJob{}, Errorf(EINVALID, "finding id must be a positive number, not %d", id)
	}
	var from string
	switch action {
	case ActionQuarantine, ActionClean:
		from = FindingOpen
	case ActionRestore:
		from = FindingQuarantined
	default:
		return ScanJob{}, Errorf(EINVALID, "unknown finding action %q: quarantine, restore or clean", action)
	}
	if w.Status == StatusPaused {
		return ScanJob{}, Errorf(EPRECONDITION, "website %s is paused: its files are not changed until it is resumed", w.Domain)
	}
	now := s.clock()
	params, _ := json.Marshal(FindingAction{FindingID: id, Action: action})
	j := ScanJob{PartnerID: w.PartnerID, WebsiteID: w.ID, Kind: ScanAction, Trigger: "on_demand", CreatedAt: now,
		Params: string(params), Target: "finding:" + strconv.FormatInt(id, 10)}
	err = s.store.Update(ctx, func(tx Tx) error {
		f, err := tx.Finding(ctx, w.PartnerID, id)
		if err != nil || f.WebsiteID != w.ID {
			if err == nil || ErrorCode(err) == ENOTFOUND {
				return Errorf(ENOTFOUND, "finding %d not found on website %s", id, w.Domain)
			}
			return err
		}
		if f.Kind != ScanFiles {
			return Errorf(EPRECONDITION, "finding %d is of a %s scan: only findings in files can be quarantined, restored or cleaned", id, f.Kind)
		}
		if f.State != from {
			return Errorf(EPRECONDITION, "finding %d is %s: only a finding that is %s can be %s", id, f.State, from, actionPast(action))
		}
		if action == ActionRestore && f.QuarantineID == "" {
			return Errorf(EPRECONDITION, "finding %d names no quarantined file to restore", id)
		}
		st, err := s.loadScanSettings(ctx, tx, w)
		if err != nil {
			return err
		}
		if st.Files.Source.Kind == "" {
			return Errorf(EPRECONDITION, "website %s has no file source: its hosting provider sets where its files are (scan settings)", w.Domain)
		}
		// Files on an agent: the agent acts on them (scan_agents.go).
		j.Agent = st.jobAgent(ScanAction)
		// Restoring what Palisade moved aside is always allowed: it
		// gives the customer back its own file.
		if !st.Files.Enabled && action != ActionRestore {
			return Errorf(EPRECONDITION, "files is not switched on for website %s: its hosting provider turns it on (scan settings)", w.Domain)
		}
		if err := tx.InsertScanJob(ctx, &j); err != nil {
			if ErrorCode(err) == ECONFLICT {
				return Errorf(ECONFLICT, "an action on finding %d is already queued or running", id)
			}
			return err
		}
		return s.audit(ctx, tx, c, now, "website", w.Domain, "request_finding_action", nil,
			map[string]any{"finding": strconv.FormatInt(id, 10), "action": action, "location": f.Location, "job": j.ID})
	})
	if err != nil {
		return ScanJob{}, err
	}
	return j, nil
}

func actionPast(action string) string {
	switch action {
	case ActionQuarantine:
		return "quarantined"
	case ActionClean:
		return "cleaned"
	}
	return "restored"
}

// ActionJob returns what action job j (held by this claim) is to do: its
// parameters and the finding as it is now. The runner acts on the file
// under the finding's location. A finding no longer in the state the
// action needs (resolved by a scan since, quarantined by auto_clean...) is
// EPRECONDITION: the job fails saying why, nothing is touched.
func (s *Service) ActionJob(ctx context.Context, j ScanJob) (FindingAction, Finding, error) {
	var a FindingAction
	if j.Kind != ScanAction {
		return a, Finding{}, Errorf(EINVALID, "job %d is a %s job, not an action", j.ID, j.Kind)
	}
	if err := json.Unmarshal([]byte(j.Params), &a); err != nil {
		return a, Finding{}, fmt.Errorf("job %d: parameters: %w", j.ID, err)
	}
	var f Finding
	err := s.store.View(ctx, func(tx Tx) (err error) {
		f, err = tx.Finding(ctx, j.PartnerID, a.FindingID)
		return err
	})
	if err != nil {
		return a, f, err
	}
	if f.WebsiteID != j.WebsiteID {
		return a, f, Errorf(ENOTFOUND, "finding not found")
	}
	want := FindingOpen
	if a.Action == ActionRestore {
		want = FindingQuarantined
	}
	if f.State != want {
		return a, f, Errorf(EPRECONDITION, "finding %d is %s now: only a finding that is %s can be %s", f.ID, f.State, want, actionPast(a.Action))
	}
	return a, f, nil
}

// FinishFindingAction records, under j's claim, what the runner did to a
// finding: state is FindingQuarantined (quarantineID the entry),
// FindingOpen (restored; the entry is gone) or FindingCleaned
// (quarantineID the original). An audit entry says Palisade changed the
// customer's file.
func (s *Service) FinishFindingAction(ctx context.Context, j ScanJob, findingID int64, state, quarantineID string) error {
	return s.markFinding(ctx, j, findingID, state, quarantineID)
}

func (s *Service) markFinding(ctx context.Context, j ScanJob, findingID int64, state, quarantineID string) error {
	return s.store.Update(ctx, func(tx Tx) error {
		if err := tx.ScanJobHeld(ctx, j.ID, j.Owner); err != nil {
			return err
		}
		f, err := tx.Finding(ctx, j.PartnerID, findingID)
		if err != nil {
			return err
		}
		if f.WebsiteID != j.WebsiteID {
			return Errorf(ENOTFOUND, "finding not found")
		}
		w, err := tx.WebsiteByID(ctx, j.PartnerID, j.WebsiteID)
		if err != nil {
			return err
		}
		now := s.clock()
		if err := tx.SetFindingState(ctx, j.PartnerID, findingID, state, quarantineID, now); err != nil {
			return err
		}
		c := Caller{PartnerID: j.PartnerID, Actor: "system (scan job " + strconv.FormatInt(j.ID, 10) + ")", Protocol: "scanner", SourceIP: "local"}
		action := "finding_" + state
		if state == FindingOpen && f.State == FindingQuarantined {
			action = "finding_restored"
		}
		return s.audit(ctx, tx, c, now, "website", w.Domain, action,
			map[string]any{"finding": strconv.FormatInt(findingID, 10), "state": f.State, "location": f.Location, "signature": f.Signature, "quarantine_id": f.QuarantineID},
			map[string]any{"finding": strconv.FormatInt(findingID, 10), "state": state, "quarantine_id": quarantineID})
	})
}

// ---- backups ----

// Backup is one backup of a website: the snapshot of its files and, when
// its database is set, the snapshot of the database's dump, taken by one
// backup job.
type Backup struct {
	JobID            int64     `json:"job_id"`
	Time             time.Time `json:"time"`
	Snapshot         string    `json:"snapshot"` // the files' snapshot (64 hex digits)
	ShortID          string    `json:"short_id"`
	Files            int64     `json:"files"` // files in the snapshot
	Bytes            int64     `json:"bytes"` // their size
	Database         bool      `json:"database"`
	DatabaseSnapshot string    `json:"database_snapshot,omitempty"`
	DatabaseFile     string    `json:"database_file,omitempty"` // the dump's name in its snapshot ("/shop.sql")
	// Incomplete says why the job failed although it saved a snapshot
	// (files it could not read, the retention that failed after it).
	Incomplete string `json:"incomplete,omitempty"`
}

// backupJobSummary is the part of a backup job's summary (scanrun's
// BackupSummary: restic snapshots as internal/backup marshals them) that
// the core reads.
type backupJobSummary struct {
	Files    *backupSnap `json:"files"`
	Database *backupSnap `json:"database"`
	Forget   *struct {
		Removed []backupSnap `json:"Removed"`
	} `json:"forget"`
}

type backupSnap struct {
	ID      string    `json:"ID"`
	ShortID string    `json:"ShortID"`
	Time    time.Time `json:"Time"`
	Paths   []string  `json:"Paths"`
	Summary *struct {
		TotalFiles int64 `json:"TotalFiles"`
		TotalBytes int64 `json:"TotalBytes"`
	} `json:"Summary"`
}

// MaxBackupJobsRead bounds how many backup jobs Backups reads.
const MaxBackupJobsRead = 1000

// Backups lists the website's backups, newest first, at most limit
// (MaxScanListing when 0 or more): those its backup jobs saved and that
// no later job's retention (keep_daily, keep_weekly, keep_monthly)
// removed.
func (s *Service) Backups(ctx context.Context, c Caller, domain string, limit int) ([]Backup, error) {
	w, err := s.OwnedWebsite(ctx, c, domain)
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxScanListing {
		limit = MaxScanListing
	}
	all, err := s.backups(ctx, w)
	if err != nil {
		return nil, err
	}
	if len(all) > limit {
		all = all[:limit]
	}
	if c.Role == RoleSubaccount {
		// A failed job's error names the repository (see ScanJobs).
		var st sealedScanSettings
		if err := s.store.View(ctx, func(tx Tx) (err error) { st, err = s.loadScanSettings(ctx, tx, w); return err }); err != nil {
			return nil, err
		}
		hidden := st.hiddenFromCustomer()
		for i := range all {
			all[i].Incomplete = redactForCustomer(all[i].Incomplete, hidden)
		}
	}
	return all, nil
}

func (s *Service) backups(ctx context.Context, w Website) ([]Backup, error) {
	var jobs []ScanJob
	err := s.store.View(ctx, func(tx Tx) (err error) {
		if jobs, err = tx.ScanJobs(ctx, w.PartnerID, w.ID, ScanBackup, MaxBackupJobsRead); err != nil {
			return err
		}
		// The backups taken before updates too (scan_update.go).
		jobs, err = withUpdateBackups(ctx, tx, w, jobs)
		return err
	})
	if err != nil {
		return nil, err
	}
	removed := map[string]bool{}
	var out []Backup
	// Newest first: a snapshot removed by a later job's retention was
	// seen in its Removed list before the job that made it.
	for _, j := range jobs {
		if j.State != JobDone && j.State != JobFailed || j.Summary == "" {
			continue
		}
		var sum backupJobSummary
		if json.Unmarshal([]byte(j.Summary), &sum) != nil {
			continue
		}
		if sum.Forget != nil {
			for _, r := range sum.Forget.Removed {
				removed[r.ID] = true
			}
		}
		if sum.Files == nil || sum.Files.ID == "" || removed[sum.Files.ID] {
			continue
		}
		b := Backup{JobID: j.ID, Time: sum.Files.Time.UTC(), Snapshot: sum.Files.ID, ShortID: sum.Files.ShortID}
		if sum.Files.Summary != nil {
			b.Files, b.Bytes = sum.Files.Summary.TotalFiles, sum.Files.Summary.TotalBytes
		}
		if d := sum.Database; d != nil && d.ID != "" && !removed[d.ID] && len(d.Paths) > 0 {
			b.Database, b.DatabaseSnapshot, b.DatabaseFile = true, d.ID, d.Paths[0]
		}
		if j.State == JobFailed {
			b.Incomplete = j.Error
			if b.Incomplete == "" {
				b.Incomplete = "the backup job failed"
			}
		}
		out = append(out, b)
	}
	return out, nil
}

// RestoreRequest asks for a backup to be put back into the website.
type RestoreRequest struct {
	// Snapshot is a listed backup's files snapshot (its full or short
	// ID): its files are restored, and with Database its database dump
	// too. It may instead be the backup's database snapshot: then only
	// the database is restored.
	Snapshot string `json:"snapshot"`
	// Path is a file or folder relative to the document root
	// ("wp-content/uploads"); "" restores every file. Files in the
	// website that the snapshot does not hold are left as they are.
	Path     string `json:"path"`
	Database bool   `json:"database"`
}

// RestorePlan is what a restore job does (ScanJob.Params): the request
// checked and resolved against the website's backups.
type RestorePlan struct {
	FilesSnapshot    string `json:"files_snapshot,omitempty"` // "": no files
	Include          string `json:"include,omitempty"`        // "/" or "/wp-content/uploads"
	DatabaseSnapshot string `json:"database_snapshot,omitempty"`
	DatabaseFile     string `json:"database_file,omitempty"` // "/shop.sql"
	Backup           int64  `json:"backup_job"`
}

var snapshotIDRE = regexp.MustCompile(`^[0-9a-f]{8,64}$`)

// cleanRestorePath checks a path relative to the document root and gives
// it as restic's include ("/..."), or says what is wrong with it.
func cleanRestorePath(p string) (string, error) {
	switch {
	case p == "":
		return "/", nil
	case len(p) > 4096:
		return "", Errorf(EINVALID, "path: longer than 4096 bytes")
	case !utf8.ValidString(p):
		return "", Errorf(EINVALID, "path: not valid UTF-8")
	case strings.ContainsAny(p, "\x00\n\r"):
		return "", Errorf(EINVALID, "path: must not contain NUL or line breaks")
	case strings.HasPrefix(p, "/"):
		return "", Errorf(EINVALID, "path: %q must be relative to the document root (\"wp-content/uploads\"), not absolute", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return "", Errorf(EINVALID, "path: %q must not contain \"..\"", p)
		}
	}
	if t := strings.TrimSuffix(p, "/"); path.Clean(t) != t || t == "." || strings.Contains(p, "//") {
		return "", Errorf(EINVALID, "path: %q is not clean (no \".\" parts, no empty parts)", p)
	}
	return "/" + strings.TrimSuffix(p, "/"), nil
}

// RequestRestore queues the restore of one of the website's backups into
// the website (files through its document root, the database through
// its database settings), run by the node that runs jobs. The website's
// partner and its customer may ask.
//
// Errors: EINVALID for a snapshot ID that is not 8 to 64 lower-case hex
// digits, a path that is absolute, holds "..", NUL or is not clean, or a
// database restore of a backup without a dump; ENOTFOUND for a snapshot
// that is not one of this website's backups; EPRECONDITION for a paused
// website or backups not set up; ECONFLICT when a restore is already
// queued or running.
func (s *Service) RequestRestore(ctx context.Context, c Caller, domain string, r RestoreRequest) (ScanJob, error) {
	w, err := s.OwnedWebsite(ctx, c, domain)
	if err != nil {
		return ScanJob{}, err
	}
	r.Snapshot = strings.TrimSpace(r.Snapshot)
	if !snapshotIDRE.MatchString(r.Snapshot) {
		return ScanJob{}, Errorf(EINVALID, "snapshot: %q is not a snapshot ID (8 to 64 lower-case hex digits, as Backups lists them)", r.Snapshot)
	}
	include, err := cleanRestorePath(r.Path)
	if err != nil {
		return ScanJob{}, err
	}
	if w.Status == StatusPaused {
		return ScanJob{}, Errorf(EPRECONDITION, "website %s is paused: nothing is restored until it is resumed", w.Domain)
	}
	var st sealedScanSettings
	if err := s.store.View(ctx, func(tx Tx) (err error) { st, err = s.loadScanSettings(ctx, tx, w); return err }); err != nil {
		return ScanJob{}, err
	}
	if st.Backup.Repository == "" || st.Files.Source.Kind != "local" {
		return ScanJob{}, Errorf(EPRECONDITION, "website %s has no backup repository or no local document root: its hosting provider sets them (scan settings)", w.Domain)
	}
	all, err := s.backups(ctx, w)
	if err != nil {
		return ScanJob{}, err
	}
	var plan RestorePlan
	found := 0
	for _, b := range all {
		switch {
		case strings.HasPrefix(b.Snapshot, r.Snapshot):
			plan = RestorePlan{FilesSnapshot: b.Snapshot, Include: include, Backup: b.JobID}
			if r.Database {
				if !b.Database {
					return ScanJob{}, Errorf(EINVALID, "database: backup %s holds no database dump", b.ShortID)
				}
				plan.DatabaseSnapshot, plan.DatabaseFile = b.DatabaseSnapshot, b.DatabaseFile
			}
			found++
		case b.Database && strings.HasPrefix(b.DatabaseSnapshot, r.Snapshot):
			if r.Path != "" {
				return ScanJob{}, Errorf(EINVALID, "path: snapshot %s is a database dump: it has no files (name the backup's files snapshot)", r.Snapshot)
			}
			plan = RestorePlan{DatabaseSnapshot: b.DatabaseSnapshot, DatabaseFile: b.DatabaseFile, Backup: b.JobID}
			found++
		}
	}
	switch {
	case found == 0:
		return ScanJob{}, Errorf(ENOTFOUND, "snapshot %s is not one of website %s's backups", r.Snapshot, w.Domain)
	case found > 1:
		return ScanJob{}, Errorf(EINVALID, "snapshot: %q names more than one backup: give more digits", r.Snapshot)
	}
	if plan.DatabaseSnapshot != "" && (st.Database.Host == "" || st.Database.Name == "") {
		return ScanJob{}, Errorf(EPRECONDITION, "website %s has no database settings to restore into (scan settings)", w.Domain)
	}
	params, _ := json.Marshal(plan)
	now := s.clock()
	j := ScanJob{PartnerID: w.PartnerID, WebsiteID: w.ID, Kind: ScanRestore, Trigger: "on_demand", CreatedAt: now, Params: string(params)}
	err = s.store.Update(ctx, func(tx Tx) error {
		if err := tx.InsertScanJob(ctx, &j); err != nil {
			if ErrorCode(err) == ECONFLICT {
				return Errorf(ECONFLICT, "a restore is already queued or running for website %s", w.Domain)
			}
			return err
		}
		return s.audit(ctx, tx, c, now, "website", w.Domain, "request_restore", nil,
			map[string]any{"snapshot": plan.FilesSnapshot, "path": include, "database_snapshot": plan.DatabaseSnapshot, "job": j.ID})
	})
	if err != nil {
		return ScanJob{}, err
	}
	return j, nil
}

// RestoreJob returns what restore job j is to do.
func (s *Service) RestoreJob(j ScanJob) (RestorePlan, error) {
	var p RestorePlan
	if j.Kind != ScanRestore {
		return p, Errorf(EINVALID, "job %d is a %s job, not a restore", j.ID, j.Kind)
	}
	if err := json.Unmarshal([]byte(j.Params), &p); err != nil {
		return p, fmt.Errorf("job %d: parameters: %w", j.ID, err)
	}
	if p.FilesSnapshot == "" && p.DatabaseSnapshot == "" {
		return p, fmt.Errorf("job %d: nothing to restore", j.ID)
	}
	return p, nil
}
