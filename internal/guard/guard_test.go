package guard

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestLimiterCountCreatesNothing(t *testing.T) {
	l := NewLimiter(time.Minute, 10)
	for i := 0; i < 1000; i++ {
		if l.Count(strings.Repeat("x", i), t0) != 0 {
			t.Fatal("count of an unknown key")
		}
	}
	if l.Len() != 0 {
		t.Fatalf("checks created %d entries", l.Len())
	}
}

func TestLimiterBoundedAndExpiring(t *testing.T) {
	l := NewLimiter(time.Minute, 100)
	long := strings.Repeat("e", 15<<10)
	for i := 0; i < 10_000; i++ {
		l.Add(long+string(rune('a'+i%26))+strings.Repeat("z", i%7), t0)
		l.Add(strings.Repeat("k", i%50)+"-"+string(rune(i)), t0)
	}
	if n := l.Len(); n > 100 {
		t.Fatalf("%d entries, cap 100", n)
	}
	for k := range l.m {
		if len(k) > MaxKeyLen+1 {
			t.Fatalf("kept a key of %d bytes", len(k))
		}
	}
	l.Add("a", t0)
	l.Add("a", t0.Add(30*time.Second))
	if n := l.Count("a", t0.Add(59*time.Second)); n != 2 {
		t.Fatalf("count %d, want 2", n)
	}
	if n := l.Count("a", t0.Add(61*time.Second)); n != 0 {
		t.Fatalf("count after the window %d, want 0", n)
	}
	if _, ok := l.m["a"]; ok {
		t.Fatal("an expired entry was kept")
	}
}

func TestSignInPolicy(t *testing.T) {
	p := DefaultSignInPolicy(3)
	s := NewSignIn(p)
	owner := netip.MustParseAddr("192.0.2.1")
	attackers := []netip.Addr{netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("198.51.100.3")}
	s.Succeeded("acct", owner, t0)
	for _, a := range attackers {
		if !s.Allowed("acct", a, t0) {
			t.Fatal("refused before any failure")
		}
		s.Failed("acct", a, t0)
	}
	// Locked: the failing addresses are refused, the known-good owner and
	// a clean address are not.
	for _, a := range attackers {
		if s.Allowed("acct", a, t0) {
			t.Fatalf("%s failed and may try a locked account again", a)
		}
	}
	if !s.Allowed("acct", owner, t0) {
		t.Fatal("the owner's known-good address is locked out")
	}
	if !s.Allowed("acct", netip.MustParseAddr("203.0.113.9"), t0) {
		t.Fatal("a clean address is locked out")
	}
	if !s.Allowed("other", attackers[0], t0) {
		t.Fatal("another account is locked")
	}
	// Per address: 20 failures lock the address for every account.
	x := netip.MustParseAddr("2001:db8::1")
	for i := 0; i < 20; i++ {
		s.Failed("", x, t0)
	}
	if s.AddressAllowed(netip.MustParseAddr("2001:db8::ffff"), t0) {
		t.Fatal("another address in the same /64 escapes the limit")
	}
	if !s.AddressAllowed(x, t0.Add(16*time.Minute)) {
		t.Fatal("the address limit did not expire")
	}
}

func TestGateCapAndQueue(t *testing.T) {
	g := NewGate(2, 3, 50*time.Millisecond)
	release := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	busy := 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := g.Do(context.Background(), func() { <-release })
			if errors.Is(err, ErrBusy) {
				mu.Lock()
				busy++
				mu.Unlock()
			}
		}()
	}
	time.Sleep(150 * time.Millisecond)
	close(release)
	wg.Wait()
	if g.Peak() > 2 {
		t.Fatalf("peak %d over cap 2", g.Peak())
	}
	if busy < 15 {
		t.Fatalf("only %d of 20 refused with two slots held", busy)
	}
}
