package reuselog_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/api/reuselog"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// tail runs l.TailFile(path) until the returned stop is called (which
// waits for it to return).
func tail(t *testing.T, l *reuselog.Listener, path string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.TailFile(ctx, path) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("TailFile: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// tailNew reads a new report file in dir for pal until the test ends, once
// the reader has created it.
func tailNew(t *testing.T, pal *testenv.Stack, dir string) (*reuselog.Listener, string) {
	t.Helper()
	path := filepath.Join(dir, "reuse.log")
	l := reuselog.New(pal.Protector.Engine, pal.Recorder, nil, nil)
	tail(t, l, path)
	waitStats(t, l, "the file is created", func(reuselog.Stats) bool { _, err := os.Stat(path); return err == nil })
	return l, path
}

// appendTo appends s to the file at path as nginx does (O_APPEND, one write).
func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// waitStats waits (10 s at most) until cond holds for l's counts.
func waitStats(t *testing.T, l *reuselog.Listener, what string, cond func(reuselog.Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond(l.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: stats %+v", what, l.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// needPunch fails under CI (skips elsewhere) when the file system of dir
// cannot punch holes: freeing the file is then not testable here.
func needPunch(t *testing.T, dir string) {
	t.Helper()
	p := filepath.Join(dir, "probe")
	if err := os.WriteFile(p, make([]byte, 8192), 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(p)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := reuselog.Punch(f, 0, 4096); err != nil {
		msg := fmt.Sprintf("the file system of %s cannot punch holes (%v): the report file's freeing is not testable here", dir, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// allocated is the file's allocated bytes (its blocks, not its size).
func allocated(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		t.Fatal("no Stat_t")
	}
	return st.Blocks * 512
}

// TestFileReports: lines nginx appends to the report file are counted
// into the website's statistics once each, also a line written in two
// parts a turn apart; lines with nginx's syslog prefix too; a bad line, a
// line of another website and an overlong line are skipped (counted as
// such), and the lines after them counted. What was counted is freed: the
// file's blocks are given back while its lines were 200 KB.
func TestFileReports(t *testing.T) {
	pal := testenv.New(t)
	site := pal.Website(t, "file.example.com", engine.Settings{})
	dir := t.TempDir()
	needPunch(t, dir)
	l, path := tailNew(t, pal, dir)
	if fi, _ := os.Stat(path); fi.Mode().Perm() != reuselog.FileMode {
		t.Errorf("the file's mode is %v, want %v", fi.Mode().Perm(), reuselog.FileMode)
	}

	line := "v1 " + site.ServerKey + " humans 1\n"
	appendTo(t, path, line+line+"v1 "+site.ServerKey+" hum")
	time.Sleep(2 * reuselog.Every) // the incomplete line waits for its end
	waitStats(t, l, "two complete lines", func(s reuselog.Stats) bool { return s.Counted == 2 })
	appendTo(t, path, "ans 3\n<190>Dec  2 01:00:00 palisade_reused: v1 "+site.ServerKey+" humans 2\n")
	appendTo(t, path, "garbage\nv1 sk_nobody humans 1\n"+strings.Repeat("x", 3000)+"\n"+line)
	waitStats(t, l, "all lines", func(s reuselog.Stats) bool { return s.Counted == 5 && s.BadLine == 2 && s.UnknownKey == 1 })
	if s := l.Stats(); s.Requests != 8 {
		t.Errorf("requests counted %d, want 8 (1+1+3+2+1)", s.Requests)
	}
	if got := counted(t, pal, "file.example.com", "humans"); got != 8 {
		t.Errorf("the website's statistics count %d reused humans, want 8", got)
	}

	// 200 KB more: counted, and the file's blocks freed.
	var b strings.Builder
	for i := 0; i < 4000; i++ {
		b.WriteString(line)
	}
	appendTo(t, path, b.String())
	waitStats(t, l, "4000 more", func(s reuselog.Stats) bool { return s.Counted == 4005 })
	fi, _ := os.Stat(path)
	waitStats(t, l, "all freed", func(s reuselog.Stats) bool { return s.FileFreed == uint64(fi.Size()) })
	if a := allocated(t, path); a > 16<<10 {
		t.Errorf("the file still takes %d bytes after everything in it was counted (size %d)", a, fi.Size())
	}
}

// TestFileRestart: what one Palisade counted is not counted again by the
// next one; what nginx appended while no Palisade ran is, once.
func TestFileRestart(t *testing.T) {
	pal := testenv.New(t)
	site := pal.Website(t, "restart.example.com", engine.Settings{})
	dir := t.TempDir()
	needPunch(t, dir)
	path := filepath.Join(dir, "reuse.log")
	line := "v1 " + site.ServerKey + " humans 1\n"

	first := reuselog.New(pal.Protector.Engine, pal.Recorder, nil, nil)
	stop := tail(t, first, path)
	appendTo(t, path, strings.Repeat(line, 1000)+"v1 "+site.ServerKey)
	waitStats(t, first, "the first thousand", func(s reuselog.Stats) bool { return s.Requests == 1000 })
	stop()

	// Down: nginx goes on appending (and finishes the incomplete line).
	appendTo(t, path, " humans 1\n"+strings.Repeat(line, 499))
	second := reuselog.New(pal.Protector.Engine, pal.Recorder, nil, nil)
	tail(t, second, path)
	waitStats(t, second, "what was appended meanwhile", func(s reuselog.Stats) bool { return s.Requests >= 500 })
	time.Sleep(3 * reuselog.Every)
	if s := second.Stats(); s.Requests != 500 || s.BadLine != 0 {
		t.Errorf("after the restart: %+v; want 500 requests and no bad line", s)
	}
	if got := counted(t, pal, "restart.example.com", "humans"); got != 1500 {
		t.Errorf("the website's statistics count %d, want 1500", got)
	}
}

// TestFileConcurrentWriters: four writers (nginx's workers) append 40,000
// lines in whole-line writes of random sizes while the file is read, freed
// and, past a megabyte, cut at its front: every line is counted exactly
// once, and the file ends small.
func TestFileConcurrentWriters(t *testing.T) {
	pal := testenv.New(t)
	site := pal.Website(t, "writers.example.com", engine.Settings{})
	dir := t.TempDir()
	needPunch(t, dir)
	l, path := tailNew(t, pal, dir)

	line := "v1 " + site.ServerKey + " humans 1\n"
	const writers, lines = 4, 10000
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 7))
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			for left := lines; left > 0; {
				n := min(left, 1+rng.IntN(400))
				if _, err := f.WriteString(strings.Repeat(line, n)); err != nil {
					t.Error(err)
					return
				}
				left -= n
				if rng.IntN(4) == 0 {
					time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
				}
			}
		}(uint64(w))
	}
	wg.Wait()
	waitStats(t, l, "every line", func(s reuselog.Stats) bool { return s.Requests >= writers*lines })
	time.Sleep(3 * reuselog.Every)
	if s := l.Stats(); s.Requests != writers*lines || s.Counted != writers*lines || s.BadLine != 0 {
		t.Errorf("%+v; want %d lines counted, none bad", s, writers*lines)
	}
	written := int64(writers * lines * len(line))
	if a := allocated(t, path); a > 64<<10 {
		t.Errorf("the file still takes %d bytes after %d were written and counted", a, written)
	}
	fi, _ := os.Stat(path)
	t.Logf("written %d bytes; the file's size now %d, allocated %d", written, fi.Size(), allocated(t, path))
}

// TestFileTruncatedOrReplaced: a file truncated by someone is read again
// from its start; a file moved away and created anew is read to its end
// (nginx writing to it until it reopens its logs) and the new one followed.
func TestFileTruncatedOrReplaced(t *testing.T) {
	pal := testenv.New(t)
	site := pal.Website(t, "moved.example.com", engine.Settings{})
	l, path := tailNew(t, pal, t.TempDir())
	line := "v1 " + site.ServerKey + " humans 1\n"
	appendTo(t, path, strings.Repeat(line, 10))
	waitStats(t, l, "ten", func(s reuselog.Stats) bool { return s.Requests == 10 })

	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, strings.Repeat(line, 3))
	waitStats(t, l, "three after the truncation", func(s reuselog.Stats) bool { return s.Requests == 13 })

	// nginx's descriptor of the file, kept across the move.
	nginx, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer nginx.Close()
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if _, err := nginx.WriteString(strings.Repeat(line, 4)); err != nil {
		t.Fatal(err)
	}
	waitStats(t, l, "a new file at the path", func(reuselog.Stats) bool { _, err := os.Stat(path); return err == nil })
	if _, err := nginx.WriteString(strings.Repeat(line, 5)); err != nil { // before nginx reopens
		t.Fatal(err)
	}
	appendTo(t, path, strings.Repeat(line, 6)) // after
	waitStats(t, l, "the old file's and the new one's", func(s reuselog.Stats) bool { return s.Requests == 28 })
	time.Sleep(3 * reuselog.Every)
	if s := l.Stats(); s.Requests != 28 || s.BadLine != 0 {
		t.Errorf("%+v; want 28 requests", s)
	}
}
