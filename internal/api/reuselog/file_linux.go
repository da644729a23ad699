//go:build linux

package reuselog

import (
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// openFlags open the report file without following a symbolic link,
// blocking on a FIFO or taking a terminal as the controlling one.
const openFlags = unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_NOCTTY

// lock takes the file's advisory lock (flock), or says who holds it.
func lock(f *os.File) error {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if err == unix.EWOULDBLOCK {
		return errLocked
	}
	if err == unix.ENOLCK || err == unix.EOPNOTSUPP || err == unix.ENOSYS {
		return nil // no locks on this file system (NFS without them)
	}
	return err
}

// fileID names a file: its device and inode.
type fileID struct{ dev, ino uint64 }

func idOf(fi fs.FileInfo) fileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{uint64(st.Dev), st.Ino}
	}
	return fileID{}
}

// isOwner reports whether this process owns the file.
func isOwner(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}

// blockSize is the unit FALLOC_FL_COLLAPSE_RANGE cuts in.
func blockSize(fi fs.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Blksize > 0 {
		return int64(st.Blksize)
	}
	return 4096
}

// punch deallocates n bytes at off; the file's size stays, and they read
// as zero bytes.
func punch(f *os.File, off, n int64) error {
	err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
	if err == unix.EOPNOTSUPP || err == unix.ENOSYS {
		return errNoFree
	}
	return err
}

// collapse removes the first n bytes of the file (n a multiple of its
// block size, less than its size); what follows moves to the front.
func collapse(f *os.File, n int64) error {
	return unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_COLLAPSE_RANGE, 0, n)
}

// seekData is the first byte at or after off that is not in a hole.
func seekData(f *os.File, off int64) (int64, error) {
	return unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
}
