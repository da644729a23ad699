// Package partnerapi serves the partner provisioning API over HTTP: the
// BotGuard Partner API v2 compatible surface at the root (/website, /user) and
// the native, versioned /v1 API, both documented by /openapi.json and /docs.
// Handlers authenticate, parse, call core.Service and write JSON; business
// rules live in core.
//
// The API is written on net/http rather than huma (which DESIGN.md suggests)
// because the compatibility surface must accept form bodies from PHP clients
// and answer errors in BotGuard's {"status":"error"} shape for every failure,
// including 404/405; the OpenAPI 3.1 document is generated from the same route
// table that registers the handlers, so the two cannot drift.
package partnerapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/netutil"
	"github.com/palisadehq/palisade/internal/routes"
)

// API holds the dependencies of the partner API handlers.
type API struct {
	svc            *core.Service
	geo            func() (country, asn bool)
	log            *slog.Logger
	trustedProxies netutil.Proxies
}

// Options configure the API.
type Options struct {
	Logger *slog.Logger
	// TrustedProxies are the reverse proxies (--trusted-proxy) whose
	// configured header is believed when finding a caller's source address.
	TrustedProxies netutil.Proxies
	// GeoIP says which GeoIP databases the engine has, so that settings
	// answers can warn about country/asn conditions that cannot match.
	GeoIP func() (country, asn bool)
}

// New returns the partner API.
func New(svc *core.Service, opts Options) *API {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.GeoIP == nil {
		opts.GeoIP = func() (bool, bool) { return false, false }
	}
	return &API{svc: svc, log: opts.Logger, trustedProxies: opts.TrustedProxies, geo: opts.GeoIP}
}

// Register adds the API's routes, /openapi.json and /docs to mux.
func (a *API) Register(mux routes.Mux) {
	byPath := map[string][]string{}
	for _, rt := range a.routes() {
		h := rt.handler
		if !rt.doc.Public {
			h = a.authenticate(rt.protocol, h)
		}
		mux.Handle(rt.method+" "+rt.path, h)
		byPath[rt.path] = append(byPath[rt.path], rt.method)
	}
	for path, methods := range byPath {
		sort.Strings(methods)
		mux.Handle(path, methodNotAllowed(methods))
	}
	mux.Handle("GET /openapi.json", a.handleOpenAPI())
	mux.Handle("GET /docs", a.handleDocs())
}

// NotFound answers unknown API paths in the API's error shape. The API's
// paths take no trailing slash (neither BotGuard's clients nor ours send
// one); a path with one is told which path to use.
func NotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		msg := "no such endpoint: " + r.Method + " " + r.URL.Path + "; see /docs"
		if p := strings.TrimRight(r.URL.Path, "/"); p != r.URL.Path && p != "" {
			msg = "no such endpoint: " + r.Method + " " + r.URL.Path + ": the API's paths take no trailing slash; send " + r.Method + " " + p + " (see /docs)"
		}
		writeJSON(w, http.StatusNotFound, apiError{Status: "error", Code: core.ENOTFOUND, Message: msg})
	})
}

type ctxKey struct{}

func callerFrom(ctx context.Context) core.Caller {
	c, _ := ctx.Value(ctxKey{}).(core.Caller)
	return c
}

// authenticate resolves the Bearer key into a Caller, refusing the request
// with 401 (no or wrong key) or 403 (source address not allowed).
func (a *API) authenticate(protocol string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := ""
		if h := r.Header.Get("Authorization"); h != "" {
			scheme, rest, _ := strings.Cut(h, " ")
			if !strings.EqualFold(scheme, "Bearer") {
				writeError(w, r, a.log, core.Errorf(core.EUNAUTHORIZED, "unsupported Authorization scheme %q; send Authorization: Bearer <partner api key>", scheme))
				return
			}
			key = strings.TrimSpace(rest)
		}
		c, err := a.svc.Authenticate(r.Context(), key, ClientIP(r, a.trustedProxies), protocol)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, c)))
	})
}

// ClientIP returns the caller's address as netutil.ClientAddr finds it for
// every provisioning adapter (the header the trusted proxy is configured
// with, else the peer), or 0.0.0.0 when there is none.
func ClientIP(r *http.Request, trusted netutil.Proxies) netip.Addr {

	if a := netutil.ClientAddr(r, trusted); a.IsValid() {
		return a
	}
	return netip.IPv4Unspecified()
}

// idem reads the Idempotency-Key header and fingerprints the request it came
// with (method, path and fields), so a key reused for another request is
// caught.
func idem(r *http.Request, in *input) (core.Idem, error) {
	key := strings.TrimSpace(r.Header.Get("Idempotency-Key"))
	if key == "" {
		return core.Idem{}, nil
	}
	if len(key) > 255 {
		return core.Idem{}, core.FieldError("Idempotency-Key", "Idempotency-Key must be at most 255 characters")
	}
	h := sha256.New()
	h.Write([]byte(r.Method + " " + r.URL.Path + "\n"))
	h.Write([]byte(in.vals.Encode())) // Encode sorts by key
	return core.Idem{Key: key, Hash: hex.EncodeToString(h.Sum(nil))}, nil
}

// ifMatch reads the If-Match header.
func ifMatch(r *http.Request) (core.Match, error) {
	return core.ParseETag(r.Header.Get("If-Match"))
}

// LogRequests logs one line per request: method, path, status, duration.
func LogRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", sw.status), slog.Duration("duration", time.Since(start)),
			slog.String("remote", r.RemoteAddr))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
