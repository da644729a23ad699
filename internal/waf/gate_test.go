package waf

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHeavyGate: a request with more than HeavyBytes for CRS to read waits
// for a slot of the heavy gate; when none comes free it is not inspected
// and blocked with RuleBusy, while ordinary requests are evaluated as ever.
func TestHeavyGate(t *testing.T) {
	fw, err := Default.Firewall(1)
	if err != nil {
		t.Fatal(err)
	}
	saved := heavy
	heavy = newGate(1)
	defer func() { heavy = saved }()
	big := &Input{ClientAddr: netip.MustParseAddr("203.0.113.9"), Method: "POST", Host: "shop.example.com", Path: "/comment", Proto: "HTTP/1.1",
		Header: http.Header{"User-Agent": {"Mozilla/5.0"}, "Content-Type": {"application/x-www-form-urlencoded"},
			"Content-Length": {strconv.Itoa(len("comment=") + HeavyBytes)}},
		Body: []byte("comment=" + strings.Repeat("a", HeavyBytes))}
	o := &Options{Paranoia: 1, Threshold: 5}
	if res := fw.Evaluate(big, o); res.Blocked || len(res.Matches) != 0 {
		t.Fatalf("a large harmless request with the gate free: %+v", res)
	}
	heavy.slots <- struct{}{} // every slot taken
	start := time.Now()
	res := fw.Evaluate(big, o)
	if !res.Blocked || res.Class != ClassProtocol || len(res.Matches) != 1 || res.Matches[0].ID != RuleBusy {
		t.Fatalf("large request with the gate full: %+v; want blocked with rule %d", res, RuleBusy)
	}
	if waited := time.Since(start); waited < HeavyWait || waited > 10*HeavyWait {
		t.Errorf("waited %s for a slot; want about %s", waited, HeavyWait)
	}
	if heavy.busy.Load() != 1 {
		t.Errorf("busy refusals %d, want 1", heavy.busy.Load())
	}
	// A small attack is still evaluated while the gate is full.
	small := &Input{ClientAddr: netip.MustParseAddr("203.0.113.9"), Method: "GET", Host: "shop.example.com", Path: "/products", Query: "id=1'%20OR%20'1'='1",
		Proto: "HTTP/1.1", Header: http.Header{"User-Agent": {"Mozilla/5.0"}}}
	if res := fw.Evaluate(small, o); !res.Blocked || res.Class != ClassSQLi {
		t.Errorf("small attack with the gate full: %+v; want the SQL injection found", res)
	}
	// A slot coming free lets a waiting request in.
	go func() { time.Sleep(HeavyWait / 5); heavy.release() }()
	if res := fw.Evaluate(big, o); res.Blocked {
		t.Errorf("a slot came free within the wait: %+v; want evaluated", res)
	}
	// The queue is bounded: beyond HeavyQueue waiters, refused at once.
	heavy.slots <- struct{}{}
	heavy.waiting.Store(HeavyQueue)
	start = time.Now()
	if res := fw.Evaluate(big, o); !res.Blocked || time.Since(start) > HeavyWait/2 {
		t.Errorf("queue full: %+v after %s; want refused at once", res, time.Since(start))
	}
	heavy.waiting.Store(0)
	heavy.release()
}

// cookieFlood is a Cookie header of about size bytes of tiny cookies.
func cookieFlood(size int) string {
	var sb strings.Builder
	for i := 0; sb.Len() < size; i++ {
		if i > 0 {
			sb.WriteString("; ")
		}
		sb.WriteString("c" + itoa(i) + "=1")
	}
	return sb.String()
}

// TestHeadersOverLimitsNotInspected: a header value over MaxHeaderValue,
// headers over MaxHeaderBytes in all, or more than MaxCookies cookies are
// blocked with RuleHeaders at once, without CRS; just under the limits,
// and in headers the integration set, they are not.
func TestHeadersOverLimitsNotInspected(t *testing.T) {
	fw := firewall(t, 1)
	o := &Options{Paranoia: 1, Threshold: 5}
	longCookie := func(n int) string { return "sid=" + strings.Repeat("a", n-len("sid=")) }
	many := func() *Input {
		in := get("/")
		for i := 0; i < 5; i++ {
			in.Header.Set("X-Big-"+itoa(i), strings.Repeat("b", 7000))
		}
		return in
	}
	for name, c := range map[string]struct {
		in      func() *Input
		refused bool
	}{
		"cookie 8191":    {func() *Input { in := get("/"); in.Header.Set("Cookie", longCookie(8191)); return in }, true},
		"cookie 8190":    {func() *Input { in := get("/"); in.Header.Set("Cookie", longCookie(8190)); return in }, false},
		"user agent 9k":  {func() *Input { in := get("/"); in.Header.Set("User-Agent", strings.Repeat("M", 9000)); return in }, true},
		"35 KiB headers": {many, true},
		"301 cookies": {func() *Input {
			in := get("/")
			in.Header.Set("Cookie", cookieFlood(0)+strings.Repeat("; x=1", 300))
			return in
		}, true},
		"300 cookies": {func() *Input {
			in := get("/")
			in.Header.Set("Cookie", cookieFlood(0)+strings.Repeat("; x=1", 299))
			return in
		}, false},
		"ignored 9k header": {func() *Input {
			in := get("/")
			in.Header.Set("X-Original-Uri", "/"+strings.Repeat("a", 9000))
			in.IgnoreHeaders = []string{"X-Original-Uri"}
			return in
		}, false},
	} {
		res := fw.Evaluate(c.in(), o)
		refused := len(res.Matches) == 1 && res.Matches[0].ID == RuleHeaders
		if refused != c.refused {
			t.Errorf("%s: %+v; want refused with %d: %v", name, res, RuleHeaders, c.refused)
			continue
		}
		if refused && (!res.Blocked || res.Class != ClassProtocol || !strings.HasPrefix(res.Matches[0].Message, "request headers over the limits web servers accept")) {
			t.Errorf("%s: %+v; want blocked, class protocol", name, res)
		}
	}
}

// TestInspectedBytesWeighsHeaders: headers and cookies weigh by what CRS
// spends on them, so a request of 7.6 KiB of tiny cookies or 1000 tiny
// parameters goes through the heavy gate, while an ordinary browser
// request with 2.5 KiB of cookies does not.
func TestInspectedBytesWeighsHeaders(t *testing.T) {
	in := get("/")
	in.Header.Set("Cookie", cookieFlood(8<<10-600))
	if n := inspectedBytes(in); n <= HeavyBytes {
		t.Errorf("7.6 KiB of tiny cookies weighs %d; want over HeavyBytes %d", n, HeavyBytes)
	}
	var q strings.Builder
	for i := 0; i < 1000; i++ {
		q.WriteString("a" + itoa(i) + "=&")
	}
	if n := inspectedBytes(get("/search?" + q.String())); n <= HeavyBytes {
		t.Errorf("1000 tiny parameters (%d bytes) weigh %d; want over HeavyBytes", q.Len(), n)
	}
	in = get("/products/shoes?utm_source=newsletter&utm_medium=email&utm_campaign=winter")
	var c strings.Builder
	for i := 0; c.Len() < 2500; i++ {
		if i > 0 {
			c.WriteString("; ")
		}
		c.WriteString("_cookie" + itoa(i) + "=GA1.1.1234567890.1700000000.abcdefabcdef")
	}
	in.Header.Set("Cookie", c.String())
	in.Header.Set("Referer", "https://www.google.com/search?q=winter+shoes+for+women&source=hp&ei=abcdefghijkl")
	if n := inspectedBytes(in); n > HeavyBytes/2 {
		t.Errorf("an ordinary browser request with %d bytes of cookies weighs %d; want well under HeavyBytes %d", c.Len(), n, HeavyBytes)
	}
	// A header CRS reads only as a whole weighs less than its bytes.
	in = get("/")
	in.Header.Set("X-Trace", strings.Repeat("t", 8000))
	if n := inspectedBytes(in); n > HeavyBytes/2 {
		t.Errorf("one 8000-byte X-Trace header weighs %d", n)
	}
}
