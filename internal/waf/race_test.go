//go:build race

package waf

// raceSlowdown scales the time budgets of the cost tests: the race
// detector makes Coraza several times slower.
const raceSlowdown = 20
