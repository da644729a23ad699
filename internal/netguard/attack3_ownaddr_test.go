package netguard

import (
	"errors"
	"net"
	"net/netip"
	"testing"
)

// A Palisade node whose network card holds a public address (a dedicated
// server, the usual machine of a hosting provider) reaches its own
// services through that address: MariaDB, Redis or PostgreSQL listening on
// every interface answer a connection to it as they would one to
// loopback. Such an address is the operator's own machine, not a tenant's
// server: refused unless the operator allows it.
func TestAttack3OwnInterfaceAddressesAreNotPublic(t *testing.T) {
	old := interfaceAddrs
	defer func() { interfaceAddrs = old }()
	interfaceAddrs = func() ([]net.Addr, error) {
		return []net.Addr{
			&net.IPNet{IP: net.ParseIP("127.0.0.1"), Mask: net.CIDRMask(8, 32)},
			&net.IPNet{IP: net.ParseIP("203.0.114.7"), Mask: net.CIDRMask(24, 32)},
			&net.IPNet{IP: net.ParseIP("2a01:4f8:1:2::7"), Mask: net.CIDRMask(64, 128)},
		}, nil
	}
	p := Policy{}
	for _, s := range []string{"203.0.114.7", "::ffff:203.0.114.7", "2a01:4f8:1:2::7"} {
		a := netip.MustParseAddr(s)
		if p.Permitted(a) {
			t.Errorf("the node's own address %s is permitted", s)
		}
		if err := p.CheckHost(s); !errors.Is(err, ErrNotPermitted) {
			t.Errorf("CheckHost(%s) = %v", s, err)
		}
	}
	// Its neighbours on the same network are other machines: public.
	for _, s := range []string{"203.0.114.8", "2a01:4f8:1:2::8", "8.8.8.8"} {
		if !p.Permitted(netip.MustParseAddr(s)) {
			t.Errorf("%s is refused", s)
		}
	}
	// The operator may allow its own address (a database on the node).
	allowed := Policy{Allow: []netip.Prefix{netip.MustParsePrefix("203.0.114.7/32")}}
	if !allowed.Permitted(netip.MustParseAddr("203.0.114.7")) {
		t.Error("an allowed own address is refused")
	}
}
