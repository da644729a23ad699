// Package engine decides, for each request to a protected website, whether to
// grant, deny or challenge it. Website settings are compiled once into an
// immutable Policy; all policies form a snapshot that is swapped atomically
// when settings change, so Decide takes no locks (but the rate limiter's
// short per-shard ones), does no I/O and allocates as little as it can.
package engine

import "github.com/palisadehq/palisade/internal/waf"

// Action is what the web server should do with a request. The names are the
// BotGuard vocabulary that every integration maps to its protocol.
type Action uint8

const (
	Grant Action = iota
	Deny
	Challenge
	Captcha
	Redirect
	ReturnFakeData
)

var actionNames = [...]string{"grant", "deny", "challenge", "captcha", "redirect", "return_fake_data"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "unknown"
}

// ParseAction reads an action name.
func ParseAction(s string) (Action, bool) {
	for i, n := range actionNames {
		if n == s {
			return Action(i), true
		}
	}
	return 0, false
}

// Category is the kind of traffic a request was classified as.
type Category uint8

const (
	Humans Category = iota
	SearchEngines
	SocialNetworks
	ServicesAndPayments
	SecurityIssues
	ContentScrapers
	EmulatedHumans
	SuspiciousBehaviour
	AICrawlers
	AutomationTools
	SignedAgents // a valid Web Bot Auth signature (signed.go)
	numCategories
)

var categoryNames = [...]string{"humans", "search_engines", "social_networks", "services_and_payments", "security_issues",
	"content_scrapers", "emulated_humans", "suspicious_behaviour", "ai_crawlers", "automation_tools", "signed_agents"}

func (c Category) String() string {
	if int(c) < len(categoryNames) {
		return categoryNames[c]
	}
	return "unknown"
}

// ParseCategory reads a category name.
func ParseCategory(s string) (Category, bool) {
	for i, n := range categoryNames {
		if n == s {
			return Category(i), true
		}
	}
	return 0, false
}

// Categories lists every category name, in order.
func Categories() []string { return append([]string(nil), categoryNames[:]...) }

// defaultActions are the category actions of a website that changed none.
var defaultActions = [numCategories]Action{
	Humans:              Grant,
	SearchEngines:       Grant,
	SocialNetworks:      Grant,
	ServicesAndPayments: Grant,
	SecurityIssues:      Deny,
	ContentScrapers:     Deny,
	EmulatedHumans:      Challenge,
	SuspiciousBehaviour: Challenge,
	AICrawlers:          Deny,
	AutomationTools:     Challenge,
	SignedAgents:        Grant,
}

// What decided a verdict.
const (
	SourceList      = "list"
	SourceRule      = "rule"
	SourceCategory  = "category"
	SourceRateLimit = "rate_limit"
	// SourceBuiltin: a built-in grant (builtin.go) such as robots.txt or a
	// declared webhook; Reason names it.
	SourceBuiltin = "builtin"
	// SourceWAF: the website firewall (waf.go); Reason is "waf" or
	// "virtual patch", Detail the attack class and rule.
	SourceWAF = "waf"
)

// Verdict is the engine's answer for one request.
type Verdict struct {
	Action   Action
	Category Category
	// Reason is the rule name, rate-limit name, list or category that decided.
	Reason string
	// Source is what decided: SourceList, SourceRule, SourceCategory,
	// SourceBuiltin or SourceRateLimit ("" for unprotected websites).
	Source string
	// Detail says what was recognised: a signature ("curl"), an anomaly
	// ("no Accept-Language"), "unverified Googlebot".
	Detail string
	// Location is where a redirect goes.
	Location string
	// Monitored is set when the website is in monitor mode: Action is what
	// protect mode would have done, but the request is to be granted.
	Monitored bool
	// Unprotected is set for requests to unknown, paused, deleted or "off"
	// websites, which are always granted.
	Unprotected bool
	// Website is the website the request was decided for (0 when unknown).
	Website int64
	Partner int64
	// FailClosed reports the website's choice for when Palisade cannot be
	// reached; integrations that ask ahead of time use it.
	FailClosed bool
	// Ref is the reference ID of a decision that shows the visitor a page
	// (challenge or deny): shown on the page and stored with the event.
	// Set by the protector, "" otherwise.
	Ref string
	// WAF is what the website firewall found, when any rule matched (in
	// block or detect mode); nil otherwise. The protector records every
	// verdict that carries one.
	WAF *waf.Result
}

// Enforced is the action the web server must apply: Grant in monitor mode
// and for unprotected websites, else Action.
func (v Verdict) Enforced() Action {
	if v.Monitored || v.Unprotected {
		return Grant
	}
	return v.Action
}
