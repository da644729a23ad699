package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The outbox: every website state change a customer should hear about
// queues an email in the same transaction as the change. Partners fetch and
// acknowledge them (REST, XML), or Palisade delivers them by SMTP when
// configured (DeliverEmails). Templates are Go text/template over EmailData;
// a partner may replace any of them.

// EmailData is what templates see.
type EmailData struct {
	Brand        string // the partner's display name
	Name         string // the customer's first name, or their email
	Email        string
	Domain       string
	Plan         string
	ExpiresAt    string // YYYY-MM-DD
	DashboardURL string
	// PoweredBy: the partner shows "Powered by Palisade" (Branding.PoweredBy).
	PoweredBy bool
	// Count and Severity: for malware_found, how many new findings the
	// scan made and the gravest one's severity (critical, high, medium,
	// low); zero in the other kinds.
	Count    int
	Severity string
}

// ExpiryNotice is how long before a website expires the "expiring" email goes.
const ExpiryNotice = 7 * 24 * time.Hour

func validKind(kind string) error {
	if !slices.Contains(EmailKinds, kind) {
		return FieldError("kind", "unknown email kind %q; one of %s", kind, strings.Join(EmailKinds, ", "))
	}
	return nil
}

// template is the partner's own template of kind, or the default one in
// lang.
func (s *Service) template(ctx context.Context, tx Tx, partnerID int64, kind, lang string) (EmailTemplate, error) {
	tm, err := tx.EmailTemplate(ctx, partnerID, kind)
	if ErrorCode(err) == ENOTFOUND {
		return defaultTemplate(kind, lang), nil
	}
	return tm, err
}

// queueWebsiteEmail renders and queues the email of kind about w, to its
// customer (or, for a website without one, to the partner). A partner
// without any address to write to gets no email.
func (s *Service) queueWebsiteEmail(ctx context.Context, tx Tx, p Partner, w Website, kind string, now time.Time) error {
	_, err := s.queueEmail(ctx, tx, p, w, kind, now)
	return err
}

// queueEmail is queueWebsiteEmail reporting whether an email was queued (an
// expiry notice already sent for this period is not queued again).
func (s *Service) queueEmail(ctx context.Context, tx Tx, p Partner, w Website, kind string, now time.Time) (bool, error) {
	dedupe := ""
	if kind == EmailExpiring {
		dedupe = "website:" + strconv.FormatInt(w.ID, 10) + ":expires:" + strconv.FormatInt(w.ExpiresAt.Unix(), 10)
	}
	return s.queueEmailData(ctx, tx, p, w, kind, EmailData{}, dedupe, now)
}

// queueEmailData is queueEmail with the kind's own fields of EmailData
// (Count, Severity) and a deduplication key ("" none).
func (s *Service) queueEmailData(ctx context.Context, tx Tx, p Partner, w Website, kind string, extra EmailData, dedupe string, now time.Time) (bool, error) {
	d := EmailData{Brand: firstNonEmptyStr(p.BrandName, p.Name), Domain: w.Domain, Plan: w.Plan.Name, PoweredBy: p.PoweredBy,
		Count: extra.Count, Severity: extra.Severity}
	to, lang := p.Email, p.Language()
	if w.SubaccountID != 0 {
		a, err := tx.Subaccount(ctx, p.ID, w.SubaccountID)
		if err != nil && ErrorCode(err) != ENOTFOUND {
			return false, err
		}
		if err == nil {
			to = a.Email
			if a.Lang != "" {
				lang = a.Lang
			}
			d.Name = a.FirstName
		}
	}
	if to == "" {
		return false, nil
	}
	if d.Name == "" {
		d.Name = to
	}
	d.Email = to
	d.DashboardURL = s.Links(w, lang).Statistics
	d.ExpiresAt = emailDate(lang, w.ExpiresAt)
	tm, err := s.template(ctx, tx, p.ID, kind, lang)
	if err != nil {
		return false, err
	}
	subject, body, err := render(ctx, tm, d)
	if err != nil {
		// A partner's template that no longer renders must not block the
		// state change: fall back to the default wording.
		s.log.Warn("email template does not render; using the default", "partner", p.ID, "kind", kind, "err", err)
		if subject, body, err = render(ctx, defaultTemplate(kind, lang), d); err != nil {
			return false, err
		}
	}
	e := &Email{PartnerID: p.ID, SubaccountID: w.SubaccountID, WebsiteID: w.ID, Kind: kind, Dedupe: dedupe, To: to,
		Subject: subject, Body: body, Status: EmailPending, NextAttemptAt: now, CreatedAt: now}
	return tx.InsertEmail(ctx, e)
}

func firstNonEmptyStr(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// QueueExpiryNotices queues the "expiring" email of every website that
// expires within ExpiryNotice, once per period. It returns how many it queued.
func (s *Service) QueueExpiryNotices(ctx context.Context) (int, error) {
	n := 0
	err := s.store.Update(ctx, func(tx Tx) error {
		now := s.clock()
		ws, err := tx.ExpiringWebsites(ctx, now, now.Add(ExpiryNotice))
		if err != nil {
			return err
		}
		partners := map[int64]Partner{}
		for _, w := range ws {
			p, ok := partners[w.PartnerID]
			if !ok {
				if p, err = tx.Partner(ctx, w.PartnerID, false); err != nil {
					return err
				}
				partners[w.PartnerID] = p
			}
			queued, err := s.queueEmail(ctx, tx, p, w, EmailExpiring, now)
			if err != nil {
				return err
			}
			if queued {
				n++
			}
		}
		return nil
	})
	return n, err
}

// Emails lists the caller's emails, oldest first.
func (s *Service) Emails(ctx context.Context, c Caller, f EmailFilter) ([]Email, error) {
	if err := c.partnerOnly("read the outbox"); err != nil {
		return nil, err
	}
	switch f.Status {
	case "", EmailPending, EmailSending, EmailSent, EmailFailed:
	default:
		return nil, FieldError("status", "status must be pending, sending, sent or failed, not %q", f.Status)
	}
	if !f.Before.IsZero() && !f.After.IsZero() && !f.After.Before(f.Before) {
		return nil, FieldError("after", "after must be earlier than before")
	}
	var es []Email
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		es, err = tx.Emails(ctx, c.PartnerID, f)
		return err
	})
	return es, err
}

// MarkEmailSent records that the partner delivered an email itself. Marking
// one already sent again succeeds; one Palisade is delivering right now is
// a conflict.
func (s *Service) MarkEmailSent(ctx context.Context, c Caller, id int64) (Email, error) {
	if err := c.partnerOnly("mark emails sent"); err != nil {
		return Email{}, err
	}
	var e Email
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		e, err = tx.Email(ctx, c.PartnerID, id)
		if ErrorCode(err) == ENOTFOUND {
			return Errorf(ENOTFOUND, "email %d does not exist", id)
		}
		if err != nil {
			return err
		}
		switch e.Status {
		case EmailSent:
			return nil
		case EmailSending:
			return Errorf(ECONFLICT, "email %d is being delivered by Palisade right now", id)
		}
		now := s.clock()
		e.Status, e.SentAt = EmailSent, &now
		if err := tx.SetEmailStatus(ctx, &e); err != nil {
			return err
		}
		return s.audit(ctx, tx, c, now, "email", strconv.FormatInt(id, 10), "mark_sent", nil, map[string]any{"kind": e.Kind, "to": e.To})
	})
	return e, err
}

// EmailTemplates lists the partner's templates of every kind, its own or
// the defaults.
func (s *Service) EmailTemplates(ctx context.Context, c Caller) ([]EmailTemplate, error) {
	if err := c.partnerOnly("read email templates"); err != nil {
		return nil, err
	}
	var out []EmailTemplate
	err := s.store.View(ctx, func(tx Tx) error {
		p, err := tx.Partner(ctx, c.PartnerID, false)
		if err != nil {
			return err
		}
		for _, k := range EmailKinds {
			tm, err := s.template(ctx, tx, c.PartnerID, k, p.Language())
			if err != nil {
				return err
			}
			out = append(out, tm)
		}
		return nil
	})
	return out, err
}

// SetEmailTemplate replaces the partner's template of a kind, after checking
// that it renders; an empty subject and body restore the default.
func (s *Service) SetEmailTemplate(ctx context.Context, c Caller, tm EmailTemplate) (EmailTemplate, error) {
	if err := c.partnerOnly("change email templates"); err != nil {
		return EmailTemplate{}, err
	}
	if err := validKind(tm.Kind); err != nil {
		return EmailTemplate{}, err
	}
	if tm.Subject == "" && tm.Body == "" {
		err := s.store.Update(ctx, func(tx Tx) error {
			if err := tx.DeleteEmailTemplate(ctx, c.PartnerID, tm.Kind); err != nil {
				return err
			}
			return s.audit(ctx, tx, c, s.clock(), "email_template", tm.Kind, "reset", nil, nil)
		})
		lang := DefaultLanguage
		if b, berr := s.storedBranding(ctx, c.PartnerID); berr == nil {
			lang = b.DefaultLang
		}
		return defaultTemplate(tm.Kind, lang), err
	}
	if strings.TrimSpace(tm.Subject) == "" {
		return EmailTemplate{}, FieldError("subject", "subject is required")
	}
	if strings.TrimSpace(tm.Body) == "" {
		return EmailTemplate{}, FieldError("body", "body is required")
	}
	// The shape and size rules of outbox_template.go, and a trial render
	// within the output limits, with a domain of the longest length a
	// domain can have.
	long := strings.Repeat("d", 63) + "." + strings.Repeat("o", 63) + "." + strings.Repeat("m", 63) + "." + strings.Repeat("a", 53) + ".example"
	sample := EmailData{Brand: "Brand", Name: "Jane", Email: "jane@example.com", Domain: long, Plan: "10k", ExpiresAt: "2030-01-31", DashboardURL: "https://example.net/en/website/" + long + "/statistics"}
	rctx, cancel := context.WithTimeout(ctx, renderWait)
	_, _, err := render(rctx, tm, sample)
	cancel()
	if err != nil {
		return EmailTemplate{}, err
	}
	tm.UpdatedAt, tm.Custom = s.clock(), true
	err = s.store.Update(ctx, func(tx Tx) error {
		if err := tx.SetEmailTemplate(ctx, c.PartnerID, tm); err != nil {
			return err
		}
		return s.audit(ctx, tx, c, tm.UpdatedAt, "email_template", tm.Kind, "set", nil, map[string]any{"subject": tm.Subject})
	})
	return tm, err
}

// Mailer delivers one email. A *PermanentError means retrying cannot help.
type Mailer interface {
	Send(ctx context.Context, to, subject, body string) error
}

// PermanentError is a delivery failure that retrying cannot fix (such as an
// SMTP 5xx answer).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// MaxEmailAttempts bounds delivery attempts; then the email is failed.
const MaxEmailAttempts = 8

// emailBackoff is the wait after the n-th failed attempt: 1, 2, 4 … minutes,
// at most six hours.
func emailBackoff(n int) time.Duration {
	d := time.Minute << min(n-1, 9)
	return min(d, 6*time.Hour)
}

// DeliverDueEmails sends the emails that are due, each at most once: an
// email is claimed (pending → sending) in its own transaction before it is
// handed to m, so two nodes never both send it. It returns how many were sent.
func (s *Service) DeliverDueEmails(ctx context.Context, m Mailer, limit int) (int, error) {
	var due []Email
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		due, err = tx.DueEmails(ctx, s.clock(), limit)
		return err
	})
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, e := range due {
		var claimed bool
		err := s.store.Update(ctx, func(tx Tx) error {
			var err error
			claimed, err = tx.ClaimEmail(ctx, e.ID, s.clock())
			return err
		})
		if err != nil {
			return sent, err
		}
		if !claimed {
			continue
		}
		sendErr := m.Send(ctx, e.To, e.Subject, e.Body)
		now := s.clock()
		e.Attempts++
		var perm *PermanentError
		switch {
		case sendErr == nil:
			e.Status, e.SentAt, e.LastError = EmailSent, &now, ""
			sent++
		case errors.As(sendErr, &perm) || e.Attempts >= MaxEmailAttempts:
			e.Status, e.LastError = EmailFailed, truncate(sendErr.Error(), 500)
			s.log.Warn("email not delivered; giving up", "email", e.ID, "to", e.To, "attempts", e.Attempts, "err", sendErr)
		default:
			e.Status, e.LastError, e.NextAttemptAt = EmailPending, truncate(sendErr.Error(), 500), now.Add(emailBackoff(e.Attempts))
			s.log.Info("email not delivered; will retry", "email", e.ID, "to", e.To, "attempt", e.Attempts, "next", e.NextAttemptAt, "err", sendErr)
		}
		// Not ctx: the outcome of a send that happened must be written even
		// while shutting down.
		wctx := context.WithoutCancel(ctx)
		if err := s.store.Update(wctx, func(tx Tx) error { return tx.SetEmailStatus(wctx, &e) }); err != nil {
			return sent, fmt.Errorf("record delivery of email %d: %w", e.ID, err)
		}
	}
	return sent, nil
}

// RunMailer delivers due emails every interval, and soon after a website
// change queued one, until ctx ends.
func (s *Service) RunMailer(ctx context.Context, m Mailer, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.DeliverDueEmails(ctx, m, 100); err != nil && ctx.Err() == nil {
			s.log.Warn("deliver emails", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.mailKick:
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// FailStuckEmails fails emails left "sending" for over an hour (a node
// stopped in the middle of handing one over): it may or may not have gone
// out, and retrying could send it twice, so it is not retried.
func (s *Service) FailStuckEmails(ctx context.Context) (n int64, err error) {
	err = s.store.Update(ctx, func(tx Tx) error {
		n, err = tx.FailStuckEmails(ctx, s.clock().Add(-time.Hour))
		return err
	})
	return n, err
}
