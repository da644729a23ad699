package engine_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/challenge"
	"github.com/palisadehq/palisade/internal/engine"
)

// TestOwnCookiesPassTheFirewall: at paranoia 2 and 4, a browser carrying
// a clearance internal/challenge issued and an asset pass whose base64url
// hold "--", later "-" (CRS's SQL comment, 942440; three dashes, 942421)
// is granted, and so is curl cleared by that clearance; the same values
// under another cookie name are still denied, and so are payloads in
// cookies named palisade_clearance or palisade_pass.
func TestOwnCookiesPassTheFirewall(t *testing.T) {
	comment := regexp.MustCompile(`--[^-]*-`)
	dashy := func(v string) bool { return comment.MatchString(v) && strings.Count(v, "-") >= 3 }

	base := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	clock := base
	keys, err := challenge.NewKeys([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	is := challenge.NewIssuer(keys, challenge.NewMemorySpent(func() time.Time { return clock }), func() time.Time { return clock })
	ip := netip.MustParseAddr("198.51.100.7")
	chrome := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	curl := "curl/8.5.0"
	clearanceFor := func(ua string) string {
		for k := 0; k < 40000; k++ {
			clock = base.Add(-time.Duration(k) * time.Second)
			if c := is.Clearance(challenge.Client{Website: 1, IP: ip, UserAgent: ua}, 24*time.Hour); dashy(c) {
				clock = base
				return c
			}
		}
		t.Fatalf("no dashed clearance for %s", ua)
		return ""
	}
	chromeClearance, curlClearance := clearanceFor(chrome), clearanceFor(curl)
	pass := ""
	for e := 1800000000; pass == ""; e++ {
		sum := sha256.Sum256([]byte("pass " + strconv.Itoa(e)))
		if h := base64.RawURLEncoding.EncodeToString(sum[:16]); dashy(h) {
			pass = h + "." + strconv.Itoa(e) + ".humans"
		}
	}

	sigs, err := engine.LoadSignatures()
	if err != nil {
		t.Fatal(err)
	}
	ranges, err := engine.LoadBotRanges("")
	if err != nil {
		t.Fatal(err)
	}
	e := engine.New(engine.NewClassifier(sigs, ranges, nil), func() time.Time { return clock })
	e.SetClearance(is)
	browser := func(ua, cookie string) *engine.Request {
		h := http.Header{"User-Agent": {ua}, "Accept": {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
			"Accept-Language": {"en-GB,en;q=0.9"}, "Accept-Encoding": {"gzip, deflate, br"}, "Sec-Fetch-Site": {"none"},
			"Sec-Fetch-Mode": {"navigate"}, "Sec-Fetch-Dest": {"document"}, "Upgrade-Insecure-Requests": {"1"}, "Cookie": {cookie}}
		if ua == curl {
			h = http.Header{"User-Agent": {ua}, "Accept": {"*/*"}, "Cookie": {cookie}}
		}
		return &engine.Request{IP: ip, Method: "GET", Host: "shop.example.com", Path: "/shop", Proto: "HTTP/1.1", UserAgent: ua, Header: h}
	}
	b64 := base64.RawURLEncoding.EncodeToString
	sig := chromeClearance[strings.IndexByte(chromeClearance, '.')+1:]
	payloads := []string{
		"palisade_clearance=' OR 1=1--",
		"palisade_pass=' OR 1=1--",
		"palisade_clearance=<script>alert(1)</script>",
		"palisade_pass=<script>alert(1)</script>",
		"palisade_clearance=" + base64.StdEncoding.EncodeToString([]byte("eval(require('child_process').exec('id'))")),
		"palisade_clearance=" + b64([]byte("eval(require('child_process').exec('id'))")) + "." + sig,
		"palisade_clearance=" + chromeClearance + "' OR 1=1--",
		"palisade_pass=" + pass + "' UNION SELECT password FROM users--",
		"palisade_clearance=" + chromeClearance + "; palisade_clearance=<script>alert(1)</script>",
	}
	for _, pl := range []int{2, 4} {
		clock = base
		if errs := e.Load([]engine.Site{{ID: 1, PartnerID: 1, Domain: "shop.example.com", Status: "online",
			Settings: engine.Settings{WAF: engine.WAFSettings{Paranoia: pl}}}}, nil); len(errs) > 0 {
			t.Fatal(errs[0].Err)
		}
		p := e.ByDomain("shop.example.com")
		own := "session=abc; palisade_clearance=" + chromeClearance + "; palisade_pass=" + pass
		if v := e.Decide(p, browser(chrome, own)); v.Action != engine.Grant || v.WAF != nil {
			t.Errorf("PL%d: browser with %s: %s source %q, firewall %+v; want granted", pl, own, v, v.Source, v.WAF)
		}
		r := browser(curl, "palisade_clearance="+curlClearance)
		r.Clearance = curlClearance
		if v := e.Decide(p, r); v.Action != engine.Grant || v.Reason != "clearance" || v.WAF != nil {
			t.Errorf("PL%d: curl cleared by %s: %s (%s) source %q, firewall %+v; want granted by the clearance", pl, curlClearance, v, v.Reason, v.Source, v.WAF)
		}
		for _, other := range []string{"other=" + chromeClearance, "other=" + pass} {
			if v := e.Decide(p, browser(chrome, other)); v.Action != engine.Deny || v.Source != engine.SourceWAF {
				t.Errorf("PL%d: %s under another name: %s source %q; want the firewall's deny (a shape CRS flags)", pl, other, v, v.Source)
			}
		}
		for _, cookie := range payloads {
			if v := e.Decide(p, browser(chrome, cookie)); v.Action != engine.Deny || v.Source != engine.SourceWAF {
				t.Errorf("PL%d: %s: %s source %q; want the firewall's deny", pl, cookie, v, v.Source)
			}
		}
	}
}
