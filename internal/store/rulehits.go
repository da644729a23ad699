package store

import (
	"context"
	"time"

	"github.com/palisadehq/palisade/internal/core"
)

// ---- per-rule hit counts (core.RuleHitsTx) ----

func (t *tx) RuleHits(ctx context.Context, partnerID, websiteID int64, from, to time.Time) ([]core.RuleHit, error) {
	// events_website_at (website_id, at, id) narrows the scan to the
	// window; the tenant is in the WHERE as everywhere.
	// Requests, not events: an event counts its identical repeats.
	rows, err := t.query(ctx, "SELECT reason, action, CAST(SUM(count) AS BIGINT) FROM events WHERE partner_id = $1 AND website_id = $2 AND at >= $3 AND at < $4 AND source = 'rule' "+
		"GROUP BY reason, action ORDER BY reason, action", partnerID, websiteID, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.RuleHit
	for rows.Next() {
		var h core.RuleHit
		if err := rows.Scan(&h.Rule, &h.Action, &h.Count); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

func (t *tx) CustomRuleTotals(ctx context.Context, partnerID, websiteID int64, from, to time.Time) (map[string]int64, error) {
	// "custom_rules" is the counters' category of a rule's decision
	// (events.StatCategory).
	rows, err := t.query(ctx, "SELECT action, CAST(SUM(count) AS BIGINT) FROM stats_minute WHERE partner_id = $1 AND website_id = $2 AND minute >= $3 AND minute < $4 AND category = 'custom_rules' "+
		"GROUP BY action", partnerID, websiteID, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var action string
		var n int64
		if err := rows.Scan(&action, &n); err != nil {
			return nil, err
		}
		out[action] = n
	}
	return out, rows.Err()
}
