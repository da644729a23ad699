package protect

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestSelfCallServer(t *testing.T) {
	srv := netip.MustParseAddr("10.0.0.5")
	for _, c := range []struct {
		h    http.Header
		own  []string
		want bool
	}{
		{http.Header{"User-Agent": {"WordPress/6.7"}}, nil, true},
		{http.Header{"X-Real-Ip": {"127.0.0.1"}}, []string{"X-Real-IP"}, true},
		{http.Header{"X-Real-Ip": {"127.0.0.1"}}, nil, false},
		{http.Header{"X-Forwarded-For": {"127.0.0.1"}}, []string{"X-Forwarded-For", "X-Forwarded-Proto"}, true},
		{http.Header{"X-Forwarded-For": {"127.0.0.1"}, "X-Real-Ip": {"198.51.100.7"}}, []string{"X-Forwarded-For"}, false},
		{http.Header{"Via": {"1.1 varnish"}}, []string{"X-Real-Ip"}, false},
		{http.Header{"Forwarded": {"for=198.51.100.7"}}, nil, false},
		{http.Header{"Cf-Connecting-Ip": {"198.51.100.7"}}, nil, false},
	} {
		got := SelfCallServer(srv, c.h, c.own...)
		if got.IsValid() != c.want {
			t.Errorf("%v own %v: %v; want server kept %v", c.h, c.own, got, c.want)
		}
	}
}
