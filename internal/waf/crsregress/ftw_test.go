package crsregress

import (
	"encoding/base64"
	"strings"
	"testing"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza-coreruleset/v4/tests"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/waf"
)

func str(s string) *string { return &s }
func bol(b bool) *bool     { return &b }

// TestBuild: requests as go-ftw's ftwhttp.BuildRequest writes them.
func TestBuild(t *testing.T) {
	for _, c := range []struct {
		name string
		in   Input
		want string
	}{
		{"defaults: GET / HTTP/1.1, Connection added, no Content-Length",
			Input{},
			"GET / HTTP/1.1\r\nConnection: close\r\n\r\n"},
		{"headers as written, sorted by name, not canonicalised",
			Input{Method: str("GET"), URI: str("/a?b=<c>"), Headers: map[string]string{"user-agent": "x", "Host": "localhost", "Accept": "*/*", "X-weird_Name": "1"}},
			"GET /a?b=<c> HTTP/1.1\r\nAccept: */*\r\nConnection: close\r\nHost: localhost\r\nX-weird_Name: 1\r\nuser-agent: x\r\n\r\n"},
		{"form data: Content-Type added, keys and values query-escaped, trailing & dropped",
			Input{Method: str("POST"), Data: str("a=1 2&b=<x>&"), Headers: map[string]string{"Host": "localhost"}},
			"POST / HTTP/1.1\r\nConnection: close\r\nContent-Length: 15\r\nContent-Type: application/x-www-form-urlencoded\r\nHost: localhost\r\n\r\na=1+2&b=%3Cx%3E"},
		{"already escaped form data is sent as is",
			Input{Method: str("POST"), Data: str("a=%27or%201"), Headers: map[string]string{"Host": "h"}},
			"POST / HTTP/1.1\r\nConnection: close\r\nContent-Length: 11\r\nContent-Type: application/x-www-form-urlencoded\r\nHost: h\r\n\r\na=%27or%201"},
		{"a lower-case content-type is another header to go-ftw: Content-Type is added too, and the JSON form-escaped",
			Input{Method: str("POST"), Data: str("{\"a\": 1}"), Headers: map[string]string{"content-type": "application/json"}},
			"POST / HTTP/1.1\r\nConnection: close\r\nContent-Length: 18\r\nContent-Type: application/x-www-form-urlencoded\r\ncontent-type: application/json\r\n\r\n%7B%22a%22%3A+1%7D"},
		{"JSON with its Content-Type is not escaped",
			Input{Method: str("POST"), Data: str("{\"a\": \"<b>\"}"), Headers: map[string]string{"Content-Type": "application/json"}},
			"POST / HTTP/1.1\r\nConnection: close\r\nContent-Length: 12\r\nContent-Type: application/json\r\n\r\n{\"a\": \"<b>\"}"},
		{"autocomplete_headers false: nothing added, nothing encoded",
			Input{Method: str("POST"), Data: str("a=1 2"), AutocompleteHeaders: bol(false), Headers: map[string]string{"Host": "h"}},
			"POST / HTTP/1.1\r\nHost: h\r\n\r\na=1 2"},
		{"stop_magic true is autocomplete false",
			Input{Data: str("x"), StopMagic: bol(true)},
			"GET / HTTP/1.1\r\n\r\nx"},
		{"multipart: LF becomes CRLF before Content-Length is counted",
			Input{Method: str("POST"), Data: str("--b\nContent-Disposition: form-data; name=\"a\"\n\n1\n--b--\n"), Headers: map[string]string{"Content-Type": "multipart/form-data; boundary=b"}},
			"POST / HTTP/1.1\r\nConnection: close\r\nContent-Length: 59\r\nContent-Type: multipart/form-data; boundary=b\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b--\r\n"},
		{"DELETE without data gets Content-Length: 0 (go-ftw's method expression)",
			Input{Method: str("DELETE")},
			"DELETE / HTTP/1.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"},
		{"a method merely containing PUT gets one too",
			Input{Method: str("XPUTX")},
			"XPUTX / HTTP/1.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"},
		{"given Content-Length and Connection are kept",
			Input{Method: str("POST"), Data: str("a=b"), Headers: map[string]string{"Content-Length": "99", "Connection": "keep-alive"}},
			"POST / HTTP/1.1\r\nConnection: keep-alive\r\nContent-Length: 99\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\na=b"},
		{"request line as written, version and all",
			Input{Method: str("G\tET"), URI: str("/ x"), Version: str("HTTP/0.9")},
			"G\tET / x HTTP/0.9\r\nConnection: close\r\n\r\n"},
		{"template data",
			Input{Method: str("POST"), Data: str(`x={{ "1" | repeat 3 }}`), Headers: map[string]string{"Host": "h"}},
			"POST / HTTP/1.1\r\nConnection: close\r\nContent-Length: 5\r\nContent-Type: application/x-www-form-urlencoded\r\nHost: h\r\n\r\nx=111"},
		{"encoded_request is sent as decoded, nothing added",
			Input{EncodedRequest: base64.StdEncoding.EncodeToString([]byte("GET /\x00 HTTP/1.1\r\nHost: h\r\n\r\n")), Headers: map[string]string{"Ignored": "1"}},
			"GET /\x00 HTTP/1.1\r\nHost: h\r\n\r\n"},
	} {
		got, err := c.in.Build()
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if string(got) != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
	if _, err := (Input{Data: str(`{{ "1" | nosuchfunc }}`)}).Build(); err == nil {
		t.Error("a template function go-ftw has and this harness lacks must be an error, not a wrong body")
	}
	if _, err := (Input{EncodedRequest: "not base64!"}).Build(); err == nil {
		t.Error("bad encoded_request accepted")
	}
}

func TestParse(t *testing.T) {
	f, err := Parse("x/1.yaml", []byte("meta: {author: a}\nrule_id: 920100\ntests:\n  - test_id: 3\n    stages:\n      - input: {uri: /a}\n        output: {log: {expect_ids: [920100]}}\n"))
	if err != nil || len(f.Tests) != 1 || f.Tests[0].Name != "920100-3" || *f.Tests[0].Stages[0].Input.URI != "/a" || f.Tests[0].Stages[0].Output.Log.ExpectIDs[0] != 920100 {
		t.Fatalf("%+v %v", f, err)
	}
	if _, err := Parse("x/1.yaml", []byte("rule_id: 1\ntests:\n  - test_id: 1\n    stages:\n      - input: {urii: /a}\n")); err == nil || !strings.Contains(err.Error(), "urii") {
		t.Fatalf("an unknown field must be an error: %v", err)
	}
	if _, err := Parse("x/1.yaml", []byte("# nothing\n")); err == nil {
		t.Fatal("an empty file parsed")
	}
}

// TestSuite: the embedded suite loads whole and its requests build.
func TestSuite(t *testing.T) {
	files, err := Load(tests.FS)
	if err != nil {
		t.Fatal(err)
	}
	n, found := 0, false
	for _, f := range files {
		for _, ts := range f.Tests {
			n++
			found = found || ts.Name == "942100-1"
			for _, s := range ts.Stages {
				if _, err := s.Input.Build(); err != nil {
					t.Errorf("%s: %v", ts.Name, err)
				}
			}
		}
	}
	if len(files) < 300 || n < 4000 || !found {
		t.Fatalf("%d files, %d tests, 942100-1 found: %v", len(files), n, found)
	}
}

func TestRules(t *testing.T) {
	rules, err := Rules(coreruleset.FS)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[int]Rule{
		942100: {Phase: 2, Paranoia: 1},
		942101: {Phase: 1, Paranoia: 2},
		920360: {Phase: 2, Paranoia: 1, Gate: "tx.arg_name_length"},
		920250: {Phase: 2, Paranoia: 1, Gate: "tx.crs_validate_utf8_encoding"},
		951110: {Phase: 4, Paranoia: 1},
	} {
		r := rules[id]
		if r.Phase != want.Phase || r.Paranoia != want.Paranoia || r.Gate != want.Gate {
			t.Errorf("rule %d: %+v, want %+v", id, r, want)
		}
	}
	if !rules[951110].Response() || rules[942100].Response() {
		t.Error("Response()")
	}
	if len(rules) < 500 {
		t.Errorf("only %d rules", len(rules))
	}
}

func TestClassify(t *testing.T) {
	rules := map[int]Rule{
		942100: {ID: 942100, Phase: 2, Paranoia: 1},
		942101: {ID: 942101, Phase: 1, Paranoia: 2},
		920360: {ID: 920360, Phase: 2, Paranoia: 1, Gate: "tx.arg_name_length"},
		951110: {ID: 951110, Phase: 4, Paranoia: 1, File: "RESPONSE-951-DATA-LEAKAGES-SQL.conf"},
	}
	stage := func(in Input, out Output) Test { return Test{Name: "t", Stages: []Stage{{in, out}}} }
	expect := func(ids ...int) Output { return Output{Log: Log{ExpectIDs: ids}} }
	none := func(ids ...int) Output { return Output{Log: Log{NoExpectIDs: ids}} }
	ok := Input{Headers: map[string]string{"Host": "localhost"}}
	big := Input{Method: str("POST"), Data: str(strings.Repeat("a", waf.MaxBody+1)), Headers: map[string]string{"Host": "localhost"}}
	for _, c := range []struct {
		file string
		t    Test
		pl   int
		want string
	}{
		{"REQUEST-942/942100.yaml", stage(ok, expect(942100)), 1, ""},
		{"RESPONSE-951/951110.yaml", stage(ok, expect(951110)), 1, NAResponse},
		{"REQUEST-942/942100.yaml", stage(ok, expect(951110)), 1, NAResponse},
		{"REQUEST-942/942101.yaml", stage(ok, none(942101)), 1, NAParanoia},
		{"REQUEST-942/942101.yaml", stage(ok, expect(942101)), 2, ""},
		{"REQUEST-942/942100.yaml", stage(ok, expect(942100, 942101)), 1, NAParanoia},
		{"REQUEST-920/920360.yaml", stage(ok, expect(920360)), 1, NAGated},
		{"REQUEST-920/920360.yaml", stage(ok, none(920360)), 1, ""},
		{"REQUEST-942/942100.yaml", stage(ok, Output{Status: 400}), 1, ""},
		{"REQUEST-942/942100.yaml", stage(ok, Output{Log: Log{MatchRegex: "x"}}), 1, NALogOnly},
		{"REQUEST-942/942100.yaml", stage(big, expect(942100)), 1, NABodyLimit},
		{"REQUEST-942/942100.yaml", stage(Input{Version: str("HTTP/0.9")}, none(942100)), 1, NAUncarried},
		{"REQUEST-942/942100.yaml", stage(Input{Version: str("HTTP/0.9")}, expect(942100)), 1, ""},
		{"REQUEST-942/942100.yaml", stage(Input{Method: str(" GET")}, Output{Status: 400}), 1, ""},
		{"REQUEST-942/942100.yaml", stage(Input{Version: str("HTTP/1.0")}, none(942100)), 1, ""},
		{"REQUEST-942/942100.yaml", stage(Input{Method: str("OPTIONS"), URI: str("*")}, none(942100)), 1, NAUncarried},
		{"REQUEST-942/942100.yaml", stage(Input{Method: str("OPTIONS"), URI: str("/")}, none(942100)), 1, ""},
		{"REQUEST-942/942100.yaml", stage(Input{Data: str(`{{ nosuch }}`)}, none(942100)), 1, NABuildError},
	} {
		f := File{Path: c.file} // the rule from the file's name
		if got := Classify(f, c.t, rules, c.pl); got.Kind != c.want {
			t.Errorf("%s %+v at PL%d: %q (%s), want %q", c.file, c.t.Stages[0].Output, c.pl, got.Kind, got.Reason, c.want)
		}
	}
}

func TestJudge(t *testing.T) {
	ev := func(action, source string, score int, ids ...int) Answer {
		e := &core.Event{Action: action, Source: source}
		if len(ids) > 0 || score > 0 {
			e.WAF = &core.EventWAF{Score: score}
			for _, id := range ids {
				e.WAF.Rules = append(e.WAF.Rules, core.EventWAFRule{ID: id})
			}
		}
		return Answer{Status: 200, Event: e}
	}
	for _, c := range []struct {
		name     string
		out      Output
		a        Answer
		pass     bool
		rejected bool
	}{
		{"expected id matched and denied", Output{Log: Log{ExpectIDs: []int{942100}}}, ev("deny", "waf", 5, 942100, 942101), true, false},
		{"expected id missing", Output{Log: Log{ExpectIDs: []int{942100}}}, ev("deny", "waf", 5, 942101), false, false},
		{"unexpected id", Output{Log: Log{NoExpectIDs: []int{942100}}}, ev("grant", "category", 0), true, false},
		{"unexpected id matched", Output{Log: Log{NoExpectIDs: []int{942100}}}, ev("deny", "waf", 5, 942100), false, false},
		{"score over threshold without a waf deny", Output{Log: Log{ExpectIDs: []int{942100}}}, ev("challenge", "category", 5, 942100), false, false},
		{"waf deny under threshold", Output{Log: Log{ExpectIDs: []int{920350}}}, ev("deny", "waf", 3, 920350), false, false},
		{"a warning is recorded, not denied", Output{Log: Log{ExpectIDs: []int{920350}}}, ev("grant", "category", 3, 920350), true, false},
		{"949110 expected: the score reaches the threshold", Output{Log: Log{ExpectIDs: []int{949110}}}, ev("deny", "waf", 10, 941100), true, false},
		{"949110 expected: under it", Output{Log: Log{ExpectIDs: []int{949110}}}, ev("grant", "category", 3, 920350), false, false},
		{"949110 not expected: under it", Output{Log: Log{NoExpectIDs: []int{949110}}}, ev("grant", "category", 3, 920350), true, false},
		{"server refused, ids expected", Output{Log: Log{ExpectIDs: []int{920100}}}, Answer{Status: 400}, true, true},
		{"server refused, none expected", Output{Log: Log{NoExpectIDs: []int{920100}}}, Answer{Status: 400}, false, true},
		{"server refused with the status CRS expects", Output{Status: 400, Log: Log{NoExpectIDs: []int{921140}}}, Answer{Status: 400}, true, true},
		{"server refused with another status", Output{Status: 400, Log: Log{NoExpectIDs: []int{921140}}}, Answer{Status: 505}, true, true},
		{"server refused, CRS expects 200", Output{Status: 200, Log: Log{NoExpectIDs: []int{921140}}}, Answer{Status: 400}, false, true},
		{"web server's refusal expected, firewall denied", Output{Status: 400}, ev("deny", "waf", 5, 920100), true, false},
		{"web server's refusal expected, granted", Output{Status: 400}, ev("grant", "category", 0), false, false},
		{"web server's refusal expected, Go's server refused", Output{Status: 400}, Answer{Status: 400}, true, true},
		{"no event for a 200", Output{Log: Log{NoExpectIDs: []int{920100}}}, Answer{Status: 200}, false, false},
	} {
		pass, rej, why := Judge(c.out, c.a, 5)
		if pass != c.pass || rej != c.rejected {
			t.Errorf("%s: pass %v rejected %v (%s)", c.name, pass, rej, why)
		}
		if !pass && why == "" {
			t.Errorf("%s: a failure must say why", c.name)
		}
	}
}

func TestClientAddr(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 20000; i++ {
		a := ClientAddr(i)
		if !a.IsLoopback() || seen[a.String()] || a.As4()[3] == 0 || a.As4()[3] == 255 {
			t.Fatalf("ClientAddr(%d) = %s", i, a)
		}
		seen[a.String()] = true
	}
}
