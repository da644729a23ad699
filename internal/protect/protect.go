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
			return pol, ClientAddr(r, trusted)
		},
		Report: func(o challenge.Outcome) {
			if o.Reason == challenge.ErrUnavailable.Error() && p.spentWarn.Allow() {
				p.log.Warn("a challenge solution could not be checked: the spent set (Redis) does not answer", "website", o.Policy.Domain)
			}
			if p.rec != nil {
				p.rec.ObserveChallenge(o.Policy, o.Client.IP, o.Client.UserAgent, o.Path, o.Solved, o.Reason, o.SolveMS)
			}
		},
	}
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
// read after it.
func (p *Protector) Reload(ctx context.Context) error {
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	p.refreshKeys(ctx)
	sites, err := p.svc.EngineSites(ctx)
	if err != nil {
		return err
	}
	lists, err := p.svc.EnginePartnerLists(ctx)
	if err != nil {
		return err
	}
	for _, e := range p.Engine.Load(sites, lists) {
		p.log.Warn("website settings do not compile; protecting it with the defaults", "website_id", e.WebsiteID, "err", e.Err)
	}
	p.once.Do(func() { close(p.loaded) })
	return nil
}

// Loaded is closed once the first snapshot is in place.
func (p *Protector) Loaded() <-chan struct{} { return p.loaded }

// Run reloads on every change (coalesced) and every interval, marks first
// traffic, and sweeps idle rate-limit state, until ctx ends.
func (p *Protector) Run(ctx context.Context, interval time.Duration) {
	if err := p.Reload(ctx); err != nil && ctx.Err() == nil {
		p.log.Error("load websites into the engine", "err", err)
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	sweep := time.NewTicker(time.Minute)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.kick:
		case <-tick.C:
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
			p.log.Error("reload websites into the engine; keeping the previous snapshot", "err", err)
		}
	}
}

// Decide decides r for the website p (nil: unknown), records the decision
// and notes first traffic.
func (p *Protector) Decide(pol *engine.Policy, r *engine.Request) engine.Verdict {
	start := time.Now()
	v := p.Engine.Decide(pol, r)
	took := time.Since(start)
	if p.rec != nil {
		p.rec.Observe(pol, r, v)
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
