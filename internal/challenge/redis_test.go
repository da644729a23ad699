package challenge

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

// TestRedisSpentAcrossNodes: two issuers (two nodes) share one Redis spent
// set; a challenge solved on one cannot be replayed on the other.
func TestRedisSpentAcrossNodes(t *testing.T) {
	c := storetest.RedisClient(t)
	prefix := storetest.RedisPrefix()
	keys, _ := NewKeys(NewKey())
	clock := testclock.New(t)
	nodeA := NewIssuer(keys, NewRedisSpent(c, prefix), clock.Now)
	nodeB := NewIssuer(keys, NewRedisSpent(c, prefix), clock.Now)
	ch := nodeA.Issue(client, 10)
	counter := solve(t, ch)
	if _, err := nodeA.Verify(client, ch.Token, counter); err != nil {
		t.Fatal(err)
	}
	if _, err := nodeB.Verify(client, ch.Token, counter); err != ErrReplayed {
		t.Fatalf("replay on another node: %v", err)
	}
	if next := nodeB.Issue(client, 10); next.Token == ch.Token {
		t.Fatal("another node issued the solved challenge again")
	}
	ttl, err := c.TTL(t.Context(), prefix+ch.Nonce).Result()
	if err != nil || ttl <= 0 || ttl > ChallengeTTL*3 {
		t.Fatalf("spent entry TTL %v %v", ttl, err)
	}
	// Redis down: the node falls back to its own memory, says so once, and
	// still refuses a replay on this node.
	var changes []bool
	downSet := NewRedisSpent(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 50 * time.Millisecond}), prefix)
	downSet.OnChange = func(up bool, err error) { changes = append(changes, up) }
	down := NewIssuer(keys, downSet, clock.Now)
	ch2 := down.Issue(client, 10)
	c2 := solve(t, ch2)
	if _, err := down.Verify(client, ch2.Token, c2); err != nil {
		t.Fatalf("Redis down: %v", err)
	}
	if _, err := down.Verify(client, ch2.Token, c2); err != ErrReplayed {
		t.Fatalf("replay on the same node with Redis down: %v", err)
	}
	if len(changes) != 1 || changes[0] || downSet.Shared() {
		t.Fatalf("Redis down reported %v times, shared %v", changes, downSet.Shared())
	}
}
