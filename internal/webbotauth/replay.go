package webbotauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ReplayCache remembers the signatures already used, so each verifies once
// (RFC 9421 section 7.2.2). The key is the signature's nonce, or the
// signature itself when it has none, with its keyid.
type ReplayCache interface {
	// Use records key until exp and reports whether it was new. It must
	// be atomic across everything that shares the cache.
	Use(key string, exp time.Time) bool
}

// DefaultReplayCap bounds a MemoryReplay (about 60 bytes an entry).
const DefaultReplayCap = 1 << 18

// MemoryReplay is a ReplayCache for one node, bounded: an entry lives until
// its signature expires, and past the cap the oldest entry is forgotten
// early (its signature could then be used once more on this node, at most
// until it expires).
type MemoryReplay struct {
	mu   sync.Mutex
	m    map[[16]byte]int64 // key digest → expiry, unix nanoseconds
	q    []replayEntry      // in the order used; q[head:] live
	head int
	max  int
	now  func() time.Time
}

type replayEntry struct {
	key [16]byte
	exp int64
}

// NewMemoryReplay returns an empty cache of at most limit entries (0:
// DefaultReplayCap). now may be nil (time.Now).
func NewMemoryReplay(now func() time.Time, limit int) *MemoryReplay {
	if now == nil {
		now = time.Now
	}
	if limit <= 0 {
		limit = DefaultReplayCap
	}
	return &MemoryReplay{m: map[[16]byte]int64{}, max: limit, now: now}
}

// Len is the number of remembered signatures.
func (c *MemoryReplay) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

func (c *MemoryReplay) dropFront() {
	e := c.q[c.head]
	if exp, ok := c.m[e.key]; ok && exp == e.exp {
		delete(c.m, e.key)
	}
	c.q[c.head] = replayEntry{}
	c.head++
	if c.head == len(c.q) {
		c.q, c.head = c.q[:0], 0
	} else if c.head > 1024 && c.head > len(c.q)/2 {
		n := copy(c.q, c.q[c.head:])
		c.q, c.head = c.q[:n], 0
	}
}

// Use implements ReplayCache. Entries leave in the order they came: one
// whose signature expires later than those after it stays, at worst, until
// the cap pushes it out; the cap bounds memory either way.
func (c *MemoryReplay) Use(key string, exp time.Time) bool {
	k := [16]byte(digest(key))
	now := c.now().UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.head < len(c.q) && c.q[c.head].exp <= now {
		c.dropFront()
	}
	if e, ok := c.m[k]; ok && now < e {
		return false
	}
	for len(c.m) >= c.max && c.head < len(c.q) {
		c.dropFront()
	}
	c.m[k] = exp.UnixNano()
	c.q = append(c.q, replayEntry{k, exp.UnixNano()})
	return true
}

func digest(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:16]
}

// RedisReplay is a ReplayCache in Redis, shared by every node (SET NX with
// the signature's remaining lifetime). Each signature is also remembered in
// this node's memory; when Redis does not answer within the timeout the
// node decides from its memory alone (a replay on another node then goes
// unnoticed), tries Redis again a second later and reports the change
// through OnChange.
type RedisReplay struct {
	c       redis.UniversalClient
	prefix  string
	timeout time.Duration
	local   *MemoryReplay
	now     func() time.Time
	retryAt atomic.Int64
	down    atomic.Bool
	// OnChange hears when Redis stops answering (up false) and answers
	// again; nil: nothing.
	OnChange func(up bool, err error)
}

// NewRedisReplay returns a replay cache in c under prefix (default
// "palisade:wba:"); now may be nil (time.Now).
func NewRedisReplay(c redis.UniversalClient, prefix string, now func() time.Time) *RedisReplay {
	if prefix == "" {
		prefix = "palisade:wba:"
	}
	if now == nil {
		now = time.Now
	}
	return &RedisReplay{c: c, prefix: prefix, timeout: 200 * time.Millisecond, local: NewMemoryReplay(now, 0), now: now}
}

// Shared reports whether the cache is in Redis now (false: per node).
func (r *RedisReplay) Shared() bool { return !r.down.Load() }

// Use implements ReplayCache.
func (r *RedisReplay) Use(key string, exp time.Time) bool {
	if !r.local.Use(key, exp) {
		return false
	}
	if time.Now().UnixNano() < r.retryAt.Load() {
		return true
	}
	ttl := exp.Sub(r.now())
	if ttl < time.Second {
		ttl = time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	ok, err := r.c.SetNX(ctx, r.prefix+hex.EncodeToString(digest(key)), 1, ttl).Result()
	if err != nil {
		r.retryAt.Store(time.Now().Add(time.Second).UnixNano())
		if !r.down.Swap(true) && r.OnChange != nil {
			r.OnChange(false, err)
		}
		return true
	}
	if r.down.Swap(false) && r.OnChange != nil {
		r.OnChange(true, nil)
	}
	return ok
}
