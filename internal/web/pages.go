package web

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/i18n"
	"github.com/palisadehq/palisade/internal/waf"
)

// ---- statistics ----

type series struct {
	Times   []int64            `json:"t"`      // Unix seconds
	Labels  []string           `json:"labels"` // each time as the page's language writes it
	Actions map[string][]int64 `json:"series"` // action (or category) -> count per time
	Names   map[string]string  `json:"names"`  // action (or category) -> its label in the page's language
	Colors  map[string]string  `json:"colors"` // action -> its colour (categories take the palette)
	XLabel  string             `json:"x"`      // the time axis's name (legend)
	YLabel  string             `json:"y"`      // the count axis's title
	Decimal string             `json:"dec"`    // the language's decimal separator
	Group   string             `json:"grp"`    // and digit-grouping one
}

type statsView struct {
	By           string // action or category: how the chart splits requests
	Prefix       string // the message prefix of By's labels: act. or catname.
	Period       string
	Rows         []statsRow
	Actions      []string
	Chart        string // JSON for the chart script
	Total        int64
	QuotaUsed    int64
	Quota        int64
	QuotaPct     float64
	Challenges   core.ChallengeStats
	Abandoned    int64 // challenges issued but neither solved nor failed
	TopIPs       []core.TopRow
	TopPaths     []core.TopRow
	TopAgents    []core.TopRow
	TopCountries []core.TopRow
	ByCategory   []core.TopRow
	WAF          []core.WAFClassCount // attacks by class (website firewall)
	HasTraffic   bool
	PeriodLabel  string
}

type statsRow struct {
	Label  string
	Counts []int64
	Total  int64
}

func (h *Handler) statistics(w http.ResponseWriter, r *http.Request, v view, s core.Session) {
	ctx, c := r.Context(), callerOf(s)
	now := h.now()
	period := r.URL.Query().Get("period")
	var from time.Time
	bucket, plabel := "hour", "last24h"
	switch period {
	case "day":
		from, bucket, plabel = now.AddDate(0, 0, -30).Truncate(24*time.Hour), "day", "last30d"
	case "month":
		from, bucket, plabel = core.AddMonths(core.MonthStart(now), -11, 1), "day", "last12m"
	default:
		period = "hour"
		from = now.Add(-24 * time.Hour).Truncate(time.Hour)
	}
	pts, err := h.svc.Stats(ctx, c, v.Site.Domain, bucket, from, now)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	sv := statsView{Period: period, PeriodLabel: plabel, Challenges: core.SummarizeChallenges(pts)}
	sv.Abandoned = max(0, sv.Challenges.Issued-sv.Challenges.Solved-sv.Challenges.Failed)
	// Group into buckets (months from days when asked).
	key := func(t time.Time) time.Time {
		if period == "month" {
			return core.MonthStart(t)
		}
		return t
	}
	// The chart splits requests by decision (default) or by category.
	sv.By, sv.Prefix = "action", "act."
	if r.URL.Query().Get("by") == "category" {
		sv.By, sv.Prefix = "category", "catname."
	}
	byTime := map[time.Time]map[string]int64{}
	actions := map[string]bool{}
	cats := map[string]int64{}
	for _, p := range pts {
		if p.Category == "challenge" || p.Category == "" {
			// Challenge answers are the funnel's; every decision has a
			// category, so a row without one is no request.
			continue
		}
		k := key(p.Time)
		if byTime[k] == nil {
			byTime[k] = map[string]int64{}
		}
		group := p.Action
		if sv.By == "category" {
			group = p.Category
		}
		byTime[k][group] += p.Count
		actions[group] = true
		sv.Total += p.Count
		cats[p.Category] += p.Count
	}
	for a := range actions {
		sv.Actions = append(sv.Actions, a)
	}
	sort.Strings(sv.Actions)
	// Every bucket of the period, empty ones too, so the chart has a time axis.
	step := func(t time.Time) time.Time {
		switch period {
		case "day":
			return t.AddDate(0, 0, 1)
		case "month":
			return core.AddMonths(t, 1, 1)
		}
		return t.Add(time.Hour)
	}
	dec, grp := i18n.Separators(v.Lang)
	ch := series{Actions: map[string][]int64{}, Names: map[string]string{}, Colors: map[string]string{}, XLabel: tr(v.Lang, "time"), YLabel: tr(v.Lang, "requests"), Decimal: dec, Group: grp}
	for _, a := range sv.Actions {
		ch.Names[a] = label(v.Lang, sv.Prefix, a)
		if c, ok := actionColors[a]; ok && sv.By == "action" {
			ch.Colors[a] = c
		}
	}
	for t, n := key(from), 0; !t.After(now) && n < 1000; t, n = step(t), n+1 {
		row := statsRow{Label: bucketLabel(v.Lang, period, t)}
		ch.Times = append(ch.Times, t.Unix())
		ch.Labels = append(ch.Labels, row.Label)
		for _, a := range sv.Actions {
			n := byTime[t][a]
			row.Counts = append(row.Counts, n)
			row.Total += n
			ch.Actions[a] = append(ch.Actions[a], n)
		}
		sv.Rows = append(sv.Rows, row)
	}
	b, _ := json.Marshal(ch)
	sv.Chart = string(b)
	sv.HasTraffic = sv.Total > 0
	for cat, n := range cats {
		sv.ByCategory = append(sv.ByCategory, core.TopRow{Value: cat, Count: n})
	}
	sort.Slice(sv.ByCategory, func(i, j int) bool { return sv.ByCategory[i].Count > sv.ByCategory[j].Count })
	// Quota: requests this calendar month against the plan.
	month := core.MonthStart(now)
	if mp, err := h.svc.Stats(ctx, c, v.Site.Domain, "day", month, now); err == nil {
		for _, p := range mp {
			if p.Category != "challenge" {
				sv.QuotaUsed += p.Count
			}
		}
	}
	sv.Quota = v.Site.Plan.MonthlyQuota
	if sv.Quota > 0 {
		sv.QuotaPct = float64(sv.QuotaUsed) / float64(sv.Quota)
	}
	for field, dst := range map[string]*[]core.TopRow{"ip": &sv.TopIPs, "path": &sv.TopPaths, "user_agent": &sv.TopAgents, "country": &sv.TopCountries} {
		if *dst, err = h.svc.TopBlocked(ctx, c, v.Site.Domain, field, from, now, 10); err != nil {
			h.fail(w, r, nil, err)
			return
		}
	}
	if sv.WAF, err = h.svc.WAFStats(ctx, c, v.Site.ID, from, now); err != nil {
		h.fail(w, r, nil, err)
		return
	}
	v.Title, v.Data = tr(v.Lang, "statistics")+" · "+v.Site.Domain, sv
	h.render(w, "statistics", http.StatusOK, v)
}

// actionColors are the chart's colours of the decisions (each at least
// 3:1 against white, the contrast of graphics).
var actionColors = map[string]string{"grant": "#1a7f4b", "deny": "#b3261e", "challenge": "#9a6700", "captcha": "#7a4d00", "redirect": "#5b6477", "return_fake_data": "#6b3fa0"}

// bucketLabel writes a chart bucket's time the way lang does: the day and
// hour (30.11. 14:00), the day (30.11.) or the month (Nov. 2026).
func bucketLabel(lang, period string, t time.Time) string {
	switch period {
	case "day":
		return i18n.DayMonth(lang, t)
	case "month":
		return i18n.MonthsShort(lang)[t.Month()-1] + " " + strconv.Itoa(t.Year())
	}
	return i18n.DayMonth(lang, t) + " " + t.UTC().Format("15:04")
}

// ---- events ----

type eventsView struct {
	Filter  map[string]string
	Classes []string // the firewall's attack classes, for the filter
	Events  []core.Event
	Older   string // query of the next page
	Live    bool
	Query   string // the filter as a query string
	Problem string
}

const eventsPage = 50

func (h *Handler) eventFilter(r *http.Request) (core.EventFilter, map[string]string, error) {
	q := r.URL.Query()
	f := core.EventFilter{Action: q.Get("action"), Reason: strings.TrimSpace(q.Get("rule")), Path: strings.TrimSpace(q.Get("path")), Limit: eventsPage}
	vals := map[string]string{"action": f.Action, "rule": f.Reason, "path": f.Path, "ip": q.Get("ip"), "from": q.Get("from"), "to": q.Get("to"), "ref": q.Get("ref"),
		"waf_class": q.Get("waf_class")}
	if c := q.Get("waf_class"); c != "" {
		// The website firewall's findings: of one attack class, or "any".
		if c != core.WAFAnyClass && !slices.Contains(waf.Classes(), c) {
			return f, vals, core.FieldError("waf_class", "unknown attack class %q", c)
		}
		f.WAFClass = c
	}
	if f.Action != "" {
		if _, ok := engine.ParseAction(f.Action); !ok && !strings.HasPrefix(f.Action, "challenge_") {
			return f, vals, core.FieldError("action", "unknown action %q", f.Action)
		}
	}
	if ref := q.Get("ref"); strings.TrimSpace(ref) != "" {
		// The reference ID a visitor quotes from a challenge or deny page.
		r, err := core.ParseRef(ref)
		if err != nil {
			return f, vals, err
		}
		f.Ref = r
	}
	if ip := strings.TrimSpace(q.Get("ip")); ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return f, vals, core.FieldError("ip", "%q is not an IP address", ip)
		}
		f.IP = a.Unmap().String()
	}
	for _, k := range []string{"from", "to"} {
		if s := strings.TrimSpace(q.Get(k)); s != "" {
			t, err := time.Parse("2006-01-02T15:04", s)
			if err != nil {
				if t, err = time.Parse("2006-01-02", s); err != nil {
					return f, vals, core.FieldError(k, "%s must be a date (2026-11-24) or date and time (2026-11-24T10:00)", k)
				}
			}
			if k == "from" {
				f.From = t
			} else {
				f.To = t
			}
		}
	}
	if b := q.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return f, vals, core.FieldError("before", "before must be an event id")
		}
		f.Before = n
	}
	return f, vals, nil
}

func (h *Handler) events(w http.ResponseWriter, r *http.Request, v view, s core.Session) {
	f, vals, ferr := h.eventFilter(r)
	ev := eventsView{Filter: vals, Live: r.URL.Query().Get("live") == "1", Classes: waf.Classes()}
	q := r.URL.Query()
	q.Del("before")
	q.Del("fragment")
	q.Del("format")
	ev.Query = q.Encode()
	if ferr != nil {
		ev.Problem = core.ErrorMessage(ferr)
	} else {
		csvOut := r.URL.Query().Get("format") == "csv"
		if csvOut {
			f.Limit = 10000
		}
		es, err := h.svc.Events(r.Context(), callerOf(s), v.Site.Domain, f)
		if err != nil {
			h.fail(w, r, nil, err)
			return
		}
		if csvOut {
			writeCSV(w, v.Site.Domain, es)
			return
		}
		ev.Events = es
		if len(es) == eventsPage {
			q.Set("before", strconv.FormatInt(es[len(es)-1].ID, 10))
			ev.Older = q.Encode()
		}
	}
	v.Title, v.Data = tr(v.Lang, "events")+" · "+v.Site.Domain, ev
	if r.URL.Query().Get("fragment") == "rows" {
		// The live tail's refresh: the table body only.
		headers(w, &v.Brand)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := h.pages["rows"].ExecuteTemplate(w, "rows", v); err != nil {
			h.log.Error("render rows", "err", err)
		}
		return
	}
	h.render(w, "events", http.StatusOK, v)
}

func writeCSV(w http.ResponseWriter, domain string, es []core.Event) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+domain+`-events.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	bw := bufio.NewWriter(w)
	writeCSVRow(bw, []string{"id", "time", "action", "category", "source", "reason", "detail", "ip", "method", "host", "path", "query", "user_agent", "referrer", "monitored", "ref",
		"waf_class", "waf_score", "waf_rules", "count", "last_at"})
	for _, e := range es {
		// The firewall's finding: its class, score and the matched rules'
		// ids ("942100 949110"), empty when it found nothing.
		var class, score, rules string
		if e.WAF != nil {
			class, score = e.WAF.Class, strconv.Itoa(e.WAF.Score)
			ids := make([]string, len(e.WAF.Rules))
			for i, r := range e.WAF.Rules {
				ids[i] = strconv.Itoa(r.ID)
			}
			rules = strings.Join(ids, " ")
		}
		writeCSVRow(bw, []string{strconv.FormatInt(e.ID, 10), e.At.UTC().Format(time.RFC3339), e.Action, e.Category, e.Source, e.Reason, e.Detail,
			e.IP, e.Method, e.Host, e.Path, e.Query, e.UserAgent, e.Referrer, strconv.FormatBool(e.Monitored), e.Ref, class, score, rules,
			strconv.FormatInt(e.Requests(), 10), lastAt(e).UTC().Format(time.RFC3339)})
	}
	_ = bw.Flush()
}

// lastAt is when the last of the requests an event stands for came.
func lastAt(e core.Event) time.Time {
	if e.LastAt.Before(e.At) {
		return e.At
	}
	return e.LastAt
}

// writeCSVRow writes one RFC 4180 record with every field quoted, each made
// safe by csvSafe. Quoting every field keeps a value whole in a spreadsheet
// that splits on semicolons (Excel in German or French locales): unquoted,
// a path like "/x;=1+1" became a cell "=1+1", a formula.
func writeCSVRow(w *bufio.Writer, fields []string) {
	for i, f := range fields {
		if i > 0 {
			_ = w.WriteByte(',')
		}
		_ = w.WriteByte('"')
		_, _ = w.WriteString(strings.ReplaceAll(csvSafe(f), `"`, `""`))
		_ = w.WriteByte('"')
	}
	_, _ = w.WriteString("\r\n")
}

// csvSafe keeps a spreadsheet from reading a cell as a formula (OWASP's CSV
// injection guidance): a value starting with =, +, -, @, tab, carriage
// return or line feed gets a single quote in front. Every cell of every CSV
// Palisade writes goes through it: clients send hosts, methods, paths and
// agents, and customers name rules and reasons.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r\n", rune(s[0])) {
		return "'" + s
	}
	return s
}

func (h *Handler) eventDetail(w http.ResponseWriter, r *http.Request) {
	v, s, _, ok := h.site(w, r)
	if !ok {
		return
	}
	ev, err := h.event(r, s, v)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	h.eventPage(w, r, v, ev, nil)
}

// ---- integration guide ----

type guideView struct {
	ServerKey string
	Node      string
	NodeHost  string
	Seen      bool
	Files     map[string][]guideFile // per integration: the shipped deploy/ files, filled in
}

func (h *Handler) integration(w http.ResponseWriter, r *http.Request, v view, s core.Session) {
	nodes := h.svc.Config().Nodes
	node := h.svc.Config().PublicURL
	if len(nodes) > 0 {
		node = nodes[0]
	}
	node = strings.TrimRight(node, "/")
	g := guideView{ServerKey: v.Site.ServerKey, Node: node, NodeHost: nodeHostPort(node), Seen: v.Site.FirstSeenAt != nil,
		Files: guideFiles(v.Site.Domain, v.Site.ServerKey, node)}
	v.Title, v.Data = tr(v.Lang, "integration")+" · "+v.Site.Domain, g
	if r.URL.Query().Get("fragment") == "status" {
		headers(w, &v.Brand)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := h.pages["integration"].ExecuteTemplate(w, "seen", v); err != nil {
			h.log.Error("render status", "err", err)
		}
		return
	}
	h.render(w, "integration", http.StatusOK, v)
}
