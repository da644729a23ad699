package core

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/backup"
	"github.com/palisadehq/palisade/internal/netguard"
)

// The customer-facing side of scanning (issue 22): asking for a scan,
// reading the jobs and findings, ignoring a finding. The website's partner
// and the customer that owns it may do these (OwnedWebsite); anyone else
// gets not_found, as for an unknown domain. Where a website's files,
// database and backup repository are is the partner's to configure, not
// the customer's: that part is not here yet.

// MaxScanListing bounds one page of jobs or findings.
const MaxScanListing = 500

// RequestScan queues a scan (or a backup) of kind for the website at
// domain, to be run by the next node with a free worker. A paused website
// is not scanned (EPRECONDITION); one job of each kind is queued or running
// per website at a time (ECONFLICT names the kind).
func (s *Service) RequestScan(ctx context.Context, c Caller, domain string, kind ScanKind) (ScanJob, error) {
	w, err := s.OwnedWebsite(ctx, c, domain)
	if err != nil {
		return ScanJob{}, err
	}
	if !kind.Scan() {
		return ScanJob{}, Errorf(EINVALID, "unknown scan kind %q: files, database, patch or backup", kind)
	}
	if w.Status == StatusPaused {
		return ScanJob{}, Errorf(EPRECONDITION, "website %s is paused: it is not scanned until it is resumed", w.Domain)
	}
	var st sealedScanSettings
	if err := s.store.View(ctx, func(tx Tx) (err error) { st, err = s.loadScanSettings(ctx, tx, w); return err }); err != nil {
		return ScanJob{}, err
	}
	if err := scanRefusal(&st.ScanSettings, kind, w.Domain); err != nil {
		var e *Error
		if c.Role == RoleSubaccount && errors.As(err, &e) {
			// A refusal may name the scan agent (errOnAgent): not the
			// customer's to know, as in WebsiteScanSettings.
			err = &Error{Code: e.Code, Field: e.Field, Message: redactForCustomer(e.Message, st.hiddenFromCustomer())}
		}
		return ScanJob{}, err
	}
	j := ScanJob{PartnerID: w.PartnerID, WebsiteID: w.ID, Kind: kind, Trigger: "on_demand", CreatedAt: s.clock(), Agent: st.jobAgent(kind)}
	err = s.store.Update(ctx, func(tx Tx) error {
		if err := tx.InsertScanJob(ctx, &j); err != nil {
			return err
		}
		return s.audit(ctx, tx, c, j.CreatedAt, "website", w.Domain, "request_scan", nil, map[string]any{"kind": kind, "job": j.ID})
	})
	if err != nil {
		return ScanJob{}, err
	}
	return j, nil
}

// ScanJobs lists the website's jobs (of kind, or all), newest first, at
// most limit (MaxScanListing when 0 or more).
func (s *Service) ScanJobs(ctx context.Context, c Caller, domain string, kind ScanKind, limit int) ([]ScanJob, error) {
	w, err := s.OwnedWebsite(ctx, c, domain)
	if err != nil {
		return nil, err
	}
	if kind != "" && !kind.Valid() {
		return nil, Errorf(EINVALID, "unknown scan kind %q: files, database, patch, backup, action, restore or update", kind)
	}
	if limit <= 0 || limit > MaxScanListing {
		limit = MaxScanListing
	}
	var out []ScanJob
	var st sealedScanSettings
	err = s.store.View(ctx, func(tx Tx) (err error) {
		if out, err = tx.ScanJobs(ctx, w.PartnerID, w.ID, kind, limit); err != nil {
			return err
		}
		st, err = s.loadScanSettings(ctx, tx, w)
		return err
	})
	if err != nil {
		return nil, err
	}
	if c.Role == RoleSubaccount {
		hidden := st.hiddenFromCustomer()
		for i := range out {
			out[i].Owner = "" // the node and its claim token are the hosting provider's
			h := hidden
			if out[i].Agent != "" {
				// The agent the job was for, which the settings may no
				// longer name ("no longer on scan agent \"web01\"").
				h = append(slices.Clip(hidden), strconv.Quote(out[i].Agent))
			}
			out[i].Error = redactForCustomer(out[i].Error, h)
			if out[i].Kind == ScanUpdate {
				out[i].Summary = withoutUpdateArgs(out[i].Summary)
			}
			out[i].Summary = redactSummary(out[i].Summary, h)
		}
	}
	return out, nil
}

// hiddenFromCustomer lists what WebsiteScanSettings does not show the
// customer (document root, hosts, backup repository and its host, key
// ID), longest first, for the texts the node wrote about its jobs: an
// error says "connecting to db7.internal:3306", "stat
// /srv/backups/shop/config"; a backup's summary has the snapshot's paths.
func (st *ScanSettings) hiddenFromCustomer() []string {
	vals := []string{st.Files.Source.Path, st.Files.Source.Host, st.Database.Host, st.Backup.Repository, st.Backup.S3AccessKeyID}
	if r := strings.TrimPrefix(st.Backup.Repository, "s3:"); r != st.Backup.Repository {
		if u, err := url.Parse(r); err == nil {
			vals = append(vals, u.Host, u.Hostname())
		}
	}
	if user, host, _, path := backup.SFTPLocation(st.Backup.Repository); user != "" && host != "" && strings.HasPrefix(st.Backup.Repository, "sftp:") {
		// The netguard refusal and ssh's errors name the server alone.
		vals = append(vals, host, user, path)
	}
	var out []string
	for _, v := range vals {
		if len(v) >= 3 { // not a two-letter host ("db") cut out of every word
			out = append(out, v)
		}
	}
	if st.Files.Source.Agent != "" {
		// The scan agent's name (a web server's host name), as the core's
		// errors quote it: "has its files on scan agent \"web01\"".
		out = append(out, strconv.Quote(st.Files.Source.Agent))
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// ipv4InText is an IPv4 address in an error message (a resolved host).
var ipv4InText = regexp.MustCompile(`\b\d{1,3}(\.\d{1,3}){3}\b`)

// ipv6InText is what may be an IPv6 address in an error message (ssh
// connects to the address the policy checked: "connect to host
// 2001:db8::5 port 22"); only what parses as one is hidden, not a time
// ("12:00:00").
var ipv6InText = regexp.MustCompile(`[0-9A-Fa-f]*:[0-9A-Fa-f]*:[0-9A-Fa-f:.]*`)

// redactForCustomer replaces hidden values and IP addresses in a job's
// error with "[hidden]".
func redactForCustomer(s string, hidden []string) string {
	if s == "" {
		return s
	}
	for _, h := range hidden {
		s = strings.ReplaceAll(s, h, "[hidden]")
	}
	s = ipv6InText.ReplaceAllStringFunc(s, func(m string) string {
		for _, c := range []string{m, strings.TrimRight(m, "."), strings.TrimRight(m, ":.")} { // "…::5." ends a sentence
			if a, err := netip.ParseAddr(c); err == nil && a.Is6() {
				return "[hidden]" + m[len(c):]
			}
		}
		return m
	})
	return ipv4InText.ReplaceAllString(s, "[hidden]")
}

// redactSummary replaces hidden values in the strings of a job's JSON
// summary (not its addresses: a patch check's versions look like them).
func redactSummary(sum string, hidden []string) string {
	if sum == "" || len(hidden) == 0 {
		return sum
	}
	var v any
	if json.Unmarshal([]byte(sum), &v) != nil {
		return ""
	}
	var walk func(any) any
	walk = func(v any) any {
		switch t := v.(type) {
		case string:
			for _, h := range hidden {
				t = strings.ReplaceAll(t, h, "[hidden]")
			}
			return t
		case []any:
			for i := range t {
				t[i] = walk(t[i])
			}
		case map[string]any:
			for k := range t {
				t[k] = walk(t[k])
			}
		}
		return v
	}
	b, err := json.Marshal(walk(v))
	if err != nil {
		return ""
	}
	return string(b)
}

// Findings lists the website's findings by ID, at most MaxScanListing.
func (s *Service) Findings(ctx context.Context, c Caller, domain string, f FindingFilter) ([]Finding, error) {
	w, err := s.OwnedWebsite(ctx, c, domain)
	if err != nil {
		return nil, err
	}
	if f.Kind != "" && f.Kind != ScanFiles && f.Kind != ScanDatabase && f.Kind != ScanPatch {
		return nil, Errorf(EINVALID, "unknown finding kind %q: files, database or patch", f.Kind)
	}
	if f.State != "" && !ValidFindingState(f.State) {
		return nil, Errorf(EINVALID, "unknown finding state %q: open, quarantined, cleaned, ignored or resolved", f.State)
	}
	if f.Limit <= 0 || f.Limit > MaxScanListing {
		f.Limit = MaxScanListing
	}
	var out []Finding
	err = s.store.View(ctx, func(tx Tx) (err error) {
		out, err = tx.Findings(ctx, w.PartnerID, w.ID, f)
		return err
	})
	return out, err
}

// IgnoreFinding marks one of the website's open findings as not malware
// (ignored true), or an ignored one as open again. A later scan keeps an
// ignored finding ignored while its file's content is unchanged. Findings
// in other states (quarantined, cleaned, resolved) are changed by the
// actions that put them there, not here (EPRECONDITION).
func (s *Service) IgnoreFinding(ctx context.Context, c Caller, domain string, id int64, ignored bool) (Finding, error) {
	w, err := s.OwnedWebsite(ctx, c, domain)
	if err != nil {
		return Finding{}, err
	}
	from, to := FindingOpen, FindingIgnored
	if !ignored {
		from, to = FindingIgnored, FindingOpen
	}
	var f Finding
	err = s.store.Update(ctx, func(tx Tx) error {
		var err error
		f, err = tx.Finding(ctx, w.PartnerID, id)
		if err != nil {
			return err
		}
		if f.WebsiteID != w.ID {
			return Errorf(ENOTFOUND, "finding not found")
		}
		if f.State == to {
			return nil
		}
		if f.State != from {
			return Errorf(EPRECONDITION, "finding %d is %s: only an %s finding can be marked %s", id, f.State, from, to)
		}
		now := s.clock()
		if err := tx.SetFindingState(ctx, w.PartnerID, id, to, "", now); err != nil {
			return err
		}
		f.State, f.ChangedAt = to, now
		return s.audit(ctx, tx, c, now, "website", w.Domain, "finding_"+to, map[string]any{"finding": strconv.FormatInt(id, 10), "state": from},
			map[string]any{"finding": strconv.FormatInt(id, 10), "state": to})
	})
	if err != nil {
		return Finding{}, err
	}
	return f, nil
}

// The node's side: a runner claims jobs, renews their lease while it
// works, records what it found and finishes them. These take no Caller:
// they are the node's own work, never an adapter's.

// ClaimScanJob claims the next job for node, running until now+lease;
// ok is false when there is none (or another node took it first).
//
// The job's Owner is node plus a token of this claim, so that a worker
// whose lease ran out and was claimed again (by any node, even the same
// one) can no longer renew, record into or finish the new attempt.
func (s *Service) ClaimScanJob(ctx context.Context, node string, lease time.Duration) (j ScanJob, ok bool, err error) {
	var tok [8]byte
	if _, err := io.ReadFull(s.rand, tok[:]); err != nil {
		return ScanJob{}, false, err
	}
	owner := node + "#" + hex.EncodeToString(tok[:])
	err = s.store.Update(ctx, func(tx Tx) (err error) {
		j, err = tx.ClaimScanJob(ctx, owner, s.clock(), lease)
		return err
	})
	switch ErrorCode(err) {
	case "":
		return j, true, nil
	case ENOTFOUND, ECONFLICT:
		return ScanJob{}, false, nil
	}
	return ScanJob{}, false, err
}

// RenewScanJob moves the lease of a job this claim (j.Owner) holds to
// now+lease; ECONFLICT when it lost it (the runner must stop).
func (s *Service) RenewScanJob(ctx context.Context, j ScanJob, lease time.Duration) error {
	return s.store.Update(ctx, func(tx Tx) error { return tx.RenewScanJob(ctx, j.ID, j.Owner, s.clock().Add(lease)) })
}

// FinishScanJob ends a job this claim (j.Owner) holds: done with its
// summary (JSON of what the job did), or failed with errMsg.
func (s *Service) FinishScanJob(ctx context.Context, j ScanJob, summary any, errMsg string) error {
	state := JobDone
	if errMsg != "" {
		state = JobFailed
		if len(errMsg) > 2000 {
			errMsg = errMsg[:2000]
		}
		// Not cut inside a character, and no bytes that are not UTF-8
		// (file names are bytes): PostgreSQL refuses such text, and the
		// job could not finish.
		errMsg = strings.ToValidUTF8(errMsg, "\uFFFD")
	}
	b, err := json.Marshal(summary)
	if err != nil {
		return err
	}
	if err := s.store.Update(ctx, func(tx Tx) error { return tx.FinishScanJob(ctx, j.ID, j.Owner, state, string(b), errMsg, s.clock()) }); err != nil {
		return err
	}
	s.observeJob(j.Kind, state)
	return nil
}

// RecordFindings saves what job j found (each finding's website, kind and
// job are j's; found is updated with the stored IDs and states) and, when the job looked at everything (complete), resolves
// the website's open findings of that kind it did not see again. It
// returns how many findings are new and how many were resolved.
func (s *Service) RecordFindings(ctx context.Context, j ScanJob, found []Finding, complete bool) (created, resolved int, err error) {
	return s.recordFindings(ctx, j, found, complete, 0)
}

// recordFindings is RecordFindings; with maxJob above 0, a report that
// leaves more than maxJob findings recorded by job j (over all its reports
// and claims) is refused and records nothing.
func (s *Service) recordFindings(ctx context.Context, j ScanJob, found []Finding, complete bool, maxJob int) (created, resolved int, err error) {
	now := s.clock()
	var bySeverity map[string]int // the new findings, for the observer
	err = s.store.Update(ctx, func(tx Tx) error {
		created, resolved = 0, 0
		bySeverity = map[string]int{}
		worst := ""
		// Only while this claim still holds the job: a worker that lost
		// its lease records nothing (and the transaction rolls back).
		if err := tx.ScanJobHeld(ctx, j.ID, j.Owner); err != nil {
			return err
		}
		for i := range found {
			f := found[i]
			// File names are bytes; PostgreSQL refuses text that is not
			// UTF-8, and one such name would lose every finding.
			for _, p := range []*string{&f.Location, &f.Signature, &f.Class, &f.Severity, &f.SHA256, &f.Detail} {
				*p = strings.ToValidUTF8(*p, "\uFFFD")
			}
			f.PartnerID, f.WebsiteID, f.Kind, f.JobID, f.LastSeen = j.PartnerID, j.WebsiteID, j.Kind, j.ID, now
			isNew, err := tx.SaveFinding(ctx, &f)
			if err != nil {
				return err
			}
			if isNew {
				created++
				bySeverity[f.Severity]++
				if severityRank[f.Severity] > severityRank[worst] {
					worst = f.Severity
				}
			}
			found[i] = f // its ID and state, for the caller
		}
		if maxJob > 0 {
			n, err := tx.CountJobFindings(ctx, j.WebsiteID, j.ID)
			if err != nil {
				return err
			}
			if n > maxJob {
				return FieldError("findings", "job %d would have %d findings, at most %d in all of its reports", j.ID, n, maxJob)
			}
		}
		if complete {
			var err error
			if resolved, err = tx.ResolveFindings(ctx, j.PartnerID, j.WebsiteID, j.Kind, j.ID, now); err != nil {
				return err
			}
		}
		// New malware (not a patch check's advisories): one email for the
		// job, however many files.
		if created > 0 && (j.Kind == ScanFiles || j.Kind == ScanDatabase) {
			return s.queueMalwareEmail(ctx, tx, j, created, worst, now)
		}
		return nil
	})
	if err == nil {
		s.observeFindings(j.Kind, bySeverity)
	}
	return created, resolved, err
}

// MarkCleaned records that job j's runner cleaned a finding of its
// website (the file's original kept in quarantine under quarantineID).
func (s *Service) MarkCleaned(ctx context.Context, j ScanJob, findingID int64, quarantineID string) error {
	// Palisade changed the customer's file: the audit log says so.
	return s.markFinding(ctx, j, findingID, FindingCleaned, quarantineID)
}

// ScanJobSettings returns the settings, secrets opened, that the node runs
// job j with, checked again now rather than only when they were saved: a
// job of a website deleted or paused since it was queued is not run, and a
// local document root (or, for a backup, a local repository) that the
// operator's roots no longer allow this partner is not opened
// (EPRECONDITION, with the reason).
func (s *Service) ScanJobSettings(ctx context.Context, j ScanJob) (ScanSettings, error) {
	var w Website
	var p Partner
	err := s.store.View(ctx, func(tx Tx) (err error) {
		if w, err = tx.WebsiteByID(ctx, j.PartnerID, j.WebsiteID); err != nil {
			return err
		}
		p, err = tx.Partner(ctx, j.PartnerID, false)
		return err
	})
	if err != nil {
		return ScanSettings{}, err
	}
	switch w.Status {
	case StatusDeleted:
		return ScanSettings{}, Errorf(EPRECONDITION, "website %s was deleted after the job was asked for: not run", w.Domain)
	case StatusPaused:
		return ScanSettings{}, Errorf(EPRECONDITION, "website %s was paused after the job was asked for: not run", w.Domain)
	}
	st, err := s.ScanSecrets(ctx, j.PartnerID, j.WebsiteID)
	if err != nil {
		return ScanSettings{}, err
	}
	if st.Files.Source.Kind == "agent" && j.Agent == "" && j.Kind != ScanDatabase {
		// Queued before the files moved to an agent: a node cannot reach them.
		return ScanSettings{}, errOnAgent(w.Domain, st.Files.Source.Agent, "a "+string(j.Kind)+" job run by a node")
	}
	root, repo := st.localPaths()
	if root != "" {
		if msg := localUnder(root, s.cfg.ScanRoots, "--scan-root", p.Name); msg != "" {
			return ScanSettings{}, Errorf(EPRECONDITION, "files.source.path: %s", msg)
		}
	}
	if repo != "" && (j.Kind == ScanBackup || j.Kind == ScanRestore || j.Kind == ScanUpdate) {
		if msg := localUnder(repo, s.cfg.BackupRoots, "--backup-root", p.Name); msg != "" {
			return ScanSettings{}, Errorf(EPRECONDITION, "backup.repository: %s", msg)
		}
	}
	if st.Net, err = scanNet(s.cfg.ScanAllowNets, p.Name); err != nil {
		return ScanSettings{}, err
	}
	st.Domain = w.Domain
	return st, nil
}

// scanNet is the partner's connection policy: the ranges allowed for
// everyone and those allowed to that partner.
func scanNet(allow []string, partner string) (netguard.Policy, error) {
	all, byPartner, err := netguard.ParseAllow(allow)
	if err != nil {
		return netguard.Policy{}, Errorf(EINTERNAL, "%v", err)
	}
	return netguard.Policy{Allow: append(all, byPartner[partner]...)}, nil
}
