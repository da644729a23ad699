package gp_test

import (
	"context"
	"github.com/palisadehq/palisade/internal/testenv/gplink"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
)

// TestFlood: unauthenticated GP traffic — requests with guessed hashes,
// bad timestamps, and login links with guessed hashes or unknown key
// prefixes — from an address many partners' keys may be used from, hashes
// at most the keys usable from there (not every partner's), stores nothing
// and keeps the heap bounded.
func TestFlood(t *testing.T) {
	e, c := setup(t)
	ctx := context.Background()
	// Many partners; three more share the caller's range, the rest are
	// bound elsewhere.
	for i := 0; i < 60; i++ {
		r := "198.51." + strconv.Itoa(i) + ".0/24"
		if i < 3 {
			r = "127.0.0." + strconv.Itoa(i*16) + "/28"
		}
		if _, _, err := e.Service.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "p" + strconv.Itoa(i), AllowedIPs: []string{r}}); err != nil {
			t.Fatal(err)
		}
	}
	httpc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(req *http.Request) int {
		resp, err := httpc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := e.Service.GPStats()
	const n = 600
	for i := 0; i < n; i++ {
		domain := "d" + strconv.Itoa(i) + ".example"
		ts := c.timestamp()
		if i%4 == 3 {
			ts = strconv.Itoa(i) // a bad timestamp: no key is tried
		}
		form := url.Values{"domain": {domain}, "timestamp": {ts}, "hash": {core.GPHash("pk_guess"+strconv.Itoa(i), domain, ts)}}
		req, _ := http.NewRequest("POST", e.URL+"/api/v1/getcredit/", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if code := do(req); code != 200 {
			t.Fatalf("getcredit: %d", code)
		}
		l := gplink.New("pk_guess"+strconv.Itoa(i), "admin", domain, e.Clock.Now())
		if i%2 == 0 {
			l.Key = gplink.KeyID(c.key) // a real key's id, a guessed hash
		}
		q := url.Values{"panel": {l.Panel}, "domain": {l.Domain}, "timestamp": {l.Timestamp}, "key": {l.Key}, "hash": {l.Hash}}
		req, _ = http.NewRequest("GET", e.URL+"/api/v1/login/?"+q.Encode(), nil)
		if code := do(req); code != 403 {
			t.Fatalf("guessed link: %d", code)
		}
	}
	got := e.Service.GPStats()
	// From 127.0.0.1 the testenv partner's key and at most one of the
	// three sharing 127.0.0.0/24 may be used: two hashes a request, one
	// per link naming a real prefix. Every key for every request would be
	// 61 × 600.
	if h := got.Hashes - start.Hashes; h > 2*n+n/2 {
		t.Fatalf("%d requests and %d links hashed %d keys", n, n, h)
	}
	if l := got.Loads - start.Loads; l > 1+n/50 {
		t.Fatalf("the key index was read %d times", l)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grow := int64(after.HeapInuse) - int64(before.HeapInuse); grow > 16<<20 {
		t.Fatalf("the flood grew the heap by %d bytes", grow)
	}
	// None of it was stored: a real request still works at once.
	want(t, c.call("getcredit", url.Values{"domain": {"panel.example"}}), "OK - 1000.00")
}
