package core

import (
	"context"
	"errors"
	"io"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Browsing a backup and downloading from it (issue 22: "restore ... to a
// download"). Unlike a restore into the website, these read the backup
// repository and nothing else, and the person asking waits for the
// answer, so they are not jobs: the node that answers the request runs
// restic itself, through the BackupReader it was given
// (SetBackupReader; scanrun.Reader in `palisade serve`). Who may ask is
// what Backups says (the website's partner and its customer; anyone else
// gets not_found, as for an unknown domain). What they may name is one of
// the backups Backups lists, and a path inside it.
//
// Fleet caveat: the answering node must reach the repository. A
// repository on S3 or SFTP is reached from any node; a local one
// (--backup-root) only where that path holds it (the node that runs the
// backup jobs, or a shared mount). A node without a reader answers
// unavailable.

// BackupReader reads a website's restic repository on this node. site is
// the website's tag in the repository (its ID), snapshot a full snapshot
// ID, dir and include clean absolute paths inside the snapshot ("/",
// "/wp-content"). It answers ENOTFOUND (a snapshot not of site, a path not
// in it) and EINVALID (a path of the wrong kind) as core errors; any other
// error is the repository's or restic's.
type BackupReader interface {
	Browse(ctx context.Context, st ScanSettings, site, snapshot, dir string, limit int) (BackupFolder, error)
	// Download writes include as a gzip-compressed tar archive to w,
	// streamed: nothing of the archive is held whole, and nothing is
	// left behind when it ends or ctx is cancelled.
	Download(ctx context.Context, st ScanSettings, site, snapshot, include string, w io.Writer) error
}

// BackupReadLimits bound what browsing and downloads cost a node.
type BackupReadLimits struct {
	// Concurrent is how many browses and downloads (restic processes)
	// run at once on this node (--backup-reads; DefaultBackupReads when
	// 0). One more is refused (rate_limited) rather than queued.
	Concurrent int
	// MaxDownload is the most bytes one download sends
	// (--backup-download-max-mib; DefaultBackupDownloadMax when 0). A whole
	// snapshot whose files add up to more is refused before anything is
	// sent; any other download is cut once it has sent that much (the
	// archive is then broken, never a short valid one).
	MaxDownload int64
}

// Defaults of BackupReadLimits.
const (
	DefaultBackupReads       = 2
	DefaultBackupDownloadMax = 2 << 30 // 2 GiB
	// MaxBackupBrowse is the most entries one folder listing returns.
	MaxBackupBrowse = 5000
)

// backupReads is the node's reader and its limits.
type backupReads struct {
	r   BackupReader
	lim BackupReadLimits
	sem chan struct{}

	// Fair shares: one website holds at most one of the slots, one
	// partner at most half of them (at least one), so that one customer's
	// slow or large downloads cannot keep every other tenant out. The maps
	// hold only the reads running (at most cap(sem) entries).
	mu        sync.Mutex
	byWebsite map[int64]int
	byPartner map[int64]int
}

// SetBackupReader lets this node browse and download backups with r
// (nil: it cannot; BrowseBackup and DownloadBackup answer unavailable).
// A read already running keeps the reader and limits it started with.
func (s *Service) SetBackupReader(r BackupReader, lim BackupReadLimits) {
	if r == nil {
		s.backupRead.Store(nil)
		return
	}
	if lim.Concurrent <= 0 {
		lim.Concurrent = DefaultBackupReads
	}
	if lim.MaxDownload <= 0 {
		lim.MaxDownload = DefaultBackupDownloadMax
	}
	s.backupRead.Store(&backupReads{r: r, lim: lim, sem: make(chan struct{}, lim.Concurrent), byWebsite: map[int64]int{}, byPartner: map[int64]int{}})
}

// BackupEntry is a file or folder in a backup.
type BackupEntry struct {
	Name    string    `json:"name"`
	Path    string    `json:"path"` // relative to the document root: "wp-content/index.php"
	Type    string    `json:"type"` // "file", "dir", "symlink", ...
	Size    int64     `json:"size"`
	Mode    string    `json:"mode"` // "-rw-r--r--"
	ModTime time.Time `json:"mtime"`
}

// BackupFolder is one folder of a backup's snapshot.
type BackupFolder struct {
	Snapshot  string        `json:"snapshot"` // the full snapshot ID
	ShortID   string        `json:"short_id"`
	Path      string        `json:"path"` // relative to the document root; "" for the root
	Entries   []BackupEntry `json:"entries"`
	Truncated bool          `json:"truncated"` // more than MaxBackupBrowse entries: the first ones
}

// BackupDownload names what to download.
type BackupDownload struct {
	// Snapshot is a listed backup's files snapshot, its short ID, or its
	// database snapshot (whose root holds the dump, "/<db>.sql").
	Snapshot string `json:"snapshot"`
	// Path is a file or folder relative to the snapshot's root
	// ("wp-content/uploads"); "" is everything.
	Path string `json:"path"`
}

// resolvedBackup is a snapshot named by a caller, found among the
// website's backups, with the settings to read it.
type resolvedBackup struct {
	w        Website
	st       ScanSettings
	hidden   []string // redacted from errors for a customer
	snapshot string   // full ID
	short    string
	bytes    int64 // the files' size (0: unknown, a database snapshot)
	include  string
	reads    *backupReads
}

// resolveBackup does what BrowseBackup and DownloadBackup share: the
// caller's right to the website, the snapshot among its backups, the path,
// the settings (secrets opened; a local repository still under the
// operator's --backup-root for this partner).
func (s *Service) resolveBackup(ctx context.Context, c Caller, domain, snapshot, p string) (resolvedBackup, error) {
	var rb resolvedBackup
	w, err := s.OwnedWebsite(ctx, c, domain)
	if err != nil {
		return rb, err
	}
	rb.w = w
	snapshot = strings.TrimSpace(snapshot)
	if !snapshotIDRE.MatchString(snapshot) {
		return rb, FieldError("snapshot", "%q is not a snapshot ID (8 to 64 lower-case hex digits, as Backups lists them)", snapshot)
	}
	if rb.include, err = cleanRestorePath(p); err != nil {
		if e := (*Error)(nil); errors.As(err, &e) {
			e.Field = "path"
		}
		return rb, err
	}
	var p0 Partner
	err = s.store.View(ctx, func(tx Tx) (err error) {
		p0, err = tx.Partner(ctx, w.PartnerID, false)
		return err
	})
	if err != nil {
		return rb, err
	}
	st, err := s.ScanSecrets(ctx, w.PartnerID, w.ID)
	if err != nil {
		return rb, err
	}
	rb.st, rb.hidden = st, st.hiddenFromCustomer()
	if st.Backup.Repository == "" {
		return rb, Errorf(EPRECONDITION, "website %s has no backup repository: its hosting provider sets one (scan settings)", w.Domain)
	}
	all, err := s.backups(ctx, w)
	if err != nil {
		return rb, err
	}
	found := 0
	for _, b := range all {
		switch {
		case strings.HasPrefix(b.Snapshot, snapshot):
			rb.snapshot, rb.short, rb.bytes = b.Snapshot, b.ShortID, b.Bytes
			found++
		case b.Database && strings.HasPrefix(b.DatabaseSnapshot, snapshot):
			rb.snapshot, rb.short, rb.bytes = b.DatabaseSnapshot, b.DatabaseSnapshot[:8], 0
			found++
		}
	}
	switch {
	case found == 0:
		return rb, Errorf(ENOTFOUND, "snapshot %s is not one of website %s's backups", snapshot, w.Domain)
	case found > 1:
		return rb, FieldError("snapshot", "%q names more than one backup: give more digits", snapshot)
	}
	if _, repo := st.localPaths(); repo != "" {
		if msg := localUnder(repo, s.cfg.BackupRoots, "--backup-root", p0.Name); msg != "" {
			if c.Role == RoleSubaccount { // msg names the operator's folders
				return rb, Errorf(EPRECONDITION, "the backups of website %s cannot be read on this server: its hosting provider's backup settings need attention", w.Domain)
			}
			return rb, Errorf(EPRECONDITION, "backup.repository: %s", msg)
		}
	}
	if rb.st.Net, err = scanNet(s.cfg.ScanAllowNets, p0.Name); err != nil {
		return rb, err
	}
	rb.reads = s.backupRead.Load()
	if rb.reads == nil {
		return rb, Errorf(EUNAVAILABLE, "backups cannot be browsed or downloaded on this node (it has no backup reader)")
	}
	return rb, nil
}

// redactIf redacts msg for a customer.
func (s *Service) redactIf(c Caller, msg string, hidden []string) string {
	if c.Role == RoleSubaccount {
		return redactForCustomer(msg, hidden)
	}
	return msg
}

// partnerShare is the most read slots one partner holds at once.
func (b *backupReads) partnerShare() int { return max(1, cap(b.sem)/2) }

// acquire takes one of the node's backup read slots for w, or says it is
// busy: all slots taken, the website already reading, or its partner
// holding its share.
func (b *backupReads) acquire(w Website) (release func(), err error) {
	b.mu.Lock()
	switch {
	case b.byWebsite[w.ID] >= 1:
		b.mu.Unlock()
		return nil, Errorf(ERATELIMITED, "a browse or download of this website's backups is running: one at a time, try again once it ends")
	case b.byPartner[w.PartnerID] >= b.partnerShare():
		b.mu.Unlock()
		return nil, Errorf(ERATELIMITED, "%d backup browses or downloads of this hosting account are running on this node, its share: try again in a moment", b.partnerShare())
	}
	select {
	case b.sem <- struct{}{}:
	default:
		b.mu.Unlock()
		return nil, Errorf(ERATELIMITED, "%d backup browses or downloads are running on this node: try again in a moment", cap(b.sem))
	}
	b.byWebsite[w.ID]++
	b.byPartner[w.PartnerID]++
	b.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			if b.byWebsite[w.ID]--; b.byWebsite[w.ID] <= 0 {
				delete(b.byWebsite, w.ID)
			}
			if b.byPartner[w.PartnerID]--; b.byPartner[w.PartnerID] <= 0 {
				delete(b.byPartner, w.PartnerID)
			}
			b.mu.Unlock()
			<-b.sem
		})
	}, nil
}

// readerError keeps the reader's core errors (not found, invalid) and
// turns anything else into unavailable, its message redacted for a
// customer (restic's words may name the repository).
func (s *Service) readerError(c Caller, rb resolvedBackup, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		if c.Role == RoleSubaccount {
			return &Error{Code: e.Code, Field: e.Field, Message: redactForCustomer(e.Message, rb.hidden)}
		}
		return err
	}
	return Errorf(EUNAVAILABLE, "reading backup %s: %s", rb.short, s.redactIf(c, err.Error(), rb.hidden))
}

// relPath turns a path inside a snapshot ("/wp-content/a.php") into one
// relative to the document root ("wp-content/a.php").
func relPath(p string) string { return strings.TrimPrefix(p, "/") }

// BrowseBackup lists the folder dir (relative to the document root, ""
// for the root) of one of the website's backups: its entries with type,
// size, mode and time, at most MaxBackupBrowse (Truncated says there
// were more). The snapshot is a listed backup's snapshot, short ID or
// database snapshot. The website's partner and its customer may ask.
//
// Errors: EINVALID for a snapshot that is not 8 to 64 lower-case hex
// digits or names several backups, a path that is absolute, holds "..",
// NUL or is not clean, or names a file; ENOTFOUND for a website not the
// caller's, a snapshot not among its backups, or a folder not in it;
// EPRECONDITION for backups not set up; ERATELIMITED when the node's
// browses and downloads are all busy; EUNAVAILABLE when the repository
// cannot be read (or the node has no reader).
func (s *Service) BrowseBackup(ctx context.Context, c Caller, domain, snapshot, dir string) (BackupFolder, error) {
	rb, err := s.resolveBackup(ctx, c, domain, snapshot, dir)
	if err != nil {
		return BackupFolder{}, err
	}
	release, err := rb.reads.acquire(rb.w)
	if err != nil {
		return BackupFolder{}, err
	}
	defer release()
	f, err := rb.reads.r.Browse(ctx, rb.st, strconv.FormatInt(rb.w.ID, 10), rb.snapshot, rb.include, MaxBackupBrowse)
	if err != nil {
		return BackupFolder{}, s.readerError(c, rb, err)
	}
	f.Snapshot, f.ShortID, f.Path = rb.snapshot, rb.short, relPath(rb.include)
	if f.Entries == nil {
		f.Entries = []BackupEntry{}
	}
	for i := range f.Entries {
		f.Entries[i].Path = relPath(f.Entries[i].Path)
	}
	return f, nil
}

// BackupArchiveName is a download's file name: the website, the
// snapshot's short ID and the last part of the path, as
// "shop.example.com-1a2b3c4d-uploads.tar.gz".
func BackupArchiveName(domain, shortID, include string) string {
	name := domain + "-" + shortID
	if base := path.Base(include); include != "/" && base != "/" && base != "." {
		name += "-" + base
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' || r == '\\' || r == '/' {
			return '_'
		}
		return r
	}, name) + ".tar.gz"
}

// ErrDownloadTooLarge ends a download that went over
// BackupReadLimits.MaxDownload after its first bytes.
var ErrDownloadTooLarge = Errorf(EINVALID, "the download is larger than this server allows: restore it to the website instead")

// DownloadBackup writes a file, a folder or everything (d.Path "") of one
// of the website's backups as a gzip-compressed tar archive, names
// relative to the document root. Nothing is written until the caller's
// right, the snapshot and the path are checked: then open is called once
// with the archive's file name (BackupArchiveName) and returns where the
// archive goes; the adapter sets its headers on the first Write, so that
// an error before it (a path not in the snapshot) is still answered as an
// error. An error after the first byte leaves a broken archive: the
// adapter must abort the response, not end it. The download is streamed
// from restic (nothing is held whole or left on disk) and stops when ctx
// ends.
//
// Errors: those of BrowseBackup (a path that is neither a file nor a
// folder is EINVALID), and EINVALID for a whole snapshot larger than the
// node's MaxDownload (before anything is sent) or ErrDownloadTooLarge
// (after).
func (s *Service) DownloadBackup(ctx context.Context, c Caller, domain string, d BackupDownload, open func(name string) io.Writer) error {
	rb, err := s.resolveBackup(ctx, c, domain, d.Snapshot, d.Path)
	if err != nil {
		return err
	}
	max := rb.reads.lim.MaxDownload
	if rb.include == "/" && rb.bytes > max {
		return Errorf(EINVALID, "backup %s holds %d bytes, more than the %d bytes this server sends in one download: download a folder, or restore it to the website", rb.short, rb.bytes, max)
	}
	release, err := rb.reads.acquire(rb.w)
	if err != nil {
		return err
	}
	defer release()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	lw := &limitWriter{open: func() io.Writer { return open(BackupArchiveName(rb.w.Domain, rb.short, rb.include)) }, max: max, cancel: cancel}
	err = rb.reads.r.Download(ctx, rb.st, strconv.FormatInt(rb.w.ID, 10), rb.snapshot, rb.include, lw)
	if lw.over || errors.Is(context.Cause(ctx), ErrDownloadTooLarge) {
		return ErrDownloadTooLarge
	}
	return s.readerError(c, rb, err)
}

// limitWriter opens the destination on the first Write and refuses
// bytes beyond max, cancelling the download.
type limitWriter struct {
	open   func() io.Writer
	w      io.Writer
	n, max int64
	over   bool
	cancel context.CancelCauseFunc
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n+int64(len(p)) > l.max {
		l.over = true
		l.cancel(ErrDownloadTooLarge)
		return 0, ErrDownloadTooLarge
	}
	if l.w == nil {
		l.w = l.open()
	}
	n, err := l.w.Write(p)
	l.n += int64(n)
	return n, err
}
