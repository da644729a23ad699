// Package ratelimit shares the decision engine's GCRA rate limits across
// the nodes of a fleet through Redis (or Valkey). The engine decides from
// its own in-memory state and never waits for Redis; a Syncer adds what
// each node admitted to the shared schedule every few tens of
// milliseconds, in one pipelined round trip, and brings back the fleet's
// schedule. When Redis does not answer, limits stay per node, a line is
// logged once, and sharing resumes by itself.
package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/palisadehq/palisade/internal/engine"
)

// gcra adds ARGV[2] requests to the schedule in KEYS[1] and returns it.
// Times are microseconds (Lua numbers are doubles: nanoseconds since 1970
// would lose precision). The key expires when its schedule is in the past.
var gcra = redis.NewScript(`
local now = tonumber(ARGV[1])
local tat = now
local v = redis.call('GET', KEYS[1])
if v then tat = math.max(tonumber(v), now) end
tat = tat + tonumber(ARGV[2]) * tonumber(ARGV[3])
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.floor((tat - now) / 1000) + 1000)
return tat
`)

// Redis is an engine.SharedLimits in Redis.
type Redis struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedis returns shared limits in c under keys starting with prefix
// (default "palisade:rl:").
func NewRedis(c redis.UniversalClient, prefix string) *Redis {
	if prefix == "" {
		prefix = "palisade:rl:"
	}
	return &Redis{c: c, prefix: prefix}
}

// Add implements engine.SharedLimits: one pipeline, one script call per key.
func (r *Redis) Add(ctx context.Context, now int64, counts []engine.LimitCount) ([]int64, error) {
	nowUS := now / 1000
	run := func() ([]redis.Cmder, error) {
		return r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, c := range counts {
				gcra.EvalSha(ctx, p, []string{r.prefix + c.Key}, nowUS, c.Count, c.Interval/1000)
			}
			return nil
		})
	}
	cmds, err := run()
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		if err = gcra.Load(ctx, r.c).Err(); err == nil {
			cmds, err = run()
		}
	}
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(cmds))
	for i, c := range cmds {
		v, err := c.(*redis.Cmd).Int64()
		if err != nil {
			return nil, err
		}
		out[i] = v * 1000
	}
	return out, nil
}

// Ping checks Redis answers.
func (r *Redis) Ping(ctx context.Context) error { return r.c.Ping(ctx).Err() }

// Syncer runs the engine's limit sync and watches Redis's health.
type Syncer struct {
	eng    *engine.Engine
	shared engine.SharedLimits
	log    *slog.Logger
	every  time.Duration
	ok     atomic.Bool
	fails  atomic.Uint64
	synced atomic.Uint64
}

// NewSyncer shares eng's limits through shared every interval (default 50ms).
func NewSyncer(eng *engine.Engine, shared engine.SharedLimits, every time.Duration, log *slog.Logger) *Syncer {
	if every <= 0 {
		every = 50 * time.Millisecond
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Syncer{eng: eng, shared: shared, log: log, every: every}
	s.ok.Store(true)
	return s
}

// Shared reports whether the last sync reached Redis (limits are shared).
func (s *Syncer) Shared() bool { return s.ok.Load() }

// Failures counts syncs that did not reach Redis.
func (s *Syncer) Failures() uint64 { return s.fails.Load() }

// Synced counts keys synced.
func (s *Syncer) Synced() uint64 { return s.synced.Load() }

// Run syncs until ctx ends. After a failure it waits a second before trying
// again, so a dead Redis costs one timeout a second, not one per interval.
func (s *Syncer) Run(ctx context.Context) {
	s.eng.ShareLimits(true)
	defer s.eng.ShareLimits(false)
	t := time.NewTicker(s.every)
	defer t.Stop()
	var retryAt time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if time.Now().Before(retryAt) {
			continue
		}
		s.Sync(ctx)
		if !s.ok.Load() {
			retryAt = time.Now().Add(time.Second)
		}
	}
}

// Sync runs one sync now and reports its error (nil when nothing was due).
func (s *Syncer) Sync(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
	n, err := s.eng.SyncLimits(sctx, s.shared)
	cancel()
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return err
		}
		s.fails.Add(1)
		if s.ok.Swap(false) {
			s.log.Warn("Redis does not answer: rate limits are per node until it does", "err", err)
		}
		return err
	}
	s.synced.Add(uint64(n))
	if n == 0 && !s.ok.Load() {
		// No traffic to prove Redis is back: ask it.
		p, ok := s.shared.(interface{ Ping(context.Context) error })
		if !ok {
			return nil
		}
		pctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
		defer cancel()
		if err := p.Ping(pctx); err != nil {
			return err
		}
	}
	if !s.ok.Swap(true) {
		s.log.Info("Redis answers again: rate limits are shared across nodes")
	}
	return nil
}
