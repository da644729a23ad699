package core

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Cents is an amount of money in hundredths of the partner's currency. Money
// is never a float in Palisade.
type Cents int64

// String formats the amount as a decimal with two places: 1500.26, -3.50.
func (c Cents) String() string {
	sign := ""
	v := int64(c)
	if v < 0 {
		sign = "-"
		v = -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// MarshalJSON writes the amount as a decimal string, so that no client parses
// money into a float by accident.
func (c Cents) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

// ParseCents parses "12", "12.5", "12.50" or "-3.25" into cents. More than two
// decimal places, exponents and anything else are refused.
func ParseCents(s string) (Cents, error) {
	s = strings.TrimSpace(s)
	orig := s
	if s == "" {
		return 0, fmt.Errorf("amount is empty")
	}
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || (hasDot && (frac == "" || len(frac) > 2)) {
		return 0, fmt.Errorf("amount %q must look like 12.34", orig)
	}
	for _, r := range whole + frac {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("amount %q must look like 12.34", orig)
		}
	}
	if len(frac) == 1 {
		frac += "0"
	}
	if frac == "" {
		frac = "00"
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > 1e13 {
		return 0, fmt.Errorf("amount %q is too large", orig)
	}
	f, _ := strconv.ParseInt(frac, 10, 64)
	v := w*100 + f
	if neg {
		v = -v
	}
	return Cents(v), nil
}
