//go:build !race

package redteam19

// raceSlowdown scales the time budgets of the cost tests (1 without the
// race detector).
const raceSlowdown = 1
