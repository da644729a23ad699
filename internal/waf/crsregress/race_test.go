//go:build race

package crsregress

const raceEnabled = true
