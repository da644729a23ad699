//go:build race

package waf

// raceSlowdown scales the time budgets of the cost tests: the race
// detector makes Coraza several times slower.
const raceSlowdown = 20

// soundnessShare: under the race detector the soundness test checks a tenth as many generated requests (the same code paths; the
// full count runs in the ordinary test run).
const soundnessShare = 10
