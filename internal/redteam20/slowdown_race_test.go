//go:build race

package redteam20

// raceSlowdown scales the cost test's time budgets: under the race
// detector every memory access is instrumented, and the previews' queries
// (SQLite in process) run several times slower.
const raceSlowdown = 8
