package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/i18n"
	"github.com/palisadehq/palisade/internal/waf"
)

// The website firewall's part of the rule editor (forms "waf",
// "waf-exclusion" and "waf-exclusion-delete", saved like every other form
// of the page through editPost), of the event page (what the firewall
// found, and "this is fine": an exclusion made from the event in one
// click) and of the statistics (attacks by class).

// wafLevels are the paranoia levels the editor offers.
var wafLevels = []string{"1", "2", "3", "4"}

// wafForm holds the firewall form's input as typed.
type wafForm struct {
	Mode, Paranoia, Threshold string
}

// wafSetRow is one ready exclusion set (waf.Sets) with its switch.
type wafSetRow struct {
	Name, Title, Description string
	Default, On              bool
}

// exclusionRow is one of the website's own exclusions.
type exclusionRow struct {
	Index   int
	E       waf.Exclusion
	Summary string
}

// exclusionForm holds the new exclusion's input as typed.
type exclusionForm struct {
	RuleIDs, Tags, Path, Parameters, Cookie, Note string
}

type wafView struct {
	Form       wafForm
	Levels     []string
	Modes      []string
	Sets       []wafSetRow
	Exclusions []exclusionRow
	New        exclusionForm
}

func newWAFView(w engine.WAFSettings) wafView {
	v := wafView{Form: wafFormOf(w), Levels: wafLevels, Modes: engine.WAFModes}
	for _, s := range waf.Sets() {
		on, set := w.ExclusionSets[s.Name]
		v.Sets = append(v.Sets, wafSetRow{Name: s.Name, Title: s.Title, Description: s.Description, Default: s.Default, On: on || (!set && s.Default)})
	}
	for i, e := range w.Exclusions {
		v.Exclusions = append(v.Exclusions, exclusionRow{Index: i, E: e, Summary: summarizeExclusion(e)})
	}
	return v
}

// effective are the settings' mode, paranoia level and threshold with the
// defaults filled in.
func effective(w engine.WAFSettings) (mode string, paranoia, threshold int) {
	mode, paranoia, threshold = w.Mode, w.Paranoia, w.Threshold
	if mode == "" {
		mode = "block"
	}
	if paranoia == 0 {
		paranoia = engine.DefaultParanoia
	}
	if threshold == 0 {
		threshold = engine.DefaultThreshold
	}
	return mode, paranoia, threshold
}

func wafFormOf(w engine.WAFSettings) wafForm {
	mode, pl, th := effective(w)
	return wafForm{Mode: mode, Paranoia: strconv.Itoa(pl), Threshold: strconv.Itoa(th)}
}

// summarizeExclusion says what an exclusion lets through, in one line, in
// English (the conflict notice's words).
func summarizeExclusion(e waf.Exclusion) string { return summarizeExclusionIn("en", e) }

// summarizeExclusionIn says it in language l.
func summarizeExclusionIn(l string, e waf.Exclusion) string {
	var parts []string
	if len(e.RuleIDs) > 0 {
		ids := make([]string, len(e.RuleIDs))
		for i, id := range e.RuleIDs {
			ids[i] = strconv.Itoa(id)
		}
		parts = append(parts, tr(l, "exc.rules")+" "+strings.Join(ids, ", "))
	}
	if len(e.Tags) > 0 {
		parts = append(parts, tr(l, "exc.tags")+" "+strings.Join(e.Tags, ", "))
	}
	if len(e.RuleIDs)+len(e.Tags) == 0 {
		parts = append(parts, tr(l, "exc.everyrule"))
	}
	if e.Path != "" {
		parts = append(parts, tr(l, "exc.under")+" "+e.Path)
	} else {
		parts = append(parts, tr(l, "exc.everywhere"))
	}
	if len(e.Parameters) > 0 {
		parts = append(parts, tr(l, "exc.in")+" "+strings.Join(e.Parameters, ", "))
	} else {
		parts = append(parts, tr(l, "exc.anyinput"))
	}
	if e.Cookie != "" {
		parts = append(parts, tr(l, "exc.cookie")+" "+e.Cookie+"…")
	}
	return strings.Join(parts, " · ")
}

// applyWAFForm reads the firewall forms into rv and next. A value the user
// left as it shows (the default included) keeps what is stored, so saving
// the form unchanged changes nothing.
func applyWAFForm(rv *rulesView, st engine.Settings, next *engine.Settings, f url.Values) error {
	cur := st.WAF
	w := cur
	switch f.Get("form") {
	case "waf":
		form := wafForm{Mode: f.Get("waf_mode"), Paranoia: strings.TrimSpace(f.Get("paranoia")), Threshold: strings.TrimSpace(f.Get("threshold"))}
		rv.WAF.Form = form
		mode, pl, th := effective(cur)
		if form.Mode != mode {
			w.Mode = form.Mode
		}
		if form.Paranoia == "" {
			w.Paranoia = 0
		} else if n := atoiOr(form.Paranoia, -1, rv.Errors, "waf.paranoia"); n != pl {
			w.Paranoia = n
		}
		if form.Threshold == "" {
			w.Threshold = 0
		} else if n := atoiOr(form.Threshold, -1, rv.Errors, "waf.threshold"); n != th {
			w.Threshold = n
		}
		// Only a set switched away from its default is stored: a site
		// that never chose follows the default.
		w.ExclusionSets = nil
		for i, s := range rv.WAF.Sets {
			on := f.Get("set."+s.Name) != ""
			rv.WAF.Sets[i].On = on
			if on != s.Default {
				if w.ExclusionSets == nil {
					w.ExclusionSets = map[string]bool{}
				}
				w.ExclusionSets[s.Name] = on
			}
		}
	case "waf-exclusion":
		form := exclusionForm{RuleIDs: f.Get("rule_ids"), Tags: f.Get("tags"), Path: strings.TrimSpace(f.Get("path")),
			Parameters: f.Get("parameters"), Cookie: strings.TrimSpace(f.Get("cookie")), Note: strings.TrimSpace(f.Get("note"))}
		rv.WAF.New = form
		e := waf.Exclusion{Path: form.Path, Cookie: form.Cookie, Note: form.Note, Tags: splitLines(form.Tags), Parameters: splitLines(form.Parameters)}
		for _, s := range strings.FieldsFunc(form.RuleIDs, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
			id, err := strconv.Atoi(s)
			if err != nil || id <= 0 {
				rv.Errors["exclusion.rule_ids"] = fmt.Sprintf("%q is not a rule ID (a number such as 942100)", s)
				continue
			}
			if !slices.Contains(e.RuleIDs, id) {
				e.RuleIDs = append(e.RuleIDs, id)
			}
		}
		w.Exclusions = append(slices.Clip(cur.Exclusions), e)
	case "waf-exclusion-delete":
		i, err := strconv.Atoi(f.Get("index"))
		if err != nil || i < 0 || i >= len(cur.Exclusions) {
			return core.FieldError("index", "no such exclusion")
		}
		w.Exclusions = slices.Delete(slices.Clone(cur.Exclusions), i, i+1)
	}
	next.WAF = w
	return nil
}

// wafSavedNow describes what the firewall form f edits holds now.
func wafSavedNow(st engine.Settings, f url.Values) string {
	w := st.WAF
	switch f.Get("form") {
	case "waf":
		mode, pl, th := effective(w)
		var sets []string
		for _, s := range waf.Sets() {
			on, set := w.ExclusionSets[s.Name]
			if on || (!set && s.Default) {
				sets = append(sets, s.Name)
			}
		}
		if len(sets) == 0 {
			sets = []string{"none"}
		}
		return fmt.Sprintf("mode %s, paranoia level %d, threshold %d, exclusion sets %s", mode, pl, th, strings.Join(sets, ", "))
	case "waf-exclusion", "waf-exclusion-delete":
		i, err := strconv.Atoi(f.Get("index"))
		if f.Get("form") == "waf-exclusion-delete" && err == nil && i >= 0 {
			if i >= len(w.Exclusions) {
				return fmt.Sprintf("exclusion %d no longer exists (%d exclusions)", i+1, len(w.Exclusions))
			}
			return fmt.Sprintf("exclusion %d is %s", i+1, summarizeExclusion(w.Exclusions[i]))
		}
		return fmt.Sprintf("%d exclusions", len(w.Exclusions))
	}
	return ""
}

// wafLocalError renames a firewall problem path to the field it is shown
// next to ("" when it is not the firewall's).
func wafLocalError(p, form string, nExclusions int) string {
	switch {
	case strings.HasPrefix(p, "waf.exclusion_sets"):
		return "waf.sets"
	case form == "waf-exclusion" && (p == "waf.exclusions" || p == "waf.exclusions["+strconv.Itoa(nExclusions)+"]"):
		return "exclusion"
	}
	return ""
}

// ---- events: what the firewall found, and "this is fine" ----

// eventView is an event with what its page offers.
type eventView struct {
	core.Event
	// Allow is the exclusion "this is fine" adds (nil: none can be made);
	// AllowSummary says it in words, Param whether it names parameters.
	Allow        *waf.Exclusion
	AllowSummary string
	Problem      string
	// Explain says what decided, in words; AllowThis is what "allow
	// this" offers (eventallow.go).
	Explain   explainView
	AllowThis allowView
	// Repeats says how many identical requests the event stands for and
	// when they came ("" for one request).
	Repeats string
}

// scoringRule says whether a CRS rule id is one of the rules that add up
// or report the anomaly score (949: blocking evaluation, 959: outbound,
// 980: correlation) rather than a finding of its own.
func scoringRule(id int) bool {
	return (id >= 949000 && id < 950000) || (id >= 959000 && id < 960000) || (id >= 980000 && id < 981000)
}

// paramOf is the input a match's variable names, as an exclusion's
// Parameters entry names it (waf.Exclusion): ARGS:id → id,
// REQUEST_COOKIES:sid → cookie:sid, REQUEST_HEADERS:Referer →
// header:Referer; ok is false for a match elsewhere (the path, the whole
// body).
func paramOf(v string) (string, bool) {
	kind, name, ok := strings.Cut(v, ":")
	if !ok || name == "" {
		return "", false
	}
	switch kind {
	case "ARGS", "ARGS_GET", "ARGS_POST", "ARGS_NAMES", "ARGS_GET_NAMES", "ARGS_POST_NAMES", "FILES", "FILES_NAMES":
		if strings.Contains(name, ":") || strings.HasSuffix(name, "*") {
			// Spelled out, so the name is not read as a kind or a prefix.
			return "arg:" + name, !strings.HasSuffix(name, "*")
		}
		return name, true
	case "REQUEST_COOKIES", "REQUEST_COOKIES_NAMES":
		return "cookie:" + name, !strings.HasSuffix(name, "*")
	case "REQUEST_HEADERS", "REQUEST_HEADERS_NAMES":
		return "header:" + name, !strings.HasSuffix(name, "*")
	}
	return "", false
}

// exclusionFromEvent is the exclusion that lets an event's request through
// next time: the rules that matched (not the scoring rules, not virtual
// patches, which exclusions do not lift), on the event's path, and only in
// the parameters they matched in, when every match was in a parameter. ok
// is false when the event has no firewall part, or only virtual patches
// matched.
func exclusionFromEvent(ev core.Event) (waf.Exclusion, bool) {
	if ev.WAF == nil {
		return waf.Exclusion{}, false
	}
	e := waf.Exclusion{Path: ev.Path, Note: "allowed from event " + strconv.FormatInt(ev.ID, 10)}
	if e.Path == "" {
		e.Path = "/"
	}
	var params []string
	inParams := true
	for _, r := range ev.WAF.Rules {
		if r.Patch != "" || scoringRule(r.ID) || r.ID <= 0 || r.ID >= waf.RuleBusy {
			// Virtual patches and Palisade's own checks (999100 and up) are
			// not the customer's to lift.
			continue
		}
		if !slices.Contains(e.RuleIDs, r.ID) {
			e.RuleIDs = append(e.RuleIDs, r.ID)
		}
		name, ok := paramOf(r.Var)
		if !ok {
			inParams = false
			continue
		}
		if !slices.Contains(params, name) {
			params = append(params, name)
		}
	}
	if len(e.RuleIDs) == 0 {
		return waf.Exclusion{}, false
	}
	slices.Sort(e.RuleIDs)
	if inParams {
		e.Parameters = params
	}
	return e, true
}

// sameExclusion: a and b let the same matches through (notes aside).
func sameExclusion(a, b waf.Exclusion) bool {
	return slices.Equal(a.RuleIDs, b.RuleIDs) && slices.Equal(a.Tags, b.Tags) && a.Path == b.Path && slices.Equal(a.Parameters, b.Parameters) && a.Cookie == b.Cookie
}

// event reads one event of the page's website by the caller: another
// tenant's (or another website's) is not found.
func (h *Handler) event(r *http.Request, s core.Session, v view) (core.Event, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return core.Event{}, core.Errorf(core.ENOTFOUND, "no such event")
	}
	es, err := h.svc.Events(r.Context(), callerOf(s), v.Site.Domain, core.EventFilter{ID: id, Limit: 1})
	if err != nil && core.ErrorCode(err) != core.ENOTFOUND {
		return core.Event{}, err
	}
	if err != nil || len(es) == 0 {
		return core.Event{}, core.Errorf(core.ENOTFOUND, "no such event")
	}
	return es[0], nil
}

func newEventView(l string, ev core.Event) eventView {
	out := eventView{Event: ev}
	if n := ev.Requests(); n > 1 {
		out.Repeats = i18n.N(l, "event.count", n, map[string]any{"From": i18n.DateTime(l, ev.At), "To": i18n.DateTime(l, ev.LastAt)})
	}
	if e, ok := exclusionFromEvent(ev); ok {
		out.Allow, out.AllowSummary = &e, summarizeExclusionIn(l, e)
	}
	return out
}

// eventAllow adds the exclusion an event's page offers ("this is fine:
// allow this parameter on this path") to the website's own exclusions, in
// one edit under the website's row lock: it needs no version (it adds one
// entry, as a list entry is added), and an identical exclusion already
// there is not added twice.
func (h *Handler) eventAllow(w http.ResponseWriter, r *http.Request) {
	v, s, _, ok := h.sitePost(w, r, 64<<10)
	if !ok {
		return
	}
	ev, err := h.event(r, s, v)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	ex, ok := exclusionFromEvent(ev)
	if !ok {
		msg := i18n.T(v.Lang, "event.waf.nofindings")
		if ev.WAF != nil {
			msg = i18n.T(v.Lang, "event.waf.patchonly")
		}
		h.eventPage(w, r, v, ev, core.Errorf(core.EINVALID, "%s", msg))
		return
	}
	_, _, err = h.svc.EditWebsiteSettings(r.Context(), callerOf(s), v.Site.Domain, core.Match{}, func(st *engine.Settings) error {
		for _, have := range st.WAF.Exclusions {
			if sameExclusion(have, ex) {
				return nil
			}
		}
		st.WAF.Exclusions = append(slices.Clip(st.WAF.Exclusions), ex)
		return nil
	})
	if err != nil {
		if core.ErrorCode(err) == core.EINVALID {
			h.eventPage(w, r, v, ev, err)
			return
		}
		h.fail(w, r, nil, err)
		return
	}
	http.Redirect(w, r, v.Base+"/edit?saved=1#waf", http.StatusSeeOther)
}

// eventPage renders an event's page; problem, when set, is shown above it
// (a refused "this is fine").
//
// The page says what decided in words (explainEvent, against the
// website's settings as they are now) and what "allow this" offers, with
// its preview (Service.AllowThisOptions, as the session's caller).
func (h *Handler) eventPage(w http.ResponseWriter, r *http.Request, v view, ev core.Event, problem error) {
	ew := newEventView(v.Lang, ev)
	st, err := engine.ParseSettings(v.Site.Settings)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	ew.Explain = explainEvent(v.Lang, ev, v.Site, st)
	// The page was reached through the session's cookie (site checked
	// it); the core decides again what the caller may see.
	s, _, err := h.cookieSession(r)
	if err == nil {
		var at core.AllowThis
		if at, err = h.svc.AllowThisOptions(r.Context(), callerOf(s), v.Site.Domain, ev.ID); err == nil {
			ew.AllowThis = newAllowView(v.Lang, at)
		}
	}
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	ew.AllowThis.Done = allowDone(v.Lang, r.URL.Query())
	status := http.StatusOK
	if problem != nil {
		status, ew.Problem = h.problem(w, r, problem, true)
	}
	v.Tab, v.Title, v.Data = "events", i18n.T(v.Lang, "event.title", map[string]any{"ID": strconv.FormatInt(ev.ID, 10)}), ew
	h.render(w, "event", status, v)
}
