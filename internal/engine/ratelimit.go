package engine

import (
	"context"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// rateLimit is a compiled RateLimit.
type rateLimit struct {
	name       string
	index      uint8
	key        string
	pathPrefix string
	interval   int64 // nanoseconds between requests at the sustained rate
	tolerance  int64 // how far ahead of schedule a key may run (burst)
	action     Action
}

func compileRateLimit(i int, rl RateLimit) *rateLimit {
	period, _ := time.ParseDuration(rl.Period)
	interval := int64(period) / int64(rl.Requests)
	act := Challenge
	if a, ok := ParseAction(rl.Action); ok {
		act = a
	}
	prefix := rl.PathPrefix
	if prefix != "" {
		prefix = CanonicalPath(prefix) // compared with the canonical path
	}
	key := rl.Key
	if key == "" {
		key = "ip"
	}
	// A full period's allowance may be used at once (plus Burst more);
	// after that requests are let through at the sustained rate.
	return &rateLimit{name: rl.Name, index: uint8(i), key: key, pathPrefix: prefix, interval: interval,
		tolerance: interval * int64(rl.Requests-1+rl.Burst), action: act}
}

// applies reports whether the request counts against this limit.
func (rl *rateLimit) applies(r *Request) bool {
	if rl.pathPrefix == "" {
		return true
	}
	p := r.CanonicalPath()
	return len(p) >= len(rl.pathPrefix) && p[:len(rl.pathPrefix)] == rl.pathPrefix
}

// keyAddr is the address a limit counts ip under: for IPv6 always its /64
// (one client is given a whole /64, so counting single addresses would let
// it rotate past any limit); for IPv4 the address, or its /24 with the key
// "subnet".
func (rl *rateLimit) keyAddr(ip netip.Addr) netip.Addr {
	bits := 64
	switch {
	case ip.Is4() && rl.key != "subnet":
		return ip
	case ip.Is4():
		bits = 24
	}
	p, _ := ip.Prefix(bits)
	return p.Addr()
}

// limiter keeps GCRA state (each key's theoretical arrival time) in memory,
// in shards so that concurrent decisions rarely wait on each other. State
// outlives policy recompiles: it is keyed by website and limit position.
//
// When shared (a fleet with Redis), decisions still never wait for the
// network: each shard also notes how many requests each key admitted since
// the last sync, and Sync (every 50 ms or so) adds those counts to the
// shared state in one round trip and moves each key's schedule to the
// fleet's. A key is then limited fleet-wide to within what the nodes admit
// in one sync interval.
//
// The state is bounded: each shard holds at most perShard keys. A new key
// that finds its shard full evicts one of a few sampled keys: an idle one
// (schedule in the past, which a missing entry also means) if there is
// one, else the one closest to a full allowance. So a flood of one-request
// keys from many addresses pushes out other one-request keys before a key
// that is running against its limit, and a limit keeps applying to every
// key it holds; a key that was evicted starts again with a full allowance,
// as a new client does.
type limiter struct {
	shards   [64]limiterShard
	shared   atomic.Bool
	perShard atomic.Int64
}

// DefaultLimitCap is how many rate-limit keys (website, limit, client) an
// engine holds at most: about 100 bytes each, some 50 MB at the cap.
const DefaultLimitCap = 1 << 19

type limiterShard struct {
	mu    sync.Mutex
	tat   map[limitKey]*limitState
	dirty []limitKey // keys with pending > 0 (shared mode)
}

type limitState struct {
	tat       int64 // theoretical arrival time, unix nanoseconds
	pending   int64 // requests admitted since the last sync
	interval  int64
	tolerance int64
}

type limitKey struct {
	website int64
	limit   uint8
	addr    netip.Addr
}

func newLimiter() *limiter {
	l := &limiter{}
	for i := range l.shards {
		l.shards[i].tat = map[limitKey]*limitState{}
	}
	l.setCap(DefaultLimitCap)
	return l
}

func (l *limiter) setCap(n int) { l.perShard.Store(int64(max(1, n/len(l.shards)))) }

// evict makes room for one key in a full shard (s.mu held); see limiter.
func (s *limiterShard) evict(now int64) {
	const sample = 16
	var victim limitKey
	var victimTAT int64
	found, seen := false, 0
	for k, st := range s.tat {
		if st.tat <= now && st.pending == 0 {
			delete(s.tat, k)
			return
		}
		if !found || st.tat < victimTAT {
			victim, victimTAT, found = k, st.tat, true
		}
		if seen++; seen == sample {
			break
		}
	}
	if found {
		delete(s.tat, victim)
	}
}

func (l *limiter) shard(k limitKey) *limiterShard {
	h := uint64(k.website)*0x9E3779B97F4A7C15 ^ uint64(k.limit)
	a16 := k.addr.As16() // all of it: an IPv6 key is a /64, zero in its low half
	for _, b := range a16 {
		h = (h ^ uint64(b)) * 0x100000001b3
	}
	return &l.shards[h%uint64(len(l.shards))]
}

// allow records one request for key at now and reports whether it is within
// the limit (GCRA: the request is allowed if the key's schedule, advanced by
// one interval, is not more than tolerance ahead of now).
func (l *limiter) allow(k limitKey, now, interval, tolerance int64) bool {
	s := l.shard(k)
	s.mu.Lock()
	st := s.tat[k]
	if st == nil {
		if int64(len(s.tat)) >= l.perShard.Load() {
			s.evict(now)
		}
		st = &limitState{tat: now}
		s.tat[k] = st
	}
	tat := max(st.tat, now)
	next := tat + interval
	if next-now > tolerance+interval {
		s.mu.Unlock()
		return false
	}
	st.tat = next
	if l.shared.Load() {
		if st.pending == 0 {
			s.dirty = append(s.dirty, k)
		}
		st.pending++
		st.interval, st.tolerance = interval, tolerance
	}
	s.mu.Unlock()
	return true
}

// sweep forgets keys whose schedule is in the past and that have nothing
// to sync: they are back to a full allowance, which a missing entry also
// means.
func (l *limiter) sweep(now int64) int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		for k, st := range s.tat {
			if st.tat < now && st.pending == 0 {
				delete(s.tat, k)
				n++
			}
		}
		s.mu.Unlock()
	}
	return n
}

func (l *limiter) size() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.tat)
		s.mu.Unlock()
	}
	return n
}

// SetLimitCap bounds the rate-limit state to about n keys (website, limit,
// client); DefaultLimitCap unless set. See the limiter for what happens at
// the cap.
func (e *Engine) SetLimitCap(n int) { e.limiter.setCap(n) }

// LimitEntries returns how many rate-limit keys the engine holds.
func (e *Engine) LimitEntries() int { return e.limiter.size() }

// LimitCount is one key's traffic since the last sync, for SharedLimits.
type LimitCount struct {
	Key       string // "website:limit:address"
	Count     int64  // requests this node admitted
	Interval  int64  // nanoseconds between requests at the sustained rate
	Tolerance int64  // nanoseconds a key may run ahead (burst)
}

// SharedLimits keeps rate-limit state every node of a fleet shares
// (ratelimit.Redis). Add adds each key's count to the shared schedule and
// returns each key's shared theoretical arrival time (unix nanoseconds),
// in order.
type SharedLimits interface {
	Add(ctx context.Context, now int64, counts []LimitCount) ([]int64, error)
}

// ShareLimits makes the engine note admitted requests for SyncLimits (on
// true) or keep limits to this node (false).
func (e *Engine) ShareLimits(on bool) { e.limiter.shared.Store(on) }

// SharingLimits reports whether ShareLimits is on.
func (e *Engine) SharingLimits() bool { return e.limiter.shared.Load() }

// SyncLimits sends the requests admitted since the last call to shared and
// moves each key's schedule to the fleet's. On an error the counts are
// dropped: while the shared state is unreachable limits are per node, and
// that traffic is not charged to the fleet afterwards.
func (e *Engine) SyncLimits(ctx context.Context, shared SharedLimits) (int, error) {
	type taken struct {
		k     limitKey
		count int64
	}
	var keys []taken
	var counts []LimitCount
	for i := range e.limiter.shards {
		s := &e.limiter.shards[i]
		s.mu.Lock()
		for _, k := range s.dirty {
			st := s.tat[k]
			if st == nil || st.pending == 0 {
				continue
			}
			keys = append(keys, taken{k, st.pending})
			counts = append(counts, LimitCount{Key: limitKeyString(k), Count: st.pending, Interval: st.interval, Tolerance: st.tolerance})
			st.pending = 0
		}
		s.dirty = s.dirty[:0]
		s.mu.Unlock()
	}
	if len(counts) == 0 {
		return 0, nil
	}
	tats, err := shared.Add(ctx, e.now().UnixNano(), counts)
	if err != nil {
		return 0, err
	}
	for i, t := range keys {
		if i >= len(tats) {
			break
		}
		s := e.limiter.shard(t.k)
		s.mu.Lock()
		if st := s.tat[t.k]; st != nil {
			// The shared schedule holds this node's synced requests; the
			// ones admitted since go on top of it.
			st.tat = max(st.tat, tats[i]+st.pending*counts[i].Interval)
		}
		s.mu.Unlock()
	}
	return len(counts), nil
}

func limitKeyString(k limitKey) string {
	return strconv.FormatInt(k.website, 10) + ":" + strconv.Itoa(int(k.limit)) + ":" + k.addr.String()
}
