//go:build unix

package sitefiles

import (
	"io/fs"
	"syscall"
)

// owner is the user and group owning a file, -1 when unknown.
func owner(info fs.FileInfo) (uid, gid int) {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return -1, -1
}

// openNonblock makes opening a FIFO return at once instead of waiting for
// a writer.
const openNonblock = syscall.O_NONBLOCK
