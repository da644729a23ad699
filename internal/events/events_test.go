package events

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv/testclock"
	"github.com/palisadehq/palisade/internal/waf"
)

type memSink struct {
	mu      sync.Mutex
	events  []core.Event
	stats   map[string]int64
	fail    int // fail this many calls first
	lostAck int // store this many calls but report an error (the commit's acknowledgement was lost)
	calls   int
	ids     map[string]bool
	orphans int64 // repeats whose event was not there
}

func (m *memSink) write(_ context.Context, id string, es []core.Event, rows []core.StatRow) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.fail > 0 {
		m.fail--
		return errors.New("disk on fire")
	}
	if m.ids == nil {
		m.ids = map[string]bool{}
	}
	if m.ids[id] {
		return nil // stored before: skipped, like core.Service.RecordBatch
	}
	m.ids[id] = true
	defer func() {
		if m.lostAck > 0 {
			m.lostAck--
			panic(errLostAck)
		}
	}()
	m.events = append(m.events, es...)
	if m.stats == nil {
		m.stats = map[string]int64{}
	}
	for _, r := range rows {
		if r.WAFClass != "" {
			m.stats["waf:"+r.WAFClass+"/"+r.Action] += r.Count
			continue
		}
		m.stats[r.Action+"/"+r.Category] += r.Count
	}
	return nil
}

var pol = &engine.Policy{WebsiteID: 1, PartnerID: 2, Domain: "a.example"}

func req() *engine.Request {
	return &engine.Request{IP: netip.MustParseAddr("192.0.2.1"), Method: "GET", Host: "a.example", Path: "/x", UserAgent: "curl/8"}
}

func TestRecorderKeepsDeniesAndSamplesGrants(t *testing.T) {
	sink := &memSink{}
	r := New(sink.write, Options{GrantSample: 0, Flush: time.Hour, Now: testclock.New(t).Now})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	for i := 0; i < 10; i++ {
		r.Observe(pol, req(), engine.Verdict{Action: engine.Grant, Source: engine.SourceCategory, Category: engine.Humans})
	}
	r.Observe(pol, req(), engine.Verdict{Action: engine.Deny, Source: engine.SourceRule, Reason: "No admin"})
	r.Observe(pol, req(), engine.Verdict{Action: engine.Challenge, Source: engine.SourceCategory, Category: engine.AutomationTools, Detail: "curl"})
	r.Observe(nil, req(), engine.Verdict{Unprotected: true})
	r.Observe(pol, req(), engine.Verdict{Unprotected: true, Website: 1})
	r.Flush(ctx)
	cancel()
	<-done
	if len(sink.events) != 2 {
		t.Fatalf("%d events; want the deny and the challenge", len(sink.events))
	}
	if e := sink.events[0]; e.Reason != "No admin" || e.Category != "custom_rules" || e.IP != "192.0.2.1" || e.WebsiteID != 1 || e.PartnerID != 2 {
		t.Fatalf("event %+v", e)
	}
	if sink.stats["grant/humans"] != 10 || sink.stats["deny/custom_rules"] != 1 || sink.stats["challenge/automation_tools"] != 1 || sink.stats["grant/unprotected"] != 1 {
		t.Fatalf("counters %v", sink.stats)
	}
}

func TestRecorderDropsWhenFull(t *testing.T) {
	sink := &memSink{}
	r := New(sink.write, Options{Buffer: 5, Now: testclock.New(t).Now})
	// Run is not running: nothing drains the buffer.
	for i := 0; i < 20; i++ {
		r.Observe(pol, req(), engine.Verdict{Action: engine.Deny})
	}
	if r.Dropped() != 15 || r.Pending() != 5 {
		t.Fatalf("dropped %d, pending %d", r.Dropped(), r.Pending())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	r.Flush(ctx)
	cancel()
	<-done
	if len(sink.events) != 5 || r.Written() != 5 {
		t.Fatalf("written %d/%d", len(sink.events), r.Written())
	}
}

var errLostAck = errors.New("connection reset after commit")

// lossy turns memSink's lost-acknowledgement panic into an error after
// the batch was stored, as a dropped connection after COMMIT would.
func (m *memSink) lossy(ctx context.Context, id string, es []core.Event, rows []core.StatRow) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = v.(error)
		}
	}()
	return m.write(ctx, id, es, rows)
}

func TestRecorderStorageFailure(t *testing.T) {
	sink := &memSink{fail: 3}
	r := New(sink.lossy, Options{Buffer: 4, Batch: 1, Now: testclock.New(t).Now})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	r.Observe(pol, req(), engine.Verdict{Action: engine.Deny})
	r.Flush(ctx) // three failures, then stored: nothing dropped
	if len(sink.events) != 1 || r.Dropped() != 0 || sink.stats["deny/humans"] != 1 {
		t.Fatalf("after three failures: %d stored, %d dropped, counters %v", len(sink.events), r.Dropped(), sink.stats)
	}
	// A batch stored whose acknowledgement was lost is retried under the
	// same id and not stored twice.
	sink.lostAck = 1
	r.Observe(pol, req(), engine.Verdict{Action: engine.Deny})
	r.Flush(ctx)
	if len(sink.events) != 2 || sink.stats["deny/humans"] != 2 {
		t.Fatalf("after a lost acknowledgement: %d stored, counters %v", len(sink.events), sink.stats)
	}
	// A long outage: the buffer (4) fills and the rest are dropped, counted.
	sink.mu.Lock()
	sink.fail = 1 << 30
	sink.mu.Unlock()
	r.Observe(pol, req(), engine.Verdict{Action: engine.Deny})
	time.Sleep(50 * time.Millisecond) // Run takes it and starts failing
	for i := 0; i < 10; i++ {
		r.Observe(pol, req(), engine.Verdict{Action: engine.Deny})
	}
	if r.Dropped() != 6 || r.Pending() != 4 {
		t.Fatalf("outage: dropped %d, pending %d", r.Dropped(), r.Pending())
	}
	sink.mu.Lock()
	sink.fail = 0
	sink.mu.Unlock()
	r.Flush(ctx)
	if len(sink.events) != 2+1+4 || sink.stats["deny/humans"] != 2+11 {
		t.Fatalf("after the outage: %d stored, counters %v", len(sink.events), sink.stats)
	}
	// Events queued at shutdown are written.
	r.Observe(pol, req(), engine.Verdict{Action: engine.Deny})
	cancel()
	<-done
	if len(sink.events) != 8 {
		t.Fatalf("shutdown flush: %d stored", len(sink.events))
	}
}

// BenchmarkObserve: the cost a decision pays to be recorded.
func BenchmarkObserve(b *testing.B) {
	r := New(func(context.Context, string, []core.Event, []core.StatRow) error { return nil }, Options{Buffer: 1 << 20, Now: testclock.New(b).Now})
	rq := req()
	v := engine.Verdict{Action: engine.Grant, Source: engine.SourceCategory}
	b.ReportAllocs()
	for b.Loop() {
		r.Observe(pol, rq, v)
	}
}

func TestRecorderCountry(t *testing.T) {
	sink := &memSink{}
	r := New(sink.write, Options{Flush: time.Hour, Now: testclock.New(t).Now, Country: func(ip netip.Addr) string {
		if ip == netip.MustParseAddr("192.0.2.1") {
			return "DE"
		}
		return ""
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	r.Observe(pol, req(), engine.Verdict{Action: engine.Deny, Source: engine.SourceRule, Reason: "x"})
	known := req()
	known.Country = "FR" // looked up already by a country rule
	r.Observe(pol, known, engine.Verdict{Action: engine.Deny, Source: engine.SourceRule, Reason: "y"})
	r.Flush(ctx)
	cancel()
	<-done
	if len(sink.events) != 2 || sink.events[0].Country != "DE" || sink.events[1].Country != "FR" {
		t.Fatalf("events %+v", sink.events)
	}
}

// TestEventsKeepThePagesRef: the reference ID a page showed is stored with
// the decision's event and with a failed check's event.
func TestEventsKeepThePagesRef(t *testing.T) {
	sink := &memSink{}
	r := New(sink.write, Options{Flush: time.Hour, Now: testclock.New(t).Now})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	r.Observe(pol, req(), engine.Verdict{Action: engine.Deny, Source: engine.SourceRule, Reason: "No admin", Ref: "K7Q2M4XW6P"})
	r.ObserveChallenge(pol, netip.MustParseAddr("192.0.2.1"), "Mozilla/5.0", "/cart", false, "the solution is wrong", 0, "AB2CD3EF4G")
	r.Flush(ctx)
	cancel()
	<-done
	if len(sink.events) != 2 || sink.events[0].Ref != "K7Q2M4XW6P" || sink.events[1].Ref != "AB2CD3EF4G" || sink.events[1].Action != "challenge_failed" {
		t.Fatalf("events %+v", sink.events)
	}
}

func sqliResult(n int) *waf.Result {
	res := &waf.Result{Blocked: true, Score: 5 * n, Class: waf.ClassSQLi}
	for i := 0; i < n; i++ {
		res.Matches = append(res.Matches, waf.Match{ID: 942100 + i, Message: "SQL Injection Attack Detected via libinjection", Class: waf.ClassSQLi,
			Severity: "critical", Variable: "ARGS:id", Data: "1' OR '1'='1"})
	}
	return res
}

// TestRecorderKeepsEveryWAFDecision: a decision the firewall matched on is
// always an event, even a grant in detect mode with grants not sampled at
// all; the event carries the finding (mode, score, class, at most 20
// rules); and firewall decisions are counted by attack class, blocked
// apart from detected, besides the decision counters.
func TestRecorderKeepsEveryWAFDecision(t *testing.T) {
	sink := &memSink{}
	r := New(sink.write, Options{GrantSample: 0, Flush: time.Hour, Now: testclock.New(t).Now})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	// The event's mode is the website's firewall mode, as compiled.
	compile := func(st engine.Settings) *engine.Policy {
		p, err := engine.Compile(engine.Site{ID: pol.WebsiteID, PartnerID: pol.PartnerID, Domain: pol.Domain, Status: "online", Settings: st})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	blockPol, detectPol := compile(engine.Settings{}), compile(engine.Settings{WAF: engine.WAFSettings{Mode: "detect"}})
	// Block mode: the firewall denied.
	r.Observe(blockPol, req(), engine.Verdict{Action: engine.Deny, Source: engine.SourceWAF, Reason: "waf", Detail: "sqli 942100", WAF: sqliResult(30)})
	// Detect mode: granted as humans, the finding only recorded.
	detect := sqliResult(1)
	detect.Class = waf.ClassXSS
	detect.Matches[0].Class = waf.ClassXSS
	r.Observe(detectPol, req(), engine.Verdict{Action: engine.Grant, Source: engine.SourceCategory, Category: engine.Humans, WAF: detect})
	r.Observe(detectPol, req(), engine.Verdict{Action: engine.Grant, Source: engine.SourceCategory, Category: engine.Humans, WAF: detect})
	// A class the recorder does not know is counted as generic (the
	// counters stay bounded whatever a finding says).
	odd := sqliResult(1)
	odd.Class = "made-up"
	r.Observe(pol, req(), engine.Verdict{Action: engine.Grant, Source: engine.SourceCategory, Category: engine.Humans, WAF: odd})
	// A plain grant is still sampled away.
	r.Observe(pol, req(), engine.Verdict{Action: engine.Grant, Source: engine.SourceCategory, Category: engine.Humans})
	r.Flush(ctx)
	cancel()
	<-done
	if len(sink.events) != 4 {
		t.Fatalf("%d events; want the WAF deny and the three detect-mode grants", len(sink.events))
	}
	blocked, detected := sink.events[0], sink.events[1]
	if blocked.WAF == nil || blocked.WAF.Mode != "block" || !blocked.WAF.Blocked || blocked.WAF.Score != 150 || blocked.WAF.Class != waf.ClassSQLi ||
		len(blocked.WAF.Rules) != 20 || blocked.Category != "waf" || blocked.Source != engine.SourceWAF {
		t.Fatalf("blocked event %+v, waf %+v", blocked, blocked.WAF)
	}
	if rule := blocked.WAF.Rules[0]; rule.ID != 942100 || rule.Var != "ARGS:id" || rule.Data != "1' OR '1'='1" || rule.Class != waf.ClassSQLi || rule.Msg == "" {
		t.Fatalf("rule %+v", rule)
	}
	if detected.Action != "grant" || detected.WAF == nil || detected.WAF.Mode != "detect" || detected.WAF.Class != waf.ClassXSS || len(detected.WAF.Rules) != 1 {
		t.Fatalf("detected event %+v, waf %+v", detected, detected.WAF)
	}
	want := map[string]int64{"deny/waf": 1, "grant/humans": 4,
		"waf:sqli/blocked": 1, "waf:xss/detected": 2, "waf:generic/detected": 1}
	for k, n := range want {
		if sink.stats[k] != n {
			t.Errorf("counter %s = %d, want %d (all: %v)", k, sink.stats[k], n, sink.stats)
		}
	}
	if len(sink.stats) != len(want) {
		t.Errorf("counters %v, want %v", sink.stats, want)
	}
}

// BenchmarkObserveWAF: what a decision the firewall matched on pays to be
// counted and queued.
func BenchmarkObserveWAF(b *testing.B) {
	r := New(func(context.Context, string, []core.Event, []core.StatRow) error { return nil }, Options{Buffer: 1 << 20, Now: testclock.New(b).Now})
	rq := req()
	v := engine.Verdict{Action: engine.Deny, Source: engine.SourceWAF, WAF: sqliResult(3)}
	b.ReportAllocs()
	for b.Loop() {
		r.Observe(pol, rq, v)
		if r.Pending() > 1<<19 {
			r.drain(nil)
		}
	}
}

// TestObserveCountsWithoutAllocating: counting a decision, firewall or
// not, allocates nothing once its counters exist (grants not sampled).
func TestObserveCountsWithoutAllocating(t *testing.T) {
	at := testclock.Now(t)
	r := New(func(context.Context, string, []core.Event, []core.StatRow) error { return nil }, Options{Now: func() time.Time { return at }})
	rq := req()
	grant := engine.Verdict{Action: engine.Grant, Source: engine.SourceCategory}
	r.Observe(pol, rq, grant)
	if n := testing.AllocsPerRun(100, func() { r.Observe(pol, rq, grant) }); n != 0 {
		t.Errorf("a grant: %v allocations", n)
	}
}

// TestEventQueryRedacted: an event never stores a secret from the query
// string (a password or token in a GET), whatever decided the request.
func TestEventQueryRedacted(t *testing.T) {
	sink := &memSink{}
	r := New(sink.write, Options{GrantSample: 0, Flush: time.Hour, Now: testclock.New(t).Now})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	rq := req()
	rq.Query = "user=jane&password=Hunter2Secret&api_key=sk_live_123&page=2"
	r.Observe(pol, rq, engine.Verdict{Action: engine.Deny, Source: engine.SourceCategory, Category: engine.AutomationTools})
	r.Flush(ctx)
	cancel()
	<-done
	if len(sink.events) != 1 {
		t.Fatalf("%d events", len(sink.events))
	}
	q := sink.events[0].Query
	if strings.Contains(q, "Hunter2Secret") || strings.Contains(q, "sk_live_123") || !strings.Contains(q, "user=jane") || !strings.Contains(q, "page=2") {
		t.Errorf("stored query %q: want the password and key redacted, the rest kept", q)
	}
}
