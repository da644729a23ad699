package core

import (
	"strings"
	"testing"
)

func TestNormalizeDomain(t *testing.T) {
	good := map[string]string{
		"Example.COM":         "example.com",
		" shop.example.com. ": "shop.example.com",
		"bücher.de":           "xn--bcher-kva.de",
		"xn--bcher-kva.de":    "xn--bcher-kva.de",
		"ＥＸＡＭＰＬＥ.com":         "example.com",
		"a-b.c-d.example.org": "a-b.c-d.example.org",
		"münchen.example.com": "xn--mnchen-3ya.example.com",
		"sub.domain.co.uk":    "sub.domain.co.uk",
		"123.example.com":     "123.example.com",
	}
	for in, want := range good {
		got, err := NormalizeDomain(in)
		if err != nil || got != want {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":                       "required",
		"https://example.com":    "scheme",
		"example.com/path":       "path",
		"example.com:8080":       "port",
		"user@example.com":       "user information",
		"192.168.1.1":            "IP address",
		"[::1]":                  "IP address",
		"localhost":              "two labels",
		"-bad.example.com":       "not a valid host name",
		"exa_mple.com":           "not a valid host name",
		"a..b.com":               "",
		"example.123":            "all-numeric",
		"*.example.com":          "wildcards",
		"exa mple.com":           "spaces",
		string(make([]byte, 64)): "",
	}
	long := ""
	for i := 0; i < 50; i++ {
		long += "abcde."
	}
	bad[long+"com"] = "253"
	for in, want := range bad {
		_, err := NormalizeDomain(in)
		if err == nil {
			t.Errorf("NormalizeDomain(%q) succeeded; want an error about %q", in, want)
			continue
		}
		if ErrorCode(err) != EINVALID || ErrorField(err) != "domain" {
			t.Errorf("NormalizeDomain(%q): error %v is not an invalid-domain error", in, err)
		}
		if want != "" && !strings.Contains(ErrorMessage(err), want) {
			t.Errorf("NormalizeDomain(%q) = %q; want it to mention %q", in, ErrorMessage(err), want)
		}
	}
}
