package redteam19

import (
	"strings"
	"testing"
)

// deepJSON nests inner n objects deep: {"a":{"a":...inner...}}.
func deepJSON(n int, inner string) string {
	return strings.Repeat(`{"a":`, n) + inner + strings.Repeat(`}`, n)
}

// FINDING (high, anonymous visitor; JSON APIs): a body the integration
// cut (BodyTruncated) has its body-parse error forgiven (rule 200002 is
// skipped: "a cut JSON body cannot parse"), whatever the error was. A
// JSON body nested 300 deep fails Coraza's depth limit (256) long before
// the cut, so nothing of it is parsed or inspected; with 128 KiB of
// padding after it, the failure is forgiven and an SQL injection at the
// very start of the body passes. PHP's json_decode (depth 512), Node's
// JSON.parse and most others parse it fine. (Without the padding 200002
// blocks it, as it should.) Forgive only an error at the cut (unexpected
// end of input), never a depth or syntax error before it.
func TestFixed_TruncatedBodyForgivesJSONDepthError(t *testing.T) {
	sqli := `"1' OR '1'='1"`
	small := `{"x":` + deepJSON(300, sqli) + `}`
	if r := evaluate(t, post("/api/login", "application/json", []byte(small))); !r.Blocked {
		t.Fatalf("control: deep JSON without padding not blocked: %v", ruleIDs(r))
	}
	padded := `{"x":` + deepJSON(300, sqli) + `,"pad":"` + strings.Repeat("A", 130<<10) + `"}`
	if r := evaluate(t, post("/api/login", "application/json", []byte(padded))); !r.Blocked {
		t.Errorf("SQL injection 300 levels deep in a JSON body padded past 128 KiB passes: score %d, matches %v (the SQL injection is in the first %d bytes)",
			r.Score, ruleIDs(r), len(`{"x":`+deepJSON(300, sqli)))
	}
	// Any early parse error will do: a UTF-8 byte order mark (which
	// ASP.NET Core's and Java's readers skip) in front of flat JSON.
	bom := "\xEF\xBB\xBF{\"id\":" + sqli + `,"pad":"` + strings.Repeat("A", 130<<10) + `"}`
	if r := evaluate(t, post("/api/login", "application/json", []byte(bom))); !r.Blocked {
		t.Errorf("SQL injection in a BOM-prefixed JSON body padded past 128 KiB passes: score %d, matches %v", r.Score, ruleIDs(r))
	}
}

// FINDING (high for PHP sites): the same forgiveness for multipart. A
// header line without a colon in the first part ("Garbage line") makes
// Coraza's multipart parser give up (200002 and 200003 without padding);
// padded past 128 KiB, both are forgiven and no field is inspected. PHP's
// rfc1867 parser skips a header line without a colon and hands the field
// to the application.
func TestFixed_TruncatedBodyForgivesMultipartParseError(t *testing.T) {
	head := "--XyZ\r\nGarbage line\r\nContent-Disposition: form-data; name=\"log\"\r\n\r\n1' OR '1'='1"
	const ct = "multipart/form-data; boundary=XyZ"
	if r := evaluate(t, post("/wp-login.php", ct, []byte(head+"\r\n--XyZ--\r\n"))); !r.Blocked {
		t.Fatalf("control: not blocked without padding: %v", ruleIDs(r))
	}
	padded := head + "\r\n--XyZ\r\nContent-Disposition: form-data; name=\"pad\"\r\n\r\n" + strings.Repeat("A", 130<<10) + "\r\n--XyZ--\r\n"
	if r := evaluate(t, post("/wp-login.php", ct, []byte(padded))); !r.Blocked {
		t.Errorf("SQL injection in the first multipart field (after a header line without a colon), body padded past 128 KiB, passes: score %d, matches %v", r.Score, ruleIDs(r))
	}
}

// HELD: a JSON, XML, multipart or urlencoded body longer than 128 KiB is
// parsed as far as it goes: an attack in its first part is blocked.
func TestHeld_AttackAtTheStartOfATruncatedBody(t *testing.T) {
	pad := strings.Repeat("A", 130<<10)
	for name, c := range map[string][2]string{
		"json":      {"application/json", `{"id":"1' OR '1'='1","pad":"` + pad + `"}`},
		"xml":       {"application/xml", `<r><id>1' OR '1'='1</id><pad>` + pad + `</pad></r>`},
		"multipart": {"multipart/form-data; boundary=XyZ", "--XyZ\r\nContent-Disposition: form-data; name=\"id\"\r\n\r\n1' OR '1'='1\r\n--XyZ\r\nContent-Disposition: form-data; name=\"pad\"\r\n\r\n" + pad + "\r\n--XyZ--\r\n"},
		"form":      {"application/x-www-form-urlencoded", "id=1%27+OR+%271%27%3D%271&pad=" + pad},
	} {
		if r := evaluate(t, post("/api", c[0], []byte(c[1]))); !r.Blocked {
			t.Errorf("%s: %v", name, ruleIDs(r))
		}
	}
}
