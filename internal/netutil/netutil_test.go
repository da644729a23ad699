package netutil

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestForwardedFor(t *testing.T) {
	trusted := Trusted{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	cases := []struct {
		remote, xff string
		trusted     Trusted
		want        string
	}{
		{"203.0.113.7:5555", "", nil, "203.0.113.7"},
		{"203.0.113.7:5555", "198.51.100.1", nil, "203.0.113.7"},                      // no trusted proxy: XFF ignored
		{"203.0.113.7:5555", "198.51.100.1", trusted, "203.0.113.7"},                  // peer is not a proxy: XFF ignored
		{"10.1.2.3:5555", "198.51.100.1", trusted, "198.51.100.1"},                    // one trusted hop
		{"10.1.2.3:5555", "1.1.1.1, 198.51.100.1, 10.9.9.9", trusted, "198.51.100.1"}, // spoofed left entries are skipped
		{"10.1.2.3:5555", "garbage", trusted, "10.1.2.3"},
		{"10.1.2.3:5555", "garbage, 10.4.4.4", trusted, "10.4.4.4"},     // last trusted hop before the garbage
		{"10.1.2.3:5555", "10.7.7.7, 10.4.4.4", trusted, "10.7.7.7"},    // every hop trusted: the left-most
		{"10.1.2.3:5555", "198.51.100.1:4711", trusted, "198.51.100.1"}, // with a port
		{"10.1.2.3:5555", "[2001:db8::7]:443", trusted, "2001:db8::7"},
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
		if got := ForwardedFor(r, c.trusted).String(); got != c.want {
			t.Errorf("ForwardedFor(%s, XFF %q) = %s; want %s", c.remote, c.xff, got, c.want)
		}
	}
	// Several X-Forwarded-For lines are one list, in order.
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.1.2.3:1"
	r.Header.Add("X-Forwarded-For", "6.6.6.6, 198.51.100.2")
	r.Header.Add("X-Forwarded-For", "10.8.8.8")
	if got := ForwardedFor(r, trusted).String(); got != "198.51.100.2" {
		t.Errorf("two XFF lines: %s", got)
	}
}

// TestForgedRealIPThroughTrustedProxy is issue 16 item 4: behind a load
// balancer that sets only X-Forwarded-For, a client's own X-Real-IP must not
// become its address.
func TestForgedRealIPThroughTrustedProxy(t *testing.T) {
	lb, _ := ParseProxy("10.0.0.5")
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.5:40000"
	r.Header.Set("X-Real-Ip", "192.0.2.10") // the stolen key's bound address
	r.Header.Set("X-Forwarded-For", "203.0.113.66")
	if got := ClientAddr(r, Proxies{lb}).String(); got != "203.0.113.66" {
		t.Fatalf("forged X-Real-IP through an X-Forwarded-For proxy: client %s, want 203.0.113.66", got)
	}
	if got := HeaderAddr(r, Trusted{lb.Prefix}, XRealIP).String(); got != "192.0.2.10" {
		t.Fatalf("HeaderAddr: %s", got)
	}
	if got := ForwardedFor(r, Trusted{lb.Prefix}).String(); got != "203.0.113.66" {
		t.Fatalf("ForwardedFor read X-Real-IP: %s", got)
	}
}

func TestClientAddrPerProxyHeader(t *testing.T) {
	parse := func(s string) Proxy {
		p, err := ParseProxy(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	proxies := Proxies{parse("10.0.0.0/8"), parse("10.0.9.9=X-Real-IP"), parse("::1")}
	cases := []struct {
		remote, realIP, xff, want string
	}{
		{"203.0.113.7:1", "198.51.100.1", "198.51.100.2", "203.0.113.7"},                // not a proxy: nothing believed
		{"10.1.1.1:1", "198.51.100.1", "198.51.100.2", "198.51.100.2"},                  // XFF proxy: X-Real-IP ignored
		{"10.1.1.1:1", "198.51.100.1", "", "10.1.1.1"},                                  // XFF proxy without XFF: the proxy
		{"10.1.1.1:1", "", "6.6.6.6, 198.51.100.2, 10.2.2.2, 10.3.3.3", "198.51.100.2"}, // several hops
		{"10.0.9.9:1", "198.51.100.1", "198.51.100.2", "198.51.100.1"},                  // X-Real-IP proxy (most specific entry)
		{"10.0.9.9:1", "", "198.51.100.2", "10.0.9.9"},                                  // ... which did not set it
		{"10.0.9.9:1", "not-an-ip", "", "10.0.9.9"},
		{"[::1]:1", "", "2001:db8::9", "2001:db8::9"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		if c.realIP != "" {
			r.Header.Set("X-Real-Ip", c.realIP)
		}
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := ClientAddr(r, proxies).String(); got != c.want {
			t.Errorf("ClientAddr(%s, X-Real-IP %q, XFF %q) = %s; want %s", c.remote, c.realIP, c.xff, got, c.want)
		}
	}
	// Two X-Real-IP lines are not one address.
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.9.9:1"
	r.Header.Add("X-Real-Ip", "198.51.100.1")
	r.Header.Add("X-Real-Ip", "198.51.100.3")
	if got := ClientAddr(r, proxies).String(); got != "10.0.9.9" {
		t.Errorf("two X-Real-IP lines: %s", got)
	}
}

func TestParseProxy(t *testing.T) {
	for in, want := range map[string]string{"10.0.0.5": "10.0.0.5/32", "10.0.0.0/24=X-Real-IP": "10.0.0.0/24=X-Real-Ip", "10.0.0.5=x-forwarded-for": "10.0.0.5/32", "::1 = X-Real-Ip": "::1/128=X-Real-Ip"} {
		p, err := ParseProxy(in)
		if err != nil || p.String() != want {
			t.Errorf("ParseProxy(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
	for _, bad := range []string{"", "nope", "10.0.0.5=", "10.0.0.5=X Real", "10.0.0.5=a:b", "::ffff:0:0/64", "::ffff:0:0/64=X-Real-IP"} {
		if _, err := ParseProxy(bad); err == nil {
			t.Errorf("ParseProxy(%q) succeeded", bad)
		}
	}
}

func TestParsePrefix(t *testing.T) {
	for in, want := range map[string]string{"10.1.2.3": "10.1.2.3/32", "10.1.2.3/8": "10.0.0.0/8", "::ffff:10.0.0.1": "10.0.0.1/32", "::ffff:10.0.0.0/104": "10.0.0.0/8", "2001:db8::1/32": "2001:db8::/32"} {
		p, err := ParsePrefix(in)
		if err != nil || p.String() != want {
			t.Errorf("ParsePrefix(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
	for _, bad := range []string{"", "10.0.0.0/33", "nope", "1.2.3", "::ffff:0:0/64", "::ffff:10.0.0.0/95", "::ffff:0:0/0"} {
		if p, err := ParsePrefix(bad); err == nil {
			t.Errorf("ParsePrefix(%q) = %v (valid: %v), no error", bad, p, p.IsValid())
		}
	}
}

// TestHTTPS: X-Forwarded-Proto is believed from a trusted proxy (or web
// server) only (issue 16 item 21).
func TestHTTPS(t *testing.T) {
	lb, _ := ParseProxy("10.0.0.5")
	for _, c := range []struct {
		peer, xfp string
		want      bool
	}{
		{"10.0.0.5:1", "https", true},
		{"10.0.0.5:1", "http", false},
		{"10.0.0.5:1", "", false},
		{"203.0.113.9:1", "https", false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		if c.xfp != "" {
			r.Header.Set("X-Forwarded-Proto", c.xfp)
		}
		if got := HTTPS(r, Proxies{lb}); got != c.want {
			t.Errorf("HTTPS(%s, %q) = %v", c.peer, c.xfp, got)
		}
		if got := WebServerHTTPS(r, Trusted{lb.Prefix}); got != c.want {
			t.Errorf("WebServerHTTPS(%s, %q) = %v", c.peer, c.xfp, got)
		}
	}
}
