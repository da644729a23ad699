// Package scanrun is the node's worker for issue 22's jobs: it claims a
// scan or backup job from the store (core.Service.ClaimScanJob), keeps its
// lease alive while it works, runs it on the real engines (clamd through
// internal/malware, the OSV feed through internal/patchcheck, restic
// through internal/backup) against the website's files where they are
// (internal/sitefiles), records the findings and finishes the job. A node
// that dies leaves a lease that runs out: another node takes the job.
package scanrun

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/palisadehq/palisade/internal/backup"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/malware"
	"github.com/palisadehq/palisade/internal/malware/signatures"
	"github.com/palisadehq/palisade/internal/patchcheck"
	"github.com/palisadehq/palisade/internal/sitefiles"
)

// Runner runs scan jobs on this node.
type Runner struct {
	Service *core.Service
	// Node names this node in leases (unique in the fleet).
	Node string
	// Dir is the runner's own directory: scan state (what the last scan
	// of each website saw, for incremental scans), quarantine, restic's
	// cache.
	Dir string
	// Clamd scans files; files jobs fail without it.
	Clamd *malware.Client
	// Feed returns the vulnerability feed; patch jobs fail without it.
	Feed func(ctx context.Context) (*patchcheck.Feed, error)
	// Scan tunes file scans (workers, pace, sizes); Client, Engine and
	// Now are the runner's.
	Scan malware.Options
	// Restic and DumpPath are the restic and mariadb-dump executables
	// ("" looks them up in PATH).
	Restic, DumpPath string
	// ClientPath is the mariadb (or mysql) client a database restore runs
	// ("" looks it up in PATH).
	ClientPath string
	// Lease is how long a claimed job is this node's without renewal
	// (default 2 minutes); it is renewed every third of it.
	Lease time.Duration
	// Poll is how often Run looks for a job when there was none (default 10 s).
	Poll time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	Log *slog.Logger

	engineMu sync.Mutex // clamd's VERSION and the signatures' digest, once clamd answered
	engine   string
}

func (r *Runner) lease() time.Duration {
	if r.Lease > 0 {
		return r.Lease
	}
	return 2 * time.Minute
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.Default()
}

// RunWorkers runs n workers (Run each, named Node/0, Node/1, ...) until
// ctx ends.
func (r *Runner) RunWorkers(ctx context.Context, n int) {
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(node string) {
			defer wg.Done()
			_ = r.run1(ctx, node)
		}(fmt.Sprintf("%s/%d", r.Node, i))
	}
	wg.Wait()
}

// Run claims and runs jobs until ctx ends.
func (r *Runner) Run(ctx context.Context) error { return r.run1(ctx, r.Node) }

func (r *Runner) run1(ctx context.Context, node string) error {
	poll := r.Poll
	if poll <= 0 {
		poll = 10 * time.Second
	}
	for {
		ran, err := r.runOnce(ctx, node)
		if err != nil && ctx.Err() == nil {
			r.log().Warn("scan runner", "err", err)
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

// RunOnce claims one job and runs it; ran is false when there was none.
// The job's own failure is recorded in the job (err is nil); err is a
// failure to reach the store.
func (r *Runner) RunOnce(ctx context.Context) (ran bool, err error) { return r.runOnce(ctx, r.Node) }

func (r *Runner) runOnce(ctx context.Context, node string) (ran bool, err error) {
	j, ok, err := r.Service.ClaimScanJob(ctx, node, r.lease())
	if err != nil || !ok {
		return false, err
	}
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		t := time.NewTicker(r.lease() / 3)
		defer t.Stop()
		for {
			select {
			case <-jctx.Done():
				return
			case <-t.C:
				if err := r.Service.RenewScanJob(jctx, j, r.lease()); err != nil {
					if core.ErrorCode(err) == core.ECONFLICT {
						r.log().Warn("scan job lease lost: stopping it", "job", j.ID, "website", j.WebsiteID)
						cancel()
						return
					}
					r.log().Warn("renewing a scan job's lease", "job", j.ID, "err", err)
				}
			}
		}
	}()
	summary, jerr := r.run(jctx, j)
	cancel()
	<-renewed
	msg := ""
	if jerr != nil {
		msg = jerr.Error()
		r.log().Info("scan job failed", "job", j.ID, "website", j.WebsiteID, "kind", j.Kind, "err", jerr)
	}
	if ctx.Err() != nil {
		return true, ctx.Err() // shutting down: the lease runs out, another node retries
	}
	return true, r.Service.FinishScanJob(ctx, j, summary, msg)
}

func (r *Runner) run(ctx context.Context, j core.ScanJob) (any, error) {
	st, err := r.Service.ScanJobSettings(ctx, j)
	if err != nil {
		return nil, err
	}
	switch j.Kind {
	case core.ScanFiles:
		return r.files(ctx, j, st)
	case core.ScanPatch:
		return r.patch(ctx, j, st)
	case core.ScanDatabase:
		return r.database(ctx, j, st)
	case core.ScanBackup:
		return r.backup(ctx, j, st)
	case core.ScanAction:
		return r.action(ctx, j, st)
	case core.ScanRestore:
		return r.restore(ctx, j, st)
	case core.ScanUpdate:
		return r.update(ctx, j, st)
	}
	return nil, fmt.Errorf("%s jobs are not run by this version of Palisade", j.Kind)
}

// open reaches the website's files: an SFTP server only at an address the
// operator allows (st.Net).
func open(ctx context.Context, st core.ScanSettings) (sitefiles.FS, error) {
	src := st.Files.Source
	switch src.Kind {
	case "local":
		return sitefiles.Local(src.Path)
	case "sftp":
		return sitefiles.SFTP(ctx, sitefiles.SFTPConfig{Host: src.Host, Port: src.Port, User: src.User, Password: src.Password,
			PrivateKey: []byte(src.PrivateKey), HostKey: src.HostKey, Root: src.Path, Dial: st.Net.DialContext})
	}
	return nil, errors.New("the website has no file source (scan settings)")
}

// resolveHost is backup.MySQLConfig's ResolveHost for st.Net: the dump
// and restore tools connect to the address checked.
func resolveHost(st core.ScanSettings) func(ctx context.Context, host string) (string, error) {
	return func(ctx context.Context, host string) (string, error) {
		a, err := st.Net.Resolve(ctx, host, nil)
		if err != nil {
			return "", err
		}
		return a.String(), nil
	}
}

// FilesSummary is what a files job stores as its summary.
type FilesSummary struct {
	malware.Result
	Findings    int      `json:"findings"`
	New         int      `json:"new"`
	Resolved    int      `json:"resolved"`
	Cleaned     int      `json:"cleaned,omitempty"` // known injections removed (auto_clean), originals in quarantine
	CleanErrors []string `json:"clean_errors,omitempty"`
}

func (r *Runner) engineName(ctx context.Context) string {
	r.engineMu.Lock()
	defer r.engineMu.Unlock()
	if r.engine == "" {
		r.engine = EngineName(ctx, r.Clamd)
	}
	return r.engine
}

// statePath is where the last files scan of the website's current source
// is kept. A state describes the files of one source: a website moved to
// another folder or server starts afresh, rather than trusting files there
// of the same name, size and time as files scanned in the old place.
func (r *Runner) statePath(j core.ScanJob, src core.FileSource) string {
	h := sha256.Sum256([]byte(src.Kind + "\x00" + src.Host + "\x00" + strconv.Itoa(src.Port) + "\x00" + src.User + "\x00" + src.Path))
	return filepath.Join(r.Dir, "state", strconv.FormatInt(j.WebsiteID, 10)+"."+hex.EncodeToString(h[:8])+".files.json")
}

// dropOtherStates removes the website's states of earlier sources.
func (r *Runner) dropOtherStates(j core.ScanJob, keep string) {
	old, _ := filepath.Glob(filepath.Join(r.Dir, "state", strconv.FormatInt(j.WebsiteID, 10)+".*files.json"))
	for _, p := range old {
		if p != keep {
			_ = os.Remove(p)
		}
	}
}

func (r *Runner) files(ctx context.Context, j core.ScanJob, st core.ScanSettings) (any, error) {
	if r.Clamd == nil {
		return nil, errors.New("no clamd is configured on this node (--clamd)")
	}
	fsys, err := open(ctx, st)
	if err != nil {
		return nil, err
	}
	defer fsys.Close()
	opts := r.Scan
	opts.Client, opts.Now = r.Clamd, r.Now
	opts.Engine = r.engineName(ctx)
	statePath := r.statePath(j, st.Files.Source)
	res, found, err := ScanFiles(ctx, fsys, statePath, opts)
	if err != nil {
		return nil, err
	}
	r.dropOtherStates(j, statePath)
	// A scan that skipped files (too large, unreadable) did not look at
	// everything: nothing is resolved for want of being seen, or a file
	// made unreadable would hide its own finding.
	created, resolved, err := r.Service.RecordFindings(ctx, j, found, res.FilesSkipped == 0 && res.FindingsDropped == 0)
	if err != nil {
		return nil, err
	}
	sum := FilesSummary{Result: res, Findings: len(found), New: created, Resolved: resolved}
	sum.Result.Findings = nil
	if st.Files.AutoClean {
		// Known injections only (malware.Clean refuses what is not
		// unambiguous); the original is kept in quarantine.
		q := r.quarantine(j)
		for i, f := range found {
			if f.State != core.FindingOpen {
				continue // ignored by the customer, or handled already
			}
			// The file's own name: the stored location has bytes that are
			// not UTF-8 replaced.
			_, entry, err := malware.Clean(ctx, fsys, q, r.Clamd, res.Findings[i].Path, f.Signature)
			if err != nil {
				if !errors.Is(err, malware.ErrNotCleanable) {
					sum.CleanErrors = append(sum.CleanErrors, f.Location+": "+err.Error())
				}
				continue
			}
			if err := r.Service.MarkCleaned(ctx, j, f.ID, entry.ID); err != nil {
				return sum, err
			}
			sum.Cleaned++
		}
	}
	return sum, nil
}

// ScanFiles is a files job's scan, for a node's runner and for a scan
// agent (internal/scanagent) alike: it scans fsys with opts (Client and
// Engine set), only what changed since the state kept at statePath (read,
// then replaced; a missing or unreadable state scans everything), and
// returns clamd's result and its findings as the core records them
// (core.Service.RecordFindings), in the same order as res.Findings.
func ScanFiles(ctx context.Context, fsys sitefiles.FS, statePath string, opts malware.Options) (res malware.Result, found []core.Finding, err error) {
	var prev malware.State
	if b, err := os.ReadFile(statePath); err == nil {
		if json.Unmarshal(b, &prev) != nil {
			prev = malware.State{} // unreadable: everything is scanned again
		}
	}
	res, state, err := malware.Scan(ctx, fsys, prev, opts)
	if err != nil {
		return res, nil, err
	}
	if err := writeAtomic(statePath, state); err != nil {
		return res, nil, fmt.Errorf("saving the scan state: %w", err)
	}
	found = make([]core.Finding, 0, len(res.Findings))
	for _, f := range res.Findings {
		detail, _ := json.Marshal(map[string]any{"size": f.Size})
		found = append(found, core.Finding{Location: f.Path, Signature: f.Signature, Class: string(f.Class), Severity: string(f.Severity),
			SHA256: f.SHA256, Detail: string(detail)})
	}
	return res, found, nil
}

// EngineName names the engine in scan states: clamd's VERSION and the
// project's signatures' digest ("" when clamd does not answer). A state of
// another engine is scanned again in full.
func EngineName(ctx context.Context, clamd *malware.Client) string {
	v, err := clamd.Version(ctx)
	if err != nil {
		return ""
	}
	return v + " " + signatures.Digest()
}

// PatchSummary is what a patch job stores as its summary.
type PatchSummary struct {
	Installs   []patchcheck.InstallReport `json:"installs"`
	Truncated  bool                       `json:"truncated,omitempty"`
	Notes      []string                   `json:"notes,omitempty"`
	Vulnerable int                        `json:"vulnerable"` // components with at least one advisory
	Outdated   int                        `json:"outdated"`
	New        int                        `json:"new"`
	Resolved   int                        `json:"resolved"`
}

func (r *Runner) patch(ctx context.Context, j core.ScanJob, st core.ScanSettings) (any, error) {
	if r.Feed == nil {
		return nil, errors.New("no vulnerability feed is configured on this node (--osv-feed)")
	}
	feed, err := r.Feed(ctx)
	if err != nil {
		return nil, fmt.Errorf("the vulnerability feed: %w", err)
	}
	fsys, err := open(ctx, st)
	if err != nil {
		return nil, err
	}
	defer fsys.Close()
	inv, err := patchcheck.Detect(ctx, fsys, patchcheck.DetectOptions{})
	if err != nil {
		return nil, err
	}
	rep := patchcheck.Check(inv, feed)
	sum := PatchSummary{Installs: rep.Installs, Truncated: inv.Truncated, Notes: inv.Notes}
	var found []core.Finding
	for _, in := range rep.Installs {
		for _, c := range in.Components {
			loc := string(in.CMS) + ":" + string(c.Type) + ":" + c.Slug
			if in.Root != "" {
				loc = in.Root + "/" + loc
			}
			if len(c.Vulnerabilities) > 0 {
				sum.Vulnerable++
			}
			if c.Outdated {
				sum.Outdated++
			}
			for _, v := range c.Vulnerabilities {
				detail, _ := json.Marshal(map[string]any{"name": c.Name, "version": c.Version, "path": c.Path, "fixed": v.Fixed,
					"summary": v.Summary, "aliases": v.Aliases, "score": v.Score})
				found = append(found, core.Finding{Location: loc, Signature: v.ID, Class: "vulnerable", Severity: string(v.Severity), Detail: string(detail)})
			}
			if c.Outdated && len(c.Vulnerabilities) == 0 {
				detail, _ := json.Marshal(map[string]any{"name": c.Name, "version": c.Version, "path": c.Path, "latest_fixed": c.LatestFixed})
				found = append(found, core.Finding{Location: loc, Signature: "outdated", Class: "outdated", Severity: "low", Detail: string(detail)})
			}
		}
	}
	// A truncated inventory did not look at everything: nothing is
	// resolved for want of being seen.
	sum.New, sum.Resolved, err = r.Service.RecordFindings(ctx, j, found, !inv.Truncated)
	if err != nil {
		return nil, err
	}
	return sum, nil
}

// BackupSummary is what a backup job stores as its summary.
type BackupSummary struct {
	Files    *backup.Snapshot     `json:"files,omitempty"`
	Database *backup.Snapshot     `json:"database,omitempty"`
	Forget   *backup.ForgetResult `json:"forget,omitempty"`
}

func (r *Runner) backup(ctx context.Context, j core.ScanJob, st core.ScanSettings) (any, error) {
	if st.Files.Source.Kind != "local" {
		return nil, errors.New("backups are taken from a local document root: the website's files are not on this machine")
	}
	b := st.Backup
	repo := r.repo(st)
	if err := repo.Init(ctx); err != nil {
		return nil, err
	}
	req := backup.BackupRequest{Site: strconv.FormatInt(j.WebsiteID, 10), Dir: st.Files.Source.Path, Time: r.now()}
	if d := st.Database; d.Enabled && d.Host != "" {
		req.Database = &backup.MySQLConfig{Host: d.Host, Port: d.Port, User: d.User, Password: d.Password, Database: d.Name, DumpPath: r.DumpPath,
			TempDir: filepath.Join(r.Dir, "tmp"), ResolveHost: resolveHost(st)}
		if err := os.MkdirAll(req.Database.TempDir, 0o700); err != nil {
			return nil, err
		}
	}
	res, err := repo.Backup(ctx, req)
	sum := BackupSummary{Files: res.Files, Database: res.Database}
	if err != nil {
		return sum, err
	}
	policy := backup.Retention{KeepDaily: b.KeepDaily, KeepWeekly: b.KeepWeekly, KeepMonthly: b.KeepMonthly}
	if policy.Validate() == nil {
		fr, err := repo.Forget(ctx, req.Site, policy)
		if err != nil {
			return sum, fmt.Errorf("the backup is saved; applying the retention failed: %w", err)
		}
		sum.Forget = &fr
	}
	return sum, nil
}

// writeAtomic writes v as JSON to path through a temporary file.
func writeAtomic(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".state-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
