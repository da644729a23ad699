package core

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/palisadehq/palisade/internal/engine"
)

// "Allow this": from a refused event (denied or challenged), let the same
// client, its network, its user agent or its path through from now on.
// The client and the network go into the website's allow list (tried
// before anything else, the firewall and the rate limits included); the
// user agent and the path become a grant rule placed where it lifts only
// what refused the event (grantPlace): just before the custom rule that
// refused it, or after all of the website's own rules when a category
// refused it, so the site's own deny rules still apply. A rate limit's
// refusal offers only the client and its network (a grant rule would lift
// the limit for everyone), and the user agent is offered only where it is
// what the site refused (uaRefused), never for a crawler impostor.
// Before the click, a preview says what else the choice would have let
// through: among the website's latest AllowScan refused events of the
// last AllowWindow, those it matches (compared as the engine compares
// them: the canonical path, the user agent ignoring case).

// AllowWindow is how far back the preview of "allow this" looks.
const AllowWindow = 30 * 24 * time.Hour

// AllowExamples is how many example events a preview lists.
const AllowExamples = 5

// AllowScan is how many of the latest refused events of the window the
// previews read (one query for all the options); past it the previews
// say "among the last AllowScan refused requests".
const AllowScan = 20000

// allowScanRows bounds the events (refused or not) of the window the
// previews' query reads to find AllowScan refused ones; past it the
// previews cover fewer (AllowPreview.Scanned, Capped).
const allowScanRows = 4 * AllowScan

// UserAgentMax is how many bytes of a user agent an event keeps
// (internal/events cuts it there, at a rune boundary, so a cut agent is
// up to utf8.UTFMax-1 bytes shorter). A stored agent that long may be cut:
// a rule "user agent is <it>" could never match, so it is not offered.
const UserAgentMax = 512

// eventPathMax is how many bytes of a path an event keeps
// (internal/events); a path that long may be cut and offers no prefix.
const eventPathMax = 2048

// What "allow this" can let through (AllowOption.Kind).
const (
	AllowClient    = "client"     // the client's address, in the allow list
	AllowNetwork   = "network"    // its /24 (IPv4) or /64 (IPv6), in the allow list
	AllowUserAgent = "user_agent" // a grant rule (grantPlace): the user agent is exactly this one
	AllowPath      = "path"       // a grant rule (grantPlace): the canonical path starts with this
)

// Why an event offers no "allow this" (AllowThis.NotOffered).
const (
	AllowNotRefused = "not_refused" // it was granted, or is a challenge's outcome
	AllowFirewall   = "firewall"    // the website firewall refused it: an exclusion, not an allow entry
)

// Why AllowFromEvent refuses a choice (the Cause of its EINVALID error),
// for adapters that say it in their own words.
var (
	ErrAllowNotRefused = errors.New("the event was not refused")
	ErrAllowFirewall   = errors.New("the website firewall refused the event")
	ErrAllowNotOffered = errors.New("the event does not offer this choice")
)

// AllowThisTx is the store's part of "allow this" (embedded in Tx).
type AllowThisTx interface {
	// LatestRefused lists a website's refused events (neither granted nor
	// a challenge's outcome) in [from, to), newest first, at most limit,
	// reading at most maxRows events of the window (refused or not, newest
	// first) to find them. Only ID, At, IP, Path, UserAgent, Action,
	// Category, Source and Reason are filled. capped: the window may hold
	// more refused events than were read.
	LatestRefused(ctx context.Context, partnerID, websiteID int64, from, to time.Time, limit, maxRows int) (es []Event, capped bool, err error)
}

// AllowOption is one thing "allow this" can do for an event.
type AllowOption struct {
	Kind string `json:"kind"`
	// Value is the address, the network (CIDR), the user agent or the path
	// prefix let through. A path is in the engine's canonical form
	// (engine.CanonicalPath), which it is its own canonical form of: the
	// rule compiles to exactly this value.
	Value string `json:"value"`
	// Rule: it makes a grant rule; else an entry of the website's allow
	// list (which also lifts every rate limit).
	Rule bool `json:"rule"`
	// Position is where a grant rule goes among the custom rules (0 is
	// first); Before names the rule it goes just before ("" when it goes
	// after all of them, RulesBefore being their number).
	Position int    `json:"position,omitempty"`
	Before   string `json:"before,omitempty"`
	// Exists: the settings have it already; allowing adds nothing.
	Exists  bool         `json:"exists"`
	Preview AllowPreview `json:"preview"`
}

// AllowPreview is what an option would have let through: among the
// website's latest refused requests in [From, To) (at most AllowScan),
// those that match it and that it would have lifted.
type AllowPreview struct {
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Requests int64     `json:"requests"`
	Clients  int64     `json:"clients"`
	// Scanned is how many refused requests were read; Capped: the window
	// may hold more (older) ones, not counted.
	Scanned  int64   `json:"scanned"`
	Capped   bool    `json:"capped,omitempty"`
	Examples []Event `json:"examples"`
}

// AllowThis is what "allow this" offers for one event.
type AllowThis struct {
	Event Event `json:"event"`
	// Rules is how many custom rules the website has (a grant rule that
	// goes after all of them says so).
	Rules int `json:"rules"`
	// NotOffered says why Options is empty (AllowNotRefused,
	// AllowFirewall); "" when options are offered.
	NotOffered string        `json:"not_offered,omitempty"`
	Options    []AllowOption `json:"options"`
}

// Option returns the offered option of kind (and, for a path, value).
func (a AllowThis) Option(kind, value string) (AllowOption, bool) {
	for _, o := range a.Options {
		if o.Kind == kind && (kind != AllowPath || o.Value == value) {
			return o, true
		}
	}
	return AllowOption{}, false
}

// AllowChoice is what the caller chose: an option's kind, for a path the
// prefix (one of the options' values), and the name a grant rule gets
// ("" for a name made from the event's ID; the adapter may give one in the
// caller's language).
type AllowChoice struct {
	Kind     string
	Value    string
	RuleName string
}

// refusable reports whether "allow this" applies to the event, and why not.
func refusable(ev Event) string {
	switch {
	case ev.Action == "grant" || ev.Action == "" || strings.HasPrefix(ev.Action, "challenge_") || ev.Source == "challenge":
		return AllowNotRefused
	case ev.Source == engine.SourceWAF:
		return AllowFirewall
	}
	return ""
}

// Network is the network "allow this" offers for a client address: its
// /24 for IPv4, its /64 for IPv6.
func Network(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 64
	if a.Is4() {
		bits = 24
	}
	p, _ := a.Prefix(bits)
	return p
}

// PathPrefixes are the path prefixes "allow this" offers for a path (as
// the client sent it): its canonical form (engine.CanonicalPath, the form
// rules compare), then its parent folders, nearest first, at most three in
// all. Each is a fixed point of CanonicalPath, so the grant rule made of
// it compiles to exactly the prefix shown (a double-encoded "/%252f/" is
// "/%2f/" to the engine, which a rule value would canonicalise again to
// "/": such a spelling is never offered, only its parents that are). Never
// "/" nor anything shorter (every path), never a prefix with control
// characters or invalid UTF-8 (which the settings could not keep as is).
func PathPrefixes(path string) []string {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	if path == "" || path[0] != '/' {
		return nil
	}
	p := engine.CanonicalPath(path)
	var out []string
	if offerablePath(p) {
		out = append(out, p)
	}
	for dir := strings.TrimSuffix(p, "/"); len(out) < 3; {
		i := strings.LastIndexByte(dir, '/')
		if i <= 0 {
			break
		}
		dir = dir[:i]
		if d := dir + "/"; d != p && offerablePath(d) {
			out = append(out, d)
		}
	}
	return out
}

// offerablePath: p may become a grant rule's "path starts with p": it
// compiles to itself, it is longer than "/", and it holds only printable
// UTF-8.
func offerablePath(p string) bool {
	if len(p) < 2 || p[0] != '/' || engine.CanonicalPath(p) != p || !utf8.ValidString(p) {
		return false
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// grantPlace is where a grant rule made from ev goes among st's rules, and
// the name of the rule it goes before ("" after all of them): just before
// the custom rule that refused the event (the rules before it still
// apply), or after all of the website's own rules when a category (or
// anything after the rules) refused it, so that every rule of the site's
// own still applies.
func grantPlace(ev Event, st engine.Settings) (int, string) {
	if ev.Source == engine.SourceRule && ev.Reason != engine.ReasonOverBudget {
		for i, r := range st.Rules {
			if r.Name == ev.Reason {
				return i, r.Name
			}
		}
	}
	return len(st.Rules), ""
}

var (
	sigOnce    sync.Once
	verifiable map[string]bool // signatures whose owner publishes addresses or reverse-DNS names
)

// VerifiableSignature says whether name is a signature whose claim the
// classifier checks against its owner's addresses or reverse DNS: its user
// agent alone is not its identity, and an event naming it without
// "fake"/"unverified" came from a verified crawler.
func VerifiableSignature(name string) bool {
	sigOnce.Do(func() {
		verifiable = map[string]bool{}
		sigs, err := engine.LoadSignatures()
		if err != nil {
			return
		}
		for _, s := range sigs {
			if s.Ranges != "" || len(s.RDNS) > 0 {
				verifiable[s.Name] = true
			}
		}
	})
	return verifiable[name]
}

// uaRefused reports whether the user agent itself is what refused ev, so
// that "allow this user agent" lifts what the site chose to refuse and
// nothing else:
//   - a custom rule with a condition on the user agent (or an advanced
//     condition reading it) refused it;
//   - a category refused it for a signature its user agent names alone
//     (automation tools, scrapers, AI crawlers and the like without
//     published addresses; an "unknown client").
//
// Never for an impostor or an unchecked claim ("fake"/"unverified" crawler,
// emulated humans), a crawler whose owner is verified by address (its user
// agent is what every spoofer sends), suspicious behaviour (the signals,
// not the agent), a signed agent (the signature, not the agent), a rate
// limit, a list, or a user agent the event may have cut (UserAgentMax).
func uaRefused(ev Event, st engine.Settings) bool {
	if ev.UserAgent == "" || len(ev.UserAgent) > UserAgentMax-utf8.UTFMax {
		return false
	}
	switch ev.Source {
	case engine.SourceRule:
		for _, r := range st.Rules {
			if r.Name != ev.Reason {
				continue
			}
			for _, c := range r.Conditions {
				if c.Field == "user_agent" {
					return true
				}
			}
			return strings.Contains(r.Expression, "user_agent")
		}
		return false
	case engine.SourceCategory:
		switch ev.Category {
		case "automation_tools", "ai_crawlers", "content_scrapers", "security_issues", "search_engines", "social_networks", "services_and_payments":
		default:
			return false
		}
		d := ev.Detail
		return !strings.HasPrefix(d, "fake ") && !strings.HasPrefix(d, "unverified ") && d != "no User-Agent" && !VerifiableSignature(d)
	}
	return false
}

// allowOptions are the options for ev (refusable), without previews.
func allowOptions(ev Event, st engine.Settings) []AllowOption {
	var out []AllowOption
	if a, err := netip.ParseAddr(ev.IP); err == nil {
		a = a.Unmap()
		out = append(out,
			AllowOption{Kind: AllowClient, Value: a.String(), Exists: allowListed(st, netip.PrefixFrom(a, a.BitLen()))},
			AllowOption{Kind: AllowNetwork, Value: Network(a).String(), Exists: allowListed(st, Network(a))})
	}
	// A grant rule comes after the lists: it does not lift their deny. It
	// skips every rate limit: for a rate limit's refusal only the client
	// (or its network) may be let through, not everyone on its path. Past
	// the rule budget no rule is evaluated in order.
	if ev.Source == engine.SourceList || ev.Source == engine.SourceRateLimit || (ev.Source == engine.SourceRule && ev.Reason == engine.ReasonOverBudget) {
		return out
	}
	pos, before := grantPlace(ev, st)
	if uaRefused(ev, st) {
		out = append(out, AllowOption{Kind: AllowUserAgent, Value: ev.UserAgent, Rule: true, Position: pos, Before: before,
			Exists: hasGrantRule(st, "user_agent", "is", ev.UserAgent, pos) >= 0})
	}
	if len(ev.Path) < eventPathMax-utf8.UTFMax {
		for _, p := range PathPrefixes(ev.Path) {
			out = append(out, AllowOption{Kind: AllowPath, Value: p, Rule: true, Position: pos, Before: before,
				Exists: hasGrantRule(st, "path", "starts_with", p, pos) >= 0})
		}
	}
	return out
}

// allowListed: the website's allow list lets all of p through already.
func allowListed(st engine.Settings, p netip.Prefix) bool {
	for _, s := range st.Allow {
		have, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				continue
			}
			have = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		if have.Bits() <= p.Bits() && have.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// hasGrantRule is the index of an enabled grant rule among st's first n
// rules of just the one condition field op value (a path's compiled as
// the engine does), or -1.
func hasGrantRule(st engine.Settings, field, op, value string, n int) int {
	for i, r := range st.Rules {
		if i >= n {
			break
		}
		if r.Action != "grant" || (r.Enabled != nil && !*r.Enabled) || strings.TrimSpace(r.Expression) != "" || len(r.Conditions) != 1 {
			continue
		}
		c := r.Conditions[0]
		if c.Field != field || c.Op != op {
			continue
		}
		if c.Value == value || (field == "user_agent" && strings.EqualFold(c.Value, value)) || (field == "path" && (strings.HasPrefix(c.Value, "/") || strings.HasPrefix(c.Value, "%")) && engine.CanonicalPath(c.Value) == value) {
			return i
		}
	}
	return -1
}

// allowEvent loads one event of website w; another website's is not found.
func allowEvent(ctx context.Context, tx Tx, w Website, id int64) (Event, error) {
	if id <= 0 {
		return Event{}, Errorf(ENOTFOUND, "no such event")
	}
	es, err := tx.Events(ctx, w.PartnerID, w.ID, EventFilter{ID: id, Limit: 1})
	if err != nil {
		return Event{}, err
	}
	if len(es) == 0 {
		return Event{}, Errorf(ENOTFOUND, "no such event")
	}
	return es[0], nil
}

// AllowThisOptions says what "allow this" offers for one of a website's
// events, each option with its preview. Only the website's partner and
// the customer that owns it may ask (another's website, or another
// website's event, is not_found). The previews cost one query, bounded
// (AllowScan refused events, allowScanRows events read), whatever the
// number of options and of events in the window.
func (s *Service) AllowThisOptions(ctx context.Context, c Caller, domain string, eventID int64) (AllowThis, error) {
	w, err := s.OwnedWebsite(ctx, c, domain)
	if err != nil {
		return AllowThis{}, err
	}
	st, err := engine.ParseSettings(w.Settings)
	if err != nil {
		return AllowThis{}, err
	}
	now := s.clock()
	from, to := now.Add(-AllowWindow), now.Add(time.Minute)
	var out AllowThis
	err = s.store.View(ctx, func(tx Tx) error {
		ev, err := allowEvent(ctx, tx, w, eventID)
		if err != nil {
			return err
		}
		out = AllowThis{Event: ev, NotOffered: refusable(ev), Options: []AllowOption{}, Rules: len(st.Rules)}
		if out.NotOffered != "" {
			return nil
		}
		out.Options = allowOptions(ev, st)
		if len(out.Options) == 0 {
			return nil
		}
		es, capped, err := tx.LatestRefused(ctx, w.PartnerID, w.ID, from, to, AllowScan, allowScanRows)
		if err != nil {
			return err
		}
		allowPreviews(out.Options, es, capped, st, from, to)
		return nil
	})
	return out, err
}

// allowPreviews fills each option's preview from es, the website's latest
// refused events of [from, to), newest first: those the option matches
// as the engine would (the address in the network; the user agent
// ignoring case; the canonical path starting with the prefix) and that it
// would have lifted (a grant rule lifts neither a list's nor the
// firewall's deny, nor a rule placed before it).
func allowPreviews(opts []AllowOption, es []Event, capped bool, st engine.Settings, from, to time.Time) {
	if capped && len(es) > 0 {
		from = es[len(es)-1].At
	}
	addrs := make([]netip.Addr, len(es))
	paths := make([]string, len(es))
	ruleAt := map[string]int{}
	for i, r := range st.Rules {
		if _, ok := ruleAt[r.Name]; !ok {
			ruleAt[r.Name] = i
		}
	}
	var scanned int64
	for i, e := range es {
		scanned += e.Requests()
		if a, err := netip.ParseAddr(e.IP); err == nil {
			addrs[i] = a.Unmap()
		}
		paths[i] = engine.CanonicalPath(e.Path)
	}
	for k := range opts {
		o := &opts[k]
		pv := AllowPreview{From: from, To: to, Scanned: scanned, Capped: capped, Examples: []Event{}}
		var match func(i int) bool
		switch o.Kind {
		case AllowClient:
			a, _ := netip.ParseAddr(o.Value)
			match = func(i int) bool { return addrs[i] == a }
		case AllowNetwork:
			n, _ := netip.ParsePrefix(o.Value)
			match = func(i int) bool { return addrs[i].IsValid() && n.Contains(addrs[i]) }
		case AllowUserAgent:
			match = func(i int) bool { return strings.EqualFold(es[i].UserAgent, o.Value) }
		case AllowPath:
			match = func(i int) bool { return strings.HasPrefix(paths[i], o.Value) }
		default:
			match = func(int) bool { return false }
		}
		clients := map[netip.Addr]bool{}
		for i, e := range es {
			if !match(i) {
				continue
			}
			if o.Rule {
				if e.Source == engine.SourceList || e.Source == engine.SourceWAF || e.Source == "challenge" {
					continue
				}
				if e.Source == engine.SourceRule {
					if at, ok := ruleAt[e.Reason]; e.Reason == engine.ReasonOverBudget || ok && at < o.Position {
						continue
					}
				}
			}
			// An event stands for its identical repeats (Event.Count):
			// same client, user agent and reason, so they match a client,
			// network or user-agent option as it does. Their paths are not
			// kept (only the first request's), so a path option counts
			// the first request alone.
			if o.Kind == AllowPath {
				pv.Requests++
			} else {
				pv.Requests += e.Requests()
			}
			clients[addrs[i]] = true
			if len(pv.Examples) < AllowExamples {
				pv.Examples = append(pv.Examples, e)
			}
		}
		pv.Clients = int64(len(clients))
		o.Preview = pv
	}
}

// AllowFromEvent lets what the caller chose of a refused event through
// from now on: the client or its network into the website's allow list,
// or a grant rule on its user agent or path placed where it lifts only
// what refused the event (grantPlace). It edits the settings under the website's row lock (no version
// needed: it adds one entry) and adds nothing when the settings have the
// entry already; added says whether it added one. Only the website's
// partner and the customer that owns it may (another's website, or another
// website's event, is not_found); an event that was not refused, a
// firewall's (whose deny only an exclusion lifts) or a choice the event
// does not offer is invalid.
func (s *Service) AllowFromEvent(ctx context.Context, c Caller, domain string, eventID int64, ch AllowChoice) (opt AllowOption, added bool, err error) {
	w, err := s.OwnedWebsite(ctx, c, domain)
	if err != nil {
		return AllowOption{}, false, err
	}
	var ev Event
	if err := s.store.View(ctx, func(tx Tx) error {
		ev, err = allowEvent(ctx, tx, w, eventID)
		return err
	}); err != nil {
		return AllowOption{}, false, err
	}
	switch refusable(ev) {
	case AllowNotRefused:
		return AllowOption{}, false, &Error{Code: EINVALID, Field: "event", Cause: ErrAllowNotRefused,
			Message: "this request was not refused: there is nothing to allow"}
	case AllowFirewall:
		return AllowOption{}, false, &Error{Code: EINVALID, Field: "event", Cause: ErrAllowFirewall,
			Message: "the website firewall refused this request, and nothing after the firewall lifts its deny: allow the match with an exclusion (\"this is fine\") instead"}
	}
	_, _, err = s.EditWebsiteSettings(ctx, c, w.Domain, Match{}, func(st *engine.Settings) error {
		added = false
		var ok bool
		opt, ok = AllowThis{Options: allowOptions(ev, *st)}.Option(ch.Kind, ch.Value)
		if !ok {
			return &Error{Code: EINVALID, Field: "kind", Cause: ErrAllowNotOffered,
				Message: fmt.Sprintf("this event offers no %s %q to allow", ch.Kind, ch.Value)}
		}
		if opt.Exists {
			return nil
		}
		added = true
		if !opt.Rule {
			st.Allow = append(append([]string(nil), st.Allow...), opt.Value)
			return nil
		}
		field, op := "path", "starts_with"
		if opt.Kind == AllowUserAgent {
			field, op = "user_agent", "is"
		}
		r := engine.Rule{Name: ruleName(*st, ch.RuleName, ev.ID, opt.Kind), Action: "grant",
			Conditions: []engine.Condition{{Field: field, Op: op, Value: opt.Value}}}
		pos := opt.Position
		if pos < 0 || pos > len(st.Rules) {
			pos = len(st.Rules)
		}
		if opt.Kind == AllowPath && (engine.CanonicalPath(opt.Value) != opt.Value || len(opt.Value) < 2) {
			// Never reached (PathPrefixes offers only such values): a rule
			// that would compile to another, shorter prefix is refused.
			return &Error{Code: EINVALID, Field: "value", Cause: ErrAllowNotOffered,
				Message: fmt.Sprintf("the path %q cannot be allowed as written", opt.Value)}
		}
		st.Rules = slices.Insert(append([]engine.Rule(nil), st.Rules...), pos, r)
		return nil
	})
	if err != nil {
		return AllowOption{}, false, err
	}
	opt.Exists = true
	return opt, added, nil
}

// ruleName is a name for the grant rule "allow this" adds that no rule of
// st has (names are compared ignoring case): want, or one made from the
// event, with a number added while it is taken.
func ruleName(st engine.Settings, want string, eventID int64, kind string) string {
	want = strings.TrimSpace(want)
	if want == "" {
		what := "path"
		if kind == AllowUserAgent {
			what = "user agent"
		}
		want = "Allowed from event " + strconv.FormatInt(eventID, 10) + " (" + what + ")"
	}
	if len(want) > 90 {
		want = strings.ToValidUTF8(want[:90], "")
	}
	taken := map[string]bool{}
	for _, r := range st.Rules {
		taken[strings.ToLower(r.Name)] = true
	}
	name := want
	for i := 2; taken[strings.ToLower(name)] && i < 1000; i++ {
		name = want + " " + strconv.Itoa(i)
	}
	return name
}
