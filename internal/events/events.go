// Package events records what the decision plane decided, off the hot path:
// every deny and challenge, every decision the website firewall matched on
// and a sample of other grants become events, and every decision is counted
// per website, minute, action and category (firewall decisions also per
// attack class). Decisions
// hand events to a bounded buffer and never wait for storage; when the
// buffer is full, events are dropped and counted.
//
// Floods are aggregated: identical refused requests (same website, client
// address, user agent, action, category, source, reason, detail and
// monitor flag) within a window of the first (Options.Window, 10 s) are
// one stored event that counts them (core.Event.Count, LastAt). The first
// request's event is stored at once, with its path, query and referrer
// (a scanner walks paths: the later ones are not kept); the repeats only
// bump a counter in memory, hand back the first request's reference ID
// for their page, and are added to the stored event when the window ends
// (core.EventCount, found by website, reference ID and time). Firewall
// events are never aggregated (see aggregates). The per-minute counters
// count every request as before.
package events

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/maphash"
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

// CountSink adds the repeats of aggregated events to the events stored
// (core.Service.RecordEventCounts), in one transaction; like Sink, a batch
// whose id was stored before must be skipped.
type CountSink func(ctx context.Context, id string, counts []core.EventCount) error

// Options configure a Recorder.
type Options struct {
	// Counts stores the repeats of aggregated events; nil: no aggregation,
	// every event is stored on its own.
	Counts CountSink
	// Window is how long identical events are aggregated into the first
	// (default 10 s; negative: no aggregation).
	Window time.Duration
	// MaxAggregates bounds the events being aggregated at once (default
	// 65536); beyond, a new event is stored on its own.
	MaxAggregates int
	Buffer        int           // events held for writing; default 65536
	Batch         int           // events per write; default 500
	Flush         time.Duration // longest wait before a write; default 1s
	GrantSample   float64       // share of granted requests kept as events; default 0.01
	Now           func() time.Time
	Logger        *slog.Logger
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

	// Aggregation (nil aggs: off).
	aggs       []aggShard
	aggMax     int // entries per shard
	window     int64
	seed       maphash.Seed
	aggregated atomic.Uint64 // requests that only bumped an aggregate
	countsLost atomic.Uint64 // repeats not added to their event
}

// aggShards is how many locks the aggregates are spread over.
const aggShards = 16

// aggKey is an aggregate's key: the website and a 64-bit hash (maphash,
// with a seed of the process's own, so a client cannot aim for
// collisions) of the fields that make events identical. Fixed size, however
// long the user agent.
type aggKey struct {
	website int64
	h       uint64
}

// aggregate is an event stored (or queued) at its first request, and the
// identical requests since, not yet added to it. Fixed size: no part of
// the request is kept.
type aggregate struct {
	ref     string // the stored event's reference ID
	partner int64
	at      int64 // the event's At (unix ns, microseconds as stored)
	last    int64 // the last request's time (unix ns)
	expires int64 // end of the window (unix ns)
	pending int64 // requests since, not yet handed to storage
}

type aggShard struct {
	mu   sync.Mutex
	m    map[aggKey]aggregate
	peak int               // most entries since m was made (a map keeps its memory)
	due  []core.EventCount // repeats of windows that ended, for the next write
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
	if opt.Window == 0 {
		opt.Window = 10 * time.Second
	}
	if opt.MaxAggregates <= 0 {
		opt.MaxAggregates = 65536
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
	if opt.Counts != nil && opt.Window > 0 {
		r.aggs = make([]aggShard, aggShards)
		r.aggMax = max(1, opt.MaxAggregates/aggShards)
		r.window = int64(opt.Window)
		r.seed = maphash.MakeSeed()
		for i := range r.aggs {
			r.aggs[i].m = map[aggKey]aggregate{}
		}
	}
	return r
}

// ShowsPage reports whether v shows the visitor a page (deny, challenge,
// captcha …), which then carries a reference ID.
func ShowsPage(v engine.Verdict) bool {
	act := v.Enforced()
	return act != engine.Grant && act != engine.Redirect
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
//
// It returns the reference ID of the event the decision is recorded under,
// for the page it shows: v.Ref when set; else, for a verdict that shows a
// page (ShowsPage), the aggregate's when the request repeats one, else a
// fresh one (NewRef); "" for the rest.
func (r *Recorder) Observe(pol *engine.Policy, req *engine.Request, v engine.Verdict) string {
	if pol == nil {
		return PageRef(v)
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
		return PageRef(v)
	}
	// An event is stored with microseconds (both stores' precision), so
	// that its repeats find it by the time it was stored with.
	now = now.Truncate(time.Microsecond)
	var ak aggKey
	agg := r.aggs != nil && aggregates(v)
	if agg {
		ak = aggKey{website: pol.WebsiteID, h: r.hash(req, v)}
		if ref, ok := r.repeat(ak, now, v.Ref); ok {
			if !ShowsPage(v) {
				return "" // monitored: no page; the ID only finds the event
			}
			return ref
		}
	}
	ref := v.Ref
	if ref == "" && (agg || ShowsPage(v)) {
		ref = core.NewRef() // an aggregate is found by its reference ID
	}
	e := core.Event{
		PartnerID: pol.PartnerID, WebsiteID: pol.WebsiteID, At: now.UTC(),
		IP: addrString(req.IP), Method: clip(req.Method, 16), Host: clip(req.Host, 253), Path: clip(req.Path, 2048), Query: clip(waf.RedactQuery(req.Query), 2048),
		UserAgent: clip(req.UserAgent, core.UserAgentMax), Referrer: clip(req.Referer, 1024),
		Action: v.Action.String(), Category: cat, Source: v.Source, Reason: v.Reason, Detail: v.Detail, Monitored: v.Monitored,
		Country: req.Country, Ref: ref, Count: 1,
	}
	if v.WAF != nil {
		e.WAF = eventWAF(pol, v)
	}
	if e.Country == "" && r.opt.Country != nil {
		e.Country = r.opt.Country(req.IP)
	}
	select {
	case r.ch <- e:
		if agg {
			// Only once the event is queued: an aggregate's event is
			// always ahead of its repeats (see Run).
			r.startAggregate(ak, pol.PartnerID, ref, now)
		}
	default:
		r.dropped.Add(1)
	}
	if v.Ref == "" && !ShowsPage(v) {
		return ""
	}
	return ref
}

// PageRef is the reference ID of a decision recorded without an event (or
// not recorded at all): its own, or a fresh one when it shows a page.
func PageRef(v engine.Verdict) string {
	if v.Ref == "" && ShowsPage(v) {
		return core.NewRef()
	}
	return v.Ref
}

// aggregates reports whether v's event may stand for identical requests.
// Grants are not (those kept are a sample; a firewall's detect-mode grant
// is a firewall event), and neither are firewall events: each keeps its
// own finding (the rules, the matched data, the query), which is the
// evidence the site's owner reads and what an exclusion is made from,
// and it differs from request to request where the fields of the key do
// not; the firewall's evaluation of such a request costs far more than
// its event.
func aggregates(v engine.Verdict) bool {
	return v.Action != engine.Grant && v.WAF == nil && v.Source != engine.SourceWAF
}

// hash hashes the fields that make two refused requests the same event
// (besides the website): client address, user agent (as stored), action,
// category, source, reason, detail, monitor flag. Not the path, query,
// method, host or referrer: the first request's are kept.
func (r *Recorder) hash(req *engine.Request, v engine.Verdict) uint64 {
	var h maphash.Hash
	h.SetSeed(r.seed)
	a := req.IP.As16()
	h.Write(a[:])
	h.WriteString(clip(req.UserAgent, core.UserAgentMax))
	h.WriteByte(0)
	h.WriteByte(byte(v.Action))
	h.WriteByte(byte(v.Category))
	if v.Monitored {
		h.WriteByte(1)
	} else {
		h.WriteByte(0)
	}
	h.WriteString(v.Source)
	h.WriteByte(0)
	h.WriteString(v.Reason)
	h.WriteByte(0)
	h.WriteString(v.Detail)
	return h.Sum64()
}

// repeat counts a request into the aggregate of its key when one is open
// and returns its reference ID. An aggregate whose window has ended is
// closed here (its repeats go to storage with the next write) and the
// request starts a new one.
func (r *Recorder) repeat(k aggKey, now time.Time, pageRef string) (string, bool) {
	s := &r.aggs[k.h%aggShards]
	t := now.UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.m[k]
	if !ok {
		return "", false
	}
	if t >= a.expires {
		r.close(s, k, a)
		delete(s.m, k)
		return "", false
	}
	if pageRef != "" && pageRef != a.ref {
		// The page has its reference ID already (an adapter relayed
		// it): the event must be found by that one, so it is stored on
		// its own.
		return "", false
	}
	a.pending++
	a.last = max(a.last, t)
	s.m[k] = a
	r.aggregated.Add(1)
	return a.ref, true
}

// close hands an aggregate's repeats to the next write (s locked). The
// list is bounded like the aggregates; beyond, the repeats are only
// counted as lost (the per-minute counters have them).
func (r *Recorder) close(s *aggShard, k aggKey, a aggregate) {
	if a.pending == 0 {
		return
	}
	if len(s.due) >= r.aggMax {
		r.countsLost.Add(uint64(a.pending))
		return
	}
	s.due = append(s.due, core.EventCount{PartnerID: a.partner, WebsiteID: k.website, Ref: a.ref, At: time.Unix(0, a.at).UTC(), Add: a.pending, LastAt: time.Unix(0, a.last).UTC()})
}

// startAggregate opens an aggregate for an event just queued, unless the
// shard is full (the next identical request is then stored on its own)
// or another request opened one meanwhile.
func (r *Recorder) startAggregate(k aggKey, partner int64, ref string, now time.Time) {
	s := &r.aggs[k.h%aggShards]
	t := now.UnixNano()
	s.mu.Lock()
	if _, ok := s.m[k]; !ok && len(s.m) < r.aggMax {
		s.m[k] = aggregate{ref: ref, partner: partner, at: t, last: t, expires: t + r.window}
		s.peak = max(s.peak, len(s.m))
	}
	s.mu.Unlock()
}

// takeCounts closes the aggregates whose window has ended (all of them
// when all is set, as Flush does: their repeats are written, and the
// still-open ones keep counting into the same event) and returns every
// repeat due.
func (r *Recorder) takeCounts(now time.Time, all bool) []core.EventCount {
	var out []core.EventCount
	t := now.UnixNano()
	for i := range r.aggs {
		s := &r.aggs[i]
		s.mu.Lock()
		for k, a := range s.m {
			switch {
			case t >= a.expires:
				r.close(s, k, a)
				delete(s.m, k)
			case all && a.pending > 0:
				r.close(s, k, a)
				a.pending = 0
				s.m[k] = a
			}
		}
		out = append(out, s.due...)
		s.due = s.due[:0]
		if s.peak > 64 && len(s.m) < s.peak/8 {
			// A Go map never shrinks: after a flood of many keys, start
			// a small one with what is left.
			m := make(map[aggKey]aggregate, len(s.m))
			for k, a := range s.m {
				m[k] = a
			}
			s.m, s.peak = m, len(m)
			if cap(s.due) > 64 {
				s.due = nil
			}
		}
		s.mu.Unlock()
	}
	return out
}

// Aggregates returns how many aggregates are open (at most
// Options.MaxAggregates).
func (r *Recorder) Aggregates() int {
	n := 0
	for i := range r.aggs {
		s := &r.aggs[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// CountsLost returns how many repeats were not added to their stored
// event (storage gave up at shutdown, or too many windows ended between
// two writes); the per-minute counters have them.
func (r *Recorder) CountsLost() uint64 { return r.countsLost.Load() }

// Aggregated returns how many requests were counted into an earlier
// identical event instead of becoming one.
func (r *Recorder) Aggregated() uint64 { return r.aggregated.Load() }

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
		sweep := false // the aggregates are looked over once a tick
		select {
		case e := <-r.ch:
			batch = append(batch, e)
			if len(batch) < r.opt.Batch {
				continue
			}
		case <-tick.C:
			sweep = true
		case done = <-r.flushNow:
			sweep = true
			batch = r.drain(batch)
		case <-ctx.Done():
			wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			r.write(wctx, r.drain(batch))
			r.writeCounts(wctx, true)
			cancel()
			return
		}
		r.write(ctx, batch)
		batch = batch[:0]
		if sweep {
			r.writeCounts(ctx, done != nil)
		}
		if done != nil {
			close(done)
		}
	}
}

// writeCounts stores the repeats of the aggregates whose window has ended
// (all: of every aggregate). An aggregate exists only once its event was
// queued, so the events queued now hold every event these repeats add to:
// they are written first.
func (r *Recorder) writeCounts(ctx context.Context, all bool) {
	if r.aggs == nil {
		return
	}
	counts := r.takeCounts(r.opt.Now(), all)
	if len(counts) == 0 {
		return
	}
	n := len(r.ch)
	batch := make([]core.Event, 0, min(n, r.opt.Batch))
	for i := 0; i < n; i++ {
		batch = append(batch, <-r.ch)
		if len(batch) == r.opt.Batch || i == n-1 {
			r.write(ctx, batch)
			batch = batch[:0]
		}
	}
	err := r.retry(ctx, func(ctx context.Context, id string) error { return r.opt.Counts(ctx, id, counts) }, "event counts", len(counts))
	if err != nil {
		var lost int64
		for _, c := range counts {
			lost += c.Add
		}
		r.countsLost.Add(uint64(lost))
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

// write stores a batch with the counters gathered so far.
func (r *Recorder) write(ctx context.Context, batch []core.Event) {
	stats := r.takeCounters()
	if len(batch) == 0 && len(stats) == 0 {
		return
	}
	if err := r.retry(ctx, func(ctx context.Context, id string) error { return r.sink(ctx, id, batch, stats) }, "events", len(batch)); err != nil {
		r.dropped.Add(uint64(len(batch)))
		return
	}
	r.written.Add(uint64(len(batch)))
}

// retry runs store under one batch id until it succeeds. While storage
// fails it keeps trying the same batch (same id, so nothing is stored
// twice), backing off up to 5 s; meanwhile new events wait in the buffer
// and are dropped (and counted) only once it is full, and counters keep
// adding up in memory. When ctx ends it tries for 5 s more, then gives
// up (the caller drops the batch) and says so.
func (r *Recorder) retry(ctx context.Context, store func(ctx context.Context, id string) error, what string, n int) error {
	id := newBatchID()
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := store(ctx, id)
		if err == nil {
			if attempt > 1 {
				r.opt.Logger.Info(what+" stored again after a storage failure", "n", n, "attempts", attempt)
			}
			return nil
		}
		r.failed.Add(1)
		if attempt == 1 {
			r.opt.Logger.Warn(what+" not stored; retrying (new events wait in the buffer)", "n", n, "buffer", r.opt.Buffer, "err", err)
		}
		if ctx.Err() != nil {
			wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = store(wctx, id)
			cancel()
			if err != nil {
				r.opt.Logger.Error(what+" dropped at shutdown: storage does not answer", "n", n, "err", err)
			}
			return err
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
