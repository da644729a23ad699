package store

import (
	"context"
	"database/sql"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/core"
)

// ---- plans ----

const planCols = "id, name, monthly_quota, price_cents, rank, waf, created_at"

func scanPlan(row interface{ Scan(...any) error }) (core.Plan, error) {
	var p core.Plan
	var price int64
	err := row.Scan(&p.ID, &p.Name, &p.MonthlyQuota, &price, &p.Rank, &p.WAF, timeCol{&p.CreatedAt})
	p.Price = core.Cents(price)
	return p, err
}

func (t *tx) Plans(ctx context.Context) ([]core.Plan, error) {
	rows, err := t.query(ctx, "SELECT "+planCols+" FROM plans ORDER BY rank, id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.Plan
	for rows.Next() {
		p, err := scanPlan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func (t *tx) PlanByName(ctx context.Context, name string) (core.Plan, error) {
	p, err := scanPlan(t.queryRow(ctx, "SELECT "+planCols+" FROM plans WHERE name = $1", name))
	return p, notFound(err, "plan")
}

func (t *tx) PlanByID(ctx context.Context, id int64) (core.Plan, error) {
	p, err := scanPlan(t.queryRow(ctx, "SELECT "+planCols+" FROM plans WHERE id = $1", id))
	return p, notFound(err, "plan")
}

func (t *tx) InsertPlan(ctx context.Context, p *core.Plan) error {
	id, err := t.insert(ctx, "INSERT INTO plans (name, monthly_quota, price_cents, rank, waf, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
		p.Name, p.MonthlyQuota, int64(p.Price), p.Rank, p.WAF, p.CreatedAt)
	if _, ok := t.d.uniqueViolation(err); ok {
		return core.Errorf(core.ECONFLICT, "plan %q already exists", p.Name)
	}
	p.ID = id
	return err
}

func (t *tx) SetPlanWAF(ctx context.Context, planID int64, on bool) error {
	return t.execOne(ctx, "plan", "UPDATE plans SET waf = $1 WHERE id = $2", on, planID)
}

// ---- partners ----

const partnerCols = "id, name, email, balance_cents, allow_downgrade, created_at, lists, brand_name, brand_logo, brand_color, support_url, embed_origins, userapi, default_lang, powered_by"

func scanPartner(row interface{ Scan(...any) error }) (core.Partner, error) {
	var p core.Partner
	var bal int64
	err := row.Scan(&p.ID, &p.Name, &p.Email, &bal, &p.AllowDowngrade, timeCol{&p.CreatedAt}, &p.Lists, &p.BrandName, &p.BrandLogo, &p.BrandColor, &p.SupportURL, &p.EmbedOrigins, &p.UserAPI, &p.DefaultLang, &p.PoweredBy)
	p.Balance = core.Cents(bal)
	return p, err
}

func (t *tx) InsertPartner(ctx context.Context, p *core.Partner) error {
	id, err := t.insert(ctx, "INSERT INTO partners (name, email, balance_cents, allow_downgrade, created_at, default_lang) VALUES ($1, $2, 0, $3, $4, $5)",
		p.Name, p.Email, p.AllowDowngrade, p.CreatedAt, p.Language())
	if _, ok := t.d.uniqueViolation(err); ok {
		return core.Errorf(core.ECONFLICT, "a partner named %q already exists", p.Name)
	}
	p.ID = id
	return err
}

func (t *tx) Partner(ctx context.Context, id int64, lock bool) (core.Partner, error) {
	q := "SELECT " + partnerCols + " FROM partners WHERE id = $1"
	if lock {
		q += t.d.lock()
	}
	p, err := scanPartner(t.queryRow(ctx, q, id))
	return p, notFound(err, "partner")
}

func (t *tx) PartnerByName(ctx context.Context, name string) (core.Partner, error) {
	p, err := scanPartner(t.queryRow(ctx, "SELECT "+partnerCols+" FROM partners WHERE name = $1", name))
	if errors.Is(err, sql.ErrNoRows) {
		return p, core.Errorf(core.ENOTFOUND, "no partner is named %q", name)
	}
	return p, err
}

func (t *tx) Partners(ctx context.Context) ([]core.Partner, error) {
	rows, err := t.query(ctx, "SELECT "+partnerCols+" FROM partners ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.Partner
	for rows.Next() {
		p, err := scanPartner(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func (t *tx) SetPartnerBalance(ctx context.Context, partnerID int64, balance core.Cents) error {
	return t.execOne(ctx, "partner", "UPDATE partners SET balance_cents = $1 WHERE id = $2", int64(balance), partnerID)
}

func (t *tx) SetPartnerBranding(ctx context.Context, partnerID int64, b core.Branding) error {
	lang := b.DefaultLang
	if lang == "" {
		lang = core.DefaultLanguage
	}
	return t.execOne(ctx, "partner", "UPDATE partners SET brand_name = $1, brand_logo = $2, brand_color = $3, support_url = $4, embed_origins = $5, default_lang = $6, powered_by = $7 WHERE id = $8",
		b.Name, b.Logo, b.Color, b.SupportURL, strings.Join(b.EmbedOrigins, " "), lang, b.PoweredBy, partnerID)
}

func (t *tx) SetPartnerLists(ctx context.Context, partnerID int64, lists string) error {
	return t.execOne(ctx, "partner", "UPDATE partners SET lists = $1 WHERE id = $2", lists, partnerID)
}

func (t *tx) SetPartnerAllowDowngrade(ctx context.Context, partnerID int64, allow bool) error {
	return t.execOne(ctx, "partner", "UPDATE partners SET allow_downgrade = $1 WHERE id = $2", allow, partnerID)
}

// execOne runs a statement that must change exactly one row.
func (t *tx) execOne(ctx context.Context, what, q string, args ...any) error {
	res, err := t.exec(ctx, q, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return core.Errorf(core.ENOTFOUND, "%s not found", what)
	}
	return nil
}

// ---- API keys ----

const keyCols = "id, partner_id, key_prefix, key_hash, key_sealed, allowed_cidrs, created_at, name"

func scanKey(row interface{ Scan(...any) error }) (core.APIKey, error) {
	var k core.APIKey
	var cidrs string
	if err := row.Scan(&k.ID, &k.PartnerID, &k.Prefix, &k.Hash, &k.Sealed, &cidrs, timeCol{&k.CreatedAt}, &k.Name); err != nil {
		return k, err
	}
	for _, s := range strings.Split(cidrs, ",") {
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return k, badRangesError{err}
		}
		k.AllowedCIDRs = append(k.AllowedCIDRs, p)
	}
	return k, nil
}

// badRangesError is a stored key whose ranges do not parse (an old
// partner allow-ip stored "invalid Prefix").
type badRangesError struct{ err error }

func (e badRangesError) Error() string { return "API key allowed ranges: " + e.err.Error() }
func (e badRangesError) Unwrap() error { return e.err }

func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func (t *tx) InsertAPIKey(ctx context.Context, k *core.APIKey) error {
	id, err := t.insert(ctx, "INSERT INTO partner_api_keys (partner_id, key_prefix, key_hash, key_sealed, allowed_cidrs, created_at, name) VALUES ($1, $2, $3, $4, $5, $6, $7)",
		k.PartnerID, k.Prefix, k.Hash, k.Sealed, joinPrefixes(k.AllowedCIDRs), k.CreatedAt, k.Name)
	k.ID = id
	return err
}

func (t *tx) APIKeyByHash(ctx context.Context, hash string) (core.APIKey, error) {
	k, err := scanKey(t.queryRow(ctx, "SELECT "+keyCols+" FROM partner_api_keys WHERE key_hash = $1 AND revoked_at IS NULL", hash))
	return k, notFound(err, "API key")
}

func (t *tx) APIKeys(ctx context.Context, partnerID int64) ([]core.APIKey, error) {
	return t.keys(ctx, "SELECT "+keyCols+" FROM partner_api_keys WHERE partner_id = $1 AND revoked_at IS NULL ORDER BY id", partnerID)
}

func (t *tx) keys(ctx context.Context, q string, args ...any) ([]core.APIKey, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.APIKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

func (t *tx) SetAPIKeyCIDRs(ctx context.Context, partnerID, keyID int64, cidrs []netip.Prefix) error {
	return t.execOne(ctx, "API key", "UPDATE partner_api_keys SET allowed_cidrs = $1 WHERE id = $2 AND partner_id = $3", joinPrefixes(cidrs), keyID, partnerID)
}

func (t *tx) RevokeAPIKey(ctx context.Context, partnerID, keyID int64, at time.Time) error {
	return t.execOne(ctx, "API key", "UPDATE partner_api_keys SET revoked_at = $1 WHERE id = $2 AND partner_id = $3 AND revoked_at IS NULL", at, keyID, partnerID)
}

// ---- ledger ----

func (t *tx) InsertLedger(ctx context.Context, e *core.LedgerEntry) error {
	var website any
	if e.WebsiteID != 0 {
		website = e.WebsiteID
	}
	id, err := t.insert(ctx, "INSERT INTO ledger (partner_id, amount_cents, balance_after_cents, kind, reason, website_id, actor, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
		e.PartnerID, int64(e.Amount), int64(e.BalanceAfter), e.Kind, e.Reason, website, e.Actor, e.CreatedAt)
	e.ID = id
	return err
}

func (t *tx) Ledger(ctx context.Context, partnerID, after int64, limit int) ([]core.LedgerEntry, error) {
	return t.ledger(ctx, partnerID, after, limit, "id")
}

// LatestLedger is the partner's last limit ledger entries, newest first.
func (t *tx) LatestLedger(ctx context.Context, partnerID int64, limit int) ([]core.LedgerEntry, error) {
	return t.ledger(ctx, partnerID, 0, limit, "id DESC")
}

func (t *tx) ledger(ctx context.Context, partnerID, after int64, limit int, order string) ([]core.LedgerEntry, error) {
	w := where{}
	w.add("partner_id = ?", partnerID)
	if after > 0 {
		w.add("id > ?", after)
	}
	q, args := w.sql("SELECT id, partner_id, amount_cents, balance_after_cents, kind, reason, website_id, actor, created_at FROM ledger", order, limit)
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.LedgerEntry
	for rows.Next() {
		var e core.LedgerEntry
		var amount, balanceAfter int64
		var website sql.NullInt64
		if err := rows.Scan(&e.ID, &e.PartnerID, &amount, &balanceAfter, &e.Kind, &e.Reason, &website, &e.Actor, timeCol{&e.CreatedAt}); err != nil {
			return nil, err
		}
		e.Amount, e.BalanceAfter, e.WebsiteID = core.Cents(amount), core.Cents(balanceAfter), website.Int64
		out = append(out, e)
	}
	return out, rows.Err()
}

func (t *tx) LedgerSum(ctx context.Context, partnerID int64) (core.Cents, error) {
	var sum int64
	err := t.queryRow(ctx, "SELECT COALESCE(SUM(amount_cents), 0) FROM ledger WHERE partner_id = $1", partnerID).Scan(&sum)
	return core.Cents(sum), err
}

// ---- subaccounts ----

const subCols = "id, partner_id, email, first_name, last_name, company, country, address, lang, api_key_hash, api_key_sealed, created_at"

func scanSub(row interface{ Scan(...any) error }) (core.Subaccount, error) {
	var a core.Subaccount
	err := row.Scan(&a.ID, &a.PartnerID, &a.Email, &a.FirstName, &a.LastName, &a.Company, &a.Country, &a.Address, &a.Lang, &a.APIKeyHash, &a.APIKeySealed, timeCol{&a.CreatedAt})
	return a, err
}

func (t *tx) InsertSubaccount(ctx context.Context, a *core.Subaccount) error {
	id, err := t.insert(ctx, "INSERT INTO subaccounts (partner_id, email, first_name, last_name, company, country, address, lang, api_key_hash, api_key_sealed, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
		a.PartnerID, a.Email, a.FirstName, a.LastName, a.Company, a.Country, a.Address, a.Lang, a.APIKeyHash, a.APIKeySealed, a.CreatedAt)
	if _, ok := t.d.uniqueViolation(err); ok {
		return core.Errorf(core.ECONFLICT, "a subaccount with email %s already exists", a.Email)
	}
	a.ID = id
	return err
}

func (t *tx) Subaccount(ctx context.Context, partnerID, id int64) (core.Subaccount, error) {
	a, err := scanSub(t.queryRow(ctx, "SELECT "+subCols+" FROM subaccounts WHERE partner_id = $1 AND id = $2 AND deleted_at IS NULL", partnerID, id))
	return a, notFound(err, "subaccount")
}

func (t *tx) Subaccounts(ctx context.Context, partnerID int64, f core.SubaccountFilter) ([]core.Subaccount, error) {
	w := where{}
	w.add("partner_id = ?", partnerID)
	w.add("deleted_at IS NULL")
	if f.Email != "" {
		w.add("email = ?", f.Email)
	}
	if f.After > 0 {
		w.add("id > ?", f.After)
	}
	q, args := w.sql("SELECT "+subCols+" FROM subaccounts", "id", f.Limit)
	rows, err := t.query(ctx, q, args...)
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

func (t *tx) DeleteSubaccount(ctx context.Context, partnerID, id int64, at time.Time) error {
	return t.execOne(ctx, "subaccount", "UPDATE subaccounts SET deleted_at = $1 WHERE partner_id = $2 AND id = $3 AND deleted_at IS NULL", at, partnerID, id)
}

// ---- websites ----

const websiteCols = "w.id, w.partner_id, w.subaccount_id, w.domain, w.plan_id, w.status, w.server_key_hash, w.server_key_sealed, w.version, w.settings, " +
	"w.created_at, w.updated_at, w.renewed_at, w.expires_at, w.first_seen_at, w.paused_at, w.deleted_at, w.billing_day, " +
	"p.id, p.name, p.monthly_quota, p.price_cents, p.rank, p.waf, p.created_at"

const websiteFrom = " FROM websites w JOIN plans p ON p.id = w.plan_id"

func scanWebsite(row interface{ Scan(...any) error }) (core.Website, error) {
	var w core.Website
	var sub sql.NullInt64
	var price int64
	err := row.Scan(&w.ID, &w.PartnerID, &sub, &w.Domain, &w.PlanID, &w.Status, &w.ServerKeyHash, &w.ServerKeySealed, &w.Version, &w.Settings,
		timeCol{&w.CreatedAt}, timeCol{&w.UpdatedAt}, timeCol{&w.RenewedAt}, timeCol{&w.ExpiresAt},
		nullTimeCol{&w.FirstSeenAt}, nullTimeCol{&w.PausedAt}, nullTimeCol{&w.DeletedAt}, &w.BillingDay,
		&w.Plan.ID, &w.Plan.Name, &w.Plan.MonthlyQuota, &price, &w.Plan.Rank, &w.Plan.WAF, timeCol{&w.Plan.CreatedAt})
	w.SubaccountID = sub.Int64
	w.Plan.Price = core.Cents(price)
	return w, err
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

func (t *tx) InsertWebsite(ctx context.Context, w *core.Website) error {
	id, err := t.insert(ctx, "INSERT INTO websites (partner_id, subaccount_id, domain, plan_id, status, server_key_hash, server_key_sealed, version, created_at, updated_at, renewed_at, expires_at, billing_day) "+
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
		w.PartnerID, nullID(w.SubaccountID), w.Domain, w.PlanID, w.Status, w.ServerKeyHash, w.ServerKeySealed, w.Version, w.CreatedAt, w.UpdatedAt, w.RenewedAt, w.ExpiresAt, w.BillingDay)
	if _, ok := t.d.uniqueViolation(err); ok {
		return core.Errorf(core.ECONFLICT, "website %s is already registered", w.Domain)
	}
	w.ID = id
	return err
}

func (t *tx) Website(ctx context.Context, partnerID int64, domain string, lock bool) (core.Website, error) {
	q := "SELECT " + websiteCols + websiteFrom + " WHERE w.partner_id = $1 AND w.domain = $2 AND w.status <> 'deleted'"
	if lock {
		q += strings.Replace(t.d.lock(), "FOR UPDATE", "FOR UPDATE OF w", 1)
	}
	w, err := scanWebsite(t.queryRow(ctx, q, partnerID, domain))
	return w, notFound(err, "website")
}

func (t *tx) WebsiteByID(ctx context.Context, partnerID, id int64) (core.Website, error) {
	w, err := scanWebsite(t.queryRow(ctx, "SELECT "+websiteCols+websiteFrom+" WHERE w.partner_id = $1 AND w.id = $2", partnerID, id))
	return w, notFound(err, "website")
}

func (t *tx) Websites(ctx context.Context, partnerID int64, f core.WebsiteFilter) ([]core.Website, error) {
	w := where{}
	w.add("w.partner_id = ?", partnerID)
	if f.Status != "" {
		w.add("w.status = ?", f.Status)
	} else {
		w.add("w.status <> 'deleted'")
	}
	if f.SubaccountID != 0 {
		w.add("w.subaccount_id = ?", f.SubaccountID)
	}
	if f.DomainContains != "" {
		w.add("w.domain LIKE ? ESCAPE '\\'", "%"+escapeLike(strings.ToLower(f.DomainContains))+"%")
	}
	if f.Plan != "" {
		w.add("p.name = ?", f.Plan)
	}
	if f.After > 0 {
		w.add("w.id > ?", f.After)
	}
	q, args := w.sql("SELECT "+websiteCols+websiteFrom, "w.id", f.Limit)
	return t.websites(ctx, q, args...)
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func (t *tx) DomainTaken(ctx context.Context, domain string) (bool, error) {
	var n int
	err := t.queryRow(ctx, "SELECT COUNT(*) FROM websites WHERE domain = $1 AND status <> 'deleted'", domain).Scan(&n)
	return n > 0, err
}

func (t *tx) UpdateWebsite(ctx context.Context, w *core.Website) error {
	return t.execOne(ctx, "website",
		"UPDATE websites SET subaccount_id = $1, plan_id = $2, status = $3, version = $4, updated_at = $5, renewed_at = $6, expires_at = $7, "+
			"first_seen_at = $8, paused_at = $9, deleted_at = $10, settings = $11, billing_day = $12 WHERE id = $13 AND partner_id = $14",
		nullID(w.SubaccountID), w.PlanID, w.Status, w.Version, w.UpdatedAt, w.RenewedAt, w.ExpiresAt,
		w.FirstSeenAt, w.PausedAt, w.DeletedAt, settingsOrDefault(w.Settings), w.BillingDay, w.ID, w.PartnerID)
}

func settingsOrDefault(s string) string {
	if s == "" {
		return "{}"
	}
	return s
}

// websites runs a query of websiteCols and returns its rows.
func (t *tx) websites(ctx context.Context, q string, args ...any) ([]core.Website, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.Website
	for rows.Next() {
		w, err := scanWebsite(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// AllWebsites lists every website that is not deleted, of all partners, for
// the decision engine.
func (t *tx) AllWebsites(ctx context.Context) ([]core.Website, error) {
	return t.websites(ctx, "SELECT "+websiteCols+websiteFrom+" WHERE w.status <> 'deleted' ORDER BY w.id")
}

// MarkSeen moves a website in setup to online, recording when traffic was
// first seen; it reports whether it changed anything.
func (t *tx) MarkSeen(ctx context.Context, websiteID int64, at time.Time) (bool, error) {
	res, err := t.exec(ctx, "UPDATE websites SET status = 'online', first_seen_at = $1, version = version + 1, updated_at = $1 WHERE id = $2 AND status = 'setup'", at, websiteID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// ---- audit ----

func (t *tx) InsertAudit(ctx context.Context, e *core.AuditEntry) error {
	id, err := t.insert(ctx, "INSERT INTO audit_log (at, partner_id, actor, protocol, source_ip, object_type, object_id, action, old_state, new_state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
		e.At, nullID(e.PartnerID), e.Actor, e.Protocol, e.SourceIP, e.ObjectType, e.ObjectID, e.Action, e.OldState, e.NewState)
	e.ID = id
	return err
}

func (t *tx) Audit(ctx context.Context, partnerID, after int64, limit int) ([]core.AuditEntry, error) {
	w := where{}
	w.add("partner_id = ?", partnerID)
	if after > 0 {
		w.add("id > ?", after)
	}
	return t.audit(ctx, w, limit, "id")
}

// LatestAudit is the partner's last limit audit entries, newest first.
func (t *tx) LatestAudit(ctx context.Context, partnerID int64, limit int) ([]core.AuditEntry, error) {
	w := where{}
	w.add("partner_id = ?", partnerID)
	return t.audit(ctx, w, limit, "id DESC")
}

// audit reads audit entries matching w in order.
func (t *tx) audit(ctx context.Context, w where, limit int, order string) ([]core.AuditEntry, error) {
	q, args := w.sql("SELECT id, at, partner_id, actor, protocol, source_ip, object_type, object_id, action, old_state, new_state FROM audit_log", order, limit)
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.AuditEntry
	for rows.Next() {
		var e core.AuditEntry
		var pid sql.NullInt64
		if err := rows.Scan(&e.ID, timeCol{&e.At}, &pid, &e.Actor, &e.Protocol, &e.SourceIP, &e.ObjectType, &e.ObjectID, &e.Action, &e.OldState, &e.NewState); err != nil {
			return nil, err
		}
		e.PartnerID = pid.Int64
		out = append(out, e)
	}
	return out, rows.Err()
}

// ---- meta ----

func (t *tx) Meta(ctx context.Context, key string) (string, error) {
	var v string
	err := t.queryRow(ctx, "SELECT value FROM meta WHERE key = $1", key).Scan(&v)
	return v, notFound(err, "meta "+key)
}

func (t *tx) SetMeta(ctx context.Context, key, value string) error {
	_, err := t.exec(ctx, "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value)
	return err
}

// ---- idempotency ----

func (t *tx) Idempotency(ctx context.Context, partnerID int64, key string) (core.IdempotencyRecord, error) {
	r := core.IdempotencyRecord{PartnerID: partnerID, Key: key}
	err := t.queryRow(ctx, "SELECT request_hash, object_type, object_id, created_at FROM idempotency_keys WHERE partner_id = $1 AND key = $2", partnerID, key).
		Scan(&r.RequestHash, &r.ObjectType, &r.ObjectID, timeCol{&r.CreatedAt})
	return r, notFound(err, "idempotency key")
}

func (t *tx) InsertIdempotency(ctx context.Context, r *core.IdempotencyRecord) error {
	_, err := t.exec(ctx, "INSERT INTO idempotency_keys (partner_id, key, request_hash, object_type, object_id, created_at) VALUES ($1, $2, $3, $4, '', $5)",
		r.PartnerID, r.Key, r.RequestHash, r.ObjectType, r.CreatedAt)
	if _, ok := t.d.uniqueViolation(err); ok {
		return core.ErrIdempotencyRace
	}
	return err
}

func (t *tx) FinishIdempotency(ctx context.Context, partnerID int64, key, objectID string) error {
	return t.execOne(ctx, "idempotency key", "UPDATE idempotency_keys SET object_id = $1 WHERE partner_id = $2 AND key = $3", objectID, partnerID, key)
}

func (t *tx) PurgeIdempotency(ctx context.Context, before time.Time) (int64, error) {
	res, err := t.exec(ctx, "DELETE FROM idempotency_keys WHERE created_at < $1", before)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (t *tx) DeleteIdempotency(ctx context.Context, partnerID int64, key string) error {
	_, err := t.exec(ctx, "DELETE FROM idempotency_keys WHERE partner_id = $1 AND key = $2", partnerID, key)
	return err
}

// where builds a WHERE clause with numbered placeholders from "?" markers.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	for _, a := range args {
		w.args = append(w.args, a)
		cond = strings.Replace(cond, "?", "$"+itoa(len(w.args)), 1)
	}
	w.conds = append(w.conds, cond)
}

func (w *where) sql(selectFrom, orderBy string, limit int) (string, []any) {
	q := selectFrom
	if len(w.conds) > 0 {
		q += " WHERE " + strings.Join(w.conds, " AND ")
	}
	q += " ORDER BY " + orderBy
	args := w.args
	if limit > 0 {
		args = append(args, limit)
		q += " LIMIT $" + itoa(len(args))
	}
	return q, args
}

func itoa(n int) string { return strconv.Itoa(n) }
