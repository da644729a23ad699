package store

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/core"
)

// Queries of the reseller protocols: GP nonces, the email outbox and its
// templates, single-sign-on tokens and sessions, add-ons.

func (t *tx) AllAPIKeys(ctx context.Context) ([]core.APIKey, error) {
	return t.keys(ctx, "SELECT "+keyCols+" FROM partner_api_keys WHERE revoked_at IS NULL ORDER BY id")
}

// ---- where partners' keys may be used from (operator-set) ----

func splitPrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func (t *tx) PartnerAllowedCIDRs(ctx context.Context, partnerID int64) ([]netip.Prefix, error) {
	var s string
	if err := t.queryRow(ctx, "SELECT allowed_cidrs FROM partners WHERE id = $1", partnerID).Scan(&s); err != nil {
		return nil, notFound(err, "partner")
	}
	return splitPrefixes(s)
}

func (t *tx) SetPartnerAllowedCIDRs(ctx context.Context, partnerID int64, cidrs []netip.Prefix) error {
	return t.execOne(ctx, "partner", "UPDATE partners SET allowed_cidrs = $1 WHERE id = $2", joinPrefixes(cidrs), partnerID)
}

func (t *tx) BoundPartners(ctx context.Context) (map[int64][]netip.Prefix, error) {
	rows, err := t.query(ctx, "SELECT id, allowed_cidrs FROM partners WHERE allowed_cidrs <> ''")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64][]netip.Prefix{}
	for rows.Next() {
		var id int64
		var s string
		if err := rows.Scan(&id, &s); err != nil {
			return nil, err
		}
		ps, err := splitPrefixes(s)
		if err != nil {
			// One partner's unreadable ranges leave that partner unbound
			// (no GP, no XML), not every partner's GP failing.
			slog.Warn("partner allowed ranges unreadable; the partner is treated as bound nowhere until the operator sets them again (palisade partner show, deny-ip, allow-ip)",
				"partner", id, "allowed_cidrs", s, "err", err)
			continue
		}
		out[id] = ps
	}
	return out, rows.Err()
}

func (t *tx) BoundAPIKeys(ctx context.Context) ([]core.APIKey, error) {
	rows, err := t.query(ctx, "SELECT "+keyCols+" FROM partner_api_keys k WHERE revoked_at IS NULL AND allowed_cidrs <> '' "+
		"AND EXISTS (SELECT 1 FROM partners p WHERE p.id = k.partner_id AND p.allowed_cidrs <> '') ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.APIKey
	for rows.Next() {
		k, err := scanKey(rows)
		var bad badRangesError
		if errors.As(err, &bad) {
			// As BoundPartners: that key signs no GP request; every
			// other key still does.
			slog.Warn("API key allowed ranges unreadable; the key is treated as bound nowhere (revoke or rotate it)",
				"partner", k.PartnerID, "key", k.Prefix, "err", err)
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// ---- getAccounts ----

func (t *tx) SubaccountPage(ctx context.Context, partnerID int64, limit, offset int) (int, []core.Subaccount, error) {
	var total int
	if err := t.queryRow(ctx, "SELECT COUNT(*) FROM subaccounts WHERE partner_id = $1 AND deleted_at IS NULL", partnerID).Scan(&total); err != nil {
		return 0, nil, err
	}
	rows, err := t.query(ctx, "SELECT "+subCols+" FROM subaccounts WHERE partner_id = $1 AND deleted_at IS NULL ORDER BY id LIMIT $2 OFFSET $3", partnerID, limit, offset)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	var out []core.Subaccount
	for rows.Next() {
		a, err := scanSub(rows)
		if err != nil {
			return 0, nil, err
		}
		out = append(out, a)
	}
	return total, out, rows.Err()
}

func (t *tx) WebsitesOfSubaccounts(ctx context.Context, partnerID int64, ids []int64) ([]core.Website, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := []any{partnerID}
	marks := make([]string, len(ids))
	for i, id := range ids {
		args = append(args, id)
		marks[i] = "$" + itoa(len(args))
	}
	return t.websites(ctx, "SELECT "+websiteCols+websiteFrom+" WHERE w.partner_id = $1 AND w.status <> 'deleted' AND w.subaccount_id IN ("+strings.Join(marks, ", ")+") ORDER BY w.id", args...)
}

func (t *tx) SetSubaccountPassword(ctx context.Context, partnerID, id int64, hash string) error {
	return t.execOne(ctx, "subaccount", "UPDATE subaccounts SET password_hash = $1 WHERE partner_id = $2 AND id = $3 AND deleted_at IS NULL", hash, partnerID, id)
}

func (t *tx) SetSubaccountEmail(ctx context.Context, partnerID, id int64, email string) error {
	err := t.execOne(ctx, "subaccount", "UPDATE subaccounts SET email = $1 WHERE partner_id = $2 AND id = $3 AND deleted_at IS NULL", email, partnerID, id)
	if _, ok := t.d.uniqueViolation(err); ok {
		return core.Errorf(core.ECONFLICT, "another account already has the email %s", email)
	}
	return err
}

func (t *tx) SubaccountPasswordHash(ctx context.Context, partnerID, id int64) (string, error) {
	var h string
	err := t.queryRow(ctx, "SELECT password_hash FROM subaccounts WHERE partner_id = $1 AND id = $2 AND deleted_at IS NULL", partnerID, id).Scan(&h)
	return h, notFound(err, "subaccount")
}

func (t *tx) InsertNonce(ctx context.Context, partnerID int64, domain, ts, hash string, at time.Time) error {
	_, err := t.exec(ctx, "INSERT INTO gp_nonces (partner_id, domain, ts, hash, created_at) VALUES ($1, $2, $3, $4, $5)", partnerID, domain, ts, hash, at)
	if _, ok := t.d.uniqueViolation(err); ok {
		return core.Errorf(core.ECONFLICT, "this request (domain, timestamp, hash) was already used; send a new timestamp")
	}
	return err
}

func (t *tx) PurgeNonces(ctx context.Context, before time.Time) (int64, error) {
	res, err := t.exec(ctx, "DELETE FROM gp_nonces WHERE created_at < $1", before)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ---- outbox ----

const emailCols = "e.id, e.partner_id, e.subaccount_id, e.website_id, COALESCE(w.domain, ''), e.kind, e.dedupe, e.to_addr, e.subject, e.body, e.status, e.attempts, e.next_attempt_at, e.last_error, e.created_at, e.sent_at"
const emailFrom = " FROM emails e LEFT JOIN websites w ON w.id = e.website_id"

func scanEmail(row interface{ Scan(...any) error }) (core.Email, error) {
	var e core.Email
	var sub, web sql.NullInt64
	err := row.Scan(&e.ID, &e.PartnerID, &sub, &web, &e.Domain, &e.Kind, &e.Dedupe, &e.To, &e.Subject, &e.Body, &e.Status, &e.Attempts,
		timeCol{&e.NextAttemptAt}, &e.LastError, timeCol{&e.CreatedAt}, nullTimeCol{&e.SentAt})
	e.SubaccountID, e.WebsiteID = sub.Int64, web.Int64
	return e, err
}

func (t *tx) InsertEmail(ctx context.Context, e *core.Email) (bool, error) {
	id, err := t.insert(ctx, "INSERT INTO emails (partner_id, subaccount_id, website_id, kind, dedupe, to_addr, subject, body, status, attempts, next_attempt_at, last_error, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, '', $11)",
		e.PartnerID, nullID(e.SubaccountID), nullID(e.WebsiteID), e.Kind, e.Dedupe, e.To, e.Subject, e.Body, e.Status, e.NextAttemptAt, e.CreatedAt)
	if _, ok := t.d.uniqueViolation(err); ok {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	e.ID = id
	return true, nil
}

func (t *tx) emails(ctx context.Context, q string, args ...any) ([]core.Email, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.Email
	for rows.Next() {
		e, err := scanEmail(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (t *tx) Emails(ctx context.Context, partnerID int64, f core.EmailFilter) ([]core.Email, error) {
	w := where{}
	w.add("e.partner_id = ?", partnerID)
	if f.Status != "" {
		w.add("e.status = ?", f.Status)
	}
	if !f.Before.IsZero() {
		w.add("e.created_at < ?", f.Before)
	}
	if !f.After.IsZero() {
		w.add("e.created_at > ?", f.After)
	}
	if f.Cursor > 0 {
		w.add("e.id > ?", f.Cursor)
	}
	q, args := w.sql("SELECT "+emailCols+emailFrom, "e.id", f.Limit)
	return t.emails(ctx, q, args...)
}

func (t *tx) Email(ctx context.Context, partnerID, id int64) (core.Email, error) {
	e, err := scanEmail(t.queryRow(ctx, "SELECT "+emailCols+emailFrom+" WHERE e.partner_id = $1 AND e.id = $2", partnerID, id))
	return e, notFound(err, "email")
}

func (t *tx) FailStuckEmails(ctx context.Context, claimedBefore time.Time) (int64, error) {
	res, err := t.exec(ctx, "UPDATE emails SET status = 'failed', last_error = 'delivery was interrupted: it may or may not have been sent, so it is not retried (no email is ever sent twice)' WHERE status = 'sending' AND next_attempt_at < $1", claimedBefore)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (t *tx) ClaimEmail(ctx context.Context, id int64, now time.Time) (bool, error) {
	// next_attempt_at becomes the claim time, so that FailStuckEmails can
	// tell a claim that never finished.
	res, err := t.exec(ctx, "UPDATE emails SET status = 'sending', next_attempt_at = $2 WHERE id = $1 AND status = 'pending'", id, now)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (t *tx) DueEmails(ctx context.Context, now time.Time, limit int) ([]core.Email, error) {
	return t.emails(ctx, "SELECT "+emailCols+emailFrom+" WHERE e.status = 'pending' AND e.next_attempt_at <= $1 ORDER BY e.next_attempt_at, e.id LIMIT $2", now, limit)
}

func (t *tx) SetEmailStatus(ctx context.Context, e *core.Email) error {
	return t.execOne(ctx, "email", "UPDATE emails SET status = $1, attempts = $2, next_attempt_at = $3, last_error = $4, sent_at = $5 WHERE id = $6 AND partner_id = $7",
		e.Status, e.Attempts, e.NextAttemptAt, e.LastError, e.SentAt, e.ID, e.PartnerID)
}

func (t *tx) EmailTemplate(ctx context.Context, partnerID int64, kind string) (core.EmailTemplate, error) {
	tm := core.EmailTemplate{Kind: kind, Custom: true}
	err := t.queryRow(ctx, "SELECT subject, body, updated_at FROM email_templates WHERE partner_id = $1 AND kind = $2", partnerID, kind).
		Scan(&tm.Subject, &tm.Body, timeCol{&tm.UpdatedAt})
	return tm, notFound(err, "email template")
}

func (t *tx) SetEmailTemplate(ctx context.Context, partnerID int64, tm core.EmailTemplate) error {
	_, err := t.exec(ctx, "INSERT INTO email_templates (partner_id, kind, subject, body, updated_at) VALUES ($1, $2, $3, $4, $5) "+
		"ON CONFLICT (partner_id, kind) DO UPDATE SET subject = excluded.subject, body = excluded.body, updated_at = excluded.updated_at",
		partnerID, tm.Kind, tm.Subject, tm.Body, tm.UpdatedAt)
	return err
}

func (t *tx) DeleteEmailTemplate(ctx context.Context, partnerID int64, kind string) error {
	_, err := t.exec(ctx, "DELETE FROM email_templates WHERE partner_id = $1 AND kind = $2", partnerID, kind)
	return err
}

func (t *tx) ExpiringWebsites(ctx context.Context, from, to time.Time) ([]core.Website, error) {
	return t.websites(ctx, "SELECT "+websiteCols+websiteFrom+" WHERE w.status IN ('setup', 'online') AND w.expires_at >= $1 AND w.expires_at < $2 ORDER BY w.id", from, to)
}

// ---- single sign-on ----

func (t *tx) InsertLoginToken(ctx context.Context, lt *core.LoginToken) error {
	_, err := t.exec(ctx, "INSERT INTO login_tokens (hash, partner_id, subaccount_id, website_id, scope, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
		lt.Hash, lt.PartnerID, nullID(lt.SubaccountID), nullID(lt.WebsiteID), lt.Scope, lt.CreatedAt, lt.ExpiresAt)
	return err
}

func (t *tx) UseLoginToken(ctx context.Context, hash string, now time.Time) (core.LoginToken, error) {
	res, err := t.exec(ctx, "UPDATE login_tokens SET used_at = $1 WHERE hash = $2 AND used_at IS NULL AND expires_at > $1", now, hash)
	if err != nil {
		return core.LoginToken{}, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return core.LoginToken{}, core.Errorf(core.EUNAUTHORIZED, "this login link is invalid, expired or already used; ask for a new one")
	}
	lt := core.LoginToken{Hash: hash}
	var sub, web sql.NullInt64
	err = t.queryRow(ctx, "SELECT partner_id, subaccount_id, website_id, scope, created_at, expires_at FROM login_tokens WHERE hash = $1", hash).
		Scan(&lt.PartnerID, &sub, &web, &lt.Scope, timeCol{&lt.CreatedAt}, timeCol{&lt.ExpiresAt})
	lt.SubaccountID, lt.WebsiteID, lt.UsedAt = sub.Int64, web.Int64, &now
	return lt, err
}

func (t *tx) InsertSession(ctx context.Context, s *core.Session) error {
	_, err := t.exec(ctx, "INSERT INTO sessions (hash, partner_id, subaccount_id, website_id, user_id, scope, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
		s.Hash, nullID(s.PartnerID), nullID(s.SubaccountID), nullID(s.WebsiteID), nullID(s.UserID), s.Scope, s.CreatedAt, s.ExpiresAt)
	return err
}

func (t *tx) Session(ctx context.Context, hash string, now time.Time) (core.Session, error) {
	s := core.Session{Hash: hash}
	var partner, sub, web, user sql.NullInt64
	err := t.queryRow(ctx, "SELECT partner_id, subaccount_id, website_id, user_id, scope, created_at, expires_at FROM sessions WHERE hash = $1 AND expires_at > $2", hash, now).
		Scan(&partner, &sub, &web, &user, &s.Scope, timeCol{&s.CreatedAt}, timeCol{&s.ExpiresAt})
	s.PartnerID, s.SubaccountID, s.WebsiteID, s.UserID = partner.Int64, sub.Int64, web.Int64, user.Int64
	return s, notFound(err, "session")
}

func (t *tx) DeleteSession(ctx context.Context, hash string) error {
	_, err := t.exec(ctx, "DELETE FROM sessions WHERE hash = $1", hash)
	return err
}

func (t *tx) PurgeLogins(ctx context.Context, now time.Time) (int64, error) {
	a, err := t.exec(ctx, "DELETE FROM login_tokens WHERE expires_at < $1", now.Add(-24*time.Hour))
	if err != nil {
		return 0, err
	}
	b, err := t.exec(ctx, "DELETE FROM sessions WHERE expires_at < $1", now)
	if err != nil {
		return 0, err
	}
	na, _ := a.RowsAffected()
	nb, _ := b.RowsAffected()
	return na + nb, nil
}

// ---- add-ons ----

const addonCols = "a.id, a.partner_id, a.website_id, w.domain, a.product, a.quantity, a.status, a.created_at, a.updated_at"
const addonFrom = " FROM addons a JOIN websites w ON w.id = a.website_id"

func scanAddon(row interface{ Scan(...any) error }) (core.Addon, error) {
	var a core.Addon
	err := row.Scan(&a.ID, &a.PartnerID, &a.WebsiteID, &a.Domain, &a.Product, &a.Quantity, &a.Status, timeCol{&a.CreatedAt}, timeCol{&a.UpdatedAt})
	return a, err
}

func (t *tx) InsertAddon(ctx context.Context, a *core.Addon) error {
	id, err := t.insert(ctx, "INSERT INTO addons (partner_id, website_id, product, quantity, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
		a.PartnerID, a.WebsiteID, a.Product, a.Quantity, a.Status, a.CreatedAt, a.UpdatedAt)
	a.ID = id
	return err
}

func (t *tx) Addon(ctx context.Context, partnerID, id int64, lock bool) (core.Addon, error) {
	q := "SELECT " + addonCols + addonFrom + " WHERE a.partner_id = $1 AND a.id = $2"
	if lock {
		q += strings.Replace(t.d.lock(), "FOR UPDATE", "FOR UPDATE OF a", 1)
	}
	a, err := scanAddon(t.queryRow(ctx, q, partnerID, id))
	return a, notFound(err, "add-on")
}

func (t *tx) Addons(ctx context.Context, partnerID, websiteID int64) ([]core.Addon, error) {
	rows, err := t.query(ctx, "SELECT "+addonCols+addonFrom+" WHERE a.partner_id = $1 AND a.website_id = $2 AND a.status = 'active' ORDER BY a.id", partnerID, websiteID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.Addon
	for rows.Next() {
		a, err := scanAddon(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func (t *tx) UpdateAddon(ctx context.Context, a *core.Addon) error {
	return t.execOne(ctx, "add-on", "UPDATE addons SET quantity = $1, status = $2, updated_at = $3 WHERE id = $4 AND partner_id = $5",
		a.Quantity, a.Status, a.UpdatedAt, a.ID, a.PartnerID)
}

// ---- console users ----

const consoleCols = "id, partner_id, role, email, password_hash, totp_secret, totp_last_step, created_at"

func scanConsoleUser(row interface{ Scan(...any) error }) (core.ConsoleUser, error) {
	var u core.ConsoleUser
	var partner sql.NullInt64
	err := row.Scan(&u.ID, &partner, &u.Role, &u.Email, &u.PasswordHash, &u.TOTPSecret, &u.TOTPLastStep, timeCol{&u.CreatedAt})
	u.PartnerID = partner.Int64
	return u, err
}

func (t *tx) InsertConsoleUser(ctx context.Context, u *core.ConsoleUser) error {
	id, err := t.insert(ctx, "INSERT INTO console_users (partner_id, role, email, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
		nullID(u.PartnerID), u.Role, u.Email, u.PasswordHash, u.CreatedAt)
	if _, ok := t.d.uniqueViolation(err); ok {
		return core.Errorf(core.ECONFLICT, "a console user with email %s already exists", u.Email)
	}
	u.ID = id
	return err
}

func (t *tx) ConsoleUserByEmail(ctx context.Context, email string) (core.ConsoleUser, error) {
	u, err := scanConsoleUser(t.queryRow(ctx, "SELECT "+consoleCols+" FROM console_users WHERE email = $1 AND disabled_at IS NULL", email))
	return u, notFound(err, "console user")
}

func (t *tx) ConsoleUser(ctx context.Context, id int64) (core.ConsoleUser, error) {
	u, err := scanConsoleUser(t.queryRow(ctx, "SELECT "+consoleCols+" FROM console_users WHERE id = $1 AND disabled_at IS NULL", id))
	return u, notFound(err, "console user")
}

func (t *tx) SetConsoleUserTOTP(ctx context.Context, id int64, secret string, lastStep int64) error {
	return t.execOne(ctx, "console user", "UPDATE console_users SET totp_secret = $1, totp_last_step = $2 WHERE id = $3", secret, lastStep, id)
}

func (t *tx) ConsoleUsersWithPlainTOTP(ctx context.Context) ([]core.ConsoleUser, error) {
	rows, err := t.query(ctx, "SELECT "+consoleCols+" FROM console_users WHERE totp_secret <> '' AND totp_secret NOT LIKE 'v1:%' ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.ConsoleUser
	for rows.Next() {
		u, err := scanConsoleUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

func (t *tx) SetConsoleUserPassword(ctx context.Context, id int64, hash string) error {
	return t.execOne(ctx, "console user", "UPDATE console_users SET password_hash = $1 WHERE id = $2", hash, id)
}

func (t *tx) DeleteUserSessions(ctx context.Context, userID int64) error {
	_, err := t.exec(ctx, "DELETE FROM sessions WHERE user_id = $1", userID)
	return err
}

// ---- user API ----

func (t *tx) SetPartnerUserAPI(ctx context.Context, partnerID int64, cfg string) error {
	return t.execOne(ctx, "partner", "UPDATE partners SET userapi = $1 WHERE id = $2", cfg, partnerID)
}

func (t *tx) SubaccountsByEmail(ctx context.Context, email string) ([]core.Subaccount, error) {
	rows, err := t.query(ctx, "SELECT "+subCols+" FROM subaccounts WHERE email = $1 AND deleted_at IS NULL ORDER BY id", email)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.Subaccount
	for rows.Next() {
		a, err := scanSub(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func (t *tx) InsertUserAPIToken(ctx context.Context, tk core.UserAPIToken) error {
	_, err := t.exec(ctx, "INSERT INTO userapi_tokens (hash, partner_id, subaccount_id, kind, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
		tk.Hash, tk.PartnerID, tk.SubaccountID, tk.Kind, tk.CreatedAt, tk.ExpiresAt)
	return err
}

func (t *tx) UserAPIToken(ctx context.Context, hash string) (core.UserAPIToken, error) {
	tk := core.UserAPIToken{Hash: hash}
	err := t.queryRow(ctx, "SELECT partner_id, subaccount_id, kind, created_at, expires_at, revoked_at FROM userapi_tokens WHERE hash = $1", hash).
		Scan(&tk.PartnerID, &tk.SubaccountID, &tk.Kind, timeCol{&tk.CreatedAt}, timeCol{&tk.ExpiresAt}, nullTimeCol{&tk.RevokedAt})
	return tk, notFound(err, "token")
}

func (t *tx) RevokeUserAPIToken(ctx context.Context, hash string, at time.Time) (bool, error) {
	res, err := t.exec(ctx, "UPDATE userapi_tokens SET revoked_at = $1 WHERE hash = $2 AND revoked_at IS NULL", at, hash)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (t *tx) RevokeSubaccountUserAPITokens(ctx context.Context, partnerID, subaccountID int64, at time.Time) (int64, error) {
	res, err := t.exec(ctx, "UPDATE userapi_tokens SET revoked_at = $1 WHERE partner_id = $2 AND subaccount_id = $3 AND revoked_at IS NULL", at, partnerID, subaccountID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (t *tx) InsertUserAPILog(ctx context.Context, e *core.UserAPILogEntry) error {
	id, err := t.insert(ctx, "INSERT INTO userapi_log (partner_id, subaccount_id, at, method, route, path, status, source_ip, request, response) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
		e.PartnerID, nullID(e.SubaccountID), e.At, e.Method, e.Route, e.Path, e.Status, e.SourceIP, e.Request, e.Response)
	e.ID = id
	return err
}

func (t *tx) UserAPILog(ctx context.Context, partnerID, before int64, limit int) ([]core.UserAPILogEntry, error) {
	w := where{}
	w.add("partner_id = ?", partnerID)
	if before > 0 {
		w.add("id < ?", before)
	}
	q, args := w.sql("SELECT id, partner_id, subaccount_id, at, method, route, path, status, source_ip, request, response FROM userapi_log", "id DESC", limit)
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.UserAPILogEntry
	for rows.Next() {
		var e core.UserAPILogEntry
		var sub sql.NullInt64
		if err := rows.Scan(&e.ID, &e.PartnerID, &sub, timeCol{&e.At}, &e.Method, &e.Route, &e.Path, &e.Status, &e.SourceIP, &e.Request, &e.Response); err != nil {
			return nil, err
		}
		e.SubaccountID = sub.Int64
		out = append(out, e)
	}
	return out, rows.Err()
}

func (t *tx) PurgeUserAPI(ctx context.Context, logBefore, tokensBefore time.Time) error {
	if _, err := t.exec(ctx, "DELETE FROM userapi_log WHERE at < $1", logBefore); err != nil {
		return err
	}
	_, err := t.exec(ctx, "DELETE FROM userapi_tokens WHERE expires_at < $1", tokensBefore)
	return err
}
