// Package redteam19 holds the security review of issue 19 (the website
// firewall): each test fails while the weakness it names exists.
package redteam19

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/waf"
)

const chromeUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

func browserHeaders() http.Header {
	return http.Header{
		"User-Agent":      {chromeUA},
		"Accept":          {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
		"Accept-Language": {"en-US,en;q=0.9"},
		"Accept-Encoding": {"gzip, deflate, br"},
	}
}

// get builds a browser GET of target ("/path?query").
func get(target string) *waf.Input {
	p, q, _ := strings.Cut(target, "?")
	return &waf.Input{ClientAddr: netip.MustParseAddr("203.0.113.7"), Method: "GET", Host: "shop.example.com",
		Path: p, Query: q, Proto: "HTTP/1.1", Header: browserHeaders()}
}

// post builds a browser POST with a body of the given content type ("" none).
func post(target, contentType string, body []byte) *waf.Input {
	in := get(target)
	in.Method = "POST"
	if contentType != "" {
		in.Header.Set("Content-Type", contentType)
	}
	in.Header.Set("Content-Length", strconv.Itoa(len(body)))
	in.Body = body
	if len(body) > waf.MaxBody {
		in.Body, in.BodyTruncated = body[:waf.MaxBody], true
	}
	return in
}

var reg = waf.NewRegistry()

func firewall(t testing.TB, pl int) *waf.Firewall {
	t.Helper()
	fw, err := reg.Firewall(pl)
	if err != nil {
		t.Fatal(err)
	}
	return fw
}

// defaultOptions are a new website's: paranoia 1, threshold 5, the
// default exclusion sets.
func defaultOptions(t testing.TB) *waf.Options {
	t.Helper()
	ex, err := waf.CompileExclusions(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &waf.Options{Paranoia: 1, Threshold: 5, Exclusions: ex, Now: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}
}

func evaluate(t testing.TB, in *waf.Input) waf.Result {
	t.Helper()
	return firewall(t, 1).Evaluate(in, defaultOptions(t))
}

func ruleIDs(r waf.Result) []int {
	var out []int
	for _, m := range r.Matches {
		out = append(out, m.ID)
	}
	return out
}

func ipOf(s string) netip.Addr { return netip.MustParseAddr(s) }
