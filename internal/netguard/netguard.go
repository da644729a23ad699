// Package netguard decides which addresses Palisade may connect to on a
// tenant's say-so: the SFTP server, database and S3 endpoint a hosting
// provider types into a website's scan and backup settings. Without it a
// partner could point a scan at the operator's own network (its database,
// Redis, a cloud metadata service) and read the answers from the errors.
//
// Public addresses are allowed, but not the node's own (those of its
// network interfaces); loopback, private, link-local, shared, unspecified,
// multicast and reserved ranges, and the node's own addresses, only when
// the operator lists them (`--scan-allow-net`, for everyone or one
// partner). The check runs when a socket is about to connect (Dialer's
// Control), on the address the resolver returned, so a name that resolves
// to an internal address, or that changes its answer after the settings
// were saved, is caught too.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// ErrNotPermitted is the error of a refused address.
var ErrNotPermitted = errors.New("not a public address, and not in the ranges the operator allows (--scan-allow-net)")

// Policy is the set of addresses connections may reach: every public
// address, and the prefixes in Allow.
type Policy struct {
	Allow []netip.Prefix
}

// Public reports whether a is a globally routable unicast address: not
// private, loopback, link-local, shared (100.64/10), unspecified,
// multicast, documentation, benchmarking or reserved, and for IPv6 inside
// 2000::/3 and outside NAT64, 6to4, Teredo and ULA.
func Public(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() {
		return false
	}
	if a.Is6() && !globalUnicast6.Contains(a) {
		return false
	}
	for _, p := range reserved {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

var globalUnicast6 = netip.MustParsePrefix("2000::/3")

var reserved = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",
		"64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/32", "2001:db8::/32", "2002::/16", "fec0::/10", "fc00::/7",
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

// Permitted reports whether the policy lets a connection reach a: a
// public address that is not one of this machine's own (a public address
// on the node's network card reaches the node's own services, as
// loopback would), or one in Allow.
func (p Policy) Permitted(a netip.Addr) bool {
	a = a.Unmap()
	for _, pr := range p.Allow {
		if pr.Contains(a) {
			return true
		}
	}
	return Public(a) && !ownAddress(a)
}

// interfaceAddrs lists this machine's addresses (a variable for tests).
var interfaceAddrs = net.InterfaceAddrs

// ownAddress reports whether a is an address of one of this machine's
// network interfaces, read when asked (interfaces come and go). When they
// cannot be read, every address counts as the machine's own: refused.
func ownAddress(a netip.Addr) bool {
	addrs, err := interfaceAddrs()
	if err != nil {
		return true
	}
	for _, ia := range addrs {
		var ip net.IP
		switch v := ia.(type) {
		case *net.IPNet:
			ip = v.IP
		case *net.IPAddr:
			ip = v.IP
		}
		if b, ok := netip.AddrFromSlice(ip); ok && b.Unmap() == a {
			return true
		}
	}
	return false
}

// CheckHost checks a host as typed into settings: an IP address literal
// must be permitted; a name passes (its addresses are checked when a
// connection is made). It never resolves, so saving settings needs no
// network.
func (p Policy) CheckHost(host string) error {
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if i := strings.IndexByte(h, '%'); i >= 0 {
		h = h[:i] // a zone: the address is link-local anyway
	}
	a, err := netip.ParseAddr(h)
	if err != nil {
		if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") || strings.HasSuffix(strings.ToLower(strings.TrimSuffix(host, ".")), ".localhost") {
			return fmt.Errorf("%s: %w", host, ErrNotPermitted)
		}
		return nil
	}
	if !p.Permitted(a) {
		return fmt.Errorf("%s: %w", a, ErrNotPermitted)
	}
	return nil
}

// control runs when a socket is about to connect: the last word on the
// address, whatever the resolver said.
func (p Policy) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %s: %w", address, err)
	}
	if !p.Permitted(ap.Addr()) {
		return fmt.Errorf("dial %s: %w", ap.Addr(), ErrNotPermitted)
	}
	return nil
}

// Dialer returns a dialer that refuses addresses the policy does not
// permit, with a connect timeout (10 s when 0).
func (p Policy) Dialer(timeout time.Duration) *net.Dialer {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return &net.Dialer{Timeout: timeout, Control: p.control}
}

// DialContext is Dialer(0).DialContext.
func (p Policy) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return p.Dialer(0).DialContext(ctx, network, address)
}

// CheckResolved resolves host and checks every address it has, for
// connections another program makes (restic to an S3 endpoint): there is
// no socket to watch, so this is checked just before it starts. lookup is
// the resolver (net.DefaultResolver.LookupNetIP when nil).
func (p Policy) CheckResolved(ctx context.Context, host string, lookup func(ctx context.Context, network, host string) ([]netip.Addr, error)) error {
	_, err := p.Resolve(ctx, host, lookup)
	return err
}

// Resolve resolves host (a name or an address literal), checks every
// address it has and returns the first, for a program Palisade starts that
// takes an address (a database dump tool): connecting to the checked
// address leaves no room for a second, different answer of the resolver.
func (p Policy) Resolve(ctx context.Context, host string, lookup func(ctx context.Context, network, host string) ([]netip.Addr, error)) (netip.Addr, error) {
	if err := p.CheckHost(host); err != nil {
		return netip.Addr{}, err
	}
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap(), nil
	}
	if lookup == nil {
		lookup = net.DefaultResolver.LookupNetIP
	}
	addrs, err := lookup(ctx, "ip", h)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("resolving %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("resolving %s: no addresses", host)
	}
	for _, a := range addrs {
		if !p.Permitted(a) {
			return netip.Addr{}, fmt.Errorf("%s resolves to %s: %w", host, a.Unmap(), ErrNotPermitted)
		}
	}
	return addrs[0].Unmap(), nil
}

// ParseAllow reads --scan-allow-net values: "CIDR" or "PARTNER=CIDR" (a
// single address means just that address). It returns the ranges for
// everyone and those of each partner (by the name before =).
func ParseAllow(values []string) (all []netip.Prefix, byPartner map[string][]netip.Prefix, err error) {
	byPartner = map[string][]netip.Prefix{}
	for _, v := range values {
		partner, spec, found := strings.Cut(v, "=")
		if !found {
			partner, spec = "", v
		} else if strings.TrimSpace(partner) == "" {
			return nil, nil, fmt.Errorf("--scan-allow-net %q: the partner before = is empty", v)
		}
		spec = strings.TrimSpace(spec)
		var pr netip.Prefix
		if strings.Contains(spec, "/") {
			pr, err = netip.ParsePrefix(spec)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(spec); err == nil {
				pr = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			return nil, nil, fmt.Errorf("--scan-allow-net %q: give an address or a range such as 10.0.0.0/8 or fd00::/8, optionally after PARTNER=: %v", v, err)
		}
		pr = pr.Masked()
		if partner == "" {
			all = append(all, pr)
		} else {
			byPartner[strings.TrimSpace(partner)] = append(byPartner[strings.TrimSpace(partner)], pr)
		}
	}
	return all, byPartner, nil
}
