package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/waf"
)

// Virtual patches: rules the operator pushes to every website and a
// partner to all of its websites at once (waf.Patch), each with a name, a
// reason and an expiry. They are stored in waf_patches, whose triggers move
// config_version, so every node loads them within a second.

// Limits on virtual patches.
const (
	MaxPartnerPatches  = 100 // live patches per partner
	MaxOperatorPatches = 500 // live patches of the operator
	MaxPatchLifetime   = 366 * 24 * time.Hour
	// MaxPatchesRegexCost bounds the regular-expression cost
	// (waf.PatchRegexCost) of one owner's live patches together, which
	// all run on every request to its websites: about 0.5 s of CPU for a
	// 16 KiB parameter at most (one patch at the per-patch bound: ~45 ms).
	MaxPatchesRegexCost = 1500
)

// Scopes of a virtual patch (WAFPatch.Scope).
const (
	PatchScopeAll     = "all"     // the operator's: every website
	PatchScopePartner = "partner" // a partner's: its websites
)

// WAF modes a partner's new websites may get (SetWAFNewSiteMode).
const (
	WAFModeBlock  = "block"
	WAFModeDetect = "detect"
)

// WAFPatch is a virtual patch as stored and listed.
type WAFPatch struct {
	ID int64 `json:"id"`
	// PartnerID is the partner whose websites the patch applies to; 0: the
	// operator's, applying to every website.
	PartnerID int64  `json:"partner_id,omitempty"`
	Scope     string `json:"scope"` // PatchScopeAll or PatchScopePartner
	Name      string `json:"name"`
	Reason    string `json:"reason"`
	// Exactly one of SecLang and Rule is set.
	SecLang   string         `json:"seclang,omitempty"`
	Rule      *waf.PatchRule `json:"rule,omitempty"`
	ExpiresAt *time.Time     `json:"expires_at"` // nil: never
	CreatedBy string         `json:"created_by"`
	CreatedAt time.Time      `json:"created_at"`
	// ReadOnly: the caller may not delete it (a partner listing the
	// operator's patches that apply to its websites).
	ReadOnly bool `json:"read_only,omitempty"`
}

// Expired reports whether the patch no longer applies at now.
func (p WAFPatch) Expired(now time.Time) bool {
	return p.ExpiresAt != nil && !now.Before(*p.ExpiresAt)
}

// Patch is the patch as the firewall takes it.
func (p WAFPatch) Patch() waf.Patch {
	wp := waf.Patch{ID: p.ID, Name: p.Name, Reason: p.Reason, SecLang: p.SecLang, Rule: p.Rule}
	if p.ExpiresAt != nil {
		wp.Expires = *p.ExpiresAt
	}
	return wp
}

// WAFPatchTx is the store's part of virtual patches (embedded in Tx).
// partnerID 0 means the operator's patches.
type WAFPatchTx interface {
	InsertWAFPatch(ctx context.Context, p *WAFPatch) error
	// WAFPatches lists one owner's patches (partnerID; 0: the operator's),
	// oldest first, expired ones included.
	WAFPatches(ctx context.Context, partnerID int64) ([]WAFPatch, error)
	// AllWAFPatches lists every patch of every owner (a system read).
	AllWAFPatches(ctx context.Context) ([]WAFPatch, error)
	// DeleteWAFPatch deletes one owner's patch; another owner's is
	// ENOTFOUND.
	DeleteWAFPatch(ctx context.Context, partnerID, id int64) error
	PartnerWAFNewSiteMode(ctx context.Context, partnerID int64) (string, error)
	SetPartnerWAFNewSiteMode(ctx context.Context, partnerID int64, mode string) error
}

// patchAudit is what the audit log keeps of a patch: who pushed (the
// entry's actor) what: name, reason, expiry and the rule text's SHA-256
// and first line.
type patchAudit struct {
	Name      string     `json:"name"`
	Reason    string     `json:"reason,omitempty"`
	Scope     string     `json:"scope"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	SHA256    string     `json:"sha256"`
	FirstLine string     `json:"first_line"`
}

func auditOfPatch(p WAFPatch) patchAudit {
	text := p.SecLang
	if p.Rule != nil {
		b, _ := json.Marshal(p.Rule)
		text = string(b)
	}
	sum := sha256.Sum256([]byte(text))
	first := ""
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			first = l
			break
		}
	}
	if len(first) > 200 {
		first = first[:200]
	}
	return patchAudit{Name: p.Name, Reason: p.Reason, Scope: p.Scope, ExpiresAt: p.ExpiresAt, SHA256: hex.EncodeToString(sum[:]), FirstLine: first}
}

// CreateWAFPatch stores a virtual patch: the operator's applies to every
// website, a partner's to its own (the partner is the caller's, whatever
// in says). It is validated (waf.ValidatePatch: a SecLang error names the
// directive, line and Coraza's words), must expire in the future and within
// a year, and counts against the owner's live patches.
func (s *Service) CreateWAFPatch(ctx context.Context, c Caller, in WAFPatch) (WAFPatch, error) {
	switch {
	case c.Role == RoleOperator:
		in.PartnerID, in.Scope = 0, PatchScopeAll
	case c.Role == RolePartner && c.PartnerID != 0:
		in.PartnerID, in.Scope = c.PartnerID, PatchScopePartner
	default:
		return WAFPatch{}, Errorf(EFORBIDDEN, "only the operator and hosting providers can push virtual patches")
	}
	now := s.clock()
	in.Name = strings.TrimSpace(in.Name)
	in.Reason = strings.TrimSpace(in.Reason)
	if strings.TrimSpace(in.SecLang) == "" {
		in.SecLang = ""
	}
	if err := waf.ValidatePatch(in.Patch()); err != nil {
		return WAFPatch{}, patchFieldError(in, err)
	}
	cost, err := waf.PatchRegexCost(in.Patch())
	if err != nil {
		return WAFPatch{}, patchFieldError(in, err)
	}
	if in.ExpiresAt != nil {
		e := in.ExpiresAt.UTC().Truncate(time.Microsecond)
		switch {
		case !e.After(now):
			return WAFPatch{}, FieldError("expires_at", "expires_at must be in the future (it is %s now)", now.Format(time.RFC3339))
		case e.Sub(now) > MaxPatchLifetime:
			return WAFPatch{}, FieldError("expires_at", "expires_at must be within a year; push the patch again to extend it")
		}
		in.ExpiresAt = &e
	}
	in.ID, in.CreatedBy, in.CreatedAt, in.ReadOnly = 0, c.Actor, now, false
	err = s.store.Update(ctx, func(tx Tx) error {
		max := MaxOperatorPatches
		if in.PartnerID != 0 {
			max = MaxPartnerPatches
			// Serialises a partner's concurrent creates for the count.
			if _, err := tx.Partner(ctx, in.PartnerID, true); err != nil {
				return err
			}
		}
		ps, err := tx.WAFPatches(ctx, in.PartnerID)
		if err != nil {
			return err
		}
		live, total := 0, cost
		for _, p := range ps {
			if !p.Expired(now) {
				live++
				if c, err := waf.PatchRegexCost(p.Patch()); err == nil {
					total += c
				}
			}
		}
		if live >= max {
			return Errorf(ECONFLICT, "at most %d live virtual patches; delete one first", max)
		}
		if total > MaxPatchesRegexCost {
			return Errorf(ECONFLICT, "the live virtual patches' regular expressions would cost %d together, at most %d (they all run on every request): simplify this one or delete another", total, MaxPatchesRegexCost)
		}
		if err := tx.InsertWAFPatch(ctx, &in); err != nil {
			return err
		}
		return s.audit(ctx, tx, c, now, "waf_patch", strconv.FormatInt(in.ID, 10), "create", nil, auditOfPatch(in))
	})
	if err != nil {
		return WAFPatch{}, err
	}
	s.notify()
	return in, nil
}

// patchFieldError turns waf.ValidatePatch's words into an EINVALID error
// on the field they are about.
func patchFieldError(p WAFPatch, err error) error {
	msg := err.Error()
	field := "seclang"
	switch {
	case strings.HasPrefix(msg, "name"):
		field = "name"
	case strings.HasPrefix(msg, "reason"):
		field = "reason"
	case strings.HasPrefix(msg, "rule") || (p.Rule != nil && !strings.HasPrefix(msg, "give either")):
		field = "rule"
	}
	return &Error{Code: EINVALID, Field: field, Message: msg}
}

// WAFPatches lists the virtual patches the caller sees: the operator every
// one; a partner its own and, marked read-only, the operator's (which
// apply to its websites too). Oldest first, expired ones included.
func (s *Service) WAFPatches(ctx context.Context, c Caller) ([]WAFPatch, error) {
	var out []WAFPatch
	err := s.store.View(ctx, func(tx Tx) error {
		switch {
		case c.Role == RoleOperator:
			ps, err := tx.AllWAFPatches(ctx)
			out = ps
			return err
		case c.Role == RolePartner && c.PartnerID != 0:
			ops, err := tx.WAFPatches(ctx, 0)
			if err != nil {
				return err
			}
			own, err := tx.WAFPatches(ctx, c.PartnerID)
			if err != nil {
				return err
			}
			for i := range ops {
				ops[i].ReadOnly = true
			}
			out = append(ops, own...)
			return nil
		}
		return Errorf(EFORBIDDEN, "only the operator and hosting providers can see virtual patches")
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []WAFPatch{}
	}
	return out, nil
}

// DeleteWAFPatch deletes a virtual patch: a partner its own (another's,
// and the operator's, are not found to it), the operator any.
func (s *Service) DeleteWAFPatch(ctx context.Context, c Caller, id int64) error {
	if c.Role != RoleOperator && (c.Role != RolePartner || c.PartnerID == 0) {
		return Errorf(EFORBIDDEN, "only the operator and hosting providers can delete virtual patches")
	}
	notFound := Errorf(ENOTFOUND, "virtual patch %d does not exist", id)
	now := s.clock()
	err := s.store.Update(ctx, func(tx Tx) error {
		var ps []WAFPatch
		var err error
		if c.Role == RoleOperator {
			ps, err = tx.AllWAFPatches(ctx)
		} else {
			ps, err = tx.WAFPatches(ctx, c.PartnerID)
		}
		if err != nil {
			return err
		}
		for _, p := range ps {
			if p.ID != id {
				continue
			}
			if err := tx.DeleteWAFPatch(ctx, p.PartnerID, id); err != nil {
				return err
			}
			ac := c
			ac.PartnerID = p.PartnerID
			return s.audit(ctx, tx, ac, now, "waf_patch", strconv.FormatInt(id, 10), "delete", auditOfPatch(p), nil)
		}
		return notFound
	})
	if err != nil {
		return err
	}
	s.notify()
	return nil
}

// WAFNewSiteMode is the website-firewall mode the partner's new websites
// get: WAFModeBlock (the default) or WAFModeDetect.
func (s *Service) WAFNewSiteMode(ctx context.Context, c Caller) (string, error) {
	if err := c.partnerOnly("see its firewall defaults"); err != nil {
		return "", err
	}
	var mode string
	err := s.store.View(ctx, func(tx Tx) (err error) {
		mode, err = tx.PartnerWAFNewSiteMode(ctx, c.PartnerID)
		return err
	})
	return mode, err
}

// SetWAFNewSiteMode sets the website-firewall mode the partner's websites
// created from now on get; existing websites keep theirs.
func (s *Service) SetWAFNewSiteMode(ctx context.Context, c Caller, mode string) error {
	if err := c.partnerOnly("change its firewall defaults"); err != nil {
		return err
	}
	if mode != WAFModeBlock && mode != WAFModeDetect {
		return FieldError("new_site_mode", `new_site_mode must be "block" or "detect", not %q`, mode)
	}
	return s.store.Update(ctx, func(tx Tx) error {
		old, err := tx.PartnerWAFNewSiteMode(ctx, c.PartnerID)
		if err != nil {
			return err
		}
		if old == mode {
			return nil
		}
		if err := tx.SetPartnerWAFNewSiteMode(ctx, c.PartnerID, mode); err != nil {
			return err
		}
		return s.audit(ctx, tx, c, s.clock(), "partner", strconv.FormatInt(c.PartnerID, 10), "waf_new_site_mode",
			map[string]string{"new_site_mode": old}, map[string]string{"new_site_mode": mode})
	})
}

// applyNewSiteWAFMode gives a website just created the partner's mode for
// new websites when that is not the default (inside createWebsiteTx).
func applyNewSiteWAFMode(ctx context.Context, tx Tx, w *Website) error {
	mode, err := tx.PartnerWAFNewSiteMode(ctx, w.PartnerID)
	if err != nil || mode != WAFModeDetect {
		return err
	}
	w.Settings = `{"waf":{"mode":"detect"}}`
	return tx.UpdateWebsite(ctx, w)
}

// enginePatches loads the live virtual patches for the engine: each
// partner's under its ID, the operator's under engine.Everyone.
func (s *Service) enginePatches(ctx context.Context) (map[int64][]waf.Patch, error) {
	var ps []WAFPatch
	err := s.store.View(ctx, func(tx Tx) (err error) {
		ps, err = tx.AllWAFPatches(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	now := s.clock()
	out := map[int64][]waf.Patch{}
	for _, p := range ps {
		if p.Expired(now) {
			continue
		}
		owner := p.PartnerID
		if owner == 0 {
			owner = engine.Everyone
		}
		out[owner] = append(out[owner], p.Patch())
	}
	return out, nil
}
