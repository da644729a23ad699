package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/i18n"
	"github.com/palisadehq/palisade/internal/netutil"
	"github.com/palisadehq/palisade/internal/routes"
)

// The operator's pages (/operator).

func (h *Handler) registerOperator(mux routes.Mux) {
	mux.HandleFunc("GET /operator", h.operator)
	mux.HandleFunc("POST /operator/{action}", h.operatorPost)
}

type operatorData struct {
	Lang     string
	Langs    []langChoice
	Partners []core.Partner
	Plans    []core.Plan
	NewKey   string
	Error    string
	Notice   string
	// The fleet's overview (Service.OperatorOverview), with its durations
	// in words.
	Fleet    core.OperatorOverview
	Statuses []statusCount
	Nodes    []nodeRow
	Store    string // the store's answer in words
	Redis    string // Redis's, or "not used"
}

// statusCount is how many websites have one status.
type statusCount struct {
	Status string
	Count  int64
}

// nodeRow is a node as the operator's page lists it.
type nodeRow struct {
	core.NodeStatus
	Lag, Seen string
	// Behind: the node reported knowing of a newer config than its
	// engine decides by (its lag). Its version is as of its last
	// heartbeat, so a version below the store's alone is not a lag: the
	// change may have come after the heartbeat.
	Behind bool
}

// Money is an amount in the page's language.
func (d *operatorData) Money(c core.Cents) string { return money(d.Lang, c) }

// operatorNotices are the notices a redirect after a form may ask for.
var operatorNotices = map[string]bool{"credit": true, "plan": true}

func (h *Handler) operator(w http.ResponseWriter, r *http.Request) {
	s, value, ok := h.staff(w, r, core.ScopeOperator)
	if !ok {
		return
	}
	d := &operatorData{}
	if n := r.URL.Query().Get("notice"); operatorNotices[n] {
		d.Notice = "op.notice." + n
	}
	h.operatorPage(w, r, callerOf(s), value, d, http.StatusOK)
}

func (h *Handler) operatorPage(w http.ResponseWriter, r *http.Request, op core.Caller, value string, d *operatorData, status int) {
	ctx := r.Context()
	l := h.consoleLang(w, r, "en")
	d.Lang, d.Langs = l, langChoices(l)
	if d.Notice != "" {
		d.Notice = tr(l, d.Notice)
	}
	var err error
	if d.Fleet, err = h.svc.OperatorOverview(ctx, op); err != nil {
		h.fail(w, r, nil, err)
		return
	}
	if d.Partners, err = h.svc.AllPartners(ctx, op); err == nil {
		d.Plans, err = h.svc.Plans(ctx)
	}
	if err != nil && d.Fleet.Store.OK {
		// With the store down the page still says so, and what nodes
		// it could not list.
		h.fail(w, r, nil, err)
		return
	}
	h.fleetWords(d)
	v := view{Lang: l, Title: tr(l, "op.title"), Brand: h.operatorBrand(), CSRF: csrfToken(value), Assets: "/_assets/", Tab: "operator", Data: d}
	h.renderConsole(w, "operator", status, v)
}

// fleetWords says the fleet overview's states and durations in d.Lang.
func (h *Handler) fleetWords(d *operatorData) {
	l, f := d.Lang, d.Fleet
	for _, st := range []string{core.StatusSetup, core.StatusOnline, core.StatusPaused, core.StatusDeleted} {
		d.Statuses = append(d.Statuses, statusCount{Status: st, Count: f.Websites[st]})
	}
	for _, n := range f.Nodes {
		row := nodeRow{NodeStatus: n, Lag: "—", Seen: i18n.T(l, "op.ago", map[string]any{"Span": span(l, n.Ago)}), Behind: !n.Gone && n.Lag > 0}
		if n.Lag > 0 {
			row.Lag = span(l, n.Lag)
		}
		d.Nodes = append(d.Nodes, row)
	}
	if f.Store.OK {
		d.Store = i18n.T(l, "op.health.ok", map[string]any{"Latency": millis(l, f.Store.Latency)})
	} else {
		d.Store = i18n.T(l, "op.health.down", map[string]any{"Error": f.Store.Error})
	}
	switch {
	case !f.Store.OK:
		d.Redis = "—"
	case !f.RedisUsed:
		d.Redis = tr(l, "op.redis.notused")
	case f.Redis.OK:
		d.Redis = i18n.T(l, "op.health.ok", map[string]any{"Latency": millis(l, f.Redis.Latency)})
	default:
		d.Redis = i18n.T(l, "op.health.down", map[string]any{"Error": f.Redis.Error})
	}
}

func (h *Handler) operatorPost(w http.ResponseWriter, r *http.Request) {
	s, value, ok := h.staffPost(w, r, core.ScopeOperator)
	if !ok {
		return
	}
	u, _ := h.svc.ConsoleUserOf(r.Context(), s)
	op := callerOf(s)
	op.Actor, op.SourceIP = "operator:"+u.Email, netutil.ClientAddr(r, h.trusted).String()
	ctx, f := r.Context(), r.PostForm
	fail := func(err error) {
		status, msg := h.problem(w, r, err, true)
		h.operatorPage(w, r, op, value, &operatorData{Error: msg}, status)
	}
	switch r.PathValue("action") {
	case "partners":
		_, key, err := h.svc.CreatePartner(ctx, op, core.PartnerCreate{Name: strings.TrimSpace(f.Get("name")), Email: strings.TrimSpace(f.Get("email")), AllowedIPs: splitLines(f.Get("allowed_ips"))})
		if err != nil {
			fail(err)
			return
		}
		h.operatorPage(w, r, op, value, &operatorData{NewKey: key, Notice: "op.notice.partner"}, http.StatusOK)
	case "topup":
		id, _ := strconv.ParseInt(f.Get("partner"), 10, 64)
		amount, err := core.ParseCents(f.Get("amount"))
		if err != nil {
			err = core.FieldError("amount", "%v", err) // the operator's input, not an internal error
		} else {
			_, err = h.svc.TopUp(ctx, op, id, amount, f.Get("note"))
		}
		if err != nil {
			fail(err)
			return
		}
		http.Redirect(w, r, "/operator?notice=credit", http.StatusSeeOther)
	case "plans":
		quota, _ := strconv.ParseInt(f.Get("quota"), 10, 64)
		rank, _ := strconv.Atoi(f.Get("rank"))
		price, err := core.ParseCents(f.Get("price"))
		if err != nil {
			err = core.FieldError("price", "%v", err)
		} else {
			// The form's "website firewall" box is ticked unless the
			// operator unticks it (the CLI's --waf defaults to true too).
			_, err = h.svc.CreatePlan(ctx, op, core.Plan{Name: strings.TrimSpace(f.Get("name")), MonthlyQuota: quota, Price: price, Rank: rank, WAF: f.Get("waf") != ""})
		}
		if err != nil {
			fail(err)
			return
		}
		http.Redirect(w, r, "/operator?notice=plan", http.StatusSeeOther)
	default:
		h.fail(w, r, nil, core.Errorf(core.ENOTFOUND, "no such action"))
	}
}
