// Package proxy is Palisade's reverse-proxy mode: it protects applications
// that have no web server in front, deciding each request in-process and
// forwarding granted ones to the application by Host.
package proxy

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
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
	routes  map[string]*httputil.ReverseProxy // by host; "" is the default
	trusted netutil.Proxies
	log     *slog.Logger
	// challenges serves the challenge endpoints under /_palisade/ inline.
	challenges *http.ServeMux
	// BodyTimeout bounds the wait for the part of a request body the
	// website firewall inspects (the first bodypeek.Max bytes, or all of
	// a shorter body); a client that is slower gets 408 and is not
	// forwarded. Default bodypeek.DefaultTimeout.
	BodyTimeout time.Duration
	// decide is p.Decide (tests watch the requests the engine gets).
	decide func(*engine.Policy, *engine.Request) engine.Verdict
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

// New returns a proxy for routes. trusted are load balancers in front of it
// (--trusted-proxy) and the header each sets the client's address in
// (X-Forwarded-For unless configured otherwise); nothing else is believed.
func New(p *protect.Protector, routes []Route, trusted netutil.Proxies, log *slog.Logger) *Proxy {
	if log == nil {
		log = slog.Default()
	}
	px := &Proxy{p: p, routes: map[string]*httputil.ReverseProxy{}, trusted: trusted, log: log, challenges: http.NewServeMux(),
		BodyTimeout: bodypeek.DefaultTimeout, decide: p.Decide}
	p.Challenges().Register(px.challenges)
	for _, rt := range routes {
		up := rt.Upstream
		rp := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(up)
				pr.Out.Host = pr.In.Host // the application sees the site's own Host
				pr.SetXForwarded()
			},
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				log.Warn("upstream unreachable", "host", r.Host, "upstream", up.String(), "err", err)
				p.ErrorPage(w, r, p.Engine.ByDomain(hostOnly(r.Host)), http.StatusBadGateway, challenge.MsgUnreachable)
			},
		}
		px.routes[rt.Host] = rp
	}
	return px
}

func (px *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := hostOnly(r.Host)
	rp := px.routes[host]
	if rp == nil {
		rp = px.routes[""]
	}
	if rp == nil {
		px.p.ErrorPage(w, r, nil, http.StatusMisdirectedRequest, challenge.MsgUnknownSite)
		return
	}
	client := netutil.ClientAddr(r, px.trusted)
	if strings.HasPrefix(r.URL.Path, challenge.Prefix) {
		px.challenges.ServeHTTP(w, px.asWebServer(r, client))
		return
	}
	req := protect.FromHTTP(r, client)
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
	v := px.decide(pol, &req)
	switch v.Enforced() {
	case engine.Grant:
		rp.ServeHTTP(w, r)
		return
	case engine.Redirect:
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, v.Location, http.StatusFound)
		return
	}
	px.p.Page(w, r, pol, v, req.IP, r.URL.RequestURI(), http.StatusForbidden)
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
