package store

import (
	"context"
	"time"

	"github.com/palisadehq/palisade/internal/core"
)

// ---- scan agents (core.ScanAgentTx) ----

const scanAgentCols = "id, partner_id, name, key_hash, key_prefix, created_at, revoked_at, seen_at"

func scanAgentRow(sc interface{ Scan(...any) error }) (core.ScanAgent, error) {
	var a core.ScanAgent
	err := sc.Scan(&a.ID, &a.PartnerID, &a.Name, &a.KeyHash, &a.KeyPrefix, timeCol{&a.CreatedAt}, nullTimeCol{&a.RevokedAt}, nullTimeCol{&a.SeenAt})
	return a, err
}

func (t *tx) InsertScanAgent(ctx context.Context, a *core.ScanAgent) error {
	id, err := t.insert(ctx, "INSERT INTO scan_agents (partner_id, name, key_hash, key_prefix, created_at) VALUES ($1, $2, $3, $4, $5)",
		a.PartnerID, a.Name, a.KeyHash, a.KeyPrefix, a.CreatedAt)
	if _, ok := t.d.uniqueViolation(err); ok {
		return core.Errorf(core.ECONFLICT, "a scan agent named %q exists", a.Name)
	}
	a.ID = id
	return err
}

func (t *tx) ScanAgents(ctx context.Context, partnerID int64) ([]core.ScanAgent, error) {
	rows, err := t.query(ctx, "SELECT "+scanAgentCols+" FROM scan_agents WHERE partner_id = $1 ORDER BY id LIMIT "+itoa(core.MaxScanAgentRows), partnerID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.ScanAgent
	for rows.Next() {
		a, err := scanAgentRow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func (t *tx) CountScanAgents(ctx context.Context, partnerID int64) (active, all int, err error) {
	err = t.queryRow(ctx, "SELECT COUNT(*), COALESCE(SUM(CASE WHEN revoked_at IS NULL THEN 1 ELSE 0 END), 0) FROM scan_agents WHERE partner_id = $1",
		partnerID).Scan(&all, &active)
	return active, all, err
}

func (t *tx) ScanAgentByKeyHash(ctx context.Context, hash string) (core.ScanAgent, error) {
	a, err := scanAgentRow(t.queryRow(ctx, "SELECT "+scanAgentCols+" FROM scan_agents WHERE key_hash = $1", hash))
	return a, notFound(err, "scan agent")
}

func (t *tx) RevokeScanAgent(ctx context.Context, partnerID, id int64, at time.Time) error {
	res, err := t.exec(ctx, "UPDATE scan_agents SET revoked_at = $1 WHERE partner_id = $2 AND id = $3 AND revoked_at IS NULL", at, partnerID, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return core.Errorf(core.ENOTFOUND, "scan agent %d not found", id)
	}
	return nil
}

func (t *tx) SetScanAgentSeen(ctx context.Context, id int64, at time.Time) error {
	_, err := t.exec(ctx, "UPDATE scan_agents SET seen_at = $1 WHERE id = $2", at, id)
	return err
}
