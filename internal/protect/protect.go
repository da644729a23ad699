// Package protect connects the decision engine to the rest of Palisade: it
// loads every website's settings from the core into the engine (at once on
// a change, and periodically as a safety net), turns a website's first
// traffic into status "online", and gives decision adapters one Decide.
package protect

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/palisadehq/palisade/internal/challenge"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/events"
	"github.com/palisadehq/palisade/internal/metrics"
	"github.com/palisadehq/palisade/internal/netutil"
)

// Protector owns the engine's snapshot.
type Protector struct {
	Engine *engine.Engine
	svc    *core.Service
	log    *slog.Logger

	kick chan struct{}
	seen chan *engine.Policy

	rec     *events.Recorder
	metrics *metrics.Metrics
	web     *challenge.Web
	// keySource gives the challenge keys on each reload (nil: fixed keys).
	keySource func(context.Context) (*challenge.Keys, error)
	spentWarn everyMinute // logs "Redis does not answer" at most once a minute
	reloadMu  sync.Mutex  // one Reload at a time
	fleet     Fleet

	mu       sync.Mutex
	reported map[int64]bool // websites whose first traffic was queued
	loaded   chan struct{}  // closed after the first load
	once     sync.Once
}

// New returns a Protector; call SetService, then Run.
func New(eng *engine.Engine, log *slog.Logger) *Protector {
	if log == nil {
		log = slog.Default()
	}
	p := &Protector{Engine: eng, log: log, kick: make(chan struct{}, 1), seen: make(chan *engine.Policy, 1024),
		reported: map[int64]bool{}, loaded: make(chan struct{})}
	// Until EnableChallenges, challenge pages explain the check but cannot
	// be solved.
	p.web = &challenge.Web{Issuer: challenge.NewIssuer(mustKeys(), challenge.NewMemorySpent(nil), nil),
		Resolve: func(*http.Request) (*engine.Policy, netip.Addr) { return nil, netip.Addr{} }}
	return p
}

// EnableChallenges makes challenge verdicts solvable: is issues and checks
// challenges and clearances; trusted are the web servers whose forwarded
// client address the challenge endpoints believe. The engine lets cleared
// clients through challenges from then on.
func (p *Protector) EnableChallenges(is *challenge.Issuer, trusted Trusted) {
	if trusted == nil {
		trusted = Loopback
	}
	p.Engine.SetClearance(is)
	p.web = &challenge.Web{
		Issuer: is,
		Resolve: func(r *http.Request) (*engine.Policy, netip.Addr) {
			var pol *engine.Policy
			if key := r.Header.Get("X-Palisade-Key"); key != "" {
				pol, _ = p.Engine.ByServerKey(key)
			} else {
				pol = p.Engine.ByDomain(r.Host)
			}
			return pol, ChallengeClient(r, trusted)
		},
		// A request no website answers shows the operator's own name.
		BrandName: p.brandName(),
		// The clearance cookie is Secure when the visitor came over HTTPS,
		// as the connection or a web server (never the visitor) says.
		Secure: func(r *http.Request) bool { return netutil.WebServerHTTPS(r, trusted) },
		Report: func(o challenge.Outcome) {
			if o.Reason == challenge.ErrUnavailable.Error() && p.spentWarn.Allow() {
				p.log.Warn("a challenge solution could not be checked: the spent set (Redis) does not answer", "website", o.Policy.Domain)
			}
			if p.rec != nil {
				p.rec.ObserveChallenge(o.Policy, o.Client.IP, o.Client.UserAgent, o.Path, o.Solved, o.Reason, o.SolveMS, o.Ref)
			}
		},
	}
}

// brandName is the operator's name (core.Config.BrandName) once the
// service is set, else "".
func (p *Protector) brandName() string {
	if p.svc == nil {
		return ""
	}
	return p.svc.Config().BrandName
}

// Observe makes every decision go to rec (events and counters) and m
// (Prometheus); either may be nil.
func (p *Protector) Observe(rec *events.Recorder, m *metrics.Metrics) { p.rec, p.metrics = rec, m }

// Metrics returns the metrics decisions are counted in (may be nil).
func (p *Protector) Metrics() *metrics.Metrics { return p.metrics }

// SetService gives the protector the service it loads websites from. (The
// service is built with Changed as its change hook, hence two steps.)
func (p *Protector) SetService(svc *core.Service) { p.svc = svc }

// Changed asks for a reload soon; many calls coalesce into one reload. It
// never blocks.
func (p *Protector) Changed() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// RefreshChallengeKeys makes every reload also ask keys for the challenge
// keys and hand them to the issuer when they changed, so that a rotation
// (palisade challenge rotate-key, on any node) reaches every running node
// within one reload interval.
func (p *Protector) RefreshChallengeKeys(keys func(context.Context) (*challenge.Keys, error)) {
	p.reloadMu.Lock() // Reload reads it
	defer p.reloadMu.Unlock()
	p.keySource = keys
}

func (p *Protector) refreshKeys(ctx context.Context) {
	if p.keySource == nil || p.web == nil {
		return
	}
	k, err := p.keySource(ctx)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Warn("read the challenge keys; keeping the previous ones", "err", err)
		}
		return
	}
	if !k.Equal(p.web.Issuer.Keys()) {
		p.web.Issuer.SetKeys(k)
		p.log.Info("challenge keys changed; signing with the new current key")
	}
}

// Reload loads every website into a new engine snapshot now. Reloads run
// one at a time, so a snapshot read before a change can never replace one
// read after it. The config version is read first: the snapshot holds at
// least every change up to it.
func (p *Protector) Reload(ctx context.Context) error {
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	version, err := p.svc.ConfigVersion(ctx)
	if err != nil {
		p.storeDown(ctx, err)
		return err
	}
	p.refreshKeys(ctx)
	sites, err := p.svc.EngineSites(ctx)
	if err != nil {
		p.storeDown(ctx, err)
		return err
	}
	lists, err := p.svc.EnginePartnerLists(ctx)
	if err != nil {
		p.storeDown(ctx, err)
		return err
	}
	for _, e := range p.Engine.Load(sites, lists) {
		if e.Degraded {
			p.log.Warn("website rules skipped", "website_id", e.WebsiteID, "err", e.Err)
			continue
		}
		p.log.Warn("website settings do not compile; protecting it with the defaults", "website_id", e.WebsiteID, "err", e.Err)
	}
	p.fleet.applied(version)
	p.storeUp()
	p.once.Do(func() { close(p.loaded) })
	return nil
}

// storeDown notes that the store did not answer; the engine keeps deciding
// from the snapshot it has.
func (p *Protector) storeDown(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	if p.fleet.storeOK.Swap(false) {
		p.log.Error("the store does not answer; deciding from the last snapshot until it does", "err", err)
	}
}

func (p *Protector) storeUp() {
	if !p.fleet.storeOK.Swap(true) && p.fleet.reloads.Load() > 0 {
		p.log.Info("the store answers again")
	}
	p.fleet.reloads.Add(1)
}

// Loaded is closed once the first snapshot is in place.
func (p *Protector) Loaded() <-chan struct{} { return p.loaded }

// Fleet returns the node's view of config propagation (for metrics and
// readiness).
func (p *Protector) Fleet() *Fleet { return &p.fleet }

// Run keeps the snapshot current until ctx ends: it reloads at once on a
// local change and on a notification from another node (PostgreSQL
// LISTEN), checks the store's config version every poll interval (so a
// missed notification heals itself), and reloads everything every five
// minutes regardless. It also marks first traffic and sweeps idle
// rate-limit state.
func (p *Protector) Run(ctx context.Context, poll time.Duration) {
	if err := p.Reload(ctx); err != nil && ctx.Err() == nil {
		p.log.Error("load websites into the engine", "err", err)
	}
	if n, ok := p.svc.Store().(core.ConfigNotifier); ok {
		var lost everyMinute
		go n.ListenConfig(ctx, func(v int64) {
			if v == 0 || v > p.fleet.version.Load() {
				p.fleet.seen(v)
				p.Changed()
			}
		}, func(err error) {
			if lost.Allow() {
				p.log.Warn("lost the config notification connection; reconnecting (polling meanwhile)", "err", err)
			}
		})
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	full := time.NewTicker(5 * time.Minute)
	defer full.Stop()
	sweep := time.NewTicker(time.Minute)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.kick:
		case <-full.C:
		case <-tick.C:
			v, err := p.svc.ConfigVersion(ctx)
			if err != nil {
				p.storeDown(ctx, err)
				continue
			}
			if p.fleet.storeOK.Load() && v == p.fleet.version.Load() {
				continue
			}
			p.fleet.seen(v)
		case <-sweep.C:
			p.Engine.SweepLimits()
			continue
		case pol := <-p.seen:
			if _, err := p.svc.MarkSeen(ctx, pol.PartnerID, pol.WebsiteID, pol.Domain); err != nil && ctx.Err() == nil {
				p.log.Warn("record first traffic", "website", pol.Domain, "err", err)
				p.mu.Lock()
				delete(p.reported, pol.WebsiteID) // try again on its next request
				p.mu.Unlock()
			}
			continue
		}
		if err := p.Reload(ctx); err != nil && ctx.Err() == nil {
			p.log.Debug("reload websites into the engine; keeping the previous snapshot", "err", err)
		}
	}
}

// Fleet is what a node knows about config propagation: the version its
// snapshot holds, the newest it has heard of, and since when it lags.
type Fleet struct {
	version     atomic.Int64 // config version of the snapshot in use
	newest      atomic.Int64 // newest version heard of (notification or poll)
	behindSince atomic.Int64 // unix nanoseconds when the node first knew it lagged; 0: in step
	reloads     atomic.Uint64
	storeOK     atomic.Bool
}

// Version is the config version the engine's snapshot holds.
func (f *Fleet) Version() int64 { return f.version.Load() }

// Newest is the newest config version the node has heard of.
func (f *Fleet) Newest() int64 { return max(f.newest.Load(), f.version.Load()) }

// Lag is how long the node has known of a newer config than it decides by
// (0 when in step).
func (f *Fleet) Lag() time.Duration {
	if s := f.behindSince.Load(); s != 0 {
		return time.Since(time.Unix(0, s))
	}
	return 0
}

// Reloads counts snapshots loaded.
func (f *Fleet) Reloads() uint64 { return f.reloads.Load() }

// StoreOK reports whether the last read of the store succeeded.
func (f *Fleet) StoreOK() bool { return f.storeOK.Load() }

// WatchStore pings the store every interval until ctx ends and records
// whether it answered, for nodes that run no loader (role control).
func (f *Fleet) WatchStore(ctx context.Context, store core.Store, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		f.storeOK.Store(store.Ping(ctx) == nil || ctx.Err() != nil)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (f *Fleet) seen(v int64) {
	for {
		cur := f.newest.Load()
		if v <= cur || f.newest.CompareAndSwap(cur, v) {
			break
		}
	}
	if v == 0 || v > f.version.Load() {
		f.behindSince.CompareAndSwap(0, time.Now().UnixNano())
	}
}

func (f *Fleet) applied(v int64) {
	f.version.Store(v)
	if v >= f.newest.Load() {
		f.behindSince.Store(0)
	}
}

// Decide decides r for the website p (nil: unknown), records the decision
// and notes first traffic. A verdict that shows the visitor a page
// (challenge or deny) gets a reference ID, on the page and in its event:
// the recorder's, which is the first request's when the request repeats an
// identical one of the last seconds (events.Recorder aggregates floods
// into one event), so every page's ID finds the event that counts it.
func (p *Protector) Decide(pol *engine.Policy, r *engine.Request) engine.Verdict {
	start := time.Now()
	v := p.Engine.Decide(pol, r)
	took := time.Since(start)
	if p.rec != nil {
		v.Ref = p.rec.Observe(pol, r, v)
	} else {
		v.Ref = events.PageRef(v)
	}
	if p.metrics != nil {
		p.metrics.Decision(v, events.StatCategory(v), took)
	}
	if pol != nil && pol.Status == core.StatusSetup {
		p.firstTraffic(pol)
	}
	return v
}

func (p *Protector) firstTraffic(pol *engine.Policy) {
	p.mu.Lock()
	done := p.reported[pol.WebsiteID]
	if !done {
		p.reported[pol.WebsiteID] = true
	}
	p.mu.Unlock()
	if done {
		return
	}
	select {
	case p.seen <- pol:
	default: // queue full: a later request reports it
		p.mu.Lock()
		delete(p.reported, pol.WebsiteID)
		p.mu.Unlock()
	}
}

func mustKeys() *challenge.Keys {
	k, err := challenge.NewKeys(challenge.NewKey())
	if err != nil {
		panic(err)
	}
	return k
}

// everyMinute allows one event a minute, for log lines that would otherwise
// repeat with every request.
type everyMinute struct{ last atomic.Int64 }

func (e *everyMinute) Allow() bool {
	now := time.Now().Unix()
	last := e.last.Load()
	return now-last >= 60 && e.last.CompareAndSwap(last, now)
}

// Explain compiles site's settings and says what the engine would decide
// for r under them, without recording anything or touching rate limits.
func (p *Protector) Explain(site engine.Site, r *engine.Request) (engine.Verdict, error) {
	pol, err := engine.Compile(site)
	if err != nil {
		return engine.Verdict{}, err
	}
	return p.Engine.Explain(pol, r), nil
}
