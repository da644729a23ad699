package netutil

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientAddr(t *testing.T) {
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
		{"garbage", "", trusted, "invalid IP"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := ClientAddr(r, c.trusted).String(); got != c.want {
			t.Errorf("ClientAddr(%s, XFF %q) = %s; want %s", c.remote, c.xff, got, c.want)
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:1"
	r.Header.Set("X-Real-Ip", "198.51.100.3")
	r.Header.Set("X-Forwarded-For", "203.0.113.1")
	if got := ClientAddr(r, Loopback).String(); got != "198.51.100.3" {
		t.Errorf("X-Real-IP from a trusted proxy: %s", got)
	}
	r.RemoteAddr = "192.0.2.1:1"
	if got := ClientAddr(r, Loopback).String(); got != "192.0.2.1" {
		t.Errorf("X-Real-IP from an untrusted peer was believed: %s", got)
	}
}

func TestParsePrefix(t *testing.T) {
	for in, want := range map[string]string{"10.1.2.3": "10.1.2.3/32", "10.1.2.3/8": "10.0.0.0/8", "::ffff:10.0.0.1": "10.0.0.1/32", "::ffff:10.0.0.0/104": "10.0.0.0/8", "2001:db8::1/32": "2001:db8::/32"} {
		p, err := ParsePrefix(in)
		if err != nil || p.String() != want {
			t.Errorf("ParsePrefix(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
	for _, bad := range []string{"", "10.0.0.0/33", "nope", "1.2.3"} {
		if _, err := ParsePrefix(bad); err == nil {
			t.Errorf("ParsePrefix(%q) succeeded", bad)
		}
	}
}
