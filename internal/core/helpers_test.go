package core_test

import (
	"net/netip"
	"time"
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// monthsAfter is what the tests expect n calendar months after t for a term
// whose anniversary is t's day: that day of the month, or the month's last
// day when it is shorter (Jan 31 + 1 month = Feb 28, + 2 months = Mar 31).
// It is written out here, not taken from core, so that it checks core.
func monthsAfter(t time.Time, n int) time.Time {
	t = t.UTC()
	first := time.Date(t.Year(), t.Month()+time.Month(n), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(t.Day(), last)-1)
}
