package engine

import (
	"net/http"
	"strings"
	"time"
)

// Grant caching (nginx's proxy_cache on the auth subrequest of the
// locations that include deploy/nginx/palisade-static.conf; Apache's
// mod_palisade): a web server may answer a request with a grant Palisade
// gave a request with the same cache key a moment ago, without asking
// again. The key is everything the verdict reads: the website (its server
// key), the host, the method, the full URI (path and query: rules and the
// website firewall read both), the protocol, the client address, and the
// headers below — and nothing else reaches the engine: nginx's
// /_palisade/auth-static location passes Palisade these headers and no
// others, so a header outside the key can change no cached verdict (at the
// price that the website firewall and custom rules do not see other
// headers there, which is why it is for locations that serve files only;
// every other location passes every header and caches nothing), and
// mod_palisade keys its cache on the whole verdict request it sent. See
// docs/INTEGRATIONS.md, "The grant cache".
//
// Engine.GrantCache says, per verdict, whether and for how long it may be
// reused: never for anything but a grant, never on a website with a rate
// limit (every request counts) or with a rule that reads a header outside
// the key, never for a grant that rests on something that may lapse or
// that is recorded each time (a clearance, a signed agent, a verified bot,
// a built-in grant, a firewall finding in detect mode, monitor mode), and
// only for a request whose every header is in the key, once.

// CacheKeyHeaders are the visitor's request headers that a cached grant is
// keyed on (canonical names), in the order of the shipped nginx
// configuration's proxy_cache_key. They are every header the engine reads
// by name (anomalies, signatures, signed agents, built-in grants, the
// clearance) and every header the website firewall's prefilter knows
// (waf prefilterClean), less those nginx never passes to Palisade
// (Connection, Te, Upgrade: hop-by-hop; X-Real-Ip, X-Forwarded-Proto,
// X-Forwarded-Host and the X-Original-* and X-Palisade-* names: set or
// removed by the configuration itself). cachekey_test.go checks the list
// against the engine's and the prefilter's code and the corpus;
// deploy/nginx_cache_test.go checks the configuration against the list.
var CacheKeyHeaders = []string{
	// What a browser sends (the prefilter's list).
	"User-Agent", "Accept", "Accept-Language", "Accept-Encoding", "Cookie", "Referer", "Origin",
	"Cache-Control", "Pragma", "Upgrade-Insecure-Requests", "Sec-Gpc", "Dnt",
	"Sec-Fetch-Site", "Sec-Fetch-Mode", "Sec-Fetch-Dest", "Sec-Fetch-User",
	"Sec-Ch-Ua", "Sec-Ch-Ua-Mobile", "Sec-Ch-Ua-Platform", "Priority", "Sec-Purpose", "Purpose",
	"X-Requested-With", "If-None-Match", "If-Modified-Since",
	// Credentials and content (built-in api_credentials; the firewall).
	"Authorization", "Content-Type",
	// The clearance of a single-page app; Web Bot Auth.
	"X-Palisade-Token", "Signature", "Signature-Input", "Signature-Agent",
	// Requests that are not page loads (anomalies' exemptions).
	"Access-Control-Request-Method", "Sec-Websocket-Key",
	// Proxies and CDNs in front of the web server (self_calls, anomalies).
	"X-Forwarded-For", "Forwarded", "Via", "Cdn-Loop", "Cf-Ray", "Cf-Connecting-Ip", "True-Client-Ip",
	"Fastly-Client-Ip", "X-Client-Ip", "X-Amz-Cf-Id", "X-Amzn-Trace-Id", "Akamai-Origin-Hop", "X-Azure-Ref",
	"X-Sucuri-Clientip", "Incap-Client-Ip", "X-Varnish",
	// Vulnerability scanners that send a browser's user agent (anomalies).
	"Acunetix-Aspect", "Acunetix-Product", "Acunetix-Scanning-Agreement", "Acunetix-User-Agreement",
	"Acunetix-Aspect-Password", "Acunetix-Aspect-Queries", "X-Wipp", "X-Scan-Memo", "X-Request-Memo",
	"X-Requestmanager-Memo", "X-Scanner",
}

var cacheKeySet = func() map[string]bool {
	m := make(map[string]bool, len(CacheKeyHeaders))
	for _, h := range CacheKeyHeaders {
		m[h] = true
	}
	return m
}()

// InCacheKey reports whether the header (canonical name) is in
// CacheKeyHeaders.
func InCacheKey(name string) bool { return cacheKeySet[name] }

// DefaultGrantCache is how long a cacheable grant may be reused unless
// SetGrantCache says otherwise.
const DefaultGrantCache = 5 * time.Second

// MaxGrantCache bounds SetGrantCache: a rule or limit change, or a new
// deny list entry, must reach a visitor within this.
const MaxGrantCache = time.Minute

// SetGrantCache sets how long a cacheable grant may be reused (whole
// seconds; at most MaxGrantCache); 0 makes no grant cacheable.
func (e *Engine) SetGrantCache(d time.Duration) {
	d = d.Truncate(time.Second)
	if d < 0 {
		d = 0
	}
	if d > MaxGrantCache {
		d = MaxGrantCache
	}
	e.grantCache.Store(int64(d))
}

// GrantCacheLifetime is the lifetime SetGrantCache set.
func (e *Engine) GrantCacheLifetime() time.Duration { return time.Duration(e.grantCache.Load()) }

// GrantCache reports how long a web server may answer requests with r's
// cache key (CacheKeyHeaders) with v, the verdict Decide gave r under p,
// without asking again: 0 when it may not. It allocates nothing.
func (e *Engine) GrantCache(p *Policy, r *Request, v *Verdict) time.Duration {
	d := e.reusable(p, r, v)
	if d == 0 {
		return 0
	}
	// Only a request that carries nothing beyond the key: anything else
	// could have changed the verdict (the website firewall reads every
	// header) yet would not change the key.
	for name, vs := range r.Header {
		if len(vs) != 1 || !cacheKeySet[name] && !integrationHeader(r, name) {
			return 0
		}
	}
	return d
}

// PassLifetime reports how long the client of r, granted v under p, may
// fetch the website's files without asking again (deploy/nginx's asset
// pass: palisade-static.conf's locations answer a request that carries a
// valid pass without a verdict): 0 when it may not. The conditions are
// GrantCache's but for r's headers: r is a page request judged on every
// header, and a pass covers only the same client address, host and user
// agent in the locations that serve files, which are judged on the key
// headers alone anyway (docs/INTEGRATIONS.md, "The asset pass"). A pass
// lives as long as a cached grant, so that a rate limit, rule or list
// change reaches its holder within the same time.
//
// A pass covers every path of the website's file locations, not the one
// path judged: so none on a website with a custom rule (a rule may read
// the path, the query or the method) or under a virtual patch (the
// operator's, the partner's: they name paths), where each file is asked
// about (and its grant cached per URI) as before.
func (e *Engine) PassLifetime(p *Policy, r *Request, v *Verdict) time.Duration {
	if p == nil || len(p.rules) > 0 || (!p.noWAF && (p.patches[0] != nil || p.patches[1] != nil)) {
		return 0
	}
	return e.reusable(p, r, v)
}

// Now is the engine's clock.
func (e *Engine) Now() time.Time { return e.now() }

// reusable is GrantCache's test of everything but r's headers.
func (e *Engine) reusable(p *Policy, r *Request, v *Verdict) time.Duration {
	d := time.Duration(e.grantCache.Load())
	if d <= 0 || p == nil || !p.cacheable || v.Action != Grant || v.Monitored || v.Unprotected || v.WAF != nil {
		return 0
	}
	switch v.Source {
	case SourceList:
		// The allow lists: the client address alone, which is in the key.
	case SourceRule:
		// A rule's grant: p.cacheable says every rule reads only the key.
	case SourceCategory:
		// Humans only: no signature (so no verified owner, whose ranges
		// or reverse DNS may change), and not lifted by a clearance
		// (Reason "clearance"), which expires when it expires.
		if v.Category != Humans || v.Reason != "humans" {
			return 0
		}
	default:
		// Built-in grants (they read the web server's own address, feeds,
		// webhooks' methods) and anything newer: asked each time.
		return 0
	}
	if r.Body != nil || r.BodyTruncated || r.SignedAgent != "" || (r.Method != "GET" && r.Method != "HEAD") {
		return 0
	}
	return d
}

func integrationHeader(r *Request, name string) bool {
	for _, h := range r.IntegrationHeaders {
		if h == name {
			return true
		}
	}
	return false
}

// cacheBlocker says why no grant of a website with settings s may be
// cached ("": grants may be): its rate limits count every request, and a
// rule that reads a header outside the key (a condition on one, or an
// expression over headers) could decide otherwise for a request with the
// same key.
func cacheBlocker(s Settings) string {
	if len(s.RateLimits) > 0 {
		return "rate limits"
	}
	for _, r := range s.Rules {
		if r.Enabled != nil && !*r.Enabled {
			continue
		}
		for _, c := range r.Conditions {
			if c.Field == "header" && !cacheKeySet[http.CanonicalHeaderKey(c.Header)] {
				return "rule " + r.Name + " reads header " + c.Header
			}
		}
		if strings.Contains(r.Expression, "headers") {
			return "rule " + r.Name + " reads headers"
		}
	}
	return ""
}

// GrantCacheBlocker says why no grant of this website may be cached ("":
// grants may be).
func (p *Policy) GrantCacheBlocker() string { return p.cacheBlock }
