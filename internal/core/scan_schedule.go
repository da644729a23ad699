package core

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Schedules and notices of scanning (issue 22): QueueDueScans queues the
// jobs a website's settings ask for every N hours, and a job that finds new
// malware queues one email to the website's customer.

// MaxScheduledPerPass bounds how many jobs one QueueDueScans pass queues;
// what is left is queued by the next pass.
const MaxScheduledPerPass = 200

// scheduledKinds are the kinds a schedule can queue, in the order a pass
// looks at them.
var scheduledKinds = []ScanKind{ScanFiles, ScanPatch, ScanDatabase, ScanBackup}

// every returns the schedule of kind in st (0: on demand only).
func (st *ScanSettings) every(kind ScanKind) int {
	switch kind {
	case ScanFiles:
		return st.Files.EveryHours
	case ScanPatch:
		return st.Patch.EveryHours
	case ScanDatabase:
		return st.Database.EveryHours
	case ScanBackup:
		return st.Backup.EveryHours
	}
	return 0
}

// scanRefusal says why a job of kind cannot run on a website with st, or
// returns nil. RequestScan and QueueDueScans share it.
func scanRefusal(st *ScanSettings, kind ScanKind, domain string) error {
	switch {
	case kind == ScanDatabase && (st.Database.Host == "" || st.Database.Name == ""):
		return Errorf(EPRECONDITION, "website %s has no database settings yet: its hosting provider sets its host, user and name (scan settings)", domain)
	case (kind == ScanFiles || kind == ScanPatch) && st.Files.Source.Kind == "":
		return Errorf(EPRECONDITION, "website %s has no file source yet: its hosting provider sets where its files are (scan settings)", domain)
	case kind == ScanPatch && st.Files.Source.Kind == "agent":
		return errOnAgent(domain, st.Files.Source.Agent, "the patch check")
	case kind == ScanBackup && (st.Backup.Repository == "" || st.Files.Source.Kind != "local"):
		return Errorf(EPRECONDITION, "website %s has no backup repository or no local document root yet: its hosting provider sets them (scan settings)", domain)
	// "enabled" is the hosting provider's switch: what it sells and turned
	// on for this website. A customer cannot run the others.
	case kind == ScanFiles && !st.Files.Enabled, kind == ScanPatch && !st.Patch.Enabled, kind == ScanBackup && !st.Backup.Enabled,
		kind == ScanDatabase && !st.Database.Enabled:
		return Errorf(EPRECONDITION, "%s is not switched on for website %s: its hosting provider turns it on (scan settings)", kind, domain)
	}
	return nil
}

// QueueDueScans queues a "schedule" job of each kind whose settings say
// every_hours > 0 and that the website may run (switched on, sources set),
// for every website set up or online (not paused, not deleted), when the
// last job of that kind (whatever asked for it, however it ended) was
// queued every_hours or more before now. A job already queued or running
// is left alone. It queues at most MaxScheduledPerPass jobs and returns
// how many it queued. Nodes that run jobs call it periodically
// (scanrun.Runner.Schedule); several nodes doing so at once queue each job
// once (the store's unique index, and the last job read again in the
// transaction that queues).
func (s *Service) QueueDueScans(ctx context.Context, now time.Time) (queued int, err error) {
	var cands []ScheduleCandidate
	if err := s.store.View(ctx, func(tx Tx) (err error) { cands, err = tx.ScanScheduleCandidates(ctx); return err }); err != nil {
		return 0, err
	}
	for _, c := range cands {
		var st sealedScanSettings
		if json.Unmarshal([]byte(c.Settings), &st) != nil {
			s.log.Warn("scan schedule: stored scan settings do not read", "website", c.WebsiteID)
			continue
		}
		for _, kind := range scheduledKinds {
			h := st.every(kind)
			if h <= 0 || scanRefusal(&st.ScanSettings, kind, "") != nil {
				continue
			}
			every := time.Duration(h) * time.Hour
			if last, ok := c.Last[kind]; ok && now.Sub(last) < every {
				continue
			}
			if queued >= MaxScheduledPerPass {
				return queued, nil
			}
			ok, err := s.queueScheduled(ctx, c, &st.ScanSettings, kind, every, now)
			if err != nil {
				if ctx.Err() != nil {
					return queued, ctx.Err()
				}
				return queued, fmt.Errorf("scan schedule: website %d, %s: %w", c.WebsiteID, kind, err)
			}
			if ok {
				queued++
			}
		}
	}
	return queued, nil
}

func (s *Service) queueScheduled(ctx context.Context, c ScheduleCandidate, st *ScanSettings, kind ScanKind, every time.Duration, now time.Time) (bool, error) {
	ok := false
	err := s.store.Update(ctx, func(tx Tx) error {
		// Read again under this transaction: another node's pass may have
		// queued (and even finished) it since the candidates were read.
		last, err := tx.ScanJobs(ctx, c.PartnerID, c.WebsiteID, kind, 1)
		if err != nil {
			return err
		}
		if len(last) > 0 && now.Sub(last[0].CreatedAt) < every {
			return nil
		}
		j := ScanJob{PartnerID: c.PartnerID, WebsiteID: c.WebsiteID, Kind: kind, Trigger: "schedule", CreatedAt: now, Agent: st.jobAgent(kind)}
		if err := tx.InsertScanJob(ctx, &j); err != nil {
			return err
		}
		ok = true
		return nil
	})
	if ErrorCode(err) == ECONFLICT {
		return false, nil // queued or running already
	}
	return ok, err
}

// EmailMalwareFound is the outbox kind of the notice that a scan found
// new malware on a website: one per job, never one per file.
const EmailMalwareFound = "malware_found"

// queueMalwareEmail queues, in tx, the notice that job j found n new
// findings (the gravest of severity worst) on website w: to its customer,
// or to the partner for a website without one. At most one per claim of
// the job (deduplicated on the job and its claim).
func (s *Service) queueMalwareEmail(ctx context.Context, tx Tx, j ScanJob, n int, worst string, now time.Time) error {
	w, err := tx.WebsiteByID(ctx, j.PartnerID, j.WebsiteID)
	if err != nil {
		return err
	}
	p, err := tx.Partner(ctx, j.PartnerID, false)
	if err != nil {
		return err
	}
	// One per claim of the job: RecordFindings runs once per claim. (A job
	// claimed again after its node died may tell of newer files; a
	// duplicate key would abort PostgreSQL's transaction and lose the
	// findings with it.)
	dedupe := "scanjob:" + strconv.FormatInt(j.ID, 10) + ":" + j.Owner
	if _, err := s.queueEmailData(ctx, tx, p, w, EmailMalwareFound, EmailData{Count: n, Severity: worst}, dedupe, now); err != nil {
		return err
	}
	c := Caller{PartnerID: j.PartnerID, Actor: "system (scan job " + strconv.FormatInt(j.ID, 10) + ")", Protocol: "scanner", SourceIP: "local"}
	return s.audit(ctx, tx, c, now, "website", w.Domain, "malware_found", nil,
		map[string]any{"job": j.ID, "kind": j.Kind, "new_findings": n, "severity": worst})
}

var severityRank = map[string]int{"low": 1, "medium": 2, "high": 3, "critical": 4}
