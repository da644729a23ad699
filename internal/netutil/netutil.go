// Package netutil holds the address handling every HTTP adapter shares:
// parsing IPs and CIDRs, and finding a request's real client behind trusted
// proxies. It has no dependencies beyond the standard library, so the public
// middleware package can use it too.
package netutil

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ParsePrefix accepts an IP (a single-address prefix) or a CIDR; IPv4-mapped
// IPv6 forms become IPv4.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		bits := p.Bits()
		if p.Addr().Is4In6() {
			bits -= 96
		}
		return netip.PrefixFrom(p.Addr().Unmap(), bits).Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Trusted is a set of proxy addresses whose forwarded client address is
// believed.
type Trusted []netip.Prefix

// Contains reports whether a is in the set.
func (t Trusted) Contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Loopback trusts a proxy on the same machine.
var Loopback = Trusted{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// PeerAddr parses an http.Request's RemoteAddr (invalid if it cannot).
func PeerAddr(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// ClientAddr returns the original client of a request: when the direct peer
// is trusted, X-Real-IP, else the rightmost X-Forwarded-For address that is
// not itself trusted; otherwise the peer.
func ClientAddr(r *http.Request, trusted Trusted) netip.Addr {
	peer := PeerAddr(r.RemoteAddr)
	if !peer.IsValid() || !trusted.Contains(peer) {
		return peer
	}
	if v := strings.TrimSpace(r.Header.Get("X-Real-Ip")); v != "" {
		if a, err := netip.ParseAddr(v); err == nil {
			return a.Unmap()
		}
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return peer
			}
			if a = a.Unmap(); !trusted.Contains(a) {
				return a
			}
		}
	}
	return peer
}
