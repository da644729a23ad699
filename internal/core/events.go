package core

import (
	"context"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/waf"
)

// StatsRetention is how long minute counters are kept (statistics by month
// need more than a year).
const StatsRetention = 400 * 24 * time.Hour

// RecordDecisions writes a batch of events and counters from the decision
// plane, in one transaction. It is a system call: no caller, no audit.
func (s *Service) RecordDecisions(ctx context.Context, events []Event, stats []StatRow) error {
	return s.RecordBatch(ctx, "", events, stats)
}

// RecordBatch is RecordDecisions for a batch with an id: a batch whose id
// was stored before is skipped, so a writer that retries after losing the
// commit's acknowledgement never stores it twice.
func (s *Service) RecordBatch(ctx context.Context, id string, events []Event, stats []StatRow) error {
	return s.store.Update(ctx, func(tx Tx) error {
		if id != "" {
			fresh, err := tx.InsertEventBatch(ctx, id, s.clock())
			if err != nil || !fresh {
				return err
			}
		}
		if err := tx.InsertEvents(ctx, events); err != nil {
			return err
		}
		decisions, waf := splitWAFStats(stats)
		if err := tx.AddStats(ctx, decisions); err != nil {
			return err
		}
		return tx.AddWAFStats(ctx, waf)
	})
}

// RecordEventCounts adds repeats to stored events (package events'
// aggregation) in one transaction; like RecordBatch, a batch whose id was
// stored before is skipped.
func (s *Service) RecordEventCounts(ctx context.Context, id string, counts []EventCount) error {
	if len(counts) == 0 {
		return nil
	}
	return s.store.Update(ctx, func(tx Tx) error {
		if id != "" {
			fresh, err := tx.InsertEventBatch(ctx, id, s.clock())
			if err != nil || !fresh {
				return err
			}
		}
		return tx.AddEventCounts(ctx, counts)
	})
}

// splitWAFStats parts a batch's counters into decision counters and
// website-firewall counters (rows with WAFClass), keeping their order; it
// allocates only when both kinds are there.
func splitWAFStats(rows []StatRow) (decisions, waf []StatRow) {
	n := 0
	for _, r := range rows {
		if r.WAFClass != "" {
			n++
		}
	}
	switch n {
	case 0:
		return rows, nil
	case len(rows):
		return nil, rows
	}
	decisions = make([]StatRow, 0, len(rows)-n)
	waf = make([]StatRow, 0, n)
	for _, r := range rows {
		if r.WAFClass != "" {
			waf = append(waf, r)
		} else {
			decisions = append(decisions, r)
		}
	}
	return decisions, waf
}

// WAFAnyClass is the EventFilter.WAFClass of events with any website
// firewall finding.
const WAFAnyClass = "any"

// checkWAFClass refuses a filter class that is not an attack class.
func checkWAFClass(c string) error {
	if c == "" || c == WAFAnyClass {
		return nil
	}
	for _, k := range waf.Classes() {
		if c == k {
			return nil
		}
	}
	return FieldError("waf_class", "waf_class must be any or an attack class (%s), not %q", strings.Join(waf.Classes(), ", "), c)
}

// MaxWAFStatsSpan is the longest span WAFStats sums over: the counters'
// retention.
const MaxWAFStatsSpan = StatsRetention

// WAFStats sums a website's website-firewall decisions in [from, to) by
// attack class (waf.Classes: sqli, xss, rce, lfi, …): how many requests the
// firewall blocked and how many it only detected. A zero to is now, a zero
// from a day before to. Classes without a decision are left out; the
// answer is in class order. A customer sees only its own websites';
// another tenant's website is not_found, as an unknown one.
func (s *Service) WAFStats(ctx context.Context, c Caller, websiteID int64, from, to time.Time) ([]WAFClassCount, error) {
	if err := c.tenant(); err != nil {
		return nil, err
	}
	if to.IsZero() {
		to = s.clock()
	}
	if from.IsZero() {
		from = to.Add(-24 * time.Hour)
	}
	if !from.Before(to) {
		return nil, FieldError("from", "from must be before to")
	}
	if to.Sub(from) > MaxWAFStatsSpan {
		return nil, FieldError("from", "firewall statistics may span at most %s", MaxWAFStatsSpan)
	}
	var out []WAFClassCount
	err := s.store.View(ctx, func(tx Tx) error {
		w, err := tx.WebsiteByID(ctx, c.PartnerID, websiteID)
		if ErrorCode(err) == ENOTFOUND || err == nil && (w.Status == StatusDeleted || CanSeeWebsite(c, w) != nil) {
			return Errorf(ENOTFOUND, "site_id %d not found", websiteID)
		}
		if err != nil {
			return err
		}
		out, err = tx.WAFStats(ctx, c.PartnerID, w.ID, from.Truncate(time.Minute), to)
		return err
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []WAFClassCount{}
	}
	order := map[string]int{}
	for i, c := range waf.Classes() {
		order[c] = i + 1
	}
	rank := func(c string) int {
		if i, ok := order[c]; ok {
			return i
		}
		return len(order) + 1
	}
	sort.Slice(out, func(i, j int) bool {
		if ri, rj := rank(out[i].Class), rank(out[j].Class); ri != rj {
			return ri < rj
		}
		return out[i].Class < out[j].Class
	})
	return out, nil
}

// PurgeOldEvents deletes events older than retention and counters older
// than StatsRetention.
func (s *Service) PurgeOldEvents(ctx context.Context, retention time.Duration) (events, stats int64, err error) {
	now := s.clock()
	// Three short transactions: partition changes lock the events table
	// itself, so they commit at once instead of waiting on the deletes.
	if err := s.store.Update(ctx, func(tx Tx) error { return tx.PrepareEvents(ctx, now) }); err != nil {
		return 0, 0, err
	}
	var dropped int64
	if err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		dropped, err = tx.DropEventPartitions(ctx, now.Add(-retention))
		return err
	}); err != nil {
		return 0, 0, err
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		events, stats, err = tx.PurgeEvents(ctx, now.Add(-retention), now.Add(-StatsRetention))
		return err
	})
	return dropped + events, stats, err
}

// MaxEventPage bounds one page of events.
const MaxEventPage = 1000

// Events lists a website's events, newest first, filtered; a customer
// only its own websites'.
func (s *Service) Events(ctx context.Context, c Caller, domain string, f EventFilter) ([]Event, error) {
	w, err := s.OwnedWebsite(ctx, c, domain)
	if err != nil {
		return nil, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return nil, FieldError("from", "from must be before to")
	}
	if err := checkWAFClass(f.WAFClass); err != nil {
		return nil, err
	}
	if f.Limit <= 0 || f.Limit > MaxEventPage {
		f.Limit = MaxEventPage
	}
	var out []Event
	err = s.store.View(ctx, func(tx Tx) error {
		out, err = tx.Events(ctx, c.PartnerID, w.ID, f)
		return err
	})
	return out, err
}

// StatPoint is one bucket of a statistics series.
type StatPoint struct {
	Time     time.Time `json:"t"`
	Action   string    `json:"action"`
	Category string    `json:"category"`
	Count    int64     `json:"count"`
}

// ChallengeStats sums a series' browser challenges: requests answered with
// a challenge (or captcha), challenges solved and failed, and the pass rate,
// solved per challenged request (0 to 1). A page whose many requests are
// challenged at once shares one challenge, so the rate is a lower bound of
// the share of challenged visitors who passed.
type ChallengeStats struct {
	Issued   int64   `json:"issued"`
	Solved   int64   `json:"solved"`
	Failed   int64   `json:"failed"`
	PassRate float64 `json:"pass_rate"`
}

// SummarizeChallenges computes ChallengeStats from a Stats series.
func SummarizeChallenges(pts []StatPoint) ChallengeStats {
	var cs ChallengeStats
	for _, p := range pts {
		switch {
		case p.Category == "challenge" && p.Action == "solved":
			cs.Solved += p.Count
		case p.Category == "challenge" && p.Action == "failed":
			cs.Failed += p.Count
		case p.Category != "challenge" && (p.Action == "challenge" || p.Action == "captcha"):
			cs.Issued += p.Count
		}
	}
	if cs.Issued > 0 {
		cs.PassRate = math.Min(1, float64(cs.Solved)/float64(cs.Issued))
		cs.PassRate = math.Round(cs.PassRate*10000) / 10000
	}
	return cs
}

// Stats returns a website's decision counts in [from, to) by bucket
// ("minute", "hour" or "day", in UTC), action and category; a customer
// only its own websites'.
func (s *Service) Stats(ctx context.Context, c Caller, domain, bucket string, from, to time.Time) ([]StatPoint, error) {
	var size time.Duration
	var maxSpan time.Duration
	switch bucket {
	case "minute":
		size, maxSpan = time.Minute, 48*time.Hour
	case "hour", "":
		bucket, size, maxSpan = "hour", time.Hour, 93*24*time.Hour
	case "day":
		size, maxSpan = 24*time.Hour, StatsRetention
	default:
		return nil, FieldError("period", "period must be minute, hour or day")
	}
	if to.IsZero() {
		to = s.clock()
	}
	if from.IsZero() {
		from = to.Add(-map[string]time.Duration{"minute": time.Hour, "hour": 24 * time.Hour, "day": 30 * 24 * time.Hour}[bucket])
	}
	if !from.Before(to) {
		return nil, FieldError("from", "from must be before to")
	}
	if to.Sub(from) > maxSpan {
		return nil, FieldError("from", "a %s series may span at most %s", bucket, maxSpan)
	}
	w, err := s.OwnedWebsite(ctx, c, domain)
	if err != nil {
		return nil, err
	}
	var rows []StatRow
	err = s.store.View(ctx, func(tx Tx) error {
		rows, err = tx.Stats(ctx, c.PartnerID, w.ID, from.Truncate(time.Minute), to)
		return err
	})
	if err != nil {
		return nil, err
	}
	type key struct {
		t                int64
		action, category string
	}
	sums := map[key]int64{}
	for _, r := range rows {
		sums[key{r.Minute.Truncate(size).Unix(), r.Action, r.Category}] += r.Count
	}
	out := make([]StatPoint, 0, len(sums))
	for k, n := range sums {
		out = append(out, StatPoint{Time: time.Unix(k.t, 0).UTC(), Action: k.action, Category: k.category, Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		if a.Action != b.Action {
			return a.Action < b.Action
		}
		return a.Category < b.Category
	})
	return out, nil
}

// TopBlocked ranks the values of field (ip, path, user_agent) among a
// website's blocked and challenged requests in [from, to); a customer only
// its own websites'.
func (s *Service) TopBlocked(ctx context.Context, c Caller, domain, field string, from, to time.Time, limit int) ([]TopRow, error) {
	w, err := s.OwnedWebsite(ctx, c, domain)
	if err != nil {
		return nil, err
	}
	var out []TopRow
	err = s.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.TopEvents(ctx, c.PartnerID, w.ID, field, from, to, limit)
		return err
	})
	return out, err
}

// refAlphabet is base32's: the characters of a reference ID.
const refAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// NewRef returns a fresh reference ID for a challenge or deny page and its
// event: ten characters of base32 (A–Z, 2–7; 50 random bits), short enough
// to read out on the phone, as ParseRef reads them. The ID is no secret
// (the web server relays it, the page shows it; only the website's own
// owner can look an event up by it, and only among its own events): it
// needs to be unique, not unpredictable, so it comes from the runtime's
// generator (ChaCha8, seeded from the system's randomness), not a system
// call per page.
func NewRef() string {
	x := rand.Uint64()
	var b [10]byte
	for i := range b {
		b[i] = refAlphabet[x&31]
		x >>= 5
	}
	return string(b[:])
}

// ParseRef reads a reference ID as a visitor quotes it from a challenge or
// deny page (NewRef: ten characters of base32, A–Z and 2–7): case, spaces
// and dashes do not matter.
func ParseRef(s string) (string, error) {
	r := strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(s)))
	if len(r) != 10 || strings.Trim(r, refAlphabet) != "" {
		return "", FieldError("ref", "ref %q is not a reference ID (ten letters and digits, as the page shows it)", s)
	}
	return r, nil
}
