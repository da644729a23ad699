package core

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Account-level operations of the provisioning protocols: a customer
// (subaccount) with its websites, and websites' add-on products.

// WebsiteByID returns one of the caller's websites that is not deleted.
func (s *Service) WebsiteByID(ctx context.Context, c Caller, id int64) (Website, error) {
	if err := c.tenant(); err != nil {
		return Website{}, err
	}
	var w Website
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		w, err = tx.WebsiteByID(ctx, c.PartnerID, id)
		return err
	})
	if ErrorCode(err) == ENOTFOUND || err == nil && (w.Status == StatusDeleted || CanSeeWebsite(c, w) != nil) {
		return Website{}, Errorf(ENOTFOUND, "site_id %d not found", id)
	}
	if err != nil {
		return Website{}, err
	}
	return w, s.openServerKey(&w)
}

// UpdateSubaccountEmail changes a customer's email (unique per partner).
func (s *Service) UpdateSubaccountEmail(ctx context.Context, c Caller, id int64, email string) (Subaccount, error) {
	if err := c.partnerOnly("change customers' emails"); err != nil {
		return Subaccount{}, err
	}
	e, err := normalizeEmail(email)
	if err != nil {
		return Subaccount{}, err
	}
	var a Subaccount
	err = s.store.Update(ctx, func(tx Tx) error {
		var err error
		a, err = tx.Subaccount(ctx, c.PartnerID, id)
		if ErrorCode(err) == ENOTFOUND {
			return Errorf(ENOTFOUND, "account_id %d not found", id)
		}
		if err != nil {
			return err
		}
		if a.Email == e {
			return nil
		}
		others, err := tx.Subaccounts(ctx, c.PartnerID, SubaccountFilter{Email: e, Limit: 1})
		if err != nil {
			return err
		}
		if len(others) > 0 {
			return Errorf(ECONFLICT, "another account (id %d) already has the email %s", others[0].ID, e)
		}
		old := a.Email
		if err := tx.SetSubaccountEmail(ctx, c.PartnerID, id, e); err != nil {
			return err
		}
		a.Email = e
		return s.audit(ctx, tx, c, s.clock(), "user", strconv.FormatInt(id, 10), "change_email", map[string]any{"email": old}, map[string]any{"email": e})
	})
	if err != nil {
		return Subaccount{}, err
	}
	return a, s.openSubaccountKey(&a)
}

// DeleteAccount deletes a customer and every website of theirs, in one
// transaction (each website gets its "deleted" email).
func (s *Service) DeleteAccount(ctx context.Context, c Caller, id int64) (int, error) {
	if err := c.partnerOnly("delete customer accounts"); err != nil {
		return 0, err
	}
	n := 0
	err := s.store.Update(ctx, func(tx Tx) error {
		now := s.clock()
		a, err := tx.Subaccount(ctx, c.PartnerID, id)
		if ErrorCode(err) == ENOTFOUND {
			return Errorf(ENOTFOUND, "account_id %d not found", id)
		}
		if err != nil {
			return err
		}
		ws, err := tx.Websites(ctx, c.PartnerID, WebsiteFilter{SubaccountID: id})
		if err != nil {
			return err
		}
		for _, w := range ws {
			if _, err := s.mutateWebsite(ctx, tx, c, w.Domain, Match{}, "delete", now, func(w *Website) (bool, error) {
				w.Status = StatusDeleted
				w.DeletedAt = &now
				return true, nil
			}); err != nil {
				return err
			}
			n++
		}
		if err := tx.DeleteSubaccount(ctx, c.PartnerID, id, now); err != nil {
			return err
		}
		return s.audit(ctx, tx, c, now, "user", strconv.FormatInt(id, 10), "delete", map[string]any{"email": a.Email, "websites": n}, nil)
	})
	if err == nil && n > 0 {
		s.notify()
	}
	return n, err
}

// RenewUntil renews a website so that it expires on the given date, which
// must be a whole number of months after its current expiry date, counted on
// the term's anniversary day (2027-01-31 → 2027-02-28 → 2027-03-31).
func (s *Service) RenewUntil(ctx context.Context, c Caller, domain string, until time.Time) (Website, error) {
	w, _, err := s.modifyWebsite(ctx, c, domain, WebsiteChange{RenewUntil: until}, Match{}, Idem{}, "website.renew")
	return w, err
}

// Add-on products. extra_requests adds Quantity × 10,000 requests a month
// to a website's quota. The scanning products (docs/SCANNING.md) are
// features a website has or has not, so their quantity is always 1: smart
// (the malware scan of its files, "SMART"), smart_patch (the check of its
// CMS and components, "SMART Patch"), smart_database (the scan of its
// database, "SMART Database") and backup. Each has its own monthly price
// (Config, or the Default...Price below).
const (
	AddonExtraRequests = "extra_requests"
	AddonSmart         = "smart"
	AddonSmartPatch    = "smart_patch"
	AddonSmartDatabase = "smart_database"
	AddonBackup        = "backup"
	AddonUnitRequests  = 10_000
	// MaxAddonQuantity bounds one add-on.
	MaxAddonQuantity = 10_000
)

// AddonProducts are every add-on product, in the order messages list them.
var AddonProducts = []string{AddonExtraRequests, AddonSmart, AddonSmartPatch, AddonSmartDatabase, AddonBackup}

// Default monthly prices of the add-on products.
const (
	// DefaultAddonUnitPrice is the monthly price of 10,000 extra requests.
	DefaultAddonUnitPrice Cents = 250
	// DefaultSmartPrice is the monthly price of the malware scan (smart).
	DefaultSmartPrice Cents = 300
	// DefaultSmartPatchPrice is the monthly price of the patch check.
	DefaultSmartPatchPrice Cents = 150
	// DefaultSmartDatabasePrice is the monthly price of the database scan.
	DefaultSmartDatabasePrice Cents = 200
	// DefaultBackupPrice is the monthly price of backups.
	DefaultBackupPrice Cents = 400
)

func (s *Service) addonUnitPrice() Cents {
	return s.AddonPrice(AddonExtraRequests)
}

// AddonPrice is the monthly price of one unit of product (the operator's
// Config, or the default); 0 for an unknown product.
func (s *Service) AddonPrice(product string) Cents {
	pick := func(cfg, def Cents) Cents {
		if cfg > 0 {
			return cfg
		}
		return def
	}
	switch product {
	case AddonExtraRequests:
		return pick(s.cfg.AddonUnitPrice, DefaultAddonUnitPrice)
	case AddonSmart:
		return pick(s.cfg.SmartPrice, DefaultSmartPrice)
	case AddonSmartPatch:
		return pick(s.cfg.SmartPatchPrice, DefaultSmartPatchPrice)
	case AddonSmartDatabase:
		return pick(s.cfg.SmartDatabasePrice, DefaultSmartDatabasePrice)
	case AddonBackup:
		return pick(s.cfg.BackupPrice, DefaultBackupPrice)
	}
	return 0
}

// featureAddon reports whether product is a scanning feature (quantity 1).
func featureAddon(product string) bool {
	switch product {
	case AddonSmart, AddonSmartPatch, AddonSmartDatabase, AddonBackup:
		return true
	}
	return false
}

// AddonMaxQuantity is the largest quantity of product a website may have
// (1 for a scanning feature); 0 for an unknown product.
func AddonMaxQuantity(product string) int64 {
	switch {
	case product == AddonExtraRequests:
		return MaxAddonQuantity
	case featureAddon(product):
		return 1
	}
	return 0
}

// addonWords says what one unit of product is, for ledger reasons.
func addonWords(product string) string {
	switch product {
	case AddonSmart:
		return "malware scanning (SMART)"
	case AddonSmartPatch:
		return "patch checks (SMART Patch)"
	case AddonSmartDatabase:
		return "database scanning (SMART Database)"
	case AddonBackup:
		return "backups"
	}
	return product
}

func checkAddon(product string, qty int64) error {
	switch {
	case product == AddonExtraRequests:
		if qty < 1 || qty > MaxAddonQuantity {
			return FieldError("quantity", "quantity must be between 1 and %d", MaxAddonQuantity)
		}
	case featureAddon(product):
		if qty != 1 {
			return FieldError("quantity", "quantity of add-on %s must be 1: a website has the feature or not, not %d", product, qty)
		}
	default:
		return FieldError("addon", "unknown add-on %q; the add-on products are: %s", product, strings.Join(AddonProducts, ", "))
	}
	return nil
}

// addonTermLeft refuses an add-on bought (or increased) for a website
// whose term has ended: nothing is left of it to charge for, so it would
// be had for nothing until a renewal. Renew first, as before an upgrade.
func addonTermLeft(w Website, now time.Time) error {
	if w.ExpiresAt.After(now) {
		return nil
	}
	return &Error{Code: ECONFLICT, Cause: ErrWebsiteExpired,
		Message: fmt.Sprintf("website %s expired on %s; renew it before adding add-ons (nothing is left of the term to charge them for)", w.Domain, w.ExpiresAt.UTC().Format("2006-01-02"))}
}

// chargeAddon charges units more units of product for the rest of w's
// period.
func (s *Service) chargeAddon(ctx context.Context, tx Tx, c Caller, w Website, product string, units int64, now time.Time, what string) error {
	if units <= 0 {
		return nil
	}
	p, err := tx.Partner(ctx, c.PartnerID, true)
	if err != nil {
		return err
	}
	price := s.AddonPrice(product)
	charge := TermCharge(price*Cents(units), now, w.ExpiresAt, w.BillingDay)
	var reason string
	if product == AddonExtraRequests {
		reason = fmt.Sprintf("%s on %s: %d × %d extra requests a month for the %s left of the term", what, w.Domain, units, AddonUnitRequests, termText(now, w.ExpiresAt, w.BillingDay))
	} else {
		reason = fmt.Sprintf("%s on %s: %s at %s a month for the %s left of the term", what, w.Domain, addonWords(product), price.String(), termText(now, w.ExpiresAt, w.BillingDay))
	}
	return s.post(ctx, tx, &p, c, now, -charge, LedgerCharge, reason, w.ID)
}

// ProvisionAddon adds an add-on to a website, charged pro rata for the rest
// of the period and with every renewal.
func (s *Service) ProvisionAddon(ctx context.Context, c Caller, websiteID int64, product string, qty int64) (Addon, error) {
	a, _, err := s.ProvisionAddonKeyed(ctx, c, websiteID, product, qty, Idem{})
	return a, err
}

// ProvisionAddonKeyed is ProvisionAddon once per Idempotency-Key: a retry
// with the same key and request answers the first add-on (replayed true)
// and charges nothing.
func (s *Service) ProvisionAddonKeyed(ctx context.Context, c Caller, websiteID int64, product string, qty int64, idem Idem) (Addon, bool, error) {
	if err := c.partnerOnly("buy add-ons"); err != nil {
		return Addon{}, false, err
	}
	product = strings.TrimSpace(product)
	if err := checkAddon(product, qty); err != nil {
		return Addon{}, false, err
	}
	var a Addon
	replayed, err := s.keyed(ctx, c, idem, "addon", func(tx Tx, now time.Time) (string, error) {
		a = Addon{}
		err := s.provisionAddon(ctx, tx, c, websiteID, product, qty, now, &a)
		return strconv.FormatInt(a.ID, 10), err
	}, func(tx Tx, objectID string) error {
		id, err := strconv.ParseInt(objectID, 10, 64)
		if err != nil {
			return err
		}
		a, err = tx.Addon(ctx, c.PartnerID, id, false)
		return err
	})
	return a, replayed, err
}

// provisionAddon is ProvisionAddon's work in tx; out gets the add-on.
func (s *Service) provisionAddon(ctx context.Context, tx Tx, c Caller, websiteID int64, product string, qty int64, now time.Time, out *Addon) error {
	// Lock the partner before reading the website, as renewals do:
	// a renewal in flight commits first, so the add-on is priced
	// against the term as it now ends, never a stale one.
	if _, err := tx.Partner(ctx, c.PartnerID, true); err != nil {
		return err
	}
	w, err := tx.WebsiteByID(ctx, c.PartnerID, websiteID)
	if ErrorCode(err) == ENOTFOUND || err == nil && w.Status == StatusDeleted {
		return Errorf(ENOTFOUND, "site_id %d not found", websiteID)
	}
	if err != nil {
		return err
	}
	if err := addonTermLeft(w, now); err != nil {
		return err
	}
	if featureAddon(product) {
		// A feature is had once: a second one (a retry of a request
		// that went through, say) is refused, never charged twice.
		// The partner's lock above orders every provisioning.
		have, err := tx.Addons(ctx, c.PartnerID, w.ID)
		if err != nil {
			return err
		}
		for _, o := range have {
			if o.Product == product {
				return &Error{Code: ECONFLICT, Field: "addon", Cause: ErrAddonExists,
					Message: fmt.Sprintf("website %s already has add-on %s (addon_id %d)", w.Domain, product, o.ID)}
			}
		}
	}
	if err := s.chargeAddon(ctx, tx, c, w, product, qty, now, "add-on "+product); err != nil {
		return err
	}
	a := Addon{PartnerID: c.PartnerID, WebsiteID: w.ID, Domain: w.Domain, Product: product, Quantity: qty, Status: "active", CreatedAt: now, UpdatedAt: now}
	if err := tx.InsertAddon(ctx, &a); err != nil {
		return err
	}
	*out = a
	return s.audit(ctx, tx, c, now, "addon", strconv.FormatInt(a.ID, 10), "create", nil, map[string]any{"website": w.Domain, "product": product, "quantity": qty})
}

// ModifyAddon changes an add-on's quantity; an increase is charged pro
// rata, a decrease refunds nothing and applies from the next renewal.
func (s *Service) ModifyAddon(ctx context.Context, c Caller, id, qty int64) (Addon, error) {
	if err := c.partnerOnly("change add-ons"); err != nil {
		return Addon{}, err
	}
	var a Addon
	err := s.store.Update(ctx, func(tx Tx) error {
		now := s.clock()
		// The partner first (see ProvisionAddon), then the add-on.
		if _, err := tx.Partner(ctx, c.PartnerID, true); err != nil {
			return err
		}
		var err error
		a, err = tx.Addon(ctx, c.PartnerID, id, true)
		if ErrorCode(err) == ENOTFOUND || err == nil && a.Status != "active" {
			return Errorf(ENOTFOUND, "addon_id %d not found", id)
		}
		if err != nil {
			return err
		}
		if err := checkAddon(a.Product, qty); err != nil {
			return err
		}
		w, err := tx.WebsiteByID(ctx, c.PartnerID, a.WebsiteID)
		if err != nil {
			return err
		}
		if w.Status == StatusDeleted {
			// A deleted website's add-ons are over with it.
			return Errorf(ENOTFOUND, "addon_id %d not found", id)
		}
		if qty > a.Quantity {
			if err := addonTermLeft(w, now); err != nil {
				return err
			}
		}
		if err := s.chargeAddon(ctx, tx, c, w, a.Product, qty-a.Quantity, now, "more add-on "+a.Product); err != nil {
			return err
		}
		old := a.Quantity
		a.Quantity, a.UpdatedAt = qty, now
		if err := tx.UpdateAddon(ctx, &a); err != nil {
			return err
		}
		return s.audit(ctx, tx, c, now, "addon", strconv.FormatInt(id, 10), "modify", map[string]any{"quantity": old}, map[string]any{"quantity": qty})
	})
	return a, err
}

// DeleteAddon removes an add-on; nothing is refunded (the rest of the
// term was paid for and ends with the term: the next renewal no longer
// charges it). Removing a scanning add-on switches its feature off in the
// website's scan settings, in the same transaction.
func (s *Service) DeleteAddon(ctx context.Context, c Caller, id int64) error {
	if err := c.partnerOnly("remove add-ons"); err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx Tx) error {
		now := s.clock()
		a, err := tx.Addon(ctx, c.PartnerID, id, true)
		if ErrorCode(err) == ENOTFOUND || err == nil && a.Status != "active" {
			return Errorf(ENOTFOUND, "addon_id %d not found", id)
		}
		if err != nil {
			return err
		}
		a.Status, a.UpdatedAt = "deleted", now
		if err := tx.UpdateAddon(ctx, &a); err != nil {
			return err
		}
		if featureAddon(a.Product) {
			if err := s.switchOffFeature(ctx, tx, c, a, now); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, c, now, "addon", strconv.FormatInt(id, 10), "delete", map[string]any{"quantity": a.Quantity}, nil)
	})
}

// Addons lists a website's active add-ons.
func (s *Service) Addons(ctx context.Context, c Caller, websiteID int64) ([]Addon, error) {
	if err := c.partnerOnly("list add-ons"); err != nil {
		return nil, err
	}
	var as []Addon
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		as, err = tx.Addons(ctx, c.PartnerID, websiteID)
		return err
	})
	return as, err
}
