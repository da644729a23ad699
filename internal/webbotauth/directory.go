package webbotauth

import (
	"container/list"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/palisadehq/palisade/internal/netguard"
)

// Key directories are fetched from
// https://<agent>/.well-known/http-message-signatures-directory, never on
// the request's path: a request whose directory is not cached counts as
// unsigned and starts a background fetch. Limits (docs/SECURITY.md):
// https only; every address the name resolves to is checked when dialled
// (a net.Dialer Control function), so private, loopback, link-local,
// shared, documentation and other reserved ranges are refused even after a
// DNS change; no redirects (the draft forbids following them); a 10 s
// deadline for the whole fetch; a 64 KiB body; 32 keys; at most 4 fetches
// at once, one per directory, and 60 a minute; at most MaxDirectories
// cached (least recently used dropped first); fresh for the response's
// max-age clamped to 5 min … 24 h (1 h without one); a failed fetch is
// retried no sooner than 5 min later and keeps a cached directory usable
// for up to 24 h past its freshness, as the draft asks.

const (
	wellKnownPath      = "/.well-known/http-message-signatures-directory"
	maxDirectoryBody   = 64 << 10
	fetchTimeout       = 10 * time.Second
	maxConcurrentFetch = 4
	maxFetchPerMinute  = 60
	minDirectoryTTL    = 5 * time.Minute
	maxDirectoryTTL    = 24 * time.Hour
	defaultTTL         = time.Hour
	retryAfterFailure  = 5 * time.Minute
	maxStale           = 24 * time.Hour
	// DefaultMaxDirectories bounds the cached directories.
	DefaultMaxDirectories = 4096
	maxOriginLength       = 253 + 6
)

// ErrPrivateAddress is the error of a directory fetch refused because its
// host resolves to an address that is not public.
var ErrPrivateAddress = errors.New("address is not public")

// Fetcher downloads key directories.
type Fetcher struct {
	client  *http.Client
	resolve func(ctx context.Context, host string) ([]netip.Addr, error)
	// allow lets a test dial non-public addresses it names (never set in
	// production code; see export_test.go).
	allow func(netip.Addr) bool
	// dialer dials every connection, checking each address (Control).
	dialer net.Dialer
}

// NewFetcher returns a fetcher that resolves names with the system
// resolver and trusts the system's certificate authorities.
func NewFetcher() *Fetcher {
	f := &Fetcher{resolve: func(ctx context.Context, host string) ([]netip.Addr, error) {
		return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	}}
	f.dialer = net.Dialer{Timeout: 5 * time.Second, Control: f.control}
	f.client = &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           f.dial,
			TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 5 * time.Second,
			MaxIdleConns:          16,
			IdleConnTimeout:       30 * time.Second,
			ForceAttemptHTTP2:     true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return errors.New("the directory answered with a redirect, which is not followed")
		},
	}
	return f
}

// publicAddr reports whether a is a globally routable unicast address
// (netguard.Public: not private, loopback, link-local, shared,
// unspecified, multicast, documentation, benchmarking, reserved, NAT64,
// 6to4 or Teredo, and for IPv6 inside 2000::/3).
func publicAddr(a netip.Addr) bool { return netguard.Public(a) }

func (f *Fetcher) permitted(a netip.Addr) bool {
	return publicAddr(a) || (f.allow != nil && f.allow(a.Unmap()))
}

// control runs when a socket is about to connect: the last word on the
// address, whatever the resolver said.
func (f *Fetcher) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %s: %w", address, err)
	}
	if !f.permitted(ap.Addr()) {
		return fmt.Errorf("dial %s: %w", ap.Addr(), ErrPrivateAddress)
	}
	return nil
}

func (f *Fetcher) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("port %q: %v", port, err)
	}
	ips, err := f.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	var last error = fmt.Errorf("%s has no address", host)
	for i, ip := range ips {
		if i == 4 {
			break
		}
		if !f.permitted(ip) {
			last = fmt.Errorf("%s resolves to %s: %w", host, ip, ErrPrivateAddress)
			continue
		}
		c, err := f.dialer.DialContext(ctx, network, netip.AddrPortFrom(ip.Unmap(), uint16(p)).String())
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}

// Fetch downloads and parses the directory of origin (https://host[:port]).
// It returns the usable keys and how long they stay fresh.
func (f *Fetcher) Fetch(ctx context.Context, origin string, allowTestKeys bool) (keySet, time.Duration, error) {
	if !strings.HasPrefix(origin, "https://") {
		return nil, 0, fmt.Errorf("directory %s: only https is fetched", origin)
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, origin+wellKnownPath, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", MediaType+", application/json;q=0.5")
	req.Header.Set("User-Agent", "Palisade-WebBotAuth/1.0")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("directory %s: %w", origin, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("directory %s: HTTP %d (only 200 is accepted)", origin, resp.StatusCode)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || (mt != MediaType && mt != "application/json") {
		return nil, 0, fmt.Errorf("directory %s: content type %q, not %s", origin, resp.Header.Get("Content-Type"), MediaType)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDirectoryBody+1))
	if err != nil {
		return nil, 0, fmt.Errorf("directory %s: %w", origin, err)
	}
	if len(body) > maxDirectoryBody {
		return nil, 0, fmt.Errorf("directory %s: larger than %d bytes", origin, maxDirectoryBody)
	}
	ks, err := parseDirectory(body, allowTestKeys)
	if err != nil {
		return nil, 0, fmt.Errorf("directory %s: %w", origin, err)
	}
	return ks, cacheTTL(resp.Header.Get("Cache-Control")), nil
}

// cacheTTL is how long a directory stays fresh: its max-age clamped to
// minDirectoryTTL … maxDirectoryTTL, defaultTTL without one.
func cacheTTL(cc string) time.Duration {
	ttl := defaultTTL
	for _, d := range strings.Split(cc, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		switch {
		case d == "no-store" || d == "no-cache":
			return minDirectoryTTL
		case strings.HasPrefix(d, "max-age="):
			if n, err := strconv.ParseInt(strings.Trim(d[len("max-age="):], `"`), 10, 64); err == nil && n >= 0 {
				ttl = time.Duration(min(n, int64(maxDirectoryTTL/time.Second))) * time.Second
			}
		}
	}
	return max(minDirectoryTTL, min(ttl, maxDirectoryTTL))
}

// parseOrigin checks a Signature-Agent URL of the directory type: an https
// origin (RFC 6454: scheme, host, optional port; an empty path or "/", no
// user, query or fragment) whose host is a DNS name, not an address. It
// returns the origin as fetched and the agent's identity (the host, with
// the port when not 443).
func parseOrigin(s string) (origin, identity string, err error) {
	if len(s) > maxOriginLength+len("https://")+1 {
		return "", "", fmt.Errorf("Signature-Agent URL is too long")
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", "", fmt.Errorf("Signature-Agent %q: %v", s, err)
	}
	if u.Scheme != "https" || u.User != nil || u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", "", fmt.Errorf("Signature-Agent %q is not an https origin", s)
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if !dnsName(host) {
		return "", "", fmt.Errorf("Signature-Agent %q: the host is not a DNS name", s)
	}
	identity = host
	if p := u.Port(); p != "" && p != "443" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return "", "", fmt.Errorf("Signature-Agent %q: bad port", s)
		}
		identity = net.JoinHostPort(host, strconv.FormatUint(n, 10))
	}
	return "https://" + identity, identity, nil
}

// dnsName reports whether h is a DNS name of letters, digits and hyphens
// with at least one dot and a label that is not all digits at the end.
func dnsName(h string) bool {
	if len(h) == 0 || len(h) > 253 || !strings.Contains(h, ".") {
		return false
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !isLCAlpha(c) && !isDigit(c) && c != '-' {
				return false
			}
		}
	}
	last := labels[len(labels)-1]
	return strings.TrimLeft(last, "0123456789") != ""
}

// dirEntry is a cached directory: keys nil for one whose fetch failed.
type dirEntry struct {
	origin     string
	keys       keySet
	fresh      time.Time // refetch after
	staleUntil time.Time // unusable after (keys != nil)
	retryAt    time.Time // no fetch before
	static     bool      // configured by the operator: never fetched or dropped
}

// dirCache holds directories by origin, least recently used first out.
type dirCache struct {
	mu       sync.Mutex
	max      int
	lru      *list.List // of *dirEntry, most recent at the front
	m        map[string]*list.Element
	inflight map[string]bool
	minute   int64 // unix minute of count
	count    int   // fetches started in that minute
}

func newDirCache(maxEntries int) *dirCache {
	return &dirCache{max: max(1, maxEntries), lru: list.New(), m: map[string]*list.Element{}, inflight: map[string]bool{}}
}

// lookup returns origin's keys (nil if none usable) and whether a fetch
// should start now (claimed: the caller must call done).
func (c *dirCache) lookup(origin string, now time.Time, canFetch bool) (keySet, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var keys keySet
	want := true
	if el, ok := c.m[origin]; ok {
		e := el.Value.(*dirEntry)
		c.lru.MoveToFront(el)
		switch {
		case e.static:
			return e.keys, false
		case e.keys != nil && now.After(e.staleUntil):
			c.lru.Remove(el)
			delete(c.m, origin)
		case e.keys != nil:
			keys = e.keys
			want = !now.Before(e.fresh) && !now.Before(e.retryAt)
		default:
			want = !now.Before(e.retryAt)
		}
	}
	if !want || !canFetch || c.inflight[origin] || len(c.inflight) >= maxConcurrentFetch {
		return keys, false
	}
	if m := now.Unix() / 60; m != c.minute {
		c.minute, c.count = m, 0
	}
	if c.count >= maxFetchPerMinute {
		return keys, false
	}
	c.count++
	c.inflight[origin] = true
	return keys, true
}

// done records a fetch's outcome.
func (c *dirCache) done(origin string, keys keySet, ttl time.Duration, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.inflight, origin)
	if el, ok := c.m[origin]; ok {
		e := el.Value.(*dirEntry)
		if e.static {
			return
		}
		if keys == nil {
			// A failure is not evidence: the cached keys stay (until
			// staleUntil), and the next try waits.
			e.retryAt = now.Add(retryAfterFailure)
			return
		}
		e.keys, e.fresh, e.staleUntil, e.retryAt = keys, now.Add(ttl), now.Add(ttl+maxStale), time.Time{}
		c.lru.MoveToFront(el)
		return
	}
	e := &dirEntry{origin: origin, keys: keys, retryAt: now.Add(retryAfterFailure)}
	if keys != nil {
		e.fresh, e.staleUntil, e.retryAt = now.Add(ttl), now.Add(ttl+maxStale), time.Time{}
	}
	c.add(e)
}

// add inserts e, dropping when full the least recently used failed fetch
// (only a note not to retry soon: any client can name agents whose fetch
// fails, and those must not push working directories out), else the least
// recently used fetched entry.
func (c *dirCache) add(e *dirEntry) {
	if el, ok := c.m[e.origin]; ok {
		c.lru.Remove(el)
		delete(c.m, e.origin)
	}
	for c.lru.Len() >= c.max {
		el := c.lru.Back()
		for el != nil && (el.Value.(*dirEntry).static || el.Value.(*dirEntry).keys != nil) {
			el = el.Prev()
		}
		if el == nil {
			el = c.lru.Back()
		}
		for el != nil && el.Value.(*dirEntry).static {
			el = el.Prev()
		}
		if el == nil {
			break
		}
		c.lru.Remove(el)
		delete(c.m, el.Value.(*dirEntry).origin)
	}
	c.m[e.origin] = c.lru.PushFront(e)
}

// len is the number of cached directories.
func (c *dirCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
