package waf

import "time"

// EvaluatePatches runs only virtual patches on in, for a website whose
// Core Rule Set is off by its settings while its host's patches still
// apply (a plan without the firewall has neither).
func EvaluatePatches(in *Input, sets []*PatchSet, now time.Time) Result {
	var res Result
	for _, ps := range sets {
		if ps != nil {
			ps.evaluate(in, now, &res)
		}
	}
	return res
}
