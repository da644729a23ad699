package protect

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/palisadehq/palisade/internal/engine"
)

// Trusted is a set of proxy addresses whose forwarded client address is
// believed.
type Trusted []netip.Prefix

// Contains reports whether a is a trusted proxy.
func (t Trusted) Contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Loopback is the default trust: a web server on the same machine.
var Loopback = Trusted{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// PeerAddr parses an http.Request's RemoteAddr.
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

// ClientAddr returns the original client of a request that came through
// proxies: X-Real-IP, else the rightmost X-Forwarded-For address that is not
// a trusted proxy — but only when the direct peer is trusted; otherwise the
// peer itself.
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

// SplitURI splits a request URI into path and query (without "?").
func SplitURI(uri string) (path, query string) {
	path, query, _ = strings.Cut(uri, "?")
	if path == "" {
		path = "/"
	}
	return path, query
}

// FromHTTP fills an engine request from a request Palisade received itself
// (reverse proxy, Go middleware's own server).
func FromHTTP(r *http.Request, ip netip.Addr) engine.Request {
	return engine.Request{
		IP: ip, Method: r.Method, Host: r.Host, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Proto: r.Proto,
		UserAgent: r.UserAgent(), Referer: r.Referer(), Header: r.Header,
	}
}
