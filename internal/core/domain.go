package core

import (
	"net/netip"
	"strings"

	"golang.org/x/net/idna"
)

// idnaProfile maps Unicode input the way browsers look names up (case folding,
// width mapping) and checks the result is a valid registrable host name.
var idnaProfile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.ValidateLabels(true),
	idna.StrictDomainName(true),
	idna.Transitional(false),
)

// NormalizeDomain validates a website's domain and returns its canonical form:
// lower case, internationalised labels in punycode (xn--), no trailing dot.
// A scheme, path, port, user info or IP address is refused with a message
// that says which, so a panel's operator can fix the input.
func NormalizeDomain(in string) (string, error) {
	s := strings.TrimSpace(in)
	switch {
	case s == "":
		return "", FieldError("domain", "domain is required")
	case strings.Contains(s, "://"):
		return "", FieldError("domain", "domain %q must not include a scheme such as https://; send only the host name", in)
	case strings.ContainsAny(s, "/?#"):
		return "", FieldError("domain", "domain %q must not include a path, query or fragment; send only the host name", in)
	case strings.Contains(s, "@"):
		return "", FieldError("domain", "domain %q must not include user information", in)
	case strings.Contains(s, ":") || strings.HasPrefix(s, "["):
		if _, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
			return "", FieldError("domain", "domain %q is an IP address; register a host name", in)
		}
		return "", FieldError("domain", "domain %q must not include a port", in)
	case strings.ContainsAny(s, " \t\r\n"):
		return "", FieldError("domain", "domain %q must not contain spaces", in)
	}
	s = strings.TrimSuffix(s, ".")
	if strings.HasPrefix(s, "*.") {
		return "", FieldError("domain", "domain %q: wildcards are not supported; register each host name", in)
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return "", FieldError("domain", "domain %q is an IP address; register a host name", in)
	}
	ascii, err := idnaProfile.ToASCII(s)
	if err != nil {
		return "", FieldError("domain", "domain %q is not a valid host name: %s", in, idnaReason(err))
	}
	ascii = strings.ToLower(ascii)
	if len(ascii) > 253 {
		return "", FieldError("domain", "domain is %d characters long; at most 253 are allowed", len(ascii))
	}
	labels := strings.Split(ascii, ".")
	if len(labels) < 2 {
		return "", FieldError("domain", "domain %q needs at least two labels, such as example.com", in)
	}
	for _, l := range labels {
		if l == "" {
			return "", FieldError("domain", "domain %q has an empty label", in)
		}
		if len(l) > 63 {
			return "", FieldError("domain", "domain %q has a label longer than 63 characters", in)
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return "", FieldError("domain", "domain %q has a label that starts or ends with a hyphen", in)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", FieldError("domain", "domain %q contains the character %q, which a host name cannot", in, string(c))
			}
		}
	}
	tld := labels[len(labels)-1]
	if strings.Trim(tld, "0123456789") == "" {
		return "", FieldError("domain", "domain %q has an all-numeric top-level label", in)
	}
	return ascii, nil
}

func idnaReason(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "idna: ")
	return msg
}
