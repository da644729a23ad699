package crsregress

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// Rule is what the harness needs to know of one CRS rule.
type Rule struct {
	ID       int
	File     string // "REQUEST-920-PROTOCOL-ENFORCEMENT.conf"
	Phase    int    // 1-5 (0: not stated)
	Paranoia int    // from tag:'paranoia-level/N'; 0 when untagged
	// Gate is the optional CRS setting the rule needs (its first condition
	// is `SecRule &TX:NAME "@eq 1"` or `SecRule TX:NAME "@eq 1"`), "" for
	// rules that run without one. CRS's default setup leaves these unset.
	Gate string
}

// Response reports whether the rule inspects the response (phase 3 or 4,
// or a RESPONSE-* file).
func (r Rule) Response() bool {
	return r.Phase == 3 || r.Phase == 4 || strings.HasPrefix(r.File, "RESPONSE-")
}

var (
	reID    = regexp.MustCompile(`\bid:(\d+)`)
	rePhase = regexp.MustCompile(`\bphase:'?(\d|request|response|logging)`)
	rePL    = regexp.MustCompile(`tag:'paranoia-level/(\d)'`)
	reGate  = regexp.MustCompile(`^SecRule\s+&?TX:([A-Za-z0-9_]+)\s+"@eq 1"`)
)

// Rules reads every rule of the CRS rule files in fsys (coreruleset.FS:
// "@owasp_crs/*.conf"), by id.
func Rules(fsys fs.FS) (map[int]Rule, error) {
	names, err := fs.Glob(fsys, "@owasp_crs/*.conf")
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no @owasp_crs/*.conf in the rule files")
	}
	rules := map[int]Rule{}
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		for _, d := range directives(string(b)) {
			m := reID.FindStringSubmatch(d)
			if m == nil {
				continue // a chained condition, or no rule
			}
			id, _ := strconv.Atoi(m[1])
			r := Rule{ID: id, File: path.Base(name)}
			if pm := rePhase.FindStringSubmatch(d); pm != nil {
				switch pm[1] {
				case "request":
					r.Phase = 2
				case "response":
					r.Phase = 4
				case "logging":
					r.Phase = 5
				default:
					r.Phase, _ = strconv.Atoi(pm[1])
				}
			}
			if pm := rePL.FindStringSubmatch(d); pm != nil {
				r.Paranoia, _ = strconv.Atoi(pm[1])
			}
			if gm := reGate.FindStringSubmatch(d); gm != nil {
				r.Gate = "tx." + strings.ToLower(gm[1])
			}
			if _, dup := rules[id]; dup {
				return nil, fmt.Errorf("%s: rule %d defined twice", name, id)
			}
			rules[id] = r
		}
	}
	return rules, nil
}

// directives splits a SecLang file into directives: continuation lines
// (ending in a backslash) joined, comments and blank lines dropped.
func directives(s string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimRight(line, "\r")
		trim := strings.TrimSpace(line)
		if cur.Len() == 0 && (trim == "" || strings.HasPrefix(trim, "#")) {
			continue
		}
		if strings.HasSuffix(trim, "\\") {
			cur.WriteString(strings.TrimSuffix(trim, "\\"))
			cur.WriteByte(' ')
			continue
		}
		cur.WriteString(trim)
		out = append(out, cur.String())
		cur.Reset()
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}
