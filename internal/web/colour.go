package web

import (
	"fmt"
	"math"
	"strconv"
)

// readableBrand returns the partner's colour (#rrggbb) darkened, when it
// must be, until white text on it, and it as text on white, reach WCAG's
// 4.5:1: the pages use the brand colour for links and for buttons with
// white text, and a partner may pick a light colour (a yellow, a pastel).
// A colour that already reads well is returned unchanged; anything that
// is not #rrggbb becomes the default blue.
func readableBrand(hex string) string {
	const fallback = "#2f5bd3"
	if len(hex) != 7 || hex[0] != '#' {
		return fallback
	}
	v, err := strconv.ParseUint(hex[1:], 16, 32)
	if err != nil {
		return fallback
	}
	r, g, b := float64(v>>16&0xff), float64(v>>8&0xff), float64(v&0xff)
	for i := 0; i < 100 && contrastOnWhite(r, g, b) < 4.5; i++ {
		r, g, b = r*0.95, g*0.95, b*0.95
	}
	if uint64(r)<<16|uint64(g)<<8|uint64(b) == v {
		return hex
	}
	return fmt.Sprintf("#%02x%02x%02x", int(r), int(g), int(b))
}

// contrastOnWhite is the WCAG 2 contrast ratio of a colour against white.
func contrastOnWhite(r, g, b float64) float64 {
	lin := func(c float64) float64 {
		c /= 255
		if c <= 0.03928 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	l := 0.2126*lin(math.Floor(r)) + 0.7152*lin(math.Floor(g)) + 0.0722*lin(math.Floor(b))
	return 1.05 / (l + 0.05)
}
