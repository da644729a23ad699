package challenge

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func redisURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("PALISADE_TEST_REDIS_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PALISADE_TEST_REDIS_URL is not set; CI must test Redis (see .ci/run)")
		}
		t.Skip("Redis tests skipped: set PALISADE_TEST_REDIS_URL=redis://127.0.0.1:6379/0 to run them")
	}
	return u
}

// TestRedisSpentAcrossNodes: two issuers (two nodes) share one Redis spent
// set; a challenge solved on one cannot be replayed on the other.
func TestRedisSpentAcrossNodes(t *testing.T) {
	opt, err := redis.ParseURL(redisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "palisade-test:" + hex.EncodeToString(b) + ":"
	keys, _ := NewKeys(NewKey())
	nodeA := NewIssuer(keys, NewRedisSpent(c, prefix), nil)
	nodeB := NewIssuer(keys, NewRedisSpent(c, prefix), nil)
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
	// Redis down: nothing can be proven unspent, so verification refuses.
	down := NewIssuer(keys, NewRedisSpent(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 50 * time.Millisecond}), prefix), nil)
	ch2 := down.Issue(client, 10)
	if _, err := down.Verify(client, ch2.Token, solve(t, ch2)); err != ErrUnavailable {
		t.Fatalf("Redis down: %v", err)
	}
}
