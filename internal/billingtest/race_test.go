//go:build race

package billingtest

// raceEnabled shortens the money-invariant run under the race detector,
// which makes every step several times slower.
const raceEnabled = true
