package engine

import (
	"fmt"
	"net/netip"

	"github.com/oschwald/maxminddb-golang/v2"
)

// GeoIP looks up a client's country and autonomous system in MaxMind-format
// databases (GeoLite2/GeoIP2 Country and ASN, DB-IP, IPinfo and others in
// the same format). Either database may be absent.
type GeoIP struct {
	country *maxminddb.Reader
	asn     *maxminddb.Reader
}

// OpenGeoIP opens the databases at the given paths ("" skips one).
func OpenGeoIP(countryPath, asnPath string) (*GeoIP, error) {
	g := &GeoIP{}
	var err error
	if countryPath != "" {
		if g.country, err = maxminddb.Open(countryPath); err != nil {
			return nil, fmt.Errorf("country database %s: %w", countryPath, err)
		}
	}
	if asnPath != "" {
		if g.asn, err = maxminddb.Open(asnPath); err != nil {
			g.Close()
			return nil, fmt.Errorf("ASN database %s: %w", asnPath, err)
		}
	}
	return g, nil
}

// Close releases the databases.
func (g *GeoIP) Close() error {
	if g == nil {
		return nil
	}
	if g.country != nil {
		g.country.Close()
	}
	if g.asn != nil {
		g.asn.Close()
	}
	return nil
}

// Lookup returns the ISO country code and AS number of ip ("" and 0 when
// unknown).
func (g *GeoIP) Lookup(ip netip.Addr) (country string, asn uint32) {
	if g == nil || !ip.IsValid() {
		return "", 0
	}
	ip = ip.Unmap()
	if g.country != nil {
		_ = g.country.Lookup(ip).DecodePath(&country, "country", "iso_code")
	}
	if g.asn != nil {
		var n uint64
		if err := g.asn.Lookup(ip).DecodePath(&n, "autonomous_system_number"); err == nil {
			asn = uint32(n)
		}
	}
	return country, asn
}

// HasCountry and HasASN say which lookups are possible.
func (g *GeoIP) HasCountry() bool { return g != nil && g.country != nil }

// HasASN reports whether an ASN database is loaded.
func (g *GeoIP) HasASN() bool { return g != nil && g.asn != nil }
