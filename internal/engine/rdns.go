package engine

import (
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

// RDNSVerifier verifies crawlers by forward-confirmed reverse DNS: the
// address's PTR name must end in one of the crawler's domains and resolve
// back to the address. Results are cached; lookups run in the background,
// never on the request path.
type RDNSVerifier struct {
	resolver Resolver
	timeout  time.Duration
	ttl      time.Duration

	mu       sync.Mutex
	cache    map[netip.Addr]rdnsEntry
	inflight map[netip.Addr]bool
	sem      chan struct{}
}

type rdnsEntry struct {
	names   []string // verified host name (lower case), empty if none
	expires time.Time
}

// NewRDNSVerifier returns a verifier using r (nil: the system resolver).
func NewRDNSVerifier(r Resolver) *RDNSVerifier {
	if r == nil {
		r = net.DefaultResolver
	}
	return &RDNSVerifier{resolver: r, timeout: 2 * time.Second, ttl: 6 * time.Hour,
		cache: map[netip.Addr]rdnsEntry{}, inflight: map[netip.Addr]bool{}, sem: make(chan struct{}, 16)}
}

// Check returns the cached verdict for ip and domains, starting a lookup when
// there is none yet.
func (v *RDNSVerifier) Check(ip netip.Addr, domains []string) rdnsResult {
	v.mu.Lock()
	e, ok := v.cache[ip]
	if ok && time.Now().Before(e.expires) {
		v.mu.Unlock()
		for _, n := range e.names {
			for _, d := range domains {
				if n == d || strings.HasSuffix(n, "."+d) {
					return rdnsVerified
				}
			}
		}
		return rdnsFailed
	}
	if !v.inflight[ip] && len(v.cache) < 1_000_000 {
		select {
		case v.sem <- struct{}{}:
			v.inflight[ip] = true
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
	v.cache[ip] = rdnsEntry{names: confirmed, expires: time.Now().Add(ttl)}
	delete(v.inflight, ip)
	v.mu.Unlock()
}

func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}
