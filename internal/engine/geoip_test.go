package engine

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// writeMMDB writes a small MaxMind-format database for tests.
func writeMMDB(t *testing.T, dbType string, nets map[string]mmdbtype.Map) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 24, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, v := range nets {
		_, n, _ := net.ParseCIDR(cidr)
		if err := tree.Insert(n, v); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), dbType+".mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGeoIPConditions(t *testing.T) {
	country := writeMMDB(t, "GeoLite2-Country", map[string]mmdbtype.Map{
		"203.0.113.0/24":  {"country": mmdbtype.Map{"iso_code": mmdbtype.String("AQ")}},
		"198.51.100.0/24": {"country": mmdbtype.Map{"iso_code": mmdbtype.String("DE")}},
	})
	asn := writeMMDB(t, "GeoLite2-ASN", map[string]mmdbtype.Map{
		"198.51.100.0/24": {"autonomous_system_number": mmdbtype.Uint32(64500), "autonomous_system_organization": mmdbtype.String("Example Hosting")},
	})
	g, err := OpenGeoIP(country, asn)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if c, a := g.Lookup(mustAddr("198.51.100.9")); c != "DE" || a != 64500 {
		t.Fatalf("lookup: %q %d", c, a)
	}
	e, _ := newTestEngine(t, nil)
	st := Settings{Rules: []Rule{
		{Name: "Antarctica", Action: "deny", Conditions: []Condition{{Field: "country", Op: "is", Value: "aq"}}},
		{Name: "Hosting ASN", Action: "challenge", Conditions: []Condition{{Field: "asn", Op: "is_any_of", Values: []string{"AS64500", "64501"}}}},
		{Name: "German POSTs", Action: "captcha", Expression: `country == "DE" && method == "POST"`},
	}}
	if !st.UsesGeoIP() {
		t.Fatal("UsesGeoIP = false")
	}
	p := load(t, e, st)
	// Without a database these conditions never match.
	if v := e.Decide(p, req("203.0.113.5", chromeUA)); v.Action != Grant {
		t.Fatalf("no GeoIP: %+v", v)
	}
	e.SetGeoIP(g)
	if v := e.Decide(p, req("203.0.113.5", chromeUA)); v.Action != Deny || v.Reason != "Antarctica" {
		t.Fatalf("country: %+v", v)
	}
	if v := e.Decide(p, req("198.51.100.9", chromeUA)); v.Action != Challenge || v.Reason != "Hosting ASN" {
		t.Fatalf("asn: %+v", v)
	}
	if _, err := OpenGeoIP(filepath.Join(t.TempDir(), "missing.mmdb"), ""); err == nil {
		t.Fatal("a missing database opened")
	}
}
