package patchcheck

import (
	"fmt"
	"math"
	"strings"
)

// Severity is a qualitative rating: critical, high, medium, low, none
// (a CVSS score of 0.0) or unknown.
type Severity string

const (
	SeverityCritical Severity = "critical"
	SeverityHigh     Severity = "high"
	SeverityMedium   Severity = "medium"
	SeverityLow      Severity = "low"
	SeverityNone     Severity = "none"
	SeverityUnknown  Severity = "unknown"
)

// Rank orders severities: critical 5, high 4, medium 3, low 2, unknown 1,
// none 0. Unknown ranks above none because an advisory without a rating
// still names a flaw.
func (s Severity) Rank() int {
	switch s {
	case SeverityCritical:
		return 5
	case SeverityHigh:
		return 4
	case SeverityMedium:
		return 3
	case SeverityLow:
		return 2
	case SeverityNone:
		return 0
	}
	return 1
}

// SeverityFromScore maps a CVSS v3 base score to its rating (CVSS 3.1
// specification, section 5): 0.0 none, 0.1-3.9 low, 4.0-6.9 medium,
// 7.0-8.9 high, 9.0-10.0 critical.
func SeverityFromScore(score float64) Severity {
	switch {
	case score >= 9.0:
		return SeverityCritical
	case score >= 7.0:
		return SeverityHigh
	case score >= 4.0:
		return SeverityMedium
	case score > 0:
		return SeverityLow
	}
	return SeverityNone
}

// CVSS3BaseScore computes the base score of a CVSS v3.0 or v3.1 vector
// ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" is 9.8) with the
// formulas of the CVSS 3.1 specification, section 7.1, and its Roundup
// (section Appendix A), which 3.1 introduced to avoid floating-point
// surprises and which gives 3.0's results on valid vectors. Temporal and
// environmental metrics in the vector are accepted and ignored; a missing,
// repeated or unknown base metric is an error.
func CVSS3BaseScore(vector string) (float64, error) {
	parts := strings.Split(strings.TrimSpace(vector), "/")
	if len(parts) == 0 || (parts[0] != "CVSS:3.1" && parts[0] != "CVSS:3.0") {
		return 0, fmt.Errorf("patchcheck: not a CVSS v3 vector: %q", vector)
	}
	weights := map[string]map[string]float64{
		"AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
		"AC": {"L": 0.77, "H": 0.44},
		"PR": {"N": 0.85, "L": 0.62, "H": 0.27}, // L and H change with S:C
		"UI": {"N": 0.85, "R": 0.62},
		"S":  {"U": 0, "C": 1},
		"C":  {"H": 0.56, "L": 0.22, "N": 0},
		"I":  {"H": 0.56, "L": 0.22, "N": 0},
		"A":  {"H": 0.56, "L": 0.22, "N": 0},
	}
	got := map[string]string{}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, ":")
		if !ok {
			return 0, fmt.Errorf("patchcheck: CVSS vector %q: malformed metric %q", vector, p)
		}
		if _, seen := got[k]; seen {
			return 0, fmt.Errorf("patchcheck: CVSS vector %q: metric %s repeated", vector, k)
		}
		got[k] = v
		if w, base := weights[k]; base {
			if _, ok := w[v]; !ok {
				return 0, fmt.Errorf("patchcheck: CVSS vector %q: %s:%s is not a valid value", vector, k, v)
			}
		}
	}
	for k := range weights {
		if _, ok := got[k]; !ok {
			return 0, fmt.Errorf("patchcheck: CVSS vector %q: base metric %s missing", vector, k)
		}
	}
	changed := got["S"] == "C"
	pr := weights["PR"][got["PR"]]
	if changed {
		switch got["PR"] {
		case "L":
			pr = 0.68
		case "H":
			pr = 0.5
		}
	}
	c, i, a := weights["C"][got["C"]], weights["I"][got["I"]], weights["A"][got["A"]]
	iss := 1 - (1-c)*(1-i)*(1-a)
	var impact float64
	if changed {
		impact = 7.52*(iss-0.029) - 3.25*math.Pow(iss-0.02, 15)
	} else {
		impact = 6.42 * iss
	}
	exploitability := 8.22 * weights["AV"][got["AV"]] * weights["AC"][got["AC"]] * pr * weights["UI"][got["UI"]]
	if impact <= 0 {
		return 0, nil
	}
	if changed {
		return roundup(math.Min(1.08*(impact+exploitability), 10)), nil
	}
	return roundup(math.Min(impact+exploitability, 10)), nil
}

// roundup is CVSS 3.1's Roundup: the smallest number with one decimal
// place that is equal to or higher than its input, computed on integers.
func roundup(x float64) float64 {
	n := int64(math.Round(x * 100000))
	if n%10000 == 0 {
		return float64(n) / 100000
	}
	return float64(n/10000+1) / 10
}
