//go:build !race

package redteam20

// raceSlowdown scales the cost test's time budgets (1 without the race
// detector).
const raceSlowdown = 1
