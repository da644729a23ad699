package redteam19

import (
	"testing"
)

// FINDING (high for PHP sites, i.e. most hosted websites): a multipart
// part whose Content-Disposition carries filename*= (RFC 5987) instead of
// filename= is a file upload for Coraza (Go's mime package decodes
// filename* into the file name), so its content goes to FILES and no
// CRS rule reads it. PHP's multipart parser (main/rfc1867.c) knows only
// "name" and "filename": it ignores filename* and hands the part to the
// application as an ordinary $_POST field. An SQL injection or XSS in
// any WordPress/PHP form field passes the firewall this way. Treat a
// part with filename* (or any disposition parameter but name/filename)
// as a field too (inspect its content as ARGS), or score it as a
// multipart anomaly (922-style).
func TestFAILS_MultipartFilenameStarHidesFieldFromCRS(t *testing.T) {
	const ct = "multipart/form-data; boundary=XyZ"
	part := func(disp, content string) []byte {
		return []byte("--XyZ\r\nContent-Disposition: form-data; " + disp + "\r\n\r\n" + content + "\r\n--XyZ--\r\n")
	}
	// Control: the same field without filename* is denied.
	if r := evaluate(t, post("/wp-login.php", ct, part(`name="log"`, "1' OR '1'='1"))); !r.Blocked {
		t.Fatalf("control: SQL injection in a multipart field not blocked: %v", ruleIDs(r))
	}
	for _, c := range []struct{ name, disp, content string }{
		{"sqli", `name="log"; filename*=UTF-8''a.txt`, "1' OR '1'='1"},
		{"xss", `name="comment"; filename*=UTF-8''a.txt`, "<script>alert(document.cookie)</script>"},
	} {
		if r := evaluate(t, post("/wp-login.php", ct, part(c.disp, c.content))); !r.Blocked {
			t.Errorf("%s in a part with filename*= (a $_POST field for PHP) passes: score %d, matches %v", c.name, r.Score, ruleIDs(r))
		}
	}
}

// FINDING (medium, parser differential): content after the closing
// boundary ("--XyZ--") is not inspected and not flagged; ModSecurity's
// reference configuration counts it as a strict multipart error
// (MULTIPART_DATA_AFTER), because parsers that match boundaries by
// prefix (PHP's find_boundary compares the start of the line) go on
// reading parts after it. A second part carrying the attack after the
// closing delimiter passes the firewall. Flag data after the final
// boundary (and before the first) as a multipart strict error.
func TestFAILS_MultipartPartAfterClosingBoundaryUninspected(t *testing.T) {
	body := "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--XyZ--\r\n" +
		"--XyZ\r\nContent-Disposition: form-data; name=\"id\"\r\n\r\n1' OR '1'='1\r\n--XyZ--\r\n"
	if r := evaluate(t, post("/index.php", "multipart/form-data; boundary=XyZ", []byte(body))); !r.Blocked {
		t.Errorf("a part after the closing boundary with SQL injection passes: score %d, matches %v", r.Score, ruleIDs(r))
	}
}
