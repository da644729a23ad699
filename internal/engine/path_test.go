package engine

import (
	"strings"
	"testing"
)

// TestCanonicalPath is the table of spellings a web server or application
// behind Palisade resolves to one path (issue 16 follow-up, finding 1).
func TestCanonicalPath(t *testing.T) {
	cases := map[string]string{
		"":                               "/",
		"/":                              "/",
		"/admin":                         "/admin",
		"/admin/":                        "/admin/",
		"/%61dmin":                       "/admin",
		"/%61%64%6D%69%6e/secret":        "/admin/secret",
		"//admin":                        "/admin",
		"///admin//secret":               "/admin/secret",
		"/./admin":                       "/admin",
		"/x/../admin":                    "/admin",
		"/x/y/../../admin/.":             "/admin/",
		"/%2e/admin":                     "/admin",
		"/%2e%2e/admin":                  "/admin",
		"/%2E%2E/%2e%2e/admin":           "/admin",
		"/../../admin":                   "/admin",
		"/admin%2fsecret":                "/admin/secret",
		"/admin%2F":                      "/admin/",
		"/x%2F..%2Fadmin":                "/admin",
		"/x%5c..%5cadmin":                "/admin",
		`\admin\secret`:                  "/admin/secret",
		`/x\..\admin`:                    "/admin",
		"/admin;jsessionid=1/x":          "/admin/x",
		"/..;/admin":                     "/admin",
		"/x/..;/admin;a=b":               "/admin",
		"/ADMIN":                         "/ADMIN", // case-sensitive, as nginx, Apache and Go serve
		"/%zz/%4":                        "/%zz/%4",
		"/caf%C3%A9":                     "/café",
		"/%252e%252e/admin":              "/%2e%2e/admin", // decoded once, as servers do
		"http://shop.example.com//admin": "/admin",
		"https://shop.example.com":       "/",
		"admin":                          "/admin",
		"/wp-login.php":                  "/wp-login.php",
		"//wp-login.php":                 "/wp-login.php",
		"/a.b/.c/..d/...":                "/a.b/.c/..d/...",
	}
	for in, want := range cases {
		if got := CanonicalPath(in); got != want {
			t.Errorf("CanonicalPath(%q) = %q, want %q", in, got, want)
		}
		if got := CanonicalPath(want); got != want && !strings.Contains(want, "%") {
			t.Errorf("CanonicalPath(%q) is not stable: %q", want, got)
		}
	}
	if n := testing.AllocsPerRun(100, func() { CanonicalPath("/shop/item/42.html") }); n != 0 {
		t.Errorf("a canonical path allocates %v times", n)
	}
}

// TestPathSpellingsCannotEscapeRules: a deny rule on /admin, a rate limit
// on /wp-login.php and an expression on path apply to every spelling of
// the path; the event keeps the path as sent.
func TestPathSpellingsCannotEscapeRules(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	p := load(t, e, Settings{
		WAF: wafOff, // the firewall would deny the dot segments first (waf_test.go)
		Rules: []Rule{
			{Name: "Admin", Action: "deny", Conditions: []Condition{{Field: "path", Op: "starts_with", Value: "/admin"}}},
			{Name: "Exact", Action: "deny", Conditions: []Condition{{Field: "path", Op: "is", Value: "/private/report.pdf"}}},
			{Name: "Encoded value", Action: "deny", Conditions: []Condition{{Field: "path", Op: "is_any_of", Values: []string{"/caf%C3%A9/menu"}}}},
			{Name: "CEL", Action: "deny", Expression: `path.startsWith("/internal/")`},
		},
		RateLimits: []RateLimit{{Name: "Login", PathPrefix: "/wp-login.php", Requests: 3, Period: "1m", Action: "deny"}},
	})
	at := func(path string) *Request {
		return req("198.51.100.7", chromeUA, func(r *Request) { r.Path = path })
	}
	for _, c := range []struct{ path, reason string }{
		{"/admin/secret", "Admin"}, {"/%61dmin/secret", "Admin"}, {"//admin/secret", "Admin"}, {"/./admin/secret", "Admin"},
		{"/x/../admin/secret", "Admin"}, {"/%2e%2e/admin", "Admin"}, {"/%2E/admin", "Admin"}, {"/admin%2fsecret", "Admin"},
		{`/x\..\admin`, "Admin"}, {"/..;/admin", "Admin"}, {"/static;v=1/../admin", "Admin"}, {"http://shop.example.com//admin", "Admin"},
		{"/private/report.pdf", "Exact"}, {"/private//report.pdf", "Exact"}, {"/private/report.pdf/", "Exact"}, {"/private/%72eport.pdf", "Exact"},
		{"/café/menu", "Encoded value"}, {"/caf%c3%a9/menu", "Encoded value"},
		{"/internal/x", "CEL"}, {"//internal/x", "CEL"}, {"/%69nternal/x", "CEL"},
	} {
		if v := e.Decide(p, at(c.path)); v.Action != Deny || v.Reason != c.reason {
			t.Errorf("%s: %s (%s), want deny (%s)", c.path, v.Action, v.Reason, c.reason)
		}
	}
	for _, path := range []string{"/ADMIN", "/public/admin", "/x/admin", "/%2561dmin"} {
		if v := e.Decide(p, at(path)); v.Action != Grant {
			t.Errorf("%s: %s (%s), want grant", path, v.Action, v.Reason)
		}
	}
	r := at("/x/../%61dmin")
	e.Decide(p, r)
	if r.Path != "/x/../%61dmin" || r.CanonicalPath() != "/admin" {
		t.Errorf("the request keeps the path as sent (%q) and its canonical form (%q)", r.Path, r.CanonicalPath())
	}
	// The login limit counts every spelling of /wp-login.php.
	denied := 0
	for i, path := range []string{"/wp-login.php", "//wp-login.php", "/./wp-login.php", "/%77p-login.php", "/x/../wp-login.php", "/wp-login.php;x"} {
		if v := e.Decide(p, at(path)); v.Action == Deny && v.Reason == "Login" {
			denied++
		} else if i >= 3 {
			t.Errorf("request %d (%s) was not limited: %s (%s)", i+1, path, v.Action, v.Reason)
		}
	}
	if denied != 3 {
		t.Errorf("%d of 6 login requests denied, want 3", denied)
	}
	// A rate limit's prefix may itself be written in any spelling.
	p2 := load(t, e, Settings{WAF: wafOff, RateLimits: []RateLimit{{Name: "API", PathPrefix: "//api/./v1", Requests: 1, Period: "1m", Action: "deny"}}})
	e.Decide(p2, at("/api/v1/x"))
	if v := e.Decide(p2, at("/api//v1/y")); v.Action != Deny {
		t.Errorf("prefix written as //api/./v1: %s", v.Action)
	}
}
