package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/waf"
)

// ---- virtual patches (core.WAFPatchTx) ----

const wafPatchCols = "id, partner_id, name, reason, seclang, rule, expires_at, created_by, created_at"

func (t *tx) wafPatches(ctx context.Context, q string, args ...any) ([]core.WAFPatch, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.WAFPatch
	for rows.Next() {
		var p core.WAFPatch
		var partner sql.NullInt64
		var rule string
		if err := rows.Scan(&p.ID, &partner, &p.Name, &p.Reason, &p.SecLang, &rule, nullTimeCol{&p.ExpiresAt}, &p.CreatedBy, timeCol{&p.CreatedAt}); err != nil {
			return nil, err
		}
		p.PartnerID = partner.Int64
		p.Scope = core.PatchScopePartner
		if p.PartnerID == 0 {
			p.Scope = core.PatchScopeAll
		}
		if rule != "" {
			p.Rule = new(waf.PatchRule)
			if err := json.Unmarshal([]byte(rule), p.Rule); err != nil {
				return nil, fmt.Errorf("virtual patch %d: stored rule: %w", p.ID, err)
			}
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func (t *tx) InsertWAFPatch(ctx context.Context, p *core.WAFPatch) error {
	rule := ""
	if p.Rule != nil {
		b, err := json.Marshal(p.Rule)
		if err != nil {
			return err
		}
		rule = string(b)
	}
	id, err := t.insert(ctx, "INSERT INTO waf_patches (partner_id, name, reason, seclang, rule, expires_at, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
		nullID(p.PartnerID), p.Name, p.Reason, p.SecLang, rule, p.ExpiresAt, p.CreatedBy, p.CreatedAt)
	p.ID = id
	return err
}

func (t *tx) WAFPatches(ctx context.Context, partnerID int64) ([]core.WAFPatch, error) {
	if partnerID == 0 {
		return t.wafPatches(ctx, "SELECT "+wafPatchCols+" FROM waf_patches WHERE partner_id IS NULL ORDER BY id")
	}
	return t.wafPatches(ctx, "SELECT "+wafPatchCols+" FROM waf_patches WHERE partner_id = $1 ORDER BY id", partnerID)
}

func (t *tx) AllWAFPatches(ctx context.Context) ([]core.WAFPatch, error) {
	return t.wafPatches(ctx, "SELECT "+wafPatchCols+" FROM waf_patches ORDER BY id")
}

func (t *tx) DeleteWAFPatch(ctx context.Context, partnerID, id int64) error {
	if partnerID == 0 {
		return t.execOne(ctx, "virtual patch", "DELETE FROM waf_patches WHERE id = $1 AND partner_id IS NULL", id)
	}
	return t.execOne(ctx, "virtual patch", "DELETE FROM waf_patches WHERE id = $1 AND partner_id = $2", id, partnerID)
}

func (t *tx) PartnerWAFNewSiteMode(ctx context.Context, partnerID int64) (string, error) {
	var mode string
	err := t.queryRow(ctx, "SELECT waf_new_site_mode FROM partners WHERE id = $1", partnerID).Scan(&mode)
	return mode, notFound(err, "partner")
}

func (t *tx) SetPartnerWAFNewSiteMode(ctx context.Context, partnerID int64, mode string) error {
	return t.execOne(ctx, "partner", "UPDATE partners SET waf_new_site_mode = $1 WHERE id = $2", mode, partnerID)
}
