package backup

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/sitefiles"
)

// Tag names written into every snapshot.
const (
	TagSite = "palisade-site" // palisade-site=<site>
	TagKind = "palisade-kind" // palisade-kind=files | palisade-kind=database

	KindFiles    = "files"
	KindDatabase = "database"
)

var (
	siteRE     = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)
	snapshotRE = regexp.MustCompile(`^[0-9a-f]{8,64}$`)
	dbNameRE   = regexp.MustCompile(`^[A-Za-z0-9_$][A-Za-z0-9_$-]{0,63}$`)
	subsetRE   = regexp.MustCompile(`^([0-9]+/[0-9]+|[0-9]+(\.[0-9]+)?%|[0-9]+[KMGT]?)$`)
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

func checkSite(site string) error {
	if !siteRE.MatchString(site) {
		return invalid("site %q must be 1-128 letters, digits, '.', '_' or '-'", site)
	}
	return nil
}

func checkSnapshot(id string) error {
	if !snapshotRE.MatchString(id) {
		return invalid("snapshot ID %q must be 8 to 64 lower-case hex digits", id)
	}
	return nil
}

// checkPath accepts a clean absolute slash path inside a snapshot ("/",
// "/wp-content/uploads").
func checkPath(p string) error {
	if p == "" || p[0] != '/' || path.Clean(p) != p || strings.ContainsAny(p, "\x00\n\r") {
		return invalid("path %q in a snapshot must be clean and start with '/'", p)
	}
	return nil
}

// escapePattern makes p match itself only in restic's include filter,
// which reads '*', '?', '[' and '\' as glob syntax.
func escapePattern(p string) string {
	var b strings.Builder
	for _, r := range p {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Summary is what a backup did. Backup fills it from restic's summary
// message; Snapshots fills it only when restic stores it in the snapshot
// (restic 0.17 and later), leaving it nil otherwise.
type Summary struct {
	FilesNew        int64
	FilesChanged    int64
	FilesUnmodified int64
	DirsNew         int64
	DirsChanged     int64
	DirsUnmodified  int64
	BytesAdded      int64 // new data written to the repository, before compression
	TotalFiles      int64 // files looked at
	TotalBytes      int64 // bytes looked at
	Duration        time.Duration
}

// Snapshot is one restic snapshot.
type Snapshot struct {
	ID      string    // full ID, 64 hex digits
	ShortID string    // first 8 digits
	Time    time.Time // as recorded (the --time given to Backup, or restic's clock)
	Host    string
	Paths   []string // what restic backed up: the document root, or "/<db>.sql"
	Tags    []string
	Site    string // from the palisade-site tag
	Kind    string // KindFiles or KindDatabase, from the palisade-kind tag
	Summary *Summary
}

type jsonSnapshot struct {
	ID       string    `json:"id"`
	ShortID  string    `json:"short_id"`
	Time     time.Time `json:"time"`
	Hostname string    `json:"hostname"`
	Paths    []string  `json:"paths"`
	Tags     []string  `json:"tags"`
	Summary  *struct {
		BackupStart time.Time `json:"backup_start"`
		BackupEnd   time.Time `json:"backup_end"`
		resticCounts
	} `json:"summary"`
}

func (j *jsonSnapshot) snapshot() Snapshot {
	s := Snapshot{ID: j.ID, ShortID: j.ShortID, Time: j.Time.UTC(), Host: j.Hostname, Paths: j.Paths, Tags: j.Tags}
	for _, t := range j.Tags {
		if v, ok := strings.CutPrefix(t, TagSite+"="); ok {
			s.Site = v
		}
		if v, ok := strings.CutPrefix(t, TagKind+"="); ok {
			s.Kind = v
		}
	}
	if m := j.Summary; m != nil {
		s.Summary = &Summary{
			FilesNew: m.FilesNew, FilesChanged: m.FilesChanged, FilesUnmodified: m.FilesUnmodified,
			DirsNew: m.DirsNew, DirsChanged: m.DirsChanged, DirsUnmodified: m.DirsUnmodified,
			BytesAdded: m.DataAdded, TotalFiles: m.TotalFiles, TotalBytes: m.TotalBytes,
			Duration: m.BackupEnd.Sub(m.BackupStart),
		}
	}
	return s
}

// Init creates the repository, or checks that an existing one opens with
// the password (so running it again is harmless). It also creates CacheDir.
func (r *Repo) Init(ctx context.Context) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(r.CacheDir, 0o700); err != nil {
		return fmt.Errorf("backup: cache directory: %w", err)
	}
	err := r.runJSON(ctx, nil, "init")
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) && (strings.Contains(e.Message, "already exists") || strings.Contains(e.Message, "already initialized")) {
		// Restic refuses to init over a repository; whether the password
		// is right is another question, asked by reading the config.
		return r.runJSON(ctx, nil, "cat", "config")
	}
	return err
}

// BackupRequest is one website's backup.
type BackupRequest struct {
	// Site identifies the website (the core's website ID); it becomes the
	// tag palisade-site=<Site>.
	Site string
	// Dir is the absolute path of the website's document root on this
	// machine; empty backs up the database only. Its files are stored
	// relative to it. It must be the folder's real path: one reached
	// through a symbolic link is refused.
	Dir string
	// Excludes are restic --exclude patterns (e.g. "cache/*").
	Excludes []string
	// Database, when set, is dumped and stored as a second snapshot.
	Database *MySQLConfig
	// Time is recorded as the snapshots' time; zero leaves restic's clock.
	Time time.Time
}

// BackupResult holds the snapshots a backup wrote, with what restic
// reported about each.
type BackupResult struct {
	Files    *Snapshot // nil when Dir was empty
	Database *Snapshot // nil when Database was nil
}

// Backup backs up a website's files and, if asked, its database. When the
// files' snapshot is written but some files could not be read, the error
// matches ErrIncomplete and the result is still filled. When the files are
// saved and the database fails, the result holds the files' snapshot and
// the error says why the database is missing.
func (r *Repo) Backup(ctx context.Context, req BackupRequest) (BackupResult, error) {
	var res BackupResult
	if err := checkSite(req.Site); err != nil {
		return res, err
	}
	if req.Dir == "" && req.Database == nil {
		return res, invalid("nothing to back up: no folder and no database")
	}
	if req.Dir != "" {
		if !filepath.IsAbs(req.Dir) {
			return res, invalid("folder %q is not an absolute path", req.Dir)
		}
		if st, err := os.Stat(req.Dir); err != nil {
			return res, fmt.Errorf("backup: website folder: %w", err)
		} else if !st.IsDir() {
			return res, invalid("%q is not a folder", req.Dir)
		}
	}
	if req.Database != nil {
		if err := req.Database.validate(); err != nil {
			return res, err
		}
	}
	var errs []error
	if req.Dir != "" {
		snap, err := r.backupFiles(ctx, req)
		if snap == nil {
			return res, err
		}
		res.Files = snap
		errs = append(errs, err) // ErrIncomplete or nil
	}
	if req.Database != nil {
		snap, err := r.backupDatabase(ctx, req)
		res.Database = snap
		errs = append(errs, err)
	}
	return res, errors.Join(errs...)
}

func (r *Repo) backupArgs(req BackupRequest, kind string) []string {
	args := []string{"--host", r.host(), "--tag", TagSite + "=" + req.Site, "--tag", TagKind + "=" + kind}
	if !req.Time.IsZero() {
		args = append(args, "--time", req.Time.UTC().Format("2006-01-02 15:04:05"))
	}
	return args
}

// resticCounts are the counts restic reports of one backup, both in its
// final JSON message and in the summary newer versions store in the
// snapshot.
type resticCounts struct {
	FilesNew        int64 `json:"files_new"`
	FilesChanged    int64 `json:"files_changed"`
	FilesUnmodified int64 `json:"files_unmodified"`
	DirsNew         int64 `json:"dirs_new"`
	DirsChanged     int64 `json:"dirs_changed"`
	DirsUnmodified  int64 `json:"dirs_unmodified"`
	DataAdded       int64 `json:"data_added"`
	TotalFiles      int64 `json:"total_files_processed"`
	TotalBytes      int64 `json:"total_bytes_processed"`
}

type jsonSummary struct {
	MessageType string `json:"message_type"`
	resticCounts
	TotalDuration float64 `json:"total_duration"`
	SnapshotID    string  `json:"snapshot_id"`
}

// summaryCatcher keeps restic backup's summary message out of the status
// lines around it.
func summaryCatcher(dst **jsonSummary) *lineWriter {
	return &lineWriter{fn: func(line []byte) {
		if !strings.Contains(string(line), `"summary"`) {
			return
		}
		var m jsonSummary
		if json.Unmarshal(line, &m) == nil && m.MessageType == "summary" {
			*dst = &m
		}
	}}
}

// finishBackup turns the summary of a finished backup into a Snapshot,
// asking restic for the snapshot itself (the summary of restic before 0.17
// carries a short ID only).
func (r *Repo) finishBackup(ctx context.Context, op string, sum *jsonSummary) (*Snapshot, error) {
	if sum == nil || sum.SnapshotID == "" {
		return nil, fmt.Errorf("backup: %s: restic reported no snapshot", op)
	}
	var list []jsonSnapshot
	if err := r.runJSON(ctx, &list, "snapshots", sum.SnapshotID); err != nil {
		return nil, err
	}
	if len(list) != 1 {
		return nil, fmt.Errorf("backup: %s: snapshot %s not found after the backup", op, sum.SnapshotID)
	}
	s := list[0].snapshot()
	s.Summary = &Summary{
		FilesNew: sum.FilesNew, FilesChanged: sum.FilesChanged, FilesUnmodified: sum.FilesUnmodified,
		DirsNew: sum.DirsNew, DirsChanged: sum.DirsChanged, DirsUnmodified: sum.DirsUnmodified,
		BytesAdded: sum.DataAdded, TotalFiles: sum.TotalFiles, TotalBytes: sum.TotalBytes,
		Duration: time.Duration(sum.TotalDuration * float64(time.Second)),
	}
	return &s, nil
}

func (r *Repo) backupFiles(ctx context.Context, req BackupRequest) (*Snapshot, error) {
	args := r.backupArgs(req, KindFiles)
	for _, x := range req.Excludes {
		args = append(args, "--exclude="+x)
	}
	// "." from inside the root stores the files at the snapshot's root.
	args = append(args, ".")
	dir, cwd, err := openRealDir(req.Dir)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	p, err := r.restic(ctx, "backup", args...)
	if err != nil {
		return nil, err
	}
	// restic starts in the folder opened and checked above, not in
	// whatever the path names by the time it runs.
	p.cmd.Dir = cwd
	var sum *jsonSummary
	lw := summaryCatcher(&sum)
	p.cmd.Stdout = lw
	runErr := p.wrap(ctx, p.cmd.Run())
	lw.flush()
	if runErr != nil && !errors.Is(runErr, ErrIncomplete) {
		return nil, runErr
	}
	snap, err := r.finishBackup(ctx, p.op, sum)
	if err != nil {
		return nil, err
	}
	return snap, runErr
}

// openRealDir opens the folder dir and refuses it unless dir is its real
// path: the site's owner may control a parent of the document root
// (/home/user/public_html) and swap the root for a symbolic link to any
// folder of the host, which the backup (run as root) would then store
// under the site's tag. cwd is where a child process should start to be
// in the folder opened: through /proc on Linux, else dir itself.
func openRealDir(dir string) (f *os.File, cwd string, err error) {
	f, err = os.Open(dir)
	if err != nil {
		return nil, "", fmt.Errorf("backup: website folder: %w", err)
	}
	cwd = fdPath(f)
	got, err := os.Readlink(cwd)
	if err != nil { // no /proc: the path resolved now
		cwd = dir
		got, err = filepath.EvalSymlinks(dir)
	}
	if err == nil && got != filepath.Clean(dir) {
		err = invalid("folder %q resolves to %q through a symbolic link; configure the real path", dir, got)
	}
	if err == nil {
		var st os.FileInfo
		if st, err = f.Stat(); err == nil && !st.IsDir() {
			err = invalid("%q is not a folder", dir)
		}
	}
	if err != nil {
		f.Close()
		if !errors.Is(err, ErrInvalid) {
			err = fmt.Errorf("backup: website folder: %w", err)
		}
		return nil, "", err
	}
	return f, cwd, nil
}

// fdPath names an open file through /proc (Linux): a child process that
// changes into it reaches the very folder opened.
func fdPath(f *os.File) string {
	return fmt.Sprintf("/proc/self/fd/%d", f.Fd())
}

// backupDatabase streams the dump into restic's standard input. If the
// dump fails, restic is interrupted before its input ends, so no snapshot
// with half a dump is ever written.
func (r *Repo) backupDatabase(ctx context.Context, req BackupRequest) (*Snapshot, error) {
	db := req.Database
	args := append(r.backupArgs(req, KindDatabase), "--stdin", "--stdin-filename", db.Database+".sql")
	p, err := r.restic(ctx, "backup", args...)
	if err != nil {
		return nil, err
	}
	stdin, err := p.cmd.StdinPipe()
	if err != nil {
		return nil, p.wrap(ctx, err)
	}
	var sum *jsonSummary
	lw := summaryCatcher(&sum)
	p.cmd.Stdout = lw
	if err := p.cmd.Start(); err != nil {
		return nil, p.wrap(ctx, err)
	}
	dumpErr := DumpMySQL(ctx, *db, stdin)
	if dumpErr != nil {
		// Keep stdin open: restic must not see an end of input it would
		// save as a complete dump.
		_ = p.cmd.Process.Signal(os.Interrupt)
		kill := time.AfterFunc(10*time.Second, func() { _ = p.cmd.Process.Kill() })
		waitErr := p.wrap(ctx, p.cmd.Wait())
		kill.Stop()
		dumpErr = fmt.Errorf("%w (no database snapshot written)", dumpErr)
		// The dump may have failed because restic had already stopped
		// reading (wrong password, locked repository): then restic's own
		// error is the one that explains it. 130 is restic obeying the
		// interrupt.
		var e *Error
		if errors.As(waitErr, &e) && e.ExitCode > 0 && e.ExitCode != 130 {
			return nil, errors.Join(waitErr, dumpErr)
		}
		return nil, dumpErr
	}
	stdin.Close()
	runErr := p.wrap(ctx, p.cmd.Wait())
	lw.flush()
	if runErr != nil {
		return nil, runErr
	}
	return r.finishBackup(ctx, p.op, sum)
}

// Snapshots lists a website's snapshots, oldest first.
func (r *Repo) Snapshots(ctx context.Context, site string) ([]Snapshot, error) {
	if err := checkSite(site); err != nil {
		return nil, err
	}
	var list []jsonSnapshot
	if err := r.runJSON(ctx, &list, "snapshots", "--tag", TagSite+"="+site); err != nil {
		return nil, err
	}
	out := make([]Snapshot, 0, len(list))
	for i := range list {
		s := list[i].snapshot()
		if s.Site == site { // restic filtered already; this keeps the promise if it did not
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b Snapshot) int { return a.Time.Compare(b.Time) })
	return out, nil
}

// Node is a file or folder in a snapshot.
type Node struct {
	Name    string
	Path    string // absolute inside the snapshot: "/wp-content/index.php"
	Type    string // "file", "dir", "symlink", ...
	Size    int64
	Mode    fs.FileMode
	ModTime time.Time
}

// Listing is one folder of a snapshot.
type Listing struct {
	Snapshot  Snapshot
	Entries   []Node // in restic's order (by name)
	Truncated bool   // more entries than the limit asked for
}

type jsonNode struct {
	StructType string    `json:"struct_type"`
	Name       string    `json:"name"`
	Type       string    `json:"type"`
	Path       string    `json:"path"`
	Size       int64     `json:"size"`
	Mode       uint32    `json:"mode"`
	Mtime      time.Time `json:"mtime"`
}

// DefaultLsLimit is the number of entries Ls returns when asked for 0.
const DefaultLsLimit = 5000

// Ls lists the folder dir ("/" for the root) of a website's snapshot,
// returning at most limit entries (DefaultLsLimit when limit <= 0). A
// snapshot of another website, or a folder that is not there, is
// ErrNotFound.
func (r *Repo) Ls(ctx context.Context, site, snapshot, dir string, limit int) (Listing, error) {
	if limit <= 0 {
		limit = DefaultLsLimit
	}
	l, self, err := r.ls(ctx, site, snapshot, dir, limit)
	if err != nil {
		return Listing{}, err
	}
	if dir != "/" && self == nil {
		return Listing{}, fmt.Errorf("%w: %s in snapshot %s", ErrNotFound, dir, snapshot)
	}
	if self != nil && self.Type != "dir" {
		return Listing{}, invalid("%s in snapshot %s is a %s, not a folder", dir, snapshot, self.Type)
	}
	return l, nil
}

// ls runs restic ls on one folder; self is the node of dir itself (nil for
// "/" and for a path that is not in the snapshot). It stops reading after
// limit children.
func (r *Repo) ls(ctx context.Context, site, snapshot, dir string, limit int) (Listing, *Node, error) {
	var l Listing
	if err := checkSite(site); err != nil {
		return l, nil, err
	}
	if err := checkSnapshot(snapshot); err != nil {
		return l, nil, err
	}
	if err := checkPath(dir); err != nil {
		return l, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// --no-lock: a read leaves no lock behind when it is cut short (a
	// download's client gone: restic dies of SIGPIPE), and restic never
	// ignores a stale lock when prune wants the repository to itself.
	p, err := r.restic(ctx, "ls", "--no-lock", snapshot, dir)
	if err != nil {
		return l, nil, err
	}
	var self *Node
	gotSnapshot := false
	lw := &lineWriter{fn: func(line []byte) {
		if l.Truncated {
			return
		}
		var n jsonNode
		if json.Unmarshal(line, &n) != nil {
			return
		}
		switch n.StructType {
		case "snapshot":
			var s jsonSnapshot
			if json.Unmarshal(line, &s) == nil {
				l.Snapshot, gotSnapshot = s.snapshot(), true
			}
		case "node":
			node := Node{Name: n.Name, Path: n.Path, Type: n.Type, Size: n.Size, Mode: fs.FileMode(n.Mode), ModTime: n.Mtime.UTC()}
			switch {
			case n.Path == dir:
				self = &node
			case path.Dir(n.Path) == dir:
				if len(l.Entries) == limit {
					l.Truncated = true
					cancel() // enough: stop restic
					return
				}
				l.Entries = append(l.Entries, node)
			}
		}
	}}
	p.cmd.Stdout = lw
	runErr := p.wrap(ctx, p.cmd.Run())
	lw.flush()
	if runErr != nil && !l.Truncated {
		return Listing{}, nil, runErr
	}
	if !gotSnapshot || l.Snapshot.Site != site {
		return Listing{}, nil, fmt.Errorf("%w: snapshot %s of site %s", ErrNotFound, snapshot, site)
	}
	return l, self, nil
}

// stat finds one path of a website's snapshot ("/" is the root folder).
func (r *Repo) stat(ctx context.Context, site, snapshot, p string) (Node, error) {
	_, self, err := r.ls(ctx, site, snapshot, p, 1)
	if err != nil {
		return Node{}, err
	}
	if p == "/" {
		return Node{Name: "/", Path: "/", Type: "dir", Mode: fs.ModeDir | 0o755}, nil
	}
	if self == nil {
		return Node{}, fmt.Errorf("%w: %s in snapshot %s", ErrNotFound, p, snapshot)
	}
	return *self, nil
}

// Restore writes include (a file, a folder, or "/" for everything) of a
// website's snapshot under target, keeping its path: "/wp-content/a.php"
// lands in target/wp-content/a.php. Restoring into the document root puts
// files back in place, overwriting what is there with the same name and
// leaving other files alone. The target is created if missing.
func (r *Repo) Restore(ctx context.Context, site, snapshot, include, target string) error {
	if !filepath.IsAbs(target) {
		return invalid("restore target %q is not an absolute path", target)
	}
	if _, err := r.stat(ctx, site, snapshot, include); err != nil {
		return err
	}
	// restic follows symbolic links already in the target: a website's
	// owner could make wp-content a link to /etc/cron.d and have files
	// written there as root. So the target is a folder of Palisade's own,
	// new or empty, never the website's files (RestoreToSite copies into
	// those through sitefiles, which cannot be left).
	if st, err := os.Lstat(target); err == nil {
		if !st.IsDir() {
			return invalid("restore target %q is not a folder", target)
		}
		if entries, err := os.ReadDir(target); err != nil || len(entries) > 0 {
			return invalid("restore target %q is not empty: restore into a new folder (RestoreToSite puts files back into a website)", target)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("backup: restore target: %w", err)
	}
	if err := os.MkdirAll(target, 0o700); err != nil {
		return fmt.Errorf("backup: restore target: %w", err)
	}
	if real, err := filepath.EvalSymlinks(target); err != nil || real != filepath.Clean(target) {
		return invalid("restore target %q is reached through a symbolic link", target)
	}
	args := []string{snapshot, "--target", target}
	if include != "/" {
		args = append(args, "--include", escapePattern(include))
	}
	p, err := r.restic(ctx, "restore", args...)
	if err != nil {
		return err
	}
	p.cmd.Stdout = &capBuffer{max: 64 << 10}
	return p.wrap(ctx, p.cmd.Run())
}

// MaxRestoreFile bounds one file RestoreToSite puts back (it is held in
// memory on the way).
const MaxRestoreFile = 256 << 20

// RestoreToSite puts include (a file, a folder or "/") of a website's
// snapshot back into the website's files through fsys (sitefiles.Local or
// SFTP, which refuse paths and links leading outside the website): restic
// restores into a fresh folder under CacheDir, and each regular file is
// copied from there with its mode, replacing the website's. Links and
// other special files in the snapshot are not put back. It returns how
// many files were written.
func (r *Repo) RestoreToSite(ctx context.Context, site, snapshot, include string, fsys sitefiles.FS) (int, error) {
	if r.CacheDir == "" {
		return 0, invalid("RestoreToSite needs CacheDir for its staging folder")
	}
	if err := os.MkdirAll(r.CacheDir, 0o700); err != nil {
		return 0, err
	}
	staging, err := os.MkdirTemp(r.CacheDir, "restore-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(staging)
	if err := r.Restore(ctx, site, snapshot, include, staging); err != nil {
		return 0, err
	}
	n := 0
	err = filepath.WalkDir(staging, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Size() > MaxRestoreFile {
			return invalid("%s is larger than %d MiB: restore it to a download instead", p[len(staging):], MaxRestoreFile>>20)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(staging, p)
		if err != nil {
			return err
		}
		if err := fsys.WriteFile(ctx, filepath.ToSlash(rel), data, info.Mode().Perm()); err != nil {
			return fmt.Errorf("backup: putting back %s: %w", filepath.ToSlash(rel), err)
		}
		n++
		return nil
	})
	return n, err
}

// RestoreToArchive writes include (a file, a folder or "/") of a website's
// snapshot to w as a gzip-compressed tar archive, for a download. Names in
// the archive are relative to the snapshot's root ("wp-content/a.php").
// An error after the first bytes leaves w holding a broken archive; an
// HTTP handler should then abort the response rather than end it.
func (r *Repo) RestoreToArchive(ctx context.Context, site, snapshot, include string, w io.Writer) error {
	node, err := r.stat(ctx, site, snapshot, include)
	if err != nil {
		return err
	}
	gz := gzip.NewWriter(w)
	if node.Type == "dir" {
		p, err := r.restic(ctx, "dump", "--no-lock", "--archive", "tar", snapshot, include)
		if err != nil {
			return err
		}
		p.cmd.Stdout = gz
		if err := p.wrap(ctx, p.cmd.Run()); err != nil {
			return err
		}
		return gz.Close()
	}
	if node.Type != "file" {
		return invalid("%s in snapshot %s is a %s; only files and folders can be downloaded", include, snapshot, node.Type)
	}
	tw := tar.NewWriter(gz)
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     strings.TrimPrefix(include, "/"),
		Size:     node.Size,
		Mode:     int64(node.Mode.Perm()),
		ModTime:  node.ModTime,
		Format:   tar.FormatPAX,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("backup: archive: %w", err)
	}
	if err := r.dump(ctx, snapshot, include, tw); err != nil {
		return err
	}
	if err := tw.Close(); err != nil { // fails when restic wrote fewer bytes than the size
		return fmt.Errorf("backup: archive: %w", err)
	}
	return gz.Close()
}

// DumpFile writes the content of one file of a website's snapshot to w
// (a database snapshot's "/<db>.sql", for instance).
func (r *Repo) DumpFile(ctx context.Context, site, snapshot, file string, w io.Writer) error {
	node, err := r.stat(ctx, site, snapshot, file)
	if err != nil {
		return err
	}
	if node.Type != "file" {
		return invalid("%s in snapshot %s is a %s, not a file", file, snapshot, node.Type)
	}
	return r.dump(ctx, snapshot, file, w)
}

// dump writes a file of a snapshot, already checked, to w.
func (r *Repo) dump(ctx context.Context, snapshot, file string, w io.Writer) error {
	p, err := r.restic(ctx, "dump", "--no-lock", snapshot, file) // see ls
	if err != nil {
		return err
	}
	p.cmd.Stdout = w
	return p.wrap(ctx, p.cmd.Run())
}

// Retention says which snapshots Forget keeps, per website and kind (files
// and database are counted apart). A snapshot kept by any rule stays.
type Retention struct {
	KeepLast    int // the n most recent
	KeepDaily   int // the most recent of each of the last n days that have one
	KeepWeekly  int
	KeepMonthly int
}

// Validate refuses negative counts and a policy that keeps nothing.
func (p Retention) Validate() error {
	if p.KeepLast < 0 || p.KeepDaily < 0 || p.KeepWeekly < 0 || p.KeepMonthly < 0 {
		return invalid("retention counts cannot be negative")
	}
	if p.KeepLast+p.KeepDaily+p.KeepWeekly+p.KeepMonthly == 0 {
		return invalid("retention keeps nothing; set at least one count")
	}
	return nil
}

// ForgetResult lists what Forget kept and removed.
type ForgetResult struct {
	Kept    []Snapshot
	Removed []Snapshot
}

// Forget applies the retention policy to a website's snapshots and prunes
// the data no snapshot uses any more. Days, weeks and months are those of
// the snapshots' times in UTC.
func (r *Repo) Forget(ctx context.Context, site string, policy Retention) (ForgetResult, error) {
	var res ForgetResult
	if err := checkSite(site); err != nil {
		return res, err
	}
	if err := policy.Validate(); err != nil {
		return res, err
	}
	// Grouping by tags alone keeps a website's history in one group even
	// if its folder or the host name changes, and files apart from
	// database dumps.
	args := []string{"--prune", "--tag", TagSite + "=" + site, "--group-by", "tags"}
	for _, k := range []struct {
		flag string
		n    int
	}{{"--keep-last", policy.KeepLast}, {"--keep-daily", policy.KeepDaily}, {"--keep-weekly", policy.KeepWeekly}, {"--keep-monthly", policy.KeepMonthly}} {
		if k.n > 0 {
			args = append(args, k.flag, fmt.Sprint(k.n))
		}
	}
	var groups []struct {
		Keep   []jsonSnapshot `json:"keep"`
		Remove []jsonSnapshot `json:"remove"`
	}
	if err := r.runJSON(ctx, &groups, "forget", args...); err != nil {
		return res, err
	}
	for _, g := range groups {
		for i := range g.Keep {
			res.Kept = append(res.Kept, g.Keep[i].snapshot())
		}
		for i := range g.Remove {
			res.Removed = append(res.Removed, g.Remove[i].snapshot())
		}
	}
	return res, nil
}

// Check verifies the repository's structure; readData, when not empty,
// also reads back that part of the data ("10%", "1/5", "500M") and checks
// it against its hashes.
func (r *Repo) Check(ctx context.Context, readData string) error {
	args := []string{}
	if readData != "" {
		if !subsetRE.MatchString(readData) {
			return invalid("read-data subset %q is not like 10%%, 1/5 or 500M", readData)
		}
		args = append(args, "--read-data-subset", readData)
	}
	return r.runJSON(ctx, nil, "check", args...)
}

// Due reports whether a backup made at last (zero: never) is older than
// every at now. A zero or negative interval is never due.
func Due(last time.Time, every time.Duration, now time.Time) bool {
	if every <= 0 {
		return false
	}
	return last.IsZero() || !now.Before(last.Add(every))
}
