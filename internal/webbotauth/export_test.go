package webbotauth

import (
	"context"
	"crypto/x509"
	"net/http"
	"net/netip"
)

// NewTestFetcher returns a fetcher that resolves names through resolve,
// trusts roots, and may dial the non-public addresses allow permits: the
// only way to reach a test server on loopback, and it exists in test
// builds only.
func NewTestFetcher(resolve func(host string) []netip.Addr, roots *x509.CertPool, allow func(netip.Addr) bool) *Fetcher {
	f := NewFetcher()
	f.resolve = func(_ context.Context, host string) ([]netip.Addr, error) { return resolve(host), nil }
	f.allow = allow
	f.client.Transport.(*http.Transport).TLSClientConfig.RootCAs = roots
	return f
}

// Control runs the fetcher's dial-time address check.
func (f *Fetcher) Control(address string) error { return f.control("tcp", address, nil) }
