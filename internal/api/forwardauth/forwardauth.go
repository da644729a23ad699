// Package forwardauth serves the forward-auth endpoints that nginx
// (auth_request), Caddy (forward_auth), Traefik (ForwardAuth) and the Go
// middleware call before serving each request of a protected website.
//
// Each integration has its own endpoint, which reads only the headers that
// integration's web server sets (and overwrites) itself; a header a visitor
// sends that its web server passes on unchanged is never believed:
//
//	/forward-auth/nginx    X-Original-Method, -Uri, -Host, -Protocol; X-Real-IP    (deploy/nginx)
//	/forward-auth/nginx-static  as nginx; the grant cache of palisade-static.conf  (deploy/nginx)
//	/forward-auth/caddy    X-Forwarded-Method, -Uri, -Host; X-Forwarded-For       (deploy/caddy)
//	/forward-auth/traefik  X-Forwarded-Method, -Uri, -Host; X-Forwarded-For       (deploy/traefik)
//	/forward-auth/apache   X-Original-Method, -Uri, -Host, -Protocol; X-Real-IP    (deploy/apache/mod_palisade)
//	/forward-auth          X-Original-Method, -Uri, -Host, -Protocol; X-Real-IP    (Go middleware, older nginx snippets)
//	                       X-Original-Body: full|truncated: this request's body is the original's (its first 128 KiB)
//
// The client address is believed only from a --web-server peer (default
// loopback); from anyone else it is the peer itself. X-Forwarded-For counts
// from the right: the right-most address that is not a web server.
//
// The website's server key comes in X-Palisade-Key (or the key query
// parameter, for Traefik, which cannot add headers). The answer is 200 to
// serve the request. Otherwise (Caddy, Traefik, the middleware: they pass
// the answer on to the client) 403 with a page for deny and challenge, and
// 302 for redirect; nginx (/forward-auth/nginx, or /forward-auth with
// X-Palisade-Mode: nginx: auth_request accepts only 2xx, 401 and 403) gets
// 403 for deny and 401 for challenge, captcha and redirect, which the nginx
// snippet routes with error_page. Every answer carries X-Palisade-Action,
// X-Palisade-Reason, X-Palisade-Fail-Mode and X-Palisade-Cache.
//
// X-Palisade-Cache is how many seconds the web server may answer requests
// with the same cache key (engine.CacheKeyHeaders and the request line,
// host and client address) with this answer without asking again: 0 for
// all but the grants engine.GrantCache allows, and only on the endpoints
// whose callers key a cache on everything the verdict read
// (Contract.Cacheable): /forward-auth/nginx-static (deploy/nginx's
// palisade-static.conf, for locations that serve files) and
// /forward-auth/apache. The nginx endpoints answer X-Accel-Expires too,
// which nginx's proxy_cache honours over everything: /forward-auth/nginx
// always 0 (nginx never caches its verdicts, even under a micro-cache the
// auth location inherits), /forward-auth/nginx-static the grant's lifetime.
// A grant on /forward-auth/nginx carries X-Palisade-Granted: all (every
// header was judged: palisade.conf then passes a later check of the same
// request after an internal redirect) and, when engine.PassLifetime
// allows, X-Palisade-Pass, the asset pass (pass.go).
package forwardauth

import (
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/palisadehq/palisade/internal/challenge"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/protect"
	"github.com/palisadehq/palisade/internal/proxy/bodypeek"
	"github.com/palisadehq/palisade/internal/routes"
)

// Contract is one integration's header contract: which headers carry the
// original request and its client, as that integration's web server sets
// them. An endpoint reads these and no others.
type Contract struct {
	Name                     string
	Path                     string
	Method, URI, Host, Proto string // header names; Proto "": the visitor's protocol is not sent
	ClientHeader             string // netutil.XRealIP or netutil.XForwardedFor
	// Body is the header that says this request's own body is the
	// original request's (its first bodypeek.Max bytes): "full" or
	// "truncated" (there was more). "": the integration passes no body.
	Body         string
	NginxAnswers bool // 401/403 only (auth_request)
	// Cacheable: the caller keys a cache on everything the verdict read
	// (and passes nothing else), so a grant engine.GrantCache allows may be
	// marked reusable. Every other endpoint marks every answer "not
	// reusable" (X-Palisade-Cache: 0, and X-Accel-Expires: 0 for nginx).
	Cacheable bool
	// CountableCache: a grant is marked reusable only when its
	// X-Palisade-Reason names a category (engine.ParseCategory), the only
	// reason a reuse report (internal/api/reuselog) can be counted under:
	// every reused grant is counted.
	CountableCache bool
	// Pass: a grant engine.PassLifetime allows carries an asset pass for
	// the client (X-Palisade-Pass, pass.go), which palisade-pass.conf sets as a
	// cookie and palisade-static.conf's locations check themselves.
	Pass bool
	// AllHeaders: the caller passes every header of the visitor's
	// (palisade.conf's /_palisade/auth), and a grant says so with
	// X-Palisade-Granted: all, which lets nginx answer a later check of the
	// same request (after an internal redirect) at once. A grant on
	// /forward-auth/nginx-static, which sees the grant cache's headers
	// only, never carries it.
	AllHeaders bool
	ModeHeader bool // X-Palisade-Mode: nginx selects NginxAnswers (legacy /forward-auth)
	client     func(*http.Request, protect.Trusted) netip.Addr
	// The canonical forms of the names above, read straight from the map.
	methodKey, uriKey, hostKey, protoKey, clientKey string
}

// ownHeaders are the headers the integration's web server sets on the
// verdict request itself.
func (c Contract) ownHeaders() []string {
	return []string{c.Method, c.URI, c.Host, c.Proto, c.ClientHeader, c.Body}
}

// Contracts are the forward-auth endpoints, one per integration.
var Contracts = []Contract{
	{Name: "nginx", Path: "/forward-auth/nginx", Method: "X-Original-Method", URI: "X-Original-Uri", Host: "X-Original-Host", Proto: "X-Original-Protocol",
		ClientHeader: "X-Real-Ip", NginxAnswers: true, Pass: true, AllHeaders: true, client: protect.RealIP},
	// nginx's static-file locations (deploy/nginx/palisade-static.conf):
	// the auth location /_palisade/auth-static keys its grant cache on
	// engine.CacheKeyHeaders and passes only those headers; nginx reports
	// the grants it reuses to --reuse-addr (internal/api/reuselog).
	{Name: "nginx-static", Path: "/forward-auth/nginx-static", Method: "X-Original-Method", URI: "X-Original-Uri", Host: "X-Original-Host", Proto: "X-Original-Protocol",
		ClientHeader: "X-Real-Ip", NginxAnswers: true, Cacheable: true, CountableCache: true, client: protect.RealIP},
	{Name: "caddy", Path: "/forward-auth/caddy", Method: "X-Forwarded-Method", URI: "X-Forwarded-Uri", Host: "X-Forwarded-Host",
		ClientHeader: "X-Forwarded-For", client: protect.ForwardedFor},
	{Name: "traefik", Path: "/forward-auth/traefik", Method: "X-Forwarded-Method", URI: "X-Forwarded-Uri", Host: "X-Forwarded-Host",
		ClientHeader: "X-Forwarded-For", client: protect.ForwardedFor},
	// Apache's native module (deploy/apache/mod_palisade) builds each
	// verdict request itself from the visitor's request: it sets these
	// names and drops any the visitor sent. It relays the answer (the page
	// with 403, or 302) to the visitor as it is.
	{Name: "apache", Path: "/forward-auth/apache", Method: "X-Original-Method", URI: "X-Original-Uri", Host: "X-Original-Host", Proto: "X-Original-Protocol",
		ClientHeader: "X-Real-Ip", Cacheable: true, CountableCache: true, client: protect.RealIP},
	{Name: "generic", Path: "/forward-auth", Method: "X-Original-Method", URI: "X-Original-Uri", Host: "X-Original-Host", Proto: "X-Original-Protocol",
		ClientHeader: "X-Real-Ip", ModeHeader: true, Body: "X-Original-Body", client: protect.RealIP},
}

// BodyTimeout bounds the wait for a body the caller said it sends
// (X-Original-Body): the Go middleware sends it from memory at once.
const BodyTimeout = 2 * time.Second

// Handler answers forward-auth requests.
type Handler struct {
	p       *protect.Protector
	trusted protect.Trusted
	log     *slog.Logger
	// decide is p.Decide (tests watch the requests the engine gets).
	decide func(*engine.Policy, *engine.Request) engine.Verdict
}

// New returns the handler. trusted are the web servers (--web-server) whose
// forwarded client address is believed.
func New(p *protect.Protector, trusted protect.Trusted, log *slog.Logger) *Handler {
	return &Handler{p: p, trusted: trusted, log: log, decide: p.Decide}
}

// Register adds an endpoint per integration (any method) and
// /forward-auth/page to mux, each handler passed through wrap (for
// metrics).
func (h *Handler) Register(mux routes.Mux, wrap func(name string, h http.Handler) http.Handler) {
	for _, c := range Contracts {
		name := "forward-auth"
		if c.Name != "generic" {
			name += "-" + c.Name
		}
		mux.Handle(c.Path, wrap(name, h.endpoint(c)))
	}
	mux.Handle("GET /forward-auth/page", wrap("forward-auth-page", http.HandlerFunc(h.page)))
}

// Endpoint reports whether path is a verdict endpoint of a contract: the
// requests the server's fast front (package h1) may answer itself.
func Endpoint(path string) bool {
	for i := range Contracts {
		if Contracts[i].Path == path {
			return true
		}
	}
	return false
}

// page renders the page for a verdict the web server received as 401 or
// refused itself (nginx's error_page, Apache's ErrorDocument, HAProxy): the
// web server passes the action and reason back in headers, with the
// original URI and host in X-Original-Uri and X-Original-Host and the client
// in X-Real-IP, all of which it sets.
//
// Without X-Palisade-Key the website is found by X-Original-Host, else the
// Host header (Apache's fail-open snippet, which knows no key).
func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	var pol *engine.Policy
	if key := r.Header.Get("X-Palisade-Key"); key != "" {
		pol, _ = h.p.Engine.ByServerKey(key)
	} else {
		host := r.Header.Get("X-Original-Host")
		if host == "" {
			host = r.Host
		}
		pol = h.p.Engine.ByDomain(host)
	}
	if pol == nil {
		// The visitor reads this page: a neutral one in its language; the
		// web server's operator reads why in X-Palisade-Error.
		w.Header().Set("X-Palisade-Error", "unknown website (send X-Palisade-Key or the website's Host)")
		h.p.ErrorPage(w, r, nil, http.StatusForbidden, challenge.MsgUnknownSite)
		return
	}
	act, ok := engine.ParseAction(r.Header.Get("X-Palisade-Action"))
	if !ok {
		act = engine.Challenge
	}
	v := engine.Verdict{Action: act, Reason: r.Header.Get("X-Palisade-Reason")}
	if c, ok := engine.ParseCategory(v.Reason); ok {
		v.Source, v.Category = engine.SourceCategory, c // the page names the reason in plain words
	} else if v.Reason == "waf" || v.Reason == "virtual patch" {
		v.Source = engine.SourceWAF // the website firewall's reasons (engine.checkWAF)
	}
	if ref, err := core.ParseRef(r.Header.Get("X-Palisade-Ref")); err == nil {
		v.Ref = ref // the decision's, as its answer gave it to the web server
	}
	h.p.Page(w, r, pol, v, protect.RealIP(r, h.trusted), r.Header.Get("X-Original-Uri"), http.StatusForbidden)
}

// ServeHTTP decides the original request under the generic contract
// (/forward-auth).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.endpoint(Contracts[len(Contracts)-1]).ServeHTTP(w, r)
}

// misconfigured answers 500, which the shipped configurations treat like
// Palisade being unreachable, and says why in X-Palisade-Error.
func misconfigured(w http.ResponseWriter, msg string) {
	w.Header().Set("X-Palisade-Error", msg)
	http.Error(w, "palisade: "+msg, http.StatusInternalServerError)
}

// endpoint decides the original request as integration c describes it.
func (h *Handler) endpoint(c Contract) http.Handler {
	c.methodKey, c.uriKey, c.hostKey, c.clientKey = http.CanonicalHeaderKey(c.Method), http.CanonicalHeaderKey(c.URI), http.CanonicalHeaderKey(c.Host), http.CanonicalHeaderKey(c.ClientHeader)
	if c.Proto != "" {
		c.protoKey = http.CanonicalHeaderKey(c.Proto)
	}
	// The headers the web server set on this verdict request for
	// Palisade: the website firewall does not inspect them (they are not
	// the visitor's; the visitor's own values of these names were replaced).
	var own []string
	for _, name := range append(c.ownHeaders(), "X-Palisade-Key", "X-Palisade-Mode") {
		if name != "" {
			own = append(own, http.CanonicalHeaderKey(name))
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nginx := c.NginxAnswers || (c.ModeHeader && strings.EqualFold(first(r.Header, "X-Palisade-Mode"), "nginx"))
		key := first(r.Header, "X-Palisade-Key")
		if key == "" {
			key = r.URL.Query().Get("key") // Traefik's forwardAuth cannot add headers
		}
		pol, err := h.p.Engine.ByServerKey(key)
		if err != nil {
			// A misconfigured key must not take a site down: answer 500, which
			// the snippets treat like Palisade being unreachable (fail-open or
			// fail-closed as the site chose), and say why.
			misconfigured(w, "unknown or missing server key; send the website's server key in X-Palisade-Key")
			return
		}
		uri := first(r.Header, c.uriKey)
		if uri == "" {
			// Every integration's web server sets the URI; without it the
			// request cannot be judged. (A Caddy or Traefik configuration
			// that still calls /forward-auth lands here: it must call its
			// own endpoint, see docs/INTEGRATIONS.md.)
			misconfigured(w, c.URI+" is missing: "+c.Path+" is the "+c.Name+" endpoint; point each web server at its own (/forward-auth/nginx, /forward-auth/caddy, /forward-auth/traefik, /forward-auth/apache; see docs/INTEGRATIONS.md)")
			return
		}
		path, query := protect.SplitURI(uri)
		host := first(r.Header, c.hostKey)
		if host == "" {
			host = r.Host
		}
		method := first(r.Header, c.methodKey)
		if method == "" {
			method = r.Method
		}
		// The visitor's protocol, when the contract sends it; "" (not
		// judged) otherwise: Caddy and Traefik call over HTTP/1.1 whatever
		// the visitor spoke.
		proto := ""
		if c.protoKey != "" {
			proto = first(r.Header, c.protoKey)
		}
		// The engine request comes from a pool: the decide hook would
		// make a local one escape, one allocation per request.
		req := requests.Get().(*engine.Request)
		defer func() { *req = engine.Request{}; requests.Put(req) }()
		*req = engine.Request{
			IP: c.client(r, h.trusted), Method: method, Host: host, Path: path, Query: query, Proto: proto,
			UserAgent: first(r.Header, "User-Agent"), Referer: first(r.Header, "Referer"), Header: r.Header, Clearance: protect.Clearance(r),
			IntegrationHeaders: own,
		}
		// The web server that asked, when it is one whose client address
		// is believed and it sent one: a client at its address (or
		// loopback) is the site calling itself (builtin self_calls).
		// Headers a proxy in front of that web server adds withdraw it
		// (protect.SelfCallServer).
		if peer := protect.PeerAddr(r.RemoteAddr); h.trusted.Contains(peer) && len(r.Header[c.clientKey]) > 0 {
			req.Server = protect.SelfCallServer(peer, r.Header, c.ownHeaders()...)
		}
		if c.Body != "" {
			if mode := r.Header.Get(c.Body); mode != "" {
				if mode != "full" && mode != "truncated" {
					misconfigured(w, c.Body+" must be full (this request's body is the original's) or truncated (its first 128 KiB), not "+strconv.Quote(mode))
					return
				}
				// The original's body (the caller sends at most
				// bodypeek.Max bytes; more is cut and counts as truncated).
				body, more, err := bodypeek.Request(w, r, bodypeek.Max, BodyTimeout)
				if err != nil {
					misconfigured(w, c.Body+" is set but the body could not be read: "+err.Error())
					return
				}
				req.Body, req.BodyTruncated = body, more || mode == "truncated"
				r.Header.Del(c.Body) // the contract's, not the visitor's: not for the firewall
			}
		}
		v := h.decide(pol, req)
		var ttl time.Duration
		if c.Cacheable && (!c.CountableCache || v.Source == engine.SourceCategory) {
			// Only the endpoints whose callers key a cache on everything
			// the verdict read: palisade-static.conf keys its cache on
			// engine.CacheKeyHeaders and passes no other header
			// (deploy/nginx); Apache's module keys its cache on the whole
			// verdict request it sent, byte for byte
			// (deploy/apache/mod_palisade). /forward-auth/nginx, which gets
			// every header and no cache, never marks a grant reusable.
			ttl = h.p.Engine.GrantCache(pol, req, &v)
		}
		if c.Pass && v.Action == engine.Grant && v.Source == engine.SourceCategory {
			if life := h.p.Engine.PassLifetime(pol, req, &v); life > 0 {
				if cookie := nginxPass(key, r.Header, c, req, v.Reason, h.p.Engine.Now(), life); cookie != "" {
					w.Header()["X-Palisade-Pass"] = []string{cookie}
				}
			}
		}
		if c.AllHeaders && v.Enforced() == engine.Grant {
			w.Header()["X-Palisade-Granted"] = grantedAll
		}
		h.write(w, r, pol, v, req.IP, uri, nginx, c.NginxAnswers, ttl)
	})
}

// requests recycles the engine requests of the endpoints.
var requests = sync.Pool{New: func() any { return new(engine.Request) }}

// first is h's first value of the canonical name key, without the
// canonicalisation Header.Get does.
func first(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Header values the answers share: a value slice of one element (its
// capacity one, so an Add elsewhere copies rather than writes into it) per
// action, fail mode, frequent reason and lifetime, so that answering
// allocates nothing for them. Nothing may write into these slices.
var (
	actionValues   [6][]string
	reasonValues   = map[string][]string{}
	grantedAll     = []string{"all"}
	failOpen       = []string{"open"}
	failClosed     = []string{"closed"}
	noStore        = []string{"no-store"}
	zeroSeconds    = []string{"0"}
	secondValues   [int(engine.MaxGrantCache/time.Second) + 1][]string
	privateMaxAges [int(engine.MaxGrantCache/time.Second) + 1][]string
)

func init() {
	for a := range actionValues {
		actionValues[a] = []string{engine.Action(a).String()}
	}
	for _, c := range engine.Categories() {
		reasonValues[c] = []string{c}
	}
	for _, r := range []string{"allow list", "partner allow list", "deny list", "partner deny list", "clearance", "waf", "virtual patch", "unknown website", "protection off", "website paused", "website setup", "website online"} {
		reasonValues[r] = []string{r}
	}
	for i := range secondValues {
		secondValues[i] = []string{strconv.Itoa(i)}
		privateMaxAges[i] = []string{"private, max-age=" + strconv.Itoa(i)}
	}
}

func values(s string) []string {
	if v, ok := reasonValues[s]; ok {
		return v
	}
	return []string{s}
}

// write answers a verdict in the forward-auth convention. ttl is how long
// the web server may reuse a grant (0: not at all); accel: the caller is
// nginx, whose proxy_cache reads X-Accel-Expires. Headers are assigned
// with their canonical names and shared values: no allocation for them.
func (h *Handler) write(w http.ResponseWriter, r *http.Request, pol *engine.Policy, v engine.Verdict, ip netip.Addr, uri string, nginx, accel bool, ttl time.Duration) {
	hd := w.Header()
	act := v.Enforced()
	if int(act) < len(actionValues) {
		hd["X-Palisade-Action"] = actionValues[act]
	} else {
		hd["X-Palisade-Action"] = []string{act.String()}
	}
	hd["X-Palisade-Reason"] = values(v.Reason)
	if v.Ref != "" {
		// The page's reference ID, for web servers that fetch the page
		// from /forward-auth/page (nginx, HAProxy) and send it back.
		hd["X-Palisade-Ref"] = []string{v.Ref}
	}
	if v.FailClosed {
		hd["X-Palisade-Fail-Mode"] = failClosed
	} else {
		hd["X-Palisade-Fail-Mode"] = failOpen
	}
	if secs := int(ttl / time.Second); act == engine.Grant && secs > 0 && secs < len(secondValues) {
		hd["X-Palisade-Cache"] = secondValues[secs]
		hd["Cache-Control"] = privateMaxAges[secs]
		if accel {
			hd["X-Accel-Expires"] = secondValues[secs]
		}
	} else {
		hd["X-Palisade-Cache"] = zeroSeconds
		hd["Cache-Control"] = noStore
		if accel {
			hd["X-Accel-Expires"] = zeroSeconds
		}
	}
	switch {
	case act == engine.Grant:
		w.WriteHeader(http.StatusOK)
	case act == engine.Redirect:
		hd.Set("X-Palisade-Location", v.Location)
		if nginx {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		hd.Set("Location", v.Location)
		w.WriteHeader(http.StatusFound)
	case nginx && (act == engine.Challenge || act == engine.Captcha):
		w.WriteHeader(http.StatusUnauthorized) // the snippet fetches the page from /forward-auth/page
	case nginx:
		w.WriteHeader(http.StatusForbidden)
	default:
		// deny, challenge, captcha, and return_fake_data (which a web server
		// in front cannot do): the page, relayed to the visitor as it is.
		h.p.Page(w, r, pol, v, ip, uri, http.StatusForbidden)
	}
}
