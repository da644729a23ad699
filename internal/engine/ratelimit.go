package engine

import (
	"net/netip"
	"sync"
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
	key := rl.Key
	if key == "" {
		key = "ip"
	}
	// A full period's allowance may be used at once (plus Burst more);
	// after that requests are let through at the sustained rate.
	return &rateLimit{name: rl.Name, index: uint8(i), key: key, pathPrefix: rl.PathPrefix, interval: interval,
		tolerance: interval * int64(rl.Requests-1+rl.Burst), action: act}
}

// applies reports whether the request counts against this limit.
func (rl *rateLimit) applies(r *Request) bool {
	return rl.pathPrefix == "" || (len(r.Path) >= len(rl.pathPrefix) && r.Path[:len(rl.pathPrefix)] == rl.pathPrefix)
}

func (rl *rateLimit) keyAddr(ip netip.Addr) netip.Addr {
	if rl.key != "subnet" {
		return ip
	}
	bits := 64
	if ip.Is4() {
		bits = 24
	}
	p, _ := ip.Prefix(bits)
	return p.Addr()
}

// limiter keeps GCRA state (each key's theoretical arrival time) in memory,
// in shards so that concurrent decisions rarely wait on each other. State
// outlives policy recompiles: it is keyed by website and limit position.
type limiter struct {
	shards [64]limiterShard
}

type limiterShard struct {
	mu  sync.Mutex
	tat map[limitKey]int64
}

type limitKey struct {
	website int64
	limit   uint8
	addr    netip.Addr
}

func newLimiter() *limiter {
	l := &limiter{}
	for i := range l.shards {
		l.shards[i].tat = map[limitKey]int64{}
	}
	return l
}

// allow records one request for key at now and reports whether it is within
// the limit (GCRA: the request is allowed if the key's schedule, advanced by
// one interval, is not more than tolerance ahead of now).
func (l *limiter) allow(k limitKey, now, interval, tolerance int64) bool {
	h := uint64(k.website)*0x9E3779B97F4A7C15 ^ uint64(k.limit)
	a16 := k.addr.As16()
	for _, b := range a16[8:] {
		h = (h ^ uint64(b)) * 0x100000001b3
	}
	s := &l.shards[h%uint64(len(l.shards))]
	s.mu.Lock()
	tat, ok := s.tat[k]
	if !ok || tat < now {
		tat = now
	}
	next := tat + interval
	if next-now > tolerance+interval {
		s.mu.Unlock()
		return false
	}
	s.tat[k] = next
	s.mu.Unlock()
	return true
}

// sweep forgets keys whose schedule is in the past: they are back to a full
// allowance, which a missing entry also means.
func (l *limiter) sweep(now int64) int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		for k, tat := range s.tat {
			if tat < now {
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
