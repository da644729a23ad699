package web

import (
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/i18n"
	"github.com/palisadehq/palisade/internal/routes"
)

// The event page's explanation of its decision ("why was this blocked?")
// and its "allow this" (this client, this network, this user agent, this
// path), made by the core (Service.AllowThisOptions, AllowFromEvent); the
// firewall's part and its "this is fine" are in waf.go.

func (h *Handler) registerEventAllow(mux routes.Mux) {
	mux.HandleFunc("POST /{lang}/website/{domain}/events/{id}/allow-this", h.eventAllowThis)
}

// explainView says in words what decided an event.
type explainView struct {
	// Lines are sentences, in order; Conds a custom rule's conditions
	// (all must be true), Expr its advanced condition; Notes follow them.
	Lines []string
	Conds []condView
	Expr  string
	Notes []string
}

// condView is one condition of a rule in words, with its API spelling.
type condView struct{ Text, API string }

// allowView is the event page's "allow this".
type allowView struct {
	// Why, when no option is offered, says why.
	Why     string
	Options []allowOption
	// Done, after a click, says what it did.
	Done string
}

type allowOption struct {
	core.AllowOption
	// Place says where a grant rule goes (empty for an allow-list entry).
	Title, Creates, Place, Says, Button string
}

// label of an action and a category, in l.
func actLabel(l, a string) string { return label(l, "act.", a) }
func catLabel(l, c string) string { return label(l, "catname.", c) }

// quote puts a value in l's quotation marks.
func quote(l, v string) string { return i18n.T(l, "event.quote", map[string]any{"V": v}) }

// condText is one rule condition in words.
func condText(l string, c engine.Condition) condView {
	field := i18n.T(l, "event.field."+c.Field)
	if c.Field == "header" {
		field = i18n.T(l, "event.field.header", map[string]any{"Header": c.Header})
	}
	value := quote(l, c.Value)
	if c.Op == "is_any_of" {
		vs := make([]string, len(c.Values))
		for i, v := range c.Values {
			vs[i] = quote(l, v)
		}
		value = strings.Join(vs, ", ")
	}
	api := c.Field
	if c.Field == "header" {
		api += ":" + c.Header
	}
	return condView{Text: i18n.T(l, "event.cond."+c.Op, map[string]any{"Field": field, "Value": value}), API: api + " " + c.Op}
}

// listEntry is the entry of list that holds ip ("" when none does).
func listEntry(list []string, ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	a = a.Unmap()
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil && p.Contains(a) {
			return s
		}
		if b, err := netip.ParseAddr(s); err == nil && b.Unmap() == a {
			return s
		}
	}
	return ""
}

// explainEvent says what decided ev on website w, whose settings are st
// now: the list, the rule (with its conditions as they read now, or that
// it has been changed or deleted since), the category, the built-in grant,
// the rate limit or the firewall; monitor mode.
func explainEvent(l string, ev core.Event, w core.Website, st engine.Settings) explainView {
	var x explainView
	say := func(id string, data ...map[string]any) { x.Lines = append(x.Lines, i18n.T(l, id, data...)) }
	note := func(id string, data ...map[string]any) { x.Notes = append(x.Notes, i18n.T(l, id, data...)) }
	changedSince := w.UpdatedAt.After(ev.At)
	act := actLabel(l, ev.Action)
	switch ev.Source {
	case engine.SourceList:
		key, list := "", []string(nil)
		switch ev.Reason {
		case "allow list":
			key, list = "event.why.list.allow", st.Allow
		case "deny list":
			key, list = "event.why.list.deny", st.Deny
		case "partner allow list":
			say("event.why.list.partner_allow", map[string]any{"IP": ev.IP})
		case "partner deny list":
			say("event.why.list.partner_deny", map[string]any{"IP": ev.IP})
		default:
			say("event.why.other", map[string]any{"Reason": ev.Reason})
		}
		if key != "" {
			say(key, map[string]any{"IP": ev.IP})
			if e := listEntry(list, ev.IP); e != "" {
				note("event.why.list.entry", map[string]any{"Entry": e})
			} else {
				note("event.why.list.gone")
			}
		}
	case engine.SourceRule:
		if ev.Reason == engine.ReasonOverBudget {
			say("event.why.budget")
			break
		}
		say("event.why.rule", map[string]any{"Name": ev.Reason, "Action": act})
		idx := -1
		for i, r := range st.Rules {
			if r.Name == ev.Reason {
				idx = i
				break
			}
		}
		if idx < 0 {
			note("event.why.rule.deleted", map[string]any{"Name": ev.Reason})
			break
		}
		r := st.Rules[idx]
		say("event.why.rule.all", map[string]any{"N": idx + 1, "Of": len(st.Rules)})
		for _, c := range r.Conditions {
			x.Conds = append(x.Conds, condText(l, c))
		}
		x.Expr = strings.TrimSpace(r.Expression)
		if r.Action != ev.Action {
			note("event.why.rule.nowaction", map[string]any{"Action": actLabel(l, r.Action)})
		}
		if r.Enabled != nil && !*r.Enabled {
			note("event.why.rule.off")
		}
		if changedSince {
			note("event.why.changed", map[string]any{"When": i18n.DateTime(l, w.UpdatedAt)})
		}
	case engine.SourceCategory:
		say("event.why.category", map[string]any{"Category": catLabel(l, ev.Category), "Action": act})
		explainDetail(l, ev, say)
		if ev.Category != "" {
			now := st.Categories[ev.Category]
			if _, ok := engine.ParseCategory(ev.Category); ok && now == "" {
				now = engine.DefaultAction(ev.Category)
			}
			if now != "" && now != ev.Action && ev.Action != "grant" {
				note("event.why.category.now", map[string]any{"Action": actLabel(l, now)})
			}
		}
	case engine.SourceBuiltin:
		say("event.why.builtin", map[string]any{"Category": catLabel(l, ev.Category), "What": label(l, "builtin.", ev.Reason)})
	case engine.SourceRateLimit:
		say("event.why.ratelimit", map[string]any{"Name": ev.Reason, "Action": act})
		found := false
		for _, rl := range st.RateLimits {
			if rl.Name != ev.Reason {
				continue
			}
			found = true
			key := rl.Key
			if key == "" {
				key = "ip"
			}
			say("event.why.ratelimit.def", map[string]any{"Requests": i18n.Number(l, int64(rl.Requests)), "Period": period(l, rl.Period),
				"Key": i18n.T(l, "event.rlkey."+key, map[string]any{"Path": rl.PathPrefix})})
			if rl.Burst > 0 {
				say("event.why.ratelimit.burst", map[string]any{"Burst": i18n.Number(l, int64(rl.Burst))})
			}
			if rl.PathPrefix != "" && key != "ip_path" {
				say("event.why.ratelimit.path", map[string]any{"Path": rl.PathPrefix})
			}
		}
		if !found {
			note("event.why.ratelimit.deleted", map[string]any{"Name": ev.Reason})
		} else if changedSince {
			note("event.why.changed", map[string]any{"When": i18n.DateTime(l, w.UpdatedAt)})
		}
	case engine.SourceWAF:
		if ev.Reason == "virtual patch" {
			say("event.why.patch", map[string]any{"Name": ev.Detail})
		} else {
			class := ""
			score := 0
			if ev.WAF != nil {
				class, score = ev.WAF.Class, ev.WAF.Score
			}
			say("event.why.waf", map[string]any{"Class": label(l, "class.", class), "Score": score})
		}
		say("event.why.waf.after")
	case "challenge":
		if ev.Action == "challenge_solved" {
			say("event.why.solved")
		} else {
			say("event.why.failed", map[string]any{"Detail": ev.Detail})
		}
	case "":
		say("event.why.unprotected")
	default:
		say("event.why.other", map[string]any{"Reason": ev.Reason})
	}
	if ev.Reason == "clearance" {
		// Detail is "cleared <reason>": the category or the rule that
		// would have challenged it.
		what := strings.TrimPrefix(ev.Detail, "cleared ")
		if _, ok := engine.ParseCategory(what); ok {
			what = catLabel(l, what)
		} else {
			what = quote(l, what)
		}
		x.Lines, x.Conds, x.Expr = []string{i18n.T(l, "event.why.clearance", map[string]any{"What": what})}, nil, ""
	}
	if ev.Monitored {
		note("event.why.monitor", map[string]any{"Action": act})
	}
	return x
}

// explainDetail says what the classifier recognised (a category's
// detail): a signed agent, a verified or fake crawler, a signature, or the
// signals of a disguised client.
func explainDetail(l string, ev core.Event, say func(string, ...map[string]any)) {
	d := ev.Detail
	switch {
	case d == "":
	case ev.Category == "signed_agents":
		say("event.why.signed", map[string]any{"Agent": d})
	case strings.HasPrefix(d, "fake "):
		say("event.why.fake", map[string]any{"Name": strings.TrimPrefix(d, "fake ")})
	case strings.HasPrefix(d, "unverified "):
		say("event.why.unverified", map[string]any{"Name": strings.TrimPrefix(d, "unverified ")})
	case core.VerifiableSignature(d):
		say("event.why.verified", map[string]any{"Name": d})
	case d == "no User-Agent":
		say("event.why.noua")
	case d == "unknown client":
		say("event.why.unknownclient")
	case ev.Category == "suspicious_behaviour" || ev.Category == "emulated_humans":
		say("event.why.signals", map[string]any{"Detail": d})
	default:
		say("event.why.signature", map[string]any{"Name": d})
	}
}

// newAllowView is the event page's "allow this" from the core's options.
func newAllowView(l string, at core.AllowThis) allowView {
	var v allowView
	switch at.NotOffered {
	case core.AllowNotRefused:
		v.Why = i18n.T(l, "event.allow.notrefused")
		return v
	case core.AllowFirewall:
		v.Why = i18n.T(l, "event.allow.firewall")
		return v
	}
	switch at.Event.Source {
	case engine.SourceList:
		v.Why = i18n.T(l, "event.allow.listonly")
	case engine.SourceRateLimit:
		v.Why = i18n.T(l, "event.allow.ratelimit")
	}
	for _, o := range at.Options {
		ov := allowOption{AllowOption: o}
		data := map[string]any{"Value": o.Value}
		ov.Title = i18n.T(l, "event.allow."+o.Kind+".title", data)
		ov.Creates = i18n.T(l, "event.allow."+o.Kind+".creates", data)
		ov.Button = i18n.T(l, "event.allow."+o.Kind+".button")
		if o.Rule {
			if o.Before != "" {
				ov.Place = i18n.T(l, "event.allow.place.before", map[string]any{"Name": o.Before})
			} else {
				ov.Place = i18n.T(l, "event.allow.place.after")
			}
		}
		p := o.Preview
		reqs, clients := i18n.N(l, "event.preview.requests", p.Requests), i18n.N(l, "event.preview.clients", p.Clients)
		if p.Capped {
			ov.Says = i18n.T(l, "event.preview.capped", map[string]any{"Requests": reqs, "Clients": clients,
				"Scanned": i18n.Number(l, p.Scanned), "Since": i18n.DateTime(l, p.From)})
		} else {
			ov.Says = i18n.T(l, "event.preview", map[string]any{"Requests": reqs, "Clients": clients, "Days": int(core.AllowWindow / (24 * time.Hour))})
		}
		v.Options = append(v.Options, ov)
	}
	return v
}

// period says a rate limit's period (a Go duration) in l's words.
func period(l, p string) string {
	d, err := time.ParseDuration(p)
	switch {
	case err != nil || d <= 0:
		return p
	case d%time.Hour == 0:
		return i18n.N(l, "event.dur.hours", int64(d/time.Hour))
	case d%time.Minute == 0:
		return i18n.N(l, "event.dur.minutes", int64(d/time.Minute))
	}
	return i18n.N(l, "event.dur.seconds", int64(d/time.Second))
}

// allowRuleName is the name of the grant rule "allow this" adds, in l
// ("" for a choice that adds no rule).
func allowRuleName(l string, id int64, kind string) string {
	if kind != core.AllowUserAgent && kind != core.AllowPath {
		return ""
	}
	return i18n.T(l, "event.allow.rulename."+kind, map[string]any{"ID": strconv.FormatInt(id, 10)})
}

// allowDone says what a click did (the page's ?allowed= and ?added=).
func allowDone(l string, q url.Values) string {
	kind := q.Get("allowed")
	switch kind {
	case core.AllowClient, core.AllowNetwork, core.AllowUserAgent, core.AllowPath:
	default:
		return ""
	}
	if q.Get("added") != "1" {
		return i18n.T(l, "event.allow.done.same")
	}
	return i18n.T(l, "event.allow.done."+kind, map[string]any{"Value": q.Get("value")})
}

// allowProblem says a refused choice in l (the core's reasons, by their
// sentinel); other problems (the settings' own limits) keep the core's
// words.
func allowProblem(l string, err error) error {
	for cause, id := range map[error]string{core.ErrAllowNotRefused: "event.allow.notrefused", core.ErrAllowFirewall: "event.allow.firewall", core.ErrAllowNotOffered: "event.allow.notoffered"} {
		if errors.Is(err, cause) {
			return core.Errorf(core.EINVALID, "%s", i18n.T(l, id))
		}
	}
	return err
}

// eventAllowThis lets what the visitor chose of a refused event through
// from now on (Service.AllowFromEvent: the allow list, or a grant rule
// placed where it lifts only what refused the event), then shows the event again saying what it did. A choice
// the event does not offer, a firewall's or a granted event shows the
// event with the problem; another website's event is not found.
func (h *Handler) eventAllowThis(w http.ResponseWriter, r *http.Request) {
	v, s, _, ok := h.sitePost(w, r, 16<<10)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.fail(w, r, nil, core.Errorf(core.ENOTFOUND, "no such event"))
		return
	}
	kind := r.PostFormValue("kind")
	opt, added, err := h.svc.AllowFromEvent(r.Context(), callerOf(s), v.Site.Domain, id,
		core.AllowChoice{Kind: kind, Value: r.PostFormValue("value"), RuleName: allowRuleName(v.Lang, id, kind)})
	if err != nil {
		if core.ErrorCode(err) == core.EINVALID {
			if ev, everr := h.event(r, s, v); everr == nil {
				h.eventPage(w, r, v, ev, allowProblem(v.Lang, err))
				return
			}
		}
		h.fail(w, r, nil, err)
		return
	}
	q := url.Values{"allowed": {opt.Kind}, "value": {opt.Value}}
	if added {
		q.Set("added", "1")
	}
	http.Redirect(w, r, v.Base+"/events/"+strconv.FormatInt(id, 10)+"?"+q.Encode()+"#allow-this", http.StatusSeeOther)
}
