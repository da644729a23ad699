// Package signin finishes a sign-in from a link (a single-sign-on token, a
// customer page's ?api-key=, a GP login link) without ever replacing, unasked,
// a session the browser holds for someone else: anyone can send a link, and
// a silent switch would let them put a visitor into their account (or out of
// the visitor's own). The decision is core.SamePrincipal; the confirmation
// page is the web package's (ConfirmPath).
//
// It is a package of its own so that the GP adapter can call it: the web
// package imports gp (for its session cookie), so gp cannot import web.
package signin

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/core"
)

const (
	// SessionCookie is the dashboard session cookie's name (gp.SessionCookie;
	// a test in the web package checks they are the same).
	SessionCookie = "palisade_session"
	// PendingCookie holds a session a link opened until the person confirms
	// the switch; only ConfirmPath sees it.
	PendingCookie = "palisade_pending"
	// ConfirmPath is the confirmation page: GET shows it, POST (with the
	// current session's CSRF token) switches or cancels.
	ConfirmPath = "/sso/switch"
	// PendingTTL is how long the confirmation may wait.
	PendingTTL = 300 // seconds
)

// SetCookie sets the session cookie of a login (gp.SetSessionCookie).
type SetCookie func(w http.ResponseWriter, r *http.Request, l core.Login)

// Link finishes a sign-in from a link: l is the session the link opened and
// next the page to show (a path on this host). Without a session in the
// browser, or with one of the same principal, the new session's cookie is set
// and the browser goes to next, as always. With a live session of another
// principal (or one that cannot be checked just now) the new session is only
// parked in PendingCookie and the browser goes to ConfirmPath, where only a
// POST carrying the current session's CSRF token completes the switch.
func Link(w http.ResponseWriter, r *http.Request, svc *core.Service, l core.Login, next string, set SetCookie) {
	if NeedsConfirmation(r, svc, l.Session) {
		Park(w, r, l, next, set)
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		http.Redirect(w, r, ConfirmPath, http.StatusSeeOther)
		return
	}
	set(w, r, l)
	http.Redirect(w, r, SafeNext(next), http.StatusSeeOther)
}

// NeedsConfirmation reports whether r carries a session that a new session s
// would replace without the person asking for it: a live session of another
// principal. An unreadable session (the store unavailable) needs it too.
func NeedsConfirmation(r *http.Request, svc *core.Service, s core.Session) bool {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return false
	}
	cur, err := svc.SessionByValue(r.Context(), c.Value)
	switch {
	case core.ErrorCode(err) == core.EUNAUTHORIZED: // ended or unknown: nothing to replace
		return false
	case err != nil:
		return true
	}
	return !core.SamePrincipal(cur, s)
}

// Park keeps the session of l, and the page to open after it, in the
// pending cookie: the session cookie's own attributes (Secure, SameSite,
// Partitioned, as set decides them) under another name, visible only to
// ConfirmPath, for PendingTTL.
func Park(w http.ResponseWriter, r *http.Request, l core.Login, next string, set SetCookie) {
	hw := &headerOnly{h: http.Header{}}
	set(hw, r, l)
	for _, c := range (&http.Response{Header: hw.h}).Cookies() {
		if c.Name != SessionCookie {
			continue
		}
		c.Name, c.Path = PendingCookie, ConfirmPath
		c.Value = url.Values{"s": {l.Value}, "n": {SafeNext(next)}}.Encode()
		c.MaxAge, c.Expires, c.RawExpires, c.Raw = PendingTTL, time.Time{}, "", ""
		http.SetCookie(w, c)
	}
}

// Pending returns the parked session value and page, if any.
func Pending(r *http.Request) (value, next string, ok bool) {
	c, err := r.Cookie(PendingCookie)
	if err != nil {
		return "", "", false
	}
	q, err := url.ParseQuery(c.Value)
	if err != nil || q.Get("s") == "" {
		return "", "", false
	}
	return q.Get("s"), SafeNext(q.Get("n")), true
}

// ClearPending removes the pending cookie.
func ClearPending(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: PendingCookie, Value: "", Path: ConfirmPath, MaxAge: -1, HttpOnly: true})
}

// SafeNext returns next if it is a plain path on this host, else "/".
func SafeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\x00\t\r\n") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	for _, c := range next {
		if c < 0x20 || c == 0x7f {
			return "/"
		}
	}
	return next
}

// headerOnly is a ResponseWriter that keeps headers only (to read the
// session cookie set would write).
type headerOnly struct{ h http.Header }

func (w *headerOnly) Header() http.Header         { return w.h }
func (w *headerOnly) Write(b []byte) (int, error) { return len(b), nil }
func (w *headerOnly) WriteHeader(int)             {}
