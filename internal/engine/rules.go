package engine

import (
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/gaissmai/bart"
)

// condition is a compiled Condition.
type condition struct {
	field  string
	header string // canonical header name
	op     string
	value  string // lower-cased where the comparison ignores case
	values []string
	num    float64
	re     *regexp.Regexp
	cidrs  *bart.Lite
	fold   bool // compare case-insensitively
}

// compileCondition checks a Condition and prepares it for matching; errors
// say precisely what is wrong.
func compileCondition(c Condition) (*condition, error) {
	if !ruleFields[c.Field] {
		return nil, fmt.Errorf("unknown field %q; fields are ip, country, asn, user_agent, referrer, header, path, query, method, domain", c.Field)
	}
	if !ruleOps[c.Op] {
		return nil, fmt.Errorf("unknown op %q; ops are is, is_not, contains, not_contains, starts_with, greater_than, less_than, is_any_of, regex", c.Op)
	}
	k := &condition{field: c.Field, op: c.Op, value: c.Value, values: c.Values}
	if c.Field == "header" {
		if !headerName.MatchString(c.Header) {
			return nil, fmt.Errorf("field header needs a header name, such as X-Requested-With, not %q", c.Header)
		}
		k.header = http.CanonicalHeaderKey(c.Header)
	}
	// Paths and queries are case-sensitive; everything else is compared
	// ignoring case (use (?i) in a regex for the same).
	k.fold = c.Field != "path" && c.Field != "query"
	if c.Op == "is_any_of" {
		if len(c.Values) == 0 {
			return nil, fmt.Errorf("is_any_of needs a non-empty values list")
		}
	} else if c.Value == "" && c.Op != "is" && c.Op != "is_not" {
		return nil, fmt.Errorf("op %s needs a value", c.Op)
	}
	switch c.Field {
	case "ip":
		switch c.Op {
		case "is", "is_not", "is_any_of":
		default:
			return nil, fmt.Errorf("field ip supports is, is_not and is_any_of (with IPs or CIDRs), not %s", c.Op)
		}
		vals := c.Values
		if c.Op != "is_any_of" {
			vals = []string{c.Value}
		}
		k.cidrs = new(bart.Lite)
		for _, v := range vals {
			p, err := parsePrefix(v)
			if err != nil {
				return nil, fmt.Errorf("%q is not an IP address or CIDR", v)
			}
			k.cidrs.Insert(p)
		}
		return k, nil
	case "country":
		for _, v := range append([]string{c.Value}, c.Values...) {
			if v != "" && !isAlpha2(v) {
				return nil, fmt.Errorf("country %q must be a two-letter ISO 3166 code such as DE", v)
			}
		}
	case "asn":
		for _, v := range append([]string{c.Value}, c.Values...) {
			if v == "" {
				continue
			}
			if _, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(v), "AS"), 10, 32); err != nil {
				return nil, fmt.Errorf("asn %q must be a number such as 13335 or AS13335", v)
			}
		}
	case "method":
		if c.Op == "greater_than" || c.Op == "less_than" {
			return nil, fmt.Errorf("field method cannot be compared with %s", c.Op)
		}
	}
	switch c.Op {
	case "regex":
		re, err := regexp.Compile(c.Value)
		if err != nil {
			return nil, fmt.Errorf("regex %q does not compile: %v", c.Value, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		}
		k.re = re
	case "greater_than", "less_than":
		n, err := strconv.ParseFloat(strings.TrimPrefix(strings.ToUpper(c.Value), "AS"), 64)
		if err != nil {
			return nil, fmt.Errorf("%s compares numbers; %q is not a number", c.Op, c.Value)
		}
		k.num = n
	}
	if c.Field == "path" {
		// Values are compared with the request's canonical path: write
		// them in any spelling (see CanonicalPath).
		switch c.Op {
		case "is", "is_not", "starts_with", "is_any_of":
			if strings.HasPrefix(k.value, "/") || strings.HasPrefix(k.value, "%") {
				k.value = CanonicalPath(k.value)
			}
			k.values = make([]string, len(c.Values))
			for i, v := range c.Values {
				if strings.HasPrefix(v, "/") || strings.HasPrefix(v, "%") {
					v = CanonicalPath(v)
				}
				k.values[i] = v
			}
		}
	}
	if k.fold {
		k.value = strings.ToLower(k.value)
		k.values = make([]string, len(c.Values))
		for i, v := range c.Values {
			k.values[i] = strings.ToLower(v)
		}
	}
	if c.Field == "asn" {
		k.value = strings.TrimPrefix(k.value, "as")
		for i, v := range k.values {
			k.values[i] = strings.TrimPrefix(v, "as")
		}
	}
	return k, nil
}

func isAlpha2(s string) bool {
	return len(s) == 2 && isLetter(s[0]) && isLetter(s[1])
}

func isLetter(c byte) bool { c |= 0x20; return c >= 'a' && c <= 'z' }

// needsGeo reports whether the condition reads GeoIP data.
func (k *condition) needsGeo() bool { return k.field == "country" || k.field == "asn" }

// match reports whether the request satisfies the condition.
func (k *condition) match(r *Request) bool {
	if k.field == "ip" {
		hit := r.IP.IsValid() && k.cidrs.Lookup(r.IP.Unmap())
		if k.op == "is_not" {
			return !hit
		}
		return hit
	}
	if (k.field == "country" && r.Country == "") || (k.field == "asn" && r.ASN == 0) {
		return false // no GeoIP data: country and asn conditions never match
	}
	s := k.input(r)
	switch k.op {
	case "is":
		return k.eq(s, k.value)
	case "is_not":
		return !k.eq(s, k.value)
	case "contains":
		return k.contains(s, k.value)
	case "not_contains":
		return !k.contains(s, k.value)
	case "starts_with":
		return len(s) >= len(k.value) && k.eq(s[:len(k.value)], k.value)
	case "is_any_of":
		for _, v := range k.values {
			if k.eq(s, v) {
				return true
			}
		}
		return false
	case "regex":
		return k.re.MatchString(s)
	case "greater_than", "less_than":
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return false
		}
		if k.op == "greater_than" {
			return n > k.num
		}
		return n < k.num
	}
	return false
}

// input is the request field the condition reads.
func (k *condition) input(r *Request) string {
	var s string
	switch k.field {
	case "country":
		if r.Country == "" {
			return ""
		}
		s = r.Country
	case "asn":
		if r.ASN == 0 {
			return ""
		}
		s = strconv.FormatUint(uint64(r.ASN), 10)
	case "user_agent":
		s = r.UserAgent
	case "referrer":
		s = r.Referer
	case "header":
		s = r.header(k.header)
	case "path":
		s = r.CanonicalPath()
	case "query":
		s = r.Query
	case "method":
		s = r.Method
	case "domain":
		r.canonical()
		s = r.host
	}
	return s
}

func (k *condition) eq(s, v string) bool {
	if k.field == "path" && k.op != "starts_with" {
		// /admin and /admin/ are one resource to a web server (a
		// directory and its index).
		s, v = trimSlash(s), trimSlash(v)
	}
	if k.fold {
		return strings.EqualFold(s, v)
	}
	return s == v
}

func trimSlash(p string) string {
	if len(p) > 1 && p[len(p)-1] == '/' {
		return p[:len(p)-1]
	}
	return p
}

func (k *condition) contains(s, v string) bool {
	if !k.fold {
		return strings.Contains(s, v)
	}
	return containsFold(s, v)
}

// containsFold reports whether lowerSub (already lower-case ASCII or
// Unicode) occurs in s ignoring ASCII case, without allocating.
func containsFold(s, lowerSub string) bool {
	n := len(lowerSub)
	if n == 0 {
		return true
	}
	first := lowerSub[0]
	for i := 0; i+n <= len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != first {
			continue
		}
		if strings.EqualFold(s[i:i+n], lowerSub) {
			return true
		}
	}
	return false
}

// rule is a compiled Rule.
type rule struct {
	name       string
	action     Action
	location   string
	conditions []*condition
	expr       *celExpr // nil: none
	geo        bool
	cost       uint64 // worst case at the input caps (budget.go)
}

func compileRule(r Rule, strict bool) (*rule, error) {
	act, _ := ParseAction(r.Action)
	cr := &rule{name: r.Name, action: act, location: r.Location}
	for _, c := range r.Conditions {
		k, err := compileCondition(c)
		if err != nil {
			return nil, err
		}
		cr.geo = cr.geo || k.needsGeo()
		cr.conditions = append(cr.conditions, k)
		cr.cost = addCost(cr.cost, conditionCost(k))
	}
	if strings.TrimSpace(r.Expression) != "" {
		x, err := compileExpression(r.Expression, strict)
		if err != nil {
			return nil, err
		}
		cr.expr = x
		cr.cost = addCost(cr.cost, x.cost)
		cr.geo = cr.geo || strings.Contains(r.Expression, "country") || strings.Contains(r.Expression, "asn")
	}
	return cr, nil
}

func addCost(a, b uint64) uint64 {
	if a+b < a {
		return math.MaxUint64
	}
	return a + b
}

// eval reports whether the request matches the rule, and whether the rule
// could be evaluated within what is left of the request's budget
// (budget.go); it charges what the rule cost.
func (rl *rule) eval(req *Request) (match, evaluated bool) {
	for _, c := range rl.conditions {
		if c.re != nil {
			if conditionCost(c) > RuleBudget {
				return false, true // stored over the budget on its own: never runs
			}
			n := regexCost(len(c.input(req)), len(c.re.String()))
			if req.spent+n > RuleBudget {
				return false, false
			}
			req.spent += n
		}
		if !c.match(req) {
			return false, true
		}
	}
	if rl.expr == nil {
		return true, true
	}
	if rl.expr.cost > RuleBudget {
		// Stored before the budget existed and over it on its own: never
		// runs, whatever the fail mode (Load reports it).
		return false, true
	}
	if req.spent+rl.expr.cost > RuleBudget {
		return false, false
	}
	m, spent, ok := evalExpression(rl.expr, req)
	req.spent += spent
	return m, ok
}
