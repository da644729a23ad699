package web

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/i18n"
	"github.com/palisadehq/palisade/internal/routes"
)

// The overviews: a partner's across its websites (/console/overview, and
// its export /console/overview.csv) and the operator's across the fleet
// (on /operator, operator.go). The numbers and who may see them are the
// core's (Service.PartnerOverview, Service.OperatorOverview).

func (h *Handler) registerOverview(mux routes.Mux) {
	mux.HandleFunc("GET /console/overview", h.overview)
	mux.HandleFunc("GET /console/overview.csv", h.overviewCSV)
}

// overviewData is what overview.html sees.
type overviewData struct {
	Lang   string
	Langs  []langChoice
	Tabs   []consoleTab
	O      core.PartnerOverview
	Chart  string // the series as JSON for overview.js
	Rows   []core.OverviewBucket
	Hourly bool
	Recent []auditRow
	Setup  []setupRow
	Export string // the CSV's address
}

// setupRow is a website waiting for its first request, its wait in words.
type setupRow struct {
	core.SiteSetup
	Waiting string
}

func (h *Handler) overview(w http.ResponseWriter, r *http.Request) {
	s, value, ok := h.staff(w, r, core.ScopePartner)
	if !ok {
		return
	}
	ctx, c := r.Context(), callerOf(s)
	p, err := h.svc.Partner(ctx, c)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	l := h.consoleLang(w, r, p.Language())
	period := overviewPeriod(r)
	o, err := h.svc.PartnerOverview(ctx, c, period)
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	d := &overviewData{Lang: l, Langs: langChoices(l), Tabs: consoleTabs(l, "overview"), O: o, Hourly: o.Bucket == "hour",
		Export: "/console/overview.csv?period=" + o.Period}
	for _, b := range o.Series {
		if b.Requests > 0 || b.Blocked > 0 || b.Challenged > 0 {
			d.Rows = append(d.Rows, b)
		}
	}
	d.Chart = overviewChart(l, o)
	for _, st := range o.Setup {
		d.Setup = append(d.Setup, setupRow{SiteSetup: st, Waiting: span(l, st.Age)})
	}
	if len(o.Recent) > 0 {
		names, err := h.auditNames(r, s)
		if err != nil {
			h.fail(w, r, &p, err)
			return
		}
		for _, e := range o.Recent {
			d.Recent = append(d.Recent, names.row(l, e))
		}
	}
	v := view{Lang: l, Title: tr(l, "ov.title"), Brand: p.Branding(), CSRF: csrfToken(value), Assets: "/_assets/", Tab: "overview", Data: d}
	h.renderConsole(w, "overview", http.StatusOK, v)
}

// overviewPeriod is the period asked for: the last 24 hours (default) or
// the last 30 days.
func overviewPeriod(r *http.Request) string {
	if r.URL.Query().Get("period") == core.OverviewMonth {
		return core.OverviewMonth
	}
	return core.OverviewDay
}

// overviewChart is the chart's data for overview.js: bucket times (Unix
// seconds), one series per measure with its label in l, and the words
// and number format the axes need.
func overviewChart(l string, o core.PartnerOverview) string {
	type series struct {
		Key, Label, Color string
		Values            []int64
	}
	c := struct {
		Times  []int64  `json:"t"`
		Series []series `json:"series"`
		Axis   string   `json:"axis"`
		Time   string   `json:"time"`
		Lang   string   `json:"lang"`
		Hourly bool     `json:"hourly"`
	}{Axis: tr(l, "ov.requests"), Time: tr(l, "ov.time"), Lang: l, Hourly: o.Bucket == "hour"}
	req := series{Key: "requests", Label: tr(l, "ov.requests"), Color: "#2f5bd3"}
	blk := series{Key: "blocked", Label: tr(l, "ov.blocked"), Color: "#b3261e"}
	chl := series{Key: "challenged", Label: tr(l, "ov.challenged"), Color: "#8a5a00"}
	for _, b := range o.Series {
		c.Times = append(c.Times, b.Time.Unix())
		req.Values = append(req.Values, b.Requests)
		blk.Values = append(blk.Values, b.Blocked)
		chl.Values = append(chl.Values, b.Challenged)
	}
	c.Series = []series{req, blk, chl}
	b, _ := json.Marshal(c)
	return string(b)
}

// overviewCSV exports the overview: one line per live website with its
// counters over the period and this month. Every field is quoted and made
// safe from spreadsheet formulas (writeCSVRow, csvSafe), as the events'
// export; the core lists the partner's own websites only.
func (h *Handler) overviewCSV(w http.ResponseWriter, r *http.Request) {
	s, _, ok := h.staff(w, r, core.ScopePartner)
	if !ok {
		return
	}
	o, err := h.svc.PartnerOverview(r.Context(), callerOf(s), overviewPeriod(r))
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="overview-`+o.Period+`-`+o.To.Format("2006-01-02")+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	bw := bufio.NewWriter(w)
	writeCSVRow(bw, []string{"domain", "status", "plan", "created_at", "from", "to", "requests", "blocked", "challenged", "waf_blocked", "waf_detected",
		"month_requests", "monthly_quota", "quota_share"})
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	for _, st := range o.Sites {
		share := ""
		if q := st.Website.Plan.MonthlyQuota; q > 0 {
			share = strconv.FormatFloat(float64(st.MonthRequests)/float64(q), 'f', 4, 64)
		}
		writeCSVRow(bw, []string{st.Website.Domain, st.Website.Status, st.Website.Plan.Name, st.Website.CreatedAt.UTC().Format(time.RFC3339),
			o.From.UTC().Format(time.RFC3339), o.To.UTC().Format(time.RFC3339), i(st.Requests), i(st.Blocked), i(st.Challenged), i(st.WAFBlocked), i(st.WAFDetected),
			i(st.MonthRequests), i(st.Website.Plan.MonthlyQuota), share})
	}
	_ = bw.Flush()
}

// span says a duration in words in l, in its largest whole unit ("3
// days", "5 hours", "12 minutes", "40 seconds").
func span(l string, d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return i18n.N(l, "ov.dur.days", int64(d/(24*time.Hour)))
	case d >= 2*time.Hour:
		return i18n.N(l, "ov.dur.hours", int64(d/time.Hour))
	case d >= 2*time.Minute:
		return i18n.N(l, "ov.dur.minutes", int64(d/time.Minute))
	}
	return i18n.N(l, "ov.dur.seconds", int64(d/time.Second))
}

// millis says a short duration in milliseconds with one decimal, in l's
// number format ("1.8 ms", "1,8 ms"), or in microseconds below one
// millisecond ("85 µs").
func millis(l string, d time.Duration) string {
	if d < time.Millisecond {
		return i18n.T(l, "ov.dur.us", map[string]any{"N": i18n.Number(l, d.Microseconds())})
	}
	return i18n.T(l, "ov.dur.ms", map[string]any{"N": i18n.Decimal(l, float64(d.Microseconds())/1000, 1)})
}
