package core

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/palisadehq/palisade/internal/guard"
	"github.com/palisadehq/palisade/internal/secret"
)

// Protocols, as recorded in the audit log.
const (
	ProtocolREST    = "rest"    // BotGuard-compatible partner REST API
	ProtocolV1      = "v1"      // native /v1 API
	ProtocolCLI     = "cli"     // operator commands
	ProtocolGP      = "gp"      // GP reseller form-POST API
	ProtocolXML     = "xml"     // SiteLock-style XML provisioning API
	ProtocolSSO     = "sso"     // single-sign-on login links
	ProtocolUserAPI = "userapi" // end-customer User API
)

// IdempotencyTTL is how long an Idempotency-Key is remembered.
const IdempotencyTTL = 24 * time.Hour

// Caller is who asks: the operator, a partner through an API or its
// console, or a partner's customer (subaccount). Role decides what it may
// do (authz.go); the zero Caller has no role and may do nothing.
type Caller struct {
	Role      Role
	PartnerID int64 // the partner acting, or whose customer acts; 0 for the operator
	// SubaccountID is the customer acting (RoleSubaccount); 0 for a
	// customer session opened for a website that has no account.
	SubaccountID int64
	// WebsiteID is the website a customer session was opened for.
	WebsiteID int64
	Actor     string // e.g. "partner:3 key:pk_abcd", "operator"
	Protocol  string
	SourceIP  string
}

// Operator is the caller for shell commands run by whoever runs Palisade.
func Operator() Caller {
	return Caller{Role: RoleOperator, Actor: "operator", Protocol: ProtocolCLI, SourceIP: "local"}
}

// Idem carries an Idempotency-Key and a hash of the request it came with.
type Idem struct {
	Key  string
	Hash string
}

// Config is what the Service needs to know about the deployment.
type Config struct {
	// PublicURL is the base URL customers reach dashboards under, e.g.
	// https://palisade.example.net.
	PublicURL string
	// Nodes are the addresses web-server integrations call, primary first.
	Nodes []string
	// DefaultPlan is used when a website is registered without a plan.
	DefaultPlan string
	// EventRetention is how long events are kept (default 30 days).
	EventRetention time.Duration
	// AddonUnitPrice is the monthly price of one add-on unit (10,000 extra
	// requests); 0 means DefaultAddonUnitPrice.
	AddonUnitPrice Cents
	// SmartPrice, SmartPatchPrice, SmartDatabasePrice and BackupPrice are
	// the monthly prices of the scanning add-ons (smart, smart_patch,
	// smart_database, backup); 0 means the Default...Price.
	SmartPrice, SmartPatchPrice, SmartDatabasePrice, BackupPrice Cents
	// ScanAddonsRequired: a scanning feature is switched on for a website
	// only when the website has bought its add-on (scan_addons.go).
	// `palisade serve` requires them unless --scan-addons-required=false
	// (an operator that does not sell scanning through Palisade's
	// billing); the zero Config, as in tests of scanning itself, does not.
	ScanAddonsRequired bool
	// EgressIPs are the addresses Palisade connects from (free scans,
	// reverse proxy), for customers' firewalls (XML getIpAddresses).
	EgressIPs []string
	// BrandName is the operator's own product name, shown on the pages
	// before sign-in, the operator's pages and the pages of a website no
	// partner brands (such as an unknown host's deny page). "" (the
	// default): no name at all, a neutral page.
	BrandName string
	// ScanRoots are the directories under which a partner may name a
	// website's document root as a local file source for scans
	// (--scan-root); none: no local sources.
	ScanRoots []string
	// BackupRoots are the directories under which a partner may put a
	// local backup repository (--backup-root); none: only sftp: and s3:.
	BackupRoots []string
	// ScanAllowNets are the address ranges beyond public addresses that
	// a website's SFTP server, database and S3 endpoint may be on
	// (--scan-allow-net, "CIDR" or "PARTNER=CIDR"); none: public
	// addresses only (package netguard).
	ScanAllowNets []string
	// PatchUpdateCommand is the operator's command template that updates
	// one component of a website's CMS (--patch-update-command,
	// scan_update.go); "": updates are not offered.
	PatchUpdateCommand string
}

// Service applies Palisade's business rules on top of a Store.
type Service struct {
	store Store
	box   *secret.Box
	cfg   Config
	now   func() time.Time
	rand  io.Reader
	log   *slog.Logger
	// onChange is called after a change that the decision engine must see.
	onChange func()
	// mailKick wakes RunMailer when emails may have been queued.
	mailKick chan struct{}
	// gpIdx indexes the keys that may sign GP requests and login links
	// (gpauth.go); keyGen moves when a key changes on this node.
	gpIdx             gpIndex
	keyGen            atomic.Uint64
	gpHashes, gpLoads atomic.Int64
	// hashGate caps concurrent argon2id runs; customerSignIns and
	// consoleSignIns limit failed sign-ins (passwords.go).
	hashGate                        *guard.Gate
	customerSignIns, consoleSignIns *guard.SignIn
	// backupRead browses and downloads backups (backup_browse.go).
	backupRead atomic.Pointer[backupReads]
	// scanObs counts findings and jobs for metrics (scan_observe.go).
	scanObs ScanObserver
}

// Option customises a Service, mostly for tests.
type Option func(*Service)

// WithClock replaces time.Now.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithLogger sets the logger for internal errors.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithChangeHook sets a function called after every change of a website
// (create, status, plan, settings, delete); the decision engine reloads on it.
// It must not block.
func WithChangeHook(fn func()) Option { return func(s *Service) { s.onChange = fn } }

func (s *Service) notify() {
	if s.onChange != nil {
		s.onChange()
	}
	// Website changes may have queued emails: wake the mailer.
	select {
	case s.mailKick <- struct{}{}:
	default:
	}
}

// NewService returns a Service over store; box seals keys at rest.
func NewService(store Store, box *secret.Box, cfg Config, opts ...Option) *Service {
	if cfg.DefaultPlan == "" {
		cfg.DefaultPlan = "Free"
	}
	if cfg.EventRetention <= 0 {
		cfg.EventRetention = 30 * 24 * time.Hour
	}
	s := &Service{store: store, box: box, cfg: cfg, now: time.Now, rand: rand.Reader, log: slog.Default(), mailKick: make(chan struct{}, 1),
		hashGate: guard.DefaultGate(), customerSignIns: guard.NewSignIn(guard.DefaultSignInPolicy(10)), consoleSignIns: guard.NewSignIn(guard.DefaultSignInPolicy(5))}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Store returns the underlying store (for health checks).
func (s *Service) Store() Store { return s.store }

// Config returns the deployment configuration.
func (s *Service) Config() Config { return s.cfg }

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// audit records a state change inside tx.
func (s *Service) audit(ctx context.Context, tx Tx, c Caller, at time.Time, objType, objID, action string, old, new any) error {
	e := &AuditEntry{
		At: at, PartnerID: c.PartnerID, Actor: c.Actor, Protocol: c.Protocol, SourceIP: c.SourceIP,
		ObjectType: objType, ObjectID: objID, Action: action,
		OldState: stateJSON(old), NewState: stateJSON(new),
	}
	return tx.InsertAudit(ctx, e)
}

func stateJSON(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// post appends a ledger entry of amount (negative for charges) and updates the
// cached balance in the same transaction. A charge that would take the balance
// below zero fails with EPAYMENTREQUIRED and changes nothing.
func (s *Service) post(ctx context.Context, tx Tx, p *Partner, c Caller, at time.Time, amount Cents, kind, reason string, websiteID int64) error {
	_, err := s.postEntry(ctx, tx, p, c, at, amount, kind, reason, websiteID)
	return err
}

// postEntry is post returning the entry written (zero when amount is 0).
func (s *Service) postEntry(ctx context.Context, tx Tx, p *Partner, c Caller, at time.Time, amount Cents, kind, reason string, websiteID int64) (LedgerEntry, error) {
	if amount == 0 {
		return LedgerEntry{}, nil
	}
	next := p.Balance + amount
	if amount < 0 && next < 0 {
		return LedgerEntry{}, Errorf(EPAYMENTREQUIRED, "insufficient credit: %s costs %s, the balance is %s", reason, (-amount).String(), p.Balance.String())
	}
	e := &LedgerEntry{PartnerID: p.ID, Amount: amount, BalanceAfter: next, Kind: kind, Reason: reason, WebsiteID: websiteID, Actor: c.Actor, CreatedAt: at}
	if err := tx.InsertLedger(ctx, e); err != nil {
		return LedgerEntry{}, err
	}
	if err := tx.SetPartnerBalance(ctx, p.ID, next); err != nil {
		return LedgerEntry{}, err
	}
	p.Balance = next
	return *e, nil
}

// keyed runs do in one transaction, exactly once per Idempotency-Key: a retry
// with the same key and request gets replay's result instead, a retry with a
// different request is refused. The key row is inserted before any other write,
// so a concurrent retry waits on it and then replays.
func (s *Service) keyed(ctx context.Context, c Caller, idem Idem, objType string,
	do func(tx Tx, now time.Time) (objectID string, err error),
	replay func(tx Tx, objectID string) error,
) (replayed bool, err error) {
	for attempt := 0; attempt < 3; attempt++ {
		replayed = false
		err = s.store.Update(ctx, func(tx Tx) error {
			now := s.clock()
			if idem.Key != "" {
				rec, err := tx.Idempotency(ctx, c.PartnerID, idem.Key)
				switch {
				case err == nil && now.Sub(rec.CreatedAt) < IdempotencyTTL:
					if rec.RequestHash != idem.Hash || rec.ObjectType != objType {
						return Errorf(ECONFLICT, "Idempotency-Key %q was already used with a different request; use a new key for a new request", idem.Key)
					}
					if rec.ObjectID == "" {
						return Errorf(ECONFLICT, "a request with Idempotency-Key %q is still in progress; retry shortly", idem.Key)
					}
					replayed = true
					return replay(tx, rec.ObjectID)
				case err == nil:
					if err := tx.DeleteIdempotency(ctx, c.PartnerID, idem.Key); err != nil {
						return err
					}
				case ErrorCode(err) != ENOTFOUND:
					return err
				}
				if err := tx.InsertIdempotency(ctx, &IdempotencyRecord{PartnerID: c.PartnerID, Key: idem.Key, RequestHash: idem.Hash, ObjectType: objType, CreatedAt: now}); err != nil {
					return err
				}
			}
			id, err := do(tx, now)
			if err != nil {
				return err
			}
			if idem.Key != "" {
				return tx.FinishIdempotency(ctx, c.PartnerID, idem.Key, id)
			}
			return nil
		})
		if !errors.Is(err, ErrIdempotencyRace) {
			return replayed, err
		}
	}
	return false, Errorf(ECONFLICT, "a request with Idempotency-Key %q is still in progress; retry shortly", idem.Key)
}

// masterKeyCheck is sealed into the store on first start, so that a node
// started with another master key is stopped before it serves errors.
const masterKeyCheck = "palisade master key check"

// CheckMasterKey verifies the master key opens what this store was sealed
// with, recording a check value on first use, and then seals any console
// TOTP secret still stored in plain text (SealTOTPSecrets). Call it once
// at start-up.
func (s *Service) CheckMasterKey(ctx context.Context) error {
	if err := s.checkMasterKey(ctx); err != nil {
		return err
	}
	_, err := s.SealTOTPSecrets(ctx)
	return err
}

func (s *Service) checkMasterKey(ctx context.Context) error {
	return s.store.Update(ctx, func(tx Tx) error {
		sealed, err := tx.Meta(ctx, "master_key_check")
		if ErrorCode(err) == ENOTFOUND {
			v, err := s.box.Seal(masterKeyCheck)
			if err != nil {
				return err
			}
			return tx.SetMeta(ctx, "master_key_check", v)
		}
		if err != nil {
			return err
		}
		if v, err := s.box.Open(sealed); err != nil || v != masterKeyCheck {
			return errors.New("the master key does not match this database: its API keys were sealed with another one. " +
				"Restore the original master.key in --data-dir, or give every node the same --master-key")
		}
		return nil
	})
}

// PurgeIdempotencyKeys forgets Idempotency-Keys older than IdempotencyTTL,
// which would otherwise pile up, and returns how many it removed.
func (s *Service) PurgeIdempotencyKeys(ctx context.Context) (n int64, err error) {
	err = s.store.Update(ctx, func(tx Tx) error {
		n, err = tx.PurgeIdempotency(ctx, s.clock().Add(-IdempotencyTTL))
		return err
	})
	return n, err
}

// RunMaintenance does housekeeping every interval until ctx ends.
func (s *Service) RunMaintenance(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := s.PurgeIdempotencyKeys(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("purge idempotency keys", "err", err)
		} else if n > 0 {
			s.log.Info("purged expired idempotency keys", "count", n)
		}
		if ne, ns, err := s.PurgeOldEvents(ctx, s.cfg.EventRetention); err != nil && ctx.Err() == nil {
			s.log.Warn("purge old events", "err", err)
		} else if ne+ns > 0 {
			s.log.Info("purged old events and counters", "events", ne, "counters", ns)
		}
		if n, err := s.QueueExpiryNotices(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("queue expiry notices", "err", err)
		} else if n > 0 {
			s.log.Info("queued expiry notices", "count", n)
		}
		if _, err := s.PurgeNonces(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("purge GP nonces", "err", err)
		}
		if err := s.store.Update(ctx, func(tx Tx) error {
			now := s.clock()
			return tx.PurgeUserAPI(ctx, now.Add(-7*24*time.Hour), now.Add(-time.Hour))
		}); err != nil && ctx.Err() == nil {
			s.log.Warn("purge the User API log and tokens", "err", err)
		}
		if _, err := s.PurgeLogins(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("purge login links and sessions", "err", err)
		}
		if n, err := s.FailStuckEmails(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("fail interrupted emails", "err", err)
		} else if n > 0 {
			s.log.Warn("emails whose delivery was interrupted are marked failed, not retried", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ---- plans ----

// Plans lists all plans by rank.
func (s *Service) Plans(ctx context.Context) (plans []Plan, err error) {
	err = s.store.View(ctx, func(tx Tx) error {
		plans, err = tx.Plans(ctx)
		return err
	})
	return plans, err
}

// CreatePlan adds a plan (operator only).
func (s *Service) CreatePlan(ctx context.Context, c Caller, p Plan) (Plan, error) {
	if err := c.operatorOnly("create plans"); err != nil {
		return Plan{}, err
	}
	if err := p.Validate(); err != nil {
		return Plan{}, err
	}
	err := s.store.Update(ctx, func(tx Tx) error {
		p.CreatedAt = s.clock()
		if err := tx.InsertPlan(ctx, &p); err != nil {
			return err
		}
		return s.audit(ctx, tx, c, p.CreatedAt, "plan", p.Name, "create", nil, p)
	})
	return p, err
}

// SetPlanWAF says whether websites on the named plan have the website
// firewall (operator only). Every node reloads its websites: a plan
// without it turns the firewall off for them, whatever their settings.
func (s *Service) SetPlanWAF(ctx context.Context, c Caller, name string, on bool) (Plan, error) {
	if err := c.operatorOnly("change plans"); err != nil {
		return Plan{}, err
	}
	var p Plan
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if p, err = tx.PlanByName(ctx, name); err != nil {
			return err
		}
		if p.WAF == on {
			return nil
		}
		old := p
		p.WAF = on
		if err := tx.SetPlanWAF(ctx, p.ID, on); err != nil {
			return err
		}
		return s.audit(ctx, tx, c, s.clock(), "plan", p.Name, "set_waf", map[string]any{"waf": old.WAF}, map[string]any{"waf": on})
	})
	if err != nil {
		return Plan{}, err
	}
	s.notify()
	return p, nil
}

// SeedPlans inserts DefaultPlans when there are no plans at all and reports
// whether it did.
func (s *Service) SeedPlans(ctx context.Context) (seeded bool, err error) {
	err = s.store.Update(ctx, func(tx Tx) error {
		existing, err := tx.Plans(ctx)
		if err != nil || len(existing) > 0 {
			return err
		}
		now := s.clock()
		for _, p := range DefaultPlans {
			p.CreatedAt = now
			if err := tx.InsertPlan(ctx, &p); err != nil {
				return err
			}
		}
		seeded = true
		return s.audit(ctx, tx, Caller{Actor: "system", Protocol: ProtocolCLI, SourceIP: "local"}, now, "plan", "*", "seed", nil, DefaultPlans)
	})
	return seeded, err
}

// ---- partners (operator) ----

// PartnerCreate is the input of CreatePartner.
type PartnerCreate struct {
	Name       string
	Email      string
	AllowedIPs []string // IPs or CIDRs; empty allows any source
	// Lang is the partner's default language (Partner.DefaultLang), any
	// form ParseLanguage reads; "" is DefaultLanguage.
	Lang string
}

// ParsePrefixes parses IPs and CIDRs ("203.0.113.7", "2001:db8::/32").
func ParsePrefixes(field string, in []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(in))
	for _, s := range in {
		p, err := parsePrefix(s)
		if err != nil {
			return nil, FieldError(field, "%q is not an IP address or CIDR", s)
		}
		out = append(out, p)
	}
	return out, nil
}

// CreatePartner creates a partner and its first API key, which is returned
// here and never again (operator only).
func (s *Service) CreatePartner(ctx context.Context, c Caller, in PartnerCreate) (Partner, string, error) {
	if err := c.operatorOnly("create partners"); err != nil {
		return Partner{}, "", err
	}
	if in.Name == "" || len(in.Name) > 100 {
		return Partner{}, "", FieldError("name", "partner name must be 1 to 100 characters")
	}
	if in.Email != "" {
		e, err := normalizeEmail(in.Email)
		if err != nil {
			return Partner{}, "", err
		}
		in.Email = e
	}
	cidrs, err := ParsePrefixes("allowed-ip", in.AllowedIPs)
	if err != nil {
		return Partner{}, "", err
	}
	lang := DefaultLanguage
	if strings.TrimSpace(in.Lang) != "" {
		if lang, err = parsePartnerLanguage("lang", in.Lang); err != nil {
			return Partner{}, "", err
		}
	}
	key, sealed, err := s.newPartnerKey()
	if err != nil {
		return Partner{}, "", err
	}
	var p Partner
	err = s.store.Update(ctx, func(tx Tx) error {
		now := s.clock()
		p = Partner{Name: in.Name, Email: in.Email, CreatedAt: now, DefaultLang: lang}
		if err := tx.InsertPartner(ctx, &p); err != nil {
			return err
		}
		k := &APIKey{PartnerID: p.ID, Prefix: keyPrefix(key), Hash: secret.Hash(key), Sealed: sealed, AllowedCIDRs: cidrs, CreatedAt: now}
		if err := tx.InsertAPIKey(ctx, k); err != nil {
			return err
		}
		// The operator's ranges for the partner (gpauth.go).
		if err := tx.SetPartnerAllowedCIDRs(ctx, p.ID, cidrs); err != nil {
			return err
		}
		c.PartnerID = p.ID
		return s.audit(ctx, tx, c, now, "partner", strconv.FormatInt(p.ID, 10), "create", nil, map[string]any{"name": p.Name, "email": p.Email, "allowed_ips": in.AllowedIPs, "default_lang": p.DefaultLang})
	})
	if err != nil {
		return Partner{}, "", err
	}
	s.keysChanged()
	return p, key, nil
}

func (s *Service) newPartnerKey() (key, sealed string, err error) {
	if key, err = secret.NewToken(s.rand, "pk_"); err != nil {
		return "", "", err
	}
	sealed, err = s.box.Seal(key)
	return key, sealed, err
}

// keyPrefix is the part of a key shown in listings and the audit log.
func keyPrefix(key string) string { return key[:10] }

// RotateKey issues a new API key for a partner, allowed from the same
// addresses as its current keys, and revokes the old ones at once unless
// keepOld is set (for a changeover in two steps). The new key is returned
// here and never again. The operator rotates any partner's keys, a partner
// its own.
func (s *Service) RotateKey(ctx context.Context, c Caller, partnerID int64, keepOld bool) (string, error) {
	if err := c.operatorOrPartner(partnerID, "rotate API keys"); err != nil {
		return "", err
	}
	key, sealed, err := s.newPartnerKey()
	if err != nil {
		return "", err
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		now := s.clock()
		if _, err := tx.Partner(ctx, partnerID, true); err != nil {
			return err
		}
		old, err := tx.APIKeys(ctx, partnerID)
		if err != nil {
			return err
		}
		var cidrs []netip.Prefix
		seen := map[netip.Prefix]bool{}
		for _, k := range old {
			for _, p := range k.AllowedCIDRs {
				if !seen[p] {
					seen[p] = true
					cidrs = append(cidrs, p)
				}
			}
		}
		if c.Role != RoleOperator {
			// A partner's new key stays within the operator's ranges.
			ops, err := tx.PartnerAllowedCIDRs(ctx, partnerID)
			if err != nil {
				return err
			}
			cidrs = rotatedRanges(cidrs, ops)
		}
		k := &APIKey{PartnerID: partnerID, Prefix: keyPrefix(key), Hash: secret.Hash(key), Sealed: sealed, AllowedCIDRs: cidrs, CreatedAt: now}
		if err := tx.InsertAPIKey(ctx, k); err != nil {
			return err
		}
		var revoked []string
		if !keepOld {
			for _, o := range old {
				if err := tx.RevokeAPIKey(ctx, partnerID, o.ID, now); err != nil {
					return err
				}
				revoked = append(revoked, o.Prefix)
			}
		}
		c.PartnerID = partnerID
		return s.audit(ctx, tx, c, now, "api_key", k.Prefix, "rotate", map[string]any{"revoked": revoked}, map[string]any{"key": k.Prefix, "allowed_ips": prefixStrings(cidrs)})
	})
	if err != nil {
		return "", err
	}
	s.keysChanged()
	return key, nil
}

// RevokeKey revokes the partner's active key whose prefix (as "partner show"
// lists it) is given. The partner's last key cannot be revoked: rotate it.
// The operator revokes any partner's keys, a partner its own.
func (s *Service) RevokeKey(ctx context.Context, c Caller, partnerID int64, prefix string) error {
	if err := c.operatorOrPartner(partnerID, "revoke API keys"); err != nil {
		return err
	}
	defer s.keysChanged()
	return s.store.Update(ctx, func(tx Tx) error {
		keys, err := tx.APIKeys(ctx, partnerID)
		if err != nil {
			return err
		}
		var match []APIKey
		for _, k := range keys {
			if k.Prefix == strings.TrimSuffix(prefix, "…") {
				match = append(match, k)
			}
		}
		switch {
		case len(match) == 0:
			return Errorf(ENOTFOUND, "partner %d has no active key starting %q", partnerID, prefix)
		case len(keys) == 1:
			return Errorf(ECONFLICT, "%s is the partner's only key; use rotate-key to replace it", prefix)
		}
		now := s.clock()
		for _, k := range match {
			if err := tx.RevokeAPIKey(ctx, partnerID, k.ID, now); err != nil {
				return err
			}
		}
		c.PartnerID = partnerID
		return s.audit(ctx, tx, c, now, "api_key", match[0].Prefix, "revoke", map[string]any{"key": match[0].Prefix}, nil)
	})
}

// Partners lists every partner for the system itself: the decision
// engine's loaders and start-up, which act for nobody. A person's request
// goes through AllPartners, which checks the caller.
func (s *Service) Partners(ctx context.Context) (ps []Partner, err error) {
	err = s.store.View(ctx, func(tx Tx) error {
		ps, err = tx.Partners(ctx)
		return err
	})
	return ps, err
}

// AllPartners lists every partner (operator only).
func (s *Service) AllPartners(ctx context.Context, c Caller) ([]Partner, error) {
	if err := c.operatorOnly("list partners"); err != nil {
		return nil, err
	}
	return s.Partners(ctx)
}

// PartnerByName finds a partner by its unique name (operator only).
func (s *Service) PartnerByName(ctx context.Context, c Caller, name string) (p Partner, err error) {
	if err := c.operatorOnly("look partners up"); err != nil {
		return Partner{}, err
	}
	err = s.store.View(ctx, func(tx Tx) error {
		p, err = tx.PartnerByName(ctx, name)
		return err
	})
	return p, err
}

// PublicPartner returns what anyone may know of the partner named name —
// its id, name, branding and User API configuration — for pages read
// before signing in (the User API's documentation).
func (s *Service) PublicPartner(ctx context.Context, name string) (Partner, error) {
	var p Partner
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		p, err = tx.PartnerByName(ctx, name)
		return err
	})
	return p.public(), err
}

// public is the part of a partner its customers and the public may see.
func (p Partner) public() Partner {
	return Partner{ID: p.ID, Name: p.Name, BrandName: p.BrandName, BrandLogo: p.BrandLogo, BrandColor: p.BrandColor,
		SupportURL: p.SupportURL, EmbedOrigins: p.EmbedOrigins, UserAPI: p.UserAPI, DefaultLang: p.DefaultLang, PoweredBy: p.PoweredBy}
}

// PartnerKeys lists a partner's API keys (without the keys themselves):
// the operator any partner's, a partner its own.
func (s *Service) PartnerKeys(ctx context.Context, c Caller, partnerID int64) (keys []APIKey, err error) {
	if err := c.operatorOrPartner(partnerID, "list API keys"); err != nil {
		return nil, err
	}
	err = s.store.View(ctx, func(tx Tx) error {
		keys, err = tx.APIKeys(ctx, partnerID)
		return err
	})
	return keys, err
}

// TopUp adds credit to a partner (operator only).
func (s *Service) TopUp(ctx context.Context, c Caller, partnerID int64, amount Cents, note string) (LedgerEntry, error) {
	if err := c.operatorOnly("add credit"); err != nil {
		return LedgerEntry{}, err
	}
	if amount <= 0 {
		return LedgerEntry{}, FieldError("amount", "a top-up must be a positive amount")
	}
	if note == "" {
		note = "top-up"
	}
	var entry LedgerEntry
	err := s.store.Update(ctx, func(tx Tx) error {
		now := s.clock()
		p, err := tx.Partner(ctx, partnerID, true)
		if err != nil {
			return err
		}
		old := p.Balance
		if entry, err = s.postEntry(ctx, tx, &p, c, now, amount, LedgerTopUp, note, 0); err != nil {
			return err
		}
		c.PartnerID = p.ID
		return s.audit(ctx, tx, c, now, "partner", strconv.FormatInt(p.ID, 10), "topup", map[string]any{"balance": old}, map[string]any{"balance": p.Balance})
	})
	return entry, err
}

// SetAllowDowngrade lets (or stops) a partner move websites to cheaper plans
// (operator only).
func (s *Service) SetAllowDowngrade(ctx context.Context, c Caller, partnerID int64, allow bool) error {
	if err := c.operatorOnly("allow downgrades"); err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx Tx) error {
		p, err := tx.Partner(ctx, partnerID, true)
		if err != nil {
			return err
		}
		if err := tx.SetPartnerAllowDowngrade(ctx, partnerID, allow); err != nil {
			return err
		}
		c.PartnerID = partnerID
		return s.audit(ctx, tx, c, s.clock(), "partner", strconv.FormatInt(partnerID, 10), "allow_downgrade",
			map[string]any{"allow_downgrade": p.AllowDowngrade}, map[string]any{"allow_downgrade": allow})
	})
}

// SetBrand sets what visitors see on a partner's challenge and deny pages:
// a display name and an https logo URL ("" for none), keeping the rest of
// its branding. The operator may brand any partner; a partner only itself.
func (s *Service) SetBrand(ctx context.Context, c Caller, partnerID int64, name, logo string) error {
	if err := c.operatorOrPartner(partnerID, "change branding"); err != nil {
		return err
	}
	b, err := s.storedBranding(ctx, partnerID)
	if err != nil {
		return err
	}
	b.Name, b.Logo = name, logo
	_, err = s.SetBranding(ctx, c, partnerID, b)
	return err
}

// storedBranding is a partner's branding as stored (an unset colour stays
// unset rather than the default), for a change of one part of it.
func (s *Service) storedBranding(ctx context.Context, partnerID int64) (Branding, error) {
	var b Branding
	err := s.store.View(ctx, func(tx Tx) error {
		p, err := tx.Partner(ctx, partnerID, false)
		b = p.Branding()
		if p.BrandColor == "" {
			b.Color = ""
		}
		return err
	})
	return b, err
}

// SetDefaultLanguage sets the language a partner's new customers get when
// a provisioning request names none or one Palisade does not know: any form
// ParseLanguage reads (de, de_DE, german). The operator may set any
// partner's; a partner its own (through SetBranding's DefaultLang).
func (s *Service) SetDefaultLanguage(ctx context.Context, c Caller, partnerID int64, lang string) error {
	if err := c.operatorOnly("set a partner's default language"); err != nil {
		return err
	}
	code, err := parsePartnerLanguage("lang", lang)
	if err != nil {
		return err
	}
	b, err := s.storedBranding(ctx, partnerID)
	if err != nil {
		return err
	}
	b.DefaultLang = code
	_, err = s.SetBranding(ctx, c, partnerID, b)
	return err
}

// SetBranding replaces a partner's branding after checking it: a name of at
// most 100 characters ("" for the account name), an https logo, a #rrggbb
// colour, an http(s) support link, embed origins as scheme://host[:port],
// and the default language (any form ParseLanguage reads; "" keeps the
// current one). The operator may brand any partner; a partner only itself.
func (s *Service) SetBranding(ctx context.Context, c Caller, partnerID int64, b Branding) (Branding, error) {
	if err := c.operatorOrPartner(partnerID, "change branding"); err != nil {
		return Branding{}, err
	}
	if strings.TrimSpace(b.DefaultLang) != "" {
		code, err := parsePartnerLanguage("default_lang", b.DefaultLang)
		if err != nil {
			return Branding{}, err
		}
		b.DefaultLang = code
	} else {
		b.DefaultLang = ""
	}
	b.Name = strings.TrimSpace(b.Name)
	if err := checkText("name", b.Name, 100); err != nil {
		return Branding{}, err
	}
	if b.Logo != "" {
		u, err := url.Parse(b.Logo)
		if err != nil || u.Scheme != "https" || u.Host == "" || len(b.Logo) > 500 {
			return Branding{}, FieldError("logo", "the logo must be an https:// URL of at most 500 characters")
		}
	}
	if b.Color != "" && !isHexColor(b.Color) {
		return Branding{}, FieldError("color", "color must be #rrggbb, such as #2f5bd3, not %q", b.Color)
	}
	if b.SupportURL != "" {
		u, err := url.Parse(b.SupportURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "mailto") || len(b.SupportURL) > 500 {
			return Branding{}, FieldError("support_url", "support_url must be an https://, http:// or mailto: link of at most 500 characters")
		}
	}
	origins := make([]string, 0, len(b.EmbedOrigins))
	for _, o := range b.EmbedOrigins {
		norm, err := NormalizeOrigin(o)
		if err != nil {
			return Branding{}, err
		}
		origins = append(origins, norm)
	}
	if len(origins) > 20 {
		return Branding{}, FieldError("embed_origins", "at most 20 origins")
	}
	b.EmbedOrigins = origins
	err := s.store.Update(ctx, func(tx Tx) error {
		p, err := tx.Partner(ctx, partnerID, true)
		if err != nil {
			return err
		}
		if b.DefaultLang == "" {
			b.DefaultLang = p.Language()
		}
		if err := tx.SetPartnerBranding(ctx, partnerID, b); err != nil {
			return err
		}
		c.PartnerID = partnerID
		return s.audit(ctx, tx, c, s.clock(), "partner", strconv.FormatInt(partnerID, 10), "branding", p.Branding(), b)
	})
	if err != nil {
		return Branding{}, err
	}
	s.notify()
	return b, nil
}

func isHexColor(s string) bool {
	if len(s) != 7 || s[0] != '#' {
		return false
	}
	for _, r := range s[1:] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

// NormalizeOrigin checks an origin (scheme://host[:port], no path) and
// returns it in lower case.
func NormalizeOrigin(o string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(o))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", FieldError("embed_origins", "%q is not an origin such as https://panel.example.net", o)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// BrandingOfDomain returns the branding of the partner that registered a
// domain, for pages shown before anyone is signed in (so that they can show
// inside that partner's panel).
func (s *Service) BrandingOfDomain(ctx context.Context, domain string) (Partner, bool) {
	d, err := NormalizeDomain(domain)
	if err != nil {
		return Partner{}, false
	}
	var p Partner
	err = s.store.View(ctx, func(tx Tx) error {
		id, err := tx.WebsitePartner(ctx, d)
		if err != nil {
			return err
		}
		p, err = tx.Partner(ctx, id, false)
		return err
	})
	return p, err == nil
}

// Branding returns the branding of the caller's partner (a customer's is
// its hosting provider's).
func (s *Service) Branding(ctx context.Context, c Caller) (Branding, error) {
	p, err := s.Partner(ctx, c)
	return p.Branding(), err
}

// AllowIP adds an IP or CIDR to every active API key of a partner
// (operator only).
func (s *Service) AllowIP(ctx context.Context, c Caller, partnerID int64, cidr string) error {
	if err := c.operatorOnly("allow source addresses"); err != nil {
		return err
	}
	ps, err := ParsePrefixes("cidr", []string{cidr})
	if err != nil {
		return err
	}
	// A range that binds nothing would look like a restriction in the
	// partner's ranges while widening what its keys allow (issue 17).
	if !IsBinding(ps[0]) {
		return FieldError("cidr", "%s binds nothing: it is wider than /%d (IPv6: /%d), so it ties no key to addresses; give the partner's panel addresses (an IP or a range of at least /%d, IPv6 /%d)",
			ps[0], MinBindingBitsV4, MinBindingBitsV6, MinBindingBitsV4, MinBindingBitsV6)
	}
	defer s.keysChanged()
	return s.store.Update(ctx, func(tx Tx) error {
		keys, err := tx.APIKeys(ctx, partnerID)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			return Errorf(ENOTFOUND, "partner %d has no API keys", partnerID)
		}
		// The operator's ranges for the partner (gpauth.go) grow too.
		ops, err := tx.PartnerAllowedCIDRs(ctx, partnerID)
		if err != nil {
			return err
		}
		if !slices.Contains(ops, ps[0]) {
			if err := tx.SetPartnerAllowedCIDRs(ctx, partnerID, append(ops, ps[0])); err != nil {
				return err
			}
		}
		for _, k := range keys {
			old := prefixStrings(k.AllowedCIDRs)
			next := k.AllowedCIDRs
			dup := false
			for _, p := range next {
				if p == ps[0] {
					dup = true
				}
			}
			if !dup {
				next = append(next, ps[0])
			}
			if err := tx.SetAPIKeyCIDRs(ctx, partnerID, k.ID, next); err != nil {
				return err
			}
			c.PartnerID = partnerID
			if err := s.audit(ctx, tx, c, s.clock(), "api_key", k.Prefix, "allow_ip", map[string]any{"allowed_ips": old}, map[string]any{"allowed_ips": prefixStrings(next)}); err != nil {
				return err
			}
		}
		return nil
	})
}

// DenyIP removes one of a partner's allowed ranges (operator only): from
// the operator's ranges for the partner and from every key's, where a key
// range lying within it goes too. A key left without ranges gets the
// partner's remaining ones. cidr must be one of the partner's ranges as
// written, and not its last: without any, its keys would work for REST
// from anywhere (allow the new range first).
func (s *Service) DenyIP(ctx context.Context, c Caller, partnerID int64, cidr string) error {
	if err := c.operatorOnly("remove allowed source addresses"); err != nil {
		return err
	}
	ps, err := ParsePrefixes("cidr", []string{cidr})
	if err != nil {
		return err
	}
	gone := ps[0]
	defer s.keysChanged()
	return s.store.Update(ctx, func(tx Tx) error {
		ops, err := tx.PartnerAllowedCIDRs(ctx, partnerID)
		if err != nil {
			return err
		}
		if !slices.Contains(ops, gone) {
			have := "none"
			if len(ops) > 0 {
				have = strings.Join(prefixStrings(ops), ", ")
			}
			return FieldError("cidr", "%s is not one of the partner's allowed ranges (%s)", gone, have)
		}
		rest := slices.DeleteFunc(slices.Clone(ops), func(p netip.Prefix) bool { return p == gone })
		// Ranges that bind nothing left alone are no range at all (issue
		// 17): the keys would work for REST from anywhere.
		if IsBinding(gone) && !slices.ContainsFunc(rest, IsBinding) {
			return FieldError("cidr", "%s is the partner's last allowed range: without any, its API keys would work for REST from anywhere; allow the new range first (palisade partner allow-ip), then remove this one", gone)
		}
		if err := tx.SetPartnerAllowedCIDRs(ctx, partnerID, rest); err != nil {
			return err
		}
		c.PartnerID = partnerID
		now := s.clock()
		if err := s.audit(ctx, tx, c, now, "partner", strconv.FormatInt(partnerID, 10), "deny_ip", map[string]any{"allowed_ips": prefixStrings(ops)}, map[string]any{"allowed_ips": prefixStrings(rest)}); err != nil {
			return err
		}
		keys, err := tx.APIKeys(ctx, partnerID)
		if err != nil {
			return err
		}
		for _, k := range keys {
			next := slices.DeleteFunc(slices.Clone(k.AllowedCIDRs), func(p netip.Prefix) bool {
				return p == gone || gone.Bits() <= p.Bits() && gone.Contains(p.Addr())
			})
			if len(next) == len(k.AllowedCIDRs) {
				continue
			}
			if len(next) == 0 {
				next = slices.Clone(rest)
			}
			if err := tx.SetAPIKeyCIDRs(ctx, partnerID, k.ID, next); err != nil {
				return err
			}
			if err := s.audit(ctx, tx, c, now, "api_key", k.Prefix, "deny_ip", map[string]any{"allowed_ips": prefixStrings(k.AllowedCIDRs)}, map[string]any{"allowed_ips": prefixStrings(next)}); err != nil {
				return err
			}
		}
		return nil
	})
}

// Authenticate resolves a partner API key used from ip into a Caller.
func (s *Service) Authenticate(ctx context.Context, key string, ip netip.Addr, protocol string) (Caller, error) {
	if key == "" {
		return Caller{}, Errorf(EUNAUTHORIZED, "missing API key: send Authorization: Bearer <partner api key>")
	}
	var k APIKey
	var ops []netip.Prefix
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if k, err = tx.APIKeyByHash(ctx, secret.Hash(key)); err != nil {
			return err
		}
		ops, err = tx.PartnerAllowedCIDRs(ctx, k.PartnerID)
		return err
	})
	if ErrorCode(err) == ENOTFOUND {
		return Caller{}, Errorf(EUNAUTHORIZED, "invalid API key")
	}
	if err != nil {
		return Caller{}, err
	}
	// The key's own ranges, and the binding ones the operator set for the
	// partner (gpauth.go): a key minted before partners' keys had to stay
	// within them does not reach further, and a stored 0.0.0.0/0 (or any
	// range wider than /8, /32) binds nothing, so it widens nothing.
	var bound []netip.Prefix
	for _, o := range ops {
		if IsBinding(o) {
			bound = append(bound, o)
		}
	}
	if !k.Allows(ip) || len(bound) > 0 && !containsAddr(bound, ip) {
		return Caller{}, Errorf(EFORBIDDEN, "source address %s is not allowed to use this API key", ip)
	}
	return keyCaller(k, protocol, ip), nil
}

// keyCaller is the Caller of a partner's API key used through protocol.
func keyCaller(k APIKey, protocol string, ip netip.Addr) Caller {
	return PartnerCaller(k.PartnerID, "partner:"+strconv.FormatInt(k.PartnerID, 10)+" key:"+k.Prefix, protocol, ip.String())
}

// Partner returns the caller's own partner record, with its balance; a
// customer gets its hosting provider's public part only (name, branding,
// User API configuration).
func (s *Service) Partner(ctx context.Context, c Caller) (p Partner, err error) {
	if err := c.tenant(); err != nil {
		return Partner{}, err
	}
	err = s.store.View(ctx, func(tx Tx) error {
		p, err = tx.Partner(ctx, c.PartnerID, false)
		return err
	})
	if c.Role == RoleSubaccount {
		p = p.public()
	}
	return p, err
}

// Ledger pages through the caller's ledger, oldest first.
func (s *Service) Ledger(ctx context.Context, c Caller, after int64, limit int) (es []LedgerEntry, err error) {
	if err := c.partnerOnly("read the ledger"); err != nil {
		return nil, err
	}
	err = s.store.View(ctx, func(tx Tx) error {
		es, err = tx.Ledger(ctx, c.PartnerID, after, limit)
		return err
	})
	return es, err
}

// Audit pages through the caller's audit log, oldest first.
func (s *Service) Audit(ctx context.Context, c Caller, after int64, limit int) (es []AuditEntry, err error) {
	if err := c.partnerOnly("read the audit log"); err != nil {
		return nil, err
	}
	err = s.store.View(ctx, func(tx Tx) error {
		es, err = tx.Audit(ctx, c.PartnerID, after, limit)
		return err
	})
	return es, err
}

// LatestLedger is the caller's last limit (at most 1000) credit entries,
// newest first (the console's credit page).
func (s *Service) LatestLedger(ctx context.Context, c Caller, limit int) (es []LedgerEntry, err error) {
	if err := c.partnerOnly("read the ledger"); err != nil {
		return nil, err
	}
	err = s.store.View(ctx, func(tx Tx) error {
		es, err = tx.LatestLedger(ctx, c.PartnerID, min(max(limit, 1), 1000))
		return err
	})
	return es, err
}

// LatestAudit is the caller's last limit (at most 1000) audit entries,
// newest first (the console's audit log and overview).
func (s *Service) LatestAudit(ctx context.Context, c Caller, limit int) (es []AuditEntry, err error) {
	if err := c.partnerOnly("read the audit log"); err != nil {
		return nil, err
	}
	err = s.store.View(ctx, func(tx Tx) error {
		es, err = tx.LatestAudit(ctx, c.PartnerID, min(max(limit, 1), 1000))
		return err
	})
	return es, err
}

// LedgerBalanced returns a partner's ledger sum and balance, which must be
// equal: the operator any partner's, a partner its own.
func (s *Service) LedgerBalanced(ctx context.Context, c Caller, partnerID int64) (sum, balance Cents, err error) {
	if err := c.operatorOrPartner(partnerID, "check the ledger"); err != nil {
		return 0, 0, err
	}
	err = s.store.View(ctx, func(tx Tx) error {
		p, err := tx.Partner(ctx, partnerID, false)
		if err != nil {
			return err
		}
		balance = p.Balance
		sum, err = tx.LedgerSum(ctx, partnerID)
		return err
	})
	return sum, balance, err
}

// ---- links ----

// WebsiteLinks are the addresses a panel shows for a website.
type WebsiteLinks struct {
	Endpoints  []string `json:"endpoints"`
	Statistics string   `json:"statistics"`
	Events     string   `json:"events"`
	Edit       string   `json:"edit"`
}

// Links returns the dashboard URLs (in lang, default "en") and integration
// endpoints of a website.
func (s *Service) Links(w Website, lang string) WebsiteLinks {
	if lang == "" {
		lang = "en"
	}
	base := s.cfg.PublicURL + "/" + url.PathEscape(lang) + "/website/" + url.PathEscape(w.Domain) + "/"
	return WebsiteLinks{
		Endpoints:  append([]string(nil), s.cfg.Nodes...),
		Statistics: base + "statistics",
		Events:     base + "events",
		Edit:       base + "edit",
	}
}
