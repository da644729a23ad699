package web

import (
	"context"
	"net/http"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/i18n"
	"github.com/palisadehq/palisade/internal/web/signin"
)

// The confirmation a link needs before it replaces a browser's session of
// another principal (see package signin): GET shows it, POST with the
// current session's CSRF token switches or cancels. GET never switches.

type switchView struct {
	Current, Target, Action string
}

// describe says in a few words what a session opens: the website a
// customer's session was opened for (the visitor holds that session, or the
// link to it, so names nothing new), a partner console, the operator pages.
func (h *Handler) describe(ctx context.Context, l string, s core.Session) string {
	switch s.Scope {
	case core.ScopeCustomer:
		if w, err := h.svc.WebsiteByID(ctx, callerOf(s), s.WebsiteID); err == nil && core.CanSeeWebsite(callerOf(s), w) == nil {
			return i18n.T(l, "common.switch.dashboardof", map[string]any{"Domain": w.Domain})
		}
		return tr(l, "common.switch.customer")
	case core.ScopePartner:
		return tr(l, "common.switch.console")
	case core.ScopeOperator:
		return tr(l, "common.switch.operator")
	}
	return tr(l, "common.switch.other")
}

func (h *Handler) switchPage(w http.ResponseWriter, r *http.Request) {
	value, next, ok := signin.Pending(r)
	l := pageLang(r)
	if !ok {
		h.message(w, r, nil, http.StatusNotFound, tr(l, "common.switch.nothing.title"), tr(l, "common.switch.nothing"))
		return
	}
	pending, err := h.svc.SessionByValue(r.Context(), value)
	if err != nil {
		signin.ClearPending(w)
		h.fail(w, r, nil, core.Errorf(core.EUNAUTHORIZED, "%s", tr(l, "common.switch.expired")))
		return
	}
	cur, curValue, err := h.cookieSession(r)
	if err != nil {
		// Nothing left to replace (the session ended meanwhile): the
		// link's sign-in proceeds as it would have without one.
		if core.ErrorCode(err) != core.EUNAUTHORIZED {
			h.fail(w, r, nil, err)
			return
		}
		h.completeSwitch(w, r, pending, value, "", next)
		return
	}
	// The page belongs to the session the browser holds: its partner's
	// branding, framed only by that partner's panels.
	p, err := h.svc.Partner(r.Context(), callerOf(cur))
	if err != nil && cur.Scope != core.ScopeOperator {
		h.fail(w, r, nil, err)
		return
	}
	v := view{Lang: l, Title: tr(l, "common.switch.title"), Assets: "/_assets/", CSRF: csrfToken(curValue), Brand: p.Branding(),
		Data: switchView{Current: h.describe(r.Context(), l, cur), Target: h.describe(r.Context(), l, pending), Action: signin.ConfirmPath}}
	if p.ID == 0 {
		v.Brand = h.operatorBrand()
	}
	h.render(w, "switch", http.StatusOK, v)
}

func (h *Handler) switchPost(w http.ResponseWriter, r *http.Request) {
	value, next, ok := signin.Pending(r)
	l := pageLang(r)
	if !ok {
		h.message(w, r, nil, http.StatusNotFound, tr(l, "common.switch.nothing.title"), tr(l, "common.switch.nothing"))
		return
	}
	cur, curValue, err := h.cookieSession(r)
	switch {
	case err == nil:
		// The switch is the person's, not a cross-site form's.
		if !h.csrfOK(r, curValue) {
			h.fail(w, r, nil, core.Errorf(core.EFORBIDDEN, "%s", tr(l, "common.switch.formexpired")))
			return
		}
	case core.ErrorCode(err) != core.EUNAUTHORIZED:
		h.fail(w, r, nil, err)
		return
	}
	if r.PostFormValue("action") != "switch" {
		// Cancelled: the parked session is ended, the current one stays.
		signin.ClearPending(w)
		_ = h.svc.Logout(r.Context(), value)
		var p *core.Partner
		if err == nil {
			if pp, perr := h.svc.Partner(r.Context(), callerOf(cur)); perr == nil {
				p = &pp
			}
		}
		h.message(w, r, p, http.StatusOK, tr(l, "common.switch.cancelled.title"), tr(l, "common.switch.cancelled"))
		return
	}
	pending, perr := h.svc.SessionByValue(r.Context(), value)
	if perr != nil {
		signin.ClearPending(w)
		h.fail(w, r, nil, core.Errorf(core.EUNAUTHORIZED, "%s", tr(l, "common.switch.expired")))
		return
	}
	h.completeSwitch(w, r, pending, value, curValue, next)
}

// completeSwitch puts the parked session in place, ends the one it
// replaces (if any) and opens the link's page.
func (h *Handler) completeSwitch(w http.ResponseWriter, r *http.Request, s core.Session, value, oldValue, next string) {
	framed := false
	if p, err := h.svc.Partner(r.Context(), callerOf(s)); err == nil {
		framed = p.EmbedOrigins != ""
	}
	signin.ClearPending(w)
	if oldValue != "" && oldValue != value {
		_ = h.svc.Logout(r.Context(), oldValue)
	}
	h.setSessionCookie(w, r, core.Login{Session: s, Value: value, Next: next, Framed: framed})
	http.Redirect(w, r, signin.SafeNext(next), http.StatusSeeOther)
}
