// Package middleware protects a Go web application with Palisade in one
// line:
//
//	handler = middleware.Protect(handler, middleware.Config{
//		Endpoint:  "http://127.0.0.1:8080", // the website's nodes.primary
//		ServerKey: "sk_...",                // the website's server_key
//	})
//
// Each request is first sent to Palisade's forward-auth endpoint (method,
// host, URI, client address and headers; never the body) over a pooled
// keep-alive connection with a short timeout. A grant passes the request to
// the application; anything else is answered with Palisade's own answer (the
// deny or challenge page, or a redirect). When Palisade cannot be reached the
// request is served (fail-open) unless the website is set to fail closed —
// the middleware learns that from Palisade's answers — or Config.FailClosed
// is set.
package middleware

import (
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
)

// Config configures the middleware.
type Config struct {
	// Endpoint is Palisade's base URL (the website's nodes.primary).
	Endpoint string
	// Fallback is tried when Endpoint cannot be reached (nodes.secondary).
	Fallback string
	// ServerKey is the website's server key.
	ServerKey string
	// Timeout bounds one check (default 500ms).
	Timeout time.Duration
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
	resp, err := g.check(r, g.cfg.Endpoint)
	if err != nil && g.cfg.Fallback != "" {
		resp, err = g.check(r, g.cfg.Fallback)
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

// errStatus is a check that Palisade answered with a server error.
var errStatus = errors.New("palisade answered with a server error")

func (g *guard) check(r *http.Request, base string) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.Timeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/forward-auth", nil)
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
