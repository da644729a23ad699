package engine

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/gaissmai/bart"
	"github.com/palisadehq/palisade/internal/waf"
)

// Engine holds the current snapshot of every website's policy and decides
// requests against it.
type Engine struct {
	cls     *Classifier
	clear   atomic.Pointer[ClearanceChecker]
	geo     atomic.Pointer[GeoIP]
	limiter *limiter
	snap    atomic.Pointer[snapshot]
	now     func() time.Time
	// grantCache is how long a cacheable grant may be reused
	// (cachekey.go), in nanoseconds.
	grantCache atomic.Int64
}

type snapshot struct {
	byKey    map[[32]byte]*Policy
	byDomain map[string]*Policy
	loaded   time.Time
}

// PartnerLists are a partner's allow and deny lists, which apply to all of
// its websites after the website's own.
type PartnerLists struct {
	Allow []string
	Deny  []string
	// Patches are the partner's virtual patches (waf.go); under the key
	// Everyone, the operator's, which apply to every website.
	Patches []waf.Patch
}

// Everyone is the PartnerLists key of what applies to every partner's
// websites: the operator's virtual patches (partner IDs start at 1).
const Everyone int64 = 0

type partnerSets struct{ allow, deny *bart.Lite }

// New returns an engine with no websites. now may be nil (time.Now).
func New(cls *Classifier, now func() time.Time) *Engine {
	if now == nil {
		now = time.Now
	}
	e := &Engine{cls: cls, limiter: newLimiter(), now: now}
	e.grantCache.Store(int64(DefaultGrantCache))
	e.snap.Store(&snapshot{byKey: map[[32]byte]*Policy{}, byDomain: map[string]*Policy{}})
	return e
}

// ClearanceChecker verifies a clearance a client presents.
type ClearanceChecker interface {
	Cleared(websiteID int64, r *Request) bool
}

// SetClearance lets requests with a valid clearance through challenges.
func (e *Engine) SetClearance(c ClearanceChecker) { e.clear.Store(&c) }

// SetGeoIP gives country and ASN conditions their data (nil: none, and
// those conditions never match).
func (e *Engine) SetGeoIP(g *GeoIP) { e.geo.Store(g) }

// GeoIP returns the GeoIP databases in use (nil when none).
func (e *Engine) GeoIP() *GeoIP { return e.geo.Load() }

// Classifier returns the engine's classifier.
func (e *Engine) Classifier() *Classifier { return e.cls }

// LoadError is a website whose stored settings did not compile; it is
// protected with default settings until they are fixed.
type LoadError struct {
	WebsiteID int64
	Err       error
	// Degraded: the settings compiled, but some rules never run (stored
	// before the rule budget and over it on their own, budget.go).
	Degraded bool
}

// Load compiles sites (and partners' lists) into a new snapshot and swaps it
// in. Deleted websites are left out. A site whose settings fail to compile
// gets the defaults, and is reported.
func (e *Engine) Load(sites []Site, partners map[int64]PartnerLists) []LoadError {
	s := &snapshot{byKey: make(map[[32]byte]*Policy, len(sites)), byDomain: make(map[string]*Policy, len(sites)), loaded: e.now()}
	var errs []LoadError
	sets := map[int64]*partnerSets{}
	patchSets := map[int64]*waf.PatchSet{}
	patchSet := func(id int64) *waf.PatchSet {
		ps, done := patchSets[id]
		if done {
			return ps
		}
		if pl := partners[id]; len(pl.Patches) > 0 {
			var err error
			if ps, err = waf.Default.PatchSet(pl.Patches); err != nil {
				// Validated when saved; one that no longer compiles (a
				// newer Coraza) must not take the others down with it.
				owner := fmt.Sprintf("partner %d", id)
				if id == Everyone {
					owner = "the operator"
				}
				errs = append(errs, LoadError{WebsiteID: 0, Err: fmt.Errorf("virtual patches of %s: %w", owner, err)})
				ps = nil
			}
		}
		patchSets[id] = ps
		return ps
	}
	for _, site := range sites {
		if site.Status == "deleted" {
			continue
		}
		p, err := Compile(site)
		if err != nil {
			errs = append(errs, LoadError{WebsiteID: site.ID, Err: err})
			site.Settings = Settings{}
			if p, err = Compile(site); err != nil {
				errs = append(errs, LoadError{WebsiteID: site.ID, Err: err})
				continue
			}
		}
		if len(p.overBudget) > 0 {
			errs = append(errs, LoadError{WebsiteID: site.ID, Degraded: true, Err: fmt.Errorf("rules %q are over the rule budget (%d) on their own and never run; simplify them", p.overBudget, RuleBudget)})
		}
		if !p.noWAF {
			p.patches = [2]*waf.PatchSet{patchSet(Everyone), patchSet(site.PartnerID)}
		}
		if pl, ok := partners[site.PartnerID]; ok {
			ps := sets[site.PartnerID]
			if ps == nil { // one trie per partner, shared by all of its websites
				ps = &partnerSets{allow: prefixSet(pl.Allow), deny: prefixSet(pl.Deny)}
				sets[site.PartnerID] = ps
			}
			p.partner = ps
		}
		s.byKey[p.keyHash] = p
		s.byDomain[p.Domain] = p
	}
	e.snap.Store(s)
	return errs
}

// Len returns how many websites the snapshot holds.
func (e *Engine) Len() int { return len(e.snap.Load().byDomain) }

// ErrUnknownKey is returned for a server key no website has.
var ErrUnknownKey = errors.New("unknown server key")

// ByServerKey finds the policy of the website whose server key this is. The
// key is looked up by its SHA-256 digest and the digest compared in
// constant time.
func (e *Engine) ByServerKey(key string) (*Policy, error) {
	if key == "" {
		return nil, ErrUnknownKey
	}
	var h [32]byte
	if len(key) <= 128 {
		var buf [128]byte // the usual key, hashed without a copy on the heap
		h = sha256.Sum256(append(buf[:0], key...))
	} else {
		h = sha256.Sum256([]byte(key))
	}
	p := e.snap.Load().byKey[h]
	if p == nil || subtle.ConstantTimeCompare(h[:], p.keyHash[:]) != 1 {
		return nil, ErrUnknownKey
	}
	return p, nil
}

// ByDomain finds a website's policy by its Host (any case, port ignored).
func (e *Engine) ByDomain(host string) *Policy {
	return e.snap.Load().byDomain[normalizeHost(host)]
}

// Decide returns the verdict for r on the website p (nil: unknown website,
// which is granted as unprotected).
//
// Order: the website's then the partner's allow and deny lists; custom
// rules in their order; the category (signed agents, verified good bots,
// signatures, header anomalies) and its action; a built-in grant
// (builtin.go) when that action is not grant; for granted traffic other
// than verified search engines, the rate limits. A challenge or captcha from a rule or the category
// becomes a grant when the client carries a valid clearance, and that grant
// still counts against the rate limits; a rate limit's verdict is never
// lifted by a clearance, whatever its action, and a deny never is. Last,
// the website firewall (waf.go: CRS and virtual patches) judges what would
// be served: a grant, or any verdict in monitor mode (verified search
// engines skip it); its deny replaces the grant, and nothing lifts it. A
// request refused otherwise is answered without it. In monitor mode the
// verdict is marked Monitored and the request is to be granted.
func (e *Engine) Decide(p *Policy, r *Request) Verdict {
	if p == nil {
		return Verdict{Action: Grant, Unprotected: true, Reason: "unknown website"}
	}
	v := Verdict{Website: p.WebsiteID, Partner: p.PartnerID, FailClosed: p.failClosed}
	if !p.protected() {
		v.Unprotected = true
		v.Reason = "website " + p.Status
		if p.mode == modeOff {
			v.Reason = "protection off"
		}
		return v
	}
	e.decide(p, r, &v)
	v.Monitored = p.mode == modeMonitor
	return v
}

// Explain says what Decide would answer for r under p, for the rule
// editor's "test a request": it changes no state, so rate limits are not
// consulted (their verdict depends on traffic) and clearances are ignored.
func (e *Engine) Explain(p *Policy, r *Request) Verdict {
	if p == nil {
		return Verdict{Action: Grant, Unprotected: true, Reason: "unknown website"}
	}
	v := Verdict{Website: p.WebsiteID, Partner: p.PartnerID, FailClosed: p.failClosed}
	if !p.protected() {
		v.Unprotected, v.Reason = true, "website "+p.Status
		if p.mode == modeOff {
			v.Reason = "protection off"
		}
		return v
	}
	e.decideLimits(p, r, &v, false)
	v.Monitored = p.mode == modeMonitor
	return v
}

func (e *Engine) decide(p *Policy, r *Request, v *Verdict) { e.decideLimits(p, r, v, true) }

func (e *Engine) decideLimits(p *Policy, r *Request, v *Verdict, limits bool) {
	r.canonical()
	ip := r.IP.Unmap()
	switch {
	case p.allow != nil && p.allow.Lookup(ip):
		v.Action, v.Reason, v.Source = Grant, "allow list", SourceList
		return
	case p.deny != nil && p.deny.Lookup(ip):
		v.Action, v.Reason, v.Source = Deny, "deny list", SourceList
		return
	case p.partner != nil && p.partner.allow != nil && p.partner.allow.Lookup(ip):
		v.Action, v.Reason, v.Source = Grant, "partner allow list", SourceList
		return
	case p.partner != nil && p.partner.deny != nil && p.partner.deny.Lookup(ip):
		v.Action, v.Reason, v.Source = Deny, "partner deny list", SourceList
		return
	}
	if p.geo && r.Country == "" && r.ASN == 0 {
		if g := e.geo.Load(); g != nil {
			r.Country, r.ASN = g.Lookup(ip)
		}
	}
	e.cls.signedAgent(r, limits)
	c, classified := e.decideRest(p, r, v, ip, limits)
	// The website firewall judges only requests that would be served: a
	// grant (from a rule, the category, a built-in, a clearance), or any
	// verdict of a website in monitor mode. A request the engine refuses
	// anyway (deny, challenge, captcha, redirect, fake data) never reaches
	// the application, so CRS's answer could not change what happens to
	// it; a visitor who solves the challenge comes back with a clearance
	// and is judged then. The firewall's deny replaces the grant: no rule,
	// clearance, category or built-in lifts it. Verified index crawlers
	// skip it, not the on-demand fetchers anyone can aim at a URL
	// (docs/WAF.md says why and what that costs).
	if !p.wafApplies() || (v.Action != Grant && p.mode != modeMonitor) {
		return
	}
	if !classified {
		c = e.cls.classify(r)
	}
	if c.verified && c.category == SearchEngines && !c.onDemand {
		return
	}
	if e.checkWAF(p, r, v) {
		// The firewall's verdict is its own, as when it ran first.
		v.Category, v.Location = 0, ""
	}
}

// decideRest decides r after the lists, without the website firewall:
// custom rules in their order, the category and its action, built-in
// grants, clearances and the rate limits. It returns the classification
// when it made one.
func (e *Engine) decideRest(p *Policy, r *Request, v *Verdict, ip netip.Addr, limits bool) (c classification, classified bool) {
	ruled := false
	r.spent = 0
	for _, rl := range p.rules {
		match, evaluated := rl.eval(r)
		if !evaluated && p.failClosed {
			// Not evaluated within the website's rule budget (budget.go):
			// a fail-closed website refuses the request.
			v.Action, v.Reason, v.Source = Deny, ReasonOverBudget, SourceRule
			return
		}
		if match {
			v.Action, v.Reason, v.Location, v.Source = rl.action, rl.name, rl.location, SourceRule
			// A rule's grant skips the limits; its challenge, lifted by a
			// clearance, does not.
			if !limits || !e.cleared(p, r, v) {
				return
			}
			ruled = true
			break
		}
	}
	if !ruled {
		c, classified = e.cls.classify(r), true
		v.Category, v.Detail = c.category, c.detail
		v.Action, v.Reason, v.Source = p.actions[c.category], c.category.String(), SourceCategory
		if v.Action != Grant {
			// Built-in grants (builtin.go) still count against the rate
			// limits. A verified crawler the site denies still gets
			// robots.txt (a search engine's skips the limits, below).
			if name := p.builtinGrant(r, c, e.cls.rdns, limits); name != "" {
				v.Action, v.Reason, v.Source = Grant, name, SourceBuiltin
			}
		}
		// Verified search engines skip the rate limits; other verified
		// owners do not: anyone can rent a monitor's probes (a Datadog
		// API test sends what its customer wants from Datadog's addresses).
		if c.verified && c.category == SearchEngines || !limits || (v.Action != Grant && !e.cleared(p, r, v)) {
			return
		}
	}
	if len(p.limits) == 0 {
		return
	}
	now := e.now().UnixNano()
	for _, rl := range p.limits {
		if !rl.applies(r) {
			continue
		}
		k := limitKey{website: p.WebsiteID, limit: rl.index, addr: rl.keyAddr(ip)}
		if !e.limiter.allow(k, now, rl.interval, rl.tolerance) {
			v.Action, v.Reason, v.Source = rl.action, rl.name, SourceRateLimit
			return
		}
	}
	return
}

// cleared turns a challenge or captcha into a grant when the request
// carries a clearance the challenge issuer accepts, and reports whether it
// did. Only challenged requests pay for the check. The caller still applies
// the rate limits to the grant.
func (e *Engine) cleared(p *Policy, r *Request, v *Verdict) bool {
	if (v.Action != Challenge && v.Action != Captcha) || r.Clearance == "" {
		return false
	}
	c := e.clear.Load()
	if c == nil || !(*c).Cleared(p.WebsiteID, r) {
		return false
	}
	v.Action, v.Detail, v.Reason = Grant, "cleared "+v.Reason, "clearance"
	return true
}

// SweepLimits forgets idle rate-limit state; call it every minute or so.
func (e *Engine) SweepLimits() int { return e.limiter.sweep(e.now().UnixNano()) }

// String describes a verdict for logs.
func (v Verdict) String() string {
	s := fmt.Sprintf("%s (%s", v.Action, v.Reason)
	if v.Detail != "" {
		s += ": " + v.Detail
	}
	if v.Monitored {
		s += ", monitor"
	}
	return s + ")"
}
