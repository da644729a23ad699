package waf

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// sqlComment is the shape CRS's 942440 reads as an SQL comment in a
// base64url value: "--", later another "-".
var sqlComment = regexp.MustCompile(`--[^-]*-`)

// issuedClearance makes a clearance exactly as internal/challenge issues
// it (a 16-byte signature, random here).
func issuedClearance(rng *rand.Rand) string {
	b64 := base64.RawURLEncoding
	ip := make([]byte, 4)
	if rng.IntN(2) == 0 {
		ip = make([]byte, 16)
	}
	for i := range ip {
		ip[i] = byte(rng.Uint64())
	}
	payload := fmt.Sprintf("c1.%d.%s.%x.%d", rng.IntN(100000), b64.EncodeToString(ip), rng.Uint64(), 1700000000+rng.IntN(100000000))
	sig := make([]byte, 16)
	for i := range sig {
		sig[i] = byte(rng.Uint64())
	}
	return b64.EncodeToString([]byte(payload)) + "." + b64.EncodeToString(sig)
}

// issuedPass makes an asset pass value as internal/api/forwardauth hands
// it out: 16 bytes of hash in base64url, expiry, reason.
func issuedPass(rng *rand.Rand) string {
	sum := make([]byte, 16)
	for i := range sum {
		sum[i] = byte(rng.Uint64())
	}
	return base64.RawURLEncoding.EncodeToString(sum) + "." + fmt.Sprint(1700000000+rng.IntN(100000000)) + ".humans"
}

// dashy finds an issued value (by gen) with an SQL-comment shape and at
// least three dashes: the ones CRS flagged.
func dashy(t *testing.T, gen func(*rand.Rand) string, seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, 21))
	for i := 0; i < 2_000_000; i++ {
		v := gen(rng)
		if sqlComment.MatchString(v) && strings.Count(v, "-") >= 3 {
			return v
		}
	}
	t.Fatal("no value of that shape")
	return ""
}

func TestOwnCookieShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		if c := issuedClearance(rng); !ownCookie("palisade_clearance", c) {
			t.Fatalf("issued clearance %q not recognised", c)
		}
		if p := issuedPass(rng); !ownCookie("palisade_pass", p) {
			t.Fatalf("issued pass %q not recognised", p)
		}
	}
	c, p := issuedClearance(rng), issuedPass(rng)
	b64 := base64.RawURLEncoding.EncodeToString
	for _, tc := range []struct{ name, value string }{
		{"palisade_clearance", p},
		{"palisade_pass", c},
		{"other", c},
		{"palisade_clearance", c + "x"},
		{"palisade_clearance", c + "."},
		{"palisade_clearance", c[:len(c)-1]},
		{"palisade_clearance", "x" + c},
		{"palisade_clearance", strings.Replace(c, ".", "..", 1)},
		{"palisade_clearance", b64([]byte("eval(require('child_process'))")) + "." + c[strings.IndexByte(c, '.')+1:]},
		{"palisade_clearance", b64([]byte("c1.1.AAAAAA.ab.1<script>")) + "." + c[strings.IndexByte(c, '.')+1:]},
		{"palisade_clearance", b64([]byte("c1.1.AAAAAA.ab.1.2")) + "." + c[strings.IndexByte(c, '.')+1:]},
		{"palisade_clearance", b64([]byte("c1.1.AAAA=A.ab.1")) + "." + c[strings.IndexByte(c, '.')+1:]},
		{"palisade_clearance", "' OR 1=1--"},
		{"palisade_clearance", ""},
		{"palisade_pass", p + "x"},
		{"palisade_pass", "x" + p},
		{"palisade_pass", strings.Replace(p, ".humans", ".search", 1)},
		{"palisade_pass", p[:21] + "=" + p[22:]},
		{"palisade_pass", p[:23] + "1234567890123.humans"},
		{"palisade_pass", p[:23] + ".humans"},
		{"palisade_pass", "' OR 1=1--"},
	} {
		if ownCookie(tc.name, tc.value) {
			t.Errorf("%s=%q taken for Palisade's own cookie", tc.name, tc.value)
		}
	}
}

func TestWithoutOwnCookies(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	c, p := issuedClearance(rng), issuedPass(rng)
	for _, tc := range []struct{ in, want string }{
		{"a=b", "a=b"},
		{"palisade_clearance=" + c, ""},
		{"a=b; palisade_clearance=" + c + "; palisade_pass=" + p + "; c=d", "a=b; c=d"},
		{" palisade_pass=" + p + " ;x;=y", "x; =y"},
		{"palisade_clearance=" + c + "; palisade_clearance=' OR 1=1--", "palisade_clearance=' OR 1=1--"},
		{"palisade_clearance=" + c + "' OR 1=1--", "palisade_clearance=" + c + "' OR 1=1--"},
	} {
		if got := withoutOwnCookies(tc.in); got != tc.want {
			t.Errorf("withoutOwnCookies(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestOwnCookiesNotInspected: clearances and passes of the dashed shapes
// CRS blocked at paranoia 2 and 4 pass under their own names (and are
// still blocked under another name, which shows the shape is one CRS
// flags); payloads under those names are still blocked.
func TestOwnCookiesNotInspected(t *testing.T) {
	if testing.Short() {
		t.Skip("searches for dashed values")
	}
	clearance := dashy(t, issuedClearance, 7)
	pass := dashy(t, issuedPass, 8)
	good := issuedClearance(rand.New(rand.NewPCG(9, 9)))
	goodPass := issuedPass(rand.New(rand.NewPCG(9, 9)))
	b64 := base64.RawURLEncoding.EncodeToString
	payloads := []string{
		"palisade_clearance=' OR 1=1--",
		"palisade_pass=' OR 1=1--",
		"palisade_clearance=<script>alert(1)</script>",
		"palisade_pass=<script>alert(1)</script>",
		"palisade_clearance=" + base64.StdEncoding.EncodeToString([]byte("eval(require('child_process').exec('id'))")),
		"palisade_clearance=" + b64([]byte("eval(require('child_process').exec('id'))")) + "." + good[strings.IndexByte(good, '.')+1:],
		"palisade_pass=" + base64.StdEncoding.EncodeToString([]byte("eval(require('child_process').exec('id'))")),
		"palisade_clearance=" + clearance + "' OR 1=1--",
		"palisade_clearance=" + clearance + "<script>alert(1)</script>",
		"palisade_pass=" + pass + "' UNION SELECT password FROM users--",
		"palisade_pass=" + goodPass + "; palisade_pass=<script>alert(1)</script>",
		"palisade_clearance=" + clearance + "; palisade_clearance=' OR 1=1--",
	}
	for _, pl := range []int{2, 4} {
		fw := firewall(t, pl)
		o := &Options{Paranoia: pl, Threshold: 5}
		for _, tc := range []struct{ name, value string }{{"palisade_clearance", clearance}, {"palisade_pass", pass}} {
			if r := fw.Evaluate(curlCleared("other="+tc.value), o); !r.Blocked {
				t.Errorf("PL%d: other=%s is not blocked (score %d): not a shape CRS flags", pl, tc.value, r.Score)
			}
			for _, cookie := range []string{tc.name + "=" + tc.value, "a=b; " + tc.name + "=" + tc.value + "; c=d"} {
				if r := fw.Evaluate(curlCleared(cookie), o); r.Blocked || len(r.Matches) > 0 {
					t.Errorf("PL%d: %s: blocked %v, matches %v", pl, cookie, r.Blocked, ids(r))
				}
			}
		}
		both := "palisade_clearance=" + clearance + "; palisade_pass=" + pass
		if r := fw.Evaluate(curlCleared(both), o); r.Blocked || len(r.Matches) > 0 {
			t.Errorf("PL%d: %s: blocked %v, matches %v", pl, both, r.Blocked, ids(r))
		}
		for _, cookie := range payloads {
			if r := fw.Evaluate(curlCleared(cookie), o); !r.Blocked {
				t.Errorf("PL%d: %s: not blocked (score %d, matches %v)", pl, cookie, r.Score, ids(r))
			}
		}
	}
}

// TestOwnCookieNoAllocs: a Cookie header without Palisade's cookies, and
// the shape checks themselves, allocate nothing.
func TestOwnCookieNoAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	c, p := issuedClearance(rng), issuedPass(rng)
	plain := "a=b; session=0123456789abcdef; theme=dark"
	with := "a=b; palisade_clearance=" + c + "; palisade_pass=" + p
	if n := testing.AllocsPerRun(100, func() {
		if hasOwnCookie(plain) || !hasOwnCookie(with) || !ownCookie("palisade_clearance", c) || !ownCookie("palisade_pass", p) {
			t.Fatal("wrong")
		}
	}); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
