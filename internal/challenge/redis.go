package challenge

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisSpent is a SpentSet in Redis, shared by every node, so a challenge
// solved on one node cannot be replayed on another. Each check is one round
// trip with a short timeout; if Redis cannot be reached, Spend fails (a
// challenge cannot be proven unspent) and the visitor is asked to retry.
type RedisSpent struct {
	c       redis.UniversalClient
	prefix  string
	timeout time.Duration
}

// NewRedisSpent returns a spent set using c; keys start with prefix.
func NewRedisSpent(c redis.UniversalClient, prefix string) *RedisSpent {
	if prefix == "" {
		prefix = "palisade:spent:"
	}
	return &RedisSpent{c: c, prefix: prefix, timeout: 300 * time.Millisecond}
}

// Spend implements SpentSet with SET NX EX.
func (s *RedisSpent) Spend(nonce string, ttl time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	if ttl < time.Second {
		ttl = time.Second
	}
	return s.c.SetNX(ctx, s.prefix+nonce, 1, ttl).Result()
}

// Spent implements SpentSet. On a Redis error it answers false: issuing a
// challenge that may be spent only costs the visitor a second try.
func (s *RedisSpent) Spent(nonce string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	n, err := s.c.Exists(ctx, s.prefix+nonce).Result()
	return err == nil && n > 0
}
