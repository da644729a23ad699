package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/core"
)

// InsertEvents writes a batch of events with multi-row INSERTs.
func (t *tx) InsertEvents(ctx context.Context, es []core.Event) error {
	const cols = 22
	const chunk = 200 // keeps the placeholder count far below both engines' limits
	sqlite := t.d.name() == "sqlite"
	for len(es) > 0 {
		n := min(len(es), chunk)
		var b strings.Builder
		b.WriteString("INSERT INTO events (partner_id, website_id, at, ip, method, host, path, query, user_agent, referrer, action, category, source, reason, detail, monitored, country, ref, waf_class, waf, count, last_at) VALUES ")
		args := make([]any, 0, n*cols)
		for i, e := range es[:n] {
			wafClass, wafJSON, err := encodeEventWAF(e.WAF)
			if err != nil {
				return err
			}
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(")
			for j := 0; j < cols; j++ {
				if j > 0 {
					b.WriteString(", ")
				}
				if sqlite {
					// Plain ? is positional; SQLite parses $N as a name,
					// in time quadratic in their number.
					b.WriteString("?")
				} else {
					b.WriteString("$" + itoa(i*cols+j+1))
				}
			}
			b.WriteString(")")
			last := e.LastAt
			if last.Before(e.At) {
				last = e.At
			}
			args = append(args, e.PartnerID, e.WebsiteID, e.At, e.IP, e.Method, e.Host, e.Path, e.Query, e.UserAgent, e.Referrer,
				e.Action, e.Category, e.Source, e.Reason, e.Detail, e.Monitored, e.Country, e.Ref, wafClass, wafJSON, e.Requests(), last)
		}
		if _, err := t.exec(ctx, b.String(), args...); err != nil {
			return err
		}
		es = es[n:]
	}
	return nil
}

// AddEventCounts adds repeats to stored events, each found by website,
// reference ID (events_website_ref) and time (on PostgreSQL, the
// partition). An event not there (purged, or never stored) is skipped.
func (t *tx) AddEventCounts(ctx context.Context, cs []core.EventCount) error {
	for _, c := range cs {
		if c.Ref == "" || c.Add <= 0 {
			continue
		}
		if _, err := t.exec(ctx, "UPDATE events SET count = count + $1, last_at = CASE WHEN last_at IS NULL OR last_at < $2 THEN $2 ELSE last_at END "+
			"WHERE website_id = $3 AND ref = $4 AND at = $5 AND partner_id = $6", c.Add, c.LastAt, c.WebsiteID, c.Ref, c.At, c.PartnerID); err != nil {
			return err
		}
	}
	return nil
}

// AddStats adds counts to the minute counters.
func (t *tx) AddStats(ctx context.Context, rows []core.StatRow) error {
	for _, r := range rows {
		if _, err := t.exec(ctx, "INSERT INTO stats_minute (website_id, partner_id, minute, action, category, count) VALUES ($1, $2, $3, $4, $5, $6) "+
			"ON CONFLICT (website_id, minute, action, category) DO UPDATE SET count = stats_minute.count + excluded.count",
			r.WebsiteID, r.PartnerID, r.Minute, r.Action, r.Category, r.Count); err != nil {
			return err
		}
	}
	return nil
}

// encodeEventWAF is an event's firewall finding as stored: its class and
// the whole of it as JSON ("", "" when there is none).
func encodeEventWAF(w *core.EventWAF) (class, js string, err error) {
	if w == nil {
		return "", "", nil
	}
	b, err := json.Marshal(w)
	if err != nil {
		return "", "", err
	}
	return w.Class, string(b), nil
}

// AddWAFStats adds counts to the firewall's minute counters by class.
func (t *tx) AddWAFStats(ctx context.Context, rows []core.StatRow) error {
	for _, r := range rows {
		var blocked, detected int64
		switch r.Action {
		case core.WAFBlocked:
			blocked = r.Count
		case core.WAFDetected:
			detected = r.Count
		default:
			return fmt.Errorf("firewall counter of website %d: action %q is neither %s nor %s", r.WebsiteID, r.Action, core.WAFBlocked, core.WAFDetected)
		}
		if _, err := t.exec(ctx, "INSERT INTO waf_stats (website_id, partner_id, minute, class, blocked, detected) VALUES ($1, $2, $3, $4, $5, $6) "+
			"ON CONFLICT (website_id, minute, class) DO UPDATE SET blocked = waf_stats.blocked + excluded.blocked, detected = waf_stats.detected + excluded.detected",
			r.WebsiteID, r.PartnerID, r.Minute, r.WAFClass, blocked, detected); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) WAFStats(ctx context.Context, partnerID, websiteID int64, from, to time.Time) ([]core.WAFClassCount, error) {
	rows, err := t.query(ctx, "SELECT class, CAST(SUM(blocked) AS BIGINT), CAST(SUM(detected) AS BIGINT) FROM waf_stats WHERE partner_id = $1 AND website_id = $2 AND minute >= $3 AND minute < $4 GROUP BY class ORDER BY class",
		partnerID, websiteID, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.WAFClassCount
	for rows.Next() {
		var c core.WAFClassCount
		if err := rows.Scan(&c.Class, &c.Blocked, &c.Detected); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (t *tx) Events(ctx context.Context, partnerID, websiteID int64, f core.EventFilter) ([]core.Event, error) {
	w := where{}
	w.add("partner_id = ?", partnerID)
	w.add("website_id = ?", websiteID)
	if !f.From.IsZero() {
		w.add("at >= ?", f.From)
	}
	if !f.To.IsZero() {
		w.add("at < ?", f.To)
	}
	if f.Action != "" {
		w.add("action = ?", f.Action)
	}
	if f.IP != "" {
		w.add("ip = ?", f.IP)
	}
	if f.Reason != "" {
		w.add("reason = ?", f.Reason)
	}
	if f.Path != "" {
		w.add("substr(path, 1, CAST(? AS INTEGER)) = ?", len(f.Path), f.Path)
	}
	if f.Ref != "" {
		w.add("ref = ?", f.Ref)
	}
	switch f.WAFClass {
	case "":
	case core.WAFAnyClass:
		w.add("waf_class <> ''")
	default:
		w.add("waf_class = ?", f.WAFClass)
	}
	if f.ID > 0 {
		w.add("id = ?", f.ID)
	}
	if f.Before > 0 {
		w.add("id < ?", f.Before)
	}
	q, args := w.sql("SELECT id, partner_id, website_id, at, ip, method, host, path, query, user_agent, referrer, action, category, source, reason, detail, monitored, country, ref, waf, count, last_at FROM events", "id DESC", f.Limit)
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.Event
	for rows.Next() {
		var e core.Event
		var wafJSON string
		var last *time.Time
		if err := rows.Scan(&e.ID, &e.PartnerID, &e.WebsiteID, timeCol{&e.At}, &e.IP, &e.Method, &e.Host, &e.Path, &e.Query, &e.UserAgent, &e.Referrer,
			&e.Action, &e.Category, &e.Source, &e.Reason, &e.Detail, &e.Monitored, &e.Country, &e.Ref, &wafJSON, &e.Count, nullTimeCol{&last}); err != nil {
			return nil, err
		}
		e.LastAt = lastAt(e.At, last)
		if e.Monitored {
			// A monitored decision showed no page: its reference ID is
			// only the recorder's handle on it for adding repeats.
			e.Ref = ""
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

func (t *tx) Stats(ctx context.Context, partnerID, websiteID int64, from, to time.Time) ([]core.StatRow, error) {
	rows, err := t.query(ctx, "SELECT website_id, partner_id, minute, action, category, count FROM stats_minute WHERE partner_id = $1 AND website_id = $2 AND minute >= $3 AND minute < $4 ORDER BY minute",
		partnerID, websiteID, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.StatRow
	for rows.Next() {
		var r core.StatRow
		if err := rows.Scan(&r.WebsiteID, &r.PartnerID, timeCol{&r.Minute}, &r.Action, &r.Category, &r.Count); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (t *tx) PurgeEvents(ctx context.Context, before, statsBefore time.Time) (int64, int64, error) {
	// On PostgreSQL, DropEventPartitions has removed whole days first; only
	// the day straddling the cut-off (and strays in the default partition)
	// are deleted by row.
	res, err := t.exec(ctx, "DELETE FROM events WHERE at < $1", before)
	if err != nil {
		return 0, 0, err
	}
	ne, _ := res.RowsAffected()
	if _, err := t.exec(ctx, "DELETE FROM event_batches WHERE at < $1", before.Add(-24*time.Hour)); err != nil {
		return ne, 0, err
	}
	res, err = t.exec(ctx, "DELETE FROM stats_minute WHERE minute < $1", statsBefore)
	if err != nil {
		return ne, 0, err
	}
	ns, _ := res.RowsAffected()
	res, err = t.exec(ctx, "DELETE FROM waf_stats WHERE minute < $1", statsBefore)
	if err != nil {
		return ne, ns, err
	}
	nw, _ := res.RowsAffected()
	return ne, ns + nw, nil
}

// DropEventPartitions drops the daily event partitions (PostgreSQL) that
// end before cutoff and returns how many rows they held (estimated from the
// planner's statistics: counting would read what is being dropped).
func (t *tx) DropEventPartitions(ctx context.Context, cutoff time.Time) (int64, error) {
	if t.d.name() != "postgres" {
		return 0, nil
	}
	rows, err := t.query(ctx, "SELECT c.relname, GREATEST(c.reltuples, 0)::BIGINT FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass")
	if err != nil {
		return 0, err
	}
	type part struct {
		name string
		rows int64
	}
	var drop []part
	for rows.Next() {
		var p part
		if err := rows.Scan(&p.name, &p.rows); err != nil {
			rows.Close()
			return 0, err
		}
		day, err := time.Parse("events_20060102", p.name)
		if err == nil && !day.AddDate(0, 0, 1).After(cutoff) {
			drop = append(drop, p)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	var n int64
	for _, p := range drop {
		if _, err := t.exec(ctx, `DROP TABLE "`+p.name+`"`); err != nil {
			return n, err
		}
		n += p.rows
	}
	return n, nil
}

// PrepareEvents makes sure events around now have somewhere to go: on
// PostgreSQL, the daily partitions from yesterday to two days ahead (rows
// that reached the default partition meanwhile move into theirs).
func (t *tx) PrepareEvents(ctx context.Context, now time.Time) error {
	if t.d.name() != "postgres" {
		return nil
	}
	day := now.UTC().Truncate(24 * time.Hour)
	for i := -1; i <= 2; i++ {
		if _, err := t.exec(ctx, "SELECT palisade_events_partition($1::date)", day.AddDate(0, 0, i).Format("2006-01-02")); err != nil {
			return err
		}
	}
	return nil
}

// InsertEventBatch records a batch's id; false when it was recorded
// before (the batch is already stored).
func (t *tx) InsertEventBatch(ctx context.Context, id string, at time.Time) (bool, error) {
	res, err := t.exec(ctx, "INSERT INTO event_batches (id, at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", id, at)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// topColumns are the event columns TopEvents may group by.
var topColumns = map[string]string{"ip": "ip", "path": "path", "user_agent": "user_agent", "country": "country"}

func (t *tx) TopEvents(ctx context.Context, partnerID, websiteID int64, field string, from, to time.Time, limit int) ([]core.TopRow, error) {
	col, ok := topColumns[field]
	if !ok {
		return nil, core.FieldError("field", "cannot rank events by %q", field)
	}
	// Requests, not events: an event counts its identical repeats.
	rows, err := t.query(ctx, "SELECT "+col+", CAST(SUM(count) AS BIGINT) FROM events WHERE partner_id = $1 AND website_id = $2 AND at >= $3 AND at < $4 "+
		"AND action <> 'grant' AND action NOT LIKE 'challenge_%' AND "+col+" <> '' GROUP BY "+col+" ORDER BY 2 DESC, 1 LIMIT $5", partnerID, websiteID, from, to, limit)
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

func (t *tx) SubaccountByKeyHash(ctx context.Context, hash string) (core.Subaccount, error) {
	a, err := scanSub(t.queryRow(ctx, "SELECT "+subCols+" FROM subaccounts WHERE api_key_hash = $1 AND deleted_at IS NULL", hash))
	return a, notFound(err, "subaccount")
}

func (t *tx) WebsitePartner(ctx context.Context, domain string) (int64, error) {
	var id int64
	err := t.queryRow(ctx, "SELECT partner_id FROM websites WHERE domain = $1 AND status <> 'deleted'", domain).Scan(&id)
	return id, notFound(err, "website")
}

// lastAt is an event's last request time as read: last_at, or its own
// time when it has none (events before migration 22, or one request).
func lastAt(at time.Time, last *time.Time) time.Time {
	if last == nil || last.Before(at) {
		return at
	}
	return *last
}
