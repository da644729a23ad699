//go:build !linux

package reuselog

import (
	"io/fs"
	"os"
)

// fileID names a file; elsewhere than Linux every file has the same one,
// so a replaced file is not noticed (restart Palisade after replacing it).
type fileID struct{ dev, ino uint64 }

func idOf(fi fs.FileInfo) fileID { return fileID{} }

func isOwner(fs.FileInfo) bool { return false }

func blockSize(fs.FileInfo) int64 { return 4096 }

// openFlags: no more than the defaults elsewhere.
const openFlags = 0

func lock(*os.File) error { return nil }

// Freeing what was counted is Linux's (fallocate); elsewhere the file grows.
func punch(*os.File, int64, int64) error { return errNoFree }

func collapse(*os.File, int64) error { return errNoFree }

func seekData(f *os.File, off int64) (int64, error) { return off, nil }
