package redteam19

import "testing"

// FINDING (medium-high, XML APIs: SOAP, WordPress xmlrpc.php): the XML
// body processor does not expand internal entities, and CRS reads XML:/*
// (text nodes), not attributes.
//   - <!DOCTYPE r [<!ENTITY q "&#39;">]><r><id>1&q; OR &q;1&q;=&q;1</id></r>
//     is neither refused nor scored; libxml2 (PHP's DOM/SimpleXML), expat
//     (PHP's xml_parser, used by WordPress's XML-RPC) and Java's parsers
//     expand &q; to ' and the application reads 1' OR '1'='1.
//   - <r id="1' OR '1'='1"/>: attributes are never inspected (CRS's
//     XML:/* is the text nodes; ModSecurity offers XML://@* for them).
//
// Refuse (or score as a protocol anomaly) XML bodies with a DOCTYPE /
// entity declarations, and add the attribute values to what the SQLi/XSS
// rules read (an XML://@* target or Palisade's own pass).
func TestFAILS_XMLEntityAndAttributeHideSQLi(t *testing.T) {
	if r := evaluate(t, post("/xmlrpc.php", "text/xml", []byte(`<r><id>1' OR '1'='1</id></r>`))); !r.Blocked {
		t.Fatalf("control: %v", ruleIDs(r))
	}
	for name, body := range map[string]string{
		"internal entity": `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY q "&#39;">]><r><id>1&q; OR &q;1&q;=&q;1</id></r>`,
		"attribute":       `<r id="1' OR '1'='1"/>`,
	} {
		if r := evaluate(t, post("/xmlrpc.php", "text/xml", []byte(body))); !r.Blocked {
			t.Errorf("%s: SQL injection in an XML body passes (score %d, matches %v)", name, r.Score, ruleIDs(r))
		}
	}
}
