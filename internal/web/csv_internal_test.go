package web

import (
	"encoding/csv"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
)

// TestCSVExportNeutralisesFormulas: every cell of the events export that a
// client or a customer chose (host, method, rule names, reasons, details,
// path, user agent …) and that starts like a spreadsheet formula (=, +, -,
// @, tab, carriage return, line feed) is prefixed with a single quote, per
// OWASP's CSV injection guidance; no cell starts a formula.
func TestCSVExportNeutralisesFormulas(t *testing.T) {
	formulas := []string{`=HYPERLINK("https://evil.example","x")`, "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1", "\n=1+1"}
	var es []core.Event
	for i, f := range formulas {
		es = append(es, core.Event{ID: int64(i + 1), At: time.Unix(1e9, 0), IP: f, Method: f, Host: f, Path: f, Query: f, UserAgent: f,
			Referrer: f, Action: f, Category: f, Source: f, Reason: f, Detail: f})
	}
	es = append(es, core.Event{ID: 99, At: time.Unix(1e9, 0), IP: "203.0.113.9", Method: "GET", Host: "shop.example.com", Path: "/a-b", Ref: "K7Q2M4XW6P",
		Action: "deny", Category: "security_issues", Source: "rule", Reason: "block-admin", Detail: "x"})
	es = append(es, core.Event{ID: 100, At: time.Unix(1e9, 0), IP: "203.0.113.9", Method: "GET", Host: "shop.example.com", Path: "/search", Query: "q=1'",
		Action: "deny", Category: "waf", Source: "waf", Reason: "waf", WAF: &core.EventWAF{Mode: "block", Blocked: true, Score: 10, Class: "sqli",
			Rules: []core.EventWAFRule{{ID: 942100, Var: "ARGS:q", Data: "=cmd|' /C calc'!A0"}, {ID: 942190}, {ID: 949110}}}})
	rec := httptest.NewRecorder()
	writeCSV(rec, "shop.example.com", es)
	rows, err := csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(es)+1 {
		t.Fatalf("%d rows for %d events", len(rows), len(es))
	}
	for i, row := range rows[1:] {
		for j, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r\n", rune(cell[0])) {
				t.Errorf("row %d column %s starts a formula: %q", i+1, rows[0][j], cell)
			}
		}
	}
	for j, cell := range rows[1] {
		if j >= 2 && j <= 13 && cell != "'"+formulas[0] {
			t.Errorf("column %s: %q, want the value after a single quote", rows[0][j], cell)
		}
	}
	// Ordinary values are untouched.
	if got := strings.Join(rows[len(rows)-2], ","); got != "99,2001-09-09T01:46:40Z,deny,security_issues,rule,block-admin,x,203.0.113.9,GET,shop.example.com,/a-b,,,,false,K7Q2M4XW6P,,,,1,2001-09-09T01:46:40Z" {
		t.Fatalf("ordinary row: %s", got)
	}
	// A firewall event: its class, score and rule ids.
	if got := strings.Join(rows[len(rows)-1], ","); got != "100,2001-09-09T01:46:40Z,deny,waf,waf,waf,,203.0.113.9,GET,shop.example.com,/search,q=1',,,false,,sqli,10,942100 942190 949110,1,2001-09-09T01:46:40Z" {
		t.Fatalf("firewall row: %s", got)
	}
}

// TestCSVExportSemicolonLocales: a spreadsheet in a locale whose list
// separator is ";" (Excel in German or French) splits unquoted text at
// semicolons, so "/x;=1+1" would give a cell "=1+1". Every field is quoted,
// so read with ";" as the separator each record stays whole and no cell
// starts a formula.
func TestCSVExportSemicolonLocales(t *testing.T) {
	evil := []string{"/x;=1+1", "a;+cmd|' /C calc'!A0", "q=1;@SUM(1+1)", "ua;-2+3", `"quoted";=1`}
	var es []core.Event
	for i, f := range evil {
		es = append(es, core.Event{ID: int64(i + 1), At: time.Unix(1e9, 0), IP: "203.0.113.9", Method: "GET", Host: "shop.example.com",
			Path: f, Query: f, UserAgent: f, Referrer: f, Reason: f, Detail: f})
	}
	rec := httptest.NewRecorder()
	writeCSV(rec, "shop.example.com", es)
	body := rec.Body.String()
	for _, sep := range []rune{',', ';'} {
		r := csv.NewReader(strings.NewReader(body))
		r.Comma = sep
		r.LazyQuotes = sep == ';'
		rows, err := r.ReadAll()
		if err != nil {
			t.Fatalf("read with %q: %v", sep, err)
		}
		for i, row := range rows {
			for _, cell := range row {
				if cell != "" && strings.ContainsRune("=+-@\t\r\n", rune(cell[0])) {
					t.Fatalf("read with %q, row %d has a cell starting a formula: %q (line %q)", sep, i, cell, strings.Split(body, "\r\n")[i])
				}
			}
		}
		if sep == ',' && (len(rows) != len(es)+1 || rows[1][10] != evil[0]) {
			t.Fatalf("comma-separated: %d rows, path %q", len(rows), rows[1][10])
		}
	}
}
