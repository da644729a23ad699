package events

import (
	"context"
	crand "crypto/rand"
	"encoding/base32"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

// manualClock is a clock only the test moves.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *manualClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// countSink applies repeats to the events memSink stored, as
// core.Service.RecordEventCounts does to stored rows.
func (m *memSink) counts(_ context.Context, id string, cs []core.EventCount) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ids == nil {
		m.ids = map[string]bool{}
	}
	if m.ids[id] {
		return nil
	}
	m.ids[id] = true
	for _, c := range cs {
		found := false
		for i := range m.events {
			e := &m.events[i]
			if e.WebsiteID == c.WebsiteID && e.Ref == c.Ref && e.At.Equal(c.At) {
				e.Count += c.Add
				if c.LastAt.After(e.LastAt) {
					e.LastAt = c.LastAt
				}
				found = true
			}
		}
		if !found {
			m.orphans += c.Add
		}
	}
	return nil
}

func (m *memSink) requests() (n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.events {
		n += e.Requests()
	}
	return n
}

func startRecorder(t testing.TB, sink *memSink, opt Options) (*Recorder, context.Context, func()) {
	t.Helper()
	if opt.Counts == nil {
		opt.Counts = sink.counts
	}
	if opt.Flush == 0 {
		opt.Flush = time.Hour
	}
	r := New(sink.write, opt)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	return r, ctx, func() { cancel(); <-done }
}

var denyCurl = engine.Verdict{Action: engine.Deny, Source: engine.SourceCategory, Category: engine.AutomationTools, Reason: "automation_tools", Detail: "curl"}

// TestIdenticalDeniesAreOneEvent: identical refused requests within the
// window are one event with their count and the first request's path;
// every page gets the first request's reference ID; another user agent,
// client, reason or a firewall finding is another event; the counters
// count every request.
func TestIdenticalDeniesAreOneEvent(t *testing.T) {
	clock := &manualClock{t: testclock.Now(t)}
	sink := &memSink{}
	r, ctx, stop := startRecorder(t, sink, Options{Now: clock.Now, GrantSample: 0})
	defer stop()

	first := r.Observe(pol, req(), denyCurl)
	if _, err := core.ParseRef(first); err != nil {
		t.Fatalf("ref %q: %v", first, err)
	}
	clock.add(2 * time.Second)
	walked := req()
	walked.Path, walked.Query = "/wp-login.php", "a=1"
	if ref := r.Observe(pol, walked, denyCurl); ref != first {
		t.Fatalf("the repeat's page shows %q, the first's %q", ref, first)
	}
	other := req()
	other.UserAgent = "python-requests/2.31"
	otherRef := r.Observe(pol, other, denyCurl)
	otherIP := req()
	otherIP.IP = netip.MustParseAddr("192.0.2.2")
	ipRef := r.Observe(pol, otherIP, denyCurl)
	ruleRef := r.Observe(pol, req(), engine.Verdict{Action: engine.Deny, Source: engine.SourceRule, Reason: "no curl"})
	wafV := engine.Verdict{Action: engine.Deny, Source: engine.SourceWAF, Reason: "waf", Detail: "sqli", WAF: sqliResult(1)}
	waf1, waf2 := r.Observe(pol, req(), wafV), r.Observe(pol, req(), wafV)
	refs := map[string]bool{first: true, otherRef: true, ipRef: true, ruleRef: true, waf1: true, waf2: true}
	if len(refs) != 6 {
		t.Fatalf("refs %v: want six different events", refs)
	}
	if r.Aggregated() != 1 {
		t.Fatalf("aggregated %d", r.Aggregated())
	}
	r.Flush(ctx)
	if len(sink.events) != 6 {
		t.Fatalf("%d events stored, want 6", len(sink.events))
	}
	e := sink.events[0]
	if e.Ref != first || e.Count != 2 || e.Path != "/x" || !e.LastAt.Equal(e.At.Add(2*time.Second)) {
		t.Fatalf("aggregated event: ref %s count %d path %s at %s last %s", e.Ref, e.Count, e.Path, e.At, e.LastAt)
	}
	for _, e := range sink.events[1:] {
		if e.Count != 1 {
			t.Errorf("event %s (%s, %s) count %d, want 1", e.Ref, e.UserAgent, e.Reason, e.Count)
		}
	}
	if sink.stats["deny/automation_tools"] != 4 || sink.stats["deny/custom_rules"] != 1 || sink.stats["deny/waf"] != 2 {
		t.Fatalf("counters %v", sink.stats)
	}
	// After Flush the window goes on: the next repeat counts into the same
	// event, written with the next flush.
	if ref := r.Observe(pol, req(), denyCurl); ref != first {
		t.Fatalf("after a flush, inside the window: %q, want %q", ref, first)
	}
	r.Flush(ctx)
	if sink.events[0].Count != 3 {
		t.Fatalf("count %d after the third request", sink.events[0].Count)
	}
	// After the window, the same request starts a new event.
	clock.add(10 * time.Second)
	next := r.Observe(pol, req(), denyCurl)
	if next == first {
		t.Fatal("a request after the window joined the ended window's event")
	}
	r.Flush(ctx)
	if len(sink.events) != 7 || sink.events[6].Ref != next || sink.events[6].Count != 1 || sink.orphans != 0 {
		t.Fatalf("%d events, last %+v, orphans %d", len(sink.events), sink.events[len(sink.events)-1], sink.orphans)
	}
}

// TestAggregationKeepsCountersExact: a flood of identical and varied
// refused requests (some monitored) is counted exactly by the per-minute
// counters, and the stored events' counts add up to every request, across
// windows.
func TestAggregationKeepsCountersExact(t *testing.T) {
	clock := &manualClock{t: testclock.Now(t)}
	sink := &memSink{}
	r, ctx, stop := startRecorder(t, sink, Options{Now: clock.Now, Buffer: 1 << 16})
	defer stop()
	const n = 20000
	monitored := denyCurl
	monitored.Monitored = true
	for i := 0; i < n; i++ {
		rq := req()
		rq.IP = netip.AddrFrom4([4]byte{198, 51, 100, byte(i % 7)})
		rq.UserAgent = "bot/" + strconv.Itoa(i%5)
		v := denyCurl
		switch i % 3 {
		case 1:
			v = monitored
		case 2:
			v = engine.Verdict{Action: engine.Challenge, Source: engine.SourceCategory, Category: engine.AutomationTools}
		}
		ref := r.Observe(pol, rq, v)
		if v.Monitored != (ref == "") {
			t.Fatalf("request %d (monitored %v): ref %q", i, v.Monitored, ref)
		}
		if i%1000 == 999 {
			clock.add(1700 * time.Millisecond) // windows end along the way
		}
		if i%4000 == 3999 {
			r.Flush(ctx)
		}
	}
	r.Flush(ctx)
	if got := sink.stats["deny/automation_tools"] + sink.stats["challenge/automation_tools"]; got != n {
		t.Fatalf("counters add up to %d of %d requests: %v", got, n, sink.stats)
	}
	if got := sink.requests(); got != n || sink.orphans != 0 || r.Dropped() != 0 || r.CountsLost() != 0 {
		t.Fatalf("events stand for %d of %d requests (orphan repeats %d, dropped %d, lost %d)", got, n, sink.orphans, r.Dropped(), r.CountsLost())
	}
	if len(sink.events) > n/10 {
		t.Fatalf("%d events for %d requests of 105 kinds", len(sink.events), n)
	}
}

// TestAggregatesAreBounded: a flood of requests that are all different
// (the map's key is attacker input) never holds more aggregates than its
// bound; beyond it events are stored on their own, none lost; when the
// window has passed the aggregates are gone and the map's memory is given
// back.
func TestAggregatesAreBounded(t *testing.T) {
	clock := &manualClock{t: testclock.Now(t)}
	sink := &memSink{}
	const bound, n = 4096, 40000
	r, ctx, stop := startRecorder(t, sink, Options{Now: clock.Now, MaxAggregates: bound, Buffer: 1 << 16, Batch: 5000})
	defer stop()
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	long := string(make([]byte, 4000)) // user agents longer than any key
	for i := 0; i < n; i++ {
		rq := req()
		rq.IP = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		rq.UserAgent = long + strconv.Itoa(i%3)
		r.Observe(pol, rq, denyCurl)
		r.Observe(pol, rq, denyCurl) // a repeat
		if i%5000 == 0 {
			if a := r.Aggregates(); a > bound {
				t.Fatalf("%d aggregates, bound %d", a, bound)
			}
			r.Flush(ctx)
		}
	}
	if a := r.Aggregates(); a > bound || a < bound/2 {
		t.Fatalf("%d aggregates, bound %d", a, bound)
	}
	r.Flush(ctx)
	sink.mu.Lock()
	sink.events = nil // what is stored is the store's; the recorder's own memory is measured
	sink.mu.Unlock()
	full := heap()
	clock.add(11 * time.Second)
	r.Flush(ctx)
	if a := r.Aggregates(); a != 0 {
		t.Fatalf("%d aggregates after the window", a)
	}
	if after := heap(); after+uint64(bound)*40 > full {
		t.Errorf("heap %d bytes with %d aggregates, %d after they ended: the map's memory was not given back", full, bound, after)
	}
	if r.Dropped() != 0 || r.CountsLost() != 0 || sink.orphans != 0 {
		t.Fatalf("dropped %d, counts lost %d, orphans %d", r.Dropped(), r.CountsLost(), sink.orphans)
	}
	if got := sink.stats["deny/automation_tools"]; got != 2*n {
		t.Fatalf("counted %d of %d", got, 2*n)
	}
}

// TestRepeatsWaitForTheirEvent: repeats are stored only after the event
// they add to, even when its write failed and was retried meanwhile.
func TestRepeatsWaitForTheirEvent(t *testing.T) {
	clock := &manualClock{t: testclock.Now(t)}
	sink := &memSink{fail: 2}
	r, ctx, stop := startRecorder(t, sink, Options{Now: clock.Now})
	defer stop()
	for i := 0; i < 5; i++ {
		r.Observe(pol, req(), denyCurl)
	}
	clock.add(11 * time.Second)
	r.Flush(ctx)
	if len(sink.events) != 1 || sink.events[0].Count != 5 || sink.orphans != 0 {
		t.Fatalf("events %+v, orphans %d", sink.events, sink.orphans)
	}
}

// TestRepeatCostsNoAllocation: a refused request that repeats one of the
// window allocates nothing (no event is built).
func TestRepeatCostsNoAllocation(t *testing.T) {
	clock := &manualClock{t: testclock.Now(t)}
	r := New(func(context.Context, string, []core.Event, []core.StatRow) error { return nil },
		Options{Now: clock.Now, Counts: func(context.Context, string, []core.EventCount) error { return nil }})
	rq := req()
	r.Observe(pol, rq, denyCurl)
	if n := testing.AllocsPerRun(100, func() { r.Observe(pol, rq, denyCurl) }); n != 0 {
		t.Errorf("a repeat: %v allocations", n)
	}
}

func TestNewRef(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		ref := core.NewRef()
		if p, err := core.ParseRef(ref); err != nil || p != ref {
			t.Fatalf("%q: %v", ref, err)
		}
		seen[ref] = true
	}
	if len(seen) != 1000 {
		t.Fatalf("%d distinct of 1000", len(seen))
	}
}

// benchFlood observes refused requests of kinds different clients × agents
// (1 × 1: one bot hammering), with or without aggregation, as Protector.
// Decide does (the ref handed back); the sink stores nothing, so what is
// measured is what the deciding goroutine pays, plus the writer's share
// (one core: GOMAXPROCS=1 runs both on it).
func benchFlood(b *testing.B, clients, agents int, aggregate bool) {
	opt := Options{Buffer: 1 << 16, Flush: 100 * time.Millisecond, Now: testclock.New(b).Now}
	if aggregate {
		opt.Counts = func(context.Context, string, []core.EventCount) error { return nil }
	}
	r := New(func(context.Context, string, []core.Event, []core.StatRow) error { return nil }, opt)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	reqs := make([]engine.Request, 0, clients*agents)
	for c := 0; c < clients; c++ {
		for a := 0; a < agents; a++ {
			rq := *req()
			rq.IP = netip.AddrFrom4([4]byte{198, byte(c >> 16), byte(c >> 8), byte(c)})
			rq.UserAgent = "Mozilla/5.0 (compatible; BadBot/" + strconv.Itoa(a) + ".0; +http://badbot.example/bot.html)"
			rq.Query = "s=1&page=2"
			reqs = append(reqs, rq)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		rq := &reqs[i%len(reqs)]
		i++
		if r.Observe(pol, rq, denyCurl) == "" {
			b.Fatal("no ref")
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(r.Dropped())/float64(b.N), "dropped/op")
}

func BenchmarkObserveDenyFlood(b *testing.B) {
	for _, c := range []struct {
		name            string
		clients, agents int
	}{{"identical", 1, 1}, {"varied500x50", 500, 50}, {"distinct", 262144, 1}} {
		b.Run(c.name+"/each", func(b *testing.B) { benchFlood(b, c.clients, c.agents, false) })
		b.Run(c.name+"/aggregated", func(b *testing.B) { benchFlood(b, c.clients, c.agents, true) })
	}
}

// BenchmarkNewRef: a reference ID from the runtime's generator, and as it
// was made before (crypto/rand, base32; the old challenge.NewRef).
func BenchmarkNewRef(b *testing.B) {
	b.Run("runtime", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = core.NewRef()
		}
	})
	b.Run("crypto", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r [7]byte
			_, _ = crand.Read(r[:])
			_ = base32.StdEncoding.EncodeToString(r[:])[:10]
		}
	})
}

// TestAggregationConcurrent: deciding goroutines observing the same and
// different requests while the writer sweeps and flushes lose no request:
// the stored events stand for exactly what the counters count.
func TestAggregationConcurrent(t *testing.T) {
	clock := &manualClock{t: testclock.Now(t)}
	sink := &memSink{}
	r, ctx, stop := startRecorder(t, sink, Options{Now: clock.Now, Buffer: 1 << 16, Flush: time.Millisecond})
	defer stop()
	const workers, each = 4, 3000
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				rq := req()
				rq.IP = netip.AddrFrom4([4]byte{192, 0, 2, byte(i % 3)})
				if r.Observe(pol, rq, denyCurl) == "" {
					t.Error("no ref")
					return
				}
				if w == 0 && i%500 == 0 {
					clock.add(4 * time.Second)
				}
			}
		}(w)
	}
	wg.Wait()
	clock.add(11 * time.Second)
	r.Flush(ctx)
	if got := sink.requests(); got != workers*each || sink.stats["deny/automation_tools"] != workers*each || sink.orphans != 0 {
		t.Fatalf("events stand for %d, counters %d, of %d requests (orphans %d)", got, sink.stats["deny/automation_tools"], workers*each, sink.orphans)
	}
}
