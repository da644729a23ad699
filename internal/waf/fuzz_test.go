package waf

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzEvaluate runs hostile requests through PL1 with an exclusion of
// every kind: Evaluate must not panic (nor recover from one), and its
// answer must keep its invariants.
func FuzzEvaluate(f *testing.F) {
	f.Add("GET", "/products", "id=1' OR '1'='1", "", "", "")
	f.Add("GET", "/index.php", "page=../../../../etc/passwd", "", "session=abc", "")
	f.Add("POST", "/api", "", "application/json", "", `{"a":{"b":[1,"<script>",{"password":"x' or 1=1"}]}}`)
	f.Add("POST", "/form", "", "application/x-www-form-urlencoded", "", "pwd=%27%20OR&x=%ZZ&&=&a")
	f.Add("POST", "/up", "", "multipart/form-data; boundary=X", "", "--X\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.php\"\r\n\r\n<?php system($_GET[c]); ?>\r\n--X--\r\n")
	f.Add("POST", "/x", "", "text/xml", "", "<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY b SYSTEM \"file:///etc/passwd\">]><a>&b;</a>")
	f.Add("PUT", "/%2e%2e/%00", "%%%", "application/json", "a=\xff", "[[[[[[[[[[")
	fw := firewall(f, 1)
	ex, err := CompileExclusions(nil, []Exclusion{
		{RuleIDs: []int{942100}, Path: "/api"},
		{Tags: []string{"attack-xss"}, Parameters: []string{"json.a.*", "cookie:s*", "header:Referer"}, Cookie: "wp"},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, path, query, ctype, cookie, body string) {
		in := &Input{Method: method, Path: path, Query: query, Host: "example.com",
			Header: http.Header{"User-Agent": {"Mozilla/5.0"}, "Content-Type": {ctype}, "Cookie": {cookie}}}
		if body != "" {
			in.Body = []byte(body)
		}
		before := recovered.Load()
		res := fw.Evaluate(in, &Options{Exclusions: ex})
		if recovered.Load() != before {
			t.Fatalf("Evaluate recovered from a panic")
		}
		if len(res.Matches) > MaxMatches || (res.Score >= DefaultThreshold) != res.Blocked {
			t.Fatalf("result %+v", res)
		}
		for _, m := range res.Matches {
			if len(m.Data) > MaxData || !utf8.ValidString(m.Data) || m.Class == "" {
				t.Fatalf("match %+v", m)
			}
			if strings.HasPrefix(m.Variable, "REQUEST_COOKIES:") && m.Data != Redacted {
				t.Fatalf("cookie value shown: %+v", m)
			}
		}
	})
}

// FuzzExclusion feeds customer input to ValidateExclusion and, when it
// passes, to the compiler and the path canonicaliser.
func FuzzExclusion(f *testing.F) {
	f.Add(942100, "attack-sqli", "/wp-admin/", "json.content", "wordpress_logged_in_", "note")
	f.Add(0, "", "wp-admin", "cookie:", "a=b", "")
	f.Add(99999999, "paranoia-level/2", "/%2e%2e/%zz/./x//", "ARGS:*", "", "\xff")
	f.Fuzz(func(t *testing.T, id int, tag, path, parameter, cookie, note string) {
		e := Exclusion{RuleIDs: []int{id}, Tags: []string{tag}, Path: path, Parameters: []string{parameter}, Cookie: cookie, Note: note}
		err := ValidateExclusion(e)
		if err != nil {
			if !utf8.ValidString(err.Error()) {
				t.Fatalf("error is not UTF-8: %q", err)
			}
			return
		}
		if _, err := CompileExclusions(nil, []Exclusion{e}); err != nil {
			t.Fatalf("valid exclusion does not compile: %v", err)
		}
		c := canonicalPath(path)
		if !strings.HasPrefix(c, "/") || strings.Contains(c, "//") || strings.Contains(c, "/../") || strings.Contains(c, "/./") || strings.HasSuffix(c, "/..") {
			t.Fatalf("canonicalPath(%q) = %q", path, c)
		}
	})
}
