package ratelimit

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/faultnet"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

func redisOptions(tb testing.TB) *redis.Options {
	tb.Helper()
	opt, err := redis.ParseURL(storetest.RedisURL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return opt
}

func prefix() string { return storetest.RedisPrefix() }

// node is one engine of a test fleet with a limit of 10 requests a minute
// per client address.
type node struct {
	eng *engine.Engine
	pol *engine.Policy
}

func newNode(t testing.TB) node { return newNodeLimit(t, 10) }

// newNodeLimit is a node whose limit is requests a minute per address.
func newNodeLimit(t testing.TB, requests int) node {
	t.Helper()
	sigs, err := engine.LoadSignatures()
	if err != nil {
		t.Fatal(err)
	}
	e := engine.New(engine.NewClassifier(sigs, nil, nil), nil)
	st := engine.Settings{RateLimits: []engine.RateLimit{{Name: "per minute", Requests: requests, Period: "1m", Action: "deny"}}}
	if errs := e.Load([]engine.Site{{ID: 1, PartnerID: 1, Domain: "shop.example.com", Status: "online", ServerKeyHash: strings.Repeat("ab", 32), Settings: st}}, nil); len(errs) > 0 {
		t.Fatal(errs[0].Err)
	}
	e.ShareLimits(true)
	return node{eng: e, pol: e.ByDomain("shop.example.com")}
}

func (n node) decide(ip string) engine.Action {
	h := http.Header{"Accept": {"text/html"}, "Accept-Language": {"en"}, "Accept-Encoding": {"gzip"}}
	r := &engine.Request{IP: netip.MustParseAddr(ip), Method: "GET", Host: "shop.example.com", Path: "/", Proto: "HTTP/1.1", Header: h,
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"}
	return n.eng.Decide(n.pol, r).Action
}

// admit sends up to max requests and returns how many were granted before
// the first denial.
func (n node) admit(ip string, max int) int {
	for i := 0; i < max; i++ {
		if n.decide(ip) != engine.Grant {
			return i
		}
	}
	return max
}

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// TestSharedAcrossNodes: a client that used its allowance on node A is
// limited on node B after one sync, and the fleet as a whole admits no more
// than the limit plus what one node admits before its first sync.
func TestSharedAcrossNodes(t *testing.T) {
	c := redis.NewClient(redisOptions(t))
	defer c.Close()
	shared := NewRedis(c, prefix())
	a, b := newNode(t), newNode(t)
	sa, sb := NewSyncer(a.eng, shared, 0, nil), NewSyncer(b.eng, shared, 0, nil)
	ctx := context.Background()
	if got := a.admit("198.51.100.7", 10); got != 10 {
		t.Fatalf("node A admitted %d of its 10", got)
	}
	if err := sa.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// B has never seen the client: it admits one request on its own
	// allowance, learns the fleet's schedule at its sync, then denies.
	if b.decide("198.51.100.7") != engine.Grant {
		t.Fatal("B denied a client it had never seen before any sync")
	}
	if err := sb.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := b.admit("198.51.100.7", 10); got != 0 {
		t.Fatalf("after sync node B admitted %d more", got)
	}
	// Another client is untouched, and A learns of B's request too.
	if got := b.admit("198.51.100.8", 3); got != 3 {
		t.Fatalf("other client: %d", got)
	}
	if got := a.admit("198.51.100.7", 1); got != 0 {
		t.Fatal("A admitted after using the whole allowance")
	}
	if n := sa.Synced() + sb.Synced(); n < 2 {
		t.Fatalf("synced %d keys", n)
	}
}

// TestRedisDown: with Redis cut off, limits keep working per node, the
// outage is logged once, and sharing resumes by itself when Redis is back.
func TestRedisDown(t *testing.T) {
	opt := redisOptions(t)
	px := faultnet.New(t, opt.Addr)
	opt.Addr, opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = px.Addr(), 200*time.Millisecond, 200*time.Millisecond, 200*time.Millisecond
	opt.MaxRetries = -1
	c := redis.NewClient(opt)
	defer c.Close()
	var logs logBuf
	a := newNode(t)
	s := NewSyncer(a.eng, NewRedis(c, prefix()), 0, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx := context.Background()
	a.admit("198.51.100.20", 2)
	if err := s.Sync(ctx); err != nil || !s.Shared() {
		t.Fatalf("first sync: %v", err)
	}
	px.Cut()
	for i := 0; i < 3; i++ {
		a.decide("198.51.100.21")
		if err := s.Sync(ctx); err == nil {
			t.Fatal("a sync through a cut connection succeeded")
		}
	}
	if s.Shared() || s.Failures() != 3 {
		t.Fatalf("shared %v after %d failures", s.Shared(), s.Failures())
	}
	if n := logs.count("Redis does not answer"); n != 1 {
		t.Fatalf("outage logged %d times:\n%s", n, logs.b.String())
	}
	// Per-node limits still hold: 10 a minute for a new client.
	if got := a.admit("198.51.100.22", 20); got != 10 {
		t.Fatalf("per-node limit admitted %d", got)
	}
	px.Restore()
	// Recovery without traffic (a ping), then with traffic.
	if err := s.Sync(ctx); err != nil || !s.Shared() {
		t.Fatalf("after restore: %v shared %v", err, s.Shared())
	}
	a.decide("198.51.100.23")
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := logs.count("Redis answers again"); n != 1 {
		t.Fatalf("recovery logged %d times:\n%s", n, logs.b.String())
	}
}

// BenchmarkSync measures one sync of 100 busy keys (one pipelined round
// trip to Redis).
func BenchmarkSync(b *testing.B) {
	c := redis.NewClient(redisOptions(b))
	defer c.Close()
	n := newNodeLimit(b, 1_000_000)
	s := NewSyncer(n.eng, NewRedis(c, prefix()), 0, nil)
	ips := make([]string, 100)
	for i := range ips {
		ips[i] = netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}).String()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, ip := range ips {
			n.decide(ip)
		}
		if err := s.Sync(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecideShared: decisions on both cores over 1,024 client
// addresses with a rate limit, limits kept per node ("local") and shared
// with the syncer running against Redis every 50 ms ("shared").
func BenchmarkDecideShared(b *testing.B) {
	c := redis.NewClient(redisOptions(b))
	defer c.Close()
	for _, shared := range []bool{false, true} {
		name := "local"
		if shared {
			name = "shared"
		}
		b.Run(name, func(b *testing.B) {
			n := newNodeLimit(b, 1_000_000)
			n.eng.ShareLimits(false)
			if shared {
				s := NewSyncer(n.eng, NewRedis(c, prefix()), 0, slog.New(slog.DiscardHandler))
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { s.Run(ctx); close(done) }()
				defer func() { cancel(); <-done }()
				for !n.eng.SharingLimits() {
					time.Sleep(time.Millisecond)
				}
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				h := http.Header{"Accept": {"text/html"}, "Accept-Language": {"en"}, "Accept-Encoding": {"gzip"}}
				r := &engine.Request{Method: "GET", Host: "shop.example.com", Path: "/", Proto: "HTTP/1.1", Header: h,
					UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"}
				i := 0
				for pb.Next() {
					i++
					r.IP = netip.AddrFrom4([4]byte{198, 51, byte(i >> 8 & 3), byte(i)})
					n.eng.Decide(n.pol, r)
				}
			})
		})
	}
}
