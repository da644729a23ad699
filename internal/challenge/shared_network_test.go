package challenge

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

// TestSharedNetworkNeverLockedOut: 200 visitors behind one office or carrier
// NAT (one /24, the same browser) each load a challenge, all within one
// five-minute window, and each solve earns a clearance; a replayed
// solution is still refused. The spent set used to be filled per (network,
// user agent, window): the 17th visitor was told "already solved". Run
// with the in-memory and the Redis spent set.
func TestSharedNetworkNeverLockedOut(t *testing.T) {
	sets := map[string]func(t *testing.T, now func() time.Time) SpentSet{
		"memory": func(t *testing.T, now func() time.Time) SpentSet { return NewMemorySpent(now) },
		"redis": func(t *testing.T, now func() time.Time) SpentSet {
			opt, err := redis.ParseURL(storetest.RedisURL(t))
			if err != nil {
				t.Fatal(err)
			}
			c := redis.NewClient(opt)
			t.Cleanup(func() { c.Close() })
			b := make([]byte, 6)
			rand.Read(b)
			return NewRedisSpent(c, "palisade-test:"+hex.EncodeToString(b)+":")
		},
	}
	for name, newSet := range sets {
		t.Run(name, func(t *testing.T) {
			keys, _ := NewKeys(NewKey())
			clk := &clock{t: testclock.Now(t)}
			is := NewIssuer(keys, newSet(t, clk.now), clk.now)
			const ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0"
			type visit struct {
				c  Client
				ch Challenge
			}
			visits := make([]visit, 200)
			// All pages load first (concurrent visitors), then all solve.
			for i := range visits {
				c := Client{Website: 7, IP: netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), UserAgent: ua}
				visits[i] = visit{c, is.Issue(c, 8)}
				clk.t = clk.t.Add(time.Second)
			}
			seen := map[string]bool{}
			for i, v := range visits {
				if seen[v.ch.Nonce] {
					t.Fatalf("visitor %d got a challenge another visitor holds", i)
				}
				seen[v.ch.Nonce] = true
				counter := solve(t, v.ch)
				if _, err := is.Verify(v.c, v.ch.Token, counter); err != nil {
					t.Fatalf("visitor %d of one /24 was refused: %v", i, err)
				}
				if c := is.Clearance(v.c, time.Hour); !is.Valid(v.c, c) {
					t.Fatalf("visitor %d: clearance not valid", i)
				}
				if _, err := is.Verify(v.c, v.ch.Token, counter); err != ErrReplayed {
					t.Fatalf("visitor %d: replayed solution: %v", i, err)
				}
				// Another visitor of the network replaying it is refused too.
				if _, err := is.Verify(visits[(i+1)%len(visits)].c, v.ch.Token, counter); err != ErrReplayed {
					t.Fatalf("visitor %d: solution replayed by a neighbour: %v", i, err)
				}
			}
			// The same visitor solving again (a second tab) also passes.
			again := is.Issue(visits[0].c, 8)
			if _, err := is.Verify(visits[0].c, again.Token, solve(t, again)); err != nil {
				t.Fatalf("second solve of one visitor: %v", err)
			}
		})
	}
}

// TestMemorySpentBounded: the in-memory spent set never holds more than
// its cap, keeps refusing replays of what it holds, forgets expired
// entries, and never refuses a fresh nonce because it is full.
func TestMemorySpentBounded(t *testing.T) {
	clk := &clock{t: testclock.Now(t)}
	s := NewMemorySpentCap(clk.now, 1000)
	for i := range 100_000 {
		if fresh, err := s.Spend(fmt.Sprint("n", i), 10*time.Minute); !fresh || err != nil {
			t.Fatalf("fresh nonce %d refused: %v %v", i, fresh, err)
		}
		if n := s.Len(); n > 1000 {
			t.Fatalf("%d entries past a cap of 1000", n)
		}
	}
	if fresh, _ := s.Spend("n99999", 10*time.Minute); fresh {
		t.Fatal("a recent nonce was spent twice")
	}
	if len(s.q) > 2*1000+1024 {
		t.Fatalf("queue holds %d entries", len(s.q))
	}
	clk.t = clk.t.Add(11 * time.Minute)
	if fresh, _ := s.Spend("late", time.Minute); !fresh || s.Len() != 1 {
		t.Fatalf("expired entries kept: %d", s.Len())
	}
	if s.Spent("n99999") {
		t.Fatal("an expired nonce still counts as spent")
	}
}
