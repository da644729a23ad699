//go:build !race

package waf

// raceSlowdown scales the time budgets of the cost tests (1 without the
// race detector).
const raceSlowdown = 1
