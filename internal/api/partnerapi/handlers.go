package partnerapi

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/palisadehq/palisade/internal/core"
)

// lang picks the language of dashboard URLs in website responses.
func lang(r *http.Request) string {
	l := strings.ToLower(r.URL.Query().Get("lang"))
	if len(l) == 2 {
		return l
	}
	return "en"
}

// ---- BotGuard Partner API v2 compatible ----

func (a *API) handleWebsiteList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := a.svc.Websites(r.Context(), callerFrom(r.Context()), core.WebsiteFilter{})
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		writeJSON(w, http.StatusOK, a.websites(ws, lang(r)))
	})
}

// handleWebsiteCreate serves both POST /website and POST /v1/websites.
func (a *API) handleWebsiteCreate(strict bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, err := readInput(r)
		if err == nil && strict {
			err = in.strict("domain", "user", "plan")
		}
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		user, err := in.id("user")
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		key, err := idem(r, in)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		plan := in.str("plan")
		if plan == "" {
			plan = in.str("package")
		}
		site, replayed, err := a.svc.CreateWebsite(r.Context(), callerFrom(r.Context()), core.WebsiteCreate{Domain: in.str("domain"), SubaccountID: user, Plan: plan}, key)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		a.writeWebsite(w, r, http.StatusCreated, site, replayed)
	})
}

func (a *API) writeWebsite(w http.ResponseWriter, r *http.Request, status int, site core.Website, replayed bool) {
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	if site.Status != core.StatusDeleted {
		w.Header().Set("ETag", core.ETag(site))
	}
	writeJSON(w, status, a.website(site, lang(r)))
}

func (a *API) handleWebsiteGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		site, err := a.svc.Website(r.Context(), callerFrom(r.Context()), r.PathValue("domain"))
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		a.writeWebsite(w, r, http.StatusOK, site, false)
	})
}

// handleWebsiteUpdate serves PUT /website/{domain} (status=paused|online,
// optional user) and PATCH /v1/websites/{domain}.
func (a *API) handleWebsiteUpdate(strict bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, err := readInput(r)
		if err == nil && strict {
			err = in.strict("status", "user")
		}
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		match, err := ifMatch(r)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		var u core.WebsiteUpdate
		if in.has("status") {
			s := strings.ToLower(in.str("status"))
			u.Status = &s
		}
		if in.has("user") {
			id, err := in.id("user")
			if err != nil {
				writeError(w, r, a.log, err)
				return
			}
			u.SubaccountID = &id
		}
		if u.Status == nil && u.SubaccountID == nil {
			writeError(w, r, a.log, core.FieldError("status", "nothing to change: send status=paused to suspend or status=online to resume"))
			return
		}
		site, err := a.svc.UpdateWebsite(r.Context(), callerFrom(r.Context()), r.PathValue("domain"), u, match)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		a.writeWebsite(w, r, http.StatusOK, site, false)
	})
}

func (a *API) handleWebsiteDelete() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		match, err := ifMatch(r)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		site, err := a.svc.DeleteWebsite(r.Context(), callerFrom(r.Context()), r.PathValue("domain"), match)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		a.writeWebsite(w, r, http.StatusOK, site, false)
	})
}

func (a *API) handleUserList(native bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := core.SubaccountFilter{Email: r.URL.Query().Get("email")}
		if native {
			var err error
			f.After, f.Limit, err = page(r)
			if err != nil {
				writeError(w, r, a.log, err)
				return
			}
		}
		subs, err := a.svc.Subaccounts(r.Context(), callerFrom(r.Context()), f)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		if !native {
			writeJSON(w, http.StatusOK, users(subs))
			return
		}
		var last int64
		if len(subs) > 0 {
			last = subs[len(subs)-1].ID
		}
		writeJSON(w, http.StatusOK, list[userView]{Data: users(subs), NextCursor: nextCursor(len(subs), f.Limit, last)})
	})
}

func (a *API) handleUserCreate(strict bool) http.Handler {
	fields := []string{"email", "first_name", "last_name", "company", "country", "address", "lang"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, err := readInput(r)
		if err == nil && strict {
			err = in.strict(fields...)
		}
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		key, err := idem(r, in)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		sub, replayed, err := a.svc.CreateSubaccount(r.Context(), callerFrom(r.Context()), core.SubaccountCreate{
			Email: in.str("email"), FirstName: in.str("first_name"), LastName: in.str("last_name"),
			Company: in.str("company"), Country: in.str("country"), Address: in.str("address"), Lang: in.str("lang"),
		}, key)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		if replayed {
			w.Header().Set("Idempotent-Replayed", "true")
		}
		writeJSON(w, http.StatusCreated, user(sub))
	})
}

func pathID(r *http.Request) (int64, error) {
	id, err := parseID("id", r.PathValue("id"))
	if err == nil && id == 0 {
		err = core.FieldError("id", "id must be a positive integer")
	}
	return id, err
}

func (a *API) handleUserGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		sub, err := a.svc.Subaccount(r.Context(), callerFrom(r.Context()), id)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		writeJSON(w, http.StatusOK, user(sub))
	})
}

func (a *API) handleUserDelete(native bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		if err := a.svc.DeleteSubaccount(r.Context(), callerFrom(r.Context()), id); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		if native {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "id": id, "deleted": true})
	})
}

// ---- native /v1 ----

func (a *API) handlePlans() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plans, err := a.svc.Plans(r.Context())
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		out := make([]planView, len(plans))
		for i, p := range plans {
			out[i] = planView{Name: p.Name, MonthlyQuota: p.MonthlyQuota, Price: p.Price, PriceCents: int64(p.Price), Rank: p.Rank}
		}
		writeJSON(w, http.StatusOK, list[planView]{Data: out})
	})
}

func (a *API) handleV1WebsiteList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		after, limit, err := page(r)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		user, err := parseID("user", q.Get("user"))
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		f := core.WebsiteFilter{Status: q.Get("status"), SubaccountID: user, DomainContains: q.Get("domain"), Plan: q.Get("plan"), After: after, Limit: limit}
		ws, err := a.svc.Websites(r.Context(), callerFrom(r.Context()), f)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		var last int64
		if len(ws) > 0 {
			last = ws[len(ws)-1].ID
		}
		writeJSON(w, http.StatusOK, list[websiteView]{Data: a.websites(ws, lang(r)), NextCursor: nextCursor(len(ws), limit, last)})
	})
}

func (a *API) handleChangePlan() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, err := readInput(r)
		if err == nil {
			err = in.strict("plan")
		}
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		match, err := ifMatch(r)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		key, err := idem(r, in)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		site, replayed, err := a.svc.ChangePlan(r.Context(), callerFrom(r.Context()), r.PathValue("domain"), in.str("plan"), match, key)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		a.writeWebsite(w, r, http.StatusOK, site, replayed)
	})
}

func (a *API) handleRenew() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, err := readInput(r)
		if err == nil {
			err = in.strict("months")
		}
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		months, err := in.integer("months", 1)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		match, err := ifMatch(r)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		key, err := idem(r, in)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		site, replayed, err := a.svc.Renew(r.Context(), callerFrom(r.Context()), r.PathValue("domain"), months, match, key)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		a.writeWebsite(w, r, http.StatusOK, site, replayed)
	})
}

func (a *API) handleCredit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.svc.Partner(r.Context(), callerFrom(r.Context()))
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"balance": p.Balance, "balance_cents": int64(p.Balance), "partner": p.Name, "allow_downgrade": p.AllowDowngrade})
	})
}

func (a *API) handleLedger() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		after, limit, err := page(r)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		es, err := a.svc.Ledger(r.Context(), callerFrom(r.Context()), after, limit)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		out := make([]ledgerView, len(es))
		var last int64
		for i, e := range es {
			out[i] = ledgerView{ID: e.ID, Amount: e.Amount, AmountCents: int64(e.Amount), BalanceAfter: e.BalanceAfter, BalanceAfterCents: int64(e.BalanceAfter),
				Kind: e.Kind, Reason: e.Reason, Actor: e.Actor, CreatedAt: rfc3339(e.CreatedAt)}
			if e.WebsiteID != 0 {
				id := e.WebsiteID
				out[i].WebsiteID = &id
			}
			last = e.ID
		}
		writeJSON(w, http.StatusOK, list[ledgerView]{Data: out, NextCursor: nextCursor(len(es), limit, last)})
	})
}

func (a *API) handleAudit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		after, limit, err := page(r)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		es, err := a.svc.Audit(r.Context(), callerFrom(r.Context()), after, limit)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		out := make([]auditView, len(es))
		var last int64
		for i, e := range es {
			out[i] = auditView{ID: e.ID, At: rfc3339(e.At), Actor: e.Actor, Protocol: e.Protocol, SourceIP: e.SourceIP,
				ObjectType: e.ObjectType, ObjectID: e.ObjectID, Action: e.Action, OldState: rawState(e.OldState), NewState: rawState(e.NewState)}
			last = e.ID
		}
		writeJSON(w, http.StatusOK, list[auditView]{Data: out, NextCursor: nextCursor(len(es), limit, last)})
	})
}

func rawState(s string) any {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}
