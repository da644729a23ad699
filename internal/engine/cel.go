package engine

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
)

// Advanced conditions are CEL expressions (https://cel.dev) over the
// request, for what the field/op conditions cannot say:
//
//	path.startsWith("/api/") && !("x-api-key" in headers)
//	method == "POST" && inCIDR(ip, "10.0.0.0/8") && user_agent.matches("(?i)bot")
//
// Variables: ip, method, host (lower-case, no port), path (canonical: see
// CanonicalPath), raw_path (as the client sent it), query, user_agent,
// referrer, country (strings), asn (int), headers (map of lower-case name
// to first value), signed_agent (string: the identity of a verified Web Bot
// Auth signature, such as "agent.example", or "" when the request carries
// none that verified; see signed.go).
// Functions: CEL's standard ones, and inCIDR(ip, cidr).
var (
	celEnvOnce sync.Once
	celEnv     *cel.Env
	celEnvErr  error
)

func celEnvironment() (*cel.Env, error) {
	celEnvOnce.Do(func() {
		celEnv, celEnvErr = cel.NewEnv(
			cel.Variable("ip", cel.StringType),
			cel.Variable("method", cel.StringType),
			cel.Variable("host", cel.StringType),
			cel.Variable("path", cel.StringType),
			cel.Variable("raw_path", cel.StringType),
			cel.Variable("query", cel.StringType),
			cel.Variable("user_agent", cel.StringType),
			cel.Variable("referrer", cel.StringType),
			cel.Variable("country", cel.StringType),
			cel.Variable("asn", cel.IntType),
			cel.Variable("headers", cel.MapType(cel.StringType, cel.StringType)),
			cel.Variable("signed_agent", cel.StringType),
			cel.Function("inCIDR", cel.Overload("inCIDR_string_string", []*cel.Type{cel.StringType, cel.StringType}, cel.BoolType,
				cel.BinaryBinding(func(a, b ref.Val) ref.Val {
					ip, err := netip.ParseAddr(fmt.Sprint(a.Value()))
					if err != nil {
						return types.False
					}
					p, err := parsePrefix(fmt.Sprint(b.Value()))
					if err != nil {
						return types.NewErr("inCIDR: %q is not a CIDR", b.Value())
					}
					return types.Bool(p.Contains(ip.Unmap()))
				}))),
		)
	})
	return celEnv, celEnvErr
}

// celExpr is a compiled expression and its worst-case cost at the input
// caps (budget.go).
type celExpr struct {
	prg  cel.Program
	cost uint64
}

// compileExpression checks and compiles a CEL expression that must be a
// bool. strict (Validate) also refuses non-literal or oversized regexes;
// stored settings compile without it, and the budget applies at run time.
func compileExpression(expr string, strict bool) (*celExpr, error) {
	if len(expr) > 4096 {
		return nil, fmt.Errorf("expression is longer than 4096 characters")
	}
	env, err := celEnvironment()
	if err != nil {
		return nil, err
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, fmt.Errorf("expression does not compile: %s", strings.ReplaceAll(iss.Err().Error(), "\n", " "))
	}
	if ast.OutputType() != cel.BoolType {
		return nil, fmt.Errorf("expression must be true or false, but it is a %s", ast.OutputType())
	}
	if strict {
		if err := checkPatterns(ast.NativeRep()); err != nil {
			return nil, err
		}
	}
	est, err := env.EstimateCost(ast, celEstimator{})
	if err != nil {
		est.Max = math.MaxUint64
	}
	// Constant regexes are compiled once here (OptOptimize), not per
	// request; the cost is tracked (OptTrackCost) and charged to the
	// request's budget.
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize, cel.OptTrackCost), cel.CostTracking(celActualCost{}), cel.CostLimit(RuleBudget))
	if err != nil && !strict {
		// Stored before regexes were checked (an invalid literal): as
		// before, it fails when evaluated and never matches.
		prg, err = env.Program(ast, cel.EvalOptions(cel.OptTrackCost), cel.CostTracking(celActualCost{}), cel.CostLimit(RuleBudget))
	}
	if err != nil {
		return nil, fmt.Errorf("expression: %v", err)
	}
	return &celExpr{prg: prg, cost: est.Max}, nil
}

// celActivation resolves the expression's variables from the request on
// demand, so unused ones cost nothing.
type celActivation struct{ r *Request }

func (a celActivation) Parent() interpreter.Activation { return nil }

func (a celActivation) ResolveName(name string) (any, bool) {
	v, ok := a.resolve(name)
	if s, isStr := v.(string); isStr && uint64(len(s)) > inputCaps[name] {
		return a.tooLong(name), true
	}
	return v, ok
}

// tooLong marks the request's expression unevaluated (budget.go).
func (a celActivation) tooLong(name string) ref.Val {
	a.r.overCap = true
	return types.NewErr("%s is longer than rules read", name)
}

func (a celActivation) resolve(name string) (any, bool) {
	r := a.r
	switch name {
	case "ip":
		if r.IP.IsValid() {
			return r.IP.Unmap().String(), true
		}
		return "", true
	case "method":
		return r.Method, true
	case "host":
		r.canonical()
		return r.host, true
	case "path":
		return r.CanonicalPath(), true
	case "raw_path":
		return r.Path, true
	case "query":
		return r.Query, true
	case "user_agent":
		return r.UserAgent, true
	case "referrer":
		return r.Referer, true
	case "country":
		return r.Country, true
	case "asn":
		return int64(r.ASN), true
	case "signed_agent":
		return r.SignedAgent, true
	case "headers":
		if len(r.Header) > maxHeaderCount {
			return a.tooLong("headers"), true
		}
		m := make(map[string]string, len(r.Header))
		for k, v := range r.Header {
			if len(v) > 0 {
				if len(k) > maxHeaderName || len(v[0]) > maxHeaderValue {
					return a.tooLong("headers"), true
				}
				m[strings.ToLower(k)] = v[0]
			}
		}
		return m, true
	}
	return nil, false
}

// evalExpression runs a compiled expression and returns whether it
// matched, what it cost (CEL's ActualCost) and whether it was evaluated at
// all: an input over its cap leaves it unevaluated. Another evaluation
// error counts as no match.
func evalExpression(x *celExpr, r *Request) (match bool, spent uint64, evaluated bool) {
	r.overCap = false
	out, det, err := x.prg.Eval(celActivation{r})
	if det != nil {
		if c := det.ActualCost(); c != nil {
			spent = *c
		}
	}
	if r.overCap {
		return false, spent, false
	}
	if err != nil {
		return false, spent, true
	}
	b, ok := out.Value().(bool)
	return ok && b, spent, true
}
