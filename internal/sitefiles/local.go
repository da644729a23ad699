package sitefiles

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Local returns the website whose document root is the directory root on
// this machine.
//
// Every operation goes through an os.Root opened on root, so a path that
// reaches outside it, lexically or through a symbolic link, is refused by
// the kernel-checked lookup (openat, step by step) and reported as
// ErrOutside. A symbolic link that stays inside the root is followed by
// Stat and Open. WriteFile and Remove act on the directory entry named by
// the path (a link there is replaced or removed, not its target), after
// refusing a path that resolves outside the root.
//
// root must be the directory's real path: one that reaches it through a
// symbolic link is refused, since the site's owner may control a parent
// (/home/user/public_html) and swap the folder for a link to any
// directory of the host.
func Local(root string) (FS, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("sitefiles: open local root: %w", err)
	}
	st, err := r.Stat(".")
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("sitefiles: local root %s: %w", root, err)
	}
	if !st.IsDir() {
		r.Close()
		return nil, fmt.Errorf("sitefiles: local root %s is not a directory", root)
	}
	if err := checkRealRoot(r, root); err != nil {
		r.Close()
		return nil, err
	}
	l := &localFS{root: r, name: root, maxFiles: DefaultMaxFiles}
	// os.Root's "path escapes from parent" error is not exported; capture
	// it from a lookup that must escape, so isEscape can use errors.Is.
	if _, err := r.Lstat(".."); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			l.escape = pe.Err
		}
	}
	return l, nil
}

// checkRealRoot refuses a root that is not the directory opened: one
// reached through a symbolic link in its path (the site's owner may swap
// /home/user/public_html for a link to any directory of the host), or a
// directory moved since. The roots given to Local must be real paths.
func checkRealRoot(r *os.Root, root string) error {
	want, err := filepath.Abs(root)
	if err != nil {
		return fmt.Errorf("sitefiles: local root %s: %w", root, err)
	}
	d, err := r.Open(".")
	if err != nil {
		return fmt.Errorf("sitefiles: local root %s: %w", root, err)
	}
	defer d.Close()
	// The kernel's name of the directory actually opened, where there is
	// one (Linux); else the path resolved now.
	got, err := os.Readlink("/proc/self/fd/" + strconv.FormatUint(uint64(d.Fd()), 10))
	if err != nil {
		if got, err = filepath.EvalSymlinks(want); err != nil {
			return fmt.Errorf("sitefiles: local root %s: %w", root, err)
		}
	}
	if got != want {
		return fmt.Errorf("sitefiles: local root %s resolves to %s through a symbolic link; configure the real path", root, got)
	}
	return nil
}

type localFS struct {
	root   *os.Root
	name   string
	escape error // os.Root's sentinel for an escaping path, if captured

	maxFiles int // Walk's bound on regular files, and apart on folders
}

// outside converts os.Root's refusal of an escaping path into ErrOutside
// and leaves other errors as they are.
func (l *localFS) outside(name string, err error) error {
	if err == nil {
		return nil
	}
	if (l.escape != nil && errors.Is(err, l.escape)) || strings.Contains(err.Error(), "path escapes from parent") {
		return fmt.Errorf("%w: %q", ErrOutside, name)
	}
	return err
}

func (l *localFS) Walk(ctx context.Context, fn func(Entry) error) error {
	var c walkCount
	return l.walk(ctx, ".", fn, &c)
}

// walkCount is what a Walk has seen so far, against its bound.
type walkCount struct{ files, dirs int }

func (l *localFS) walk(ctx context.Context, dir string, fn func(Entry) error, c *walkCount) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := l.root.Open(dir)
	if err != nil {
		if dir == "." {
			return fmt.Errorf("sitefiles: read local root: %w", err)
		}
		return nil // unreadable (or vanished, or no longer a directory): skipped
	}
	// Read in chunks so that a folder of millions of entries is not
	// listed whole into memory.
	var entries []os.DirEntry
	for {
		chunk, rerr := f.ReadDir(1024)
		entries = append(entries, chunk...)
		if len(entries) > l.maxFiles {
			f.Close()
			return fmt.Errorf("%w: more than %d entries in %s", ErrTooManyFiles, l.maxFiles, dir)
		}
		if rerr != nil || len(chunk) == 0 {
			if rerr != io.EOF {
				err = rerr
			}
			break
		}
	}
	f.Close()
	if err != nil && dir == "." {
		return fmt.Errorf("sitefiles: read local root: %w", err)
	}
	// A directory that failed part way keeps what was read.
	sortForWalk(entries, func(e os.DirEntry) dirEntry { return dirEntry{e.Name(), e.IsDir()} })
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := joinRel(dir, e.Name())
		switch {
		case e.IsDir():
			if c.dirs++; c.dirs > l.maxFiles {
				return fmt.Errorf("%w: more than %d folders", ErrTooManyFiles, l.maxFiles)
			}
			if err := l.walk(ctx, p, fn, c); err != nil {
				return err
			}
		case e.Type().IsRegular():
			info, err := e.Info()
			if err != nil || !info.Mode().IsRegular() {
				continue // vanished or replaced since the listing
			}
			if c.files++; c.files > l.maxFiles {
				return fmt.Errorf("%w: more than %d files", ErrTooManyFiles, l.maxFiles)
			}
			if err := fn(Entry{Path: p, Size: info.Size(), ModTime: info.ModTime(), Mode: info.Mode()}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (l *localFS) Stat(ctx context.Context, name string) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	if err := checkPath(name); err != nil {
		return Entry{}, err
	}
	info, err := l.root.Stat(name)
	if err != nil {
		return Entry{}, l.outside(name, err)
	}
	return Entry{Path: name, Size: info.Size(), ModTime: info.ModTime(), Mode: info.Mode()}, nil
}

func (l *localFS) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkPath(name); err != nil {
		return nil, err
	}
	// Check the type before opening: opening a FIFO would block.
	info, err := l.root.Stat(name)
	if err != nil {
		return nil, l.outside(name, err)
	}
	if !info.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errNotRegular}
	}
	// O_NONBLOCK: a file swapped for a FIFO since the Stat must not block
	// the open; the type is checked again on what was opened.
	f, err := l.root.OpenFile(name, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return nil, l.outside(name, err)
	}
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = &fs.PathError{Op: "open", Path: name, Err: errNotRegular}
		}
		return nil, err
	}
	return &ctxReader{ctx: ctx, r: f}, nil
}

var errNotRegular = errors.New("not a regular file")

// ctxReader stops reading once its context has ended.
type ctxReader struct {
	ctx context.Context
	r   io.ReadCloser
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func (c *ctxReader) Close() error { return c.r.Close() }

// fileMode is the mode WriteFile gives a file: the permission and the
// setuid, setgid and sticky bits of mode, 0644 when mode has no permission
// bits at all.
func fileMode(mode fs.FileMode) fs.FileMode {
	m := mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	if m.Perm() == 0 {
		m |= 0o644
	}
	return m
}

// tempName is a name for WriteFile's temporary file next to the target.
func tempName(dir string) string {
	var b [8]byte
	rand.Read(b[:])
	return joinRel(dir, ".palisade-"+hex.EncodeToString(b[:])+".tmp")
}

func (l *localFS) WriteFile(ctx context.Context, name string, data []byte, mode fs.FileMode) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkPath(name); err != nil {
		return err
	}
	if name == "." {
		return &fs.PathError{Op: "write", Path: name, Err: syscall.EISDIR}
	}
	dir := path.Dir(name)
	if dir != "." {
		if err := l.root.MkdirAll(dir, 0o755); err != nil {
			return l.outside(name, err)
		}
	}
	// The target, if it exists: a link resolving outside is refused, a
	// directory cannot be replaced, and the owner is kept.
	uid, gid := -1, -1
	if li, err := l.root.Lstat(name); err == nil {
		if li.IsDir() {
			return &fs.PathError{Op: "write", Path: name, Err: syscall.EISDIR}
		}
		if li.Mode()&fs.ModeSymlink != 0 {
			if _, err := l.root.Stat(name); err != nil {
				if err := l.outside(name, err); errors.Is(err, ErrOutside) {
					return err
				}
			}
		}
		uid, gid = owner(li)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return l.outside(name, err)
	} else if di, err := l.root.Stat(dir); err == nil {
		// A new file belongs to the owner of its folder, not to the
		// (root) process writing it.
		uid, gid = owner(di)
	}

	m := fileMode(mode)
	tmp := tempName(dir)
	f, err := l.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, m.Perm())
	if err != nil {
		return l.outside(name, err)
	}
	defer func() {
		if err != nil {
			l.root.Remove(tmp)
		}
	}()
	_, err = f.Write(data)
	if err == nil && uid >= 0 {
		f.Chown(uid, gid) // best effort: keeps the site's owner when we may
	}
	if err == nil {
		err = f.Chmod(m) // exact mode, whatever the umask
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sitefiles: write %s: %w", name, err)
	}
	if err = ctx.Err(); err != nil {
		return err
	}
	if err = l.root.Rename(tmp, name); err != nil {
		return l.outside(name, err)
	}
	// Make the rename durable too (best effort).
	if d, err := l.root.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func (l *localFS) Remove(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkPath(name); err != nil {
		return err
	}
	li, err := l.root.Lstat(name)
	if err != nil {
		return l.outside(name, err)
	}
	if li.IsDir() {
		return &fs.PathError{Op: "remove", Path: name, Err: syscall.EISDIR}
	}
	if li.Mode()&fs.ModeSymlink != 0 {
		if _, err := l.root.Stat(name); err != nil {
			if err := l.outside(name, err); errors.Is(err, ErrOutside) {
				return err
			}
		}
	}
	return l.outside(name, l.root.Remove(name))
}

func (l *localFS) Close() error { return l.root.Close() }

// probe reads the root directory.
func (l *localFS) probe(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := l.root.Open(".")
	if err != nil {
		return fmt.Errorf("sitefiles: local root %s: %w", l.name, err)
	}
	defer f.Close()
	if _, err := f.ReadDir(1); err != nil && err != io.EOF {
		return fmt.Errorf("sitefiles: read local root %s: %w", l.name, err)
	}
	return nil
}
