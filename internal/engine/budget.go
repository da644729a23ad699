package engine

import (
	"fmt"
	"math"
	"regexp/syntax"
	"strings"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/overloads"
	"cel.dev/cel-go/common/types/ref"
)

// One customer's rules must not take the shared CPU: every website's rules
// together have an evaluation budget, in CEL cost units (see
// https://cel.dev: about one unit per 10 bytes a string function scans),
// with a regex match weighted regexWeight times CEL's own count (the input's
// length / 10 × the pattern's length / 4), since Go's regexes cost far more
// per byte than a scan.
//
//   - When settings are saved (Validate), each rule's worst case is
//     estimated for the largest inputs rules ever see (inputCaps) and the
//     sum over the website's rules must stay within RuleBudget; the rule
//     that goes over is named. A regex (op regex, or matches() in an
//     expression) must be a literal of at most MaxRegexLength bytes.
//   - When a request is decided, each rule is evaluated only while its
//     worst case still fits in what is left of RuleBudget (its
//     conditions' regexes by their actual input, expressions by their
//     estimate), and what it actually cost (CEL's ActualCost) is charged.
//     A rule that does not fit, or whose expression reads an input longer
//     than its cap, is not evaluated: on a fail-open website it does not
//     match (the next rules, the categories and the rate limits still
//     apply), on a fail-closed one the request is denied ("rule budget
//     exceeded"). Saved settings never get there with inputs within the
//     caps; settings stored before the budget existed can. A stored rule
//     over the whole budget on its own never runs, whatever the fail mode
//     (Load reports it as Degraded).
const (
	// RuleBudget is a website's rule evaluation budget per request, about
	// a millisecond of one core (bench/README.md).
	RuleBudget = 100_000
	// MaxRegexLength bounds a regex pattern (op regex, matches()).
	MaxRegexLength = 256
	regexWeight    = 10
	// ReasonOverBudget is the reason of a fail-closed website's denial of
	// a request its rules could not be evaluated for within the budget.
	ReasonOverBudget = "rule budget exceeded"
)

// inputCaps are the longest inputs an expression reads; a longer one makes
// the expression unevaluated (see above). nginx refuses a request line or
// header longer than 8 KB by default.
var inputCaps = map[string]uint64{
	"ip": 64, "method": 32, "host": 255, "country": 8, "asn": 8,
	"user_agent": 1024, "path": 8192, "raw_path": 8192, "query": 8192, "referrer": 8192,
	"signed_agent": 255,
}

const (
	maxHeaderCount = 100
	maxHeaderName  = 64
	maxHeaderValue = 8192
)

// regexCost is the cost of matching a pattern of plen bytes against n
// bytes.
func regexCost(n, plen int) uint64 {
	return uint64(math.Ceil(float64(n+1)*cost.StringTraversalCostFactor)) *
		uint64(math.Ceil(float64(plen)*cost.RegexStringLengthCostFactor)) * regexWeight
}

// checkRegex refuses a pattern longer than MaxRegexLength or whose program
// is unusually large for its length (counted repetitions).
func checkRegex(p string) error {
	if len(p) > MaxRegexLength {
		return fmt.Errorf("regex is %d bytes long; at most %d (split it into several rules, or match a shorter literal with contains)", len(p), MaxRegexLength)
	}
	re, err := syntax.Parse(p, syntax.Perl)
	if err != nil {
		return fmt.Errorf("regex %q does not compile: %v", p, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	prog, err := syntax.Compile(re.Simplify())
	if err == nil && len(prog.Inst) > 4*MaxRegexLength {
		return fmt.Errorf("regex compiles to %d instructions (counted repetitions such as {100}?); at most %d", len(prog.Inst), 4*MaxRegexLength)
	}
	return nil
}

// celEstimator sizes the variables at their caps and weights regex matches,
// for the estimate made when settings are saved.
type celEstimator struct{}

func (celEstimator) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	p := n.Path()
	if len(p) == 0 {
		return nil
	}
	if c, ok := inputCaps[p[0]]; ok && len(p) == 1 {
		return &cost.SizeEstimate{Min: 0, Max: c}
	}
	if p[0] == "headers" {
		switch {
		case len(p) == 1:
			return &cost.SizeEstimate{Min: 0, Max: maxHeaderCount}
		case p[1] == "@keys":
			return &cost.SizeEstimate{Min: 0, Max: maxHeaderName}
		case p[1] == "@values":
			return &cost.SizeEstimate{Min: 0, Max: maxHeaderValue}
		}
	}
	return nil
}

func (celEstimator) EstimateCallCost(function, overloadID string, target *cost.AstNode, args []cost.AstNode) *cost.CallEstimate {
	if overloadID != overloads.MatchesString && overloadID != overloads.Matches {
		return nil
	}
	in, pat := target, (*cost.AstNode)(nil)
	if overloadID == overloads.Matches && len(args) == 2 {
		in, pat = &args[0], &args[1]
	} else if len(args) == 1 {
		pat = &args[0]
	}
	if in == nil || pat == nil {
		return nil
	}
	n := cost.EstimateSize(celEstimator{}, *in)
	plen := uint64(math.MaxUint32)
	if (*pat).Expr().Kind() == ast.LiteralKind {
		if s, ok := (*pat).Expr().AsLiteral().Value().(string); ok {
			plen = uint64(len(s))
		}
	}
	if n.Max > math.MaxInt32 || plen > math.MaxInt32 {
		// A pattern that is not a literal (stored before Validate refused
		// it) is compiled from the request on every evaluation: unbounded.
		return &cost.CallEstimate{CostEstimate: cost.CostEstimate{Min: 0, Max: math.MaxUint64}}
	}
	return &cost.CallEstimate{CostEstimate: cost.CostEstimate{Min: 0, Max: regexCost(int(n.Max), int(plen))}}
}

// celActualCost charges regex matches as celEstimator estimates them.
type celActualCost struct{}

func (celActualCost) CallCost(function, overloadID string, args []ref.Val, result ref.Val) *uint64 {
	if overloadID != overloads.MatchesString && overloadID != overloads.Matches || len(args) != 2 {
		return nil
	}
	in, ok1 := args[0].Value().(string)
	pat, ok2 := args[1].Value().(string)
	if !ok1 || !ok2 {
		return nil
	}
	c := regexCost(len(in), len(pat))
	return &c
}

// checkPatterns refuses matches() whose pattern is not a literal, or is too
// long (Validate only: stored settings compile as they are).
func checkPatterns(a *ast.AST) error {
	var err error
	ast.PostOrderVisit(a.Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		if err != nil || e.Kind() != ast.CallKind || e.AsCall().FunctionName() != overloads.Matches {
			return
		}
		args := e.AsCall().Args()
		if len(args) == 0 {
			return
		}
		p := args[len(args)-1]
		if p.Kind() != ast.LiteralKind {
			err = fmt.Errorf("matches() needs a literal pattern (a quoted string), not an expression")
			return
		}
		s, _ := p.AsLiteral().Value().(string)
		if e := checkRegex(s); e != nil {
			err = fmt.Errorf("matches(): %v", e)
		}
	}))
	return err
}

// conditionCost is a condition's worst case at the caps (regexes only; the
// other ops scan their input once and are not counted).
func conditionCost(k *condition) uint64 {
	if k.re == nil {
		return 0
	}
	n := maxHeaderValue
	switch k.field {
	case "user_agent":
		n = int(inputCaps["user_agent"])
	case "domain":
		n = 255
	case "method", "country", "asn":
		n = 32
	}
	return regexCost(n, len(k.re.String()))
}

// budgetError says which rule takes a website over its budget.
func budgetError(total, own uint64) string {
	return fmt.Sprintf("the website's rules would cost up to %s per request with this one (which costs up to %s), over the budget of %d; simplify the regexes or expressions, or remove rules (docs/SECURITY.md)", fmtCost(total), fmtCost(own), RuleBudget)
}

func fmtCost(c uint64) string {
	if c == math.MaxUint64 {
		return "an unbounded amount"
	}
	return fmt.Sprint(c)
}
