package core

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// Store persists the domain. Update runs fn in one read-write transaction and
// View in a read-only one; fn's error rolls the transaction back. Every
// method on Tx takes the tenant (partner) as an argument where the object
// belongs to one, so a query can never wander into another partner's data.
type Store interface {
	Update(ctx context.Context, fn func(Tx) error) error
	View(ctx context.Context, fn func(Tx) error) error
	Ping(ctx context.Context) error
	Close() error
}

// ErrIdempotencyRace is returned by Tx.InsertIdempotency when a concurrent
// transaction inserted the same key first; the Service retries and replays.
var ErrIdempotencyRace = errors.New("idempotency key inserted concurrently")

// WebsiteFilter narrows Tx.Websites. Zero fields do not filter.
type WebsiteFilter struct {
	Status         string // one status; "" lists all but deleted
	SubaccountID   int64
	DomainContains string
	Plan           string
	After          int64 // cursor: list IDs greater than this
	Limit          int   // 0: no limit
}

// SubaccountFilter narrows Tx.Subaccounts.
type SubaccountFilter struct {
	Email string
	After int64
	Limit int
}

// Tx is the set of queries the Service runs inside one transaction. Lookups
// of a missing object return an *Error with code ENOTFOUND; inserts that
// break a uniqueness rule return ECONFLICT.
type Tx interface {
	WAFPatchTx // virtual patches (waf.go)
	OverviewTx // the overviews (overview.go)
	RuleHitsTx // per-rule hit counts (rulehits.go)

	AllowThisTx    // "allow this" from an event (allowthis.go)
	ScanTx         // scan jobs and findings (scanning.go)
	ScanSettingsTx // where a website's files, database and backups are (scan_settings.go)
	ScanAgentTx    // scan agents, and their jobs (scan_agents.go)

	Plans(ctx context.Context) ([]Plan, error)
	PlanByName(ctx context.Context, name string) (Plan, error)
	PlanByID(ctx context.Context, id int64) (Plan, error)
	InsertPlan(ctx context.Context, p *Plan) error
	// SetPlanWAF says whether websites on the plan have the website firewall.
	SetPlanWAF(ctx context.Context, planID int64, on bool) error

	InsertPartner(ctx context.Context, p *Partner) error
	// Partner loads a partner; lock holds its row until the transaction ends,
	// which serialises every change of its balance.
	Partner(ctx context.Context, id int64, lock bool) (Partner, error)
	PartnerByName(ctx context.Context, name string) (Partner, error)
	Partners(ctx context.Context) ([]Partner, error)
	SetPartnerBalance(ctx context.Context, partnerID int64, balance Cents) error
	SetPartnerAllowDowngrade(ctx context.Context, partnerID int64, allow bool) error
	SetPartnerLists(ctx context.Context, partnerID int64, lists string) error
	// SetPartnerBranding writes the branding and the default language
	// (b.DefaultLang, an ISO 639-1 code).
	SetPartnerBranding(ctx context.Context, partnerID int64, b Branding) error

	InsertAPIKey(ctx context.Context, k *APIKey) error
	APIKeyByHash(ctx context.Context, hash string) (APIKey, error)
	APIKeys(ctx context.Context, partnerID int64) ([]APIKey, error)
	SetAPIKeyCIDRs(ctx context.Context, partnerID, keyID int64, cidrs []netip.Prefix) error
	RevokeAPIKey(ctx context.Context, partnerID, keyID int64, at time.Time) error

	InsertLedger(ctx context.Context, e *LedgerEntry) error
	Ledger(ctx context.Context, partnerID, after int64, limit int) ([]LedgerEntry, error)
	LatestLedger(ctx context.Context, partnerID int64, limit int) ([]LedgerEntry, error) // newest first
	LedgerSum(ctx context.Context, partnerID int64) (Cents, error)

	InsertSubaccount(ctx context.Context, s *Subaccount) error
	Subaccount(ctx context.Context, partnerID, id int64) (Subaccount, error)
	Subaccounts(ctx context.Context, partnerID int64, f SubaccountFilter) ([]Subaccount, error)
	DeleteSubaccount(ctx context.Context, partnerID, id int64, at time.Time) error

	InsertWebsite(ctx context.Context, w *Website) error
	// Website loads a partner's website that is not deleted, by domain.
	Website(ctx context.Context, partnerID int64, domain string, lock bool) (Website, error)
	// WebsiteByID loads a partner's website in any status.
	WebsiteByID(ctx context.Context, partnerID, id int64) (Website, error)
	Websites(ctx context.Context, partnerID int64, f WebsiteFilter) ([]Website, error)
	// DomainTaken reports whether any partner has the domain registered.
	DomainTaken(ctx context.Context, domain string) (bool, error)
	// UpdateWebsite writes w's mutable fields (status, plan, subaccount, dates,
	// version) to the row with w.ID and w.PartnerID.
	UpdateWebsite(ctx context.Context, w *Website) error

	// AllWebsites lists every website that is not deleted, of all partners.
	AllWebsites(ctx context.Context) ([]Website, error)
	// MarkSeen moves a website from setup to online on its first traffic.
	MarkSeen(ctx context.Context, websiteID int64, at time.Time) (bool, error)

	// InsertEvents and AddStats write what the decision plane recorded.
	InsertEvents(ctx context.Context, es []Event) error
	// AddEventCounts adds repeats to events stored before (an event that
	// is gone, purged or never stored, is skipped).
	AddEventCounts(ctx context.Context, cs []EventCount) error
	AddStats(ctx context.Context, rows []StatRow) error
	// AddWAFStats adds the website-firewall counters (rows with WAFClass).
	AddWAFStats(ctx context.Context, rows []StatRow) error
	// WAFStats sums a website's firewall counters in [from, to) by class.
	WAFStats(ctx context.Context, partnerID, websiteID int64, from, to time.Time) ([]WAFClassCount, error)
	// Events lists a website's events, newest first.
	Events(ctx context.Context, partnerID, websiteID int64, f EventFilter) ([]Event, error)
	// TopEvents ranks the values of field (ip, path, user_agent) among a
	// website's blocked and challenged events in [from, to).
	TopEvents(ctx context.Context, partnerID, websiteID int64, field string, from, to time.Time, limit int) ([]TopRow, error)
	SubaccountByKeyHash(ctx context.Context, hash string) (Subaccount, error)
	// WebsitePartner returns the partner a live domain is registered by.
	WebsitePartner(ctx context.Context, domain string) (int64, error)
	// Stats returns a website's minute counters in [from, to).
	Stats(ctx context.Context, partnerID, websiteID int64, from, to time.Time) ([]StatRow, error)
	// PurgeEvents deletes events before t and minute counters before
	// statsBefore, returning how many of each.
	PurgeEvents(ctx context.Context, before, statsBefore time.Time) (events, stats int64, err error)
	// PrepareEvents readies storage for events around now (PostgreSQL:
	// daily partitions).
	PrepareEvents(ctx context.Context, now time.Time) error
	// DropEventPartitions drops whole days of events before t where the
	// store keeps them by day (PostgreSQL), returning about how many.
	DropEventPartitions(ctx context.Context, before time.Time) (int64, error)
	// InsertEventBatch records a batch id; false if it was stored before.
	InsertEventBatch(ctx context.Context, id string, at time.Time) (bool, error)

	InsertAudit(ctx context.Context, e *AuditEntry) error
	Audit(ctx context.Context, partnerID, after int64, limit int) ([]AuditEntry, error)
	LatestAudit(ctx context.Context, partnerID int64, limit int) ([]AuditEntry, error) // newest first

	// ConfigVersion grows with every committed change the decision engine
	// must see (websites, partners' lists and brands, challenge keys).
	ConfigVersion(ctx context.Context) (int64, error)

	Meta(ctx context.Context, key string) (string, error)
	SetMeta(ctx context.Context, key, value string) error

	// AllAPIKeys lists every partner's active API keys (for protocols that
	// find the partner by a hash made with its key).
	AllAPIKeys(ctx context.Context) ([]APIKey, error)
	// PartnerAllowedCIDRs are where the operator lets a partner's keys be
	// used from (empty: the operator bound it nowhere).
	PartnerAllowedCIDRs(ctx context.Context, partnerID int64) ([]netip.Prefix, error)
	SetPartnerAllowedCIDRs(ctx context.Context, partnerID int64, cidrs []netip.Prefix) error
	// BoundPartners maps every partner with operator-set ranges to them.
	BoundPartners(ctx context.Context) (map[int64][]netip.Prefix, error)
	// BoundAPIKeys lists the active keys bound to addresses whose partner
	// has operator-set ranges: the only keys that may sign GP requests.
	BoundAPIKeys(ctx context.Context) ([]APIKey, error)
	// SubaccountPage is one page of a partner's customers by id, and how
	// many there are.
	SubaccountPage(ctx context.Context, partnerID int64, limit, offset int) (int, []Subaccount, error)
	// WebsitesOfSubaccounts lists the live websites of these customers.
	WebsitesOfSubaccounts(ctx context.Context, partnerID int64, ids []int64) ([]Website, error)
	SetSubaccountPassword(ctx context.Context, partnerID, id int64, hash string) error
	SetSubaccountEmail(ctx context.Context, partnerID, id int64, email string) error
	SubaccountPasswordHash(ctx context.Context, partnerID, id int64) (string, error)
	// InsertNonce records a GP request; a repeated one is ECONFLICT.
	InsertNonce(ctx context.Context, partnerID int64, domain, ts, hash string, at time.Time) error
	PurgeNonces(ctx context.Context, before time.Time) (int64, error)

	// InsertEmail queues an email; one with the same partner, kind and
	// non-empty Dedupe as an earlier one is skipped (inserted false).
	InsertEmail(ctx context.Context, e *Email) (inserted bool, err error)
	Emails(ctx context.Context, partnerID int64, f EmailFilter) ([]Email, error)
	Email(ctx context.Context, partnerID, id int64) (Email, error)
	// ClaimEmail moves a due pending email to sending; false if another
	// node (or the partner) took it first.
	ClaimEmail(ctx context.Context, id int64, now time.Time) (bool, error)
	// FailStuckEmails fails emails claimed before claimedBefore and never
	// finished.
	FailStuckEmails(ctx context.Context, claimedBefore time.Time) (int64, error)
	DueEmails(ctx context.Context, now time.Time, limit int) ([]Email, error)
	// SetEmailStatus writes status, attempts, next attempt, error and sent time.
	SetEmailStatus(ctx context.Context, e *Email) error
	EmailTemplate(ctx context.Context, partnerID int64, kind string) (EmailTemplate, error)
	SetEmailTemplate(ctx context.Context, partnerID int64, t EmailTemplate) error
	DeleteEmailTemplate(ctx context.Context, partnerID int64, kind string) error
	// ExpiringWebsites lists websites of every partner, not paused or
	// deleted, that expire in [from, to).
	ExpiringWebsites(ctx context.Context, from, to time.Time) ([]Website, error)

	InsertLoginToken(ctx context.Context, t *LoginToken) error
	// UseLoginToken marks an unused, unexpired token used and returns it.
	UseLoginToken(ctx context.Context, hash string, now time.Time) (LoginToken, error)
	InsertSession(ctx context.Context, s *Session) error
	Session(ctx context.Context, hash string, now time.Time) (Session, error)
	DeleteSession(ctx context.Context, hash string) error
	PurgeLogins(ctx context.Context, now time.Time) (int64, error)

	InsertConsoleUser(ctx context.Context, u *ConsoleUser) error
	ConsoleUserByEmail(ctx context.Context, email string) (ConsoleUser, error)
	ConsoleUser(ctx context.Context, id int64) (ConsoleUser, error)
	SetConsoleUserTOTP(ctx context.Context, id int64, secret string, lastStep int64) error
	// ConsoleUsersWithPlainTOTP lists users whose TOTP secret is stored
	// unsealed (from before secrets were sealed), for SealTOTPSecrets.
	ConsoleUsersWithPlainTOTP(ctx context.Context) ([]ConsoleUser, error)
	SetConsoleUserPassword(ctx context.Context, id int64, hash string) error
	DeleteUserSessions(ctx context.Context, userID int64) error

	SetPartnerUserAPI(ctx context.Context, partnerID int64, cfg string) error
	// SubaccountsByEmail finds customers by email across partners.
	SubaccountsByEmail(ctx context.Context, email string) ([]Subaccount, error)
	InsertUserAPIToken(ctx context.Context, t UserAPIToken) error
	UserAPIToken(ctx context.Context, hash string) (UserAPIToken, error)
	RevokeUserAPIToken(ctx context.Context, hash string, at time.Time) (bool, error)
	// RevokeSubaccountUserAPITokens revokes every live User API token of
	// a customer (a password change), reporting how many.
	RevokeSubaccountUserAPITokens(ctx context.Context, partnerID, subaccountID int64, at time.Time) (int64, error)
	InsertUserAPILog(ctx context.Context, e *UserAPILogEntry) error
	UserAPILog(ctx context.Context, partnerID, before int64, limit int) ([]UserAPILogEntry, error)
	PurgeUserAPI(ctx context.Context, logBefore, tokensBefore time.Time) error

	InsertAddon(ctx context.Context, a *Addon) error
	Addon(ctx context.Context, partnerID, id int64, lock bool) (Addon, error)
	Addons(ctx context.Context, partnerID, websiteID int64) ([]Addon, error)
	UpdateAddon(ctx context.Context, a *Addon) error

	Idempotency(ctx context.Context, partnerID int64, key string) (IdempotencyRecord, error)
	InsertIdempotency(ctx context.Context, r *IdempotencyRecord) error
	FinishIdempotency(ctx context.Context, partnerID int64, key, objectID string) error
	DeleteIdempotency(ctx context.Context, partnerID int64, key string) error
	// PurgeIdempotency deletes every key recorded before the given time.
	PurgeIdempotency(ctx context.Context, before time.Time) (int64, error)
}
