package protect

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/netutil"
)

// Trusted, Loopback and PeerAddr are netutil's, here for the adapters'
// convenience.
type Trusted = netutil.Trusted

var Loopback = netutil.Loopback

// PeerAddr parses an http.Request's RemoteAddr.
func PeerAddr(remote string) netip.Addr { return netutil.PeerAddr(remote) }

// RealIP is the client address of a request a web server in webServers
// (--web-server) forwarded with X-Real-IP set to the address it received the
// request from (nginx, Apache, HAProxy and Caddy's /_palisade/ routes, the
// Go middleware); from anyone else the peer. No other header is read.
func RealIP(r *http.Request, webServers Trusted) netip.Addr {
	return netutil.HeaderAddr(r, webServers, netutil.XRealIP)
}

// ForwardedFor is the client address of a request a web server in
// webServers forwarded with X-Forwarded-For (Caddy's forward_auth,
// Traefik's ForwardAuth): the right-most address that is not a web server;
// from anyone else the peer. X-Real-IP is not read.
func ForwardedFor(r *http.Request, webServers Trusted) netip.Addr {
	return netutil.ForwardedFor(r, webServers)
}

// SplitURI splits a request URI into path and query (without "?").
func SplitURI(uri string) (path, query string) {
	path, query, _ = strings.Cut(uri, "?")
	if path == "" {
		path = "/"
	}
	return path, query
}

// Clearance returns the clearance a request carries: the X-Palisade-Token
// header (palisade.js), else the palisade_clearance cookie.
func Clearance(r *http.Request) string {
	if t := r.Header.Get("X-Palisade-Token"); t != "" {
		return t
	}
	return engine.ClearanceFromCookie(r.Header.Get("Cookie"))
}

// FromHTTP fills an engine request from a request Palisade received itself
// (reverse proxy, Go middleware's own server).
func FromHTTP(r *http.Request, ip netip.Addr) engine.Request {
	return engine.Request{
		IP: ip, Method: r.Method, Host: r.Host, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Proto: r.Proto,
		UserAgent: r.UserAgent(), Referer: r.Referer(), Header: r.Header, Clearance: Clearance(r),
	}
}

// ChallengeClient is the client address for the challenge's own endpoints
// (/_palisade/), which every integration proxies to Palisade: X-Real-IP
// when a web server in webServers sets it (nginx, Apache, HAProxy, Caddy
// and the Go middleware overwrite it), else the right-most X-Forwarded-For
// address that is not a web server (Traefik, whose shipped configuration
// removes X-Real-IP and whose entryPoint replaces a visitor's
// X-Forwarded-For); from anyone else the peer.
func ChallengeClient(r *http.Request, webServers Trusted) netip.Addr {
	peer := PeerAddr(r.RemoteAddr)
	if !webServers.Contains(peer) {
		return peer
	}
	if len(r.Header.Values(netutil.XRealIP)) > 0 {
		return RealIP(r, webServers)
	}
	return ForwardedFor(r, webServers)
}

// proxyHeaders are headers a proxy in front of a web server adds to say who
// its client was. A web server whose request carries one is behind such a
// proxy, and a loopback client is then that proxy, not the site calling
// itself.
var proxyHeaders = []string{"Forwarded", "Via", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",
	"X-Real-Ip", "Cf-Connecting-Ip", "True-Client-Ip", "Fastly-Client-Ip", "X-Client-Ip"}

// SelfCallServer returns server, the web server that asked for a verdict,
// for engine.Request.Server (which makes a client at loopback or at that
// address the site's own server, builtin self_calls), or the zero address
// when the request's headers show a proxy in front of that web server: a
// web server behind a proxy it does not take the client address from sees
// every visitor as the proxy, often loopback, and they must not all pass as
// the site calling itself. own are the headers the integration's own
// contract sets (they say nothing about a proxy in front); a visitor who
// sends one of the others only loses the self-call grant.
func SelfCallServer(server netip.Addr, h http.Header, own ...string) netip.Addr {
	for _, name := range proxyHeaders {
		if len(h[name]) == 0 {
			continue
		}
		mine := false
		for _, o := range own {
			mine = mine || http.CanonicalHeaderKey(o) == name
		}
		if !mine {
			return netip.Addr{}
		}
	}
	return server
}
