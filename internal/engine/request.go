package engine

import (
	"net/http"
	"net/netip"
	"strings"
)

// Request is what the engine knows of one HTTP request. Adapters fill it from
// their protocol; strings may point into the adapter's buffers.
type Request struct {
	IP     netip.Addr
	Method string
	Host   string // the website's domain as the client sent it (no port)
	// Path is the path as the client sent it (percent-encoded, no query);
	// rules compare its canonical form (CanonicalPath), events record it
	// as sent.
	Path      string
	Query     string // without the "?"
	Proto     string // "HTTP/1.1", "HTTP/2.0", ...
	UserAgent string
	Referer   string
	Header    http.Header // canonical keys
	// Country (ISO 3166 alpha-2) and ASN, when a GeoIP database is loaded.
	Country string
	ASN     uint32
	// Server is the address of the web server that asked for the verdict
	// (the forward-auth or SPOE peer), when the adapter knows it; a client
	// at that address is the site's own server calling itself.
	Server netip.Addr
	// SignedAgent is the identity of a verified Web Bot Auth signature
	// (signed.go), filled by the engine before rules run; "" when the
	// request carries none or it did not verify.
	SignedAgent string
	// Clearance is the clearance the client presented (cookie
	// palisade_clearance, X-Palisade-Token header or validate-v2 token).
	Clearance string
	// Body is the request body, when the integration passes it (at most
	// waf.MaxBody bytes; BodyTruncated: there was more). nil: not seen.
	// Only the website firewall reads it.
	Body          []byte
	BodyTruncated bool
	// IntegrationHeaders are the canonical names of headers the web
	// server set on the verdict request for Palisade (a forward-auth
	// contract's X-Original-Uri, X-Real-Ip, X-Palisade-Key, ...): not the
	// visitor's, so the website firewall does not inspect them. nil: every
	// header in Header is the visitor's (the proxy, SPOE, BotGuard, ...).
	IntegrationHeaders []string

	canon bool   // path and host are filled
	path  string // CanonicalPath(Path)
	host  string // Host lower-cased, without port or trailing dot

	spent   uint64 // rule budget used (budget.go)
	overCap bool   // an expression read an input over its cap
}

// ClearanceFromCookie finds the palisade_clearance cookie in a Cookie header
// without allocating.
func ClearanceFromCookie(cookie string) string {
	const name = "palisade_clearance="
	for cookie != "" {
		var part string
		part, cookie, _ = strings.Cut(cookie, ";")
		part = strings.TrimSpace(part)
		if strings.HasPrefix(part, name) {
			return part[len(name):]
		}
	}
	return ""
}

func (r *Request) header(name string) string {
	if r.Header == nil {
		return ""
	}
	if v := r.Header[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}
