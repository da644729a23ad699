package engine

import (
	"container/list"
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

type rdnsResult uint8

const (
	rdnsUnknown rdnsResult = iota
	rdnsVerified
	rdnsFailed
)

// Resolver is the part of net.Resolver reverse-DNS verification uses; tests
// inject their own so they need no network.
type Resolver interface {
	LookupAddr(ctx context.Context, addr string) ([]string, error)
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// RDNSCacheSize is how many addresses an RDNSVerifier remembers by
// default (a few hundred bytes each).
const RDNSCacheSize = 1 << 17

// RDNSVerifier verifies crawlers by forward-confirmed reverse DNS: the
// address's PTR name must end in one of the crawler's domains and resolve
// back to the address. Results are cached; lookups run in the background,
// never on the request path, at most 16 at a time (a request that finds
// them all busy is answered "unknown" and tries again next time).
//
// The cache is bounded: entries expire (an answer after six hours, a DNS
// failure after a minute), and when it is full the least recently used
// entry makes room, so new crawlers are still verified after any number
// of addresses (a client may send a crawler's user agent from each of
// many addresses to fill it).
type RDNSVerifier struct {
	resolver Resolver
	timeout  time.Duration
	ttl      time.Duration
	now      func() time.Time

	mu       sync.Mutex
	max      int
	cache    map[netip.Addr]*list.Element // of *rdnsEntry, most recently used first
	lru      list.List
	inflight map[netip.Addr]bool
	// claimed: in-flight lookups whose first request a site's
	// pending_crawlers built-in let through (builtin.go); at most one per
	// lookup, and no more entries than lookups in flight.
	claimed map[netip.Addr]bool
	sem     chan struct{}
	// nets counts the lookups in flight by network (rdnsNet): one network
	// (whose reverse zone can take the whole timeout to answer nothing)
	// gets at most rdnsPerNet of the slots. No more entries than lookups
	// in flight.
	nets map[netip.Prefix]int
}

// rdnsPerNet is how many reverse-DNS lookups one network may have in
// flight at once, of the verifier's 16.
const rdnsPerNet = 4

// rdnsNet is the network an address's lookups count against: its IPv4 /24
// or IPv6 /48 (what one customer of a host or a tunnel broker holds).
func rdnsNet(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	bits := 24
	if ip.Is6() {
		bits = 48
	}
	p, _ := ip.Prefix(bits)
	return p
}

type rdnsEntry struct {
	ip      netip.Addr
	names   []string // verified host names (lower case), empty if none
	expires time.Time
}

// NewRDNSVerifier returns a verifier using r (nil: the system resolver)
// that caches up to RDNSCacheSize addresses.
func NewRDNSVerifier(r Resolver) *RDNSVerifier {
	if r == nil {
		r = net.DefaultResolver
	}
	return &RDNSVerifier{resolver: r, timeout: 2 * time.Second, ttl: 6 * time.Hour, now: time.Now, max: RDNSCacheSize,
		cache: map[netip.Addr]*list.Element{}, inflight: map[netip.Addr]bool{}, claimed: map[netip.Addr]bool{}, sem: make(chan struct{}, 16),
		nets: map[netip.Prefix]int{}}
}

// SetCapacity changes how many addresses the cache holds (at least 1).
func (v *RDNSVerifier) SetCapacity(n int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.max = max(1, n)
	for len(v.cache) > v.max {
		v.removeOldest()
	}
}

// Len returns how many addresses the cache holds.
func (v *RDNSVerifier) Len() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.cache)
}

func (v *RDNSVerifier) removeOldest() {
	if el := v.lru.Back(); el != nil {
		delete(v.cache, el.Value.(*rdnsEntry).ip)
		v.lru.Remove(el)
	}
}

// Check returns the cached verdict for ip and domains, starting a lookup when
// there is none yet (or it expired).
func (v *RDNSVerifier) Check(ip netip.Addr, domains []string) rdnsResult {
	v.mu.Lock()
	if el, ok := v.cache[ip]; ok {
		e := el.Value.(*rdnsEntry)
		if v.now().Before(e.expires) {
			v.lru.MoveToFront(el)
			names := e.names
			v.mu.Unlock()
			for _, n := range names {
				for _, d := range domains {
					if n == d || strings.HasSuffix(n, "."+d) {
						return rdnsVerified
					}
				}
			}
			return rdnsFailed
		}
		delete(v.cache, ip)
		v.lru.Remove(el)
	}
	if n := rdnsNet(ip); !v.inflight[ip] && v.nets[n] < rdnsPerNet {
		select {
		case v.sem <- struct{}{}:
			v.inflight[ip] = true
			v.nets[n]++
			go v.lookup(ip)
		default: // too many lookups at once: try on a later request
		}
	}
	v.mu.Unlock()
	return rdnsUnknown
}

func (v *RDNSVerifier) lookup(ip netip.Addr) {
	defer func() { <-v.sem }()
	ctx, cancel := context.WithTimeout(context.Background(), v.timeout)
	defer cancel()
	var confirmed []string
	names, err := v.resolver.LookupAddr(ctx, ip.String())
	if err == nil {
		if len(names) > 8 {
			names = names[:8] // a PTR answer is a handful of names; each costs a lookup
		}
		for _, n := range names {
			n = strings.ToLower(strings.TrimSuffix(n, "."))
			addrs, err := v.resolver.LookupNetIP(ctx, "ip", n)
			if err != nil {
				continue
			}
			for _, a := range addrs {
				if a.Unmap() == ip {
					confirmed = append(confirmed, n)
					break
				}
			}
		}
	}
	ttl := v.ttl
	if err != nil && !isNotFound(err) {
		ttl = time.Minute // a DNS failure, not an answer: retry soon
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.inflight, ip)
	delete(v.claimed, ip)
	if n := rdnsNet(ip); v.nets[n] <= 1 {
		delete(v.nets, n)
	} else {
		v.nets[n]--
	}
	e := &rdnsEntry{ip: ip, names: confirmed, expires: v.now().Add(ttl)}
	if el, ok := v.cache[ip]; ok {
		el.Value = e
		v.lru.MoveToFront(el)
		return
	}
	for len(v.cache) >= v.max {
		v.removeOldest()
	}
	v.cache[ip] = v.lru.PushFront(e)
}

func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// firstPending reports whether a lookup for ip is in flight and no request
// has been let through on it yet; with claim, it also marks that one has
// (so the next request waits for the answer).
func (v *RDNSVerifier) firstPending(ip netip.Addr, claim bool) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.inflight[ip] || v.claimed[ip] {
		return false
	}
	if claim {
		v.claimed[ip] = true
	}
	return true
}
