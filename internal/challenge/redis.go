package challenge

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisSpent is a SpentSet in Redis, shared by every node, so a challenge
// solved on one node cannot be replayed on another. Each check is one round
// trip with a short timeout. If Redis cannot be reached, the set falls back
// to this node's memory (a replay is then refused on this node only), tries
// Redis again a second later, and reports each change through OnChange.
type RedisSpent struct {
	c       redis.UniversalClient
	prefix  string
	timeout time.Duration
	local   *MemorySpent
	retryAt atomic.Int64 // unix nanoseconds; Redis is skipped before it
	down    atomic.Bool
	// OnChange hears when Redis stops (up false, with the error) and starts
	// answering again; nil: nothing.
	OnChange func(up bool, err error)
}

// NewRedisSpent returns a spent set using c; keys start with prefix.
func NewRedisSpent(c redis.UniversalClient, prefix string) *RedisSpent {
	if prefix == "" {
		prefix = "palisade:spent:"
	}
	return &RedisSpent{c: c, prefix: prefix, timeout: 300 * time.Millisecond, local: NewMemorySpent(nil)}
}

// Shared reports whether the set is in Redis now (false: per node).
func (s *RedisSpent) Shared() bool { return !s.down.Load() }

func (s *RedisSpent) failed(err error) {
	s.retryAt.Store(time.Now().Add(time.Second).UnixNano())
	if !s.down.Swap(true) && s.OnChange != nil {
		s.OnChange(false, err)
	}
}

func (s *RedisSpent) answered() {
	if s.down.Swap(false) && s.OnChange != nil {
		s.OnChange(true, nil)
	}
}

func (s *RedisSpent) skip() bool { return time.Now().UnixNano() < s.retryAt.Load() }

// Spend implements SpentSet with SET NX EX. Nonces are also kept in this
// node's memory, so one spent here while Redis was down stays spent here.
func (s *RedisSpent) Spend(nonce string, ttl time.Duration) (bool, error) {
	fresh, _ := s.local.Spend(nonce, ttl)
	if s.skip() {
		return fresh, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	if ttl < time.Second {
		ttl = time.Second
	}
	ok, err := s.c.SetNX(ctx, s.prefix+nonce, 1, ttl).Result()
	if err != nil {
		s.failed(err)
		return fresh, nil
	}
	s.answered()
	return ok && fresh, nil
}

// Spent implements SpentSet. On a Redis error it answers from this node's
// memory: issuing a challenge that may be spent only costs the visitor a
// second try.
func (s *RedisSpent) Spent(nonce string) bool {
	if s.local.Spent(nonce) || s.skip() {
		return s.local.Spent(nonce)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	n, err := s.c.Exists(ctx, s.prefix+nonce).Result()
	if err != nil {
		s.failed(err)
		return false
	}
	s.answered()
	return n > 0
}
