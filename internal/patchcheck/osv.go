package patchcheck

import (
	"encoding/json"
	"strings"
)

// Record is one OSV advisory (https://ossf.github.io/osv-schema/), with
// the fields the patch check reads. Unknown fields are ignored.
type Record struct {
	SchemaVersion    string          `json:"schema_version,omitempty"`
	ID               string          `json:"id"`
	Modified         string          `json:"modified,omitempty"`
	Published        string          `json:"published,omitempty"`
	Withdrawn        string          `json:"withdrawn,omitempty"`
	Aliases          []string        `json:"aliases,omitempty"`
	Related          []string        `json:"related,omitempty"`
	Summary          string          `json:"summary,omitempty"`
	Details          string          `json:"details,omitempty"`
	Severity         []OSVSeverity   `json:"severity,omitempty"`
	Affected         []Affected      `json:"affected,omitempty"`
	References       []Reference     `json:"references,omitempty"`
	DatabaseSpecific json.RawMessage `json:"database_specific,omitempty"`
}

// OSVSeverity is one entry of a record's (or an affected package's)
// severity list; for type CVSS_V3 the score is a vector string.
type OSVSeverity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

// Affected is one affected package with its vulnerable versions.
type Affected struct {
	Package           Package         `json:"package"`
	Severity          []OSVSeverity   `json:"severity,omitempty"`
	Ranges            []Range         `json:"ranges,omitempty"`
	Versions          []string        `json:"versions,omitempty"`
	EcosystemSpecific json.RawMessage `json:"ecosystem_specific,omitempty"`
	DatabaseSpecific  json.RawMessage `json:"database_specific,omitempty"`
}

// Package names a package in an ecosystem.
type Package struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	Purl      string `json:"purl,omitempty"`
}

// Range is a list of events over versions; the patch check evaluates
// ranges of type ECOSYSTEM and SEMVER (GIT ranges name commits, which a
// website's files do not carry).
type Range struct {
	Type   string  `json:"type"`
	Repo   string  `json:"repo,omitempty"`
	Events []Event `json:"events"`
}

// Event is one of introduced, fixed, last_affected or limit.
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// Reference is a link about the advisory.
type Reference struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

// affects reports whether version v is affected according to a, following
// the evaluation in the OSV schema: v is affected when it is listed in
// versions, or when some ECOSYSTEM/SEMVER range, its events sorted by
// version, leaves v affected. fixed is the fixed version of the range
// that matched, if it names one above v. Events whose versions do not
// parse make the range unusable; bad counts them.
func (a *Affected) affects(v Version) (affected bool, fixed string, bad int) {
	for _, s := range a.Versions {
		w, err := ParseVersion(s)
		if err != nil {
			bad++
			continue
		}
		if w.Compare(v) == 0 {
			affected = true
		}
	}
	for _, r := range a.Ranges {
		t := strings.ToUpper(r.Type)
		if t != "ECOSYSTEM" && t != "SEMVER" {
			continue
		}
		hit, fix, ok := rangeAffects(r.Events, v)
		if !ok {
			bad++
			continue
		}
		if hit {
			if !affected || fixed == "" {
				fixed = fix
			}
			affected = true
		}
	}
	return affected, fixed, bad
}

type parsedEvent struct {
	kind string // introduced, fixed, last_affected, limit
	zero bool   // introduced "0"
	v    Version
}

// rangeAffects applies the OSV evaluation to one range.
func rangeAffects(events []Event, v Version) (affected bool, fixed string, ok bool) {
	evs := make([]parsedEvent, 0, len(events))
	for _, e := range events {
		var pe parsedEvent
		var s string
		switch {
		case e.Introduced != "":
			pe.kind, s = "introduced", e.Introduced
		case e.Fixed != "":
			pe.kind, s = "fixed", e.Fixed
		case e.LastAffected != "":
			pe.kind, s = "last_affected", e.LastAffected
		case e.Limit != "":
			pe.kind, s = "limit", e.Limit
		default:
			continue
		}
		if pe.kind == "introduced" && s == "0" {
			pe.zero = true
		} else if pe.kind == "limit" && s == "*" {
			continue // no limit
		} else {
			w, err := ParseVersion(s)
			if err != nil {
				return false, "", false
			}
			pe.v = w
		}
		evs = append(evs, pe)
	}
	// Insertion sort keeps the order of equal versions as the record
	// gave them; introduced "0" comes first.
	for i := 1; i < len(evs); i++ {
		for j := i; j > 0 && eventLess(evs[j], evs[j-1]); j-- {
			evs[j], evs[j-1] = evs[j-1], evs[j]
		}
	}
	for _, e := range evs {
		switch e.kind {
		case "introduced":
			if e.zero || v.Compare(e.v) >= 0 {
				affected = true
			}
		case "fixed":
			if v.Compare(e.v) >= 0 {
				affected = false
			}
		case "last_affected":
			if v.Compare(e.v) > 0 {
				affected = false
			}
		case "limit":
			if v.Compare(e.v) >= 0 {
				affected = false
			}
		}
	}
	if affected {
		// The fix is the first fixed event above v.
		for _, e := range evs {
			if e.kind == "fixed" && e.v.Compare(v) > 0 {
				return true, e.v.String(), true
			}
		}
	}
	return affected, "", true
}

func eventLess(a, b parsedEvent) bool {
	if a.zero || b.zero {
		return a.zero && !b.zero
	}
	return a.v.Compare(b.v) < 0
}

// fixedVersions lists every fixed event of a's usable ranges.
func (a *Affected) fixedVersions() []Version {
	var out []Version
	for _, r := range a.Ranges {
		t := strings.ToUpper(r.Type)
		if t != "ECOSYSTEM" && t != "SEMVER" {
			continue
		}
		for _, e := range r.Events {
			if e.Fixed == "" {
				continue
			}
			if v, err := ParseVersion(e.Fixed); err == nil {
				out = append(out, v)
			}
		}
	}
	return out
}

// severity rates an advisory for one affected package: a CVSS v3 vector
// (the package's own, else the record's) computed to its base score;
// else a "severity" word in the package's database_specific or
// ecosystem_specific, or the record's database_specific (GitHub's
// "MODERATE" is medium); else unknown.
func severity(r *Record, a *Affected) (Severity, float64, string) {
	for _, list := range [][]OSVSeverity{a.Severity, r.Severity} {
		for _, s := range list {
			if !strings.EqualFold(s.Type, "CVSS_V3") {
				continue
			}
			if score, err := CVSS3BaseScore(s.Score); err == nil {
				return SeverityFromScore(score), score, s.Score
			}
		}
	}
	for _, raw := range []json.RawMessage{a.DatabaseSpecific, a.EcosystemSpecific, r.DatabaseSpecific} {
		if sev := severityWord(raw); sev != SeverityUnknown {
			return sev, 0, ""
		}
	}
	return SeverityUnknown, 0, ""
}

func severityWord(raw json.RawMessage) Severity {
	if len(raw) == 0 {
		return SeverityUnknown
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return SeverityUnknown
	}
	for k, v := range m {
		if !strings.EqualFold(k, "severity") {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			return SeverityUnknown
		}
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "critical":
			return SeverityCritical
		case "high", "important":
			return SeverityHigh
		case "medium", "moderate":
			return SeverityMedium
		case "low":
			return SeverityLow
		}
	}
	return SeverityUnknown
}
