package waf

import (
	"runtime"
	"sync/atomic"
	"time"
)

// CRS on Go's regexp costs about 8 µs of CPU per inspected kilobyte of a
// single value (a 128 KiB form field: most of a second), so one client
// could keep every core busy with large requests. Requests that give CRS
// more than HeavyBytes to read take a slot of the heavy gate: at most half
// the cores (at least one) evaluate such requests at once, HeavyQueue more
// wait up to HeavyWait, and any beyond that are not inspected and answered
// with RuleBusy (a block in block mode: a request that cannot be inspected
// is not let through uninspected). Ordinary requests never wait.
const (
	HeavyBytes = 8 << 10
	HeavyQueue = 64
	HeavyWait  = 250 * time.Millisecond
	// RuleBusy is the id of the match a request not inspected for want of
	// capacity carries (Palisade's own, outside CRS's and patches' ids).
	RuleBusy = 999100
)

// gate bounds concurrent heavy evaluations.
type gate struct {
	slots   chan struct{}
	waiting atomic.Int64
	busy    atomic.Int64 // requests refused, for metrics and tests
}

func newGate(n int) *gate { return &gate{slots: make(chan struct{}, max(n, 1))} }

var heavy = newGate(runtime.GOMAXPROCS(0) / 2)

// BusyRefusals returns how many requests were not inspected because the
// heavy gate was full.
func BusyRefusals() int64 { return heavy.busy.Load() }

// acquire takes a slot, waiting up to wait; false: none came free.
func (g *gate) acquire(wait time.Duration) bool {
	select {
	case g.slots <- struct{}{}:
		return true
	default:
	}
	if g.waiting.Add(1) > HeavyQueue {
		g.waiting.Add(-1)
		g.busy.Add(1)
		return false
	}
	defer g.waiting.Add(-1)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return true
	case <-t.C:
		g.busy.Add(1)
		return false
	}
}

func (g *gate) release() { <-g.slots }

// inspectedBytes is about how much CRS would read of in.
func inspectedBytes(in *Input) int {
	n := len(in.Path) + len(in.Query) + len(in.Body)
	for k, vs := range in.Header {
		for _, v := range vs {
			n += len(k) + len(v)
		}
	}
	return n
}

// busyResult is the answer for a request the heavy gate turned away.
func busyResult(res *Result) {
	res.Blocked = true
	res.Class = ClassProtocol
	res.Matches = append(res.Matches, Match{ID: RuleBusy, Class: ClassProtocol, Severity: "critical",
		Message: "request not inspected: too many large requests at once"})
}
