package store

import (
	"context"
	"fmt"
	"time"

	"github.com/palisadehq/palisade/internal/core"
)

// ---- the overviews (core.OverviewTx) ----

// bucketExpr is the SQL of a minute column truncated to an hour or a day
// (UTC). SQLite keeps times as fixed-width text (sqliteTime), so a prefix
// of it is the truncation; PostgreSQL truncates in UTC.
func (t *tx) bucketExpr(col, bucket string) (string, error) {
	var n int
	var pgUnit, tail string
	switch bucket {
	case "hour":
		n, pgUnit, tail = 13, "hour", ":00:00.000000Z"
	case "day":
		n, pgUnit, tail = 10, "day", "T00:00:00.000000Z"
	default:
		return "", fmt.Errorf("overview bucket %q: want hour or day", bucket)
	}
	if t.d.name() == "sqlite" {
		return fmt.Sprintf("substr(%s, 1, %d) || '%s'", col, n, tail), nil
	}
	return fmt.Sprintf("date_trunc('%s', %s AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'", pgUnit, col), nil
}

func (t *tx) PartnerTraffic(ctx context.Context, partnerID int64, bucket string, from, to time.Time) ([]core.StatRow, error) {
	b, err := t.bucketExpr("minute", bucket)
	if err != nil {
		return nil, err
	}
	rows, err := t.query(ctx, "SELECT website_id, "+b+" AS bucket, action, category, CAST(SUM(count) AS BIGINT) FROM stats_minute "+
		"WHERE partner_id = $1 AND minute >= $2 AND minute < $3 GROUP BY website_id, 2, action, category ORDER BY website_id, 2, action, category", partnerID, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.StatRow
	for rows.Next() {
		r := core.StatRow{PartnerID: partnerID}
		if err := rows.Scan(&r.WebsiteID, timeCol{&r.Minute}, &r.Action, &r.Category, &r.Count); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (t *tx) WAFTotals(ctx context.Context, partnerID int64, from, to time.Time) ([]core.WebsiteTotal, error) {
	rows, err := t.query(ctx, "SELECT website_id, CAST(SUM(blocked) AS BIGINT), CAST(SUM(detected) AS BIGINT) FROM waf_stats "+
		"WHERE partner_id = $1 AND minute >= $2 AND minute < $3 GROUP BY website_id ORDER BY website_id", partnerID, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.WebsiteTotal
	for rows.Next() {
		var w core.WebsiteTotal
		if err := rows.Scan(&w.WebsiteID, &w.WAFBlocked, &w.WAFDetected); err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// RecentAudit is the partner's last limit audit entries, newest first,
// without sign-ins and sign-on links (the overview's recent changes).
func (t *tx) RecentAudit(ctx context.Context, partnerID int64, limit int) ([]core.AuditEntry, error) {
	w := where{}
	w.add("partner_id = ?", partnerID)
	w.add("object_type NOT IN ('session', 'login_token')")
	return t.audit(ctx, w, limit, "id DESC")
}

func (t *tx) WebsiteStatusCounts(ctx context.Context) (map[string]int64, error) {
	rows, err := t.query(ctx, "SELECT status, COUNT(*) FROM websites GROUP BY status")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[st] = n
	}
	return out, rows.Err()
}

func (t *tx) UpsertNode(ctx context.Context, n core.Node) error {
	_, err := t.exec(ctx, "INSERT INTO nodes (name, role, version, config_version, lag_ms, events_dropped, redis, redis_latency_us, started_at, seen_at) "+
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (name) DO UPDATE SET role = excluded.role, version = excluded.version, "+
		"config_version = excluded.config_version, lag_ms = excluded.lag_ms, events_dropped = excluded.events_dropped, redis = excluded.redis, "+
		"redis_latency_us = excluded.redis_latency_us, started_at = excluded.started_at, seen_at = excluded.seen_at",
		n.Name, n.Role, n.Version, n.ConfigVersion, n.Lag.Milliseconds(), n.EventsDropped, n.Redis, n.RedisLatency.Microseconds(), n.StartedAt, n.SeenAt)
	return err
}

func (t *tx) Nodes(ctx context.Context) ([]core.Node, error) {
	rows, err := t.query(ctx, "SELECT name, role, version, config_version, lag_ms, events_dropped, redis, redis_latency_us, started_at, seen_at FROM nodes ORDER BY name")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.Node
	for rows.Next() {
		var n core.Node
		var lag, redisUS int64
		if err := rows.Scan(&n.Name, &n.Role, &n.Version, &n.ConfigVersion, &lag, &n.EventsDropped, &n.Redis, &redisUS, timeCol{&n.StartedAt}, timeCol{&n.SeenAt}); err != nil {
			return nil, err
		}
		n.Lag, n.RedisLatency = time.Duration(lag)*time.Millisecond, time.Duration(redisUS)*time.Microsecond
		out = append(out, n)
	}
	return out, rows.Err()
}

func (t *tx) DeleteNodes(ctx context.Context, seenBefore time.Time) (int64, error) {
	res, err := t.exec(ctx, "DELETE FROM nodes WHERE seen_at < $1", seenBefore)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
