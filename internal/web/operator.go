package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/netutil"
	"github.com/palisadehq/palisade/internal/routes"
)

// The operator's pages (/operator).

func (h *Handler) registerOperator(mux routes.Mux) {
	mux.HandleFunc("GET /operator", h.operator)
	mux.HandleFunc("POST /operator/{action}", h.operatorPost)
}

type operatorData struct {
	Partners []core.Partner
	Plans    []core.Plan
	NewKey   string
	Error    string
	Notice   string
}

func (h *Handler) operator(w http.ResponseWriter, r *http.Request) {
	s, value, ok := h.staff(w, r, core.ScopeOperator)
	if !ok {
		return
	}
	h.operatorPage(w, r, callerOf(s), value, &operatorData{Notice: r.URL.Query().Get("notice")}, http.StatusOK)
}

func (h *Handler) operatorPage(w http.ResponseWriter, r *http.Request, op core.Caller, value string, d *operatorData, status int) {
	var err error
	if d.Partners, err = h.svc.AllPartners(r.Context(), op); err == nil {
		d.Plans, err = h.svc.Plans(r.Context())
	}
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	v := view{Lang: "en", Title: "Operator", Brand: core.Branding{Name: "Palisade operator", Color: "#1d2330"}, CSRF: csrfToken(value), Assets: "/_assets/", Tab: "operator", Data: d}
	h.renderConsole(w, "operator", status, v)
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
		h.operatorPage(w, r, op, value, &operatorData{NewKey: key, Notice: "partner created; its API key is shown once below"}, http.StatusOK)
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
		http.Redirect(w, r, "/operator?notice="+url.QueryEscape("credit added"), http.StatusSeeOther)
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
		http.Redirect(w, r, "/operator?notice="+url.QueryEscape("plan created"), http.StatusSeeOther)
	default:
		h.fail(w, r, nil, core.Errorf(core.ENOTFOUND, "no such action"))
	}
}
