package redteam19

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// cookieHeader is a Cookie header of about size bytes of harmless
// cookies ("c0=1; c1=1; ...").
func cookieHeader(size int) string {
	var sb strings.Builder
	for i := 0; sb.Len() < size; i++ {
		fmt.Fprintf(&sb, "c%d=1; ", i)
	}
	return strings.TrimSuffix(sb.String(), "; ")
}

// FINDING (high, anonymous visitor): the number of cookies CRS reads is
// not bounded (Coraza's argument limit covers parameters, not cookies),
// and a hundred CRS rules each walk REQUEST_COOKIES and
// REQUEST_COOKIES_NAMES. One GET with a 64 KiB Cookie header of harmless
// "cN=1" pairs costs about 2 s of CPU (measured on the review machine:
// 8 KiB 0.19 s, 64 KiB 1.9 s, 1 MiB 46 s). palisade proxy and the
// plane's own endpoints (BotGuard, BotBye, SPOE) accept Go's default 1 MiB of
// headers; nginx's default 8 KiB per header line still gives 0.2 s per
// request. No concurrency cap on the firewall was found: a handful of
// such requests per second pins every core of a node for every tenant.
// Bound the cookies (and headers, and a header's length) the firewall
// hands Coraza, scoring the excess as a protocol anomaly, and set
// CRS's tx.max_num_args / arg_length / total_arg_length.
func TestFAILS_CookieFloodCPUPerRequest(t *testing.T) {
	fw := firewall(t, 1)
	opt := defaultOptions(t)
	in := get("/")
	in.Header.Set("Cookie", cookieHeader(64<<10))
	start := time.Now()
	r := fw.Evaluate(in, opt)
	took := time.Since(start)
	t.Logf("64 KiB of harmless cookies: %v, score %d, skipped %v", took, r.Score, r.Skipped)
	if took > 200*time.Millisecond && !r.Blocked {
		t.Errorf("one GET with a 64 KiB Cookie header of harmless cookies costs %v of CPU and is not refused; want < 200ms (or refused cheaply)", took)
	}
}

// Same with a long query string: Coraza's argument limit (1000) holds
// the parameters, but the request is still parsed and walked whole.
// Recorded (not a failure) for the figures: 1 MiB of "aN=1&" ≈ 1 s.
func TestMeasure_QueryAndBodyWorstCase(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	fw := firewall(t, 1)
	opt := defaultOptions(t)
	var sb strings.Builder
	for i := 0; sb.Len() < 120<<10; i++ {
		fmt.Fprintf(&sb, "a%d=1&", i)
	}
	in := post("/x", "application/x-www-form-urlencoded", []byte(sb.String()))
	start := time.Now()
	fw.Evaluate(in, opt)
	t.Logf("120 KiB form of tiny parameters: %v", time.Since(start))
	in = get("/x")
	in.Header.Set("User-Agent", strings.Repeat("a'(<", 64<<10))
	start = time.Now()
	fw.Evaluate(in, opt)
	t.Logf("256 KiB User-Agent: %v", time.Since(start))
}
