// Package events records what the decision plane decided, off the hot path:
// every deny and challenge, every decision the website firewall matched on
// and a sample of other grants become events, and every decision is counted
// per website, minute, action and category (firewall decisions also per
// attack class). Decisions
// hand events to a bounded buffer and never wait for storage; when the
// buffer is full, events are dropped and counted.
package events

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/waf"
)

// Sink stores a batch in one transaction (core.Service.RecordBatch). A
// batch whose id was stored before must be skipped: the recorder retries a
// batch whose commit it did not hear of.
type Sink func(ctx context.Context, id string, events []core.Event, stats []core.StatRow) error

// Options configure a Recorder.
type Options struct {
	Buffer      int           // events held for writing; default 65536
	Batch       int           // events per write; default 500
	Flush       time.Duration // longest wait before a write; default 1s
	GrantSample float64       // share of granted requests kept as events; default 0.01
	Now         func() time.Time
	Logger      *slog.Logger
	// Country looks up a client's country for events (nil: none).
	Country func(netip.Addr) string
}

// Recorder buffers events and counters and writes them in batches.
type Recorder struct {
	sink     Sink
	opt      Options
	ch       chan core.Event
	sample   uint32
	shards   [16]counterShard
	dropped  atomic.Uint64
	written  atomic.Uint64
	failed   atomic.Uint64
	flushNow chan chan struct{}
}

type counterKey struct {
	website, partner int64
	minute           int64
	action           engine.Action
	outcome          string // challenge outcomes: "solved", "failed" (then action is unused)
	category         string
}

// wafKey counts website-firewall decisions. class is always one of
// waf.Classes (wafClass), never a string from the request, so the map is
// bounded like the decision counters: websites × minutes × classes × 2.
type wafKey struct {
	website, partner int64
	minute           int64
	class            string
	blocked          bool
}

type counterShard struct {
	mu  sync.Mutex
	m   map[counterKey]int64
	waf map[wafKey]int64
}

// New returns a Recorder writing to sink; call Run.
func New(sink Sink, opt Options) *Recorder {
	if opt.Buffer <= 0 {
		opt.Buffer = 65536
	}
	if opt.Batch <= 0 {
		opt.Batch = 500
	}
	if opt.Flush <= 0 {
		opt.Flush = time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	r := &Recorder{sink: sink, opt: opt, ch: make(chan core.Event, opt.Buffer), flushNow: make(chan chan struct{})}
	switch {
	case opt.GrantSample >= 1:
		r.sample = ^uint32(0)
	case opt.GrantSample > 0:
		r.sample = uint32(opt.GrantSample * float64(^uint32(0)))
	}
	for i := range r.shards {
		r.shards[i].m = map[counterKey]int64{}
		r.shards[i].waf = map[wafKey]int64{}
	}
	return r
}

// StatCategory is the category a verdict is counted under: the classified
// category, "custom_rules" / "lists" for requests decided before
// classification, or "unprotected" / "unknown_website" for requests granted
// without deciding.
func StatCategory(v engine.Verdict) string {
	if v.Unprotected {
		if v.Website == 0 {
			return "unknown_website"
		}
		return "unprotected"
	}
	switch v.Source {
	case engine.SourceRule:
		return "custom_rules"
	case engine.SourceList:
		return "lists"
	case engine.SourceWAF:
		return "waf"
	}
	return v.Category.String()
}

// clip cuts s to at most n bytes, at a rune boundary (PostgreSQL refuses
// invalid UTF-8).
func clip(s string, n int) string {
	if len(s) > n {
		for i := 1; i < utf8.UTFMax && n > 0 && !utf8.RuneStart(s[n]); i++ {
			n--
		}
		return s[:n]
	}
	return s
}

// wafClasses are the attack classes counters are kept for.
var wafClasses = waf.Classes()

// wafClass is the attack class a firewall decision is counted under: one
// of waf.Classes (the package's own string), generic for anything else,
// so the counters stay bounded whatever a finding says.
func wafClass(c string) string {
	for _, k := range wafClasses {
		if c == k {
			return k
		}
	}
	return waf.ClassGeneric
}

// WAFBlocked reports whether the website firewall decided v: it denied the
// request (block mode). A verdict that carries a firewall finding without
// it was only detected (detect mode, below the threshold, or the website
// in monitor mode, which lets the request through).
func WAFBlocked(v engine.Verdict) bool { return v.Source == engine.SourceWAF && !v.Monitored }

// maxWAFRules bounds the rules an event keeps of one firewall finding.
const maxWAFRules = 20

// eventWAF is the event's part of a firewall finding: the website's
// firewall mode at the time (block, detect, or off when only its host's
// virtual patches ran), score, class
// and at most maxWAFRules of the matches, clipped.
func eventWAF(pol *engine.Policy, v engine.Verdict) *core.EventWAF {
	res := v.WAF
	mode := pol.WAFMode()
	w := &core.EventWAF{Mode: mode, Blocked: res.Blocked, Score: res.Score, Class: clip(res.Class, 32),
		Rules: make([]core.EventWAFRule, 0, min(len(res.Matches), maxWAFRules))}
	for _, m := range res.Matches[:min(len(res.Matches), maxWAFRules)] {
		w.Rules = append(w.Rules, core.EventWAFRule{ID: m.ID, Msg: clip(m.Message, 256), Class: clip(m.Class, 32),
			Var: clip(m.Variable, 128), Data: clip(m.Data, 64), Patch: clip(m.Patch, 128)})
	}
	return w
}

// Observe counts a decision and, when it is worth keeping, queues its event.
// Requests to a paused or "off" website are counted (category
// "unprotected") but not kept as events; requests for unknown websites have
// no website to count them under. A decision the website firewall matched
// on (v.WAF) is also counted by attack class and always kept, even a grant
// in detect mode. It never blocks.
func (r *Recorder) Observe(pol *engine.Policy, req *engine.Request, v engine.Verdict) {
	if pol == nil {
		return
	}
	now := r.opt.Now()
	cat := StatCategory(v)
	minute := now.Unix() / 60
	k := counterKey{website: pol.WebsiteID, partner: pol.PartnerID, minute: minute, action: v.Action, category: cat}
	s := &r.shards[uint64(pol.WebsiteID)%uint64(len(r.shards))]
	s.mu.Lock()
	s.m[k]++
	if v.WAF != nil {
		s.waf[wafKey{website: pol.WebsiteID, partner: pol.PartnerID, minute: minute, class: wafClass(v.WAF.Class), blocked: WAFBlocked(v)}]++
	}
	s.mu.Unlock()

	if v.Unprotected || (v.Action == engine.Grant && v.WAF == nil && (r.sample == 0 || rand.Uint32() > r.sample)) {
		return
	}
	e := core.Event{
		PartnerID: pol.PartnerID, WebsiteID: pol.WebsiteID, At: now.UTC(),
		IP: addrString(req.IP), Method: clip(req.Method, 16), Host: clip(req.Host, 253), Path: clip(req.Path, 2048), Query: clip(waf.RedactQuery(req.Query), 2048),
		UserAgent: clip(req.UserAgent, core.UserAgentMax), Referrer: clip(req.Referer, 1024),
		Action: v.Action.String(), Category: cat, Source: v.Source, Reason: v.Reason, Detail: v.Detail, Monitored: v.Monitored,
		Country: req.Country, Ref: v.Ref,
	}
	if v.WAF != nil {
		e.WAF = eventWAF(pol, v)
	}
	if e.Country == "" && r.opt.Country != nil {
		e.Country = r.opt.Country(req.IP)
	}
	select {
	case r.ch <- e:
	default:
		r.dropped.Add(1)
	}
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// Dropped returns how many events were dropped because the buffer was full
// or a write failed twice.
func (r *Recorder) Dropped() uint64 { return r.dropped.Load() }

// Written returns how many events were stored.
func (r *Recorder) Written() uint64 { return r.written.Load() }

// Pending returns how many events wait in the buffer.
func (r *Recorder) Pending() int { return len(r.ch) }

// Flush writes everything buffered now and waits for it (for tests and
// shutdown). It returns at once if Run is not running.
func (r *Recorder) Flush(ctx context.Context) {
	done := make(chan struct{})
	select {
	case r.flushNow <- done:
		select {
		case <-done:
		case <-ctx.Done():
		}
	case <-ctx.Done():
	}
}

// Run writes batches until ctx ends, then writes what is left.
func (r *Recorder) Run(ctx context.Context) {
	tick := time.NewTicker(r.opt.Flush)
	defer tick.Stop()
	batch := make([]core.Event, 0, r.opt.Batch)
	for {
		var done chan struct{}
		select {
		case e := <-r.ch:
			batch = append(batch, e)
			if len(batch) < r.opt.Batch {
				continue
			}
		case <-tick.C:
		case done = <-r.flushNow:
			batch = r.drain(batch)
		case <-ctx.Done():
			wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			r.write(wctx, r.drain(batch))
			cancel()
			return
		}
		r.write(ctx, batch)
		batch = batch[:0]
		if done != nil {
			close(done)
		}
	}
}

func (r *Recorder) drain(batch []core.Event) []core.Event {
	for {
		select {
		case e := <-r.ch:
			batch = append(batch, e)
		default:
			return batch
		}
	}
}

func (r *Recorder) takeCounters() []core.StatRow {
	var rows []core.StatRow
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		if len(s.m) == 0 && len(s.waf) == 0 {
			s.mu.Unlock()
			continue
		}
		var m map[counterKey]int64 // taken maps are ours alone now
		var wm map[wafKey]int64
		if len(s.m) > 0 {
			m, s.m = s.m, map[counterKey]int64{}
		}
		if len(s.waf) > 0 {
			wm, s.waf = s.waf, map[wafKey]int64{}
		}
		s.mu.Unlock()
		for k, n := range wm {
			action := core.WAFDetected
			if k.blocked {
				action = core.WAFBlocked
			}
			rows = append(rows, core.StatRow{WebsiteID: k.website, PartnerID: k.partner, Minute: time.Unix(k.minute*60, 0).UTC(),
				Action: action, WAFClass: k.class, Count: n})
		}
		for k, n := range m {
			action := k.action.String()
			if k.outcome != "" {
				action = k.outcome
			}
			rows = append(rows, core.StatRow{WebsiteID: k.website, PartnerID: k.partner, Minute: time.Unix(k.minute*60, 0).UTC(),
				Action: action, Category: k.category, Count: n})
		}
	}
	return rows
}

// write stores a batch with the counters gathered so far. While storage
// fails it keeps trying the same batch (same id, so nothing is stored
// twice), backing off up to 5 s; meanwhile new events wait in the buffer
// and are dropped (and counted) only once it is full, and counters keep
// adding up in memory. When ctx ends it tries for 5 s more, then drops
// the batch and says so.
func (r *Recorder) write(ctx context.Context, batch []core.Event) {
	stats := r.takeCounters()
	if len(batch) == 0 && len(stats) == 0 {
		return
	}
	id := newBatchID()
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := r.sink(ctx, id, batch, stats)
		if err == nil {
			r.written.Add(uint64(len(batch)))
			if attempt > 1 {
				r.opt.Logger.Info("events stored again after a storage failure", "events", len(batch), "attempts", attempt)
			}
			return
		}
		r.failed.Add(1)
		if attempt == 1 {
			r.opt.Logger.Warn("events not stored; retrying (new events wait in the buffer)", "events", len(batch), "counters", len(stats), "buffer", r.opt.Buffer, "err", err)
		}
		if ctx.Err() != nil {
			wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = r.sink(wctx, id, batch, stats)
			cancel()
			if err == nil {
				r.written.Add(uint64(len(batch)))
				return
			}
			r.dropped.Add(uint64(len(batch)))
			r.opt.Logger.Error("events dropped at shutdown: storage does not answer", "events", len(batch), "counters", len(stats), "err", err)
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// Failures counts failed attempts to store a batch.
func (r *Recorder) Failures() uint64 { return r.failed.Load() }

func newBatchID() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ObserveChallenge records a challenge's outcome: an event (always kept)
// and a counter of action "solved" or "failed", category "challenge", so
// statistics show the pass rate next to the challenges issued. ref is the
// reference ID the failed check's page showed.
func (r *Recorder) ObserveChallenge(pol *engine.Policy, ip netip.Addr, ua, path string, solved bool, reason string, solveMS int, ref string) {
	if pol == nil {
		return
	}
	now := r.opt.Now()
	action, detail := "failed", reason
	if solved {
		action, detail = "solved", fmt.Sprintf("solved in %d ms", solveMS)
	}
	s := &r.shards[uint64(pol.WebsiteID)%uint64(len(r.shards))]
	s.mu.Lock()
	s.m[counterKey{website: pol.WebsiteID, partner: pol.PartnerID, minute: now.Unix() / 60, outcome: action, category: "challenge"}]++
	s.mu.Unlock()
	e := core.Event{PartnerID: pol.PartnerID, WebsiteID: pol.WebsiteID, At: now.UTC(), IP: addrString(ip), Method: "POST", Host: pol.Domain,
		Path: clip(path, 2048), UserAgent: clip(ua, core.UserAgentMax), Action: "challenge_" + action, Category: "challenge", Source: "challenge", Reason: "challenge", Detail: clip(detail, 200), Ref: ref}
	select {
	case r.ch <- e:
	default:
		r.dropped.Add(1)
	}
}
