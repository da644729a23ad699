package netguard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
)

func TestPublic(t *testing.T) {
	for s, want := range map[string]bool{
		"8.8.8.8": true, "1.1.1.1": true, "2a00:1450:4001::1": true, "::ffff:8.8.8.8": true,
		"127.0.0.1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false, "169.254.169.254": false,
		"100.64.0.1": false, "0.0.0.0": false, "224.0.0.1": false, "255.255.255.255": false, "192.0.2.1": false,
		"::1": false, "::": false, "fe80::1": false, "fd00::1": false, "2001:db8::1": false, "64:ff9b::a00:1": false,
		"::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "2002:a00:1::1": false,
	} {
		if got := Public(netip.MustParseAddr(s)); got != want {
			t.Errorf("Public(%s) = %v, want %v", s, got, want)
		}
	}
}

func TestCheckHost(t *testing.T) {
	allow, _, err := ParseAllow([]string{"10.1.0.0/16", "192.168.5.7"})
	if err != nil {
		t.Fatal(err)
	}
	p := Policy{Allow: allow}
	for host, ok := range map[string]bool{
		"db.example.net": true, "8.8.8.8": true, "10.1.2.3": true, "192.168.5.7": true, "[::ffff:10.1.9.9]": true,
		"10.2.0.1": false, "192.168.5.8": false, "127.0.0.1": false, "[::1]": false, "169.254.169.254": false,
		"localhost": false, "LOCALHOST.": false, "db.localhost": false, "fe80::1%eth0": false, "0.0.0.0": false,
	} {
		err := p.CheckHost(host)
		if (err == nil) != ok {
			t.Errorf("CheckHost(%q) = %v, want ok=%v", host, err, ok)
		}
		if err != nil && !errors.Is(err, ErrNotPermitted) {
			t.Errorf("CheckHost(%q): %v is not ErrNotPermitted", host, err)
		}
	}
}

// The dialer refuses a refused address on the socket itself: a listener
// on loopback is not reached unless the policy allows loopback.
func TestDialerRefusesOnTheSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if _, err := (Policy{}).DialContext(context.Background(), "tcp", ln.Addr().String()); !errors.Is(err, ErrNotPermitted) {
		t.Fatalf("dial loopback with no allowance: %v", err)
	}
	// A name resolving to loopback is caught the same way.
	if _, err := (Policy{}).DialContext(context.Background(), "tcp", "localhost:"+strings.Split(ln.Addr().String(), ":")[1]); !errors.Is(err, ErrNotPermitted) {
		t.Fatalf("dial localhost with no allowance: %v", err)
	}
	lo := Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	c, err := lo.DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial loopback allowed: %v", err)
	}
	c.Close()
}

func TestCheckResolved(t *testing.T) {
	lookup := func(answers map[string][]string) func(context.Context, string, string) ([]netip.Addr, error) {
		return func(_ context.Context, _, host string) ([]netip.Addr, error) {
			var out []netip.Addr
			for _, s := range answers[host] {
				out = append(out, netip.MustParseAddr(s))
			}
			if out == nil {
				return nil, errors.New("no such host")
			}
			return out, nil
		}
	}
	dns := lookup(map[string][]string{"s3.example.net": {"8.8.4.4"}, "rebind.example.net": {"8.8.4.4", "169.254.169.254"}})
	p := Policy{}
	if err := p.CheckResolved(context.Background(), "s3.example.net", dns); err != nil {
		t.Fatal(err)
	}
	if err := p.CheckResolved(context.Background(), "rebind.example.net", dns); !errors.Is(err, ErrNotPermitted) || !strings.Contains(err.Error(), "169.254.169.254") {
		t.Fatalf("one internal address among public ones: %v", err)
	}
	if err := p.CheckResolved(context.Background(), "nxdomain.example.net", dns); err == nil || errors.Is(err, ErrNotPermitted) {
		t.Fatalf("a name that does not resolve: %v", err)
	}
	if err := p.CheckResolved(context.Background(), "10.0.0.1", dns); !errors.Is(err, ErrNotPermitted) {
		t.Fatalf("a private literal: %v", err)
	}
	if a, err := p.Resolve(context.Background(), "s3.example.net", dns); err != nil || a.String() != "8.8.4.4" {
		t.Fatalf("Resolve: %v %v", a, err)
	}
	if a, err := (Policy{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}).Resolve(context.Background(), "10.0.0.1", dns); err != nil || a.String() != "10.0.0.1" {
		t.Fatalf("Resolve of an allowed literal: %v %v", a, err)
	}
}

func TestParseAllow(t *testing.T) {
	all, by, err := ParseAllow([]string{"10.0.0.0/8", "acme=192.168.1.0/24", "acme=fd00::5", "10.1.2.3/16"})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[1].String() != "10.1.0.0/16" || len(by["acme"]) != 2 || by["acme"][1].String() != "fd00::5/128" {
		t.Fatalf("all %v, by partner %v", all, by)
	}
	for _, bad := range []string{"10.0.0.0/33", "=10.0.0.0/8", "acme=", "nonsense"} {
		if _, _, err := ParseAllow([]string{bad}); err == nil || !strings.Contains(err.Error(), "--scan-allow-net") {
			t.Errorf("ParseAllow(%q): %v", bad, err)
		}
	}
}
