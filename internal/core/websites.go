package core

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/secret"
)

// WebsiteCreate is the input of CreateWebsite.
type WebsiteCreate struct {
	Domain       string
	SubaccountID int64  // 0: none
	Plan         string // "": the configured default plan
}

// WebsiteUpdate is the input of UpdateWebsite; nil fields are left alone.
type WebsiteUpdate struct {
	Status       *string // "paused" or "online"
	SubaccountID *int64  // 0 detaches the website from its subaccount
}

// websiteState is what the audit log keeps of a website.
func websiteState(w Website) map[string]any {
	m := map[string]any{
		"domain": w.Domain, "status": w.Status, "plan": w.Plan.Name,
		"expires_at": w.ExpiresAt.Format(time.RFC3339), "version": w.Version,
	}
	if w.SubaccountID != 0 {
		m["user"] = w.SubaccountID
	}
	return m
}

func (s *Service) loadPlan(ctx context.Context, tx Tx, name string) (Plan, error) {
	p, err := tx.PlanByName(ctx, name)
	if ErrorCode(err) == ENOTFOUND {
		return Plan{}, FieldError("plan", "unknown plan %q; GET /v1/plans lists the plans", name)
	}
	return p, err
}

func (s *Service) checkSubaccount(ctx context.Context, tx Tx, partnerID, id int64) error {
	if id == 0 {
		return nil
	}
	_, err := tx.Subaccount(ctx, partnerID, id)
	if ErrorCode(err) == ENOTFOUND {
		return FieldError("user", "subaccount %d does not exist", id)
	}
	return err
}

func (s *Service) openServerKey(w *Website) error {
	k, err := s.box.Open(w.ServerKeySealed)
	if err != nil {
		return fmt.Errorf("website %d server key: %w", w.ID, err)
	}
	w.ServerKey = k
	return nil
}

// CreateWebsite registers a domain for the caller, charging the plan's monthly
// price in the same transaction. It returns replayed=true when idem names an
// earlier identical request, whose website is returned as it is now.
func (s *Service) CreateWebsite(ctx context.Context, c Caller, in WebsiteCreate, idem Idem) (Website, bool, error) {
	if err := c.partnerOnly("register websites"); err != nil {
		return Website{}, false, err
	}
	domain, err := NormalizeDomain(in.Domain)
	if err != nil {
		return Website{}, false, err
	}
	if in.SubaccountID < 0 {
		return Website{}, false, FieldError("user", "user must be a subaccount id")
	}
	planName := in.Plan
	if planName == "" {
		planName = s.cfg.DefaultPlan
	}
	key, err := secret.NewToken(s.rand, "sk_")
	if err != nil {
		return Website{}, false, err
	}
	sealed, err := s.box.Seal(key)
	if err != nil {
		return Website{}, false, err
	}
	var w Website
	replay := func(tx Tx, id string) error {
		n, _ := strconv.ParseInt(id, 10, 64)
		var err error
		w, err = tx.WebsiteByID(ctx, c.PartnerID, n)
		return err
	}
	replayed, err := s.keyed(ctx, c, idem, "website", func(tx Tx, now time.Time) (string, error) {
		var err error
		w, err = s.createWebsiteTx(ctx, tx, c, now, domain, planName, in.SubaccountID, key, sealed)
		return strconv.FormatInt(w.ID, 10), err
	}, replay)
	if err != nil {
		return Website{}, false, err
	}
	s.notify()
	return w, replayed, s.openServerKey(&w)
}

// createWebsiteTx registers domain in tx: it locks the partner, checks the
// plan, the subaccount and that the domain is free, inserts the website,
// charges the plan's monthly price, audits and queues the welcome email.
func (s *Service) createWebsiteTx(ctx context.Context, tx Tx, c Caller, now time.Time, domain, planName string, subaccountID int64, key, sealed string) (Website, error) {
	p, err := tx.Partner(ctx, c.PartnerID, true)
	if err != nil {
		return Website{}, err
	}
	plan, err := s.loadPlan(ctx, tx, planName)
	if err != nil {
		return Website{}, err
	}
	if err := s.checkSubaccount(ctx, tx, c.PartnerID, subaccountID); err != nil {
		return Website{}, err
	}
	taken, err := tx.DomainTaken(ctx, domain)
	if err != nil {
		return Website{}, err
	}
	if taken {
		return Website{}, &Error{Code: ECONFLICT, Message: fmt.Sprintf("website %s is already registered", domain), Cause: ErrDomainTaken}
	}
	w := Website{
		PartnerID: c.PartnerID, SubaccountID: subaccountID, Domain: domain,
		PlanID: plan.ID, Plan: plan, Status: StatusSetup,
		ServerKey: key, ServerKeyHash: secret.Hash(key), ServerKeySealed: sealed,
		Version: 1, CreatedAt: now, UpdatedAt: now, RenewedAt: now, ExpiresAt: AddMonths(now, 1, now.Day()), BillingDay: now.Day(),
	}
	if err := tx.InsertWebsite(ctx, &w); err != nil {
		return Website{}, err
	}
	if err := applyNewSiteWAFMode(ctx, tx, &w); err != nil {
		return Website{}, err
	}
	reason := fmt.Sprintf("register %s on plan %s for 1 month", domain, plan.Name)
	if err := s.post(ctx, tx, &p, c, now, -plan.Price, LedgerCharge, reason, w.ID); err != nil {
		return Website{}, err
	}
	if err := s.audit(ctx, tx, c, now, "website", domain, "create", nil, websiteState(w)); err != nil {
		return Website{}, err
	}
	return w, s.queueWebsiteEmail(ctx, tx, p, w, EmailWelcome, now)
}

// Website returns one of the caller's websites that is not deleted: a
// partner's own, or a customer's (CanSeeWebsite).
func (s *Service) Website(ctx context.Context, c Caller, domain string) (Website, error) {
	if err := c.tenant(); err != nil {
		return Website{}, err
	}
	d, err := NormalizeDomain(domain)
	if err != nil {
		return Website{}, err
	}
	var w Website
	err = s.store.View(ctx, func(tx Tx) error {
		w, err = tx.Website(ctx, c.PartnerID, d, false)
		return err
	})
	if err != nil {
		return Website{}, websiteNotFound(err, d)
	}
	if err := CanSeeWebsite(c, w); err != nil {
		return Website{}, err
	}
	return w, s.openServerKey(&w)
}

func websiteNotFound(err error, domain string) error {
	if ErrorCode(err) == ENOTFOUND {
		return Errorf(ENOTFOUND, "website %s is not registered", domain)
	}
	return err
}

// Websites lists the caller's websites, in registration order.
func (s *Service) Websites(ctx context.Context, c Caller, f WebsiteFilter) ([]Website, error) {
	if err := c.tenant(); err != nil {
		return nil, err
	}
	if c.Role == RoleSubaccount {
		// A customer lists its own account's websites, whatever it asked.
		if c.SubaccountID == 0 {
			return []Website{}, nil
		}
		f.SubaccountID = c.SubaccountID
	}
	switch f.Status {
	case "", StatusSetup, StatusOnline, StatusPaused, StatusDeleted:
	default:
		return nil, FieldError("status", "status must be one of setup, online, paused, deleted")
	}
	var ws []Website
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		ws, err = tx.Websites(ctx, c.PartnerID, f)
		return err
	})
	if err != nil {
		return nil, err
	}
	for i := range ws {
		if err := s.openServerKey(&ws[i]); err != nil {
			return nil, err
		}
	}
	return ws, nil
}

// mutateWebsite loads the caller's website under lock, checks ifMatch (0: no
// check) against its version, lets change modify it, then writes it with a new
// version and an audit entry. change returns false when nothing changed; then
// nothing is written.
func (s *Service) mutateWebsite(ctx context.Context, tx Tx, c Caller, domain string, ifMatch Match, action string, now time.Time,
	change func(w *Website) (bool, error),
) (Website, error) {
	w, err := tx.Website(ctx, c.PartnerID, domain, true)
	if err != nil {
		return Website{}, websiteNotFound(err, domain)
	}
	if err := CanSeeWebsite(c, w); err != nil {
		return Website{}, err
	}
	if !ifMatch.matches(w) {
		return Website{}, Errorf(EPRECONDITION, "website %s has changed since you read it (If-Match %s, now %s); read it again and retry", domain, ifMatch.ETag(), ETag(w))
	}
	old := websiteState(w)
	changed, err := change(&w)
	if err != nil || !changed {
		return w, err
	}
	w.Version++
	w.UpdatedAt = now
	if err := tx.UpdateWebsite(ctx, &w); err != nil {
		return Website{}, err
	}
	if err := s.audit(ctx, tx, c, now, "website", domain, action, old, websiteState(w)); err != nil {
		return Website{}, err
	}
	for _, a := range strings.Split(action, "+") {
		kind := actionEmails[a]
		if kind == "" {
			continue
		}
		p, err := tx.Partner(ctx, c.PartnerID, false)
		if err != nil {
			return Website{}, err
		}
		if err := s.queueWebsiteEmail(ctx, tx, p, w, kind, now); err != nil {
			return Website{}, err
		}
	}
	return w, nil
}

// actionEmails names the email each website change queues; an action of
// several changes ("change_plan+renew") queues each one's.
var actionEmails = map[string]string{"pause": EmailSuspended, "resume": EmailResumed, "renew": EmailRenewed, "delete": EmailDeleted}

// WebsiteChange is every change one protocol call makes to a website.
// ModifyWebsite applies all of them in one transaction, or none of them.
// Zero fields are left alone.
type WebsiteChange struct {
	Status       *string // "paused" (suspend) or "online" (resume)
	SubaccountID *int64  // 0 detaches the website from its subaccount
	Plan         string  // another plan: an upgrade is charged for the rest of the term
	RenewMonths  int     // extend the term by this many months, charged
	// RenewUntil asks for the term to end on this date, which must be a
	// whole number of months (1..MaxRenewMonths) after the current expiry,
	// counted on the term's anniversary day (XML renewal_date).
	RenewUntil time.Time
}

func (ch WebsiteChange) validate() error {
	if ch.Status != nil {
		switch *ch.Status {
		case StatusPaused, StatusOnline:
		default:
			return FieldError("status", "status must be \"paused\" (suspend) or \"online\" (resume), not %q", *ch.Status)
		}
	}
	if ch.SubaccountID != nil && *ch.SubaccountID < 0 {
		return FieldError("user", "user must be a subaccount id")
	}
	if ch.RenewMonths != 0 && (ch.RenewMonths < 1 || ch.RenewMonths > MaxRenewMonths) {
		return FieldError("months", "months must be between 1 and %d", MaxRenewMonths)
	}
	if ch.RenewMonths != 0 && !ch.RenewUntil.IsZero() {
		return FieldError("months", "send either months or a renewal date, not both")
	}
	return nil
}

// actions names what a change does, for the audit log and the emails it
// queues: "pause", "resume", "change_plan", "renew", "update", or several
// joined by "+".
func (ch WebsiteChange) actions() string {
	var a []string
	if ch.Status != nil {
		a = append(a, map[string]string{StatusPaused: "pause", StatusOnline: "resume"}[*ch.Status])
	}
	if ch.Plan != "" {
		a = append(a, "change_plan")
	}
	if ch.RenewMonths != 0 || !ch.RenewUntil.IsZero() {
		a = append(a, "renew")
	}
	if ch.SubaccountID != nil {
		a = append(a, "update")
	}
	if len(a) == 0 {
		return "update"
	}
	return strings.Join(a, "+")
}

// ModifyWebsite applies every change of one protocol call to a website in
// one transaction: either all of them happen (with their charges, audit
// entries and emails) or none does. The order within the call is fixed:
// resume, renewal, plan change, subaccount, pause; so "resume and upgrade"
// works on a paused website, "upgrade and suspend" upgrades it first, and
// "renew and upgrade" works on an expired one.
// A paused website cannot change plan unless the same call resumes it.
func (s *Service) ModifyWebsite(ctx context.Context, c Caller, domain string, ch WebsiteChange, ifMatch Match, idem Idem) (Website, bool, error) {
	return s.modifyWebsite(ctx, c, domain, ch, ifMatch, idem, "website.modify")
}

func (s *Service) modifyWebsite(ctx context.Context, c Caller, domain string, ch WebsiteChange, ifMatch Match, idem Idem, objType string) (Website, bool, error) {
	if err := c.partnerOnly("change a website's status, plan or term"); err != nil {
		return Website{}, false, err
	}
	d, err := NormalizeDomain(domain)
	if err != nil {
		return Website{}, false, err
	}
	if err := ch.validate(); err != nil {
		return Website{}, false, err
	}
	var w Website
	replay := func(tx Tx, id string) error {
		n, _ := strconv.ParseInt(id, 10, 64)
		var err error
		w, err = tx.WebsiteByID(ctx, c.PartnerID, n)
		return err
	}
	replayed, err := s.keyed(ctx, c, idem, objType, func(tx Tx, now time.Time) (string, error) {
		var err error
		w, err = s.modifyWebsiteTx(ctx, tx, c, d, ch, ifMatch, now)
		return strconv.FormatInt(w.ID, 10), err
	}, replay)
	if err != nil {
		return Website{}, false, err
	}
	s.notify()
	return w, replayed, s.openServerKey(&w)
}

func (s *Service) modifyWebsiteTx(ctx context.Context, tx Tx, c Caller, d string, ch WebsiteChange, ifMatch Match, now time.Time) (Website, error) {
	var p Partner
	var plan Plan
	if ch.Plan != "" || ch.RenewMonths != 0 || !ch.RenewUntil.IsZero() {
		var err error
		// Lock the partner first (as every charge does), then the website.
		if p, err = tx.Partner(ctx, c.PartnerID, true); err != nil {
			return Website{}, err
		}
	}
	if ch.Plan != "" {
		var err error
		if plan, err = s.loadPlan(ctx, tx, ch.Plan); err != nil {
			return Website{}, err
		}
	}
	return s.mutateWebsite(ctx, tx, c, d, ifMatch, ch.actions(), now, func(w *Website) (bool, error) {
		changed := false
		if ch.Status != nil && *ch.Status == StatusOnline && w.Status == StatusPaused {
			w.Status = StatusSetup
			if w.FirstSeenAt != nil {
				w.Status = StatusOnline
			}
			w.PausedAt = nil
			changed = true
		}
		// Renew before changing plan: an expired term is extended first,
		// so the upgrade is charged for the term the call leaves. (For a
		// running term the order makes no difference to the total: the
		// old price × months + the difference × (time left + months) =
		// the difference × time left + the new price × months.)
		if ch.RenewMonths != 0 || !ch.RenewUntil.IsZero() {
			if err := s.renew(ctx, tx, &p, c, w, ch, now); err != nil {
				return false, err
			}
			changed = true
		}
		if ch.Plan != "" && plan.ID != w.PlanID {
			if err := s.changePlan(ctx, tx, &p, c, w, plan, now); err != nil {
				return false, err
			}
			changed = true
		}
		if ch.SubaccountID != nil && *ch.SubaccountID != w.SubaccountID {
			if err := s.checkSubaccount(ctx, tx, c.PartnerID, *ch.SubaccountID); err != nil {
				return false, err
			}
			w.SubaccountID = *ch.SubaccountID
			changed = true
		}
		if ch.Status != nil && *ch.Status == StatusPaused && w.Status != StatusPaused {
			w.Status = StatusPaused
			w.PausedAt = &now
			changed = true
		}
		return changed, nil
	})
}

// changePlan moves w to plan, charging an upgrade for the rest of the
// term (TermCharge). A downgrade is refused unless the operator allowed
// downgrades for the partner; an allowed downgrade refunds nothing and the
// cheaper price applies from the next renewal.
func (s *Service) changePlan(ctx context.Context, tx Tx, p *Partner, c Caller, w *Website, plan Plan, now time.Time) error {
	if w.Status == StatusPaused {
		return &Error{Code: ECONFLICT, Message: fmt.Sprintf("website %s is paused; resume it before changing its plan", w.Domain), Cause: ErrWebsitePaused}
	}
	old := w.Plan
	if plan.Price > old.Price && !w.ExpiresAt.After(now) {
		// Nothing is left of the term to charge an upgrade for: renew
		// first (in the same call if wished), then upgrade.
		return &Error{Code: ECONFLICT, Cause: ErrWebsiteExpired,
			Message: fmt.Sprintf("website %s expired on %s; renew it before upgrading it (both may go in one request)", w.Domain, w.ExpiresAt.UTC().Format("2006-01-02"))}
	}
	if plan.Rank < old.Rank && !p.AllowDowngrade {
		return &Error{Code: EFORBIDDEN, Cause: ErrDowngradeNotAllowed,
			Message: fmt.Sprintf("downgrade from %s to %s is not allowed; ask the operator to allow downgrades", old.Name, plan.Name)}
	}
	if plan.Price > old.Price {
		charge := TermCharge(plan.Price-old.Price, now, w.ExpiresAt, w.BillingDay)
		reason := fmt.Sprintf("upgrade %s from %s to %s for the %s left of the term", w.Domain, old.Name, plan.Name, termText(now, w.ExpiresAt, w.BillingDay))
		if err := s.post(ctx, tx, p, c, now, -charge, LedgerCharge, reason, w.ID); err != nil {
			return err
		}
	}
	w.PlanID, w.Plan = plan.ID, plan
	return nil
}

// renew extends w's term by ch.RenewMonths, or to ch.RenewUntil, charging
// the monthly price (plan and add-ons) for each month. A term that has
// already ended restarts today, and today becomes its anniversary day.
func (s *Service) renew(ctx context.Context, tx Tx, p *Partner, c Caller, w *Website, ch WebsiteChange, now time.Time) error {
	months := ch.RenewMonths
	from, day := w.ExpiresAt, w.BillingDay
	if !ch.RenewUntil.IsZero() {
		n, ok := MonthsBetween(w.ExpiresAt, ch.RenewUntil, day)
		if !ok || n < 1 || n > MaxRenewMonths {
			return FieldError("renewal_date", "renewal_date must be a whole number of months (1 to %d) after the current expiry %s, on the anniversary day of the term (such as %s)",
				MaxRenewMonths, w.ExpiresAt.UTC().Format("2006-01-02"), AddMonths(w.ExpiresAt, 1, day).Format("2006-01-02"))
		}
		months = n
	} else if from.Before(now) {
		from, day = now, now.Day()
	}
	addons, err := tx.Addons(ctx, c.PartnerID, w.ID)
	if err != nil {
		return err
	}
	// Each add-on's monthly price is its product's (extra_requests per
	// unit; a scanning feature's, quantity 1).
	monthly, units := w.Plan.Price, int64(0)
	var features []string
	for _, a := range addons {
		monthly += s.AddonPrice(a.Product) * Cents(a.Quantity)
		if a.Product == AddonExtraRequests {
			units += a.Quantity
		} else {
			features = append(features, a.Product)
		}
	}
	price := monthly * Cents(months)
	reason := fmt.Sprintf("renew %s on plan %s for %d month(s)", w.Domain, w.Plan.Name, months)
	if units > 0 {
		reason += fmt.Sprintf(" with %d add-on unit(s)", units)
	}
	if len(features) > 0 {
		reason += " with add-ons " + strings.Join(features, ", ")
	}
	if err := s.post(ctx, tx, p, c, now, -price, LedgerCharge, reason, w.ID); err != nil {
		return err
	}
	w.ExpiresAt = AddMonths(from, months, day)
	if !ch.RenewUntil.IsZero() && !w.ExpiresAt.After(now) {
		return FieldError("renewal_date", "renewal_date %s is not in the future; renew to a later date", ch.RenewUntil.UTC().Format("2006-01-02"))
	}
	w.BillingDay = day
	if w.BillingDay == 0 {
		w.BillingDay = from.UTC().Day()
	}
	w.RenewedAt = now
	return nil
}

// UpdateWebsite pauses or resumes a website, or moves it to another of the
// partner's subaccounts. Resuming a website that never saw traffic puts it
// back in "setup"; one that has seen traffic goes "online". Asking for the
// status a website already has succeeds and changes nothing.
func (s *Service) UpdateWebsite(ctx context.Context, c Caller, domain string, u WebsiteUpdate, ifMatch Match) (Website, error) {
	w, _, err := s.modifyWebsite(ctx, c, domain, WebsiteChange{Status: u.Status, SubaccountID: u.SubaccountID}, ifMatch, Idem{}, "website")
	return w, err
}

// DeleteWebsite deregisters a website. Deletion is final and frees the domain
// for registration again; the unused part of the period is not refunded.
func (s *Service) DeleteWebsite(ctx context.Context, c Caller, domain string, ifMatch Match) (Website, error) {
	if err := c.partnerOnly("deregister websites"); err != nil {
		return Website{}, err
	}
	d, err := NormalizeDomain(domain)
	if err != nil {
		return Website{}, err
	}
	var w Website
	err = s.store.Update(ctx, func(tx Tx) error {
		now := s.clock()
		var err error
		w, err = s.mutateWebsite(ctx, tx, c, d, ifMatch, "delete", now, func(w *Website) (bool, error) {
			w.Status = StatusDeleted
			w.DeletedAt = &now
			return true, nil
		})
		return err
	})
	if err != nil {
		return Website{}, err
	}
	s.notify()
	return w, s.openServerKey(&w)
}

// ChangePlan moves a website to another plan (see changePlan for what it
// costs). A paused website must be resumed first.
func (s *Service) ChangePlan(ctx context.Context, c Caller, domain, planName string, ifMatch Match, idem Idem) (Website, bool, error) {
	if planName == "" {
		return Website{}, false, FieldError("plan", "plan is required")
	}
	return s.modifyWebsite(ctx, c, domain, WebsiteChange{Plan: planName}, ifMatch, idem, "website.plan")
}

// MaxRenewMonths bounds one renewal.
const MaxRenewMonths = 36

// Renew extends a website by months, charging the plan's price for each. It
// extends from expires_at, or from now when the website has already expired.
func (s *Service) Renew(ctx context.Context, c Caller, domain string, months int, ifMatch Match, idem Idem) (Website, bool, error) {
	if months < 1 || months > MaxRenewMonths {
		return Website{}, false, FieldError("months", "months must be between 1 and %d", MaxRenewMonths)
	}
	return s.modifyWebsite(ctx, c, domain, WebsiteChange{RenewMonths: months}, ifMatch, idem, "website.renew")
}

// Match is an optimistic-concurrency precondition: the website's ID and
// version as last read. The zero Match always matches.
type Match struct {
	WebsiteID int64
	Version   int64
}

func (m Match) matches(w Website) bool {
	return m == Match{} || (m.WebsiteID == w.ID && m.Version == w.Version)
}

// ETag renders the precondition as an HTTP entity tag.
func (m Match) ETag() string { return fmt.Sprintf(`"%d.%d"`, m.WebsiteID, m.Version) }

// ETag returns the entity tag of a website's current state.
func ETag(w Website) string { return Match{w.ID, w.Version}.ETag() }

// ParseETag parses an If-Match value made by ETag. "*" and "" give the zero
// Match, which always matches.
func ParseETag(s string) (Match, error) {
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "W/"))
	if s == "" || s == "*" {
		return Match{}, nil
	}
	var m Match
	if _, err := fmt.Sscanf(s, `"%d.%d"`, &m.WebsiteID, &m.Version); err != nil || m.WebsiteID <= 0 || m.Version <= 0 {
		return Match{}, FieldError("If-Match", "If-Match %q is not an entity tag this API issued; send the ETag of your last GET", s)
	}
	return m, nil
}
