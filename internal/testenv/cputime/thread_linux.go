package cputime

import (
	"time"

	"golang.org/x/sys/unix"
)

// threadCPU reads the calling thread's CPU clock (CLOCK_THREAD_CPUTIME_ID:
// exact, unlike getrusage's tick-sampled split).
func threadCPU() (time.Duration, bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
