package patchcheck

import (
	"fmt"
	"sort"
)

// Report is what Check found, install by install.
type Report struct {
	Installs []InstallReport `json:"installs"`
}

// InstallReport is one install's components (the core first), sorted by
// their worst severity, then by type and slug.
type InstallReport struct {
	CMS        CMS               `json:"cms"`
	Root       string            `json:"root"`
	Components []ComponentReport `json:"components"`
}

// ComponentReport is one component's standing against the feed.
type ComponentReport struct {
	Component
	// Assessed is false when the installed version is missing or cannot
	// be ordered ("1.x-dev", "trunk"); Note says why, and nothing else
	// is reported for it.
	Assessed bool   `json:"assessed"`
	Note     string `json:"note,omitempty"`
	// Outdated is set when the feed knows a fixed version of this
	// component higher than the installed one; LatestFixed is the
	// highest such version.
	Outdated        bool      `json:"outdated"`
	LatestFixed     string    `json:"latest_fixed,omitempty"`
	Severity        Severity  `json:"severity,omitempty"` // the worst of Vulnerabilities; "" when none
	Vulnerabilities []Finding `json:"vulnerabilities,omitempty"`
}

// Finding is one advisory affecting an installed version.
type Finding struct {
	ID       string   `json:"id"`
	Aliases  []string `json:"aliases,omitempty"`
	Summary  string   `json:"summary,omitempty"`
	Severity Severity `json:"severity"`
	Score    float64  `json:"score,omitempty"`  // CVSS v3 base score, when a vector gave it
	Vector   string   `json:"vector,omitempty"` // that vector
	Fixed    string   `json:"fixed,omitempty"`  // the first fixed version above the installed one, when the feed names it
}

// Check judges every component of inv against feed. The result depends
// only on its inputs: the same inventory and feed give the same report.
func Check(inv Inventory, feed *Feed) Report {
	var rep Report
	for _, in := range inv.Installs {
		ir := InstallReport{CMS: in.CMS, Root: in.Root}
		ir.Components = append(ir.Components, checkComponent(in.CMS, in.Core, feed))
		var rest []ComponentReport
		for _, c := range in.Components {
			rest = append(rest, checkComponent(in.CMS, c, feed))
		}
		sort.SliceStable(rest, func(i, j int) bool {
			a, b := rest[i], rest[j]
			if ra, rb := severityRank(a), severityRank(b); ra != rb {
				return ra > rb
			}
			if a.Type != b.Type {
				return a.Type < b.Type
			}
			if a.Slug != b.Slug {
				return a.Slug < b.Slug
			}
			return a.Path < b.Path
		})
		ir.Components = append(ir.Components, rest...)
		rep.Installs = append(rep.Installs, ir)
	}
	return rep
}

// severityRank ranks a component: no finding sorts below every finding.
func severityRank(c ComponentReport) int {
	if len(c.Vulnerabilities) == 0 {
		return -1
	}
	return c.Severity.Rank()
}

func checkComponent(cms CMS, c Component, feed *Feed) ComponentReport {
	cr := ComponentReport{Component: c}
	if c.Version == "" {
		cr.Note = "no version found"
		return cr
	}
	v, err := ParseVersion(c.Version)
	if err != nil {
		cr.Note = fmt.Sprintf("version %q cannot be ordered", c.Version)
		return cr
	}
	cr.Assessed = true
	if feed == nil {
		return cr
	}
	byID := map[string]int{}
	var latest Version
	unusable := 0
	for _, k := range feed.names.packages(cms, c) {
		for _, ref := range feed.byPkg[k] {
			for _, fx := range ref.aff.fixedVersions() {
				if fx.Compare(v) > 0 && (latest.IsZero() || fx.Compare(latest) > 0) {
					latest = fx
				}
			}
			hit, fixed, bad := ref.aff.affects(v)
			unusable += bad
			if !hit {
				continue
			}
			sev, score, vector := severity(ref.rec, ref.aff)
			f := Finding{
				ID: ref.rec.ID, Aliases: append([]string(nil), ref.rec.Aliases...), Summary: ref.rec.Summary,
				Severity: sev, Score: score, Vector: vector, Fixed: fixed,
			}
			sort.Strings(f.Aliases)
			if i, dup := byID[f.ID]; dup {
				cr.Vulnerabilities[i] = mergeFinding(cr.Vulnerabilities[i], f)
				continue
			}
			byID[f.ID] = len(cr.Vulnerabilities)
			cr.Vulnerabilities = append(cr.Vulnerabilities, f)
		}
	}
	if unusable > 0 {
		cr.Note = fmt.Sprintf("%d advisory ranges or versions for this component could not be read", unusable)
	}
	if !latest.IsZero() {
		cr.Outdated, cr.LatestFixed = true, latest.String()
	}
	sort.SliceStable(cr.Vulnerabilities, func(i, j int) bool {
		a, b := cr.Vulnerabilities[i], cr.Vulnerabilities[j]
		if a.Severity.Rank() != b.Severity.Rank() {
			return a.Severity.Rank() > b.Severity.Rank()
		}
		if a.Score != b.Score {
			return a.Score > b.Score
		}
		return a.ID < b.ID
	})
	if len(cr.Vulnerabilities) > 0 {
		cr.Severity = cr.Vulnerabilities[0].Severity
	}
	return cr
}

// mergeFinding joins one advisory seen under two packages (or two
// affected entries): the graver rating, and the lower fix that is known.
func mergeFinding(a, b Finding) Finding {
	if b.Severity.Rank() > a.Severity.Rank() || (b.Severity == a.Severity && b.Score > a.Score) {
		a.Severity, a.Score, a.Vector = b.Severity, b.Score, b.Vector
	}
	if a.Fixed == "" {
		a.Fixed = b.Fixed
	} else if b.Fixed != "" {
		if c, err := CompareVersions(b.Fixed, a.Fixed); err == nil && c < 0 {
			a.Fixed = b.Fixed
		}
	}
	return a
}
