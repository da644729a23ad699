package protect

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/netutil"
)

// Trusted, Loopback, PeerAddr and ClientAddr are netutil's, here for the
// adapters' convenience.
type Trusted = netutil.Trusted

var Loopback = netutil.Loopback

// PeerAddr parses an http.Request's RemoteAddr.
func PeerAddr(remote string) netip.Addr { return netutil.PeerAddr(remote) }

// ClientAddr returns the original client of a request behind trusted proxies.
func ClientAddr(r *http.Request, trusted Trusted) netip.Addr { return netutil.ClientAddr(r, trusted) }

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
