package core

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
)

// "Allow this": from a refused event (denied or challenged), let the same
// client, its network, its user agent or its path through from now on.
// The client and the network go into the website's allow list (tried
// before anything else, the firewall included); the user agent and the
// path become a grant rule placed first among the custom rules (after the
// lists and the firewall, which a rule does not lift). Before the click,
// a preview says what else the choice would have let through: the
// website's refused events of the last AllowWindow that match it.

// AllowWindow is how far back the preview of "allow this" looks.
const AllowWindow = 30 * 24 * time.Hour

// AllowExamples is how many example events a preview lists.
const AllowExamples = 5

// allowMaxClients bounds the clients a network's preview counts one by
// one; past it the counts are a lower bound (AllowPreview.AtLeast).
const allowMaxClients = 10000

// What "allow this" can let through (AllowOption.Kind).
const (
	AllowClient    = "client"     // the client's address, in the allow list
	AllowNetwork   = "network"    // its /24 (IPv4) or /64 (IPv6), in the allow list
	AllowUserAgent = "user_agent" // a grant rule, first: the user agent is exactly this one
	AllowPath      = "path"       // a grant rule, first: the path starts with this
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

// AllowThisTx is the store's part of "allow this" (embedded in Tx): a
// website's refused events (neither granted nor a challenge's outcome) in
// [from, to) matching a RefusedFilter.
type AllowThisTx interface {
	// RefusedCount counts them, and the distinct client addresses among
	// them.
	RefusedCount(ctx context.Context, partnerID, websiteID int64, f RefusedFilter, from, to time.Time) (requests, clients int64, err error)
	// RefusedByIP counts them by client address, the most frequent first,
	// at most limit addresses.
	RefusedByIP(ctx context.Context, partnerID, websiteID int64, f RefusedFilter, from, to time.Time, limit int) ([]TopRow, error)
	// RefusedEvents lists them, newest first (by time), at most limit.
	RefusedEvents(ctx context.Context, partnerID, websiteID int64, f RefusedFilter, from, to time.Time, limit int) ([]Event, error)
}

// RefusedFilter narrows AllowThisTx's queries; zero fields do not filter.
type RefusedFilter struct {
	IP string // the client address, exactly
	// IPPrefix: the client address's text starts with it (a network's
	// candidates; the caller checks each address).
	IPPrefix   string
	UserAgent  string // exactly, ignoring case (as a rule's "is")
	PathPrefix string
	// RuleCanLift leaves out what the lists and the website firewall
	// refused, which a grant rule does not lift.
	RuleCanLift bool
}

// AllowOption is one thing "allow this" can do for an event.
type AllowOption struct {
	Kind string `json:"kind"`
	// Value is the address, the network (CIDR), the user agent or the path
	// prefix let through.
	Value string `json:"value"`
	// Rule: it makes a grant rule (first in the order); else an entry of
	// the website's allow list.
	Rule bool `json:"rule"`
	// Exists: the settings have it already; allowing adds nothing.
	Exists  bool         `json:"exists"`
	Preview AllowPreview `json:"preview"`
}

// AllowPreview is what an option would have let through: the website's
// refused requests in [From, To) that match it, this event's included.
type AllowPreview struct {
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Requests int64     `json:"requests"`
	Clients  int64     `json:"clients"`
	// AtLeast: more clients than were counted one by one; the counts are
	// a lower bound.
	AtLeast  bool    `json:"at_least,omitempty"`
	Examples []Event `json:"examples"`
}

// AllowThis is what "allow this" offers for one event.
type AllowThis struct {
	Event Event `json:"event"`
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

// PathPrefixes are the path prefixes "allow this" offers for a path: the
// path itself, then its parent folders, nearest first, at most three in
// all; never "/" (which would be every path).
func PathPrefixes(path string) []string {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	if path == "" || path[0] != '/' {
		return nil
	}
	p := engine.CanonicalPath(path)
	var out []string
	if p != "/" {
		out = append(out, p)
	}
	for dir := strings.TrimSuffix(p, "/"); len(out) < 3; {
		i := strings.LastIndexByte(dir, '/')
		if i <= 0 {
			break
		}
		dir = dir[:i]
		if d := dir + "/"; d != p {
			out = append(out, d)
		}
	}
	return out
}

// ipPrefixText is the text every address of network n starts with, as
// the store keeps addresses (netip's canonical form), or a shorter text
// that still does (the caller then checks each address): an IPv6 network
// with a zero group in its first four is written with "::" in varying
// places.
func ipPrefixText(n netip.Prefix) string {
	a := n.Addr()
	if a.Is4() {
		s := a.String()
		return s[:strings.LastIndexByte(s, '.')+1]
	}
	b := a.As16()
	var groups []string
	for i := 0; i < 4; i++ {
		g := uint16(b[2*i])<<8 | uint16(b[2*i+1])
		if g == 0 {
			break
		}
		groups = append(groups, strconv.FormatUint(uint64(g), 16))
	}
	if len(groups) == 0 {
		return ""
	}
	return strings.Join(groups, ":") + ":"
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
	// A grant rule comes after the lists: it does not lift their deny.
	if ev.Source == engine.SourceList {
		return out
	}
	if ev.UserAgent != "" {
		out = append(out, AllowOption{Kind: AllowUserAgent, Value: ev.UserAgent, Rule: true, Exists: hasGrantRule(st, "user_agent", "is", ev.UserAgent) >= 0})
	}
	for _, p := range PathPrefixes(ev.Path) {
		out = append(out, AllowOption{Kind: AllowPath, Value: p, Rule: true, Exists: hasGrantRule(st, "path", "starts_with", p) >= 0})
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

// hasGrantRule is the index of an enabled grant rule of just the one
// condition field op value, or -1.
func hasGrantRule(st engine.Settings, field, op, value string) int {
	for i, r := range st.Rules {
		if r.Action != "grant" || (r.Enabled != nil && !*r.Enabled) || strings.TrimSpace(r.Expression) != "" || len(r.Conditions) != 1 {
			continue
		}
		c := r.Conditions[0]
		if c.Field != field || c.Op != op {
			continue
		}
		if c.Value == value || (field == "user_agent" && strings.EqualFold(c.Value, value)) {
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
// website's event, is not_found).
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
		out = AllowThis{Event: ev, NotOffered: refusable(ev), Options: []AllowOption{}}
		if out.NotOffered != "" {
			return nil
		}
		out.Options = allowOptions(ev, st)
		for i := range out.Options {
			if out.Options[i].Preview, err = allowPreview(ctx, tx, w, out.Options[i], from, to); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// allowPreview counts what option o would have let through in [from, to).
func allowPreview(ctx context.Context, tx Tx, w Website, o AllowOption, from, to time.Time) (AllowPreview, error) {
	pv := AllowPreview{From: from, To: to, Examples: []Event{}}
	f := RefusedFilter{RuleCanLift: o.Rule}
	var network netip.Prefix
	switch o.Kind {
	case AllowClient:
		f.IP = o.Value
	case AllowNetwork:
		network = netip.MustParsePrefix(o.Value)
		f.IPPrefix = ipPrefixText(network)
	case AllowUserAgent:
		f.UserAgent = o.Value
	case AllowPath:
		f.PathPrefix = o.Value
	}
	var err error
	if !network.IsValid() {
		pv.Requests, pv.Clients, err = tx.RefusedCount(ctx, w.PartnerID, w.ID, f, from, to)
		if err != nil {
			return pv, err
		}
		ex, err := tx.RefusedEvents(ctx, w.PartnerID, w.ID, f, from, to, AllowExamples)
		if err != nil {
			return pv, err
		}
		pv.Examples = append(pv.Examples, ex...)
		return pv, nil
	}
	in := func(ip string) bool {
		a, err := netip.ParseAddr(ip)
		return err == nil && network.Contains(a.Unmap())
	}
	rows, err := tx.RefusedByIP(ctx, w.PartnerID, w.ID, f, from, to, allowMaxClients)
	if err != nil {
		return pv, err
	}
	pv.AtLeast = len(rows) == allowMaxClients
	for _, r := range rows {
		if in(r.Value) {
			pv.Requests += r.Count
			pv.Clients++
		}
	}
	// Candidates newest first, those in the network kept; a text prefix
	// shorter than the network's reads a bounded number of them.
	ex, err := tx.RefusedEvents(ctx, w.PartnerID, w.ID, f, from, to, 50*AllowExamples)
	if err != nil {
		return pv, err
	}
	for _, e := range ex {
		if in(e.IP) && len(pv.Examples) < AllowExamples {
			pv.Examples = append(pv.Examples, e)
		}
	}
	return pv, nil
}

// AllowFromEvent lets what the caller chose of a refused event through
// from now on: the client or its network into the website's allow list,
// or a grant rule on its user agent or path placed first among the custom
// rules. It edits the settings under the website's row lock (no version
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
		st.Rules = append([]engine.Rule{r}, st.Rules...)
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
