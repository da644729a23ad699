package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/netutil"
)

// Settings are a website's protection settings, as stored (JSON) and as
// partners edit them. The zero value means the defaults.
type Settings struct {
	// Mode is "protect" (default), "monitor" (decide and record, always
	// grant) or "off".
	Mode string `json:"mode,omitempty"`
	// FailMode is what integrations do when Palisade cannot be reached:
	// "open" (default: serve the site) or "closed" (refuse).
	FailMode string `json:"fail_mode,omitempty"`
	// Categories overrides category actions by category name.
	Categories map[string]string `json:"categories,omitempty"`
	// Rules are custom rules, tried in order before any category.
	Rules []Rule `json:"rules,omitempty"`
	// RateLimits apply to traffic the categories granted.
	RateLimits []RateLimit `json:"rate_limits,omitempty"`
	// Allow and Deny are IPs or CIDRs granted or denied before anything else.
	Allow []string `json:"allow,omitempty"`
	Deny  []string `json:"deny,omitempty"`
	// Challenge tunes the browser challenge.
	Challenge ChallengeSettings `json:"challenge,omitzero"`
	// Builtins switches built-in grants (builtin.go, Builtins()) on or off
	// by name; a name left out keeps its default.
	Builtins map[string]bool `json:"builtins,omitempty"`
	// Webhooks are the webhook endpoints the site declares, never
	// challenged for POST (builtin webhooks): "preset:<name>" (see
	// WebhookPresets), a path ("/hooks/stripe": it and everything under
	// it) or a path with a query ("/?wc-api=wc_stripe": exactly that query;
	// a value * is any value).
	Webhooks []string `json:"webhooks,omitempty"`
	// APIPaths are path prefixes of the site's API: a request with an
	// Authorization header there is not challenged (builtin
	// api_credentials).
	APIPaths []string `json:"api_paths,omitempty"`
	// ServerAddresses are the site's own server's IPs or CIDRs (at most a
	// /24 or an IPv6 /64 each), whose requests to the site are not
	// challenged (builtin self_calls), besides the web server's own.
	ServerAddresses []string `json:"server_addresses,omitempty"`
	// WAF is the website firewall (waf.go, docs/WAF.md).
	WAF WAFSettings `json:"waf,omitzero"`
}

// ChallengeSettings tune the browser challenge of a website.
type ChallengeSettings struct {
	// Difficulty is the proof of work's leading zero bits (8 to 24; default
	// 16, well under a second on a phone).
	Difficulty int `json:"difficulty,omitempty"`
	// Lifetime is how long a solved challenge clears the browser (Go
	// duration, 1m to 720h; default 24h).
	Lifetime string `json:"lifetime,omitempty"`
	// NoJSDelay, when set (1 to 30 seconds), lets browsers without JavaScript
	// pass by waiting that long on a page that refreshes itself.
	NoJSDelay int `json:"nojs_delay,omitempty"`
}

// Rule is a custom rule: when every condition matches (and Expression, if
// set), Action is taken with the rule's name as the reason.
type Rule struct {
	Name       string      `json:"name"`
	Enabled    *bool       `json:"enabled,omitempty"` // default true
	Action     string      `json:"action"`
	Location   string      `json:"location,omitempty"` // for action redirect
	Conditions []Condition `json:"conditions,omitempty"`
	// Expression is an advanced condition in CEL (see cel.go), ANDed with
	// Conditions.
	Expression string `json:"expression,omitempty"`
}

// Condition compares one field of the request with a value.
type Condition struct {
	// Field is ip, country, asn, user_agent, referrer, header, path, query,
	// method or domain.
	Field string `json:"field"`
	// Header names the header when Field is "header".
	Header string `json:"header,omitempty"`
	// Op is is, is_not, contains, not_contains, starts_with, greater_than,
	// less_than, is_any_of or regex.
	Op     string   `json:"op"`
	Value  string   `json:"value,omitempty"`
	Values []string `json:"values,omitempty"` // for is_any_of
}

// RateLimit allows Requests per Period per key (GCRA): a key may use the
// whole allowance at once, plus Burst more, and then gets one request every
// Period/Requests. Excess requests get Action.
type RateLimit struct {
	Name string `json:"name"`
	// Key is "ip" (default), "subnet" (/24 for IPv4, /64 for IPv6) or
	// "ip_path" (IP and PathPrefix). An IPv6 client is always counted by
	// its /64: one client is given a whole /64.
	Key        string `json:"key,omitempty"`
	PathPrefix string `json:"path_prefix,omitempty"` // only paths under it count; "" means all
	Requests   int    `json:"requests"`
	Period     string `json:"period"` // Go duration: "1m", "10s"
	Burst      int    `json:"burst,omitempty"`
	Action     string `json:"action,omitempty"` // challenge (default) or deny
}

// ParseSettings decodes stored settings; "" and "{}" are the defaults.
func ParseSettings(s string) (Settings, error) {
	var st Settings
	if strings.TrimSpace(s) == "" {
		return st, nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return st, fmt.Errorf("settings: %w", err)
	}
	return st, nil
}

// FieldErrors lists problems by JSON path ("rules[2].conditions[0].value").
type FieldErrors []FieldError

// FieldError is one problem with one setting.
type FieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (fe FieldErrors) Error() string {
	var b strings.Builder
	for i, e := range fe {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Path + ": " + e.Message)
	}
	return b.String()
}

var (
	ruleFields = map[string]bool{"ip": true, "country": true, "asn": true, "user_agent": true, "referrer": true, "header": true, "path": true, "query": true, "method": true, "domain": true}
	ruleOps    = map[string]bool{"is": true, "is_not": true, "contains": true, "not_contains": true, "starts_with": true, "greater_than": true, "less_than": true, "is_any_of": true, "regex": true}
	headerName = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_|~-]{1,64}$`)
)

const (
	maxWebhooks        = 50
	maxAPIPaths        = 50
	maxServerAddresses = 20
)

const (
	maxRules      = 200
	maxRateLimits = 20
	maxListItems  = 100_000
)

// Validate checks every setting and returns all problems at once, each with
// the path of the setting it is about.
func (s *Settings) Validate() error { return s.validate(true) }

// validate is Validate; without strict (stored settings being compiled)
// the regex limits and the rule budget are not checked: the budget then
// applies when requests are decided (budget.go).
func (s *Settings) validate(strict bool) error {
	var errs FieldErrors
	add := func(path, format string, args ...any) {
		errs = append(errs, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	switch s.Mode {
	case "", "protect", "monitor", "off":
	default:
		add("mode", "must be protect, monitor or off, not %q", s.Mode)
	}
	switch s.FailMode {
	case "", "open", "closed":
	default:
		add("fail_mode", "must be open or closed, not %q", s.FailMode)
	}
	for c, a := range s.Categories {
		if _, ok := ParseCategory(c); !ok {
			add("categories."+c, "unknown category; categories are %s", strings.Join(categoryNames[:], ", "))
		}
		if act, ok := ParseAction(a); !ok || act == Redirect {
			add("categories."+c, "action must be grant, deny, challenge, captcha or return_fake_data, not %q", a)
		}
	}
	if len(s.Rules) > maxRules {
		add("rules", "at most %d rules", maxRules)
	}
	names := map[string]bool{}
	var total uint64
	overBudget := false
	for i, r := range s.Rules {
		p := fmt.Sprintf("rules[%d]", i)
		if strings.TrimSpace(r.Name) == "" || len(r.Name) > 100 {
			add(p+".name", "a rule needs a name of 1 to 100 characters")
		} else if names[strings.ToLower(r.Name)] {
			add(p+".name", "another rule is already named %q", r.Name)
		}
		names[strings.ToLower(r.Name)] = true
		act, ok := ParseAction(r.Action)
		if !ok || act == ReturnFakeData {
			add(p+".action", "must be grant, deny, challenge, captcha or redirect, not %q", r.Action)
		}
		if act == Redirect && ok {
			if !strings.HasPrefix(r.Location, "https://") && !strings.HasPrefix(r.Location, "http://") && !strings.HasPrefix(r.Location, "/") {
				add(p+".location", "a redirect needs a location: an absolute http(s) URL or a path starting with /")
			}
		}
		if len(r.Conditions) == 0 && strings.TrimSpace(r.Expression) == "" {
			add(p+".conditions", "a rule needs at least one condition or an expression")
		}
		var own uint64
		if strings.TrimSpace(r.Expression) != "" {
			if x, err := compileExpression(r.Expression, strict); err != nil {
				add(p+".expression", "%s", err.Error())
			} else {
				own = addCost(own, x.cost)
			}
		}
		for j, c := range r.Conditions {
			k, err := compileCondition(c)
			if err == nil && c.Op == "regex" && strict {
				err = checkRegex(c.Value)
			}
			if err != nil {
				add(fmt.Sprintf("%s.conditions[%d]", p, j), "%s", err.Error())
				continue
			}
			own = addCost(own, conditionCost(k))
		}
		// The website's rules together stay within its evaluation budget
		// (budget.go); the first rule that goes over is named. Disabled
		// rules count: enabling one must not need another check.
		if total = addCost(total, own); strict && total > RuleBudget && !overBudget {
			overBudget = true
			add(p, "%s", budgetError(total, own))
		}
	}
	if len(s.RateLimits) > maxRateLimits {
		add("rate_limits", "at most %d rate limits", maxRateLimits)
	}
	for i, rl := range s.RateLimits {
		p := fmt.Sprintf("rate_limits[%d]", i)
		if strings.TrimSpace(rl.Name) == "" || len(rl.Name) > 100 {
			add(p+".name", "a rate limit needs a name of 1 to 100 characters")
		}
		switch rl.Key {
		case "", "ip", "subnet", "ip_path":
		default:
			add(p+".key", "must be ip, subnet or ip_path, not %q", rl.Key)
		}
		if rl.PathPrefix != "" && !strings.HasPrefix(rl.PathPrefix, "/") {
			add(p+".path_prefix", "must start with /")
		}
		if rl.Key == "ip_path" && rl.PathPrefix == "" {
			add(p+".path_prefix", "key ip_path needs a path_prefix")
		}
		if rl.Requests < 1 || rl.Requests > 1_000_000 {
			add(p+".requests", "must be between 1 and 1000000")
		}
		if d, err := time.ParseDuration(rl.Period); err != nil || d < time.Second || d > 24*time.Hour {
			add(p+".period", "must be a duration between 1s and 24h, such as 1m, not %q", rl.Period)
		}
		if rl.Burst < 0 || rl.Burst > 1_000_000 {
			add(p+".burst", "must be between 0 and 1000000")
		}
		switch rl.Action {
		case "", "challenge", "deny", "captcha":
		default:
			add(p+".action", "must be challenge, captcha or deny, not %q", rl.Action)
		}
	}
	if d := s.Challenge.Difficulty; d != 0 && (d < 8 || d > 24) {
		add("challenge.difficulty", "must be between 8 and 24 leading zero bits")
	}
	if l := s.Challenge.Lifetime; l != "" {
		if d, err := time.ParseDuration(l); err != nil || d < time.Minute || d > 720*time.Hour {
			add("challenge.lifetime", "must be a duration between 1m and 720h, such as 24h, not %q", l)
		}
	}
	if n := s.Challenge.NoJSDelay; n < 0 || n > 30 {
		add("challenge.nojs_delay", "must be between 1 and 30 seconds, or 0 to require JavaScript")
	}
	for name, list := range map[string][]string{"allow": s.Allow, "deny": s.Deny} {
		if len(list) > maxListItems {
			add(name, "at most %d entries", maxListItems)
			continue
		}
		for i, v := range list {
			if _, err := parsePrefix(v); err != nil {
				add(fmt.Sprintf("%s[%d]", name, i), "%q is not an IP address or CIDR", v)
			}
		}
	}
	s.validateBuiltins(add)
	s.WAF.validate(add)
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// validateBuiltins checks the built-in grants' settings (builtin.go).
func (s *Settings) validateBuiltins(add func(path, format string, args ...any)) {
	for name := range s.Builtins {
		if builtinIndex(name) < 0 {
			names := make([]string, len(builtins))
			for i, b := range builtins {
				names[i] = b.Name
			}
			add("builtins."+name, "unknown built-in; built-ins are %s", strings.Join(names, ", "))
		}
	}
	if len(s.Webhooks) > maxWebhooks {
		add("webhooks", "at most %d webhook endpoints", maxWebhooks)
	}
	seen := map[string]bool{}
	for i, w := range s.Webhooks {
		p := fmt.Sprintf("webhooks[%d]", i)
		if len(w) > 200 {
			add(p, "at most 200 characters")
			continue
		}
		if seen[w] {
			add(p, "%q is listed twice", w)
		}
		seen[w] = true
		if _, err := compileWebhook(w); err != nil {
			add(p, "%s", err.Error())
		}
	}
	if len(s.APIPaths) > maxAPIPaths {
		add("api_paths", "at most %d API paths", maxAPIPaths)
	}
	seen = map[string]bool{}
	for i, a := range s.APIPaths {
		p := fmt.Sprintf("api_paths[%d]", i)
		if seen[a] {
			add(p, "%q is listed twice", a)
		}
		seen[a] = true
		if strings.Contains(a, "?") {
			add(p, "an API path has no query: %q", a)
		} else if err := checkDeclaredPath(a, false); err != nil {
			add(p, "%s", err.Error())
		}
	}
	if len(s.ServerAddresses) > maxServerAddresses {
		add("server_addresses", "at most %d addresses", maxServerAddresses)
	}
	for i, a := range s.ServerAddresses {
		p := fmt.Sprintf("server_addresses[%d]", i)
		pfx, err := parsePrefix(a)
		switch {
		case err != nil:
			add(p, "%q is not an IP address or CIDR", a)
		case pfx.Addr().Is4() && pfx.Bits() < 24, pfx.Addr().Is6() && pfx.Bits() < 64:
			add(p, "%q is wider than a server: at most a /24 (IPv4) or /64 (IPv6)", a)
		}
	}
}

// parsePrefix accepts an IP (a single-address prefix) or a CIDR.
func parsePrefix(s string) (netip.Prefix, error) { return netutil.ParsePrefix(s) }

// IsValidationError reports whether err lists setting problems.
func IsValidationError(err error) (FieldErrors, bool) {
	var fe FieldErrors
	ok := errors.As(err, &fe)
	return fe, ok
}

// UsesGeoIP reports whether any rule reads country or asn, which need a GeoIP
// database to ever match.
func (s *Settings) UsesGeoIP() bool {
	for _, r := range s.Rules {
		for _, c := range r.Conditions {
			if c.Field == "country" || c.Field == "asn" {
				return true
			}
		}
		if strings.Contains(r.Expression, "country") || strings.Contains(r.Expression, "asn") {
			return true
		}
	}
	return false
}
