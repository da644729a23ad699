package reuselog

import "os"

// Turn is one turn of Run on r's current file, without Run's timer.
func (r *FileReader) Turn() int64 { return r.l.readTail(r.cur, r.path) }

// Close closes r's file, as Run does when it ends.
func (r *FileReader) Close() error { return r.cur.f.Close() }

// SetPunch replaces punching for a test and returns what restores it.
func SetPunch(p func(f *os.File, off, n int64) error) (restore func()) {
	old := punchHole
	punchHole = p
	return func() { punchHole = old }
}

// ErrNoFree is what punching returns where it cannot free.
var ErrNoFree = errNoFree

// FileChunk is one read of the file.
const FileChunk = fileChunk
