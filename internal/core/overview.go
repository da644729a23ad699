package core

import (
	"context"
	"sort"
	"time"
)

// The overviews: a partner's across all its websites (traffic, the most
// attacked, the unfinished, the near-quota, the latest changes) and the
// operator's across the fleet (partners, websites, nodes, store health).

// OverviewTx is the store's part of the overviews (embedded in Tx).
type OverviewTx interface {
	// PartnerTraffic sums a partner's decision counters in [from, to) by
	// website, bucket ("hour" or "day", UTC), action and category: each
	// row's Minute is its bucket's start. One scan of the span serves the
	// chart, the websites' totals and this month's usage.
	PartnerTraffic(ctx context.Context, partnerID int64, bucket string, from, to time.Time) ([]StatRow, error)
	// WAFTotals sums each of a partner's websites' website-firewall
	// counters in [from, to) (WebsiteTotal's WAF fields); websites without
	// any are left out.
	WAFTotals(ctx context.Context, partnerID int64, from, to time.Time) ([]WebsiteTotal, error)
	// RecentAudit is a partner's latest audit entries that change
	// something, newest first: sign-ins and sign-on links (object types
	// session and login_token) are left out.
	RecentAudit(ctx context.Context, partnerID int64, limit int) ([]AuditEntry, error)
	// WebsiteStatusCounts counts every partner's websites by status.
	WebsiteStatusCounts(ctx context.Context) (map[string]int64, error)
	// UpsertNode writes a node's heartbeat (its row, by name).
	UpsertNode(ctx context.Context, n Node) error
	// Nodes lists every node's last heartbeat, by name.
	Nodes(ctx context.Context) ([]Node, error)
	// DeleteNodes deletes the nodes last seen before t.
	DeleteNodes(ctx context.Context, seenBefore time.Time) (int64, error)
}

// WebsiteTotal is one website's counters over a span: requests decided
// (challenge outcomes are not requests), denied, challenged (challenge or
// captcha), and the website firewall's findings, blocked and only detected.
type WebsiteTotal struct {
	WebsiteID   int64
	Requests    int64
	Blocked     int64
	Challenged  int64
	WAFBlocked  int64
	WAFDetected int64
}

// Attacks is what ranks a website among the most attacked: its denied
// requests and the firewall's findings it did not deny (detect mode,
// monitor mode); a firewall deny is already a denied request.
func (t WebsiteTotal) Attacks() int64 { return t.Blocked + t.WAFDetected }

// Findings are the website firewall's findings, blocked or only detected.
func (t WebsiteTotal) Findings() int64 { return t.WAFBlocked + t.WAFDetected }

// Overview periods: the last 24 hours by hour, the last 30 days by day.
const (
	OverviewDay   = "day"
	OverviewMonth = "month"
)

// Thresholds of the overviews.
const (
	// QuotaNear is the share of its monthly quota from which a website is
	// listed as near its quota.
	QuotaNear = 0.8
	// OverviewTop bounds the most attacked websites and the recent changes.
	OverviewTop = 10
	// NodeGoneAfter is how long a node may miss heartbeats before the
	// operator's overview shows it gone.
	NodeGoneAfter = 2 * time.Minute
	// NodeForgetAfter is how long a gone node's row is kept.
	NodeForgetAfter = 7 * 24 * time.Hour
	// overviewSites bounds the websites an overview reads.
	overviewSites = 100_000
)

// OverviewBucket is one bucket of the partner's traffic.
type OverviewBucket struct {
	Time       time.Time `json:"t"`
	Requests   int64     `json:"requests"`
	Blocked    int64     `json:"blocked"`
	Challenged int64     `json:"challenged"`
}

// SiteAttacks is a website among the most attacked.
type SiteAttacks struct {
	Website Website
	WebsiteTotal
}

// SiteSetup is a website whose integration is not finished: registered,
// no traffic seen yet, for Age.
type SiteSetup struct {
	Website Website
	Age     time.Duration
}

// SiteQuota is a website's requests this calendar month against its plan's
// monthly quota (Share: 0.8 is 80%).
type SiteQuota struct {
	Website Website
	Used    int64
	Quota   int64
	Share   float64
	Over    bool
}

// PartnerOverview is a partner's view across all its websites.
type PartnerOverview struct {
	Period     string // OverviewDay or OverviewMonth
	Bucket     string // hour or day
	From, To   time.Time
	Series     []OverviewBucket // every bucket of the period, empty ones too
	Total      OverviewBucket   // the period's sums (Time: From)
	Challenges ChallengeStats
	Websites   int // live websites (not deleted)
	// MostAttacked are the websites with the most attacks in the period
	// (WebsiteTotal.Attacks), at most OverviewTop, most first.
	MostAttacked []SiteAttacks
	// Setup are the websites still in status setup, oldest first.
	Setup []SiteSetup
	// Quota are the websites at or over QuotaNear of their monthly quota,
	// fullest first.
	Quota []SiteQuota
	// Recent are the partner's latest changes (its audit log without
	// sign-ins), newest first, at most OverviewTop.
	Recent []AuditEntry
	// Sites are all its live websites with their counters over the
	// period and this month, by domain (the overview's export).
	Sites []SiteSummary
}

// SiteSummary is one website's line of the overview's export.
type SiteSummary struct {
	Website Website
	WebsiteTotal
	MonthRequests int64 // this calendar month, against Website.Plan.MonthlyQuota
}

// PartnerOverview returns the partner's overview over period (OverviewDay:
// the last 24 hours by hour; OverviewMonth: the last 30 days by day). Only
// a partner, for itself: its own websites, never another's.
func (s *Service) PartnerOverview(ctx context.Context, c Caller, period string) (PartnerOverview, error) {
	if err := c.partnerOnly("see its overview"); err != nil {
		return PartnerOverview{}, err
	}
	now := s.clock()
	o := PartnerOverview{Period: period, To: now}
	var step func(time.Time) time.Time
	switch period {
	case OverviewMonth:
		o.Bucket, o.From = "day", now.AddDate(0, 0, -29).Truncate(24*time.Hour)
		step = func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }
	case OverviewDay, "":
		o.Period, o.Bucket, o.From = OverviewDay, "hour", now.Add(-23*time.Hour).Truncate(time.Hour)
		step = func(t time.Time) time.Time { return t.Add(time.Hour) }
	default:
		return PartnerOverview{}, FieldError("period", "period must be %s or %s", OverviewDay, OverviewMonth)
	}
	// One scan from the earlier of the period's start and the month's
	// (both on a bucket boundary) gives the chart, the period's totals per
	// website and this month's usage.
	month := MonthStart(now)
	scanFrom := o.From
	if month.Before(scanFrom) {
		scanFrom = month
	}
	var traffic []StatRow
	var wafTotals []WebsiteTotal
	var sites []Website
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if sites, err = tx.Websites(ctx, c.PartnerID, WebsiteFilter{Limit: overviewSites}); err != nil {
			return err
		}
		if traffic, err = tx.PartnerTraffic(ctx, c.PartnerID, o.Bucket, scanFrom, now); err != nil {
			return err
		}
		if wafTotals, err = tx.WAFTotals(ctx, c.PartnerID, o.From, now); err != nil {
			return err
		}
		o.Recent, err = tx.RecentAudit(ctx, c.PartnerID, OverviewTop)
		return err
	})
	if err != nil {
		return PartnerOverview{}, err
	}
	o.Websites = len(sites)
	byID := make(map[int64]Website, len(sites))
	for _, w := range sites {
		if w.PartnerID != c.PartnerID { // the store's tenant rule, checked again
			continue
		}
		byID[w.ID] = w
	}

	// The traffic series (every bucket of the period, empty ones too), the
	// period's totals per website and this month's requests per website.
	points := make([]StatPoint, 0, len(traffic))
	sums := map[int64]*OverviewBucket{}
	inPeriod := map[int64]*WebsiteTotal{}
	used := map[int64]int64{}
	total := func(id int64) *WebsiteTotal {
		t := inPeriod[id]
		if t == nil {
			t = &WebsiteTotal{WebsiteID: id}
			inPeriod[id] = t
		}
		return t
	}
	for _, r := range traffic {
		request := r.Category != "challenge" // a challenge's outcome is not a request
		if request && !r.Minute.Before(month) {
			used[r.WebsiteID] += r.Count
		}
		if r.Minute.Before(o.From) {
			continue
		}
		points = append(points, StatPoint{Time: r.Minute, Action: r.Action, Category: r.Category, Count: r.Count})
		if !request {
			continue
		}
		b := sums[r.Minute.Unix()]
		if b == nil {
			b = &OverviewBucket{Time: r.Minute.UTC()}
			sums[r.Minute.Unix()] = b
		}
		t := total(r.WebsiteID)
		b.Requests += r.Count
		t.Requests += r.Count
		switch r.Action {
		case "deny":
			b.Blocked += r.Count
			t.Blocked += r.Count
		case "challenge", "captcha":
			b.Challenged += r.Count
			t.Challenged += r.Count
		}
	}
	for _, w := range wafTotals {
		t := total(w.WebsiteID)
		t.WAFBlocked, t.WAFDetected = w.WAFBlocked, w.WAFDetected
	}
	o.Challenges = SummarizeChallenges(points)
	o.Total.Time = o.From
	for t, i := o.From, 0; !t.After(now) && i < 1000; t, i = step(t), i+1 {
		b := OverviewBucket{Time: t}
		if got := sums[t.Unix()]; got != nil {
			b = *got
		}
		o.Series = append(o.Series, b)
		o.Total.Requests += b.Requests
		o.Total.Blocked += b.Blocked
		o.Total.Challenged += b.Challenged
	}

	// The most attacked websites of the period.
	for id, t := range inPeriod {
		w, ok := byID[id]
		if !ok || t.Attacks() == 0 {
			continue
		}
		o.MostAttacked = append(o.MostAttacked, SiteAttacks{Website: w, WebsiteTotal: *t})
	}
	sort.Slice(o.MostAttacked, func(i, j int) bool {
		a, b := o.MostAttacked[i], o.MostAttacked[j]
		if a.Attacks() != b.Attacks() {
			return a.Attacks() > b.Attacks()
		}
		return a.Website.Domain < b.Website.Domain
	})
	if len(o.MostAttacked) > OverviewTop {
		o.MostAttacked = o.MostAttacked[:OverviewTop]
	}

	// Websites still waiting for their first request, and those near or
	// over their quota this month.
	for _, w := range sites {
		if _, ok := byID[w.ID]; !ok {
			continue
		}
		sum := SiteSummary{Website: w, WebsiteTotal: WebsiteTotal{WebsiteID: w.ID}, MonthRequests: used[w.ID]}
		if t := inPeriod[w.ID]; t != nil {
			sum.WebsiteTotal = *t
		}
		o.Sites = append(o.Sites, sum)
		if w.Status == StatusSetup {
			o.Setup = append(o.Setup, SiteSetup{Website: w, Age: max(0, now.Sub(w.CreatedAt))})
		}
		if q := w.Plan.MonthlyQuota; q > 0 && w.Status != StatusDeleted {
			n := used[w.ID]
			share := float64(n) / float64(q)
			if share >= QuotaNear {
				o.Quota = append(o.Quota, SiteQuota{Website: w, Used: n, Quota: q, Share: share, Over: n > q})
			}
		}
	}
	sort.Slice(o.Sites, func(i, j int) bool { return o.Sites[i].Website.Domain < o.Sites[j].Website.Domain })
	sort.SliceStable(o.Setup, func(i, j int) bool { return o.Setup[i].Age > o.Setup[j].Age })
	sort.SliceStable(o.Quota, func(i, j int) bool { return o.Quota[i].Share > o.Quota[j].Share })
	return o, nil
}

// Node is one Palisade process's last heartbeat: what it decides by and
// how it is doing. Nodes write theirs every HeartbeatEvery (package
// protect); the operator's overview reads them.
type Node struct {
	Name          string // hostname and listen address, unique in the fleet
	Role          string // all, edge or control
	Version       string // the binary's version
	ConfigVersion int64  // the config version its engine decides by
	Lag           time.Duration
	EventsDropped int64 // since it started
	// Redis is "" when the node uses no Redis, else "ok" or the error of
	// its last ping; RedisLatency is that ping's round trip.
	Redis        string
	RedisLatency time.Duration
	StartedAt    time.Time
	SeenAt       time.Time
}

// RedisNotUsed is Node.Redis of a node without Redis.
const RedisNotUsed = ""

// HeartbeatEvery is how often a node writes its heartbeat.
const HeartbeatEvery = 30 * time.Second

// RecordHeartbeat writes a node's heartbeat, seen now, and forgets the
// nodes gone for NodeForgetAfter. It is a system call: no caller, no audit.
func (s *Service) RecordHeartbeat(ctx context.Context, n Node) error {
	if n.Name == "" {
		return FieldError("name", "a node needs a name")
	}
	now := s.clock()
	n.SeenAt = now
	return s.store.Update(ctx, func(tx Tx) error {
		if err := tx.UpsertNode(ctx, n); err != nil {
			return err
		}
		_, err := tx.DeleteNodes(ctx, now.Add(-NodeForgetAfter))
		return err
	})
}

// NodeStatus is a node as the operator's overview shows it.
type NodeStatus struct {
	Node
	Gone bool          // no heartbeat for NodeGoneAfter
	Ago  time.Duration // since its last heartbeat
}

// Health is a dependency's answer to a ping.
type Health struct {
	OK      bool
	Latency time.Duration
	Error   string
}

// OperatorOverview is the operator's view of the fleet.
type OperatorOverview struct {
	Partners int
	// Websites counts websites by status (setup, online, paused, deleted);
	// Live is all but deleted.
	Websites map[string]int64
	Live     int64
	Nodes    []NodeStatus
	// ConfigVersion is the store's current config version: a node behind
	// it has not loaded the latest change.
	ConfigVersion int64
	Store         Health
	// RedisUsed says whether any node seen lately uses Redis; Redis is
	// then the worst of their last pings.
	RedisUsed bool
	Redis     Health
	// EventsDropped sums the drop counters of the nodes' last heartbeats
	// (each counts since its process started).
	EventsDropped int64
}

// OperatorOverview returns the fleet's overview. Only the operator.
func (s *Service) OperatorOverview(ctx context.Context, c Caller) (OperatorOverview, error) {
	if err := c.operatorOnly("see the fleet overview"); err != nil {
		return OperatorOverview{}, err
	}
	var o OperatorOverview
	start := time.Now()
	if err := s.store.Ping(ctx); err != nil {
		o.Store = Health{Error: ErrorMessage(err), Latency: time.Since(start)}
		return o, nil // the rest lives in the store
	}
	o.Store = Health{OK: true, Latency: time.Since(start)}
	var nodes []Node
	var partners []Partner
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if partners, err = tx.Partners(ctx); err != nil {
			return err
		}
		if o.Websites, err = tx.WebsiteStatusCounts(ctx); err != nil {
			return err
		}
		if o.ConfigVersion, err = tx.ConfigVersion(ctx); err != nil {
			return err
		}
		nodes, err = tx.Nodes(ctx)
		return err
	})
	if err != nil {
		return OperatorOverview{}, err
	}
	o.Partners = len(partners)
	for st, n := range o.Websites {
		if st != StatusDeleted {
			o.Live += n
		}
	}
	now := s.clock()
	o.Redis.OK = true
	for _, n := range nodes {
		ns := NodeStatus{Node: n, Ago: max(0, now.Sub(n.SeenAt))}
		ns.Gone = ns.Ago > NodeGoneAfter
		o.Nodes = append(o.Nodes, ns)
		o.EventsDropped += n.EventsDropped
		if ns.Gone || n.Redis == RedisNotUsed {
			continue
		}
		o.RedisUsed = true
		o.Redis.Latency = max(o.Redis.Latency, n.RedisLatency)
		if n.Redis != "ok" && o.Redis.OK {
			o.Redis = Health{Error: n.Name + ": " + n.Redis, Latency: n.RedisLatency}
		}
	}
	if !o.RedisUsed {
		o.Redis = Health{}
	}
	sort.SliceStable(o.Nodes, func(i, j int) bool {
		if o.Nodes[i].Gone != o.Nodes[j].Gone {
			return !o.Nodes[i].Gone
		}
		return o.Nodes[i].Name < o.Nodes[j].Name
	})
	return o, nil
}
