// Package netutil holds the address handling every HTTP adapter shares:
// parsing IPs and CIDRs, and finding a request's real client behind trusted
// proxies. It has no dependencies beyond the standard library, so the public
// middleware package can use it too.
package netutil

import (
	"fmt"
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
			// ::ffff:a.b.c.d/n is the IPv4 range a.b.c.d/(n-96); shorter
			// than /96 it also covers IPv6 addresses, which no IPv4 range
			// can say.
			if bits < 96 {
				return netip.Prefix{}, fmt.Errorf("%s: an IPv4-mapped (::ffff:) range must be /96 or longer; write the IPv4 range instead", s)
			}
			bits -= 96
		}
		q := netip.PrefixFrom(p.Addr().Unmap(), bits).Masked()
		if !q.IsValid() {
			return netip.Prefix{}, fmt.Errorf("%s: not a valid range", s)
		}
		return q, nil
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

// The headers a trusted proxy may carry the client's address in.
const (
	// XForwardedFor is the default: each proxy appends the address it
	// received the request from, and the client is the right-most address
	// that is not itself a trusted proxy.
	XForwardedFor = "X-Forwarded-For"
	// XRealIP holds one address, which the proxy must overwrite (nginx's
	// proxy_set_header X-Real-IP $remote_addr).
	XRealIP = "X-Real-Ip"
)

// ForwardedFor returns a request's client when trusted are the proxies in
// front: the peer unless it is trusted, else the right-most
// X-Forwarded-For address that is not trusted (addresses further left were
// written by whoever sent the request to that hop, so they may be forged).
// X-Real-IP and every other header are ignored.
func ForwardedFor(r *http.Request, trusted Trusted) netip.Addr {
	peer := PeerAddr(r.RemoteAddr)
	if !peer.IsValid() || !trusted.Contains(peer) {
		return peer
	}
	return rightmostUntrusted(r.Header.Values(XForwardedFor), peer, trusted.Contains)
}

// HeaderAddr returns a request's client when trusted are the proxies in
// front and each of them overwrites header with the one address it received
// the request from (X-Real-IP): the peer unless it is trusted, else that
// header's address (the peer when the header is missing, repeated or not an
// address).
func HeaderAddr(r *http.Request, trusted Trusted, header string) netip.Addr {
	peer := PeerAddr(r.RemoteAddr)
	if !peer.IsValid() || !trusted.Contains(peer) {
		return peer
	}
	return singleAddr(r.Header.Values(header), peer)
}

// Proxy is a reverse proxy (a load balancer) in front of Palisade whose
// word on the client's address is believed, and the header that carries it.
type Proxy struct {
	Prefix netip.Prefix
	// Header is XForwardedFor (also when empty) or the canonical name of a
	// header holding a single address that this proxy overwrites, such as
	// XRealIP.
	Header string
}

func (p Proxy) String() string {
	if p.Header == "" || p.Header == XForwardedFor {
		return p.Prefix.String()
	}
	return p.Prefix.String() + "=" + p.Header
}

// ParseProxy reads a --trusted-proxy value: an IP or CIDR, optionally
// followed by "=" and the header that proxy sets the client's address in
// (default X-Forwarded-For), e.g. "10.0.0.5", "10.0.0.0/24=X-Real-IP".
func ParseProxy(s string) (Proxy, error) {
	addr, header, hasHeader := strings.Cut(strings.TrimSpace(s), "=")
	pfx, err := ParsePrefix(addr)
	if err != nil {
		return Proxy{}, fmt.Errorf("%q is not an IP or CIDR", addr)
	}
	header = http.CanonicalHeaderKey(strings.TrimSpace(header))
	if hasHeader && (header == "" || strings.ContainsAny(header, " \t:,;=")) {
		return Proxy{}, fmt.Errorf("%q is not a header name (use X-Forwarded-For or X-Real-IP)", header)
	}
	if header == "" {
		header = XForwardedFor
	}
	return Proxy{Prefix: pfx, Header: header}, nil
}

// Proxies are the reverse proxies in front of Palisade's provisioning plane
// (--trusted-proxy).
type Proxies []Proxy

// match returns the proxy a is, the most specific entry when several hold it.
func (ps Proxies) match(a netip.Addr) (Proxy, bool) {
	a = a.Unmap()
	best, ok := Proxy{}, false
	for _, p := range ps {
		if p.Prefix.Contains(a) && (!ok || p.Prefix.Bits() > best.Prefix.Bits()) {
			best, ok = p, true
		}
	}
	return best, ok
}

// Contains reports whether a is one of the proxies.
func (ps Proxies) Contains(a netip.Addr) bool {
	_, ok := ps.match(a)
	return ok
}

// ClientAddr is the one function that finds the caller of the provisioning
// plane (partner REST API, GP, XML, User API, dashboards): the peer, unless
// it is one of proxies; then the address in the header that proxy is
// configured with: for X-Forwarded-For (the default) the right-most address
// that is not one of proxies, for any other header (X-Real-IP) its single
// address. Headers a proxy is not configured with are never read, so a
// client cannot choose its address by sending one the proxy passes on.
func ClientAddr(r *http.Request, proxies Proxies) netip.Addr {
	peer := PeerAddr(r.RemoteAddr)
	if !peer.IsValid() {
		return peer
	}
	p, ok := proxies.match(peer)
	if !ok {
		return peer
	}
	if p.Header == "" || p.Header == XForwardedFor {
		return rightmostUntrusted(r.Header.Values(XForwardedFor), peer, proxies.Contains)
	}
	return singleAddr(r.Header.Values(p.Header), peer)
}

// rightmostUntrusted walks X-Forwarded-For from the right past trusted
// hops: the first untrusted address is the client. When every hop is
// trusted the left-most one is (it was written by a trusted proxy too); when
// there is none, or the first untrusted entry is not an address, the last
// trusted hop seen (the peer at first).
func rightmostUntrusted(lines []string, peer netip.Addr, trusted func(netip.Addr) bool) netip.Addr {
	last := peer
	for i := len(lines) - 1; i >= 0; i-- {
		rest := lines[i]
		for rest != "" {
			hop := rest
			if j := strings.LastIndexByte(rest, ','); j >= 0 {
				hop, rest = rest[j+1:], rest[:j]
			} else {
				rest = ""
			}
			hop = strings.TrimSpace(hop)
			if hop == "" {
				continue
			}
			a, ok := parseHop(hop)
			if !ok {
				return last
			}
			if !trusted(a) {
				return a
			}
			last = a
		}
	}
	return last
}

// singleAddr is the address of a header that must hold exactly one.
func singleAddr(vals []string, peer netip.Addr) netip.Addr {
	if len(vals) != 1 {
		return peer
	}
	if a, ok := parseHop(strings.TrimSpace(vals[0])); ok {
		return a
	}
	return peer
}

// parseHop reads one forwarded address: an IP, or an IP with a port
// ("192.0.2.1:443", "[2001:db8::1]:443", as some load balancers write).
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// HTTPS reports whether the client reached Palisade over HTTPS: its own
// connection is TLS, or the peer is one of proxies and says so in
// X-Forwarded-Proto (which a proxy must overwrite, as deploy/cluster's
// balancer does). A client's own X-Forwarded-Proto is never believed.
func HTTPS(r *http.Request, proxies Proxies) bool {
	return r.TLS != nil || (proxies.Contains(PeerAddr(r.RemoteAddr)) && forwardedHTTPS(r))
}

// WebServerHTTPS is HTTPS for the decision plane: X-Forwarded-Proto is
// believed from the web servers in trusted (--web-server) only.
func WebServerHTTPS(r *http.Request, trusted Trusted) bool {
	return r.TLS != nil || (trusted.Contains(PeerAddr(r.RemoteAddr)) && forwardedHTTPS(r))
}

func forwardedHTTPS(r *http.Request) bool {
	v := r.Header.Values("X-Forwarded-Proto")
	return len(v) == 1 && strings.EqualFold(strings.TrimSpace(v[0]), "https")
}
