// Package userapi serves the end-customer User API under /api/: a hosting
// customer (subaccount) manages its own websites' protection from its own
// scripts, with HTTP Basic or RS256 JWT authentication, a per-customer rate
// limit, an optional request log with redaction, routes each partner can
// disable, alias and describe, and docs (/api/docs, /api/openapi.json)
// generated from the partner's routes. Everything goes through core.Service.
package userapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/netutil"
	"github.com/palisadehq/palisade/internal/secret"
)

const (
	// Audience of every token.
	Audience   = "palisade-user-api"
	accessTTL  = 15 * time.Minute
	refreshTTL = 30 * 24 * time.Hour
	leeway     = core.UserAPITokenLeeway
	maxBody    = 256 << 10
)

// Handler serves /api/.
type Handler struct {
	svc     *core.Service
	key     *rsa.PrivateKey
	issuer  string
	trusted netutil.Proxies
	log     *slog.Logger
	limits  *limiter
	now     func() time.Time // the service's clock: tokens are stored and checked by it
}

// New returns the User API; key signs tokens, issuer names this server
// (its public URL).
func New(svc *core.Service, key *rsa.PrivateKey, issuer string, trusted netutil.Proxies, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	return &Handler{svc: svc, key: key, issuer: issuer, trusted: trusted, log: log, limits: newLimiter(), now: svc.Now}
}

// Owns reports whether path is the User API's: /api/ except the GP
// reseller API's /api/v1/. (The server routes these before its mux: a
// catch-all /api/ pattern would clash with the customer pages' /{lang}/….)
func Owns(path string) bool {
	return strings.HasPrefix(path, "/api/") && !strings.HasPrefix(path, "/api/v1/")
}

// Route is one User API endpoint.
type Route struct {
	ID, Method, Path, Name, Category, Description string
	Params                                        []Param
	Body                                          string // example JSON body
	handle                                        func(h *Handler, r *request) (any, error)
}

// Param documents a route parameter.
type Param struct{ Name, In, Desc string }

var (
	domainP  = Param{"domain", "path", "One of your websites, e.g. shop.example.com."}
	findingP = Param{"id", "path", "A finding's id (the finding list)."}
	ifMatchP = Param{"If-Match", "header", "Optional: the etag of your last read (the ETag header or \"etag\" of a settings answer). The change is refused with 412 if the settings were changed since; without it the part is replaced whatever it holds."}
)

// Routes lists every route, in documentation order.
var Routes = []Route{
	{ID: "me", Method: "GET", Path: "/api/me", Name: "Your account", Category: "Account", Description: "Your details.", handle: (*Handler).me},
	{ID: "websites.list", Method: "GET", Path: "/api/websites", Name: "Your websites", Category: "Websites", Description: "Every website of yours, paginated.",
		Params: []Param{{"limit", "query", "Page size, 1 to 500 (default 50)."}, {"cursor", "query", "next_cursor of the previous page."}}, handle: (*Handler).websites},
	{ID: "websites.get", Method: "GET", Path: "/api/websites/{domain}", Name: "A website", Category: "Websites", Params: []Param{domainP}, handle: (*Handler).website},
	{ID: "settings.get", Method: "GET", Path: "/api/websites/{domain}/settings", Name: "Protection settings", Category: "Protection", Description: "Mode, fail mode, category actions, challenge settings, built-in grants (builtins, webhooks, api_paths, server_addresses), rules, rate limits and lists.", Params: []Param{domainP}, handle: (*Handler).settingsGet},
	{ID: "settings.put", Method: "PUT", Path: "/api/websites/{domain}/settings", Name: "Replace protection settings", Category: "Protection", Description: "Validated as in the rule editor; takes effect within a second. Send If-Match with the etag of your GET so a change made elsewhere meanwhile is not overwritten.", Params: []Param{domainP, ifMatchP}, Body: `{"mode":"protect","categories":{"ai_crawlers":"deny"}}`, handle: (*Handler).settingsPut},
	{ID: "rules.get", Method: "GET", Path: "/api/websites/{domain}/rules", Name: "Custom rules", Category: "Protection", Params: []Param{domainP}, handle: part("rules", false)},
	{ID: "rules.put", Method: "PUT", Path: "/api/websites/{domain}/rules", Name: "Replace custom rules", Category: "Protection", Params: []Param{domainP, ifMatchP}, Body: `[{"name":"block-admin","action":"deny","conditions":[{"field":"path","op":"starts_with","value":"/admin"}]}]`, handle: part("rules", true)},
	{ID: "ratelimits.get", Method: "GET", Path: "/api/websites/{domain}/rate-limits", Name: "Rate limits", Category: "Protection", Params: []Param{domainP}, handle: part("rate_limits", false)},
	{ID: "ratelimits.put", Method: "PUT", Path: "/api/websites/{domain}/rate-limits", Name: "Replace rate limits", Category: "Protection", Params: []Param{domainP, ifMatchP}, Body: `[{"name":"login","requests":5,"period":"1m","key":"ip_path","path_prefix":"/login","action":"deny"}]`, handle: part("rate_limits", true)},
	{ID: "lists.get", Method: "GET", Path: "/api/websites/{domain}/lists", Name: "Allow and deny lists", Category: "Protection", Params: []Param{domainP}, handle: part("lists", false)},
	{ID: "lists.put", Method: "PUT", Path: "/api/websites/{domain}/lists", Name: "Replace allow and deny lists", Category: "Protection", Params: []Param{domainP, ifMatchP}, Body: `{"allow":["192.0.2.0/24"],"deny":["198.51.100.7"]}`, handle: part("lists", true)},
	{ID: "lists.patch", Method: "PATCH", Path: "/api/websites/{domain}/lists", Name: "Add to or remove from the allow and deny lists", Category: "Protection",
		Description: "Adds and removes single IPs or CIDRs in one step, without reading the lists first and without a version: entries already there are not added twice, absent ones are not an error, and changes made meanwhile are kept.",
		Params:      []Param{domainP, ifMatchP}, Body: `{"add":{"deny":["198.51.100.7"]},"remove":{"allow":["192.0.2.0/24"]}}`, handle: (*Handler).listsPatch},
	{ID: "events.list", Method: "GET", Path: "/api/websites/{domain}/events", Name: "Events", Category: "Traffic", Description: "Blocked and challenged requests and a sample of granted ones, newest first. Identical refused requests (same client, user agent, decision and reason) within about 10 seconds are one event: count says how many requests it stands for, last_at when the last came; path and query are the first request's. The log cannot be cleared.",
		Params: []Param{domainP, {"from", "query", "RFC 3339 time."}, {"to", "query", "RFC 3339 time."}, {"action", "query", "grant, deny, challenge, …"}, {"ip", "query", "A client address."}, {"rule", "query", "Rule or category."}, {"ref", "query", "The reference ID a challenge or deny page showed the visitor."}, {"waf_class", "query", "Only events the website firewall matched on with this attack class (sqli, xss, …), or any."}, {"limit", "query", "1 to 500."}, {"cursor", "query", "next_cursor."}}, handle: (*Handler).events},
	{ID: "stats.get", Method: "GET", Path: "/api/websites/{domain}/stats", Name: "Statistics", Category: "Traffic", Description: "Requests by time bucket, decision and category.",
		Params: []Param{domainP, {"period", "query", "minute, hour (default) or day."}, {"from", "query", "RFC 3339."}, {"to", "query", "RFC 3339."}}, handle: (*Handler).stats},
	{ID: "wafstats.get", Method: "GET", Path: "/api/websites/{domain}/waf/stats", Name: "Firewall statistics", Category: "Traffic",
		Description: "Requests the website firewall matched on, by attack class (sqli, xss, rce, lfi, rfi, php, java, generic, session, protocol, scanner, virtual_patch): blocked, and detected (only recorded). Default: the last day.",
		Params:      []Param{domainP, {"from", "query", "RFC 3339 (default: a day before to)."}, {"to", "query", "RFC 3339, exclusive (default: now)."}}, handle: (*Handler).wafStats},
	// Scanning and backups (scanning.go). Where the files, database and
	// backups are is your hosting provider's to set: you read what is
	// switched on and how often.
	{ID: "scanner.get", Method: "GET", Path: "/api/websites/{domain}/scanner", Name: "Scan and backup settings", Category: "Protection",
		Description: "What is switched on and how often: files (malware scan), database, patch (outdated and vulnerable components) and backup. Your hosting provider sets them; hosts, users, paths, repositories and secrets are not shown (*_set says whether a secret is stored).",
		Params:      []Param{domainP}, handle: (*Handler).scannerGet},
	{ID: "scans.start", Method: "POST", Path: "/api/websites/{domain}/scans", Name: "Start a scan or a backup", Category: "Protection",
		Description: "kind: files, database, patch or backup. The job is queued (state queued) for the next free worker; follow it in the job list. 409 while a job of that kind is queued or running; 412 when the website is paused or your hosting provider has not switched that kind on.",
		Params:      []Param{domainP}, Body: `{"kind":"files"}`, handle: (*Handler).scanStart},
	{ID: "scans.list", Method: "GET", Path: "/api/websites/{domain}/scans", Name: "Scan and backup jobs", Category: "Protection",
		Description: "Newest first: scans, backups, finding actions, restores and updates, with their state (queued, running, done, failed), summary and error.",
		Params:      []Param{domainP, {"kind", "query", "files, database, patch, backup, action, restore or update."}, {"limit", "query", "1 to 500 (default 50)."}}, handle: (*Handler).scanJobs},
	{ID: "updates.start", Method: "POST", Path: "/api/websites/{domain}/updates", Name: "Update a component", Category: "Protection",
		Description: "type: core, plugin or theme; slug: as the last patch check listed it (empty for the core); root: the install's folder it listed (empty for the website's root). Queues an update job: a backup first (no update when it fails), then your hosting provider's updater, then a patch check; its summary gives the backup's snapshot, the updater's exit and last output, and the versions before and after. 404 for a component the last patch check did not list; 412 when your hosting provider does not offer updates for this website; 409 while an update is queued or running.",
		Params:      []Param{domainP}, Body: `{"type":"plugin","slug":"contact-form-7"}`, handle: (*Handler).updateStart},
	{ID: "findings.list", Method: "GET", Path: "/api/websites/{domain}/findings", Name: "Scan findings", Category: "Protection",
		Description: "What the scans found, by id: a file, database row or component with a signature or advisory, its class and severity, and its state (open, quarantined, cleaned, ignored, resolved).",
		Params:      []Param{domainP, {"kind", "query", "files, database or patch."}, {"state", "query", "open, quarantined, cleaned, ignored or resolved."}, {"limit", "query", "1 to 500."}, {"cursor", "query", "next_cursor."}}, handle: (*Handler).findings},
	{ID: "findings.ignore", Method: "POST", Path: "/api/websites/{domain}/findings/{id}/ignore", Name: "Mark a finding as not malware", Category: "Protection",
		Description: "An open finding becomes ignored; later scans keep it ignored while the file is unchanged.", Params: []Param{domainP, findingP}, handle: findingIgnore(true)},
	{ID: "findings.unignore", Method: "POST", Path: "/api/websites/{domain}/findings/{id}/unignore", Name: "Open an ignored finding again", Category: "Protection",
		Params: []Param{domainP, findingP}, handle: findingIgnore(false)},
	{ID: "findings.quarantine", Method: "POST", Path: "/api/websites/{domain}/findings/{id}/quarantine", Name: "Quarantine a file", Category: "Protection",
		Description: "Queues a job that moves the finding's file aside (restorable); the finding becomes quarantined. Only open findings of file scans.", Params: []Param{domainP, findingP}, handle: findingAction(core.ActionQuarantine)},
	{ID: "findings.restore", Method: "POST", Path: "/api/websites/{domain}/findings/{id}/restore", Name: "Restore a quarantined file", Category: "Protection",
		Description: "Queues a job that puts the quarantined file back as it was; the finding is open again.", Params: []Param{domainP, findingP}, handle: findingAction(core.ActionRestore)},
	{ID: "findings.clean", Method: "POST", Path: "/api/websites/{domain}/findings/{id}/clean", Name: "Clean a file", Category: "Protection",
		Description: "Queues a job that removes a known injection from the finding's file (the original is kept in quarantine); the finding becomes cleaned.", Params: []Param{domainP, findingP}, handle: findingAction(core.ActionClean)},
	{ID: "backups.list", Method: "GET", Path: "/api/websites/{domain}/backups", Name: "Backups", Category: "Protection",
		Description: "Your website's backups, newest first: snapshot, time, files, bytes and whether the database was saved too.",
		Params:      []Param{domainP, {"limit", "query", "1 to 500 (default 50)."}}, handle: (*Handler).backups},
	{ID: "backups.restore", Method: "POST", Path: "/api/websites/{domain}/backups/restore", Name: "Restore a backup", Category: "Protection",
		Description: "snapshot: a backup's snapshot or short_id; path: one file or folder (empty: every file); database: also restore its database. Queues a restore job.",
		Params:      []Param{domainP}, Body: `{"snapshot":"4f1e2d3c","path":"wp-content/uploads","database":false}`, handle: (*Handler).backupRestore},
	{ID: "backups.browse", Method: "GET", Path: "/api/websites/{domain}/backups/{snapshot}/files", Name: "Browse a backup", Category: "Protection",
		Description: "The files and folders in one folder of a backup (name, path, type, size, mode, mtime), at most 5,000 (truncated says there were more). 429 while the server is busy with other backups: retry in a moment.",
		Params:      []Param{domainP, snapshotP, backupPathP}, handle: (*Handler).backupBrowse},
	{ID: "backups.download", Method: "GET", Path: "/api/websites/{domain}/backups/{snapshot}/download", Name: "Download from a backup", Category: "Protection",
		Description: "A file, a folder or everything from a backup as a .tar.gz archive (application/gzip, not JSON), names relative to your website's root. An error before the download starts is JSON as usual; one after it cuts the download. Your hosting provider caps a download's size: a whole backup over it is refused (download a folder, or restore it).",
		Params:      []Param{domainP, snapshotP, backupPathP}, handle: (*Handler).backupDownload},
}

// RoutePaths maps route ids to their paths (for validating aliases).
func RoutePaths() map[string]string {
	m := map[string]string{}
	for _, r := range Routes {
		m[r.ID] = r.Method + " " + r.Path
	}
	// Aliases are compared by path alone.
	for id, p := range m {
		m[id] = p[strings.IndexByte(p, ' ')+1:]
	}
	return m
}

// request is one authenticated call.
type request struct {
	*http.Request
	vars     map[string]string
	customer core.Subaccount
	caller   core.Caller
	w        http.ResponseWriter // for a handler that streams its answer (streamed)
}

// scopeKey carries the partner scope of a request (/api/p/<partner>/…).
type scopeKey struct{}

// scopeOf is the name of the partner a request is scoped to ("" unscoped).
func scopeOf(r *http.Request) string {
	s, _ := r.Context().Value(scopeKey{}).(string)
	return s
}

// ScopePrefix starts the paths of a partner's scope: /api/p/<partner>/me is
// /api/me for the customers of the partner named <partner> (URL-escaped).
// A customer signs in within that partner only; the same email at another
// partner is another account.
const ScopePrefix = "/api/p/"

// ScopeBase is the base URL a partner gives its customers: its scope on
// the server at publicURL, with the name URL-escaped
// (https://palisade.example.net/api/p/My%20Hosting). A route's path
// /api/<rest> is <ScopeBase>/<rest> there.
func ScopeBase(publicURL, partnerName string) string {
	return strings.TrimRight(publicURL, "/") + ScopePrefix + url.PathEscape(partnerName)
}

// scoped strips a partner scope from r's path: the request as the routes
// see it (/api/…), with the scope in its context.
func scoped(r *http.Request) (*http.Request, error) {
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), ScopePrefix)
	if !ok {
		return r, nil
	}
	raw, tail, _ := strings.Cut(rest, "/")
	name, err := url.PathUnescape(raw)
	if err != nil || strings.TrimSpace(name) == "" || len(name) > 100 {
		return r, fail(404, "name your hosting provider: "+ScopePrefix+"<provider>/…")
	}
	u := *r.URL
	if u.Path, err = url.PathUnescape("/api/" + tail); err != nil {
		return r, fail(404, "malformed path")
	}
	u.RawPath = ""
	if u.Path == "/api/docs" || u.Path == "/api/openapi.json" {
		q := u.Query()
		q.Set("partner", name)
		u.RawQuery = q.Encode()
	}
	r = r.WithContext(context.WithValue(r.Context(), scopeKey{}, name))
	r.URL = &u
	return r, nil
}

// ServeHTTP routes /api/ requests.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	r, err := scoped(r)
	if err != nil {
		// A browser that opened a malformed docs link reads where the
		// right one is, not a JSON error.
		if strings.HasSuffix(r.URL.Path, "/docs") && wantsHTML(r) {
			h.welcome(w, r, http.StatusNotFound, false)
			return
		}
		h.writeErr(w, r, err)
		return
	}
	switch r.URL.Path {
	case "/api/docs":
		h.docs(w, r)
		return
	case "/api/openapi.json":
		h.openapi(w, r)
		return
	case "/api/login", "/api/token", "/api/logout", "/api/revoke":
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			h.writeErr(w, r, fail(405, "use POST"))
			return
		}
		h.auth(w, r)
		return
	}
	// Authenticate first: the partner's routes depend on who asks.
	a, cfg, err := h.authenticate(r)
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	// The rate limit refuses before any work.
	lim := h.limits.take(strconv.FormatInt(a.ID, 10), cfg.RateRequests, cfg.Period(), h.now())
	w.Header().Set("RateLimit-Limit", strconv.Itoa(cfg.RateRequests))
	w.Header().Set("RateLimit-Remaining", strconv.Itoa(lim.remaining))
	w.Header().Set("RateLimit-Reset", strconv.Itoa(int(lim.reset.Seconds()+0.999)))
	if !lim.ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(lim.reset.Seconds()+0.999)))
		h.writeErr(w, r, fail(429, "too many requests; retry in "+strconv.Itoa(int(lim.reset.Seconds()+0.999))+" s"))
		return
	}
	rt, vars, methodOK := match(cfg, r.Method, r.URL.Path)
	if rt == nil {
		if methodOK {
			w.Header().Set("Allow", allowed(cfg, r.URL.Path))
			msg := "method not allowed"
			if r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, "/events") {
				msg = "clearing the event log is not allowed"
			}
			h.writeErr(w, r, fail(405, msg))
			return
		}
		h.writeErr(w, r, fail(404, "no such route: "+r.Method+" "+r.URL.Path))
		return
	}
	req := &request{Request: r, vars: vars, customer: a, caller: core.CustomerCaller(a, netutil.ClientAddr(r, h.trusted).String()), w: w}
	var reqBody []byte
	if cfg.Log && r.Body != nil {
		reqBody, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	out, err := rt.handle(h, req)
	var resp []byte
	status := http.StatusOK
	if err != nil {
		rec := &recorder{ResponseWriter: w}
		status = h.writeErr(rec, r, err)
		resp = rec.body.Bytes()
	} else if s, ok := out.(streamed); ok {
		status, resp = s.status, []byte(`"(a download)"`)
		if s.cut {
			resp = []byte(`"(a download, cut off after its first bytes)"`)
		}
	} else {
		answer := map[string]any{"success": true, "data": out}
		if v, ok := out.(versioned); ok {
			answer["data"], answer["etag"] = v.data, v.etag
			w.Header().Set("ETag", v.etag)
		}
		body, _ := json.Marshal(answer)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_, _ = w.Write(append(body, '\n'))
		resp = body
	}
	if cfg.Log {
		e := core.UserAPILogEntry{PartnerID: a.PartnerID, SubaccountID: a.ID, Method: r.Method, Route: rt.ID, Path: r.URL.Path, Status: status,
			SourceIP: req.caller.SourceIP, Request: Redact(reqBody, 2048), Response: Redact(resp, 2048)}
		if err := h.svc.LogUserAPI(context.WithoutCancel(r.Context()), e); err != nil {
			h.log.Warn("user api log", "err", err)
		}
	}
	if s, ok := out.(streamed); ok && s.cut {
		// A broken download, never a short archive that looks whole
		// (internal/api/download).
		panic(http.ErrAbortHandler)
	}
}

type recorder struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// match finds the partner's route for method and path (by its path or its
// alias); disabled routes do not match. methodOK says the path exists with
// another method.
func match(cfg core.UserAPIConfig, method, path string) (*Route, map[string]string, bool) {
	pathOK := false
	for i := range Routes {
		rt := &Routes[i]
		rc := cfg.Routes[rt.ID]
		if rc.Disabled {
			continue
		}
		for _, p := range []string{rt.Path, rc.Alias} {
			if p == "" {
				continue
			}
			if vars, ok := matchPath(p, path); ok {
				if rt.Method == method {
					return rt, vars, true
				}
				pathOK = true
			}
		}
	}
	if !pathOK && method == http.MethodDelete {
		// DELETE of the events log is refused by name, even unmatched.
		if _, ok := matchPath("/api/websites/{domain}/events", path); ok {
			return nil, nil, true
		}
	}
	return nil, nil, pathOK
}

// allowed lists the methods of the partner's routes at path, for Allow.
func allowed(cfg core.UserAPIConfig, path string) string {
	var ms []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH"} {
		if rt, _, _ := match(cfg, m, path); rt != nil {
			ms = append(ms, m)
		}
	}
	return strings.Join(ms, ", ")
}

func matchPath(pattern, path string) (map[string]string, bool) {
	ps, xs := strings.Split(strings.Trim(pattern, "/"), "/"), strings.Split(strings.Trim(path, "/"), "/")
	if len(ps) != len(xs) {
		return nil, false
	}
	vars := map[string]string{}
	for i := range ps {
		if strings.HasPrefix(ps[i], "{") && strings.HasSuffix(ps[i], "}") {
			if xs[i] == "" {
				return nil, false
			}
			vars[ps[i][1:len(ps[i])-1]] = xs[i]
			continue
		}
		if ps[i] != xs[i] {
			return nil, false
		}
	}
	return vars, true
}

// ---- authentication ----

type claims struct {
	jwt.RegisteredClaims
	Type    string `json:"typ"`
	Partner int64  `json:"pid"`
}

// authenticate resolves Basic or Bearer credentials into a customer and
// the partner's configuration, refusing a method the partner turned off.
func (h *Handler) authenticate(r *http.Request) (core.Subaccount, core.UserAPIConfig, error) {
	auth := r.Header.Get("Authorization")
	scheme, rest, _ := strings.Cut(auth, " ")
	var a core.Subaccount
	switch {
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
		user, pass, ok := strings.Cut(string(raw), ":")
		if err != nil || !ok {
			return a, core.UserAPIConfig{}, fail(401, "malformed Basic credentials")
		}
		// The core normalises the email, checks the address's and the
		// account's failures before hashing, and hashes in a bounded gate.
		if a, err = h.svc.AuthenticateCustomer(r.Context(), h.signIn(r, user, pass)); err != nil {
			return a, core.UserAPIConfig{}, err
		}
		cfg, err := h.svc.UserAPIConfigOf(r.Context(), a.PartnerID)
		if err != nil {
			return a, cfg, err
		}
		if !cfg.Basic {
			return a, cfg, fail(401, "Basic authentication is turned off for this account; sign in with POST /api/login")
		}
		return a, cfg, nil
	case strings.EqualFold(scheme, "Bearer"):
		c, err := h.verify(strings.TrimSpace(rest), "access")
		if err == nil {
			err = h.inScope(r, c)
		}
		if err != nil {
			return a, core.UserAPIConfig{}, err
		}
		return h.tokenCustomer(r.Context(), c)
	}
	return a, core.UserAPIConfig{}, fail(401, "authentication required: HTTP Basic with your email and password, or Authorization: Bearer <access token from POST /api/login>")
}

// signIn is the core's sign-in attempt of a request.
func (h *Handler) signIn(r *http.Request, user, pass string) core.CustomerSignIn {
	return core.CustomerSignIn{Partner: scopeOf(r), Email: user, Password: pass, Addr: netutil.ClientAddr(r, h.trusted)}
}

// inScope refuses a token of another partner than the request's scope.
func (h *Handler) inScope(r *http.Request, c *claims) error {
	name := scopeOf(r)
	if name == "" {
		return nil // the token names its partner
	}
	p, err := h.svc.PublicPartner(r.Context(), name)
	if err != nil || p.ID != c.Partner {
		return fail(401, "invalid token: it was not issued for this hosting provider's User API")
	}
	return nil
}

// verify checks a token's signature, algorithm, issuer, audience, expiry
// (with a small leeway) and type.
func (h *Handler) verify(token, typ string) (*claims, error) {
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return &h.key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(h.issuer), jwt.WithAudience(Audience),
		jwt.WithLeeway(leeway), jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(h.now))
	if err != nil {
		msg := "invalid token"
		if errors.Is(err, jwt.ErrTokenExpired) {
			msg = "the token has expired; get a new one with POST /api/token"
		}
		return nil, fail(401, msg)
	}
	if c.Type != typ || c.ID == "" || c.Partner == 0 {
		return nil, fail(401, "invalid token: not an "+typ+" token")
	}
	return &c, nil
}

// tokenCustomer checks the token is live (not revoked) and loads its customer.
func (h *Handler) tokenCustomer(ctx context.Context, c *claims) (core.Subaccount, core.UserAPIConfig, error) {
	t, live, err := h.svc.UserAPITokenLive(ctx, secret.Hash(c.ID))
	if err != nil {
		return core.Subaccount{}, core.UserAPIConfig{}, err
	}
	if !live {
		return core.Subaccount{}, core.UserAPIConfig{}, fail(401, "the token has been revoked")
	}
	return h.tokenAccount(ctx, t.PartnerID, t.SubaccountID)
}

// tokenAccount loads the customer a token names, refused when its partner
// turned token authentication off.
func (h *Handler) tokenAccount(ctx context.Context, partnerID, subaccountID int64) (core.Subaccount, core.UserAPIConfig, error) {
	cfg, err := h.svc.UserAPIConfigOf(ctx, partnerID)
	if err != nil {
		return core.Subaccount{}, cfg, err
	}
	if !cfg.JWT {
		return core.Subaccount{}, cfg, fail(401, "token authentication is turned off for this account; use HTTP Basic")
	}
	a, err := h.svc.Subaccount(ctx, core.CustomerCaller(core.Subaccount{ID: subaccountID, PartnerID: partnerID}, ""), subaccountID)
	if err != nil {
		return a, cfg, fail(401, "the account of this token no longer exists")
	}
	return a, cfg, nil
}

// issue mints a customer's access and refresh tokens and records them.
func (h *Handler) issue(ctx context.Context, a core.Subaccount) (map[string]any, error) {
	out, ts, err := h.mint(a)
	if err != nil {
		return nil, err
	}
	if err := h.svc.RecordUserAPITokens(ctx, ts...); err != nil {
		return nil, err
	}
	return out, nil
}

// mint makes a customer's access and refresh tokens: the answer, and the
// records to store (which make them valid).
func (h *Handler) mint(a core.Subaccount) (map[string]any, []core.UserAPIToken, error) {
	now := h.now()
	mk := func(typ string, ttl time.Duration) (string, core.UserAPIToken, error) {
		id, err := secret.NewToken(rand.Reader, "")
		if err != nil {
			return "", core.UserAPIToken{}, err
		}
		c := claims{RegisteredClaims: jwt.RegisteredClaims{Issuer: h.issuer, Subject: strconv.FormatInt(a.ID, 10), Audience: jwt.ClaimStrings{Audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)), IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ID: id}, Type: typ, Partner: a.PartnerID}
		s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, c).SignedString(h.key)
		return s, core.UserAPIToken{Hash: secret.Hash(id), PartnerID: a.PartnerID, SubaccountID: a.ID, Kind: typ, CreatedAt: now, ExpiresAt: now.Add(ttl)}, err
	}
	access, at, err := mk("access", accessTTL)
	if err != nil {
		return nil, nil, err
	}
	refresh, rt, err := mk("refresh", refreshTTL)
	if err != nil {
		return nil, nil, err
	}
	return map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": int(accessTTL / time.Second), "refresh_token": refresh},
		[]core.UserAPIToken{at, rt}, nil
}

func bodyFields(r *http.Request) map[string]string {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		m := map[string]string{}
		_ = json.NewDecoder(r.Body).Decode(&m)
		return m
	}
	_ = r.ParseForm()
	m := map[string]string{}
	for k, v := range r.PostForm {
		m[k] = v[0]
	}
	return m
}

func (h *Handler) auth(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f := bodyFields(r)
	switch r.URL.Path {
	case "/api/login":
		a, err := h.svc.AuthenticateCustomer(ctx, h.signIn(r, f["username"], f["password"]))
		if err != nil {
			h.writeErr(w, r, err)
			return
		}
		cfg, err := h.svc.UserAPIConfigOf(ctx, a.PartnerID)
		if err == nil && !cfg.JWT {
			err = fail(403, "token authentication is turned off for this account; use HTTP Basic")
		}
		if err != nil {
			h.writeErr(w, r, err)
			return
		}
		out, err := h.issue(ctx, a)
		if err != nil {
			h.writeErr(w, r, err)
			return
		}
		writeJSON(w, 200, map[string]any{"success": true, "data": out})
	case "/api/token":
		c, err := h.verify(f["refresh_token"], "refresh")
		if err == nil {
			err = h.inScope(r, c)
		}
		if err != nil {
			h.writeErr(w, r, err)
			return
		}
		sub, _ := strconv.ParseInt(c.Subject, 10, 64)
		a, _, err := h.tokenAccount(ctx, c.Partner, sub)
		if err != nil {
			h.writeErr(w, r, err)
			return
		}
		out, issued, err := h.mint(a)
		if err != nil {
			h.writeErr(w, r, err)
			return
		}
		// Rotation, in one transaction: the refresh token is spent and
		// its successors recorded, or neither (a failure leaves the old
		// token usable); a second use fails.
		ok, err := h.svc.RotateUserAPITokens(ctx, secret.Hash(c.ID), issued...)
		if err == nil && !ok {
			err = fail(401, "the refresh token has been used or revoked")
		}
		if err != nil {
			h.writeErr(w, r, err)
			return
		}
		writeJSON(w, 200, map[string]any{"success": true, "data": out})
	case "/api/logout":
		_, rest, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		c, err := h.verify(strings.TrimSpace(rest), "access")
		if err != nil {
			h.writeErr(w, r, err)
			return
		}
		hashes := []string{secret.Hash(c.ID)}
		if rt := f["refresh_token"]; rt != "" {
			if rc, err := h.verify(rt, "refresh"); err == nil && rc.Subject == c.Subject {
				hashes = append(hashes, secret.Hash(rc.ID))
			}
		}
		// Both tokens end in one transaction; a sign-out the store could
		// not record is not answered as done.
		if _, err := h.svc.RevokeUserAPITokens(ctx, hashes...); err != nil {
			h.writeErr(w, r, err)
			return
		}
		writeJSON(w, 200, map[string]any{"success": true})
	case "/api/revoke":
		tok := f["token"]
		var c *claims
		var err error
		if c, err = h.verify(tok, "refresh"); err != nil {
			c, err = h.verify(tok, "access")
		}
		if err == nil {
			if _, err := h.svc.RevokeUserAPITokens(ctx, secret.Hash(c.ID)); err != nil {
				// RFC 7009 2.2.1: a revocation the store did not record
				// is an error (503), never a success.
				h.writeErr(w, r, err)
				return
			}
		}
		// As RFC 7009: the answer does not tell whether the token was valid.
		writeJSON(w, 200, map[string]any{"success": true})
	}
}

// ---- rate limits ----

// limiter is the per-customer request limit (keyed by the authenticated
// customer's id, never by anything a client sends before signing in;
// failed sign-ins are limited by the core, guard.SignIn).
type limiter struct {
	mu      sync.Mutex
	windows map[string]*window
}

type window struct {
	start time.Time
	n     int
}

type limitResult struct {
	ok        bool
	remaining int
	reset     time.Duration
}

func newLimiter() *limiter {
	return &limiter{windows: map[string]*window{}}
}

// take counts a request of key in a fixed window of period.
func (l *limiter) take(key string, limit int, period time.Duration, now time.Time) limitResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.windows) > 100_000 {
		l.windows = map[string]*window{} // bounded
	}
	w := l.windows[key]
	if w == nil || now.Sub(w.start) >= period {
		w = &window{start: now}
		l.windows[key] = w
	}
	reset := period - now.Sub(w.start)
	if w.n >= limit {
		return limitResult{ok: false, remaining: 0, reset: reset}
	}
	w.n++
	return limitResult{ok: true, remaining: limit - w.n, reset: reset}
}

// ---- redaction ----

var secretKey = regexp.MustCompile(`(?i)pass|token|secret|key|authorization|otp`)

// Redact prepares a body for the request log: values of fields whose names
// look secret (password, token, key …) become "[redacted]", in JSON and in
// form bodies; the result is cut to max bytes.
func Redact(body []byte, max int) string {
	if len(body) == 0 {
		return ""
	}
	var v any
	if json.Unmarshal(body, &v) == nil {
		b, _ := json.Marshal(redactJSON(v))
		return cut(string(b), max)
	}
	if q, err := parseForm(string(body)); err == nil && len(q) > 0 {
		var parts []string
		for _, kv := range q {
			if secretKey.MatchString(kv[0]) {
				kv[1] = "[redacted]"
			}
			parts = append(parts, kv[0]+"="+kv[1])
		}
		return cut(strings.Join(parts, "&"), max)
	}
	return cut(string(body), max)
}

func redactJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if secretKey.MatchString(k) {
				x[k] = "[redacted]"
			} else {
				x[k] = redactJSON(val)
			}
		}
	case []any:
		for i := range x {
			x[i] = redactJSON(x[i])
		}
	}
	return v
}

func parseForm(s string) ([][2]string, error) {
	var out [][2]string
	for _, part := range strings.Split(s, "&") {
		k, v, ok := strings.Cut(part, "=")
		if !ok || k == "" || strings.ContainsAny(k, " {}[]\"") {
			return nil, errors.New("not a form")
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

func cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// ---- route handlers ----

func (h *Handler) me(r *request) (any, error) {
	a := r.customer
	return map[string]any{"id": a.ID, "email": a.Email, "first_name": a.FirstName, "last_name": a.LastName, "company": a.Company, "country": a.Country, "lang": a.Lang}, nil
}

type websiteView struct {
	Domain    string     `json:"domain"`
	Status    string     `json:"status"`
	Plan      string     `json:"plan"`
	Quota     int64      `json:"monthly_quota"`
	ServerKey string     `json:"server_key"`
	Created   time.Time  `json:"created_at"`
	Expires   time.Time  `json:"expires_at"`
	FirstSeen *time.Time `json:"first_seen_at,omitempty"`
}

func view(w core.Website) websiteView {
	return websiteView{Domain: w.Domain, Status: w.Status, Plan: w.Plan.Name, Quota: w.Plan.MonthlyQuota, ServerKey: w.ServerKey, Created: w.CreatedAt, Expires: w.ExpiresAt, FirstSeen: w.FirstSeenAt}
}

// site loads one of the customer's own websites; another's is not found.
func (h *Handler) site(r *request) (core.Website, error) {
	w, err := h.svc.OwnedWebsite(r.Context(), r.caller, r.vars["domain"])
	if core.ErrorCode(err) == core.ENOTFOUND || core.ErrorField(err) == "domain" {
		return w, fail(404, "website "+r.vars["domain"]+" not found")
	}
	return w, err
}

func page(r *request) (after int64, limit int, err error) {
	q := r.URL.Query()
	limit = 50
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 500 {
			return 0, 0, core.FieldError("limit", "limit must be between 1 and 500")
		}
	}
	if c := q.Get("cursor"); c != "" {
		if after, err = strconv.ParseInt(c, 10, 64); err != nil || after < 0 {
			return 0, 0, core.FieldError("cursor", "cursor must be the next_cursor of the previous page")
		}
	}
	return after, limit, nil
}

type listPage struct {
	Items      any    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func (h *Handler) websites(r *request) (any, error) {
	after, limit, err := page(r)
	if err != nil {
		return nil, err
	}
	ws, err := h.svc.OwnedWebsites(r.Context(), r.caller, core.WebsiteFilter{After: after, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]websiteView, 0, len(ws))
	for _, w := range ws {
		out = append(out, view(w))
	}
	p := listPage{Items: out}
	if len(ws) == limit {
		p.NextCursor = strconv.FormatInt(ws[len(ws)-1].ID, 10)
	}
	return p, nil
}

func (h *Handler) website(r *request) (any, error) {
	w, err := h.site(r)
	if err != nil {
		return nil, err
	}
	return view(w), nil
}

// versioned is an answer about a website's settings with the version it
// shows: ServeHTTP sends it as the ETag header and "etag" beside "data".
type versioned struct {
	data any
	etag string
}

func versionOf(w core.Website) string { return core.ETag(w) }

// ifMatch reads the optional If-Match header: the zero Match without one.
func ifMatch(r *request) (core.Match, error) {
	return core.ParseETag(r.Header.Get("If-Match"))
}

func (h *Handler) settingsGet(r *request) (any, error) {
	w, err := h.site(r)
	if err != nil {
		return nil, err
	}
	site, st, err := h.svc.WebsiteSettings(r.Context(), r.caller, w.Domain)
	if err != nil {
		return nil, err
	}
	return versioned{st, versionOf(site)}, nil
}

func decode(r *request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return core.Errorf(core.EINVALID, "send JSON: %v", err)
	}
	return nil
}

// settingsPut replaces all of a website's settings, only if they are still
// at the If-Match version when one is sent.
func (h *Handler) settingsPut(r *request) (any, error) {
	w, err := h.site(r)
	if err != nil {
		return nil, err
	}
	match, err := ifMatch(r)
	if err != nil {
		return nil, err
	}
	var st engine.Settings
	if err := decode(r, &st); err != nil {
		return nil, err
	}
	site, err := h.svc.UpdateWebsiteSettings(r.Context(), r.caller, w.Domain, st, match)
	if err != nil {
		return nil, err
	}
	st, err = engine.ParseSettings(site.Settings)
	return versioned{st, versionOf(site)}, err
}

// part reads or replaces one part of a website's settings: rules,
// rate_limits or lists. A replacement happens inside the core's
// transaction, so the other parts are never set back to an older state;
// If-Match, when sent, guards the part itself.
func part(name string, write bool) func(*Handler, *request) (any, error) {
	return func(h *Handler, r *request) (any, error) {
		w, err := h.site(r)
		if err != nil {
			return nil, err
		}
		if !write {
			site, st, err := h.svc.WebsiteSettings(r.Context(), r.caller, w.Domain)
			if err != nil {
				return nil, err
			}
			return versioned{partOf(name, st), versionOf(site)}, nil
		}
		match, err := ifMatch(r)
		if err != nil {
			return nil, err
		}
		var (
			rules  []engine.Rule
			limits []engine.RateLimit
			lists  struct {
				Allow []string `json:"allow"`
				Deny  []string `json:"deny"`
			}
		)
		switch name {
		case "rules":
			err = decode(r, &rules)
		case "rate_limits":
			err = decode(r, &limits)
		case "lists":
			err = decode(r, &lists)
		}
		if err != nil {
			return nil, err
		}
		site, st, err := h.svc.EditWebsiteSettings(r.Context(), r.caller, w.Domain, match, func(st *engine.Settings) error {
			switch name {
			case "rules":
				st.Rules = rules
			case "rate_limits":
				st.RateLimits = limits
			case "lists":
				st.Allow, st.Deny = lists.Allow, lists.Deny
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		return versioned{partOf(name, st), versionOf(site)}, nil
	}
}

func partOf(name string, st engine.Settings) any {
	switch name {
	case "rules":
		if st.Rules == nil {
			return []engine.Rule{}
		}
		return st.Rules
	case "rate_limits":
		if st.RateLimits == nil {
			return []engine.RateLimit{}
		}
		return st.RateLimits
	}
	return map[string][]string{"allow": nonNil(st.Allow), "deny": nonNil(st.Deny)}
}

// listsChange is the body of PATCH …/lists.
type listsChange struct {
	Add, Remove struct {
		Allow []string `json:"allow"`
		Deny  []string `json:"deny"`
	}
}

// listsPatch adds and removes list entries inside the core's transaction:
// the scripts that call it ("block this address") need no version and
// cannot undo each other's changes or anyone else's.
func (h *Handler) listsPatch(r *request) (any, error) {
	w, err := h.site(r)
	if err != nil {
		return nil, err
	}
	match, err := ifMatch(r)
	if err != nil {
		return nil, err
	}
	var ch listsChange
	if err := decode(r, &ch); err != nil {
		return nil, err
	}
	if len(ch.Add.Allow)+len(ch.Add.Deny)+len(ch.Remove.Allow)+len(ch.Remove.Deny) == 0 {
		return nil, core.FieldError("add", `nothing to change: send {"add": {"allow": [...], "deny": [...]}} and/or {"remove": {...}}`)
	}
	site, st, err := h.svc.EditWebsiteSettings(r.Context(), r.caller, w.Domain, match, func(st *engine.Settings) error {
		st.Allow = editList(st.Allow, ch.Add.Allow, ch.Remove.Allow)
		st.Deny = editList(st.Deny, ch.Add.Deny, ch.Remove.Deny)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return versioned{partOf("lists", st), versionOf(site)}, nil
}

// editList returns list without the entries of remove and with those of
// add that it lacks, appended in order.
func editList(list, add, remove []string) []string {
	gone := make([]string, 0, len(remove))
	for _, e := range remove {
		gone = append(gone, strings.TrimSpace(e))
	}
	out := make([]string, 0, len(list)+len(add))
	for _, e := range list {
		if !slices.Contains(gone, e) {
			out = append(out, e)
		}
	}
	for _, e := range add {
		if e = strings.TrimSpace(e); !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func parseTime(r *request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return t, core.FieldError(name, "%s must be an RFC 3339 time such as 2026-11-24T10:00:00Z", name)
	}
	return t, nil
}

func (h *Handler) events(r *request) (any, error) {
	w, err := h.site(r)
	if err != nil {
		return nil, err
	}
	before, limit, err := page(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	f := core.EventFilter{Action: q.Get("action"), Reason: q.Get("rule"), WAFClass: q.Get("waf_class"), Before: before, Limit: limit}
	if f.Action != "" {
		if _, ok := engine.ParseAction(f.Action); !ok {
			return nil, core.FieldError("action", "action must be grant, deny, challenge, captcha, redirect or return_fake_data")
		}
	}
	if ip := q.Get("ip"); ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return nil, core.FieldError("ip", "ip %q is not an IP address", ip)
		}
		f.IP = a.Unmap().String()
	}
	if ref := q.Get("ref"); ref != "" {
		if f.Ref, err = core.ParseRef(ref); err != nil {
			return nil, err
		}
	}
	if f.From, err = parseTime(r, "from"); err != nil {
		return nil, err
	}
	if f.To, err = parseTime(r, "to"); err != nil {
		return nil, err
	}
	es, err := h.svc.Events(r.Context(), r.caller, w.Domain, f)
	if err != nil {
		return nil, err
	}
	if es == nil {
		es = []core.Event{}
	}
	p := listPage{Items: es}
	if len(es) == limit {
		p.NextCursor = strconv.FormatInt(es[len(es)-1].ID, 10)
	}
	return p, nil
}

func (h *Handler) wafStats(r *request) (any, error) {
	w, err := h.site(r)
	if err != nil {
		return nil, err
	}
	from, err := parseTime(r, "from")
	if err != nil {
		return nil, err
	}
	to, err := parseTime(r, "to")
	if err != nil {
		return nil, err
	}
	counts, err := h.svc.WAFStats(r.Context(), r.caller, w.ID, from, to)
	if err != nil {
		return nil, err
	}
	return map[string]any{"data": counts}, nil
}

func (h *Handler) stats(r *request) (any, error) {
	w, err := h.site(r)
	if err != nil {
		return nil, err
	}
	from, err := parseTime(r, "from")
	if err != nil {
		return nil, err
	}
	to, err := parseTime(r, "to")
	if err != nil {
		return nil, err
	}
	pts, err := h.svc.Stats(r.Context(), r.caller, w.Domain, r.URL.Query().Get("period"), from, to)
	if err != nil {
		return nil, err
	}
	return map[string]any{"data": pts, "challenges": core.SummarizeChallenges(pts)}, nil
}
