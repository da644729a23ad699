package web

import (
	"strconv"
	"testing"
)

// TestReadableBrand: a colour that reads well stays; a light one is
// darkened until white on it and it on white reach 4.5:1; junk becomes
// the default.
func TestReadableBrand(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"#2f5bd3", "#2f5bd3"}, {"#1d2330", "#1d2330"}, {"#000000", "#000000"},
		{"red", "#2f5bd3"}, {"#12345", "#2f5bd3"}, {"#zzzzzz", "#2f5bd3"},
	} {
		if got := readableBrand(c.in); got != c.want {
			t.Errorf("readableBrand(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, light := range []string{"#ffff00", "#ffffff", "#f0c040", "#88ccff", "#00ff00"} {
		got := readableBrand(light)
		if got == light {
			t.Errorf("%s kept: it does not reach 4.5:1 on white", light)
		}
		v, _ := strconv.ParseUint(got[1:], 16, 32)
		if ratio := contrastOnWhite(float64(v>>16&0xff), float64(v>>8&0xff), float64(v&0xff)); ratio < 4.5 {
			t.Errorf("readableBrand(%s) = %s: contrast %.2f", light, got, ratio)
		}
	}
}
