package webbotauth_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/palisadehq/palisade/internal/challenge"
	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/webbotauth"
	"github.com/palisadehq/palisade/internal/webbotauth/webbotauthtest"
)

// TestRedisReplayAcrossNodes: two nodes share a Redis replay cache; a
// signature used on one is refused on the other; the entry lives as long
// as the signature; with Redis down a node falls back to its own memory
// and says so once.
func TestRedisReplayAcrossNodes(t *testing.T) {
	c := storetest.RedisClient(t)
	prefix := storetest.RedisPrefix()
	clock := &testClock{t0}
	node := func(r challenge.SpentSet) *webbotauth.Verifier {
		v := webbotauth.New(webbotauth.Options{Now: clock.now, Replay: r})
		if err := v.AddDirectory("https://"+webbotauthtest.Agent, webbotauthtest.Directory()); err != nil {
			t.Fatal(err)
		}
		return v
	}
	a := node(challenge.NewRedisSpent(c, prefix))
	bnode := node(challenge.NewRedisSpent(c, prefix))
	s := webbotauthtest.Signature{Agent: webbotauthtest.Agent, Nonce: "shared", Created: clock.t, Expires: clock.t.Add(5 * time.Minute)}
	if id, err := a.Verify(signedRequest(s)); err != nil || id != webbotauthtest.Agent {
		t.Fatalf("node A: %q %v", id, err)
	}
	if _, err := bnode.Verify(signedRequest(s)); err == nil {
		t.Fatal("replay on node B verified")
	}
	keys, err := c.Keys(t.Context(), prefix+"*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys %v %v", keys, err)
	}
	ttl, err := c.TTL(t.Context(), keys[0]).Result()
	if err != nil || ttl <= 4*time.Minute || ttl > 5*time.Minute+webbotauth.DefaultSkew {
		t.Fatalf("replay entry TTL %v %v", ttl, err)
	}
	c.Del(t.Context(), keys...)

	var changes []bool
	down := challenge.NewRedisSpent(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 50 * time.Millisecond}), prefix)
	down.OnChange = func(up bool, err error) { changes = append(changes, up) }
	d := node(down)
	s.Nonce = "down"
	if _, err := d.Verify(signedRequest(s)); err != nil {
		t.Fatalf("Redis down: %v", err)
	}
	if _, err := d.Verify(signedRequest(s)); err == nil {
		t.Fatal("replay on the same node with Redis down verified")
	}
	if len(changes) != 1 || changes[0] || down.Shared() {
		t.Fatalf("Redis down reported %v, shared %v", changes, down.Shared())
	}
}
