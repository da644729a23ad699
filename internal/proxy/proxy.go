// Package proxy is Palisade's reverse-proxy mode: it protects applications
// that have no web server in front, deciding each request in-process and
// forwarding granted ones to the application by Host.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/palisadehq/palisade/internal/challenge"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/netutil"

	"github.com/palisadehq/palisade/internal/protect"
	"github.com/palisadehq/palisade/internal/proxy/bodypeek"
)

// Proxy decides and forwards.
type Proxy struct {
	p       *protect.Protector
	routes  map[string]*route // by host; "" is the default
	trusted netutil.Proxies
	log     *slog.Logger
	// challenges serves the challenge endpoints under /_palisade/ inline.
	challenges *http.ServeMux
	// BodyTimeout bounds the wait for the part of a request body the
	// website firewall inspects (the first bodypeek.Max bytes, or all of
	// a shorter body); a client that is slower gets 408 and is not
	// forwarded. Default bodypeek.DefaultTimeout.
	BodyTimeout time.Duration
	opt         Options
	transport   *http.Transport
	buffers     *bufferPool
	writers     sync.Pool // of *clientWriter
	// decide is p.Decide (tests watch the requests the engine gets).
	decide func(*engine.Policy, *engine.Request) engine.Verdict
	// noRaw turns the raw relay off (tests compare it with relay's);
	// rawRelayed counts the answers it relayed.
	noRaw      bool
	rawRelayed atomic.Int64
}

// Options are the proxy's limits and its connection pool; a zero field
// takes its default.
type Options struct {
	// ConnectTimeout bounds connecting to an upstream (and a TLS
	// handshake with an https:// one): past it the visitor gets 504.
	// Default 5 s.
	ConnectTimeout time.Duration
	// UpstreamTimeout is the longest an upstream may stay silent: from a
	// request sent to its response's headers (past it, 504), and between
	// two reads of a response body or of a WebSocket (past it, the
	// response or the WebSocket is cut), as nginx's proxy_read_timeout.
	// Default 60 s.
	UpstreamTimeout time.Duration
	// ClientTimeout is the longest a visitor may stay silent while it
	// sends its body, or not take the response (nginx's
	// client_body_timeout and send_timeout); past it the connection is
	// closed. Default 60 s.
	ClientTimeout time.Duration
	// IdleConns is how many idle keep-alive connections are kept per
	// upstream (default 512; at least the busy connections you expect,
	// or connections are opened and closed for each request).
	IdleConns int
	// IdleTimeout closes an upstream connection idle for that long
	// (default 60 s; at most UpstreamTimeout).
	IdleTimeout time.Duration
	// BodyTimeout sets Proxy.BodyTimeout (default bodypeek.DefaultTimeout).
	BodyTimeout time.Duration
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ConnectTimeout, DefaultConnectTimeout)
	def(&o.UpstreamTimeout, DefaultUpstreamTimeout)
	def(&o.ClientTimeout, DefaultClientTimeout)
	def(&o.IdleTimeout, DefaultIdleTimeout)
	def(&o.BodyTimeout, bodypeek.DefaultTimeout)
	if o.IdleConns <= 0 {
		o.IdleConns = DefaultIdleConns
	}
	return o
}

// Route sends one site's requests to an upstream. Host "" matches every
// host that has no route of its own.
type Route struct {
	Host     string
	Upstream *url.URL
}

// ParseRoute reads "host=http://upstream" (or "http://upstream" alone for
// the default route).
func ParseRoute(s string) (Route, error) {
	host, up, ok := strings.Cut(s, "=")
	if !ok {
		host, up = "", s
	}
	u, err := url.Parse(strings.TrimSpace(up))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Route{}, fmt.Errorf("upstream %q must be an http:// or https:// URL", up)
	}
	return Route{Host: strings.ToLower(strings.TrimSpace(host)), Upstream: u}, nil
}

// New returns a proxy for routes with the default Options. trusted are load
// balancers in front of it (--trusted-proxy) and the header each sets the
// client's address in (X-Forwarded-For unless configured otherwise);
// nothing else is believed.
func New(p *protect.Protector, routes []Route, trusted netutil.Proxies, log *slog.Logger) *Proxy {
	return NewWith(p, routes, trusted, log, Options{})
}

// NewWith is New with opt's limits.
func NewWith(p *protect.Protector, routes []Route, trusted netutil.Proxies, log *slog.Logger, opt Options) *Proxy {
	if log == nil {
		log = slog.Default()
	}
	opt = opt.withDefaults()
	dial := dialer(opt)
	px := &Proxy{p: p, routes: map[string]*route{}, trusted: trusted, log: log, challenges: http.NewServeMux(),
		BodyTimeout: opt.BodyTimeout, opt: opt, transport: newTransport(opt, dial), buffers: &bufferPool{}, decide: p.Decide}
	p.Challenges().Register(px.challenges)
	// Errors while a response is already under way (a visitor that left
	// in the middle of a download) are no one's fault: debug level.
	errLog := slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	for _, rt := range routes {
		up := rt.Upstream
		rp := &httputil.ReverseProxy{
			// Rewrite, not Director: the visitor's Forwarded and
			// X-Forwarded-* are dropped before it runs, and hop-by-hop
			// headers (Connection and those it names, Keep-Alive, TE,
			// Upgrade but for a WebSocket's own) are removed.
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(up)
				pr.Out.Host = pr.In.Host // the application sees the site's own Host
				px.setForwarded(pr)
			},
			Transport:  px.transport,
			BufferPool: px.buffers,
			// http.ReadResponse takes any three digits: a status below
			// 100 is not one a server can pass on (WriteHeader panics).
			ModifyResponse: func(res *http.Response) error {
				if res.StatusCode < 100 || res.StatusCode > 999 {
					return fmt.Errorf("the upstream answered status %03d, which is not an HTTP status", res.StatusCode)
				}
				return nil
			},
			ErrorLog:     errLog,
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) { px.upstreamError(w, r, up, err) },
		}
		px.routes[rt.Host] = &route{rp: rp, direct: newDirect(up, &px.opt, dial)}
	}
	return px
}

// route is one upstream's two paths: the direct one for bodiless requests
// to an http:// upstream (nil when the upstream is not such), and
// ReverseProxy for the rest.
type route struct {
	rp     *httputil.ReverseProxy
	direct *direct
}

// Shared read-only header values.
var (
	protoHTTP  = []string{"http"}[:1:1]
	protoHTTPS = []string{"https"}[:1:1]
)

// setForwarded tells the application who asked, as the decision saw it:
// X-Forwarded-For and X-Real-IP are the client's address (the peer, or
// what a --trusted-proxy said), X-Forwarded-Proto https when the
// connection or a trusted proxy says so, X-Forwarded-Host the Host. Each
// replaces the visitor's own copy; Forwarded is removed.
func (px *Proxy) setForwarded(pr *httputil.ProxyRequest) {
	h := pr.Out.Header
	if client := netutil.ClientAddr(pr.In, px.trusted); client.IsValid() {
		ip := []string{client.String()}[:1:1]
		h["X-Forwarded-For"], h["X-Real-Ip"] = ip, ip
	} else {
		delete(h, "X-Forwarded-For")
		delete(h, "X-Real-Ip")
	}
	h["X-Forwarded-Host"] = []string{pr.In.Host}
	if netutil.HTTPS(pr.In, px.trusted) {
		h["X-Forwarded-Proto"] = protoHTTPS
	} else {
		h["X-Forwarded-Proto"] = protoHTTP
	}
}

// upstreamError answers a request the upstream did not answer: 504 when it
// timed out (connecting, or silent past UpstreamTimeout), else 502, with
// the short page in the visitor's language (never Go's error text).
func (px *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, up *url.URL, err error) {
	status := http.StatusBadGateway
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		status = http.StatusGatewayTimeout
	}
	if r.Context().Err() != nil {
		// The visitor left (or the proxy is shutting down): not the
		// upstream's fault.
		px.log.Debug("request ended before the upstream answered", "host", r.Host, "upstream", up.String(), "err", err)
	} else {
		px.log.Warn("upstream did not answer", "host", r.Host, "upstream", up.String(), "status", status, "err", err)
	}
	px.p.ErrorPage(w, r, px.p.Engine.ByDomain(hostOnly(r.Host)), status, challenge.MsgUnreachable)
}

func (px *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := hostOnly(r.Host)
	rt := px.routes[host]
	if rt == nil {
		rt = px.routes[""]
	}
	if rt == nil {
		px.p.ErrorPage(w, r, nil, http.StatusMisdirectedRequest, challenge.MsgUnknownSite)
		return
	}
	client := netutil.ClientAddr(r, px.trusted)
	if strings.HasPrefix(r.URL.Path, challenge.Prefix) {
		px.challenges.ServeHTTP(w, px.asWebServer(r, client))
		return
	}
	// The engine's request comes from a pool: px.decide, a function
	// value, would make a local one escape (an allocation per request).
	// Nothing keeps it past ServeHTTP.
	req := engineRequests.Get().(*engine.Request)
	defer func() { *req = engine.Request{}; engineRequests.Put(req) }()
	*req = protect.FromHTTP(r, client)
	// The website firewall sees the first bodypeek.Max bytes of the body;
	// r.Body then yields the whole body again for the upstream (prefix,
	// then the rest, streamed; Content-Length unchanged).
	body, truncated, err := bodypeek.Request(w, r, bodypeek.Max, px.BodyTimeout)
	if err != nil {
		px.badBody(w, r, err)
		return
	}
	req.Body, req.BodyTruncated = body, truncated
	pol := px.p.Engine.ByDomain(host)
	if pol == nil {
		// A Host no website has: forwarding it would reach the upstream
		// with no protection at all (the default route takes every Host).
		px.p.ErrorPage(w, r, nil, http.StatusMisdirectedRequest, challenge.MsgUnknownSite)
		return
	}
	v := px.decide(pol, req)
	switch v.Enforced() {
	case engine.Grant:
		px.forward(rt, w, r)
		return
	case engine.Redirect:
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, v.Location, http.StatusFound)
		return
	}
	px.p.Page(w, r, pol, v, req.IP, r.URL.RequestURI(), http.StatusForbidden)
}

// engineRequests recycles ServeHTTP's engine requests.
var engineRequests = sync.Pool{New: func() any { return new(engine.Request) }}

// forward hands a granted request to its upstream, the visitor's body
// and the response streamed under ClientTimeout.
func (px *Proxy) forward(rt *route, w http.ResponseWriter, r *http.Request) {
	direct := rt.direct != nil && takes(r)
	if !direct && r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		// Not pooled: the transport may read it after ServeHTTP returns.
		r.Body = &clientBody{ReadCloser: r.Body, dl: newIdleDeadline(http.NewResponseController(w), false, px.opt.ClientTimeout)}
	}
	cw, _ := px.writers.Get().(*clientWriter)
	if cw == nil {
		cw = &clientWriter{}
	}
	cw.ResponseWriter, cw.rc = w, *http.NewResponseController(w)
	cw.dl = newIdleDeadline(&cw.rc, true, px.opt.ClientTimeout)
	if direct {
		px.forwardDirect(rt.direct, cw, r)
	} else {
		rt.rp.ServeHTTP(cw, r)
	}
	*cw = clientWriter{}
	px.writers.Put(cw)
}

// CloseIdleConnections closes the upstream connections no request uses.
func (px *Proxy) CloseIdleConnections() {
	px.transport.CloseIdleConnections()
	for _, rt := range px.routes {
		if rt.direct != nil {
			rt.direct.closeIdle()
		}
	}
}

// badBody answers a request whose body could not be read for inspection:
// 408 when it was too slow, 400 when the client broke it off or sent a
// malformed one. Nothing is forwarded; the connection is closed.
func (px *Proxy) badBody(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Set("Connection", "close")
	if errors.Is(err, bodypeek.ErrTimeout) {
		px.log.Info("request body too slow", "host", r.Host, "timeout", px.BodyTimeout.String())
		px.p.ErrorPage(w, r, px.p.Engine.ByDomain(hostOnly(r.Host)), http.StatusRequestTimeout, challenge.MsgBodyTimeout)
		return
	}
	px.log.Debug("request body unreadable", "host", r.Host, "err", err)
	px.p.ErrorPage(w, r, px.p.Engine.ByDomain(hostOnly(r.Host)), http.StatusBadRequest, challenge.MsgBadBody)
}

// asWebServer hands a request for the challenge's endpoints to them as a
// web server in front would: from loopback (which the plane's challenge
// endpoints trust, as palisade proxy has no --web-server), with X-Real-IP
// and X-Forwarded-Proto as this proxy found them and none of the visitor's
// own copies, so the challenge binds to the address decisions see.
func (px *Proxy) asWebServer(r *http.Request, client netip.Addr) *http.Request {
	r2 := r.Clone(r.Context())
	r2.RemoteAddr = "127.0.0.1:0"
	r2.TLS = r.TLS
	for _, h := range []string{"X-Real-Ip", "X-Forwarded-For", "X-Forwarded-Proto"} {
		r2.Header.Del(h)
	}
	r2.Header.Set("X-Real-Ip", client.String())
	if netutil.HTTPS(r, px.trusted) {
		r2.Header.Set("X-Forwarded-Proto", "https")
	} else {
		r2.Header.Set("X-Forwarded-Proto", "http")
	}
	return r2
}

func hostOnly(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	return strings.ToLower(strings.TrimSuffix(h, "."))
}
