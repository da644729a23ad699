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

// holdSlots fills g's n slots with work that runs until release is closed.
func holdSlots(t *testing.T, g *Gate, n int, release chan struct{}, tk Ticket) *sync.WaitGroup {
	t.Helper()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.Enter(context.Background(), tk, func() { <-release })
		}()
	}
	for g.inUse.Load() < int64(n) {
		time.Sleep(time.Millisecond)
	}
	return &wg
}

// Finding 5 of the red-team follow-up: a waiter of the priority lane gets
// the next free slot before every waiter of the normal lane, and has a
// queue of its own that the normal lane cannot fill.
func TestGatePriorityLane(t *testing.T) {
	g := NewGate(1, 4, 5*time.Second) // one slot: the order is the order of service
	release := make(chan struct{})
	held := holdSlots(t, g, 1, release, Ticket{})
	var order []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	enter := func(name string, tk Ticket) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.Enter(context.Background(), tk, func() {
				mu.Lock()
				order = append(order, name)
				mu.Unlock()
			}); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}()
	}
	for i := 0; i < 4; i++ {
		enter("normal", Ticket{})
	}
	for waiting(g, false) < 4 {
		time.Sleep(time.Millisecond)
	}
	// The normal lane's queue is full: another normal attempt is refused,
	// a priority one waits.
	if err := g.Do(context.Background(), func() {}); !errors.Is(err, ErrBusy) {
		t.Fatalf("a fifth normal waiter: %v", err)
	}
	enter("priority", Ticket{Priority: true, Account: "jane"})
	for waiting(g, true) < 1 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	held.Wait()
	wg.Wait()
	if len(order) != 5 || order[0] != "priority" {
		t.Fatalf("order %v; the priority waiter must be first", order)
	}
	if g.PriorityRuns() != 1 || g.Held() != 0 {
		t.Fatalf("priority runs %d, held %d", g.PriorityRuns(), g.Held())
	}
}

// One network holds at most its share of a lane's places (slots and
// waits); others still queue. In the priority lane an account holds one
// place, and a second attempt of the same account waits in the normal
// lane.
func TestGateShares(t *testing.T) {
	g := NewGate(2, 32, 5*time.Second)
	release := make(chan struct{})
	attacker := NetworkShares(netip.MustParseAddr("2001:db8:77:1::1"))
	held := holdSlots(t, g, 2, release, Ticket{Shares: attacker})
	var wg sync.WaitGroup
	var ok, busy, other int
	var mu sync.Mutex
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Fresh /64s of the same /48.
			sh := NetworkShares(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0x77, 0, byte(i + 2), 15: 1}))
			err := g.Enter(context.Background(), Ticket{Shares: sh}, func() {})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				ok++
			} else if errors.Is(err, ErrBusy) {
				busy++
			}
		}()
	}
	// Wait until every attempt of the /48 is either refused or queued.
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return busy+waiting(g, false) == 20 })
	if g.Room(Ticket{Shares: NetworkShares(netip.MustParseAddr("2001:db8:77:ff::1"))}) {
		t.Fatal("the /48 holds all its share and Room says there is room")
	}
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.Enter(context.Background(), Ticket{Shares: NetworkShares(netip.AddrFrom4([4]byte{203, byte(i), 113, 1}))}, func() {}); err == nil {
				mu.Lock()
				other++
				mu.Unlock()
			}
		}()
	}
	waitFor(t, func() bool { return waiting(g, false) == NarrowShare-2+5 })
	close(release)
	held.Wait()
	wg.Wait()
	if ok != NarrowShare-2 || busy != 20-ok {
		t.Fatalf("the /48: %d ran, %d refused; its share is %d places (2 held)", ok, busy, NarrowShare)
	}
	if other != 5 {
		t.Fatalf("only %d of 5 attempts from another network ran", other)
	}
	// Priority: one place per account, the rest go to the normal lane.
	release = make(chan struct{})
	g2 := NewGate(1, 4, 5*time.Second)
	h2 := holdSlots(t, g2, 1, release, Ticket{})
	jane := Ticket{Priority: true, Account: "jane", Shares: NetworkShares(netip.MustParseAddr("192.0.2.10"))}
	var wg2 sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg2.Add(1)
		go func() { defer wg2.Done(); g2.Enter(context.Background(), jane, func() {}) }()
	}
	for waiting(g2, true)+waiting(g2, false) < 3 {
		time.Sleep(time.Millisecond)
	}
	if waiting(g2, true) != 1 || waiting(g2, false) != 2 {
		t.Fatalf("priority lane %d, normal lane %d; want 1 and 2", waiting(g2, true), waiting(g2, false))
	}
	close(release)
	h2.Wait()
	wg2.Wait()
	if g2.Held() != 0 || g2.PriorityRuns() != 1 {
		t.Fatalf("held %d, priority runs %d", g2.Held(), g2.PriorityRuns())
	}
}

// A waiter that gives up (its wait or its context ends) leaves its place
// and its shares; a slot that came as it gave up passes on.
func TestGateWaiterGivesUp(t *testing.T) {
	g := NewGate(1, 4, 20*time.Millisecond)
	release := make(chan struct{})
	held := holdSlots(t, g, 1, release, Ticket{})
	sh := NetworkShares(netip.MustParseAddr("198.51.100.1"))
	if err := g.Enter(context.Background(), Ticket{Shares: sh}, func() {}); !errors.Is(err, ErrBusy) {
		t.Fatalf("the wait ran out: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.Enter(ctx, Ticket{Shares: sh}, func() {}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if waiting(g, false) != 0 || g.Held() != 0 {
		t.Fatalf("left %d waiters, %d held keys", waiting(g, false), g.Held())
	}
	close(release)
	held.Wait()
	if err := g.Do(context.Background(), func() {}); err != nil {
		t.Fatalf("the gate is stuck: %v", err)
	}
}

// Finding 5(a): failures add up per IPv6 /48 and /32 and IPv4 /24 and /16,
// whatever /64 or address each came from; a known-good pair still passes.
func TestSignInNetworkLimit(t *testing.T) {
	p := DefaultSignInPolicy(10)
	p.PerNetwork, p.PerWideNetwork = 5, 8
	s := NewSignIn(p)
	s.Succeeded("jane", netip.MustParseAddr("2001:db8:77:ffff::1"), t0)
	for i := 0; i < 5; i++ {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0x77, 0, byte(i), 15: 1})
		if !s.Allowed("x", a, t0) {
			t.Fatalf("attempt %d refused", i)
		}
		s.Failed("", a, t0)
	}
	if s.Allowed("bob", netip.MustParseAddr("2001:db8:77:100::1"), t0) {
		t.Fatal("a fresh /64 of a /48 at its limit")
	}
	if !s.Allowed("jane", netip.MustParseAddr("2001:db8:77:ffff::2"), t0) {
		t.Fatal("a known-good /64 inside the refused /48")
	}
	// The /32: three more failures from other /48s of it.
	for i := 0; i < 3; i++ {
		s.Failed("", netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(0x80 + i), 15: 1}), t0)
	}
	if s.Allowed("bob", netip.MustParseAddr("2001:db8:ff::1"), t0) {
		t.Fatal("a fresh /48 of a /32 at its limit")
	}
	if !s.Allowed("bob", netip.MustParseAddr("2001:db9::1"), t0) || !s.Allowed("bob", netip.MustParseAddr("2001:db8:ff::1"), t0.Add(16*time.Minute)) {
		t.Fatal("another /32, or the window passed: still refused")
	}
	for i := 0; i < 5; i++ {
		s.Failed("", netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), t0)
	}
	if s.Allowed("bob", netip.MustParseAddr("198.51.100.200"), t0) || !s.Allowed("bob", netip.MustParseAddr("198.51.101.1"), t0) {
		t.Fatal("IPv4: the /24's limit")
	}
}

// Finding 6: wrong codes count per account; at the limit only known-good
// addresses may try a code.
func TestSignInCodeLimit(t *testing.T) {
	s := NewSignIn(DefaultSignInPolicy(5))
	home := netip.MustParseAddr("192.0.2.1")
	s.Succeeded("root", home, t0)
	for i := 0; i < 5; i++ {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0x66, 0, byte(i), 15: 1})
		if !s.CodeAllowed("root", a, t0) {
			t.Fatalf("code %d refused", i)
		}
		s.CodeFailed("root", t0)
	}
	if s.CodeAllowed("root", netip.MustParseAddr("2001:db8:66:100::1"), t0) {
		t.Fatal("a sixth code from a fresh /64")
	}
	if !s.CodeAllowed("root", home, t0) || !s.CodeAllowed("other", netip.MustParseAddr("2001:db8:66:100::1"), t0) {
		t.Fatal("the owner at home, or another account, refused")
	}
	if !s.CodeAllowed("root", netip.MustParseAddr("2001:db8:66:100::1"), t0.Add(16*time.Minute)) {
		t.Fatal("the window passed: still refused")
	}
}

// waitFor polls cond for up to ten seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("timed out waiting")
		}
	}
}

// waiting is how many wait in a lane of g.
func waiting(g *Gate, priority bool) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if priority {
		return g.hi.Len()
	}
	return g.lo.Len()
}
