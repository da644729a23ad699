package core

import (
	"net/mail"
	"net/netip"
	"strings"

	"github.com/palisadehq/palisade/internal/netutil"
)

// parsePrefix accepts an IP (a single-address prefix) or a CIDR.
func parsePrefix(s string) (netip.Prefix, error) { return netutil.ParsePrefix(s) }

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// normalizeEmail checks an address is a plain addr-spec and lowercases it.
func normalizeEmail(in string) (string, error) {
	s := strings.TrimSpace(in)
	if s == "" {
		return "", FieldError("email", "email is required")
	}
	if len(s) > 254 {
		return "", FieldError("email", "email is longer than 254 characters")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
		return "", FieldError("email", "%q is not a valid email address", in)
	}
	return strings.ToLower(s), nil
}

// checkText validates a free-text field's length and refuses control
// characters, which have no place in names and addresses.
func checkText(field, v string, max int) error {
	if len(v) > max {
		return FieldError(field, "%s is longer than %d characters", field, max)
	}
	for _, r := range v {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return FieldError(field, "%s contains a control character", field)
		}
	}
	return nil
}
