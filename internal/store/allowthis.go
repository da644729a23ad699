package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/core"
)

// ---- "allow this" previews (core.AllowThisTx) ----

// refusedWhere selects a website's refused events in [from, to) matching
// f: neither granted nor a challenge's outcome (as TopEvents counts them).
func refusedWhere(partnerID, websiteID int64, f core.RefusedFilter, from, to time.Time) *where {
	w := &where{}
	// events_website_at (website_id, at, id) narrows the scan to the
	// window; the tenant is in the WHERE as everywhere.
	w.add("partner_id = ?", partnerID)
	w.add("website_id = ?", websiteID)
	w.add("at >= ?", from)
	w.add("at < ?", to)
	w.add("action <> 'grant' AND action NOT LIKE 'challenge_%'")
	if f.RuleCanLift {
		w.add("source NOT IN ('list', 'waf')")
	}
	if f.IP != "" {
		w.add("ip = ?", f.IP)
	}
	if f.IPPrefix != "" {
		w.add("substr(ip, 1, CAST(? AS INTEGER)) = ?", len(f.IPPrefix), f.IPPrefix)
	}
	if f.UserAgent != "" {
		w.add("LOWER(user_agent) = LOWER(?)", f.UserAgent)
	}
	if f.PathPrefix != "" {
		w.add("substr(path, 1, CAST(? AS INTEGER)) = ?", len(f.PathPrefix), f.PathPrefix)
	}
	return w
}

// whereClause is w's conditions as a WHERE clause.
func whereClause(w *where) string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

func (t *tx) RefusedCount(ctx context.Context, partnerID, websiteID int64, f core.RefusedFilter, from, to time.Time) (int64, int64, error) {
	w := refusedWhere(partnerID, websiteID, f, from, to)
	var n, clients int64
	err := t.queryRow(ctx, "SELECT COUNT(*), COUNT(DISTINCT ip) FROM events"+whereClause(w), w.args...).Scan(&n, &clients)
	return n, clients, err
}

func (t *tx) RefusedByIP(ctx context.Context, partnerID, websiteID int64, f core.RefusedFilter, from, to time.Time, limit int) ([]core.TopRow, error) {
	w := refusedWhere(partnerID, websiteID, f, from, to)
	args := append(w.args, limit)
	rows, err := t.query(ctx, "SELECT ip, COUNT(*) FROM events"+whereClause(w)+" GROUP BY ip ORDER BY 2 DESC, 1 LIMIT $"+itoa(len(args)), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.TopRow
	for rows.Next() {
		var r core.TopRow
		if err := rows.Scan(&r.Value, &r.Count); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (t *tx) RefusedEvents(ctx context.Context, partnerID, websiteID int64, f core.RefusedFilter, from, to time.Time, limit int) ([]core.Event, error) {
	w := refusedWhere(partnerID, websiteID, f, from, to)
	q, args := w.sql("SELECT id, partner_id, website_id, at, ip, method, host, path, query, user_agent, referrer, action, category, source, reason, detail, monitored, country, ref, waf FROM events", "at DESC, id DESC", limit)
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.Event
	for rows.Next() {
		var e core.Event
		var wafJSON string
		if err := rows.Scan(&e.ID, &e.PartnerID, &e.WebsiteID, timeCol{&e.At}, &e.IP, &e.Method, &e.Host, &e.Path, &e.Query, &e.UserAgent, &e.Referrer,
			&e.Action, &e.Category, &e.Source, &e.Reason, &e.Detail, &e.Monitored, &e.Country, &e.Ref, &wafJSON); err != nil {
			return nil, err
		}
		if wafJSON != "" {
			e.WAF = new(core.EventWAF)
			if err := json.Unmarshal([]byte(wafJSON), e.WAF); err != nil {
				return nil, fmt.Errorf("event %d: stored firewall finding: %w", e.ID, err)
			}
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
