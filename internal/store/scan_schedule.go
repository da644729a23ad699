package store

import (
	"context"
	"time"

	"github.com/palisadehq/palisade/internal/core"
)

// scheduledKinds are the kinds a schedule queues, in the order of the
// columns ScanScheduleCandidates reads.
var scheduledKinds = []core.ScanKind{core.ScanFiles, core.ScanDatabase, core.ScanPatch, core.ScanBackup}

// ScanScheduleCandidates: websites set up or online with scan settings,
// with the creation time of the newest job of each scheduled kind (the
// newest by id, through scan_jobs_website).
func (t *tx) ScanScheduleCandidates(ctx context.Context) ([]core.ScheduleCandidate, error) {
	q := "SELECT s.partner_id, s.website_id, s.settings"
	for _, k := range scheduledKinds {
		q += ", (SELECT j.created_at FROM scan_jobs j WHERE j.partner_id = s.partner_id AND j.website_id = s.website_id AND j.kind = '" + string(k) +
			"' ORDER BY j.id DESC LIMIT 1)"
	}
	q += " FROM scan_settings s JOIN websites w ON w.id = s.website_id AND w.partner_id = s.partner_id " +
		"WHERE w.status IN ('setup', 'online') ORDER BY s.website_id"
	rows, err := t.query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.ScheduleCandidate
	for rows.Next() {
		c := core.ScheduleCandidate{Last: map[core.ScanKind]time.Time{}}
		last := make([]*time.Time, len(scheduledKinds))
		dst := []any{&c.PartnerID, &c.WebsiteID, &c.Settings}
		for i := range last {
			dst = append(dst, nullTimeCol{&last[i]})
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, err
		}
		for i, k := range scheduledKinds {
			if last[i] != nil {
				c.Last[k] = *last[i]
			}
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
