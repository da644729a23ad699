// Package middleware protects a Go web application with Palisade in one
// line:
//
//	handler = middleware.Protect(handler, middleware.Config{
//		Endpoint:  "http://127.0.0.1:8080", // the website's nodes.primary
//		ServerKey: "sk_...",                // the website's server_key
//	})
//
// Each request is first sent to Palisade's forward-auth endpoint (method,
// host, URI, client address, headers and the first 128 KiB of the body, for
// the website firewall) over a pooled keep-alive connection with a short
// timeout. The application then receives the whole body, unchanged. A grant passes the request to
// the application; anything else is answered with Palisade's own answer (the
// deny or challenge page, or a redirect). When Palisade cannot be reached the
// request is served (fail-open) unless the website is set to fail closed —
// the middleware learns that from Palisade's answers — or Config.FailClosed
// is set.
package middleware

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/palisadehq/palisade/internal/netutil"
	"github.com/palisadehq/palisade/internal/proxy/bodypeek"
)

// Config configures the middleware.
type Config struct {
	// Endpoint is Palisade's base URL (the website's nodes.primary).
	Endpoint string
	// Fallback is tried when Endpoint cannot be reached (nodes.secondary).
	Fallback string
	// ServerKey is the website's server key.
	ServerKey string
	// Timeout bounds one check (default 500ms). A check of a request with
	// more than 8 KiB of body, headers (cookies) and query together gets
	// BodyCheckTimeout instead: the website firewall may take most of a
	// second over a large request (docs/WAF.md), and a check that times
	// out fails open.
	Timeout time.Duration
	// BodyCheckTimeout bounds the check of a large request (default 3s,
	// and never less than Timeout).
	BodyCheckTimeout time.Duration
	// FailClosed refuses requests (503) while Palisade is unreachable. By
	// default the website's own fail mode, as Palisade last reported it,
	// decides, and fail-open until it has reported one.
	FailClosed bool
	// TrustedProxies are load balancers in front of the application whose
	// X-Forwarded-For is believed for the client address.
	TrustedProxies []netip.Prefix
	// Client sends the checks (default: a keep-alive client for this use).
	Client *http.Client
	// OnError is told when a check fails (default: nothing).
	OnError func(error)
	// SkipBody sends no request body to Palisade: its website firewall
	// then inspects method, URI, headers and cookies only. By default the
	// first 128 KiB of each body go with the check (X-Original-Body), and
	// the application still receives the whole body.
	SkipBody bool
	// BodyTimeout bounds the wait for the part of a body that is sent
	// (default 10s); a client that is slower is answered 408 and the
	// application never sees the request. The wait is enforced through
	// the connection's read deadline (http.ResponseController), which is
	// touched only when it passes; a ResponseWriter that cannot set one
	// leaves only your server's ReadTimeout.
	BodyTimeout time.Duration
}

type guard struct {
	cfg        Config
	next       http.Handler
	failClosed atomic.Bool
}

// Protect wraps next.
func Protect(next http.Handler, cfg Config) http.Handler {
	return New(cfg)(next)
}

// New returns the middleware as a func(http.Handler) http.Handler, for
// routers that chain middleware.
func New(cfg Config) func(http.Handler) http.Handler {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 500 * time.Millisecond
	}
	if cfg.BodyCheckTimeout <= 0 {
		cfg.BodyCheckTimeout = 3 * time.Second
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = bodypeek.DefaultTimeout
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{
			Transport: &http.Transport{
				Proxy:               nil,
				DialContext:         (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
				MaxIdleConns:        256,
				MaxIdleConnsPerHost: 256,
				IdleConnTimeout:     90 * time.Second,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	cfg.Endpoint = strings.TrimRight(cfg.Endpoint, "/")
	cfg.Fallback = strings.TrimRight(cfg.Fallback, "/")
	return func(next http.Handler) http.Handler {
		g := &guard{cfg: cfg, next: next}
		g.failClosed.Store(cfg.FailClosed)
		return g
	}
}

// hop-by-hop headers are not the client's to forward.
var hopHeaders = map[string]bool{"Connection": true, "Keep-Alive": true, "Proxy-Authorization": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_palisade/") {
		g.forward(w, r) // the browser challenge's endpoints, on the app's origin
		return
	}
	// The first bodypeek.Max bytes of the body go with the check; r.Body
	// then yields the whole body again for the application.
	var body []byte
	var more bool
	if !g.cfg.SkipBody {
		var err error
		if body, more, err = bodypeek.Request(w, r, bodypeek.Max, g.cfg.BodyTimeout); err != nil {
			w.Header().Set("Connection", "close")
			if errors.Is(err, bodypeek.ErrTimeout) {
				http.Error(w, "Request timeout", http.StatusRequestTimeout)
			} else {
				http.Error(w, "Bad request body", http.StatusBadRequest)
			}
			return
		}
	}
	resp, err := g.check(r, g.cfg.Endpoint, body, more)
	if err != nil && g.cfg.Fallback != "" {
		resp, err = g.check(r, g.cfg.Fallback, body, more)
	}
	if err != nil {
		if g.cfg.OnError != nil {
			g.cfg.OnError(err)
		}
		if g.failClosed.Load() {
			http.Error(w, "Service temporarily unavailable", http.StatusServiceUnavailable)
			return
		}
		g.next.ServeHTTP(w, r)
		return
	}
	defer resp.Body.Close()
	if !g.cfg.FailClosed {
		g.failClosed.Store(resp.Header.Get("X-Palisade-Fail-Mode") == "closed")
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		io.Copy(io.Discard, resp.Body)
		g.next.ServeHTTP(w, r)
		return
	}
	// Relay Palisade's answer: the page, or the redirect.
	for _, h := range []string{"Content-Type", "Location", "Cache-Control", "Content-Security-Policy", "X-Palisade-Action", "X-Palisade-Reason"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, io.LimitReader(resp.Body, 1<<20))
}

// forward relays a request for the challenge's endpoints (/_palisade/...) to
// Palisade, and its answer (with the clearance cookie) back.
func (g *guard) forward(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*g.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, r.Method, g.cfg.Endpoint+r.URL.RequestURI(), io.LimitReader(r.Body, 64<<10))
	if err != nil {
		http.Error(w, "Bad request", http.StatusBadRequest)
		return
	}
	for _, h := range []string{"Content-Type", "User-Agent", "Accept", "Accept-Language", "Cookie"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	req.Header.Set("X-Palisade-Key", g.cfg.ServerKey)
	req.Header.Set("X-Real-Ip", netutil.ForwardedFor(r, g.cfg.TrustedProxies).String())
	if r.TLS != nil {
		req.Header.Set("X-Forwarded-Proto", "https")
	}
	resp, err := g.cfg.Client.Do(req)
	if err != nil {
		if g.cfg.OnError != nil {
			g.cfg.OnError(err)
		}
		http.Error(w, "Service temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	defer resp.Body.Close()
	for _, h := range []string{"Content-Type", "Location", "Cache-Control", "Content-Security-Policy"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	for _, c := range resp.Header.Values("Set-Cookie") {
		w.Header().Add("Set-Cookie", c)
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, io.LimitReader(resp.Body, 1<<20))
}

// largeBody is the request size (body, headers, query) above which a
// check gets BodyCheckTimeout (about waf.HeavyBytes; the middleware does
// not import the firewall).
const largeBody = 8 << 10

// headerBytes is about how many bytes of headers a request carries.
func headerBytes(h http.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v)
		}
	}
	return n
}

// errStatus is a check that Palisade answered with a server error.
var errStatus = errors.New("palisade answered with a server error")

// check asks base's /forward-auth about r; body (nil: not sent) is the
// first part of r's body, more says there was more.
func (g *guard) check(r *http.Request, base string, body []byte, more bool) (*http.Response, error) {
	timeout := g.cfg.Timeout
	if len(body)+headerBytes(r.Header)+len(r.URL.RawQuery) > largeBody {
		timeout = max(g.cfg.BodyCheckTimeout, timeout)
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	method, rb := http.MethodGet, io.Reader(nil)
	if len(body) > 0 {
		method, rb = http.MethodPost, bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+"/forward-auth", rb)
	if err != nil {
		cancel()
		return nil, err
	}
	for k, v := range r.Header {
		if !hopHeaders[k] && !strings.HasPrefix(k, "X-Palisade-") && !strings.HasPrefix(k, "X-Original-") {
			req.Header[k] = v
		}
	}
	req.Header.Set("X-Palisade-Key", g.cfg.ServerKey)
	req.Header.Set("X-Original-Method", r.Method)
	req.Header.Set("X-Original-Uri", r.URL.RequestURI())
	req.Header.Set("X-Original-Host", r.Host)
	req.Header.Set("X-Original-Protocol", r.Proto)
	req.Header.Set("X-Real-Ip", netutil.ForwardedFor(r, g.cfg.TrustedProxies).String())
	switch {
	case body == nil:
	case more:
		req.Header.Set("X-Original-Body", "truncated") // this body is the original's first part
	default:
		req.Header.Set("X-Original-Body", "full") // this body is the original's
	}
	// X-Forwarded-For goes along as received: /forward-auth never reads
	// it for the address, and it shows a proxy in front of the application
	// (a client at loopback is then that proxy, not the site calling
	// itself: built-in self_calls).
	resp, err := g.cfg.Client.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode >= 500 {
		resp.Body.Close()
		cancel()
		return nil, errStatus
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
