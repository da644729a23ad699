// Package monthedge keeps tests whose subject is not a month's edge off
// it: tests that book statistics at one time and read a month's totals at
// another, which would otherwise fail on the hours around a month's start
// (the test clock is the real time unless PALISADE_TEST_NOW pins it). The
// month arithmetic is core's.
package monthedge

import (
	"time"

	"github.com/palisadehq/palisade/internal/core"
)

// Clear returns how far to move a test's clock, now, so that the stretch
// from before it to after it lies within one calendar month: 0 when it
// does already; otherwise to the next month's start plus before.
func Clear(now time.Time, before, after time.Duration) time.Duration {
	start := core.MonthStart(now)
	if now.Add(-before).Before(start) {
		return start.Add(before).Sub(now)
	}
	if next := core.AddMonths(start, 1, 1); !now.Add(after).Before(next) {
		return next.Add(before).Sub(now)
	}
	return 0
}
