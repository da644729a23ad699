// Package testclock is the clock every test runs on: the real time, or, with
// PALISADE_TEST_NOW set, a time that starts at that instant and runs at real
// speed, so the whole suite can be run as if it were another date.
//
// It is a package of its own, with no dependencies, so that the internal
// tests of packages testenv builds on (core, store, challenge, events) can
// use it too. Product code never reads PALISADE_TEST_NOW: it takes a
// `now func() time.Time` option, and tests pass a Clock's Now.
package testclock

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Env names the environment variable that pins the tests' date: an RFC 3339
// instant (2027-01-31T23:59:30Z) or a date (2027-01-31, meaning 12:00 UTC).
const Env = "PALISADE_TEST_NOW"

// start is read once per test binary, so that every Clock of the process
// agrees (a fleet of in-process nodes sees one time).
var start struct {
	once   sync.Once
	pinned time.Time // zero: the real time
	base   time.Time // the real time when pinned was read (monotonic)
	err    error
}

// Parse reads a PALISADE_TEST_NOW value.
func Parse(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	if d, err := time.Parse(time.DateOnly, v); err == nil {
		return d.Add(12 * time.Hour), nil
	}
	return time.Time{}, fmt.Errorf("%s=%q: give an RFC 3339 instant (2027-01-31T23:59:30Z) or a date (2027-01-31, meaning 12:00 UTC)", Env, v)
}

// Clock is a test's clock. The zero value is not usable; use New or Load.
type Clock struct {
	pinned, base time.Time
	offset       atomic.Int64 // nanoseconds added by Advance
}

// Load returns a clock on PALISADE_TEST_NOW (the real time when it is
// unset), for code that has no testing.TB (a TestMain child process).
func Load() (*Clock, error) {
	start.once.Do(func() {
		if v := os.Getenv(Env); v != "" {
			start.pinned, start.err = Parse(v)
			start.base = time.Now()
		}
	})
	if start.err != nil {
		return nil, start.err
	}
	return &Clock{pinned: start.pinned, base: start.base}, nil
}

// New returns a clock on PALISADE_TEST_NOW, failing t when the variable
// cannot be read.
func New(t testing.TB) *Clock {
	t.Helper()
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	noteUse(t)
	return c
}

// LogEnv names an environment variable holding a file to which New appends
// a line for each top-level test that asked for a clock, once per test
// binary: the test's package directory (the test binary's working
// directory, as go test runs it), a tab, and the test's name. .ci/run sets
// it for the plain run of the whole suite and then runs, on each pinned
// date, only the tests it names: a test that never asks for a clock runs
// on the real time whatever PALISADE_TEST_NOW says.
const LogEnv = "PALISADE_TESTCLOCK_LOG"

var logged sync.Map // top-level test name -> struct{}

func noteUse(t testing.TB) {
	path := os.Getenv(LogEnv)
	if path == "" {
		return
	}
	name, _, _ := strings.Cut(t.Name(), "/")
	if _, dup := logged.LoadOrStore(name, struct{}{}); dup {
		return
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("%s: %v", LogEnv, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatalf("%s: %v", LogEnv, err)
	}
	defer f.Close()
	// One write per line (O_APPEND): the packages of a go test run write
	// to the same file at once.
	if _, err := f.WriteString(dir + "\t" + name + "\n"); err != nil {
		t.Fatalf("%s: %v", LogEnv, err)
	}
}

// Now is New(t).Now(): the current test time, for tests that keep a frozen
// clock of their own from there.
func Now(t testing.TB) time.Time {
	t.Helper()
	return New(t).Now()
}

// Now returns the clock's time, in UTC.
func (c *Clock) Now() time.Time {
	var now time.Time
	if c.pinned.IsZero() {
		now = time.Now()
	} else {
		now = c.pinned.Add(time.Since(c.base))
	}
	return now.Add(time.Duration(c.offset.Load())).UTC()
}

// Advance moves the clock forward by d (back when d < 0), for tests of
// expiry that cannot wait.
func (c *Clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// Pinned reports whether PALISADE_TEST_NOW set the clock.
func (c *Clock) Pinned() bool { return !c.pinned.IsZero() }

// Environ returns the environment entry that starts a child process's
// clock where this one is now ("" when the clock is the real time), for
// tests that run Palisade in another process.
func (c *Clock) Environ() string {
	if !c.Pinned() && c.offset.Load() == 0 {
		return ""
	}
	return Env + "=" + c.Now().Format(time.RFC3339Nano)
}
