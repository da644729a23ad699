// Package gp serves the GP reseller protocol: form POSTs to
// /api/v1/<endpoint>/ signed with hash = sha1(sha1(trim(key)) . domain .
// timestamp), from the reseller's registered addresses, answered with JSON
// whose "status" string says what happened. Every endpoint calls the same
// core.Service as the partner REST API; this package only translates.
//
// Login links: the loginlink endpoint answers a single-use URL that opens
// the reseller's console or a customer's pages; /api/v1/login/ refuses the
// links modules used to sign themselves (see docs/RESELLER.md).
package gp

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/netutil"
	"github.com/palisadehq/palisade/internal/routes"
)

// maxBody bounds a request's form.
const maxBody = 16 << 10

// Status strings of the protocol.
const (
	statusOK         = "ok"
	missingData      = "Request Missing data!"
	packageNotFound  = "Package not Found!"
	invalidPackage   = "Invalid package name"
	missingPassword  = "Missing Password"
	downgrade        = "Downgrade not allowed."
	packageSuspended = "Package is suspended. Please unsuspend it to continue."
)

// Handler serves the GP endpoints.
type Handler struct {
	svc     *core.Service
	trusted netutil.Proxies
	log     *slog.Logger
}

// New returns the GP handler; trusted are the reverse proxies whose
// X-Forwarded-For is believed for the caller's address.
func New(svc *core.Service, trusted netutil.Proxies, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	return &Handler{svc: svc, trusted: trusted, log: log}
}

// Endpoints lists the protocol's endpoints, in documentation order.
var Endpoints = []string{"connection", "getcredit", "list", "autoregister", "suspended", "active", "delete", "packageupdate", "passwordreset", "renew", "loginlink"}

// Register adds the routes to mux.
func (h *Handler) Register(mux routes.Mux) {
	mux.HandleFunc("/api/v1/{endpoint}/", h.serve)
	mux.HandleFunc("/api/v1/{endpoint}", h.serve)
	mux.HandleFunc("GET /api/v1/login/", h.login)
}

// request is one parsed GP call.
type request struct {
	endpoint string
	form     map[string]string
	caller   core.Caller
	key      string
}

func (r *request) get(name string) string { return r.form[name] }

type answer map[string]any

func status(s string) answer { return answer{"status": s} }

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	ep := strings.ToLower(r.PathValue("endpoint"))
	if ep == "login" {
		h.login(w, r)
		return
	}
	if !knownEndpoint(ep) {
		write(w, http.StatusNotFound, status("Unknown endpoint: "+ep+"; one of "+strings.Join(Endpoints, ", ")))
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		write(w, http.StatusMethodNotAllowed, status("Use POST with form fields domain, hash and timestamp"))
		return
	}
	form, err := readForm(r)
	if err != nil {
		write(w, http.StatusBadRequest, status(formError))
		return
	}
	req := &request{endpoint: ep, form: form}
	for _, f := range []string{"domain", "hash", "timestamp"} {
		if form[f] == "" {
			write(w, http.StatusOK, status(missingData))
			return
		}
	}
	if len(form["hash"]) != 40 {
		write(w, http.StatusOK, status("Invalid hash"))
		return
	}
	ip := netutil.ClientAddr(r, h.trusted)
	c, key, err := h.svc.AuthenticateGP(r.Context(), ip, form["domain"], form["timestamp"], form["hash"])
	if err != nil {
		h.fail(w, r, ep, err)
		return
	}
	req.caller, req.key = c, key
	a, err := h.dispatch(r, req)
	if err != nil {
		h.fail(w, r, ep, err)
		return
	}
	write(w, http.StatusOK, a)
}

// ReadForm reads a GP request body: URL-encoded fields of at most 16 KiB in
// all, names in any case (the first value of each counts), values trimmed.
func ReadForm(body io.Reader) (map[string]string, error) {
	b, err := io.ReadAll(io.LimitReader(body, maxBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBody {
		return nil, errors.New("the form is larger than 16 KiB")
	}
	vals, err := url.ParseQuery(string(b))
	if err != nil {
		return nil, err
	}
	form := make(map[string]string, len(vals))
	for k, v := range vals {
		k = strings.ToLower(k)
		if _, seen := form[k]; !seen && len(v) > 0 {
			form[k] = strings.TrimSpace(v[0])
		}
	}
	return form, nil
}

func knownEndpoint(ep string) bool {
	for _, e := range Endpoints {
		if e == ep {
			return true
		}
	}
	return false
}

// siteEndpoints act on an existing package (website) named by domain.
var siteEndpoints = map[string]bool{"list": true, "suspended": true, "active": true, "delete": true, "packageupdate": true, "passwordreset": true, "renew": true}

// dispatch calls the core for one endpoint. Its errors are answered by
// errorAnswer, the one table of this protocol; dispatch itself answers
// only what is not a core error (missing fields, undecryptable passwords).
// Every endpoint makes at most one core change (authentication records
// the request's nonce before, in its own transaction, so that a refused
// call still cannot be replayed).
func (h *Handler) dispatch(r *http.Request, req *request) (answer, error) {
	ctx, c := r.Context(), req.caller
	domain := req.get("domain")
	if siteEndpoints[req.endpoint] {
		if _, err := core.NormalizeDomain(domain); err != nil {
			// A domain that cannot be registered names no package.
			return status(packageNotFound), nil
		}
	}
	switch req.endpoint {
	case "connection":
		return status(statusOK), nil

	case "getcredit":
		p, err := h.svc.Partner(ctx, c)
		if err != nil {
			return nil, err
		}
		return status("OK - " + p.Balance.String()), nil

	case "list":
		site, err := h.svc.Website(ctx, c, domain)
		if err != nil {
			return nil, err
		}
		st := "active"
		if site.Status == core.StatusPaused {
			st = "suspended"
		}
		return answer{"status": st, "exist": "exists", "package": site.Plan.Name, "expires": site.ExpiresAt.UTC().Format("2006-01-02")}, nil

	case "autoregister":
		for _, f := range []string{"package", "uemail"} {
			if req.get(f) == "" {
				return status(missingData + " " + f), nil
			}
		}
		if req.get("password") == "" {
			return status(missingPassword), nil
		}
		pw, err := DecryptPassword(req.key, req.get("password"))
		if err != nil {
			return status("Invalid password: " + err.Error()), nil
		}
		_, site, err := h.svc.ProvisionAccount(ctx, c, core.Provision{
			Account:  core.SubaccountCreate{Email: req.get("uemail"), FirstName: req.get("fname"), LastName: req.get("lname"), Company: req.get("company")},
			Password: pw, Domain: domain, Plan: req.get("package"),
		})
		if err != nil {
			return nil, err
		}
		return answer{"status": statusOK, "token": site.ServerKey}, nil

	case "suspended", "active":
		want := core.StatusPaused
		if req.endpoint == "active" {
			want = core.StatusOnline
		}
		_, err := h.svc.UpdateWebsite(ctx, c, domain, core.WebsiteUpdate{Status: &want}, core.Match{})
		return ok(err)

	case "delete":
		_, err := h.svc.DeleteWebsite(ctx, c, domain, core.Match{})
		return ok(err)

	case "packageupdate":
		for _, f := range []string{"status", "package"} {
			if req.get(f) == "" {
				return status(missingData + " " + f), nil
			}
		}
		// status is the package's status as the panel knows it, not a
		// change: a package the panel has suspended is refused as a
		// whole, and nothing is changed. One the panel thinks active but
		// Palisade has paused is refused by the core (ErrWebsitePaused)
		// in the same words; a downgrade by ErrDowngradeNotAllowed.
		if strings.EqualFold(req.get("status"), "suspended") {
			return status(packageSuspended), nil
		}
		_, _, err := h.svc.ChangePlan(ctx, c, domain, req.get("package"), core.Match{}, core.Idem{})
		return ok(err)

	case "passwordreset":
		if req.get("password") == "" {
			return status(missingPassword), nil
		}
		pw, err := DecryptPassword(req.key, req.get("password"))
		if err != nil {
			return status("Invalid password: " + err.Error()), nil
		}
		// The core's one password rule: strength, and none of the
		// account's email name or its websites' domains.
		return ok(h.svc.SetWebsitePassword(ctx, c, domain, pw))

	case "renew":
		months := 1
		if m := req.get("months"); m != "" {
			n, err := strconv.Atoi(m)
			if err != nil {
				return status("Invalid months: send a whole number from 1 to " + strconv.Itoa(core.MaxRenewMonths)), nil
			}
			months = n
		}
		site, _, err := h.svc.Renew(ctx, c, domain, months, core.Match{}, core.Idem{})
		if err != nil {
			return nil, err
		}
		return answer{"status": statusOK, "expires": site.ExpiresAt.UTC().Format("2006-01-02")}, nil

	case "loginlink":
		// A login link is asked for like every call, from the key's
		// addresses; a link made from the key alone opens nothing.
		if req.get("panel") == "" {
			return status(missingData + " panel"), nil
		}
		u, expires, err := h.svc.GPLoginLink(ctx, c, strings.ToLower(req.get("panel")), domain)
		if err != nil {
			return nil, err
		}
		return answer{"status": statusOK, "url": u, "expires": expires.UTC().Format(time.RFC3339)}, nil
	}
	return nil, errors.New("unreachable: unknown endpoint " + req.endpoint)
}

// ok answers "ok", or err.
func ok(err error) (answer, error) {
	if err != nil {
		return nil, err
	}
	return status(statusOK), nil
}

// login answers a link a module signed itself (/api/v1/login/?panel=&
// domain=&timestamp=&key=&hash=): refused, with a message naming the
// loginlink call (core.LoginWithGPLink; docs/RESELLER.md).
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	err := h.svc.LoginWithGPLink(r.Context())
	// The protocol's table, with a browser's status for a refusal and the
	// core's message, which says what to do.
	code, a := h.errorAnswer(r.Context(), w, "login", err)
	msg := a["status"].(string)
	if code == http.StatusOK {
		code, msg = http.StatusForbidden, core.ErrorMessage(err)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(msg + "\n"))
}

// SessionCookie is the dashboard session cookie's name.
const SessionCookie = "palisade_session"

// cookies are the session cookies of this handler's logins.
func (h *Handler) cookies() SessionCookies {
	return SessionCookies{PublicURL: h.svc.Config().PublicURL, Proxies: h.trusted}
}

// SessionCookies set the dashboard session cookie for every way in (GP
// login links, the console's sign-in, /sso, customer links).
type SessionCookies struct {
	// PublicURL is --public-url: when it is https, the cookie is always
	// Secure.
	PublicURL string
	// Proxies are --trusted-proxy: only their X-Forwarded-Proto says a
	// plain-HTTP request came over HTTPS.
	Proxies netutil.Proxies
}

// Secure reports whether r's session cookie gets the Secure flag: Palisade's
// public URL is https, or r came over HTTPS (its own TLS, or a trusted
// proxy's X-Forwarded-Proto). A client's X-Forwarded-Proto decides nothing.
func (c SessionCookies) Secure(r *http.Request) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(c.PublicURL)), "https://") || netutil.HTTPS(r, c.Proxies)
}

// Set sets the session cookie of a login: HttpOnly, Secure (see Secure),
// and SameSite=Lax, except when the partner lets its panels embed the
// customer pages (l.Framed) and the cookie is Secure: then SameSite=None
// and Partitioned, so it works in the panel's iframe. Its Max-Age is the
// session's lifetime (l is a session opened just now), not time left by
// this machine's clock, which may differ from the service's.
func (sc SessionCookies) Set(w http.ResponseWriter, r *http.Request, l core.Login) {
	secure := sc.Secure(r)
	c := &http.Cookie{Name: SessionCookie, Value: l.Value, Path: "/", HttpOnly: true, Secure: secure,
		Expires: l.Session.ExpiresAt, MaxAge: int(l.Session.ExpiresAt.Sub(l.Session.CreatedAt) / time.Second), SameSite: http.SameSiteLaxMode}
	if secure && l.Framed {
		// Framed in a partner's panel, the cookie is third-party: None,
		// and partitioned per embedding site (CHIPS) where browsers block
		// unpartitioned third-party cookies.
		c.SameSite, c.Partitioned = http.SameSiteNoneMode, true
	}
	http.SetCookie(w, c)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
}

func write(w http.ResponseWriter, code int, a answer) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(a)
}
