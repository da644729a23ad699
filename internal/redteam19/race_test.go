//go:build race

package redteam19

// raceSlowdown scales the time budgets of the cost tests: the race
// detector makes the firewall's code several times slower.
const raceSlowdown = 20
