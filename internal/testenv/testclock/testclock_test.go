package testclock

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Time
	}{
		{"2027-01-31", time.Date(2027, 1, 31, 12, 0, 0, 0, time.UTC)},
		{" 2028-02-29 ", time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC)},
		{"2027-12-31T23:59:30Z", time.Date(2027, 12, 31, 23, 59, 30, 0, time.UTC)},
		{"2027-03-31T01:30:00+02:00", time.Date(2027, 3, 30, 23, 30, 0, 0, time.UTC)},
		{"2027-03-31T01:30:00.25Z", time.Date(2027, 3, 31, 1, 30, 0, 250e6, time.UTC)},
	} {
		got, err := Parse(c.in)
		if err != nil || !got.Equal(c.want) || got.Location() != time.UTC {
			t.Errorf("Parse(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "tomorrow", "2027-02-30", "31.01.2027", "2027-01-31 12:00"} {
		if _, err := Parse(bad); err == nil || !strings.Contains(err.Error(), Env) {
			t.Errorf("Parse(%q) = %v; want an error naming %s", bad, err, Env)
		}
	}
}

func TestPinnedClockRuns(t *testing.T) {
	pinned := time.Date(2027, 1, 31, 12, 0, 0, 0, time.UTC)
	c := &Clock{pinned: pinned, base: time.Now()}
	first := c.Now()
	if first.Before(pinned) || first.Sub(pinned) > time.Second {
		t.Fatalf("pinned clock starts at %v; want %v", first, pinned)
	}
	time.Sleep(20 * time.Millisecond)
	if d := c.Now().Sub(first); d < 20*time.Millisecond {
		t.Fatalf("pinned clock moved %v in 20ms; it must run at real speed (timeouts and TTLs)", d)
	}
	c.Advance(48 * time.Hour)
	if got := c.Now(); got.Before(pinned.Add(48*time.Hour)) || got.Location() != time.UTC {
		t.Fatalf("after Advance(48h): %v", got)
	}
	if env := c.Environ(); !strings.HasPrefix(env, Env+"=2027-02-02T12:00:00.") {
		t.Fatalf("Environ() = %q; want the clock's time now", env)
	}
	child, err := Parse(strings.TrimPrefix(c.Environ(), Env+"="))
	if err != nil || child.Before(pinned.Add(48*time.Hour)) {
		t.Fatalf("a child started from Environ() reads %v, %v", child, err)
	}
}

func TestRealClock(t *testing.T) {
	c := &Clock{}
	if d := time.Since(c.Now()); d < 0 || d > time.Second || c.Pinned() || c.Environ() != "" {
		t.Fatalf("unpinned clock is %v off the real time (pinned %v, environ %q)", d, c.Pinned(), c.Environ())
	}
}

func TestLogNamesPackageAndTest(t *testing.T) {
	log := filepath.Join(t.TempDir(), "clock.log")
	t.Setenv(LogEnv, log)
	New(t)
	t.Run("sub", func(t *testing.T) { New(t) }) // logged under its top-level test
	New(t)
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := os.Getwd()
	if want := dir + "\tTestLogNamesPackageAndTest\n"; string(b) != want {
		t.Fatalf("log holds %q; want %q (once, with the package's directory)", b, want)
	}
}
