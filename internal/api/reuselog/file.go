package reuselog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"time"
)

// Reports in a file (palisade serve --reuse-file).
//
// nginx reports each file it serves on an asset pass, and each grant it
// reuses from its cache. Over syslog that is a datagram, so a system call
// for nginx (and a wake-up for Palisade) per asset: measured on 2 cores
// (bench/README.md), nginx spent about a third more CPU per asset with the
// report than without, and the page case lost a quarter of its
// throughput to it. nginx's own access log, buffered (access_log …
// buffer=64k flush=1s), writes a few hundred reports in one write(2), and
// costs what no report costs, within the noise. So the shipped
// configuration (deploy/nginx/palisade.conf) appends the same lines to a
// file and Palisade reads it.
//
// The file is Palisade's: it creates it (mode 0660, so that it stays
// readable and writable by its group when nginx, reopening its logs on
// SIGUSR1, hands the file to its worker's user) and frees what it has
// counted, so that the file takes no room however long nginx appends to
// it:
//
//   - Every Every (250 ms) it reads what was appended since, counts the
//     complete lines (the format of the datagrams: "v1 <server_key>
//     <reason> <count>", one per line; an incomplete last line waits for
//     its end) and then deallocates the bytes it counted
//     (fallocate(FALLOC_FL_PUNCH_HOLE): they read as zero bytes from
//     then on, and take no disk or memory). nginx writes whole lines at
//     the end of the file (O_APPEND) meanwhile: neither disturbs the other.
//   - Once a megabyte or more is freed, it cuts the freed blocks off the
//     front of the file (FALLOC_FL_COLLAPSE_RANGE, ext4 and XFS) so that
//     the file's size stays small too; where the file system cannot (tmpfs)
//     the file is sparse, its size growing but not its blocks.
//   - When Palisade starts, the file holds what nginx appended while it was
//     down, after the zero bytes of what an earlier Palisade counted: it
//     skips the zeros and counts the rest, so a restart loses no report
//     (a crash between counting and freeing counts up to one read, 64 KiB,
//     again: each read is freed before the next one). Where the file
//     cannot be freed (not writable by Palisade, a file system that cannot
//     punch holes), nothing in it tells what an earlier Palisade counted:
//     Palisade notes that in a mark beside the file (see "The mark"
//     below) and goes on from the mark at its next start.
//   - A file truncated by someone else is read again from its start (also
//     when nginx appended more than Palisade had read before the next turn:
//     the last byte Palisade freed is no longer a zero byte); a file
//     replaced (moved, deleted and created again) is read to its end and
//     the new one followed from its start. nginx writes to the file it
//     opened until it reopens its logs (nginx -s reopen, or a reload).
//
// Where Palisade cannot write to the file (created by someone else with
// other permissions), it still reads and counts it, cannot free it, and
// says so in the log.
//
// Palisade frees what it reads, so it opens only a regular file at the
// path: not a symbolic link (whose target, another file Palisade can write,
// would be punched away), a FIFO (whose opening blocks) or a device. It
// takes an advisory lock (flock) on the file: a second Palisade reading
// the same file would count each line again, and its cuts would move the
// first one's offsets.

// File reading's constants.
const (
	// Every is how often the file is read.
	Every = 250 * time.Millisecond
	// fileChunk is one read.
	fileChunk = 64 << 10
	// maxFileRead bounds one turn's reading, so that a backlog (nginx
	// appended while Palisade was down) cannot hold the loop long.
	maxFileRead = 64 << 20
	// collapseAt is how much freed space at the front of the file is cut
	// off at once.
	collapseAt = 1 << 20
	// FileMode is the mode of the file Palisade creates.
	FileMode fs.FileMode = 0o660
	// maxPartial bounds an incomplete line: MaxLine and its "\r".
	maxPartial = MaxLine + 1
	// punchAlign: punching starts at a multiple of it (of the block and
	// page sizes).
	punchAlign = 64 << 10
	// probeGap is how far past the file's end freeing is tried when the
	// file is opened (a no-op there), so that nginx's appends meanwhile
	// are not in the range.
	probeGap = 1 << 30
)

// punchHole frees what was counted (punch; the tests replace it).
var punchHole = punch

// errLocked: another process reads the file.
var errLocked = errors.New("another Palisade reads this file (it holds its lock): each line would be counted twice")

// errNoFree: the file system or the permissions do not let Palisade free
// what it counted.
var errNoFree = errors.New("freeing the counted part of the file is not supported here")

// tailed is one file being read.
type tailed struct {
	f        *os.File
	id       fileID
	off      int64  // the next byte to read
	freed    int64  // bytes before this are freed (punched)
	partial  []byte // an incomplete last line, waiting for its end
	skipping bool   // discarding an overlong line up to its end
	canWrite bool   // opened read-write: can free what it counted
	noPunch  bool   // punching failed: not tried again
	noCut    bool   // collapsing failed: not tried again
	still    int    // turns without growth (a replaced file)
	buf      []byte // one read
	warned   bool   // a read error was logged
	mark     string // where to note how far it counted, while it cannot free ("": not at the path any more)
	marked   int64  // what the mark says
	markErr  bool   // writing the mark failed (logged once)
}

// FileReader reads a report file (Listener.OpenFile).
type FileReader struct {
	l    *Listener
	path string
	cur  *tailed
}

// OpenFile opens the report file at path for reading, creating it when it
// is missing; Run then reads it.
func (l *Listener) OpenFile(path string) (*FileReader, error) {
	cur, err := l.openTail(path)
	if err != nil {
		return nil, err
	}
	if err := l.resume(cur, path); err != nil {
		cur.f.Close()
		return nil, err
	}
	return &FileReader{l: l, path: path, cur: cur}, nil
}

// resume positions a file found at start: at its start when what an
// earlier Palisade counted in it is freed (zero bytes, skipped), at its
// end when it cannot be freed (its lines may all have been counted).
func (l *Listener) resume(t *tailed, path string) error {
	fi, err := t.f.Stat()
	if err != nil {
		return fmt.Errorf("grant reuse report file %s: %w", path, err)
	}
	size := fi.Size()
	mark, marked := readMark(t.mark, t.id)
	if marked && mark > size {
		marked = false // truncated since: the mark is of what is gone
	}
	if t.canWrite {
		if err := punchHole(t.f, size+probeGap, 4096); err == nil {
			if marked && mark > 0 {
				// An earlier Palisade that could not free the file (not
				// writable then) counted up to mark: free that now, or it
				// would be read, and billed, again.
				if err := punchHole(t.f, 0, mark); err != nil {
					return fmt.Errorf("grant reuse report file %s: freeing what an earlier run counted: %w", path, err)
				}
				t.off, t.freed = mark, mark
				l.log.Info("the grant reuse report file can be freed again: what an earlier run counted (its mark) is freed, and reading goes on from there", "path", path, "counted", mark)
			}
			removeMark(t.mark)
			return nil
		}
		t.noPunch = true
	}
	if marked {
		// Where the last Palisade that could not free it stopped: what
		// nginx appended since is counted, nothing before it again.
		t.off, t.marked = mark, mark
		l.log.Warn("the grant reuse report file cannot be freed as it is read, so it grows by what nginx appends: reading on from where the last run stopped (its mark); make it writable by Palisade, on a file system that can punch holes (ext4, XFS, Btrfs, tmpfs)", "path", path, "mark", t.mark, "from", mark)
		return nil
	}
	if size > 0 {
		t.off = size
		var last [1]byte
		if _, err := t.f.ReadAt(last[:], size-1); err == nil && last[0] != '\n' && last[0] != 0 {
			t.skipping = true // the end of a line nginx is writing
		}
	}
	l.log.Warn("the grant reuse report file cannot be freed as it is read, so it grows by what nginx appends, and what is in it may have been counted by an earlier Palisade: read from its end (reports nginx appended while Palisade was down are NOT counted); make it writable by Palisade, on a file system that can punch holes (ext4, XFS, Btrfs, tmpfs)", "path", path, "skipped", size)
	return nil
}

// TailFile is OpenFile and Run.
func (l *Listener) TailFile(ctx context.Context, path string) error {
	r, err := l.OpenFile(path)
	if err != nil {
		return err
	}
	r.Run(ctx)
	return nil
}

// Run counts the report lines appended to the file, reading it every
// Every, until ctx ends; then it closes the file.
func (r *FileReader) Run(ctx context.Context) {
	l, path, cur := r.l, r.path, r.cur
	var old []*tailed // replaced files, read until they stand still
	warned := false
	defer func() {
		cur.f.Close()
		for _, o := range old {
			o.f.Close()
		}
	}()
	tick := time.NewTicker(Every)
	defer tick.Stop()
	for {
		l.readTail(cur, path)
		for i := 0; i < len(old); i++ {
			if l.readTail(old[i], path) == 0 {
				old[i].still++
			} else {
				old[i].still = 0
			}
			if old[i].still >= 20 { // 5 s without a byte: nginx writes to the new file
				old[i].f.Close()
				old = append(old[:i], old[i+1:]...)
				i--
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		// Replaced or gone: follow the file at path (creating it when gone).
		if id, err := statID(path); err != nil || id != cur.id {
			if i := slices.IndexFunc(old, func(o *tailed) bool { return o.id == id }); err == nil && i >= 0 {
				// Moved back: one reader per file, or its lines count twice.
				old[i], cur = cur, old[i]
				old[i].mark, cur.mark = "", markPath(path)
				old[i].still, cur.still = 0, 0
				continue
			}
			next, err := l.openTail(path)
			if err != nil {
				l.warnOnce(&warned, "the grant reuse report file cannot be opened again: reports nginx writes to it are NOT counted until it can", "path", path, "err", err)
				continue
			}
			warned = false
			l.log.Warn("the grant reuse report file was replaced: reading the old one to its end, then the new one", "path", path)
			cur.mark = "" // not at the path any more: the new file's mark is the path's
			old = append(old, cur)
			cur = next
		}
	}
}

// openTail opens (or creates) the file at path for reading and freeing.
func (l *Listener) openTail(path string) (*tailed, error) {
	t := &tailed{canWrite: true}
	// Only a regular file (or none): not opened at all when something else
	// is at the path, and opened so that what comes there meanwhile is
	// refused without following a link, blocking or taking a terminal.
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("grant reuse report file %s: not a regular file (%v)", path, fi.Mode().Type())
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|openFlags, FileMode)
	if errors.Is(err, fs.ErrPermission) {
		f, err = os.OpenFile(path, os.O_RDONLY|openFlags, 0)
		t.canWrite = false
		if err == nil {
			l.log.Warn("the grant reuse report file is not writable by Palisade: its reports are counted, but what was counted cannot be freed, so the file grows; give Palisade's user or group write access (chmod 0660, chgrp palisade)", "path", path)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("grant reuse report file: %w", err)
	}
	t.f = f
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("grant reuse report file %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("grant reuse report file %s: not a regular file", path)
	}
	if err := lock(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("grant reuse report file %s: %w", path, err)
	}
	if t.canWrite && fi.Mode().Perm() != FileMode && isOwner(fi) {
		// The umask took bits off at creation; nginx (root) writes
		// regardless, but Palisade's group must keep read and write.
		_ = f.Chmod(FileMode)
	}
	t.id = idOf(fi)
	t.mark = markPath(path)
	return t, nil
}

// readTail reads what was appended to t since the last turn, counts its
// complete lines, frees them and returns how many bytes it read.
func (l *Listener) readTail(t *tailed, path string) int64 {
	fi, err := t.f.Stat()
	if err != nil {
		return 0
	}
	if size := fi.Size(); size < t.off {
		// Truncated by someone: what is there now is new.
		l.log.Warn("the grant reuse report file was truncated: reading it again from its start", "path", path)
		t.off, t.freed, t.partial, t.skipping = 0, 0, t.partial[:0], false
	} else if t.freed > 0 {
		// Truncated, then appended past where Palisade had read: the last
		// byte it freed reads as a zero byte unless it is new.
		var b [1]byte
		if n, _ := t.f.ReadAt(b[:], t.freed-1); n == 1 && b[0] != 0 {
			l.log.Warn("the grant reuse report file was truncated: reading it again from its start", "path", path)
			t.off, t.freed, t.partial, t.skipping = 0, 0, t.partial[:0], false
		}
	}
	if t.buf == nil {
		t.buf = make([]byte, fileChunk)
	}
	buf := t.buf
	var total int64
	for total < maxFileRead {
		if len(t.partial) == 0 && !t.skipping {
			// Skip what is freed: holes (whole blocks) without reading them.
			if d, err := seekData(t.f, t.off); err == nil && d > t.off {
				t.off = d
			}
		}
		n, err := t.f.ReadAt(buf, t.off)
		if n < len(buf) {
			// Zero bytes at the file's end are not taken as freed: nginx
			// writes no zero byte, and a read racing its append may see
			// its bytes as zeros still (a buffered read/write race some
			// kernels had); they are read again next turn.
			for n > 0 && buf[n-1] == 0 {
				n--
			}
		}
		if n > 0 {
			l.consume(t, buf[:n])
			t.off += int64(n)
			total += int64(n)
			// Freed read by read: a crash counts at most one again.
			l.free(t, path)
		}
		if err != nil || n < len(buf) {
			if err != nil && !errors.Is(err, io.EOF) {
				l.warnOnce(&t.warned, "the grant reuse report file cannot be read", "path", path, "err", err)
			}
			break
		}
	}
	return total
}

// consume counts b's complete lines and keeps its incomplete end.
func (l *Listener) consume(t *tailed, b []byte) {
	for len(b) > 0 {
		if len(t.partial) == 0 && !t.skipping {
			// A line starts here: zero bytes before it are a freed part.
			i := 0
			for i < len(b) && b[i] == 0 {
				i++
			}
			b = b[i:]
			if len(b) == 0 {
				return
			}
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if t.skipping {
				return
			}
			if len(t.partial)+len(b) > maxPartial {
				l.badLine.Add(1)
				t.partial, t.skipping = t.partial[:0], true
				return
			}
			t.partial = append(t.partial, b...)
			return
		}
		line := b[:i]
		b = b[i+1:]
		if t.skipping {
			t.skipping = false
			continue
		}
		if len(t.partial) > 0 {
			if len(t.partial)+len(line) > maxPartial {
				l.badLine.Add(1)
				t.partial = t.partial[:0]
				continue
			}
			line = append(t.partial, line...)
			t.partial = t.partial[:0]
		}
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			continue
		}
		l.line(line)
	}
}

// free deallocates what t counted (up to its last complete line) and, once
// there is enough of it, cuts it off the front of the file.
func (l *Listener) free(t *tailed, path string) {
	done := t.off - int64(len(t.partial))
	if t.skipping {
		done = t.off // an overlong line's start is discarded already
	}
	if !t.canWrite || t.noPunch {
		l.noteMark(t, path, done)
		return
	}
	if done > t.freed {
		// From the start of the block holding t.freed: everything before
		// t.freed is freed already (zero bytes), and a block freed in two
		// parts, each partial, would stay allocated (one per read: on
		// tmpfs, which cannot cut, memory growing for as long as nginx
		// appends).
		start := t.freed / punchAlign * punchAlign
		if err := punchHole(t.f, start, done-start); err != nil {
			t.noPunch = true
			l.log.Warn("the grant reuse report file cannot be freed as it is read (fallocate punch hole): it grows by what nginx appends; put it on ext4, XFS, Btrfs or tmpfs", "path", path, "err", err)
			return
		}
		l.freedBytes.Add(uint64(done - t.freed))
		t.freed = done
	}
	if t.noCut || t.freed < collapseAt {
		return
	}
	fi, err := t.f.Stat()
	if err != nil {
		return
	}
	blk := blockSize(fi)
	cut := t.freed / blk * blk
	if cut <= 0 || cut >= fi.Size() {
		return // the range must end before the file does
	}
	if err := collapse(t.f, cut); err != nil {
		// tmpfs and others: the file stays sparse (its holes take no room).
		t.noCut = true
		return
	}
	t.off -= cut
	t.freed -= cut
}

// warnOnce logs msg the first time flag is set.
func (l *Listener) warnOnce(flag *bool, msg string, args ...any) {
	if !*flag {
		*flag = true
		l.log.Warn(msg, args...)
	}
}

// statID is the identity of the file at path.
func statID(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	return idOf(fi), nil
}

// The mark. A Palisade that cannot free the file (not writable by it, a
// file system that cannot punch holes) leaves nothing in it to tell what it
// counted, so it notes how far it counted in a file beside it
// (markPath: "v1 <device> <inode> <offset>"), after each read. The next
// Palisade goes on from there: if it can free the file, it frees what the
// mark covers first (an operator who made the file writable, then
// restarted, would otherwise have every line in it billed again); if it
// cannot either, it counts what nginx appended while no Palisade ran. A
// mark of another file (replaced) or past the file's end (truncated) is
// ignored. Writing it needs the file's directory to be writable by
// Palisade (/var/log/palisade with deploy/systemd); where it is not, the
// reader says so once and starts at the file's end at each start instead.

// markPath is the mark of the report file at path.
func markPath(path string) string { return path + ".counted" }

// readMark is how far the mark at p says the file id was counted.
func readMark(p string, id fileID) (int64, bool) {
	if p == "" {
		return 0, false
	}
	b, err := os.ReadFile(p)
	if err != nil || len(b) > 128 {
		return 0, false
	}
	var dev, ino uint64
	var off int64
	if n, err := fmt.Sscanf(string(b), "v1 %d %d %d\n", &dev, &ino, &off); err != nil || n != 3 || off < 0 || (fileID{dev, ino}) != id {
		return 0, false
	}
	return off, true
}

// noteMark writes the mark of t (counted up to done) when it moved.
func (l *Listener) noteMark(t *tailed, path string, done int64) {
	if t.mark == "" || done == t.marked {
		return
	}
	if err := writeMark(t.mark, t.id, done); err != nil {
		if !t.markErr {
			t.markErr = true
			l.log.Warn("the grant reuse report file cannot be freed, and how far it was counted cannot be noted beside it: the next start reads it from its end (what nginx appends while Palisade is down is NOT counted)", "path", path, "err", err)
		}
		return
	}
	t.marked = done
}

// writeMark replaces the mark at p: a new file (never through a link) renamed over it.
func writeMark(p string, id fileID, off int64) error {
	tmp := p + ".tmp"
	_ = os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|openFlags, 0o600)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "v1 %d %d %d\n", id.dev, id.ino, off)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, p)
}

// removeMark removes the mark at p (a file that can be freed needs none).
func removeMark(p string) {
	if p != "" {
		_ = os.Remove(p)
	}
}
