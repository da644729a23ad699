package webbotauth

import (
	"fmt"
	"testing"
	"time"
)

// A Signature-Agent costs the client nothing (any name under a domain of
// its own, or one that does not even resolve), and each failed fetch was
// cached as an entry like a working directory: 60 failures a minute pushed
// every agent's fetched keys out of the cache in about an hour of a 4,096
// cap, and those agents counted as unsigned until refetched. A failure is
// only a note not to retry soon; when the cache is full, failures go
// first.
func TestRedteam18FailuresDoNotEvictKeys(t *testing.T) {
	now := time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC)
	c := newDirCache(3)
	c.done("https://agent.example", keySet{}, time.Hour, now)
	for i := range 10 {
		origin := fmt.Sprintf("https://x%d.attacker.example", i)
		if keys, fetch := c.lookup(origin, now, true); keys != nil || !fetch {
			t.Fatalf("%s: a fetch should start", origin)
		}
		c.done(origin, nil, 0, now)
		if c.len() > 3 {
			t.Fatalf("%d cached over a cap of 3", c.len())
		}
	}
	if keys, _ := c.lookup("https://agent.example", now, false); keys == nil {
		t.Fatal("failed fetches of made-up agents pushed a working directory out of the cache")
	}
	// Full of working directories, the least recently used goes.
	for i := range 3 {
		c.done(fmt.Sprintf("https://ok%d.example", i), keySet{}, time.Hour, now)
	}
	if keys, _ := c.lookup("https://agent.example", now, false); keys != nil || c.len() != 3 {
		t.Fatalf("least recently used working directory kept (%d cached)", c.len())
	}
}
