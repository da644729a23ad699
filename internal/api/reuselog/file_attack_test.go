package reuselog_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/api/reuselog"
	"github.com/palisadehq/palisade/internal/engine"
)

// attackKey is the one server key the fake websites know.
const attackKey = "sk_attack"

// attackLine is one report of one request for attackKey.
const attackLine = "v1 " + attackKey + " humans 1\n"

type fakeSites struct{}

func (fakeSites) ByServerKey(key string) (*engine.Policy, error) {
	if key == attackKey {
		return &engine.Policy{}, nil
	}
	return nil, errors.New("no such website")
}

// fakeCounter sums the requests counted; panicAt > 0 panics once the sum
// reaches it (a crash of Palisade between counting and freeing).
type fakeCounter struct {
	mu      sync.Mutex
	n       int64
	panicAt int64
}

func (c *fakeCounter) CountReused(_ *engine.Policy, _ engine.Category, n int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += n
	if c.panicAt > 0 && c.n == c.panicAt {
		panic("crash")
	}
	return true
}

func (c *fakeCounter) total() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func newAttackListener(c *fakeCounter) *reuselog.Listener {
	return reuselog.New(fakeSites{}, c, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// turns runs turns of r until one reads nothing (at most 100).
func turns(r *reuselog.FileReader) {
	for i := 0; i < 100 && r.Turn() > 0; i++ {
	}
}

// counts checks that c counted want requests and l skipped no line as bad.
func counts(t *testing.T, c *fakeCounter, l *reuselog.Listener, want int64, what string) {
	t.Helper()
	if got := c.total(); got != want {
		t.Errorf("%s: %d requests counted, want %d", what, got, want)
	}
	if s := l.Stats(); s.BadLine != 0 {
		t.Errorf("%s: %+v, want no bad line", what, s)
	}
}

// open opens the report file at path for l, failing the test when it
// cannot; the file is closed when the test ends (Close twice is harmless).
func open(t *testing.T, l *reuselog.Listener, path string) *reuselog.FileReader {
	t.Helper()
	r, err := l.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// TestFileAttackSymlink: a symbolic link at the path is refused, and the
// file it points to (which Palisade could write) is neither counted nor
// punched; a dangling one does not create its target.
func TestFileAttackSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "precious.db")
	content := strings.Repeat(attackLine, 100)
	if err := os.WriteFile(target, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "reuse.log")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	c := &fakeCounter{}
	r, err := newAttackListener(c).OpenFile(path)
	if err == nil {
		r.Turn()
		r.Close()
		t.Errorf("a symbolic link at the path was opened")
	}
	if got, _ := os.ReadFile(target); string(got) != content {
		t.Errorf("the link's target was changed: %q…", got[:min(len(got), 40)])
	}
	if c.total() != 0 {
		t.Errorf("the link's target was counted: %d requests", c.total())
	}

	dangling := filepath.Join(dir, "dangling.log")
	elsewhere := filepath.Join(dir, "elsewhere")
	if err := os.Symlink(elsewhere, dangling); err != nil {
		t.Fatal(err)
	}
	if r, err := newAttackListener(c).OpenFile(dangling); err == nil {
		r.Close()
		t.Errorf("a dangling symbolic link at the path was opened")
	}
	if _, err := os.Lstat(elsewhere); err == nil {
		t.Errorf("the dangling link's target was created")
	}
}

// TestFileAttackNotRegular: a FIFO or a directory at the path is refused
// at once (opening a FIFO must not block the reader).
func TestFileAttackNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.log")
	if err := syscall.Mkfifo(fifo, 0o444); err != nil {
		t.Skip("no FIFO here:", err)
	}
	sub := filepath.Join(dir, "sub.log")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, sub} {
		done := make(chan error, 1)
		go func() {
			r, err := newAttackListener(&fakeCounter{}).OpenFile(p)
			if err == nil {
				r.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("%s: opened", filepath.Base(p))
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("%s: opening it blocks", filepath.Base(p))
		}
	}
}

// TestFileAttackNoFreeRestart: where what was counted cannot be freed, a
// restart does not count the lines in the file again (every restart would
// bill them all once more); the lines appended after it are counted, and a
// line nginx was writing at the restart is not a bad line.
func TestFileAttackNoFreeRestart(t *testing.T) {
	defer reuselog.SetPunch(func(*os.File, int64, int64) error { return reuselog.ErrNoFree })()
	path := filepath.Join(t.TempDir(), "reuse.log")
	c := &fakeCounter{}
	first := newAttackListener(c)
	r := open(t, first, path)
	appendTo(t, path, strings.Repeat(attackLine, 10))
	turns(r)
	r.Close()
	if c.total() != 10 {
		t.Fatalf("first: %d requests counted, want 10", c.total())
	}

	appendTo(t, path, "v1 "+attackKey+" hum") // nginx is writing a line
	second := newAttackListener(c)
	r = open(t, second, path)
	turns(r)
	appendTo(t, path, "ans 1\n"+strings.Repeat(attackLine, 5))
	turns(r)
	counts(t, c, second, 16, "after a restart (the first 10 once, the line nginx was writing, then 5)")
}

// TestFileMarkMadeWritable: a Palisade that could not free the file notes
// how far it counted beside it; once the file can be freed (the operator
// made it writable and restarted Palisade), what that run counted is freed
// first, not billed again, and what nginx appended meanwhile is counted
// once. Without the mark, every line in the file would count twice.
func TestFileMarkMadeWritable(t *testing.T) {
	dir := t.TempDir()
	needPunch(t, dir)
	path := filepath.Join(dir, "reuse.log")
	c := &fakeCounter{}
	restore := reuselog.SetPunch(func(*os.File, int64, int64) error { return reuselog.ErrNoFree })
	first := newAttackListener(c)
	r := open(t, first, path)
	appendTo(t, path, strings.Repeat(attackLine, 10))
	turns(r)
	r.Close()
	restore()
	if b, err := os.ReadFile(path + ".counted"); err != nil || !strings.HasPrefix(string(b), "v1 ") {
		t.Fatalf("no mark beside the file: %q %v", b, err)
	}

	appendTo(t, path, strings.Repeat(attackLine, 3)) // while no Palisade runs
	second := newAttackListener(c)
	r = open(t, second, path)
	turns(r)
	appendTo(t, path, strings.Repeat(attackLine, 2))
	turns(r)
	counts(t, c, second, 15, "made writable (the first 10 once, 3 appended meanwhile, then 2)")
	if _, err := os.Stat(path + ".counted"); !os.IsNotExist(err) {
		t.Errorf("the mark is left beside a file that can be freed: %v", err)
	}
	if a := allocated(t, path); a > 8<<10 {
		t.Errorf("the file still takes %d bytes: what the first run counted is not freed", a)
	}

	// A third run: the zeros tell what was counted, as without a mark.
	r.Close()
	third := newAttackListener(c)
	r = open(t, third, path)
	turns(r)
	counts(t, c, third, 15, "a third start")
}

// TestFileMarkOfAnotherFile: a mark beside the path that names another
// file (the report file was replaced) is not applied to the new one.
func TestFileMarkOfAnotherFile(t *testing.T) {
	defer reuselog.SetPunch(func(*os.File, int64, int64) error { return reuselog.ErrNoFree })()
	path := filepath.Join(t.TempDir(), "reuse.log")
	c := &fakeCounter{}
	r := open(t, newAttackListener(c), path)
	appendTo(t, path, strings.Repeat(attackLine, 10))
	turns(r)
	r.Close()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, strings.Repeat(attackLine, 4)) // a new file, shorter than the mark says
	second := newAttackListener(c)
	r = open(t, second, path)
	appendTo(t, path, strings.Repeat(attackLine, 2))
	turns(r)
	counts(t, c, second, 12, "a new file (what it held when Palisade started is not known to be uncounted: from its end)")
}

// TestFileAttackTruncatedRefilled: a file truncated and then appended past
// where Palisade had read before its next turn (one flush of nginx's
// buffer) is read again from its start: no line of it is lost.
func TestFileAttackTruncatedRefilled(t *testing.T) {
	dir := t.TempDir()
	needPunch(t, dir)
	path := filepath.Join(dir, "reuse.log")
	c := &fakeCounter{}
	l := newAttackListener(c)
	r := open(t, l, path)
	appendTo(t, path, strings.Repeat(attackLine, 10))
	turns(r)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, strings.Repeat(attackLine, 20))
	turns(r)
	counts(t, c, l, 30, "10, then 20 after the truncation")
}

// TestFileAttackCrashRecount: a crash between counting and freeing counts
// again at most one read (64 KiB) of lines, not a whole turn's (64 MiB).
func TestFileAttackCrashRecount(t *testing.T) {
	dir := t.TempDir()
	needPunch(t, dir)
	path := filepath.Join(dir, "reuse.log")
	const lines, crashAt = 100000, 60000
	c1 := &fakeCounter{panicAt: crashAt}
	r := open(t, newAttackListener(c1), path)
	appendTo(t, path, strings.Repeat(attackLine, lines))
	func() {
		defer func() {
			if recover() == nil {
				t.Error("no crash")
			}
		}()
		turns(r)
	}()
	r.Close()

	c2 := &fakeCounter{}
	r = open(t, newAttackListener(c2), path)
	turns(r)
	again := c1.total() + c2.total() - lines
	if again < 0 {
		t.Fatalf("%d + %d requests counted of %d: lost", c1.total(), c2.total(), lines)
	}
	if most := int64(reuselog.FileChunk/len(attackLine) + 1); again > most {
		t.Errorf("the crash counted %d requests again, want at most %d (one read)", again, most)
	}
}

// TestFileAttackCRLFAtMaxLine: a line of MaxLine bytes ending in "\r\n" is
// counted whether or not it straddles two reads.
func TestFileAttackCRLFAtMaxLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reuse.log")
	c := &fakeCounter{}
	l := newAttackListener(c)
	r := open(t, l, path)
	head := "v1 " + attackKey + " humans "
	long := head + strings.Repeat("0", reuselog.MaxLine-len(head)-1) + "1\r\n"
	k := (reuselog.FileChunk - 500) / len(attackLine) // the first long line straddles the first read's end
	var b bytes.Buffer
	b.WriteString(strings.Repeat(attackLine, k))
	b.WriteString(long)
	b.WriteString(long)
	appendTo(t, path, b.String())
	turns(r)
	if s := l.Stats(); c.total() != int64(k+2) || s.BadLine != 0 {
		t.Errorf("%d requests counted, %+v; want %d and no bad line", c.total(), s, k+2)
	}
}

// TestFileAttackSecondReader: a second Palisade reading the same file
// would count each line again: it is refused.
func TestFileAttackSecondReader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reuse.log")
	c := &fakeCounter{}
	r1 := open(t, newAttackListener(c), path)
	r2, err := newAttackListener(c).OpenFile(path)
	if err == nil {
		defer r2.Close()
	}
	appendTo(t, path, strings.Repeat(attackLine, 10))
	turns(r1)
	if r2 != nil {
		turns(r2)
	}
	if err == nil || c.total() != 10 {
		t.Errorf("a second reader of the same file: err %v, %d requests counted, want refused and 10", err, c.total())
	}
}

// TestFileAttackWithDatagrams: the file's reader and the datagrams' (one
// listener, as palisade serve runs them) count at the same time without a
// race (go test -race) and without losing a line.
func TestFileAttackWithDatagrams(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reuse.log")
	c := &fakeCounter{}
	l := newAttackListener(c)
	r := open(t, l, path)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	const n = 2000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			l.Handle(netip.MustParseAddr("127.0.0.1"), []byte(attackLine))
		}
	}()
	for i := 0; i < n; i += 100 {
		appendTo(t, path, strings.Repeat(attackLine, 100))
	}
	wg.Wait()
	deadline := time.Now().Add(3 * time.Second)
	for c.total() < 2*n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s := l.Stats(); c.total() != 2*n || s.Counted != 2*n {
		t.Errorf("%d requests counted, %+v; want %d", c.total(), s, 2*n)
	}
}

// TestFileAttackZerosAtEnd: zero bytes at the file's end (a read racing
// nginx's append can see its bytes so) are read again, not skipped as
// freed: the line written there is counted whole.
func TestFileAttackZerosAtEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reuse.log")
	c := &fakeCounter{}
	l := newAttackListener(c)
	r := open(t, l, path)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte(attackLine+"\x00\x00\x00\x00\x00\x00"), 0); err != nil {
		t.Fatal(err)
	}
	turns(r)
	if _, err := f.WriteAt([]byte(attackLine), int64(len(attackLine))); err != nil {
		t.Fatal(err)
	}
	turns(r)
	if s := l.Stats(); c.total() != 2 || s.BadLine != 0 {
		t.Errorf("%d requests counted, %+v; want 2 and no bad line", c.total(), s)
	}
}

// TestFileAttackMovedBack: a file moved away (Palisade then creates a new
// one at the path) and moved back is read once: its lines are not counted
// by both the reader of the old file and a new one.
func TestFileAttackMovedBack(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "reuse.log")
	c := &fakeCounter{}
	l := newAttackListener(c)
	r := open(t, l, path)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(3 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d requests counted", what, c.total())
			}
		}
	}
	appendTo(t, path, strings.Repeat(attackLine, 5))
	wait("five", func() bool { return c.total() == 5 })
	away := filepath.Join(dir, "away.log")
	if err := os.Rename(path, away); err != nil {
		t.Fatal(err)
	}
	wait("a new file at the path", func() bool { _, err := os.Stat(path); return err == nil })
	if err := os.Rename(away, path); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * reuselog.Every)
	appendTo(t, path, strings.Repeat(attackLine, 5))
	wait("ten", func() bool { return c.total() >= 10 })
	time.Sleep(3 * reuselog.Every)
	if c.total() != 10 {
		t.Errorf("%d requests counted, want 10", c.total())
	}
}

// TestFileAttackManyTurnsFreed: what was counted over many turns, each
// ending inside a block, is given back whole: no block stays allocated for
// having been freed in two parts (tmpfs cannot cut the front off, so there
// they would take memory for as long as nginx appends).
func TestFileAttackManyTurnsFreed(t *testing.T) {
	dir := t.TempDir()
	needPunch(t, dir)
	path := filepath.Join(dir, "reuse.log")
	c := &fakeCounter{}
	r := open(t, newAttackListener(c), path)
	const turnsN, per = 1000, 5
	for i := 0; i < turnsN; i++ {
		appendTo(t, path, strings.Repeat(attackLine, per))
		r.Turn()
	}
	if c.total() != turnsN*per {
		t.Fatalf("%d requests counted, want %d", c.total(), turnsN*per)
	}
	if a := allocated(t, path); a > 8<<10 {
		t.Errorf("the file still takes %d bytes after %d were written and counted", a, turnsN*per*len(attackLine))
	}
}
