package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/gaissmai/bart"
	"github.com/palisadehq/palisade/internal/waf"
)

type mode uint8

const (
	modeProtect mode = iota
	modeMonitor
	modeOff
)

// Site is what the engine needs to know of a website to protect it.
type Site struct {
	ID            int64
	PartnerID     int64
	Domain        string
	Status        string // setup, online, paused, deleted
	ServerKeyHash string // hex SHA-256 of the server key
	Settings      Settings
	Brand         string // the partner's name, shown on challenge and deny pages
	BrandLogo     string // an https URL of the partner's logo, or ""
	BrandColor    string // the partner's #rrggbb colour, or ""
	PoweredBy     bool   // the partner shows "Powered by Palisade" on these pages
	Lang          string // the partner's default language, for visitors whose browser names none we speak
	// NoWAF: the website's plan does not include the website firewall
	// (plans.waf), whatever its settings say.
	NoWAF bool
}

// Policy is a website's compiled, immutable settings.
type Policy struct {
	WebsiteID  int64
	Brand      string
	BrandLogo  string
	BrandColor string
	PoweredBy  bool
	Lang       string
	PartnerID  int64
	Domain     string
	Status     string
	mode       mode
	failClosed bool
	actions    [numCategories]Action
	rules      []*rule
	limits     []*rateLimit
	allow      *bart.Lite // nil when empty
	deny       *bart.Lite
	keyHash    [32]byte
	geo        bool // a rule reads country or asn
	difficulty int
	lifetime   time.Duration
	nojsDelay  int
	partner    *partnerSets
	overBudget []string // rules whose expression alone exceeds RuleBudget: never run
	builtinsOn uint16   // bit i: builtins[i] is on (builtin.go)
	webhooks   []webhook
	apiPaths   []string
	servers    *bart.Lite // the site's own server addresses (nil when none)
	waf        *wafPolicy // nil: the site's firewall is off (waf.go)
	noWAF      bool       // the plan has no firewall: not even virtual patches
	// patches are the operator's and the partner's virtual patches, set
	// by Load.
	patches [2]*waf.PatchSet
	// cacheable: grants may be cached (cachekey.go); cacheBlock says
	// why not.
	cacheable  bool
	cacheBlock string
}

// FailClosed reports whether web servers should refuse requests for this
// website when Palisade is unreachable.
func (p *Policy) FailClosed() bool { return p.failClosed }

// ChallengeDifficulty, ClearanceLifetime and NoJSDelay are the website's
// challenge settings, with defaults applied (0 delay: JavaScript required).
func (p *Policy) ChallengeDifficulty() int { return p.difficulty }

// ClearanceLifetime is how long a solved challenge clears a browser.
func (p *Policy) ClearanceLifetime() time.Duration { return p.lifetime }

// NoJSDelay is the meta-refresh delay for browsers without JavaScript (0: none allowed).
func (p *Policy) NoJSDelay() int { return p.nojsDelay }

// Compile validates settings and compiles a site into a policy.
func Compile(s Site) (*Policy, error) {
	if err := s.Settings.validate(false); err != nil {
		return nil, err
	}
	p := &Policy{WebsiteID: s.ID, PartnerID: s.PartnerID, Domain: s.Domain, Status: s.Status, Brand: s.Brand, BrandLogo: s.BrandLogo, BrandColor: s.BrandColor, PoweredBy: s.PoweredBy, Lang: s.Lang, actions: defaultActions}
	switch s.Settings.Mode {
	case "monitor":
		p.mode = modeMonitor
	case "off":
		p.mode = modeOff
	}
	p.failClosed = s.Settings.FailMode == "closed"
	p.difficulty = s.Settings.Challenge.Difficulty
	if p.difficulty == 0 {
		p.difficulty = 16
	}
	p.lifetime = 24 * time.Hour
	if d, err := time.ParseDuration(s.Settings.Challenge.Lifetime); err == nil {
		p.lifetime = d
	}
	p.nojsDelay = s.Settings.Challenge.NoJSDelay
	for c, a := range s.Settings.Categories {
		cat, _ := ParseCategory(c)
		p.actions[cat], _ = ParseAction(a)
	}
	for _, r := range s.Settings.Rules {
		if r.Enabled != nil && !*r.Enabled {
			continue
		}
		cr, err := compileRule(r, false)
		if err != nil {
			return nil, fmt.Errorf("rule %q: %w", r.Name, err)
		}
		p.rules = append(p.rules, cr)
		if cr.expr != nil && cr.expr.cost > RuleBudget {
			p.overBudget = append(p.overBudget, r.Name)
		}
		p.geo = p.geo || cr.geo
	}
	for i, rl := range s.Settings.RateLimits {
		p.limits = append(p.limits, compileRateLimit(i, rl))
	}
	for i, b := range builtins {
		on, set := s.Settings.Builtins[b.Name]
		if (set && on) || (!set && b.Default) {
			p.builtinsOn |= 1 << i
		}
	}
	for _, w := range s.Settings.Webhooks {
		ws, err := compileWebhook(w)
		if err != nil {
			return nil, fmt.Errorf("webhook %q: %w", w, err)
		}
		p.webhooks = append(p.webhooks, ws...)
	}
	p.apiPaths = append([]string(nil), s.Settings.APIPaths...)
	p.servers = prefixSet(s.Settings.ServerAddresses)
	p.noWAF = s.NoWAF
	if !s.NoWAF {
		w, err := compileWAF(s.Settings)
		if err != nil {
			return nil, err
		}
		p.waf = w
	}
	p.allow = prefixSet(s.Settings.Allow)
	p.deny = prefixSet(s.Settings.Deny)
	p.cacheBlock = cacheBlocker(s.Settings)
	p.cacheable = p.cacheBlock == ""
	if s.ServerKeyHash != "" {
		b, err := hex.DecodeString(s.ServerKeyHash)
		if err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("website %d: server key hash is not hex SHA-256", s.ID)
		}
		copy(p.keyHash[:], b)
	}
	return p, nil
}

func prefixSet(list []string) *bart.Lite {
	if len(list) == 0 {
		return nil
	}
	l := new(bart.Lite)
	for _, s := range list {
		if p, err := parsePrefix(s); err == nil {
			l.Insert(p)
		}
	}
	return l
}

// protected reports whether requests to the website are decided at all.
func (p *Policy) protected() bool {
	return p.mode != modeOff && (p.Status == "setup" || p.Status == "online")
}

// normalizeHost lower-cases a Host header and strips a port and trailing dot.
func normalizeHost(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	h = strings.TrimSuffix(h, ".")
	for i := 0; i < len(h); i++ {
		if c := h[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}

// DefaultAction is a category's action on a website that did not change it.
func DefaultAction(category string) string {
	c, ok := ParseCategory(category)
	if !ok {
		return ""
	}
	return defaultActions[c].String()
}
