package events

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
)

type memSink struct {
	mu     sync.Mutex
	events []core.Event
	stats  map[string]int64
	fail   int // fail this many calls first
	calls  int
}

func (m *memSink) write(_ context.Context, es []core.Event, rows []core.StatRow) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.fail > 0 {
		m.fail--
		return errors.New("disk on fire")
	}
	m.events = append(m.events, es...)
	if m.stats == nil {
		m.stats = map[string]int64{}
	}
	for _, r := range rows {
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
	r := New(sink.write, Options{GrantSample: 0, Flush: time.Hour})
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
	r := New(sink.write, Options{Buffer: 5})
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

func TestRecorderStorageFailure(t *testing.T) {
	sink := &memSink{fail: 1}
	r := New(sink.write, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	r.Observe(pol, req(), engine.Verdict{Action: engine.Deny})
	r.Flush(ctx) // first call fails, the retry succeeds
	if len(sink.events) != 1 || r.Dropped() != 0 {
		t.Fatalf("after one failure: %d stored, %d dropped", len(sink.events), r.Dropped())
	}
	sink.fail = 2
	r.Observe(pol, req(), engine.Verdict{Action: engine.Deny})
	r.Flush(ctx)
	if r.Dropped() != 1 {
		t.Fatalf("after two failures: dropped %d", r.Dropped())
	}
	// Events queued at shutdown are written.
	r.Observe(pol, req(), engine.Verdict{Action: engine.Deny})
	cancel()
	<-done
	if len(sink.events) != 2 {
		t.Fatalf("shutdown flush: %d stored", len(sink.events))
	}
}

// BenchmarkObserve: the cost a decision pays to be recorded.
func BenchmarkObserve(b *testing.B) {
	r := New(func(context.Context, []core.Event, []core.StatRow) error { return nil }, Options{Buffer: 1 << 20})
	rq := req()
	v := engine.Verdict{Action: engine.Grant, Source: engine.SourceCategory}
	b.ReportAllocs()
	for b.Loop() {
		r.Observe(pol, rq, v)
	}
}

func TestRecorderCountry(t *testing.T) {
	sink := &memSink{}
	r := New(sink.write, Options{Flush: time.Hour, Country: func(ip netip.Addr) string {
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
