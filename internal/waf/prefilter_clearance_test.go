package waf

import (
	"encoding/base64"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// curlCleared is bench/compare.sh's fa-cleared request as the firewall
// sees it: curl with a clearance cookie.
func curlCleared(cookie string) *Input {
	return &Input{ClientAddr: netip.MustParseAddr("203.0.113.50"), Method: "GET", Host: "shop.example.com",
		Path: "/products/42", Proto: "HTTP/1.1", Header: http.Header{"User-Agent": {"curl/8.5.0"}, "Accept": {"*/*"},
			"X-Real-Ip": {"203.0.113.50"}, "Cookie": {cookie}}}
}

// soundAt checks that CRS at every paranoia level matches nothing in a
// request the prefilter passes, and reports whether it passed it.
func soundAt(t *testing.T, fws []*Firewall, label string, in *Input) bool {
	t.Helper()
	if !prefilterClean(in) {
		return false
	}
	for _, fw := range fws {
		if ids := crsMatches(fw, in); ids != nil {
			t.Errorf("%s: the prefilter passed it but CRS at PL%d matches %v: %s", label, fw.Paranoia(), ids, describe(in))
		}
	}
	return true
}

func allLevels(t testing.TB) []*Firewall {
	return []*Firewall{firewall(t, 1), firewall(t, 2), firewall(t, 3), firewall(t, 4)}
}

// TestPrefilterClearanceCookies: curl with a clearance cookie passes the
// prefilter (most clearances: those with more than two "-", a "--" or a
// keyword go to CRS), and CRS at every level matches nothing in those it
// passes.
func TestPrefilterClearanceCookies(t *testing.T) {
	if testing.Short() {
		t.Skip("evaluates hundreds of requests")
	}
	fws := allLevels(t)
	if in := curlCleared("a=b"); !soundAt(t, fws, "curl", in) {
		t.Fatalf("curl with a plain cookie is not clean: %s", describe(in))
	}
	rng := rand.New(rand.NewPCG(7, 2026))
	n, clean := 300, 0
	for i := 0; i < n; i++ {
		v := issuedClearance(rng)
		if soundAt(t, fws, "clearance "+v, curlCleared("palisade_clearance="+v)) {
			clean++
		} else if !strings.Contains(v, "--") && strings.Count(v, "-") <= 2 {
			t.Logf("a clearance of at most two single dashes not clean: %s", v)
		}
		// Beside a browser's cookies, in a browser request.
		in := assetGET()
		in.Header.Set("Cookie", in.Header.Get("Cookie")+"; palisade_clearance="+v)
		soundAt(t, fws, "browser with clearance "+v, in)
	}
	t.Logf("%d of %d clearances clean", clean, n)
	if clean*100 < n*85 {
		t.Errorf("only %d of %d clearances clean", clean, n)
	}
}

// TestPrefilterOpaqueTokenPayloads: values of the base64url alphabet
// (and ".") that are payloads, as a clearance cookie, another cookie and
// a parameter: whatever the prefilter passes, CRS at every level matches
// nothing, and the ones CRS reads as attacks are refused.
func TestPrefilterOpaqueTokenPayloads(t *testing.T) {
	fws := allLevels(t)
	b64 := base64.RawURLEncoding.EncodeToString
	sig := "q3Jx0Tb5mJ8uVZy1Wl4oC9rEw2nKf6dHsAiPgXeL7aM"
	values := []string{
		"--", "1--1", "a--b", "a--b-c", "-", "---", "----------", "a-b-c", "a-b-c-d", "1-1", "1-", "-1",
		"a.b", "a..b", ".", "..", "a.b.c", "_", "____", "a____b", "__proto__", "a_b_c_d_e____x",
		"union.select", "select.1", "1.union.select.2", "or.1.1", "1.e.1", "0x41414141", "a.0x414141",
		"x-0xabc", "sleep.5", "benchmark", "waitfor.delay", "information_schema", "pg_sleep", "sp_executesql",
		"xp_cmdshell", "id", "ls-la", "cat.etc.passwd", "etc.passwd", "passwd", "javascript", "alert.1",
		"document.cookie", "constructor", "this.constructor", "String.fromCharCode", "rO0AB", "rO0ABXNy",
		"ZXZhbCgx", "ZXZhbCgxKQ", "cmVxdWlyZSgi", "d2hpbGUodHJ1ZSk", "AAAZXZhbCgx", "ZXZhbCgx." + sig,
		b64([]byte("eval(1)")) + "." + sig, b64([]byte("require('child_process')")) + "." + sig,
		b64([]byte("while(true)")) + "." + sig, b64([]byte("process.env[")) + "." + sig,
		b64([]byte("<script>alert(1)</script>")) + "." + sig, b64([]byte("' or 1=1--")) + "." + sig,
		"YzEu--x-y." + sig, "YzEu-x." + sig + "-" + sig, "YzEu." + strings.Repeat("-", 40), "YzEu." + strings.Repeat("_", 40),
		strings.Repeat("A", 200) + "." + sig, "1.e.1." + sig, "union." + sig, sig + ".select",
	}
	mustRefuse := map[string]bool{"1--1": true, "ZXZhbCgx": true, "ZXZhbCgxKQ": true, "d2hpbGUodHJ1ZSk": true,
		"ZXZhbCgx." + sig: true, b64([]byte("eval(1)")) + "." + sig: true}
	for _, v := range values {
		for _, in := range []*Input{curlCleared("palisade_clearance=" + v), curlCleared("c=" + v),
			func() *Input { in := curlCleared("a=b"); in.Query = "t=" + v; return in }()} {
			if soundAt(t, fws, v, in) && mustRefuse[v] {
				t.Errorf("%q passed", v)
			}
		}
	}
}

// TestPrefilterBase64Rules: 934100, 934101 and 934160 decode base64 in
// parameters, cookies and the path; a token of letters and digits that
// decodes to what they look for goes to CRS, which matches it.
func TestPrefilterBase64Rules(t *testing.T) {
	fw := firewall(t, 2)
	for _, c := range []struct{ where, v string }{
		{"cookie", "ZXZhbCgx"}, {"cookie", "cmVxdWlyZSgi"}, {"cookie", "d2hpbGUodHJ1ZSk"},
		{"query", "ZXZhbCgxKQ"}, {"query", "cmVxdWlyZSgi"}, {"name", "ZXZhbCgx"},
		{"path", "/AAAZXZhbCgx"}, {"path", "/AAAZXZhbCgxKQ.js"},
	} {
		in := assetGET()
		switch c.where {
		case "cookie":
			in.Header.Set("Cookie", "s="+c.v)
		case "query":
			in.Query = "t=" + c.v
		case "name":
			in.Query = c.v + "=1"
		case "path":
			in.Path = c.v
		}
		if prefilterClean(in) {
			t.Errorf("%s %q: clean", c.where, c.v)
		}
		if crsMatches(fw, in) == nil {
			t.Errorf("%s %q: CRS matches nothing (the case proves nothing)", c.where, c.v)
		}
	}
	if got := pfBase64Decode("ZXZhbCgx-rest"); got != "eval(1" {
		t.Errorf("decode: %q", got)
	}
	if got := pfBase64Decode("ZXZhbA"); got != "eval" {
		t.Errorf("decode of a partial group: %q", got)
	}
}

// TestPrefilterCurlUserAgent: curl's user agent passes and CRS at every
// level matches nothing in it; other shapes around "curl" do not pass on
// that account.
func TestPrefilterCurlUserAgent(t *testing.T) {
	fws := allLevels(t)
	for _, ua := range []string{"curl/8.5.0", "curl/7.88.1", "curl/8.11.1", "curl/7.29.0", "curl/8", "curl/10.0.0",
		"curl/7.68.0", "curl/999.999.999"} {
		in := curlCleared("a=b")
		in.Header.Set("User-Agent", ua)
		if !soundAt(t, fws, ua, in) {
			t.Errorf("%q: not clean", ua)
		}
	}
	for _, ua := range []string{"curl/", "curl/8..5", "curl/.8", "curl/8.5.0 id", "curl/8.5.0-DEV", "curl/x", "curl",
		"curl/8.5.0/bin/sh", "wget/1.21", "curl/12345678901234567"} {
		if pfCurlUA(ua) {
			t.Errorf("%q: read as curl's", ua)
		}
	}
}

// BenchmarkPrefilterCurlCleared: bench/compare.sh's fa-cleared request
// (curl with a clearance cookie), as the verdicts repeat.
func BenchmarkPrefilterCurlCleared(b *testing.B) {
	in := curlCleared("palisade_clearance=" + benchClearance)
	b.ReportAllocs()
	for b.Loop() {
		prefilterClean(in)
	}
}

// BenchmarkEvaluateCurlCleared: the same through Evaluate at paranoia
// level 1 (the full evaluation when the prefilter does not pass it).
func BenchmarkEvaluateCurlCleared(b *testing.B) {
	fw := firewall(b, 1)
	in := curlCleared("palisade_clearance=" + benchClearance)
	o := &Options{Paranoia: 1, Threshold: 5}
	b.ReportAllocs()
	for b.Loop() {
		fw.Evaluate(in, o)
	}
}

// benchClearance: a clearance of the usual shape (two single "-").
const benchClearance = "YzEuMTIzNDUuekFJNlB3LmUzYjBjNDQyOThmYzFjMTQuMTc2NDU0MzIxMA.Hk2v-Qe9dLx0Rr5s_Wm1Tq8uYz3Ab7Cd-Ef2Gh4Ij6K"
