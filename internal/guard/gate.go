package guard

import (
	"container/list"
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// ErrBusy is Gate.Do's refusal when every slot is taken and the queue is
// full, the wait ran out, or the client's network already holds its share
// of the gate.
var ErrBusy = errors.New("guard: too many password checks at once")

// Gate caps concurrent expensive work (argon2id: 19 MiB each): at most
// Cap at once, at most Queue more waiting in each of its two lanes, each
// for at most Wait; anyone else is refused at once with ErrBusy, so a
// flood costs memory of Cap hashes, not of the flood.
//
// It is fair (Enter):
//
//   - Two lanes. The priority lane is for sign-ins from an address where
//     the account signed in successfully before (known-good: only someone
//     who knew the password can have made it so); when a slot frees, a
//     waiter of the priority lane gets it before any of the normal lane.
//     So a flood of attempts at unknown or other accounts delays an owner
//     by one hash at most, however many slots and queue places it holds.
//   - Shares. Every place (a slot, or a wait in the queue) is held on
//     behalf of the client's networks (Ticket.Shares, such as its IPv6 /48
//     and /32), and a network holds at most Share.Max places of a lane at
//     once: one network cannot fill the queue that everyone else waits
//     in. In the priority lane an account holds at most one place; an
//     attempt beyond a priority share waits in the normal lane instead.
type Gate struct {
	n     int
	queue int
	wait  time.Duration

	mu     sync.Mutex
	busy   int
	hi, lo *list.List // of *waiter
	held   map[string]int

	inUse atomic.Int64
	peak  atomic.Int64
	runs  atomic.Int64
	hiRun atomic.Int64
}

// Share is one key an attempt holds its place on behalf of (a network),
// and the most places that key may hold at once in a lane.
type Share struct {
	Key string
	Max int
}

// Ticket says in which lane and on whose behalf an attempt waits. The
// zero Ticket is the normal lane with no shares (work of authenticated
// callers, such as setting a password).
type Ticket struct {
	// Priority: a known-good (account, address) pair.
	Priority bool
	// Account is the account tried; with Priority it holds at most one
	// place of the priority lane.
	Account string
	// Shares are the client's networks.
	Shares []Share
}

type waiter struct {
	ready   chan struct{}
	granted bool
	lane    *list.List
	el      *list.Element
}

// NewGate returns a Gate of n slots (minimum 1), a queue of queue waiters
// per lane and a wait of at most wait.
func NewGate(n, queue int, wait time.Duration) *Gate {
	if n < 1 {
		n = 1
	}
	return &Gate{n: n, queue: queue, wait: wait, hi: list.New(), lo: list.New(), held: map[string]int{}}
}

// DefaultGate: max(2, GOMAXPROCS) slots, a queue of 32 per lane, two
// seconds' wait.
func DefaultGate() *Gate { return NewGate(max(2, runtime.GOMAXPROCS(0)), 32, 2*time.Second) }

// Do runs fn in a slot of the normal lane, or returns ErrBusy (or the
// context's error).
func (g *Gate) Do(ctx context.Context, fn func()) error { return g.Enter(ctx, Ticket{}, fn) }

// keys are the held-map keys of a ticket in a lane ("h" or "l").
func keys(lane string, t Ticket) []Share {
	ks := make([]Share, 0, len(t.Shares)+1)
	if lane == "h" {
		ks = append(ks, Share{Key: "h\x00acct\x00" + keyOf(t.Account), Max: 1})
	}
	for _, s := range t.Shares {
		ks = append(ks, Share{Key: lane + "\x00" + s.Key, Max: s.Max})
	}
	return ks
}

// fits reports whether every key has room; the caller holds g.mu.
func (g *Gate) fits(ks []Share) bool {
	for _, k := range ks {
		if k.Max > 0 && g.held[k.Key] >= k.Max {
			return false
		}
	}
	return true
}

func (g *Gate) take(ks []Share) {
	for _, k := range ks {
		g.held[k.Key]++
	}
}

func (g *Gate) release(ks []Share) {
	for _, k := range ks {
		if g.held[k.Key] <= 1 {
			delete(g.held, k.Key)
		} else {
			g.held[k.Key]--
		}
	}
}

// Enter runs fn in a slot, waiting in the lane and on behalf of the
// networks t names, or returns ErrBusy (or the context's error).
func (g *Gate) Enter(ctx context.Context, t Ticket, fn func()) error {
	g.mu.Lock()
	lane, ks := g.lo, keys("l", t)
	if t.Priority {
		if hk := keys("h", t); g.fits(hk) {
			lane, ks = g.hi, hk
		}
	}
	if !g.fits(ks) {
		g.mu.Unlock()
		return ErrBusy
	}
	if g.busy < g.n {
		g.busy++
		g.take(ks)
		g.mu.Unlock()
	} else {
		if lane.Len() >= g.queue {
			g.mu.Unlock()
			return ErrBusy
		}
		g.take(ks)
		w := &waiter{ready: make(chan struct{}), lane: lane}
		w.el = lane.PushBack(w)
		g.mu.Unlock()
		t := time.NewTimer(g.wait)
		var err error
		select {
		case <-w.ready:
		case <-t.C:
			err = ErrBusy
		case <-ctx.Done():
			err = ctx.Err()
		}
		t.Stop()
		if err != nil {
			g.mu.Lock()
			if w.granted {
				// The slot came as the wait ran out: pass it on.
				g.next()
			} else {
				lane.Remove(w.el)
			}
			g.release(ks)
			g.mu.Unlock()
			return err
		}
	}
	g.runs.Add(1)
	if lane == g.hi {
		g.hiRun.Add(1)
	}
	n := g.inUse.Add(1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	defer func() {
		g.inUse.Add(-1)
		g.mu.Lock()
		g.release(ks)
		g.next()
		g.mu.Unlock()
	}()
	fn()
	return nil
}

// Room reports whether Enter would give t a place now (a slot, or a wait
// in its lane's queue). Callers use it to refuse a flood before any other
// work, such as a database lookup; Enter still decides.
func (g *Gate) Room(t Ticket) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	lane, ks := g.lo, keys("l", t)
	if t.Priority {
		if hk := keys("h", t); g.fits(hk) {
			lane, ks = g.hi, hk
		}
	}
	return g.fits(ks) && (g.busy < g.n || lane.Len() < g.queue)
}

// next gives a freed slot to the first waiter of the priority lane, else
// of the normal lane, or frees it; the caller holds g.mu.
func (g *Gate) next() {
	for _, l := range []*list.List{g.hi, g.lo} {
		if el := l.Front(); el != nil {
			w := l.Remove(el).(*waiter)
			w.granted = true
			close(w.ready)
			return
		}
	}
	g.busy--
}

// Cap is the number of slots.
func (g *Gate) Cap() int { return g.n }

// Peak is the most slots ever in use at once (for tests).
func (g *Gate) Peak() int { return int(g.peak.Load()) }

// Runs is how many times Do ran its function (for tests: "refused before
// hashing" means Runs did not move).
func (g *Gate) Runs() int { return int(g.runs.Load()) }

// PriorityRuns is how many of Runs came through the priority lane.
func (g *Gate) PriorityRuns() int { return int(g.hiRun.Load()) }

// Held is how many keys hold places now (for tests: 0 when idle).
func (g *Gate) Held() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.held)
}
