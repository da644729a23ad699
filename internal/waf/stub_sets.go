package waf

// STUB (owner: the sets helper): delete each piece as it is implemented.

// Sets lists the ready exclusion sets.
func Sets() []ExclusionSet { return nil }

// prefilterClean reports whether in holds nothing any CRS request rule
// could match, so the full evaluation can be skipped.
func prefilterClean(in *Input) bool { return false }
