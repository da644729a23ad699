package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/palisadehq/palisade/internal/core"
)

// ---- "allow this" previews (core.AllowThisTx) ----

// LatestRefused reads a website's latest refused events (neither granted
// nor a challenge's outcome) in [from, to), newest first, at most limit,
// among at most maxRows events of the window: first the time of the
// maxRows-th newest event of the window (an index-only read of
// events_website_at), which becomes the window's start when there is one;
// then one range scan of that index, newest first, stopping at limit. The
// whole month of a website under attack is never read. capped says the
// window may hold more refused events than were read.
func (t *tx) LatestRefused(ctx context.Context, partnerID, websiteID int64, from, to time.Time, limit, maxRows int) ([]core.Event, bool, error) {
	capped := false
	if maxRows > 0 {
		var at time.Time
		err := t.queryRow(ctx, "SELECT at FROM events WHERE website_id = $1 AND at >= $2 AND at < $3 ORDER BY at DESC, id DESC LIMIT 1 OFFSET $4",
			websiteID, from, to, maxRows-1).Scan(timeCol{&at})
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return nil, false, err
		default:
			from, capped = at, true
		}
	}
	w := &where{}
	w.add("partner_id = ?", partnerID)
	w.add("website_id = ?", websiteID)
	w.add("at >= ?", from)
	w.add("at < ?", to)
	w.add("action <> 'grant' AND action NOT LIKE 'challenge_%'")
	q, args := w.sql("SELECT id, at, ip, path, user_agent, action, category, source, reason, count FROM events", "at DESC, id DESC", limit)
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	var out []core.Event
	for rows.Next() {
		e := core.Event{PartnerID: partnerID, WebsiteID: websiteID}
		if err := rows.Scan(&e.ID, timeCol{&e.At}, &e.IP, &e.Path, &e.UserAgent, &e.Action, &e.Category, &e.Source, &e.Reason, &e.Count); err != nil {
			return nil, false, err
		}
		out = append(out, e)
	}
	return out, capped || (limit > 0 && len(out) >= limit), rows.Err()
}
