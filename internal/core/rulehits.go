package core

import (
	"context"
	"time"
)

// RuleHitsWindow is how far back the rule editor counts each custom rule's
// decisions (shortened to the event retention when that is shorter).
const RuleHitsWindow = 30 * 24 * time.Hour

// RuleHitsTx is the store's part of per-rule hit counts (embedded in Tx).
type RuleHitsTx interface {
	// RuleHits counts one website's recorded events that a custom rule
	// decided (source "rule") in [from, to), by rule name and action.
	RuleHits(ctx context.Context, partnerID, websiteID int64, from, to time.Time) ([]RuleHit, error)
	// CustomRuleTotals sums the website's minute counters of custom-rule
	// decisions (category "custom_rules") in [from, to) by action: every
	// decision, not only the recorded ones.
	CustomRuleTotals(ctx context.Context, partnerID, websiteID int64, from, to time.Time) (map[string]int64, error)
}

// RuleHit is how many recorded decisions of one action one custom rule
// made.
type RuleHit struct {
	Rule   string `json:"rule"`
	Action string `json:"action"`
	Count  int64  `json:"count"`
}

// RuleHits are a website's custom rules' decisions in [From, To).
//
// Hits come from the recorded events, which hold every deny, challenge,
// captcha and redirect but only a sample of grants (the recorder's grant
// sample, 1% by default): a grant rule's count is the sample, not every
// request. Events name the rule as it was called when it decided, so a
// renamed rule starts again from zero. Totals come from the minute
// counters and are every custom-rule decision, by action, all rules
// together.
type RuleHits struct {
	From, To time.Time
	Hits     []RuleHit
	Totals   map[string]int64
}

// Of returns how many recorded decisions the rule named name made, and
// whether grants are among them (then the count is a sample).
func (h RuleHits) Of(name string) (n int64, sampled bool) {
	for _, x := range h.Hits {
		if x.Rule == name {
			n += x.Count
			if x.Action == "grant" {
				sampled = true
			}
		}
	}
	return n, sampled
}

// Total is every custom-rule decision in the window, all rules together.
func (h RuleHits) Total() int64 {
	var n int64
	for _, c := range h.Totals {
		n += c
	}
	return n
}

// Days is the window's length in whole days.
func (h RuleHits) Days() int { return int(h.To.Sub(h.From) / (24 * time.Hour)) }

// RuleHits counts how many requests each custom rule of the website at
// domain decided in the last RuleHitsWindow (by the service's clock), or
// over the event retention when that is shorter. Only the website's
// partner and the customer that owns it may ask; anyone else gets
// not_found, as for an unknown domain.
func (s *Service) RuleHits(ctx context.Context, c Caller, domain string) (RuleHits, error) {
	w, err := s.OwnedWebsite(ctx, c, domain)
	if err != nil {
		return RuleHits{}, err
	}
	window := RuleHitsWindow
	if r := s.cfg.EventRetention; r > 0 && r < window {
		window = r
	}
	to := s.clock()
	h := RuleHits{From: to.Add(-window), To: to}
	err = s.store.View(ctx, func(tx Tx) error {
		var err error
		// Up to and including now: an event of this very instant counts.
		end := h.To.Add(time.Microsecond)
		if h.Hits, err = tx.RuleHits(ctx, w.PartnerID, w.ID, h.From, end); err != nil {
			return err
		}
		// Counters are per minute: the first one may start before From.
		h.Totals, err = tx.CustomRuleTotals(ctx, w.PartnerID, w.ID, h.From.Truncate(time.Minute), end)
		return err
	})
	if err != nil {
		return RuleHits{}, err
	}
	if h.Totals == nil {
		h.Totals = map[string]int64{}
	}
	return h, nil
}
