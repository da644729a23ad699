// Package server assembles Palisade's HTTP handler: health checks, the
// partner API and (in later planes) the decision and dashboard endpoints, and
// runs it with a graceful shutdown.
package server

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/api/agentapi"
	"github.com/palisadehq/palisade/internal/api/botbye"
	"github.com/palisadehq/palisade/internal/api/botguard"
	"github.com/palisadehq/palisade/internal/api/forwardauth"
	"github.com/palisadehq/palisade/internal/api/gp"
	"github.com/palisadehq/palisade/internal/api/partnerapi"
	"github.com/palisadehq/palisade/internal/api/userapi"
	"github.com/palisadehq/palisade/internal/api/xmlapi"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/h1"
	"github.com/palisadehq/palisade/internal/netutil"
	"github.com/palisadehq/palisade/internal/protect"
	"github.com/palisadehq/palisade/internal/routes"
	"github.com/palisadehq/palisade/internal/scan"
	"github.com/palisadehq/palisade/internal/web"
)

// Deps are what the handler needs.
type Deps struct {
	Service *core.Service
	Logger  *slog.Logger
	// TrustedProxies are the load balancers in front of the provisioning
	// plane and the header each carries the client's address in.
	TrustedProxies netutil.Proxies
	// Protector serves the decision endpoints; nil leaves them out.
	Protector *protect.Protector
	// WebServers are the addresses of web servers whose forwarded client
	// address the decision endpoints believe (default: loopback).
	WebServers protect.Trusted
	// MetricsAllowed may read /metrics (default: loopback).
	MetricsAllowed protect.Trusted
	// Scanner runs the XML API's freeScan (nil: public addresses only).
	Scanner *scan.Scanner
	// UserAPIKey signs the User API's tokens; nil leaves /api/ out.
	UserAPIKey *rsa.PrivateKey
	// Role says which planes this node serves: RoleAll (the default),
	// RoleEdge (decision endpoints only) or RoleControl (APIs and
	// dashboards only).
	Role string
}

// The roles a node can run in.
const (
	RoleAll     = "all"
	RoleEdge    = "edge"
	RoleControl = "control"
)

// onlyFrom serves h to peers in allowed and 403 to everyone else.
func onlyFrom(allowed protect.Trusted, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowed.Contains(protect.PeerAddr(r.RemoteAddr)) {
			http.Error(w, "metrics are served only to the addresses in --metrics-allow", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// NewHandler returns the handler for every route Palisade serves in d.Role.
func NewHandler(d Deps) http.Handler {
	if d.Role == "" {
		d.Role = RoleAll
	}
	control, edge := d.Role != RoleEdge, d.Role != RoleControl && d.Protector != nil
	mux := routes.NewTable()
	fast := map[string]http.Handler{}
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(d.Service.Store(), d.Protector, d.Role))
	uapi := http.Handler(http.NotFoundHandler())
	if control {
		var geo func() (bool, bool)
		if d.Protector != nil {
			eng := d.Protector.Engine
			geo = func() (bool, bool) { g := eng.GeoIP(); return g.HasCountry(), g.HasASN() }
		}
		partnerapi.New(d.Service, partnerapi.Options{Logger: d.Logger, TrustedProxies: d.TrustedProxies, GeoIP: geo}).Register(mux)
		gp.New(d.Service, d.TrustedProxies, d.Logger).Register(mux)
		var explain web.Explainer
		if d.Protector != nil {
			explain = d.Protector
		}
		web.New(d.Service, explain, d.TrustedProxies, d.Logger).Register(mux)
		xmlapi.New(d.Service, d.TrustedProxies, d.Scanner, d.Logger).Register(mux)
		agentapi.New(d.Service, d.Logger).Register(mux) // scan agents (palisade agent): /v1/agent/
		if d.UserAPIKey != nil {
			uapi = userapi.New(d.Service, d.UserAPIKey, d.Service.Config().PublicURL, d.TrustedProxies, d.Logger)
		}
		mux.Handle("GET /{$}", http.RedirectHandler("/docs", http.StatusFound))
	} else {
		uapi = wrongRole(RoleEdge, "the partner, reseller, XML and User APIs and the dashboards")
		mux.Handle("/", wrongRole(RoleEdge, "the partner, reseller, XML and User APIs and the dashboards"))
	}
	if edge {
		ws := d.WebServers
		if ws == nil {
			ws = protect.Loopback
		}
		d.Protector.Challenges().Register(mux)
		wrap := d.Protector.Metrics().Endpoint
		// The forward-auth endpoints are asked once per request of every
		// protected site: they are also served straight from a table of
		// their exact paths, past the mux (whose matching allocates).
		forwardauth.New(d.Protector, ws, d.Logger).Register(direct{Mux: mux, to: fast}, wrap)
		botbye.New(d.Protector, d.Logger).Register(mux, wrap)
		// Keyless Host lookups only from web servers the operator listed,
		// never from loopback by default (docs/SECURITY.md).
		botguard.New(d.Protector, d.WebServers, d.Logger).Register(mux, wrap)
	}
	if d.Protector != nil {
		if m := d.Protector.Metrics(); m != nil {
			allowed := d.MetricsAllowed
			if allowed == nil {
				allowed = protect.Loopback
			}
			mux.Handle("GET /metrics", onlyFrom(allowed, m.Handler()))
		}
	}
	if control {
		mux.Handle("/", partnerapi.NotFound())
	}
	logged := partnerapi.LogRequests(d.Logger, mux)
	// Decision endpoints and probes are not logged per request: a busy
	// site would flood the log, and their outcomes are in events and metrics.
	notDecider := wrongRole(RoleControl, "the decision endpoints")
	return routes.List(mux, recoverPanics(d.Logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := fast[r.URL.Path]; h != nil && r.URL.RawPath == "" {
			h.ServeHTTP(w, r) // a decision endpoint of an edge node: not logged (below)
			return
		}
		vendorAlias(r)
		if !edge && decisionPath(r.URL.Path) {
			notDecider.ServeHTTP(w, r)
			return
		}
		if userapi.Owns(r.URL.Path) {
			logged := partnerapi.LogRequests(d.Logger, uapi)
			logged.ServeHTTP(w, r)
			return
		}
		if quiet(r.URL.Path) {
			mux.ServeHTTP(w, r)
			return
		}
		logged.ServeHTTP(w, r)
	})))
}

// direct registers on Mux and also keeps each handler of an exact path
// (a pattern with neither method, host nor wildcard) in to, which
// NewHandler serves before the mux.
type direct struct {
	routes.Mux
	to map[string]http.Handler
}

func (d direct) Handle(pattern string, h http.Handler) {
	d.Mux.Handle(pattern, h)
	if strings.HasPrefix(pattern, "/") && !strings.ContainsAny(pattern, " {") && !strings.HasSuffix(pattern, "/") {
		d.to[pattern] = h
	}
}

// wrongRole answers requests for a plane this node does not run, naming
// the role that does.
func wrongRole(role, what string) http.Handler {
	msg := "this Palisade node runs --role " + role + ", which does not serve " + what + "; send this request to a node with --role all or "
	if role == RoleEdge {
		msg += RoleControl
	} else {
		msg += RoleEdge
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		b, _ := json.Marshal(map[string]string{"status": "error", "code": "wrong_role", "message": msg})
		_, _ = w.Write(append(b, '\n'))
	})
}

func quiet(path string) bool {
	switch path {
	case "/metrics", "/healthz", "/readyz":
		return true
	}
	return decisionPath(path)
}

// vendorAlias serves the vendor-compatible decision endpoints also under
// a doubled leading slash or a trailing slash (//validate-request/v2,
// /v2.1/check/): vendor SDKs join a configured endpoint ending in "/" with
// their path, and the mux's redirect or 404 would read to them as "allow"
// without a word (docs/INTEGRATIONS.md). Nothing else is rewritten.
func vendorAlias(r *http.Request) {
	p := r.URL.Path
	if !strings.HasPrefix(p, "//") && !strings.HasSuffix(p, "/") {
		return
	}
	switch c := "/" + strings.Trim(p, "/"); c {
	case "/validate-request/v2", "/init-request/v1", "/v2.1/check":
		r.URL.Path, r.URL.RawPath = c, ""
	}
}

// decisionPath reports whether path is one of the decision plane's.
func decisionPath(path string) bool {
	switch path {
	case "/forward-auth", "/forward-auth/page", "/forward-auth/nginx", "/forward-auth/nginx-static", "/forward-auth/caddy", "/forward-auth/traefik", "/forward-auth/apache", "/validate-request/v2", "/init-request/v1", "/v2.1/check":
		return true
	}
	return strings.HasPrefix(path, "/_palisade/")
}

// handleHealthz says the process is up; it touches nothing else.
func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
}

// handleReadyz says whether this node can serve its planes, so a load
// balancer stops sending it what it cannot serve. The decision plane is
// ready once the engine holds a snapshot, even while the store does not
// answer (it decides from that snapshot); the control plane is ready while
// the store answers. ?plane=decision or ?plane=control asks about one.
func handleReadyz(store core.Store, prot *protect.Protector, role string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		planes := map[string]string{}
		storeErr := store.Ping(r.Context())
		if role != RoleEdge {
			planes["control"] = "ok"
			if storeErr != nil {
				planes["control"] = "store unreachable"
			}
		}
		if role != RoleControl && prot != nil {
			select {
			case <-prot.Loaded():
				planes["decision"] = "ok"
			default:
				planes["decision"] = "no policy snapshot loaded yet"
			}
		}
		want := r.URL.Query().Get("plane")
		if want != "" {
			if _, ok := planes[want]; !ok {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				b, _ := json.Marshal(map[string]string{"status": "error", "message": "plane " + strconv.Quote(want) + " is not served by this node (role " + role + ")"})
				_, _ = w.Write(append(b, '\n'))
				return
			}
		}
		ready := true
		for name, st := range planes {
			if (want == "" || want == name) && st != "ok" {
				ready = false
			}
		}
		body := map[string]any{"status": "ok", "role": role, "planes": planes, "store": "ok"}
		if storeErr != nil {
			body["store"] = "unreachable"
		}
		if prot != nil {
			body["config_version"] = prot.Fleet().Version()
		}
		w.Header().Set("Content-Type", "application/json")
		if !ready {
			body["status"] = "error"
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		b, _ := json.Marshal(body)
		_, _ = w.Write(append(b, '\n'))
	})
}

func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic", "method", r.Method, "path", r.URL.Path, "panic", v)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write([]byte(`{"status":"error","code":"internal","message":"internal error"}` + "\n"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// Serve serves h on ln until ctx is cancelled, then stops accepting
// connections and lets in-flight requests finish for up to grace.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, grace time.Duration, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// The web servers' verdict requests take the fast front (package h1);
	// everything else, and anything unusual in them, net/http.
	fs := &h1.Server{HTTP: srv, Take: forwardauth.Endpoint}
	errc := make(chan error, 1)
	go func() { errc <- fs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "grace", grace)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := fs.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
