package partnerapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
)

// handlerFunc is a handler that returns its error; h writes it in the API's
// error shape, so each handler reads as its happy path.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (a *API) h(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			writeError(w, r, a.log, err)
		}
	})
}

// mutation is what a changing request carries: its fields, its
// Idempotency-Key and its If-Match precondition.
type mutation struct {
	in    *input
	idem  core.Idem
	match core.Match
}

// readMutation reads a request body and headers. With fields given, any
// other field is refused (the native API); without, unknown fields are
// ignored (the BotGuard-compatible API).
func readMutation(r *http.Request, fields ...string) (mutation, error) {
	var m mutation
	var err error
	if m.in, err = readInput(r); err != nil {
		return m, err
	}
	if len(fields) > 0 {
		if err = m.in.strict(fields...); err != nil {
			return m, err
		}
	}
	if m.match, err = ifMatch(r); err != nil {
		return m, err
	}
	m.idem, err = idem(r, m.in)
	return m, err
}

// lang picks the language of dashboard URLs in website responses: any
// form core.ParseLanguage reads (de, de_DE, german), else the partner's
// default language (en if it cannot be read: a link is no reason to fail
// an answer).
func (a *API) lang(r *http.Request) string {
	if l, ok := core.ParseLanguage(r.URL.Query().Get("lang")); ok {
		return l
	}
	if b, err := a.svc.Branding(r.Context(), callerFrom(r.Context())); err == nil && b.DefaultLang != "" {
		return b.DefaultLang
	}
	return core.DefaultLanguage
}

func (a *API) writeWebsite(w http.ResponseWriter, r *http.Request, status int, site core.Website, replayed bool) error {
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	if site.Status != core.StatusDeleted {
		w.Header().Set("ETag", core.ETag(site))
	}
	writeJSON(w, status, a.website(site, a.lang(r)))
	return nil
}

// decodeJSON reads a JSON body into v, refusing unknown fields; shape
// says what to send.
func decodeJSON(r *http.Request, v any, shape string) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return core.Errorf(core.EINVALID, "send JSON %s: %v", shape, err)
	}
	// One object: what follows it (a second object glued on) would be
	// silently ignored.
	if _, err := dec.Token(); err != io.EOF {
		return core.Errorf(core.EINVALID, "send one JSON object %s, and nothing after it", shape)
	}
	return nil
}

// writeRows writes a page of rows ordered by id (id gives a row's): an
// empty page as [], and the next cursor from the last row.
func writeRows[T any](w http.ResponseWriter, rows []T, limit int, id func(T) int64) error {
	var last int64
	if len(rows) > 0 {
		last = id(rows[len(rows)-1])
	}
	if rows == nil {
		rows = []T{}
	}
	return writePage(w, rows, limit, last)
}

// writePage writes a native list page; lastID, the last item's ID, makes the
// cursor of the next page when this one is full.
func writePage[T any](w http.ResponseWriter, items []T, limit int, lastID int64) error {
	writeJSON(w, http.StatusOK, list[T]{Data: items, NextCursor: nextCursor(len(items), limit, lastID)})
	return nil
}

// strictFields returns fields for the native API and nothing for the
// compatible one (which ignores unknown fields).
func strictFields(strict bool, fields ...string) []string {
	if strict {
		return fields
	}
	return nil
}

// ---- websites ----

func (a *API) handleWebsiteList() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		ws, err := a.svc.Websites(r.Context(), callerFrom(r.Context()), core.WebsiteFilter{})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, a.websites(ws, a.lang(r)))
		return nil
	})
}

func (a *API) handleV1WebsiteList() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		after, limit, err := page(r)
		if err != nil {
			return err
		}
		user, err := parseID("user", q.Get("user"))
		if err != nil {
			return err
		}
		f := core.WebsiteFilter{Status: q.Get("status"), SubaccountID: user, DomainContains: q.Get("domain"), Plan: q.Get("plan"), After: after, Limit: limit}
		ws, err := a.svc.Websites(r.Context(), callerFrom(r.Context()), f)
		if err != nil {
			return err
		}
		var last int64
		if len(ws) > 0 {
			last = ws[len(ws)-1].ID
		}
		return writePage(w, a.websites(ws, a.lang(r)), limit, last)
	})
}

// handleWebsiteCreate serves POST /website and (strict) POST /v1/websites.
func (a *API) handleWebsiteCreate(strict bool) http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		m, err := readMutation(r, strictFields(strict, "domain", "user", "plan")...)
		if err != nil {
			return err
		}
		user, err := m.in.id("user")
		if err != nil {
			return err
		}
		plan := m.in.str("plan")
		if plan == "" {
			plan = m.in.str("package") // BotGuard-era modules say package
		}
		site, replayed, err := a.svc.CreateWebsite(r.Context(), callerFrom(r.Context()), core.WebsiteCreate{Domain: m.in.str("domain"), SubaccountID: user, Plan: plan}, m.idem)
		if err != nil {
			return err
		}
		return a.writeWebsite(w, r, http.StatusCreated, site, replayed)
	})
}

func (a *API) handleWebsiteGet() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		site, err := a.svc.Website(r.Context(), callerFrom(r.Context()), r.PathValue("domain"))
		if err != nil {
			return err
		}
		return a.writeWebsite(w, r, http.StatusOK, site, false)
	})
}

// handleWebsiteUpdate serves PUT /website/{domain} and (strict) PATCH
// /v1/websites/{domain}: status=paused|online, user, and plan, all in one
// transaction (core.ModifyWebsite): a refused part leaves the website as
// it was. So "resume and upgrade" or "upgrade and suspend" is one call.
func (a *API) handleWebsiteUpdate(strict bool) http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		m, err := readMutation(r, strictFields(strict, "status", "user", "plan")...)
		if err != nil {
			return err
		}
		var ch core.WebsiteChange
		if m.in.has("status") {
			s := strings.ToLower(m.in.str("status"))
			ch.Status = &s
		}
		if m.in.has("user") {
			id, err := m.in.id("user")
			if err != nil {
				return err
			}
			ch.SubaccountID = &id
		}
		ch.Plan = m.in.str("plan")
		if ch.Plan == "" && !strict {
			ch.Plan = m.in.str("package") // BotGuard-era modules say package
		}
		if ch.Status == nil && ch.SubaccountID == nil && ch.Plan == "" {
			return core.FieldError("status", "nothing to change: send status=paused to suspend or status=online to resume, user, or plan")
		}
		site, replayed, err := a.svc.ModifyWebsite(r.Context(), callerFrom(r.Context()), r.PathValue("domain"), ch, m.match, m.idem)
		if err != nil {
			return err
		}
		return a.writeWebsite(w, r, http.StatusOK, site, replayed)
	})
}

func (a *API) handleWebsiteDelete() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		match, err := ifMatch(r)
		if err != nil {
			return err
		}
		site, err := a.svc.DeleteWebsite(r.Context(), callerFrom(r.Context()), r.PathValue("domain"), match)
		if err != nil {
			return err
		}
		return a.writeWebsite(w, r, http.StatusOK, site, false)
	})
}

func (a *API) handleChangePlan() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		m, err := readMutation(r, "plan")
		if err != nil {
			return err
		}
		site, replayed, err := a.svc.ChangePlan(r.Context(), callerFrom(r.Context()), r.PathValue("domain"), m.in.str("plan"), m.match, m.idem)
		if err != nil {
			return err
		}
		return a.writeWebsite(w, r, http.StatusOK, site, replayed)
	})
}

func (a *API) handleRenew() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		m, err := readMutation(r, "months")
		if err != nil {
			return err
		}
		months, err := m.in.integer("months", 1)
		if err != nil {
			return err
		}
		site, replayed, err := a.svc.Renew(r.Context(), callerFrom(r.Context()), r.PathValue("domain"), months, m.match, m.idem)
		if err != nil {
			return err
		}
		return a.writeWebsite(w, r, http.StatusOK, site, replayed)
	})
}

// settingsView is a website's protection settings with what to send back
// for optimistic locking.
type settingsView struct {
	Domain   string          `json:"domain"`
	Settings engine.Settings `json:"settings"`
	ETag     string          `json:"etag"`
	// Warnings say why some settings cannot take effect on this server.
	Warnings []string `json:"warnings"`
}

// settingsWarnings explains settings that this server cannot apply.
func (a *API) settingsWarnings(st engine.Settings) []string {
	w := []string{}
	country, asn := a.geo()
	for i, r := range st.Rules {
		for j, c := range r.Conditions {
			if (c.Field == "country" && !country) || (c.Field == "asn" && !asn) {
				w = append(w, fmt.Sprintf("rules[%d].conditions[%d]: %[3]s conditions never match: this server has no GeoIP %[3]s database (--geoip-%[3]s)", i, j, c.Field))
			}
		}
	}
	return w
}

func (a *API) handleSettingsGet() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		site, st, err := a.svc.WebsiteSettings(r.Context(), callerFrom(r.Context()), r.PathValue("domain"))
		if err != nil {
			return err
		}
		w.Header().Set("ETag", core.ETag(site))
		writeJSON(w, http.StatusOK, settingsView{Domain: site.Domain, Settings: st, ETag: core.ETag(site), Warnings: a.settingsWarnings(st)})
		return nil
	})
}

// handleSettingsPut replaces a website's settings with the JSON body (the
// settings object itself, or {"settings": {...}} as GET returns it).
func (a *API) handleSettingsPut() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		match, err := ifMatch(r)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return core.Errorf(core.EINVALID, "request body is larger than %d bytes", maxBody)
		}
		var wrapped struct {
			Settings json.RawMessage `json:"settings"`
		}
		if json.Unmarshal(body, &wrapped) == nil && len(wrapped.Settings) > 0 {
			body = wrapped.Settings
		}
		st, err := engine.ParseSettings(string(body))
		if err != nil {
			return core.Errorf(core.EINVALID, "settings are not valid JSON of the documented shape: %s", strings.TrimPrefix(err.Error(), "settings: "))
		}
		site, err := a.svc.UpdateWebsiteSettings(r.Context(), callerFrom(r.Context()), r.PathValue("domain"), st, match)
		if err != nil {
			return err
		}
		st, _ = engine.ParseSettings(site.Settings)
		w.Header().Set("ETag", core.ETag(site))
		writeJSON(w, http.StatusOK, settingsView{Domain: site.Domain, Settings: st, ETag: core.ETag(site), Warnings: a.settingsWarnings(st)})
		return nil
	})
}

// parseTime reads an optional RFC 3339 time query parameter.
func parseTime(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, core.FieldError(name, "%s must be an RFC 3339 time such as 2026-11-24T10:00:00Z, not %q", name, v)
	}
	return t.UTC(), nil
}

func (a *API) handleEvents() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		before, limit, err := page(r)
		if err != nil {
			return err
		}
		f := core.EventFilter{Action: q.Get("action"), IP: q.Get("ip"), Reason: q.Get("rule"), WAFClass: q.Get("waf_class"), Before: before, Limit: limit}
		if f.Action != "" {
			if _, ok := engine.ParseAction(f.Action); !ok {
				return core.FieldError("action", "action must be grant, deny, challenge, captcha, redirect or return_fake_data")
			}
		}
		if f.IP != "" {
			ip, err := netip.ParseAddr(f.IP)
			if err != nil {
				return core.FieldError("ip", "ip %q is not an IP address", f.IP)
			}
			f.IP = ip.Unmap().String()
		}
		if ref := q.Get("ref"); ref != "" {
			if f.Ref, err = core.ParseRef(ref); err != nil {
				return err
			}
		}
		if f.From, err = parseTime(r, "from"); err != nil {
			return err
		}
		if f.To, err = parseTime(r, "to"); err != nil {
			return err
		}
		es, err := a.svc.Events(r.Context(), callerFrom(r.Context()), r.PathValue("domain"), f)
		if err != nil {
			return err
		}
		return writeRows(w, es, limit, func(e core.Event) int64 { return e.ID })
	})
}

func (a *API) handleStats() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		from, err := parseTime(r, "from")
		if err != nil {
			return err
		}
		to, err := parseTime(r, "to")
		if err != nil {
			return err
		}
		period := r.URL.Query().Get("period")
		pts, err := a.svc.Stats(r.Context(), callerFrom(r.Context()), r.PathValue("domain"), period, from, to)
		if err != nil {
			return err
		}
		if period == "" {
			period = "hour"
		}
		writeJSON(w, http.StatusOK, map[string]any{"domain": strings.ToLower(r.PathValue("domain")), "period": period, "data": pts,
			"challenges": core.SummarizeChallenges(pts)})
		return nil
	})
}

func (a *API) handleWAFStats() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		from, err := parseTime(r, "from")
		if err != nil {
			return err
		}
		to, err := parseTime(r, "to")
		if err != nil {
			return err
		}
		c := callerFrom(r.Context())
		site, err := a.svc.OwnedWebsite(r.Context(), c, r.PathValue("domain"))
		if err != nil {
			return err
		}
		counts, err := a.svc.WAFStats(r.Context(), c, site.ID, from, to)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"domain": site.Domain, "data": counts})
		return nil
	})
}

func (a *API) handleListsGet() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		l, err := a.svc.Lists(r.Context(), callerFrom(r.Context()))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, l)
		return nil
	})
}

func (a *API) handleListsPut() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		var l core.PartnerLists
		if err := decodeJSON(r, &l, "{\"allow\": [...], \"deny\": [...]}"); err != nil {
			return err
		}
		l, err := a.svc.UpdateLists(r.Context(), callerFrom(r.Context()), l)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, l)
		return nil
	})
}

// ---- subaccounts ----

func (a *API) handleUserList(native bool) http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		f := core.SubaccountFilter{Email: r.URL.Query().Get("email")}
		if native {
			var err error
			if f.After, f.Limit, err = page(r); err != nil {
				return err
			}
		}
		subs, err := a.svc.Subaccounts(r.Context(), callerFrom(r.Context()), f)
		if err != nil {
			return err
		}
		if !native {
			writeJSON(w, http.StatusOK, users(subs))
			return nil
		}
		var last int64
		if len(subs) > 0 {
			last = subs[len(subs)-1].ID
		}
		return writePage(w, users(subs), f.Limit, last)
	})
}

func (a *API) handleUserCreate(strict bool) http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		m, err := readMutation(r, strictFields(strict, "email", "first_name", "last_name", "company", "country", "address", "lang")...)
		if err != nil {
			return err
		}
		in := m.in
		res, err := a.svc.ProvideSubaccount(r.Context(), callerFrom(r.Context()), core.SubaccountCreate{
			Email: in.str("email"), FirstName: in.str("first_name"), LastName: in.str("last_name"),
			Company: in.str("company"), Country: in.str("country"), Address: in.str("address"), Lang: in.str("lang"),
		}, m.idem)
		if err != nil {
			return err
		}
		if res.Replayed {
			w.Header().Set("Idempotent-Replayed", "true")
		}
		// 201 for a new subaccount; 200 for the existing one that matched
		// (BotGuard's WHMCS module creates the customer before every order).
		status := http.StatusCreated
		if res.Existing {
			status = http.StatusOK
		}
		warnings := res.Warnings
		if warnings == nil {
			warnings = []string{}
		}
		writeJSON(w, status, userCreated{userView: user(res.Subaccount), Warnings: warnings})
		return nil
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
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		sub, err := a.svc.Subaccount(r.Context(), callerFrom(r.Context()), id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, user(sub))
		return nil
	})
}

func (a *API) handleUserDelete(native bool) http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		if err := a.svc.DeleteSubaccount(r.Context(), callerFrom(r.Context()), id); err != nil {
			return err
		}
		if native {
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "id": id, "deleted": true})
		return nil
	})
}

// ---- plans, credit, audit ----

func (a *API) handlePlans() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		plans, err := a.svc.Plans(r.Context())
		if err != nil {
			return err
		}
		out := make([]planView, len(plans))
		for i, p := range plans {
			out[i] = planView{Name: p.Name, MonthlyQuota: p.MonthlyQuota, Price: p.Price, PriceCents: int64(p.Price), Rank: p.Rank, WAF: p.WAF}
		}
		writeJSON(w, http.StatusOK, list[planView]{Data: out}) // all plans fit one page
		return nil
	})
}

func (a *API) handleCredit() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		p, err := a.svc.Partner(r.Context(), callerFrom(r.Context()))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"balance": p.Balance, "balance_cents": int64(p.Balance), "partner": p.Name, "allow_downgrade": p.AllowDowngrade})
		return nil
	})
}

func (a *API) handleLedger() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		after, limit, err := page(r)
		if err != nil {
			return err
		}
		es, err := a.svc.Ledger(r.Context(), callerFrom(r.Context()), after, limit)
		if err != nil {
			return err
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
		return writePage(w, out, limit, last)
	})
}

func (a *API) handleAudit() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		after, limit, err := page(r)
		if err != nil {
			return err
		}
		es, err := a.svc.Audit(r.Context(), callerFrom(r.Context()), after, limit)
		if err != nil {
			return err
		}
		out := make([]auditView, len(es))
		var last int64
		for i, e := range es {
			out[i] = auditView{ID: e.ID, At: rfc3339(e.At), Actor: e.Actor, Protocol: e.Protocol, SourceIP: e.SourceIP,
				ObjectType: e.ObjectType, ObjectID: e.ObjectID, Action: e.Action, OldState: rawState(e.OldState), NewState: rawState(e.NewState)}
			last = e.ID
		}
		return writePage(w, out, limit, last)
	})
}

func rawState(s string) any {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}
