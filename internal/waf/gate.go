package waf

import (
	"bytes"
	"net/textproto"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// CRS on Go's regexp costs about 6 µs of CPU per inspected byte of one
// value (a 128 KiB form field: most of a second), and about 125 µs more
// per parameter or cookie (a hundred rules walk each one), so one client
// could keep every core busy with large requests. Requests whose weighted
// size (inspectedBytes: a unit is about 6 µs of CRS) is over HeavyBytes
// (about 50 ms) take a slot of the heavy gate: at most half the cores (at
// least one) evaluate such requests at once, HeavyQueue more wait up to
// HeavyWait, and any beyond that are not inspected and answered with
// RuleBusy (a block in block mode: a request that cannot be inspected is
// not let through uninspected). Ordinary requests never wait.
//
// Requests whose headers are over what web servers accept (a header value
// over MaxHeaderValue bytes, all headers over MaxHeaderBytes, more than
// MaxCookies cookies) are not inspected at all and answered with
// RuleHeaders: no browser sends them, and their cost is the visitor's
// choice.
const (
	HeavyBytes = 8 << 10
	HeavyQueue = 64
	HeavyWait  = 250 * time.Millisecond
	// RuleBusy is the id of the match a request not inspected for want of
	// capacity carries (Palisade's own, outside CRS's and patches' ids).
	RuleBusy = 999100
	// RuleHeaders is the id of the match a request whose headers are over
	// the limits carries (Palisade's own).
	RuleHeaders = 999101

	// MaxHeaderValue is Apache's LimitRequestFieldSize (nginx refuses a
	// header line over 8 KiB by default).
	MaxHeaderValue = 8190
	// MaxHeaderBytes is nginx's default large_client_header_buffers
	// (4 × 8 KiB) for all header names and values together.
	MaxHeaderBytes = 32 << 10
	// MaxCookies bounds the cookies of one request (browsers keep at most
	// 180 per domain; each costs CRS about 125 µs).
	MaxCookies = 300
)

// Weights of inspectedBytes, from TestMeasureCostPerByte (units of about
// 6 µs, one byte of a parameter's value).
const (
	weightItem       = 20 // each parameter or cookie, besides its bytes
	weightHeader     = 12 // each header, besides its bytes
	headerByteDivide = 16 // a header CRS reads only as a whole: 1/16 unit a byte
)

// gate bounds concurrent heavy evaluations.
type gate struct {
	slots   chan struct{}
	waiting atomic.Int64
	busy    atomic.Int64 // requests refused, for metrics and tests
}

func newGate(n int) *gate { return &gate{slots: make(chan struct{}, max(n, 1))} }

var heavy = newGate(runtime.GOMAXPROCS(0) / 2)

// BusyRefusals returns how many requests were not inspected because the
// heavy gate was full.
func BusyRefusals() int64 { return heavy.busy.Load() }

// acquire takes a slot, waiting up to wait; false: none came free.
func (g *gate) acquire(wait time.Duration) bool {
	select {
	case g.slots <- struct{}{}:
		return true
	default:
	}
	if g.waiting.Add(1) > HeavyQueue {
		g.waiting.Add(-1)
		g.busy.Add(1)
		return false
	}
	defer g.waiting.Add(-1)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return true
	case <-t.C:
		g.busy.Add(1)
		return false
	}
}

func (g *gate) release() { <-g.slots }

// inspectedBytes is about how much CRS would take to read in, in units
// of about 6 µs (one byte of a parameter's value): the path, query and
// body byte for byte plus weightItem per parameter; the Cookie header
// byte for byte plus weightItem per cookie; User-Agent, Referer and the
// upload file-name headers (which many rules read) byte for byte; other
// headers 1/headerByteDivide a byte; and weightHeader per header.
// Headers the integration set (IgnoreHeaders) are not counted.
func inspectedBytes(in *Input) int {
	n := len(in.Path) + len(in.Query) + len(in.Body)
	n += weightItem * (strings.Count(in.Query, "&") + bytes.Count(in.Body, []byte("&")))
	if b := bytes.TrimSpace(in.Body); len(b) > 0 && (b[0] == '{' || b[0] == '[') {
		n += weightItem * bytes.Count(b, []byte(","))
	}
	for k, vs := range in.Header {
		if ignoredHeader(in, k) {
			continue
		}
		perByte := 0
		k = textproto.CanonicalMIMEHeaderKey(k)
		switch k {
		case "Cookie", "User-Agent", "Referer", "X-Filename", "X-File-Name", "X_filename":
			perByte = 1
		}
		for _, v := range vs {
			n += weightHeader
			if perByte == 1 {
				n += len(k) + len(v)
			} else {
				n += (len(k) + len(v)) / headerByteDivide
			}
			if k == "Cookie" {
				n += weightItem * (strings.Count(v, ";") + 1)
			}
		}
	}
	return n
}

// headersOverLimits reports why in's headers are over what web servers
// and browsers send ("" when they are not).
func headersOverLimits(in *Input) string {
	total, cookies := 0, 0
	for k, vs := range in.Header {
		if len(in.IgnoreHeaders) > 0 && ignoredHeader(in, k) {
			continue
		}
		cookie := len(k) == 6 && strings.EqualFold(k, "Cookie")
		for _, v := range vs {
			if len(v) > MaxHeaderValue {
				return "request headers over the limits web servers accept: " + truncate(k, 64) + " longer than " + strconv.Itoa(MaxHeaderValue) + " bytes"
			}
			total += len(k) + len(v) + 4
			if cookie {
				cookies += strings.Count(v, ";") + 1
			}
		}
	}
	switch {
	case total > MaxHeaderBytes:
		return "request headers over the limits web servers accept: more than " + strconv.Itoa(MaxHeaderBytes>>10) + " KiB"
	case cookies > MaxCookies:
		return "request headers over the limits web servers accept: more than " + strconv.Itoa(MaxCookies) + " cookies"
	}
	return ""
}

// headersResult is the answer for a request whose headers are over the
// limits: not inspected, blocked.
func headersResult(res *Result, why string) {
	res.Blocked = true
	res.Class = ClassProtocol
	res.Matches = append(res.Matches, Match{ID: RuleHeaders, Class: ClassProtocol, Severity: "critical", Message: why})
}

// busyResult is the answer for a request the heavy gate turned away.
func busyResult(res *Result) {
	res.Blocked = true
	res.Class = ClassProtocol
	res.Matches = append(res.Matches, Match{ID: RuleBusy, Class: ClassProtocol, Severity: "critical",
		Message: "request not inspected: too many large requests at once"})
}
