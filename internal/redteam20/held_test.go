package redteam20

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/i18n"
)

// HELD: data filled into a translated message is not executed: a user
// agent or path holding template actions is shown as written.
func TestHeld_MessageDataIsNotATemplate(t *testing.T) {
	for _, v := range []string{`{{.V}}`, `{{printf "%s" "x"}}`, `{{template "a"}}`, `<script>`} {
		for _, l := range i18n.Languages {
			if got := i18n.T(l, "event.quote", map[string]any{"V": v}); !strings.Contains(got, v) {
				t.Errorf("%s: %q became %q", l, v, got)
			}
			if got := i18n.T(l, "event.allow.path.title", map[string]any{"Value": v}); !strings.Contains(got, v) {
				t.Errorf("%s: %q became %q", l, v, got)
			}
		}
	}
}

// HELD: a hostile Accept-Language (huge, malformed, many tags) is cheap
// and picks a supported language or none.
func TestHeld_AcceptLanguageIsBounded(t *testing.T) {
	for _, h := range []string{strings.Repeat("de-DE-x-abcdefgh,", 100000), strings.Repeat("a", 1<<20), "de;q=1" + strings.Repeat(";q=0.5", 50000), "xx-" + strings.Repeat("a-", 50000)} {
		t0 := time.Now()
		l := i18n.Negotiate(h)
		if d := time.Since(t0); d > 50*time.Millisecond {
			t.Errorf("Negotiate of %d bytes took %v", len(h), d)
		}
		if l != "" && !i18n.Supported(l) {
			t.Errorf("Negotiate gave %q", l)
		}
	}
}

// HELD: "allow this path" never offers "/" (the whole site), whatever
// spelling of it the visitor sent; an IPv4-mapped client is offered as its
// IPv4 address and /24.
func TestHeld_AllowThisNeverOffersTheRoot(t *testing.T) {
	for _, p := range []string{"", "/", "//", "/%2f", "/;a", "/./", "/a/..", "/%2e", "/\\", "/%5c", "/a%2f..%2f..", "/?x", "/#", "/..;/", "x"} {
		for _, o := range core.PathPrefixes(p) {
			if o == "/" || o == "" {
				t.Errorf("%q offers %q", p, o)
			}
		}
	}
	if n := core.Network(netip.MustParseAddr("::ffff:203.0.113.7")); n.String() != "203.0.113.0/24" {
		t.Errorf("IPv4-mapped client's network: %s", n)
	}
	if n := core.Network(netip.MustParseAddr("2001:db8:0:1::5")); n.String() != "2001:db8:0:1::/64" {
		t.Errorf("IPv6 client's network: %s", n)
	}
}
