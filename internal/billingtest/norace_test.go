//go:build !race

package billingtest

const raceEnabled = false
