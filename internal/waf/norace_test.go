//go:build !race

package waf

// raceSlowdown scales the time budgets of the cost tests (1 without the
// race detector).
const raceSlowdown = 1

// soundnessShare: the soundness test checks its full count of generated requests.
const soundnessShare = 1
