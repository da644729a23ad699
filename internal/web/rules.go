package web

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/i18n"
)

// The rule editor: one page of small forms, each posting one change. A
// change is validated by the engine as a whole; refused, nothing is saved
// and each problem is shown next to its field.
//
// Every form carries the website version the page was rendered from
// (hidden field "version"); the core saves only if that is still the
// current version, under the website's row lock. A change made elsewhere in
// between (another window, the User API, the partner's panel) is never
// overwritten: the page comes back with the user's input kept, the current
// settings around it, and "changed elsewhere: reload".

var (
	condFields = []string{"ip", "country", "asn", "user_agent", "referrer", "header", "path", "query", "method", "domain"}
	condOps    = []string{"is", "is_not", "contains", "not_contains", "starts_with", "greater_than", "less_than", "is_any_of", "regex"}
	// A custom rule may not serve fake data; a category may not redirect
	// (engine.Settings.Validate).
	ruleActions  = []string{"grant", "deny", "challenge", "captcha", "redirect"}
	catActions   = []string{"grant", "deny", "challenge", "captcha", "return_fake_data"}
	limitActions = []string{"challenge", "captcha", "deny"}
	limitKeys    = []string{"ip", "subnet", "ip_path"}
)

// fieldOps are the comparisons a field takes where it does not take them
// all (engine.compileCondition); rules.js offers only these.
var fieldOps = map[string]string{
	"ip":     "is is_not is_any_of",
	"method": "is is_not contains not_contains starts_with is_any_of regex",
}

// maxCondRows bounds the condition rows one rule form reads and shows.
const maxCondRows = 30

// celExample is an advanced condition shown under the CEL box: the
// expression (TestRuleEditorCELExamples compiles each against the engine)
// and the id of its explanation.
type celExample struct {
	Expr, ID string
}

// celNames are what an expression may use (engine/cel.go).
var celNames = []string{"ip", "method", "host", "path", "raw_path", "query", "user_agent", "referrer", "country", "asn", "headers", "signed_agent", "inCIDR(ip, cidr)"}

var celExamples = []celExample{
	{`path.startsWith("/wp-admin/") && !inCIDR(ip, "203.0.113.0/24")`, "rules.cel.ex.admin"},
	{`method == "POST" && path == "/xmlrpc.php"`, "rules.cel.ex.xmlrpc"},
	{`path.startsWith("/api/") && !("authorization" in headers)`, "rules.cel.ex.api"},
	{`country in ["KP", "IR"] && path.startsWith("/checkout")`, "rules.cel.ex.country"},
	{`user_agent.matches("(?i)python-requests|go-http-client") && asn == 16509`, "rules.cel.ex.ua"},
}

type catRow struct {
	Name, Action, Default string
}

type ruleRow struct {
	Index   int
	Rule    engine.Rule
	Enabled bool
	Summary string
	// Hits is how many recorded decisions the rule made in the window
	// (core.RuleHits); Sampled when grants are among them (a sample).
	Hits    int64
	Sampled bool
}

type condRow struct {
	Field, Header, Op, Value string
}

// hitsView is the rule table's hit-count column: the window and the
// exact total of all custom rules (from the counters).
type hitsView struct {
	OK    bool // counted; false when the store could not answer
	Days  int
	Total int64
}

type ruleForm struct {
	Index                        int // -1: a new rule
	Name, Action, Location, Expr string
	Enabled                      bool
	Conds                        []condRow
}

// generalForm and listsForm hold those forms' input as typed, so that a
// refused save shows it again verbatim.
type generalForm struct {
	Mode, FailMode, Difficulty, Lifetime, NoJSDelay string
}

type listsForm struct {
	Allow, Deny string
}

type limitForm struct {
	Name, Key, PathPrefix, Period, Action string
	Requests, Burst                       string
}

// builtinRow is one built-in grant (engine.Builtins) with its switch.
type builtinRow struct {
	engine.BuiltinInfo
	On bool
}

// presetRow is one webhook preset (engine.WebhookPresets) with its switch.
type presetRow struct {
	engine.WebhookPreset
	On bool
}

// grantsForm holds the built-in grants form's lists as typed.
type grantsForm struct {
	Webhooks, APIPaths, Servers string
}

type testForm struct {
	IP, UA, Path, Method string
	Result               *engine.Verdict
}

type rulesView struct {
	Settings   engine.Settings // as stored now
	Version    string          // of Settings (see pageVersion), sent back by every form
	General    generalForm
	Lists      listsForm
	Categories []catRow
	Builtins   []builtinRow
	Presets    []presetRow
	Grants     grantsForm
	Rules      []ruleRow
	Limits     []engine.RateLimit
	WAF        wafView
	Rule       ruleForm
	Limit      limitForm
	Test       testForm
	Errors     map[string]string
	Problem    string
	Saved      bool
	// Conflict: the form was based on an older version; nothing was saved.
	// SavedNow describes what the posted form's part holds now.
	Conflict bool
	SavedNow string
	Fields   []string
	Ops      []string
	Open     string // the form posted or to show open ("rule" when editing)

	RuleActions, CatActions, LimitActions, LimitKeys []string
	CELExamples                                      []celExample
	CELNames                                         []string
	FieldOps                                         map[string]string
	Hits                                             hitsView
	MaxConds                                         int
}

func newRulesView(site core.Website, st engine.Settings) *rulesView {
	rv := &rulesView{Settings: st, Version: pageVersion(site),
		Errors: map[string]string{}, Fields: condFields, Ops: condOps,
		RuleActions: ruleActions, CatActions: catActions, LimitActions: limitActions, LimitKeys: limitKeys, CELExamples: celExamples, CELNames: celNames, FieldOps: fieldOps, MaxConds: maxCondRows,
		General: generalFormOf(st), Lists: listsForm{Allow: strings.Join(st.Allow, "\n"), Deny: strings.Join(st.Deny, "\n")},
		Rule:  ruleForm{Index: -1, Enabled: true, Action: "deny", Conds: make([]condRow, 1)},
		Limit: limitForm{Key: "ip", Period: "1m", Action: "challenge"}, Test: testForm{Method: "GET", Path: "/"}}
	for _, c := range engine.Categories() {
		rv.Categories = append(rv.Categories, catRow{Name: c, Action: st.Categories[c], Default: engine.DefaultAction(c)})
	}
	for _, b := range engine.Builtins() {
		on, set := st.Builtins[b.Name]
		rv.Builtins = append(rv.Builtins, builtinRow{BuiltinInfo: b, On: on || (!set && b.Default)})
	}
	declared := map[string]bool{}
	for _, p := range engine.WebhookPresets() {
		on := slices.Contains(st.Webhooks, presetName(p.Name))
		declared[presetName(p.Name)] = on
		rv.Presets = append(rv.Presets, presetRow{WebhookPreset: p, On: on})
	}
	var custom []string
	for _, w := range st.Webhooks {
		if !declared[w] {
			custom = append(custom, w)
		}
	}
	rv.Grants = grantsForm{Webhooks: strings.Join(custom, "\n"), APIPaths: strings.Join(st.APIPaths, "\n"), Servers: strings.Join(st.ServerAddresses, "\n")}
	for i, r := range st.Rules {
		rv.Rules = append(rv.Rules, ruleRow{Index: i, Rule: r, Enabled: r.Enabled == nil || *r.Enabled, Summary: summarize(r)})
	}
	rv.Limits = st.RateLimits
	rv.WAF = newWAFView(st.WAF)
	return rv
}

func presetName(name string) string { return engine.PresetPrefix + name }

// localize puts the built-ins' explanations and the firewall's exclusion
// sets' descriptions in the page's language, where there is a translation
// (engine.Builtins and waf.Sets have them in English).
func (rv *rulesView) localize(lang string) {
	for i := range rv.Builtins {
		if id := "builtin." + rv.Builtins[i].Name; i18n.Has(lang, id) {
			rv.Builtins[i].Explanation = i18n.T(lang, id)
		}
	}
	for i := range rv.WAF.Exclusions {
		rv.WAF.Exclusions[i].Summary = summarizeExclusionIn(lang, rv.WAF.Exclusions[i].E)
	}
	for i := range rv.WAF.Sets {
		if id := "wafset." + rv.WAF.Sets[i].Name; i18n.Has(lang, id) {
			rv.WAF.Sets[i].Description = i18n.T(lang, id)
		}
	}
	for i := range rv.Presets {
		if id := "rules.preset." + rv.Presets[i].Name; i18n.Has(lang, id) {
			rv.Presets[i].Description = i18n.T(lang, id)
		}
	}
	for i := range rv.Rules {
		rv.Rules[i].Summary = summarizeIn(lang, rv.Rules[i].Rule)
	}
	localizeRuleErrors(lang, rv.Errors)
}

// summarizeIn is a rule's conditions in words of lang: "Path starts with
// "/admin" and Country is "KP"".
func summarizeIn(lang string, r engine.Rule) string {
	var parts []string
	for _, c := range r.Conditions {
		f := label(lang, "rules.field.", c.Field)
		if c.Field == "header" {
			f += " " + c.Header
		}
		v := strconv.Quote(c.Value)
		if len(c.Values) > 0 {
			q := make([]string, len(c.Values))
			for i, x := range c.Values {
				q[i] = strconv.Quote(x)
			}
			v = strings.Join(q, ", ")
		}
		parts = append(parts, f+" "+label(lang, "rules.op.", c.Op)+" "+v)
	}
	if r.Expression != "" {
		parts = append(parts, tr(lang, "rules.summary.cel")+" "+r.Expression)
	}
	return strings.Join(parts, " "+tr(lang, "rules.and")+" ")
}

// The editor's own problems with its input, put in the page's language by
// localizeRuleErrors.
const (
	errNotIP     = "not an IP address"
	errPathSlash = "a path starts with /"
	errNoTest    = "testing is not available on this server"
	errNumber    = "must be a whole number"
)

// fixedErrorIDs are the messages of the editor's own problems and of the
// engine's problems with the general settings and rate limits, by the
// start of their English text.
var fixedErrorIDs = []struct{ prefix, id string }{
	{errNotIP, "rules.err.notip"},
	{errPathSlash, "rules.err.pathslash"},
	{errNoTest, "rules.err.notest"},
	{errNumber, "rules.err.number"},
	{"must be between 8 and 24 leading zero bits", "rules.err.difficulty"},
	{"must be a duration between 1m and 720h", "rules.err.lifetime"},
	{"must be between 1 and 30 seconds", "rules.err.nojs"},
	{"a rate limit needs a name", "rules.err.limitname"},
	{"must be between 1 and 1000000", "rules.err.limitrequests"},
	{"must be between 0 and 1000000", "rules.err.limitburst"},
	{"must be a duration between 1s and 24h", "rules.err.limitperiod"},
	{"key ip_path needs a path_prefix", "rules.err.limitprefix"},
	{"must start with /", "rules.err.slash"},
}

// condErrorIDs are the messages of the engine's problems with one
// condition (engine.compileCondition), by a part of its English text;
// the rest (a regex's parser error) keep the engine's detail.
var condErrorIDs = []struct{ part, id string }{
	{"unknown field", "rules.err.field"},
	{"unknown op", "rules.err.op"},
	{"field header needs a header name", "rules.err.header"},
	{"is_any_of needs a non-empty values list", "rules.err.condvalues"},
	{"needs a value", "rules.err.condvalue"},
	{"field ip supports", "rules.err.ipops"},
	{"is not an IP address or CIDR", "rules.err.cidr"},
	{"must be a two-letter ISO 3166 code", "rules.err.country"},
	{"must be a number such as 13335", "rules.err.asn"},
	{"field method cannot be compared", "rules.err.methodop"},
	{"compares numbers", "rules.err.notnumber"},
}

// ruleErrorIDs are the messages of the engine's problems with a rule's own
// fields, by the start of the engine's English message.
var ruleErrorIDs = []struct{ key, prefix, id string }{
	{"rule.name", "a rule needs a name", "rules.err.name"},
	{"rule.name", "another rule is already named", "rules.err.dupname"},
	{"rule.action", "must be grant", "rules.err.action"},
	{"rule.location", "a redirect needs a location", "rules.err.location"},
	{"rule.location", "only for redirect", "rules.err.locationonly"},
	{"rule.conditions", "a rule needs at least one condition", "rules.err.conditions"},
}

// localizeRuleErrors puts the engine's problems with the rule form in
// lang. A condition's or an expression's problem keeps the engine's
// detail (the CEL compiler's, the regex parser's) after a sentence in
// lang.
func localizeRuleErrors(lang string, errs map[string]string) {
	for k, m := range errs {
		switch {
		case k == "rule.expression":
			detail := strings.TrimPrefix(strings.TrimPrefix(m, "expression does not compile: "), "expression: ")
			errs[k] = tr(lang, "rules.err.cel") + " " + detail
			continue
		case strings.HasPrefix(k, "cond."):
			errs[k] = tr(lang, "rules.err.cond") + " " + m
			for _, e := range condErrorIDs {
				if strings.Contains(m, e.part) {
					errs[k] = tr(lang, e.id)
					break
				}
			}
			continue
		}
		for _, e := range ruleErrorIDs {
			if k == e.key && strings.HasPrefix(m, e.prefix) {
				errs[k] = tr(lang, e.id)
			}
		}
		for _, e := range fixedErrorIDs {
			// The firewall's fields (waf.go) keep their own words.
			if !strings.HasPrefix(k, "waf.") && !strings.HasPrefix(k, "exclusion") && strings.HasPrefix(m, e.prefix) {
				errs[k] = tr(lang, e.id)
			}
		}
	}
}

func generalFormOf(st engine.Settings) generalForm {
	g := generalForm{Mode: st.Mode, FailMode: st.FailMode, Lifetime: st.Challenge.Lifetime, NoJSDelay: strconv.Itoa(st.Challenge.NoJSDelay)}
	if g.Mode == "" {
		g.Mode = "protect"
	}
	if g.FailMode == "" {
		g.FailMode = "open"
	}
	if st.Challenge.Difficulty != 0 {
		g.Difficulty = strconv.Itoa(st.Challenge.Difficulty)
	}
	return g
}

// pageVersion is what the page's forms send back: the website's id and
// version, and a fingerprint of its settings ("12.5-1f2e3d4c5b6a7988"). The
// version alone would also change with things the page does not show (the
// first traffic, a renewal, a pause); the fingerprint lets a form whose
// settings are still exactly as rendered be saved.
func pageVersion(site core.Website) string {
	return strconv.FormatInt(site.ID, 10) + "." + strconv.FormatInt(site.Version, 10) + "-" + settingsFingerprint(site.Settings)
}

func settingsFingerprint(stored string) string {
	sum := sha256.Sum256([]byte(stored))
	return hex.EncodeToString(sum[:8])
}

// formBase returns the version a form's change can be saved against: the
// current one when the form was rendered from it, or from an older version
// whose settings were exactly the current ones. ok is false for a form
// based on other settings, or without a version (a page from before
// versioning: never "no precondition"). The core compares the result again
// under the website's row lock as it writes.
func formBase(f url.Values, site core.Website) (core.Match, bool) {
	ver, fp, _ := strings.Cut(f.Get("version"), "-")
	m, err := core.ParseETag(`"` + ver + `"`)
	cur := core.Match{WebsiteID: site.ID, Version: site.Version}
	if err != nil || m.WebsiteID != site.ID || (m != cur && fp != settingsFingerprint(site.Settings)) {
		return core.Match{}, false
	}
	return cur, true
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
		site, st, err := h.svc.WebsiteSettings(r.Context(), callerOf(s), v.Site.Domain)
		if err != nil {
			h.fail(w, r, nil, err)
			return
		}
		rv = newRulesView(site, st)
		if e := r.URL.Query().Get("rule"); e != "" {
			if i, err := strconv.Atoi(e); err == nil && i >= 0 && i < len(st.Rules) {
				rv.Rule = formOf(i, st.Rules[i])
				rv.Open = "rule"
			}
		}
		rv.Saved = r.URL.Query().Get("saved") == "1"
	}
	h.ruleHits(r, s, v, rv)
	rv.localize(v.Lang)
	v.Tab, v.Title, v.Data = "edit", tr(v.Lang, "rules")+" · "+v.Site.Domain, rv
	status := http.StatusOK
	switch {
	case rv.Conflict:
		status = http.StatusConflict
	case rv.Problem != "":
		status = http.StatusUnprocessableEntity
	}
	h.render(w, "rules", status, v)
}

// ruleHits puts each custom rule's decisions of the last 30 days into
// the rule table. Counting is a read beside the editor: when it fails the
// editor still opens, without the counts.
func (h *Handler) ruleHits(r *http.Request, s core.Session, v view, rv *rulesView) {
	hits, err := h.svc.RuleHits(r.Context(), callerOf(s), v.Site.Domain)
	if err != nil {
		h.log.Warn("rule hit counts", "domain", v.Site.Domain, "err", err)
		return
	}
	rv.Hits = hitsView{OK: true, Days: hits.Days(), Total: hits.Total()}
	for i := range rv.Rules {
		rv.Rules[i].Hits, rv.Rules[i].Sampled = hits.Of(rv.Rules[i].Rule.Name)
	}
}

// formOf is the rule form for stored rule r: its conditions and one empty
// row for another.
func formOf(i int, r engine.Rule) ruleForm {
	f := ruleForm{Index: i, Name: r.Name, Action: r.Action, Expr: r.Expression, Enabled: r.Enabled == nil || *r.Enabled}
	if r.Action == "redirect" {
		f.Location = r.Location
	}
	for _, c := range r.Conditions {
		v := c.Value
		if len(c.Values) > 0 {
			v = strings.Join(c.Values, ", ")
		}
		f.Conds = append(f.Conds, condRow{Field: c.Field, Header: c.Header, Op: c.Op, Value: v})
	}
	f.Conds = append(f.Conds, condRow{})
	return f
}

// condRowsPosted reads the rule form's condition rows as posted, with the
// number each was posted under (cond.<n>.field …), in order; a row
// removed with remove_condition=<n> is left out.
func condRowsPosted(f url.Values) []condRow {
	remove := -1
	if v := f.Get("remove_condition"); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			remove = n
		}
	}
	var rows []condRow
	for j := 0; j < maxCondRows; j++ {
		p := "cond." + strconv.Itoa(j) + "."
		if !f.Has(p+"field") && !f.Has(p+"op") && !f.Has(p+"value") && !f.Has(p+"header") {
			continue
		}
		if j == remove {
			continue
		}
		rows = append(rows, condRow{Field: f.Get(p + "field"), Header: strings.TrimSpace(f.Get(p + "header")), Op: f.Get(p + "op"), Value: strings.TrimSpace(f.Get(p + "value"))})
	}
	return rows
}

// adjustsRows says whether a rule form was posted to add or remove a
// condition row (the buttons that work without JavaScript): the form comes
// back with the input kept, and nothing is saved.
func adjustsRows(f url.Values) bool {
	return f.Get("form") == "rule" && (f.Has("add_condition") || f.Has("remove_condition"))
}

func (h *Handler) editPost(w http.ResponseWriter, r *http.Request) {
	v, s, _, ok := h.sitePost(w, r, 1<<20)
	if !ok {
		return
	}
	c := callerOf(s)
	site, st, err := h.svc.WebsiteSettings(r.Context(), c, v.Site.Domain)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	f := r.PostForm
	rv := newRulesView(site, st)
	if f.Get("form") == "test" {
		// Changes nothing: runs against the settings as they are now.
		rv.Test = testForm{IP: strings.TrimSpace(f.Get("ip")), UA: f.Get("ua"), Path: strings.TrimSpace(f.Get("path")), Method: strings.ToUpper(strings.TrimSpace(f.Get("method")))}
		h.runTest(rv, site, st)
		rv.Open = "test"
		h.rulesPage(w, r, v, s, rv)
		return
	}
	// A form from an older page is refused before it is applied: its
	// indexes and values describe settings that are gone.
	based, ok := formBase(f, site)
	if !ok {
		h.editConflict(w, r, v, s, f)
		return
	}
	next, err := applyForm(rv, st, f)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	if adjustsRows(f) {
		// A row added or removed without JavaScript: the form again with
		// the input kept; nothing is saved.
		rv.Open = "rule"
		h.rulesPage(w, r, v, s, rv)
		return
	}
	if len(rv.Errors) == 0 {
		// based is compared again under the row lock as the change is
		// written: a save elsewhere since the read above is not undone.
		_, err = h.svc.UpdateWebsiteSettings(r.Context(), c, v.Site.Domain, next, based)
		switch core.ErrorCode(err) {
		case "":
			// Post/redirect/get: a reload does not post again.
			http.Redirect(w, r, v.Base+"/edit?saved=1", http.StatusSeeOther)
			return
		case core.EPRECONDITION:
			h.editConflict(w, r, v, s, f)
			return
		case core.EINVALID:
		default:
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
	rv.Errors = localErrors(rv.Errors, f.Get("form"), rv.Rule.Index, len(st.Rules), len(st.RateLimits), len(st.WAF.Exclusions))
	h.rulesPage(w, r, v, s, rv)
}

// editConflict answers a form based on a version that is no longer
// current: nothing is saved; the page shows the current settings (and
// version), the posted form with the user's input as typed, what its part
// holds now, and a link to reload. Saving the form again applies the input
// over the current settings.
func (h *Handler) editConflict(w http.ResponseWriter, r *http.Request, v view, s core.Session, f url.Values) {
	site, st, err := h.svc.WebsiteSettings(r.Context(), callerOf(s), v.Site.Domain)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	rv := newRulesView(site, st)
	// Only to put the input back in its form; an index that no longer
	// exists is not an error here.
	_, _ = applyForm(rv, st, f)
	rv.Errors = localErrors(rv.Errors, f.Get("form"), rv.Rule.Index, len(st.Rules), len(st.RateLimits), len(st.WAF.Exclusions))
	rv.Conflict, rv.SavedNow = true, savedNow(v.Lang, st, f)
	h.rulesPage(w, r, v, s, rv)
}

// savedNow describes, in lang, what the part of the settings form f edits
// holds now.
func savedNow(lang string, st engine.Settings, f url.Values) string {
	none := tr(lang, "rules.now.none")
	orNone := func(v []string) string {
		if len(v) == 0 {
			return none
		}
		return strings.Join(v, ", ")
	}
	def := tr(lang, "default")
	switch f.Get("form") {
	case "general":
		g := generalFormOf(st)
		if g.Difficulty == "" {
			g.Difficulty = def
		}
		if g.Lifetime == "" {
			g.Lifetime = def
		}
		return i18n.T(lang, "rules.now.general", map[string]any{"Mode": tr(lang, "mode."+g.Mode), "Fail": tr(lang, "fail."+g.FailMode),
			"Difficulty": g.Difficulty, "Lifetime": g.Lifetime, "NoJS": g.NoJSDelay})
	case "categories":
		var cs []string
		for _, c := range engine.Categories() {
			if a := st.Categories[c]; a != "" {
				cs = append(cs, label(lang, "catname.", c)+": "+label(lang, "rules.action.", a))
			}
		}
		if len(cs) == 0 {
			return tr(lang, "rules.now.catdefault")
		}
		return strings.Join(cs, ", ")
	case "lists":
		return i18n.T(lang, "rules.now.lists", map[string]any{"Allow": orNone(st.Allow), "Deny": orNone(st.Deny)})
	case "builtins":
		var changed []string
		for _, b := range engine.Builtins() {
			if on, set := st.Builtins[b.Name]; set && on != b.Default {
				state := tr(lang, "rules.now.off")
				if on {
					state = tr(lang, "rules.now.on")
				}
				changed = append(changed, b.Name+" "+state)
			}
		}
		if len(changed) == 0 {
			changed = []string{tr(lang, "rules.now.builtindefault")}
		}
		return i18n.T(lang, "rules.now.builtins", map[string]any{"Builtins": strings.Join(changed, ", "), "Webhooks": orNone(st.Webhooks),
			"APIPaths": orNone(st.APIPaths), "Servers": orNone(st.ServerAddresses)})
	case "rule", "rule-delete", "rule-up", "rule-down", "rule-toggle":
		n := len(st.Rules)
		i, err := strconv.Atoi(f.Get("index"))
		if err != nil || i < 0 {
			return i18n.N(lang, "rules.now.rules", int64(n))
		}
		if i >= n {
			return i18n.T(lang, "rules.now.rulegone", map[string]any{"N": i + 1}) + " (" + i18n.N(lang, "rules.now.rules", int64(n)) + ")"
		}
		r := st.Rules[i]
		return i18n.T(lang, "rules.now.rule", map[string]any{"N": i + 1, "Name": r.Name, "Action": label(lang, "rules.action.", r.Action), "Summary": summarizeIn(lang, r)})
	case "limit", "limit-delete":
		return i18n.N(lang, "rules.now.limits", int64(len(st.RateLimits)))
	case "waf", "waf-exclusion", "waf-exclusion-delete":
		return wafSavedNow(st, f)
	}
	return ""
}

// applyForm reads form f into rv (the input as typed, to show again) and
// returns the settings st with the form's change applied. Input problems go
// to rv.Errors; a form that cannot apply at all is an error.
func applyForm(rv *rulesView, st engine.Settings, f url.Values) (engine.Settings, error) {
	idx := func() (int, bool) {
		i, err := strconv.Atoi(f.Get("index"))
		return i, err == nil && i >= 0
	}
	next := st // the settings to save
	next.Rules = append([]engine.Rule(nil), st.Rules...)
	next.RateLimits = append([]engine.RateLimit(nil), st.RateLimits...)
	rv.Open = f.Get("form")
	switch f.Get("form") {
	case "general":
		rv.General = generalForm{Mode: f.Get("mode"), FailMode: f.Get("fail_mode"), Difficulty: strings.TrimSpace(f.Get("difficulty")),
			Lifetime: strings.TrimSpace(f.Get("lifetime")), NoJSDelay: strings.TrimSpace(f.Get("nojs_delay"))}
		next.Mode, next.FailMode = rv.General.Mode, rv.General.FailMode
		next.Challenge.Lifetime = rv.General.Lifetime
		next.Challenge.Difficulty = atoiOr(rv.General.Difficulty, -1, rv.Errors, "challenge.difficulty")
		next.Challenge.NoJSDelay = atoiOr(rv.General.NoJSDelay, -1, rv.Errors, "challenge.nojs_delay")
	case "categories":
		next.Categories = map[string]string{}
		for i, cat := range engine.Categories() {
			a := f.Get("cat." + cat)
			if a != "" {
				next.Categories[cat] = a
			}
			rv.Categories[i].Action = a
		}
	case "lists":
		rv.Lists = listsForm{Allow: f.Get("allow"), Deny: f.Get("deny")}
		next.Allow, next.Deny = splitLines(rv.Lists.Allow), splitLines(rv.Lists.Deny)
	case "builtins":
		// Only a switch that differs from its default is stored: a site
		// that never changed one follows the default.
		next.Builtins = nil
		for i, b := range rv.Builtins {
			on := f.Get("builtin."+b.Name) != ""
			rv.Builtins[i].On = on
			if on != b.Default {
				if next.Builtins == nil {
					next.Builtins = map[string]bool{}
				}
				next.Builtins[b.Name] = on
			}
		}
		next.Webhooks = nil
		for i, p := range rv.Presets {
			rv.Presets[i].On = f.Get("preset."+p.Name) != ""
			if rv.Presets[i].On {
				next.Webhooks = append(next.Webhooks, presetName(p.Name))
			}
		}
		rv.Grants = grantsForm{Webhooks: f.Get("webhooks"), APIPaths: f.Get("api_paths"), Servers: f.Get("server_addresses")}
		for _, w := range onePerLine(rv.Grants.Webhooks) {
			if !slices.Contains(next.Webhooks, w) { // a checked preset typed again
				next.Webhooks = append(next.Webhooks, w)
			}
		}
		next.APIPaths, next.ServerAddresses = onePerLine(rv.Grants.APIPaths), splitLines(rv.Grants.Servers)
	case "rule":
		form := ruleForm{Index: -1, Name: strings.TrimSpace(f.Get("name")), Action: f.Get("action"), Location: strings.TrimSpace(f.Get("location")),
			Expr: strings.TrimSpace(f.Get("expression")), Enabled: f.Get("enabled") != ""}
		if i, ok := idx(); ok && i < len(next.Rules) {
			form.Index = i
		}
		rows := condRowsPosted(f)
		if adjustsRows(f) {
			// Only the rows change: kept as typed, one more or one less.
			if f.Has("add_condition") && len(rows) < maxCondRows {
				rows = append(rows, condRow{})
			}
			if len(rows) == 0 {
				rows = append(rows, condRow{})
			}
			form.Conds = rows
			rv.Rule = form
			return next, nil
		}
		rule := engine.Rule{Name: form.Name, Action: form.Action, Location: form.Location, Expression: form.Expr}
		if !form.Enabled {
			off := false
			rule.Enabled = &off
		}
		// Only a redirect goes somewhere: an address for another action
		// would be kept and never used.
		if form.Location != "" && form.Action != "redirect" {
			rv.Errors["rule.location"] = "only for redirect"
		}
		for _, cr := range rows {
			if cr.Field == "" && cr.Value == "" {
				continue // an empty row
			}
			if cr.Field != "header" {
				cr.Header = "" // the box is for the header field only
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
		form.Conds = append(form.Conds, condRow{})
		if form.Index >= 0 {
			next.Rules[form.Index] = rule
		} else {
			next.Rules = append(next.Rules, rule)
		}
		rv.Rule = form
	case "rule-delete", "rule-up", "rule-down", "rule-toggle":
		i, ok := idx()
		if !ok || i >= len(next.Rules) {
			return next, core.FieldError("index", "no such rule")
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
		rv.Limit = lf
	case "limit-delete":
		i, ok := idx()
		if !ok || i >= len(next.RateLimits) {
			return next, core.FieldError("index", "no such rate limit")
		}
		next.RateLimits = append(next.RateLimits[:i], next.RateLimits[i+1:]...)
	case "waf", "waf-exclusion", "waf-exclusion-delete":
		if err := applyWAFForm(rv, st, &next, f); err != nil {
			return next, err
		}
	default:
		rv.Open = ""
		return next, core.FieldError("form", "unknown form")
	}
	return next, nil
}

var condPath = regexp.MustCompile(`^rules\[(\d+)\]\.conditions\[(\d+)\](?:\.(\w+))?$`)

// localErrors renames problem paths of the form just posted to its field
// names: rules[i].name → rule.name, rules[i].conditions[j].value →
// cond.j.value, rate_limits[n].period → limit.period, allow[3] → allow.
func localErrors(errs map[string]string, form string, ruleIndex, nRules, nLimits, nExclusions int) map[string]string {
	out := map[string]string{}
	ri := ruleIndex
	if ri < 0 {
		ri = nRules
	}
	rulePrefix := "rules[" + strconv.Itoa(ri) + "]."
	limitPrefix := "rate_limits[" + strconv.Itoa(nLimits) + "]."
	for p, m := range errs {
		if l := wafLocalError(p, form, nExclusions); l != "" {
			out[l] = m
			continue
		}
		switch {
		case form == "rule" && condPath.MatchString(p) && strings.HasPrefix(p, rulePrefix):
			g := condPath.FindStringSubmatch(p)
			if g[3] == "" {
				g[3] = "value" // a whole condition: shown by its value
			}
			out["cond."+g[2]+"."+g[3]] = m
		case form == "rule" && p == strings.TrimSuffix(rulePrefix, "."):
			out["rule.conditions"] = m // the rule as a whole: over the budget
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
		case strings.HasPrefix(p, "builtins."):
			out["builtins"] = m
		case strings.HasPrefix(p, "webhooks["):
			out["webhooks"] = m
		case strings.HasPrefix(p, "api_paths["):
			out["api_paths"] = m
		case strings.HasPrefix(p, "server_addresses["):
			out["server_addresses"] = m
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
		rv.Errors["test.ip"] = errNotIP
		return
	}
	if t.Path == "" || t.Path[0] != '/' {
		rv.Errors["test.path"] = errPathSlash
		return
	}
	if t.Method == "" {
		t.Method = "GET"
	}
	if h.explain == nil {
		rv.Errors["test.ip"] = errNoTest
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
		errs[path] = errNumber
	}
	return n
}

// onePerLine splits a textarea into its non-empty lines (paths may hold
// commas).
func onePerLine(s string) []string {
	var out []string
	for _, l := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
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
