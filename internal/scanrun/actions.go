package scanrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/backup"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/malware"
	"github.com/palisadehq/palisade/internal/sitefiles"
)

// quarantine is the website's quarantine on this node. In a fleet,
// DATA-DIR/scan must be shared by the nodes (like local document roots)
// for a file quarantined by one node to be restored by another.
func (r *Runner) quarantine(j core.ScanJob) *malware.Quarantine {
	return &malware.Quarantine{Dir: filepath.Join(r.Dir, "quarantine", strconv.FormatInt(j.WebsiteID, 10)), Now: r.Now}
}

// repo is the website's restic repository.
func (r *Runner) repo(st core.ScanSettings) *backup.Repo {
	b := st.Backup
	return &backup.Repo{Location: b.Repository, Password: b.RepositoryPassword, S3AccessKeyID: b.S3AccessKeyID, S3SecretAccessKey: b.S3SecretKey,
		SFTPKey: b.RepositoryPrivateKey, SFTPHostKey: b.RepositoryHostKey,
		CacheDir: filepath.Join(r.Dir, "restic"), Binary: r.Restic,
		CheckHost: func(ctx context.Context, host string) error {
			if strings.HasPrefix(b.Repository, "sftp:") && (b.RepositoryPrivateKey == "" || b.RepositoryHostKey == "") {
				// Settings stored before sftp: repositories needed a key
				// of their own: restic would run ssh with the operator's
				// keys, agent and known_hosts.
				return errors.New("an sftp: repository without its own key and host key (repository_private_key, repository_host_key): ssh never signs in with the operator's own keys")
			}
			return st.Net.CheckResolved(ctx, host, nil)
		},
		// ssh connects to the address the policy checked, not to a
		// second answer of the resolver.
		ResolveHost: func(ctx context.Context, host string) (string, error) {
			a, err := st.Net.Resolve(ctx, host, nil)
			if err != nil {
				return "", err
			}
			return a.String(), nil
		}}
}

// ActionSummary is what an action job stores as its summary.
type ActionSummary struct {
	Finding      int64  `json:"finding"`
	Action       string `json:"action"`
	Location     string `json:"location"`
	QuarantineID string `json:"quarantine_id,omitempty"` // the entry made (quarantine, clean) or emptied (restore)
	Diff         string `json:"diff,omitempty"`          // what a clean removed (unified diff)
	State        string `json:"state"`                   // the finding's state after the action
}

// action quarantines, restores or cleans one finding's file.
func (r *Runner) action(ctx context.Context, j core.ScanJob, st core.ScanSettings) (any, error) {
	a, f, err := r.Service.ActionJob(ctx, j)
	if err != nil {
		return nil, err
	}
	fsys, err := open(ctx, st)
	if err != nil {
		return ActionSummary{Finding: f.ID, Action: a.Action, Location: f.Location}, err
	}
	defer fsys.Close()
	return RunAction(ctx, fsys, r.quarantine(j), r.Clamd, a.Action, f, func(state, quarantineID string) error {
		return r.Service.FinishFindingAction(ctx, j, f.ID, state, quarantineID)
	})
}

// RunAction is an action job's work, for a node's runner and for a scan
// agent alike: it quarantines, restores or cleans finding f's file in fsys
// (action: core.ActionQuarantine, ActionRestore or ActionClean), with q
// the website's quarantine, and records the finding's new state with
// record (the core, for a node; Palisade's agent API, for an agent). A
// quarantine that cannot be recorded is put back, so that the finding and
// the website agree.
func RunAction(ctx context.Context, fsys sitefiles.FS, q *malware.Quarantine, clamd *malware.Client, action string, f core.Finding,
	record func(state, quarantineID string) error) (ActionSummary, error) {
	sum := ActionSummary{Finding: f.ID, Action: action, Location: f.Location}
	switch action {
	case core.ActionQuarantine:
		e, err := q.Put(ctx, fsys, f.Location, f.Signature)
		if err != nil {
			return sum, fmt.Errorf("quarantining %s: %w", f.Location, err)
		}
		if err := record(core.FindingQuarantined, e.ID); err != nil {
			// Not recorded (the lease was lost): the file goes back, so
			// that the finding and the website agree.
			if _, rerr := q.Restore(context.WithoutCancel(ctx), fsys, e.ID, false); rerr != nil {
				return sum, fmt.Errorf("%w (and putting %s back failed: %v; it is in quarantine as %s)", err, f.Location, rerr, e.ID)
			}
			return sum, err
		}
		sum.QuarantineID, sum.State = e.ID, core.FindingQuarantined
	case core.ActionRestore:
		if _, err := q.Get(f.QuarantineID); err != nil {
			// Not q.Dir: the job's error is the customer's to read, and
			// the folder is the host's (a node's DATA-DIR, an agent's
			// --state-dir).
			return sum, fmt.Errorf("the quarantined copy of %s is not in this machine's quarantine (the website moved to another node, agent or folder since): %w", f.Location, err)
		}
		if _, err := q.Restore(ctx, fsys, f.QuarantineID, false); err != nil {
			if errors.Is(err, malware.ErrConflict) {
				return sum, fmt.Errorf("%s: another file now exists at that path; it is not overwritten (remove or rename it, then ask again)", f.Location)
			}
			return sum, fmt.Errorf("restoring %s: %w", f.Location, err)
		}
		if err := record(core.FindingOpen, ""); err != nil {
			return sum, err
		}
		sum.QuarantineID, sum.State = f.QuarantineID, core.FindingOpen
	case core.ActionClean:
		if clamd == nil {
			return sum, errors.New("no clamd is configured on this node (--clamd): cleaning checks the result with it")
		}
		c, e, err := malware.Clean(ctx, fsys, q, clamd, f.Location, f.Signature)
		if err != nil {
			if errors.Is(err, malware.ErrNotCleanable) {
				return sum, fmt.Errorf("%s cannot be cleaned safely (only known injections with an unambiguous boundary are removed): quarantine it or restore it from a backup", f.Location)
			}
			return sum, fmt.Errorf("cleaning %s: %w", f.Location, err)
		}
		if err := record(core.FindingCleaned, e.ID); err != nil {
			return sum, err
		}
		sum.QuarantineID, sum.Diff, sum.State = e.ID, c.Diff, core.FindingCleaned
	default:
		return sum, fmt.Errorf("unknown finding action %q", action)
	}
	return sum, nil
}

// RestoreSummary is what a restore job stores as its summary.
type RestoreSummary struct {
	Snapshot         string `json:"snapshot,omitempty"`
	Include          string `json:"include,omitempty"`
	FilesRestored    int    `json:"files_restored"`
	DatabaseSnapshot string `json:"database_snapshot,omitempty"`
	DatabaseRestored bool   `json:"database_restored"`
}

// restore puts a backup back into the website: its files through the
// document root (sitefiles refuses paths and links leading outside it),
// its database dump through the database settings.
func (r *Runner) restore(ctx context.Context, j core.ScanJob, st core.ScanSettings) (any, error) {
	plan, err := r.Service.RestoreJob(j)
	if err != nil {
		return nil, err
	}
	if st.Files.Source.Kind != "local" || st.Backup.Repository == "" {
		return nil, errors.New("restores need the backup repository and a local document root (scan settings)")
	}
	sum := RestoreSummary{Snapshot: plan.FilesSnapshot, Include: plan.Include, DatabaseSnapshot: plan.DatabaseSnapshot}
	repo := r.repo(st)
	site := strconv.FormatInt(j.WebsiteID, 10)
	if plan.FilesSnapshot != "" {
		fsys, err := sitefiles.Local(st.Files.Source.Path)
		if err != nil {
			return sum, err
		}
		defer fsys.Close()
		n, err := repo.RestoreToSite(ctx, site, plan.FilesSnapshot, plan.Include, fsys)
		sum.FilesRestored = n
		if err != nil {
			return sum, fmt.Errorf("restoring files: %w", err)
		}
	}
	if plan.DatabaseSnapshot != "" {
		d := st.Database
		if d.Host == "" || d.Name == "" {
			return sum, errors.New("the website has no database settings to restore into (scan settings)")
		}
		cfg := backup.MySQLConfig{Host: d.Host, Port: d.Port, User: d.User, Password: d.Password, Database: d.Name,
			ClientPath: r.ClientPath, TempDir: filepath.Join(r.Dir, "tmp"), ResolveHost: resolveHost(st)}
		if err := os.MkdirAll(cfg.TempDir, 0o700); err != nil {
			return sum, err
		}
		// The whole dump is read from the repository first: a dump cut
		// short by a failure of restic must not reach the database half
		// applied.
		tmp, err := os.CreateTemp(cfg.TempDir, "restore-*.sql")
		if err != nil {
			return sum, err
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		if err := repo.DumpFile(ctx, site, plan.DatabaseSnapshot, plan.DatabaseFile, tmp); err != nil {
			return sum, fmt.Errorf("reading the database dump from the backup: %w", err)
		}
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return sum, err
		}
		if err := backup.RestoreMySQL(ctx, cfg, tmp); err != nil {
			return sum, fmt.Errorf("restoring the database: %w", err)
		}
		sum.DatabaseRestored = true
	}
	return sum, nil
}

// Schedule queues due scheduled jobs (core.Service.QueueDueScans) every
// interval (default 1 minute) on the runner's clock until ctx ends. Run
// it on the nodes that run jobs.
func (r *Runner) Schedule(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = time.Minute
	}
	for {
		n, err := r.Service.QueueDueScans(ctx, r.now())
		if err != nil && ctx.Err() == nil {
			r.log().Warn("scan schedule", "err", err)
		} else if n > 0 {
			r.log().Info("scan schedule: jobs queued", "jobs", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}
