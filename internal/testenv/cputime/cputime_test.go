package cputime

import (
	"testing"
	"time"
)

// TestOf: busy work is counted; sleeping is not.
func TestOf(t *testing.T) {
	busy := Of(func() {
		x := 0
		for start := time.Now(); time.Since(start) < 30*time.Millisecond; x++ {
		}
		_ = x
	})
	if busy < 5*time.Millisecond {
		t.Errorf("30 ms of busy work counted as %v", busy)
	}
	idle := Of(func() { time.Sleep(50 * time.Millisecond) })
	if _, ok := threadCPU(); ok && idle > 20*time.Millisecond {
		t.Errorf("a 50 ms sleep counted as %v of CPU", idle)
	}
}
