package partnerapi

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	cases := []struct {
		remote, xff string
		trusted     []netip.Prefix
		want        string
	}{
		{"203.0.113.7:5555", "", nil, "203.0.113.7"},
		{"203.0.113.7:5555", "198.51.100.1", nil, "203.0.113.7"},                      // no trusted proxy: XFF ignored
		{"203.0.113.7:5555", "198.51.100.1", trusted, "203.0.113.7"},                  // peer is not a proxy: XFF ignored
		{"10.1.2.3:5555", "198.51.100.1", trusted, "198.51.100.1"},                    // one trusted hop
		{"10.1.2.3:5555", "1.1.1.1, 198.51.100.1, 10.9.9.9", trusted, "198.51.100.1"}, // spoofed left entries are skipped
		{"10.1.2.3:5555", "garbage", trusted, "10.1.2.3"},
		{"[::ffff:203.0.113.9]:1", "", nil, "203.0.113.9"},
		{"[::1]:1", "2001:db8::5", trusted, "2001:db8::5"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := ClientIP(r, c.trusted).String(); got != c.want {
			t.Errorf("ClientIP(%s, XFF %q) = %s; want %s", c.remote, c.xff, got, c.want)
		}
	}
}
