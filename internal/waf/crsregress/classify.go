package crsregress

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/palisadehq/palisade/internal/waf"
)

// Not-applicable reasons (Applicability.Kind), in report order.
const (
	NAResponse   = "response phase"
	NAParanoia   = "rule above the paranoia level"
	NAGated      = "rule off in CRS's default setup"
	NALogOnly    = "asserts a log line only"
	NABodyLimit  = "body over the inspection limit"
	NAUncarried  = "request the endpoint cannot carry"
	NABuildError = "request cannot be built"
)

// Applicability says whether a test is judged at a paranoia level, and if
// not, why.
type Applicability struct {
	Kind   string // "" applicable, else one of the NA* constants
	Reason string // the specifics, for the report
}

// Applicable reports whether the test is judged.
func (a Applicability) Applicable() bool { return a.Kind == "" }

// fileRule is the rule a file tests: rule_id, or the file's name when
// rule_id names no rule (933200.yaml says 9331200).
func fileRule(f File, rules map[int]Rule) Rule {
	if r, ok := rules[f.RuleID]; ok {
		return r
	}
	if id, err := strconv.Atoi(strings.TrimSuffix(path.Base(f.Path), path.Ext(f.Path))); err == nil {
		if r, ok := rules[id]; ok {
			return r
		}
	}
	return Rule{ID: f.RuleID}
}

// Classify decides whether test t of file f is judged at paranoia level pl
// through the BotGuard check endpoint.
func Classify(f File, t Test, rules map[int]Rule, pl int) Applicability {
	if strings.HasPrefix(f.Path, "RESPONSE-") {
		return Applicability{NAResponse, "RESPONSE-* file"}
	}
	fr := fileRule(f, rules)
	expects := false
	for _, s := range t.Stages {
		for _, id := range s.Output.Log.ExpectIDs {
			expects = true
			r := rules[id]
			if r.Response() {
				return Applicability{NAResponse, fmt.Sprintf("expects %d, a response rule", id)}
			}
		}
	}
	// A test of a rule above the level, or one expecting such a rule.
	if fr.Paranoia > pl {
		return Applicability{NAParanoia, fmt.Sprintf("rule %d is paranoia level %d", fr.ID, fr.Paranoia)}
	}
	for _, s := range t.Stages {
		for _, id := range s.Output.Log.ExpectIDs {
			if r := rules[id]; r.Paranoia > pl {
				return Applicability{NAParanoia, fmt.Sprintf("expects %d, paranoia level %d", id, r.Paranoia)}
			}
		}
	}
	for _, s := range t.Stages {
		for _, id := range s.Output.Log.ExpectIDs {
			if r := rules[id]; r.Gate != "" && !palisadeSets[r.Gate] {
				return Applicability{NAGated, fmt.Sprintf("expects %d, which runs only when %s is set (CRS's crs-setup.conf leaves it commented out)", id, r.Gate)}
			}
		}
	}
	for _, s := range t.Stages {
		if !s.Output.HasIDs() {
			switch {
			case s.Output.Log.MatchRegex != "":
				return Applicability{NALogOnly, fmt.Sprintf("asserts a ModSecurity log line matching %q, no rule ids", s.Output.Log.MatchRegex)}
			case s.Output.Log.NoMatchRegex != "":
				return Applicability{NALogOnly, fmt.Sprintf("asserts no ModSecurity log line matching %q, no rule ids", s.Output.Log.NoMatchRegex)}
			case s.Output.Status != 0:
				continue // judged by the status (Judge)
			default:
				return Applicability{NALogOnly, "asserts no rule ids"}
			}
		}
	}
	for _, s := range t.Stages {
		raw, err := s.Input.Build()
		if err != nil {
			return Applicability{NABuildError, err.Error()}
		}
		if n := len(raw) - len(head(raw)); n > waf.MaxBody {
			return Applicability{NABodyLimit, fmt.Sprintf("body of %d bytes, over the %d the WAF inspects", n, waf.MaxBody)}
		}
		if why, refused := lineRefused(raw); refused && !expects && s.Output.Status < 400 {
			return Applicability{NAUncarried, "expects no rule ids and the proxy's HTTP server cannot read the request line: " + why}
		}
	}
	return Applicability{}
}

// head returns raw up to and with the blank line after the headers (all of
// raw when it has none).
func head(raw []byte) []byte {
	s := string(raw)
	if i := strings.Index(s, "\r\n\r\n"); i >= 0 {
		return raw[:i+4]
	}
	if i := strings.Index(s, "\n\n"); i >= 0 {
		return raw[:i+2]
	}
	return raw
}

// lineRefused reports whether Go's HTTP server (the proxy's) refuses raw
// for its request line or HTTP version, or answers it itself, and why:
// such a request reaches no website.
func lineRefused(raw []byte) (string, bool) {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		msg := err.Error()
		for _, s := range []string{"malformed HTTP request", "malformed HTTP version", "invalid method"} {
			if strings.Contains(msg, s) {
				return msg, true
			}
		}
		return "", false
	}
	if req.Method == "OPTIONS" && req.RequestURI == "*" {
		return "Go's server answers OPTIONS * itself (200) and passes it to no handler", true
	}
	if req.ProtoMajor != 1 {
		return fmt.Sprintf("version %s (answered 505)", req.Proto), true
	}
	return "", false
}

// palisadeSets are the optional CRS settings Palisade sets (internal/waf's
// setup: tx.max_num_args), whose rules therefore run and are judged.
var palisadeSets = map[string]bool{"tx.max_num_args": true}
