package web

import (
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
)

// The rule editor: one page of small forms, each posting one change. A
// change is validated by the engine as a whole; refused, nothing is saved
// and each problem is shown next to its field.

var (
	condFields = []string{"ip", "country", "asn", "user_agent", "referrer", "header", "path", "query", "method", "domain"}
	condOps    = []string{"is", "is_not", "contains", "not_contains", "starts_with", "greater_than", "less_than", "is_any_of", "regex"}
)

const condRows = 4 // condition rows in the rule form

type catRow struct {
	Name, Action, Default string
}

type ruleRow struct {
	Index   int
	Rule    engine.Rule
	Enabled bool
	Summary string
}

type condRow struct {
	Field, Header, Op, Value string
}

type ruleForm struct {
	Index                        int // -1: a new rule
	Name, Action, Location, Expr string
	Enabled                      bool
	Conds                        []condRow
}

type limitForm struct {
	Name, Key, PathPrefix, Period, Action string
	Requests, Burst                       string
}

type testForm struct {
	IP, UA, Path, Method string
	Result               *engine.Verdict
}

type rulesView struct {
	Settings   engine.Settings
	Categories []catRow
	Rules      []ruleRow
	Limits     []engine.RateLimit
	Rule       ruleForm
	Limit      limitForm
	Test       testForm
	Errors     map[string]string
	Problem    string
	Saved      bool
	Fields     []string
	Ops        []string
	Open       string // the form to show open ("rule" when editing)
}

func newRulesView(st engine.Settings) *rulesView {
	rv := &rulesView{Settings: st, Errors: map[string]string{}, Fields: condFields, Ops: condOps,
		Rule:  ruleForm{Index: -1, Enabled: true, Action: "deny", Conds: make([]condRow, condRows)},
		Limit: limitForm{Key: "ip", Period: "1m", Action: "challenge"}, Test: testForm{Method: "GET", Path: "/"}}
	for _, c := range engine.Categories() {
		rv.Categories = append(rv.Categories, catRow{Name: c, Action: st.Categories[c], Default: engine.DefaultAction(c)})
	}
	for i, r := range st.Rules {
		rv.Rules = append(rv.Rules, ruleRow{Index: i, Rule: r, Enabled: r.Enabled == nil || *r.Enabled, Summary: summarize(r)})
	}
	rv.Limits = st.RateLimits
	return rv
}

func summarize(r engine.Rule) string {
	var parts []string
	for _, c := range r.Conditions {
		f := c.Field
		if c.Field == "header" {
			f = "header " + c.Header
		}
		v := c.Value
		if len(c.Values) > 0 {
			v = strings.Join(c.Values, ", ")
		}
		parts = append(parts, f+" "+strings.ReplaceAll(c.Op, "_", " ")+" "+strconv.Quote(v))
	}
	if r.Expression != "" {
		parts = append(parts, r.Expression)
	}
	return strings.Join(parts, " and ")
}

func (h *Handler) rulesPage(w http.ResponseWriter, r *http.Request, v view, s core.Session, rv *rulesView) {
	if rv == nil {
		_, st, err := h.svc.WebsiteSettings(r.Context(), callerOf(s), v.Site.Domain)
		if err != nil {
			h.fail(w, r, nil, err)
			return
		}
		rv = newRulesView(st)
		if e := r.URL.Query().Get("rule"); e != "" {
			if i, err := strconv.Atoi(e); err == nil && i >= 0 && i < len(st.Rules) {
				rv.Rule = formOf(i, st.Rules[i])
				rv.Open = "rule"
			}
		}
		rv.Saved = r.URL.Query().Get("saved") == "1"
	}
	v.Tab, v.Title, v.Data = "edit", tr(v.Lang, "rules")+" · "+v.Site.Domain, rv
	status := http.StatusOK
	if rv.Problem != "" {
		status = http.StatusUnprocessableEntity
	}
	h.render(w, "rules", status, v)
}

func formOf(i int, r engine.Rule) ruleForm {
	f := ruleForm{Index: i, Name: r.Name, Action: r.Action, Location: r.Location, Expr: r.Expression, Enabled: r.Enabled == nil || *r.Enabled}
	for _, c := range r.Conditions {
		v := c.Value
		if len(c.Values) > 0 {
			v = strings.Join(c.Values, ", ")
		}
		f.Conds = append(f.Conds, condRow{Field: c.Field, Header: c.Header, Op: c.Op, Value: v})
	}
	for len(f.Conds) < condRows {
		f.Conds = append(f.Conds, condRow{})
	}
	return f
}

func (h *Handler) editPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, nil, core.Errorf(core.EINVALID, "the form could not be read"))
		return
	}
	v, s, value, ok := h.site(w, r)
	if !ok {
		return
	}
	if !h.csrfOK(r, value) {
		h.fail(w, r, nil, core.Errorf(core.EFORBIDDEN, "the form expired; reload the page and try again"))
		return
	}
	c := callerOf(s)
	site, st, err := h.svc.WebsiteSettings(r.Context(), c, v.Site.Domain)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	rv := newRulesView(st)
	f := r.PostForm
	idx := func() (int, bool) {
		i, err := strconv.Atoi(f.Get("index"))
		return i, err == nil && i >= 0
	}
	next := st // the settings to save
	next.Rules = append([]engine.Rule(nil), st.Rules...)
	next.RateLimits = append([]engine.RateLimit(nil), st.RateLimits...)
	switch f.Get("form") {
	case "general":
		next.Mode, next.FailMode = f.Get("mode"), f.Get("fail_mode")
		next.Challenge.Lifetime = strings.TrimSpace(f.Get("lifetime"))
		next.Challenge.Difficulty = atoiOr(f.Get("difficulty"), -1, rv.Errors, "challenge.difficulty")
		next.Challenge.NoJSDelay = atoiOr(f.Get("nojs_delay"), -1, rv.Errors, "challenge.nojs_delay")
	case "categories":
		next.Categories = map[string]string{}
		for _, cat := range engine.Categories() {
			if a := f.Get("cat." + cat); a != "" {
				next.Categories[cat] = a
			}
		}
	case "lists":
		next.Allow, next.Deny = splitLines(f.Get("allow")), splitLines(f.Get("deny"))
	case "rule":
		form := ruleForm{Index: -1, Name: strings.TrimSpace(f.Get("name")), Action: f.Get("action"), Location: strings.TrimSpace(f.Get("location")),
			Expr: strings.TrimSpace(f.Get("expression")), Enabled: f.Get("enabled") != ""}
		if i, ok := idx(); ok && i < len(next.Rules) {
			form.Index = i
		}
		rule := engine.Rule{Name: form.Name, Action: form.Action, Location: form.Location, Expression: form.Expr}
		if !form.Enabled {
			off := false
			rule.Enabled = &off
		}
		for j := 0; j < condRows+4; j++ {
			p := "cond." + strconv.Itoa(j) + "."
			cr := condRow{Field: f.Get(p + "field"), Header: strings.TrimSpace(f.Get(p + "header")), Op: f.Get(p + "op"), Value: strings.TrimSpace(f.Get(p + "value"))}
			if cr.Field == "" && cr.Value == "" {
				continue
			}
			form.Conds = append(form.Conds, cr)
			cond := engine.Condition{Field: cr.Field, Header: cr.Header, Op: cr.Op, Value: cr.Value}
			if cr.Op == "is_any_of" {
				cond.Value = ""
				for _, x := range strings.Split(cr.Value, ",") {
					if x = strings.TrimSpace(x); x != "" {
						cond.Values = append(cond.Values, x)
					}
				}
			}
			rule.Conditions = append(rule.Conditions, cond)
		}
		for len(form.Conds) < condRows {
			form.Conds = append(form.Conds, condRow{})
		}
		if form.Index >= 0 {
			next.Rules[form.Index] = rule
		} else {
			next.Rules = append(next.Rules, rule)
		}
		rv.Rule, rv.Open = form, "rule"
	case "rule-delete", "rule-up", "rule-down", "rule-toggle":
		i, ok := idx()
		if !ok || i >= len(next.Rules) {
			h.fail(w, r, nil, core.FieldError("index", "no such rule"))
			return
		}
		switch f.Get("form") {
		case "rule-delete":
			next.Rules = append(next.Rules[:i], next.Rules[i+1:]...)
		case "rule-up":
			if i > 0 {
				next.Rules[i-1], next.Rules[i] = next.Rules[i], next.Rules[i-1]
			}
		case "rule-down":
			if i+1 < len(next.Rules) {
				next.Rules[i+1], next.Rules[i] = next.Rules[i], next.Rules[i+1]
			}
		case "rule-toggle":
			on := !(next.Rules[i].Enabled == nil || *next.Rules[i].Enabled)
			next.Rules[i].Enabled = &on
		}
	case "limit":
		lf := limitForm{Name: strings.TrimSpace(f.Get("name")), Key: f.Get("key"), PathPrefix: strings.TrimSpace(f.Get("path_prefix")),
			Period: strings.TrimSpace(f.Get("period")), Action: f.Get("action"), Requests: f.Get("requests"), Burst: f.Get("burst")}
		rl := engine.RateLimit{Name: lf.Name, Key: lf.Key, PathPrefix: lf.PathPrefix, Period: lf.Period, Action: lf.Action}
		prefix := "rate_limits[" + strconv.Itoa(len(next.RateLimits)) + "]."
		rl.Requests = atoiOr(lf.Requests, -1, rv.Errors, prefix+"requests")
		rl.Burst = atoiOr(lf.Burst, 0, rv.Errors, prefix+"burst")
		next.RateLimits = append(next.RateLimits, rl)
		rv.Limit, rv.Open = lf, "limit"
	case "limit-delete":
		i, ok := idx()
		if !ok || i >= len(next.RateLimits) {
			h.fail(w, r, nil, core.FieldError("index", "no such rate limit"))
			return
		}
		next.RateLimits = append(next.RateLimits[:i], next.RateLimits[i+1:]...)
	case "test":
		rv.Test = testForm{IP: strings.TrimSpace(f.Get("ip")), UA: f.Get("ua"), Path: strings.TrimSpace(f.Get("path")), Method: strings.ToUpper(strings.TrimSpace(f.Get("method")))}
		h.runTest(rv, site, st)
		rv.Open = "test"
		h.rulesPage(w, r, v, s, rv)
		return
	default:
		h.fail(w, r, nil, core.FieldError("form", "unknown form"))
		return
	}
	if len(rv.Errors) == 0 {
		_, err = h.svc.UpdateWebsiteSettings(r.Context(), c, v.Site.Domain, next, core.Match{})
		if err == nil {
			// Post/redirect/get: a reload does not post again.
			http.Redirect(w, r, v.Base+"/edit?saved=1", http.StatusSeeOther)
			return
		}
		if core.ErrorCode(err) != core.EINVALID {
			h.fail(w, r, nil, err)
			return
		}
		for _, p := range core.ErrorDetails(err) {
			rv.Errors[p.Path] = p.Message
		}
		if len(rv.Errors) == 0 {
			rv.Errors[core.ErrorField(err)] = core.ErrorMessage(err)
		}
	}
	rv.Problem = tr(v.Lang, "fixerrors")
	// Show the errors of the rule or limit being edited on its own fields.
	rv.Errors = localErrors(rv.Errors, f.Get("form"), rv.Rule.Index, len(st.Rules), len(st.RateLimits))
	h.rulesPage(w, r, v, s, rv)
}

var condPath = regexp.MustCompile(`^rules\[(\d+)\]\.conditions\[(\d+)\](?:\.(\w+))?$`)

// localErrors renames problem paths of the form just posted to its field
// names: rules[i].name → rule.name, rules[i].conditions[j].value →
// cond.j.value, rate_limits[n].period → limit.period, allow[3] → allow.
func localErrors(errs map[string]string, form string, ruleIndex, nRules, nLimits int) map[string]string {
	out := map[string]string{}
	ri := ruleIndex
	if ri < 0 {
		ri = nRules
	}
	rulePrefix := "rules[" + strconv.Itoa(ri) + "]."
	limitPrefix := "rate_limits[" + strconv.Itoa(nLimits) + "]."
	for p, m := range errs {
		switch {
		case form == "rule" && condPath.MatchString(p) && strings.HasPrefix(p, rulePrefix):
			g := condPath.FindStringSubmatch(p)
			if g[3] == "" {
				g[3] = "value" // a whole condition: shown by its value
			}
			out["cond."+g[2]+"."+g[3]] = m
		case form == "rule" && strings.HasPrefix(p, rulePrefix):
			out["rule."+strings.TrimPrefix(p, rulePrefix)] = m
		case form == "limit" && strings.HasPrefix(p, limitPrefix):
			out["limit."+strings.TrimPrefix(p, limitPrefix)] = m
		case strings.HasPrefix(p, "allow["):
			out["allow"] = m
		case strings.HasPrefix(p, "deny["):
			out["deny"] = m
		case strings.HasPrefix(p, "categories."):
			out["cat."+strings.TrimPrefix(p, "categories.")] = m
		default:
			out[p] = m
		}
	}
	return out
}

func (h *Handler) runTest(rv *rulesView, site core.Website, st engine.Settings) {
	t := &rv.Test
	ip, err := netip.ParseAddr(t.IP)
	if err != nil {
		rv.Errors["test.ip"] = "not an IP address"
		return
	}
	if t.Path == "" || t.Path[0] != '/' {
		rv.Errors["test.path"] = "a path starts with /"
		return
	}
	if t.Method == "" {
		t.Method = "GET"
	}
	if h.explain == nil {
		rv.Errors["test.ip"] = "testing is not available on this server"
		return
	}
	path, query, _ := strings.Cut(t.Path, "?")
	req := &engine.Request{IP: ip.Unmap(), Method: t.Method, Host: site.Domain, Path: path, Query: query, Proto: "HTTP/1.1", UserAgent: t.UA,
		Header: http.Header{"User-Agent": {t.UA}, "Accept": {"text/html,application/xhtml+xml"}, "Accept-Language": {"en"}, "Accept-Encoding": {"gzip, br"}}}
	vd, err := h.explain.Explain(engine.Site{ID: site.ID, PartnerID: site.PartnerID, Domain: site.Domain, Status: site.Status, Settings: st}, req)
	if err != nil {
		rv.Errors["test.ip"] = err.Error()
		return
	}
	t.Result = &vd
}

func atoiOr(s string, def int, errs map[string]string, path string) int {
	s = strings.TrimSpace(s)
	if s == "" {
		if def < 0 {
			return 0
		}
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		errs[path] = "must be a whole number"
	}
	return n
}

func splitLines(s string) []string {
	var out []string
	for _, l := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' }) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
