package engine

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// newBareEngine is an engine with the built-in signatures and no range
// lists: these tests need no reference data.
func newBareEngine(t testing.TB) (*Engine, *clock) {
	c := &clock{t: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	return New(NewClassifier(builtinSignatures(t), nil, nil), c.now), c
}

// v6 returns the address 2001:db8:<net>::<host>.
func v6(network, host uint64) netip.Addr {
	var b [16]byte
	b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
	for i := 0; i < 4; i++ {
		b[7-i] = byte(network >> (8 * i))
	}
	for i := 0; i < 8; i++ {
		b[15-i] = byte(host >> (8 * i))
	}
	return netip.AddrFrom16(b)
}

// TestRateLimitIPv6By64: an IPv6 client holds a whole /64, so a per-address
// limit counts the /64: rotating addresses inside it escapes nothing.
func TestRateLimitIPv6By64(t *testing.T) {
	e, _ := newBareEngine(t)
	p := load(t, e, Settings{WAF: wafOff, RateLimits: []RateLimit{{Name: "Login", PathPrefix: "/login", Requests: 5, Period: "1m", Action: "deny"}}}) // state bounds, not the firewall
	for i := range 20 {
		r := req(v6(1, uint64(i)*7919+1).String(), chromeUA, func(r *Request) { r.Path = "/login" })
		v := e.Decide(p, r)
		if want := i >= 5; (v.Action == Deny) != want {
			t.Fatalf("request %d from another address of one /64: %s", i+1, v)
		}
	}
	if v := e.Decide(p, req(v6(2, 1).String(), chromeUA, func(r *Request) { r.Path = "/login" })); v.Action != Grant {
		t.Fatalf("another /64 shares the limit: %s", v)
	}
}

// TestRateLimitStateBounded: a flood from 200,000 distinct IPv6 networks
// leaves at most the cap of entries and a bounded heap, and limits keep
// working for everyone: a client already over its limit stays limited
// (the flood's one-request entries are forgotten first), and a new client
// after the flood gets its allowance and then the limit's answer.
func TestRateLimitStateBounded(t *testing.T) {
	e, clk := newBareEngine(t)
	const limitCap = 10_000
	e.SetLimitCap(limitCap)
	p := load(t, e, Settings{WAF: wafOff, RateLimits: []RateLimit{{Name: "Login", PathPrefix: "/login", Requests: 5, Period: "1m", Action: "deny"}}}) // state bounds, not the firewall
	login := func(ip netip.Addr) Verdict {
		r := req("192.0.2.1", chromeUA, func(r *Request) { r.Path = "/login"; r.IP = ip })
		return e.Decide(p, r)
	}
	brute, brute6 := netip.MustParseAddr("198.51.100.66"), v6(99, 1)
	for range 10 {
		login(brute)
		login(brute6)
	}
	if v, w := login(brute), login(brute6); v.Action != Deny || w.Action != Deny {
		t.Fatalf("brute force not limited: %s, %s", v, w)
	}
	before := heapAlloc()
	for i := range 200_000 {
		login(v6(uint64(i)+100, 1))
		if i%1000 == 0 {
			clk.t = clk.t.Add(time.Millisecond)
			if n := e.LimitEntries(); n > limitCap {
				t.Fatalf("%d entries past a cap of %d", n, limitCap)
			}
		}
	}
	if n := e.LimitEntries(); n > limitCap {
		t.Fatalf("%d entries past a cap of %d", n, limitCap)
	}
	if grown := int64(heapAlloc()) - int64(before); grown > 8<<20 {
		t.Fatalf("heap grew by %d bytes", grown)
	}
	if v, w := login(brute), login(brute6); v.Action != Deny || w.Action != Deny {
		t.Fatalf("the flood lifted a running limit: %s, %s", v, w)
	}
	// The keys spread over the shards (IPv6 keys are /64s, zero in their
	// low half): the table fills to near its cap, not to one shard's.
	if n := e.LimitEntries(); n < limitCap*9/10 {
		t.Fatalf("only %d entries of a cap of %d: the flood landed in few shards", n, limitCap)
	}
	fresh := netip.MustParseAddr("203.0.113.5")
	for i := range 8 {
		if v := login(fresh); (v.Action == Deny) != (i >= 5) {
			t.Fatalf("new client after the flood, request %d: %s", i+1, v)
		}
	}
}

// fakeResolver answers PTR name "crawl-<last byte>.search.example" for
// every address, confirmed forward, with no network; it counts lookups
// running at once.
type fakeResolver struct {
	running, peak atomic.Int32
	block         chan struct{} // nil: answer at once
	calls         atomic.Int64
}

func (f *fakeResolver) enter() func() {
	n := f.running.Add(1)
	for {
		p := f.peak.Load()
		if n <= p || f.peak.CompareAndSwap(p, n) {
			break
		}
	}
	if f.block != nil {
		<-f.block
	}
	return func() { f.running.Add(-1) }
}

func (f *fakeResolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	defer f.enter()()
	f.calls.Add(1)
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return nil, err
	}
	if a.Is4() && a.As4()[0] == 203 {
		return nil, &net.DNSError{Err: "no such host", IsNotFound: true}
	}
	return []string{"crawl-" + addr + ".search.example."}, nil
}

func (f *fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	const pre, suf = "crawl-", ".search.example"
	if len(host) < len(pre)+len(suf) {
		return nil, errors.New("unknown")
	}
	a, err := netip.ParseAddr(host[len(pre) : len(host)-len(suf)])
	if err != nil {
		return nil, err
	}
	return []netip.Addr{a}, nil
}

func waitRDNS(t *testing.T, v *RDNSVerifier, ip netip.Addr) rdnsResult {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if r := v.Check(ip, []string{"search.example"}); r != rdnsUnknown {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no answer", ip)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRDNSCacheBounded: the reverse-DNS cache holds at most its cap, and
// once full it still verifies new crawlers (the least recently used entry
// goes); entries expire; lookups run at most 16 at a time.
func TestRDNSCacheBounded(t *testing.T) {
	res := &fakeResolver{}
	v := NewRDNSVerifier(res)
	clk := &clock{t: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	v.now = clk.now
	v.SetCapacity(100)
	for i := range 1000 {
		ip := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		if r := waitRDNS(t, v, ip); r != rdnsVerified {
			t.Fatalf("crawler %d (%s) not verified: %v", i, ip, r)
		}
		if n := v.Len(); n > 100 {
			t.Fatalf("%d cache entries past a cap of 100", n)
		}
	}
	if r := waitRDNS(t, v, netip.MustParseAddr("203.0.113.9")); r != rdnsFailed {
		t.Fatalf("an address without a PTR record: %v", r)
	}
	// A recently used entry survives; it expires after its TTL.
	hot := netip.AddrFrom4([4]byte{198, 18, 3, 231})
	calls := res.calls.Load()
	for range 150 {
		waitRDNS(t, v, hot)
		waitRDNS(t, v, netip.AddrFrom4([4]byte{198, 19, byte(res.calls.Load() >> 8), byte(res.calls.Load())}))
	}
	if res.calls.Load()-calls != 150 {
		t.Fatalf("a hot entry was looked up again: %d lookups", res.calls.Load()-calls)
	}
	clk.t = clk.t.Add(7 * time.Hour)
	if v.Check(hot, []string{"search.example"}) != rdnsUnknown {
		t.Fatal("an expired entry was still used")
	}

	// Concurrency: with the resolver stalled, no more than 16 lookups run.
	stalled := &fakeResolver{block: make(chan struct{})}
	sv := NewRDNSVerifier(stalled)
	for i := range 500 {
		sv.Check(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), []string{"search.example"})
	}
	time.Sleep(50 * time.Millisecond)
	if p := stalled.peak.Load(); p > 16 || p == 0 {
		t.Fatalf("%d lookups at once", p)
	}
	close(stalled.block)
}
