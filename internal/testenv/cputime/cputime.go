// Package cputime measures the CPU time a piece of code takes on its own
// thread, so that the cost tests (a virtual patch's regex, the firewall's
// worst case) hold on a loaded machine: wall-clock time grows with
// everything else running, a thread's CPU time does not.
package cputime

import (
	"runtime"
	"time"
)

// Of runs f locked to one OS thread and returns the CPU time that thread
// spent in it (user and system). Where the system cannot say (not
// Linux), it returns the wall-clock time.
func Of(f func()) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before, ok := threadCPU()
	start := time.Now()
	f()
	if after, ok2 := threadCPU(); ok && ok2 {
		return after - before
	}
	return time.Since(start)
}
