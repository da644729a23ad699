package waf

// prefilterClean reports whether in holds nothing any CRS request rule
// could match, so the full evaluation can be skipped.
func prefilterClean(in *Input) bool { return false }
