package guard

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"time"
)

// ErrBusy is Gate.Do's refusal when every slot is taken and the queue is
// full or the wait ran out.
var ErrBusy = errors.New("guard: too many password checks at once")

// Gate caps concurrent expensive work (argon2id: 19 MiB each): at most
// Cap at once, at most Queue more waiting, each for at most Wait; anyone
// else is refused at once with ErrBusy, so a flood costs memory of Cap
// hashes, not of the flood.
type Gate struct {
	slots   chan struct{}
	queue   int64
	wait    time.Duration
	waiting atomic.Int64
	inUse   atomic.Int64
	peak    atomic.Int64
	runs    atomic.Int64
}

// NewGate returns a Gate of n slots (minimum 1), a queue of queue waiters
// and a wait of at most wait.
func NewGate(n, queue int, wait time.Duration) *Gate {
	if n < 1 {
		n = 1
	}
	return &Gate{slots: make(chan struct{}, n), queue: int64(queue), wait: wait}
}

// DefaultGate: max(2, GOMAXPROCS) slots, a queue of 32, two seconds' wait.
func DefaultGate() *Gate { return NewGate(max(2, runtime.GOMAXPROCS(0)), 32, 2*time.Second) }

// Do runs fn in a slot, or returns ErrBusy (or the context's error).
func (g *Gate) Do(ctx context.Context, fn func()) error {
	select {
	case g.slots <- struct{}{}:
	default:
		if g.waiting.Add(1) > g.queue {
			g.waiting.Add(-1)
			return ErrBusy
		}
		t := time.NewTimer(g.wait)
		select {
		case g.slots <- struct{}{}:
			t.Stop()
			g.waiting.Add(-1)
		case <-t.C:
			g.waiting.Add(-1)
			return ErrBusy
		case <-ctx.Done():
			t.Stop()
			g.waiting.Add(-1)
			return ctx.Err()
		}
	}
	g.runs.Add(1)
	n := g.inUse.Add(1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	defer func() {
		g.inUse.Add(-1)
		<-g.slots
	}()
	fn()
	return nil
}

// Cap is the number of slots.
func (g *Gate) Cap() int { return cap(g.slots) }

// Peak is the most slots ever in use at once (for tests).
func (g *Gate) Peak() int { return int(g.peak.Load()) }

// Runs is how many times Do ran its function (for tests: "refused before
// hashing" means Runs did not move).
func (g *Gate) Runs() int { return int(g.runs.Load()) }
