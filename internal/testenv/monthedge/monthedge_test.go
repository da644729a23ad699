package monthedge

import (
	"testing"
	"time"
)

func TestClear(t *testing.T) {
	march := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		now           time.Time
		before, after time.Duration
		want          time.Duration
	}{
		{march.Add(12 * time.Hour), time.Hour, time.Hour, 0},
		{march.Add(30 * time.Minute), time.Hour, time.Minute, 30 * time.Minute},                      // too close to the start
		{march.Add(-10 * time.Minute), time.Hour, 30 * time.Minute, 70 * time.Minute},                // crosses into March
		{march.Add(-10 * time.Minute), 0, 5 * time.Minute, 0},                                        // February's last minutes suffice
		{time.Date(2027, 3, 31, 23, 59, 0, 0, time.UTC), 0, 3 * time.Hour, time.Minute},              // March 31 23:59 → April 1
		{time.Date(2028, 2, 29, 23, 0, 0, 0, time.UTC), 2 * time.Hour, 2 * time.Hour, 3 * time.Hour}, // a leap day's end
	} {
		if got := Clear(c.now, c.before, c.after); got != c.want {
			t.Errorf("Clear(%v, %v, %v) = %v, want %v", c.now, c.before, c.after, got, c.want)
		}
	}
}
