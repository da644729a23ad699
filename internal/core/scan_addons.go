package core

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Scanning sold as add-ons (issue 22). Each scanning feature of a website
// is an add-on product (accounts.go: smart, smart_patch, smart_database,
// backup) bought through the add-on billing: charged pro rata for the rest
// of the term when added, with every renewal after, nothing refunded when
// removed.
//
// When the operator sells scanning this way (Config.ScanAddonsRequired,
// the default of `palisade serve`), a feature is switched on in a
// website's scan settings only when the website has its add-on: switching
// it on without one is refused (EPRECONDITION, ErrAddonRequired, the
// setting's field named). Removing the add-on switches the feature off in
// the same transaction. A feature that was already on when the setting
// was changed stays as it is until it is switched off or its add-on
// removed: only switching on is checked, so an operator who starts to
// require add-ons does not break every website's next settings change.

// scanFeature is one scanning feature: its add-on product, the setting
// that switches it on, and its name for people.
type scanFeature struct {
	product string
	field   string
	name    string
	on      func(*ScanSettings) *bool
}

var scanFeatures = []scanFeature{
	{AddonSmart, "files.enabled", "malware scanning (SMART)", func(st *ScanSettings) *bool { return &st.Files.Enabled }},
	{AddonSmartPatch, "patch.enabled", "patch checks (SMART Patch)", func(st *ScanSettings) *bool { return &st.Patch.Enabled }},
	{AddonSmartDatabase, "database.enabled", "database scanning (SMART Database)", func(st *ScanSettings) *bool { return &st.Database.Enabled }},
	{AddonBackup, "backup.enabled", "backups", func(st *ScanSettings) *bool { return &st.Backup.Enabled }},
}

// checkScanAddons refuses, when the operator requires scanning add-ons, a
// change of w's scan settings from old to st that switches on a feature
// whose add-on w has not bought.
func (s *Service) checkScanAddons(ctx context.Context, tx Tx, w Website, old, st *ScanSettings) error {
	if !s.cfg.ScanAddonsRequired {
		return nil
	}
	var have []Addon
	loaded := false
	for _, f := range scanFeatures {
		if !*f.on(st) || *f.on(old) {
			continue
		}
		if !loaded {
			var err error
			if have, err = tx.Addons(ctx, w.PartnerID, w.ID); err != nil {
				return err
			}
			loaded = true
		}
		bought := false
		for _, a := range have {
			bought = bought || a.Product == f.product
		}
		if !bought {
			return &Error{Code: EPRECONDITION, Field: f.field, Cause: ErrAddonRequired,
				Message: fmt.Sprintf("%s: %s is sold as add-on %s, which website %s does not have: add the add-on first (it is charged for the rest of the term), then switch it on", f.field, f.name, f.product, w.Domain)}
		}
	}
	return nil
}

// switchOffFeature switches off, in tx, the feature of the scanning add-on
// a (being removed) in its website's scan settings, and audits the change.
// A deleted website (even one whose domain was registered again), or one
// without settings, has nothing to switch off.
func (s *Service) switchOffFeature(ctx context.Context, tx Tx, c Caller, a Addon, now time.Time) error {
	// The website's row locked first, as EditWebsiteScanSettings does: an
	// edit in flight commits first and its result is read here, or waits
	// and then finds the add-on gone.
	w, err := tx.Website(ctx, a.PartnerID, a.Domain, true)
	if ErrorCode(err) == ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	if w.ID != a.WebsiteID {
		// a's website was deleted and its domain registered again: the
		// new website's feature is its own add-on's, not a's.
		return nil
	}
	cur, err := s.loadScanSettings(ctx, tx, w)
	if err != nil {
		return err
	}
	for _, f := range scanFeatures {
		if f.product != a.Product || !*f.on(&cur.ScanSettings) {
			continue
		}
		before := cur.ScanSettings
		before.setFlags(cur.Sealed)
		*f.on(&cur.ScanSettings) = false
		b, err := json.Marshal(cur)
		if err != nil {
			return err
		}
		if err := tx.SetScanSettings(ctx, w.PartnerID, w.ID, string(b), now); err != nil {
			return err
		}
		after := cur.ScanSettings
		after.setFlags(cur.Sealed)
		return s.audit(ctx, tx, c, now, "website", w.Domain, "set_scan_settings", before, after)
	}
	return nil
}
