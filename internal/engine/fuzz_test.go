package engine

import (
	"net/http"
	"net/netip"
	"testing"
)

// FuzzRuleCompiler: any condition either is refused by validation or
// compiles and evaluates without panicking.
func FuzzRuleCompiler(f *testing.F) {
	f.Add("path", "", "starts_with", "/admin", "")
	f.Add("ip", "", "is_any_of", "", "10.0.0.0/8")
	f.Add("header", "X-Test", "regex", "^a(b|c)+$", "")
	f.Add("asn", "", "greater_than", "AS100", "")
	f.Add("country", "", "is", "DE", "")
	f.Fuzz(func(t *testing.T, field, header, op, value, listItem string) {
		c := Condition{Field: field, Header: header, Op: op, Value: value}
		if listItem != "" {
			c.Values = []string{listItem, value}
		}
		st := Settings{Rules: []Rule{{Name: "fuzz", Action: "deny", Conditions: []Condition{c}}}}
		if st.Validate() != nil {
			return
		}
		p, err := Compile(Site{ID: 1, Domain: "a.example", Status: "online", Settings: st})
		if err != nil {
			t.Fatalf("validated settings did not compile: %v", err)
		}
		r := &Request{IP: netip.MustParseAddr("192.0.2.1"), Method: "GET", Path: value, Query: value, UserAgent: value, Header: http.Header{"X-Test": {value}}, Country: "DE", ASN: 100}
		p.rules[0].eval(r)
	})
}
