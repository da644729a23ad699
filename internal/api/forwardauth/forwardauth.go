// Package forwardauth serves the forward-auth endpoint that nginx
// (auth_request), Traefik (ForwardAuth) and Caddy (forward_auth) call before
// serving each request of a protected website.
//
// The web server sends the website's server key in X-Palisade-Key (or the
// key query parameter, for Traefik) and the
// original request in X-Original-* (nginx) or X-Forwarded-* (Traefik, Caddy)
// headers, with the client's own headers. The answer is 200 to serve the
// request. Otherwise, by default (Traefik, Caddy: they pass the answer on to
// the client) 403 with a page for deny and challenge, and 302 for redirect;
// with X-Palisade-Mode: nginx (auth_request accepts only 2xx, 401 and 403)
// 403 for deny and 401 for challenge, captcha and redirect, which the nginx
// snippet routes with error_page. Every answer carries X-Palisade-Action,
// X-Palisade-Reason and X-Palisade-Fail-Mode.
package forwardauth

import (
	"log/slog"
	"net/http"
	"net/netip"
	"strings"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/protect"
	"github.com/palisadehq/palisade/internal/routes"
)

// Handler answers forward-auth requests.
type Handler struct {
	p       *protect.Protector
	trusted protect.Trusted
	log     *slog.Logger
}

// New returns the handler. trusted are the proxies (the web servers) whose
// X-Real-IP / X-Forwarded-For is believed.
func New(p *protect.Protector, trusted protect.Trusted, log *slog.Logger) *Handler {
	return &Handler{p: p, trusted: trusted, log: log}
}

// Register adds /forward-auth (any method) and /forward-auth/page to mux,
// each handler passed through wrap (for metrics).
func (h *Handler) Register(mux routes.Mux, wrap func(name string, h http.Handler) http.Handler) {
	mux.Handle("/forward-auth", wrap("forward-auth", h))
	mux.Handle("GET /forward-auth/page", wrap("forward-auth-page", http.HandlerFunc(h.page)))
}

// page renders the page for a verdict nginx received as 401 (challenge,
// captcha): nginx passes the action and reason back in headers.
//
// Without X-Palisade-Key the website is found by X-Original-Host or the
// Host header (Apache's fail-open snippet, which knows no key).
func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	var pol *engine.Policy
	if key := r.Header.Get("X-Palisade-Key"); key != "" {
		pol, _ = h.p.Engine.ByServerKey(key)
	} else {
		pol = h.p.Engine.ByDomain(firstHeader(r, "X-Original-Host", "X-Forwarded-Host", "Host"))
		if pol == nil {
			pol = h.p.Engine.ByDomain(r.Host)
		}
	}
	if pol == nil {
		http.Error(w, "palisade: unknown website (send X-Palisade-Key or the website's Host)", http.StatusForbidden)
		return
	}
	act, ok := engine.ParseAction(r.Header.Get("X-Palisade-Action"))
	if !ok {
		act = engine.Challenge
	}
	v := engine.Verdict{Action: act, Reason: r.Header.Get("X-Palisade-Reason")}
	h.p.Page(w, r, pol, v, protect.ClientAddr(r, h.trusted), r.Header.Get("X-Original-Uri"), http.StatusForbidden)
}

func firstHeader(r *http.Request, names ...string) string {
	for _, n := range names {
		if v := r.Header.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// ServeHTTP decides the original request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	nginx := strings.EqualFold(r.Header.Get("X-Palisade-Mode"), "nginx")
	key := r.Header.Get("X-Palisade-Key")
	if key == "" {
		key = r.URL.Query().Get("key") // Traefik's forwardAuth cannot add headers
	}
	pol, err := h.p.Engine.ByServerKey(key)
	if err != nil {
		// A misconfigured key must not take a site down: answer 500, which
		// the snippets treat like Palisade being unreachable (fail-open or
		// fail-closed as the site chose), and say why.
		w.Header().Set("X-Palisade-Error", "unknown or missing server key (X-Palisade-Key)")
		http.Error(w, "palisade: unknown or missing server key; send the website's server key in X-Palisade-Key", http.StatusInternalServerError)
		return
	}
	uri := firstHeader(r, "X-Original-Uri", "X-Forwarded-Uri")
	if uri == "" {
		uri = "/"
	}
	path, query := protect.SplitURI(uri)
	host := firstHeader(r, "X-Original-Host", "X-Forwarded-Host")
	if host == "" {
		host = r.Host
	}
	method := firstHeader(r, "X-Original-Method", "X-Forwarded-Method")
	if method == "" {
		method = r.Method
	}
	proto := r.Header.Get("X-Original-Protocol")
	if proto == "" {
		proto = r.Proto
	}
	req := engine.Request{
		IP: protect.ClientAddr(r, h.trusted), Method: method, Host: host, Path: path, Query: query, Proto: proto,
		UserAgent: r.UserAgent(), Referer: r.Referer(), Header: r.Header, Clearance: protect.Clearance(r),
	}
	v := h.p.Decide(pol, &req)
	h.write(w, r, pol, v, req.IP, uri, nginx)
}

// write answers a verdict in the forward-auth convention.
func (h *Handler) write(w http.ResponseWriter, r *http.Request, pol *engine.Policy, v engine.Verdict, ip netip.Addr, uri string, nginx bool) {
	hd := w.Header()
	act := v.Enforced()
	hd.Set("X-Palisade-Action", act.String())
	hd.Set("X-Palisade-Reason", v.Reason)
	if v.FailClosed {
		hd.Set("X-Palisade-Fail-Mode", "closed")
	} else {
		hd.Set("X-Palisade-Fail-Mode", "open")
	}
	hd.Set("Cache-Control", "no-store")
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
