package reuselog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
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
//     (a crash between counting and freeing counts up to one read again).
//   - A file truncated by someone else is read again from its start; a file
//     replaced (moved, deleted and created again) is read to its end and
//     the new one followed from its start. nginx writes to the file it
//     opened until it reopens its logs (nginx -s reopen, or a reload).
//
// Where Palisade cannot write to the file (created by someone else with
// other permissions), it still reads and counts it, cannot free it, and
// says so in the log.

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
)

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
	return &FileReader{l: l, path: path, cur: cur}, nil
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
			next, err := l.openTail(path)
			if err != nil {
				l.warnOnce(&l.fileWarned, "the grant reuse report file cannot be opened again: reports nginx writes to it are NOT counted until it can", "path", path, "err", err)
				continue
			}
			l.log.Warn("the grant reuse report file was replaced: reading the old one to its end, then the new one", "path", path)
			old = append(old, cur)
			cur = next
		}
	}
}

// openTail opens (or creates) the file at path for reading and freeing.
func (l *Listener) openTail(path string) (*tailed, error) {
	t := &tailed{canWrite: true}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, FileMode)
	if errors.Is(err, fs.ErrPermission) {
		f, err = os.Open(path)
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
	if t.canWrite && fi.Mode().Perm() != FileMode && isOwner(fi) {
		// The umask took bits off at creation; nginx (root) writes
		// regardless, but Palisade's group must keep read and write.
		_ = f.Chmod(FileMode)
	}
	t.id = idOf(fi)
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
	}
	buf := l.fileBuf()
	var total int64
	for total < maxFileRead {
		if len(t.partial) == 0 && !t.skipping {
			// Skip what is freed: holes (whole blocks) without reading them.
			if d, err := seekData(t.f, t.off); err == nil && d > t.off {
				t.off = d
			}
		}
		n, err := t.f.ReadAt(buf, t.off)
		if n > 0 {
			l.consume(t, buf[:n])
			t.off += int64(n)
			total += int64(n)
		}
		if err != nil || n < len(buf) {
			if err != nil && !errors.Is(err, io.EOF) {
				l.warnOnce(&l.fileWarned, "the grant reuse report file cannot be read", "path", path, "err", err)
			}
			break
		}
	}
	l.free(t, path)
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
			if len(t.partial)+len(b) > MaxLine {
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
			if len(t.partial)+len(line) > MaxLine {
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
	if !t.canWrite || t.noPunch {
		return
	}
	done := t.off - int64(len(t.partial))
	if t.skipping {
		done = t.off // an overlong line's start is discarded already
	}
	if done > t.freed {
		if err := punch(t.f, t.freed, done-t.freed); err != nil {
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

// fileBuf is the listener's read buffer (one reader goroutine).
func (l *Listener) fileBuf() []byte {
	if l.fbuf == nil {
		l.fbuf = make([]byte, fileChunk)
	}
	return l.fbuf
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
