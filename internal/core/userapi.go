package core

import (
	"context"
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/guard"
)

// The end-customer User API's business rules: each partner's configuration,
// customer authentication, token bookkeeping for revocation, the request log.

// UserAPIConfig is what a partner decides about its customers' User API.
type UserAPIConfig struct {
	Basic bool `json:"basic"` // HTTP Basic with email and password
	JWT   bool `json:"jwt"`   // POST /api/login tokens
	// RateRequests per RatePeriod (Go duration) per customer.
	RateRequests int    `json:"rate_requests"`
	RatePeriod   string `json:"rate_period"`
	// Log keeps a request log (for debugging; off by default).
	Log bool `json:"log"`
	// Routes overrides routes by id: disabled, an alias path, display name,
	// category and description.
	Routes map[string]RouteConfig `json:"routes"`
}

// RouteConfig is a partner's change to one User API route.
type RouteConfig struct {
	Disabled    bool   `json:"disabled,omitempty"`
	Alias       string `json:"alias,omitempty"`
	Name        string `json:"name,omitempty"`
	Category    string `json:"category,omitempty"`
	Description string `json:"description,omitempty"`
}

// DefaultUserAPIConfig: both authentications on, 60 requests a minute, no log.
func DefaultUserAPIConfig() UserAPIConfig {
	return UserAPIConfig{Basic: true, JWT: true, RateRequests: 60, RatePeriod: "1m", Routes: map[string]RouteConfig{}}
}

// Period parses RatePeriod.
func (c UserAPIConfig) Period() time.Duration {
	d, _ := time.ParseDuration(c.RatePeriod)
	return d
}

// ParseUserAPIConfig reads a stored configuration ("" is the default).
func ParseUserAPIConfig(s string) UserAPIConfig {
	c := DefaultUserAPIConfig()
	if strings.TrimSpace(s) != "" {
		_ = json.Unmarshal([]byte(s), &c)
	}
	if c.Routes == nil {
		c.Routes = map[string]RouteConfig{}
	}
	return c
}

// Validate checks a configuration; routes maps the known route ids to
// their paths, so that aliases cannot take another route's path.
func (c *UserAPIConfig) Validate(routes map[string]string) error {
	if c.RateRequests < 1 || c.RateRequests > 100_000 {
		return FieldError("rate_requests", "rate_requests must be between 1 and 100000")
	}
	if d, err := time.ParseDuration(c.RatePeriod); err != nil || d < time.Second || d > 24*time.Hour {
		return FieldError("rate_period", "rate_period must be a duration between 1s and 24h, such as 1m")
	}
	if !c.Basic && !c.JWT {
		return FieldError("basic", "turn on Basic or JWT authentication (or both)")
	}
	taken := map[string]string{}
	for id, p := range routes {
		taken[p] = id
	}
	for id, rc := range c.Routes {
		if _, ok := routes[id]; !ok {
			return FieldError("routes", "unknown route %q", id)
		}
		for f, v := range map[string]string{"name": rc.Name, "category": rc.Category, "description": rc.Description} {
			if err := checkText("routes."+id+"."+f, v, 1000); err != nil {
				return err
			}
		}
		if rc.Alias == "" {
			continue
		}
		if !strings.HasPrefix(rc.Alias, "/api/") || strings.HasPrefix(rc.Alias, "/api/v1/") || strings.HasPrefix(rc.Alias, "/api/p/") || strings.ContainsAny(rc.Alias, " ?#") || len(rc.Alias) > 200 {
			return FieldError("routes."+id+".alias", "an alias is a path under /api/ (not /api/v1/, the reseller API's, nor /api/p/, the partner scopes), such as /api/domains")
		}
		if other, ok := taken[rc.Alias]; ok && other != id {
			return FieldError("routes."+id+".alias", "%s is already the path of %s", rc.Alias, other)
		}
		taken[rc.Alias] = id
	}
	return nil
}

// UserAPIConfigOf returns a partner's configuration.
func (s *Service) UserAPIConfigOf(ctx context.Context, partnerID int64) (UserAPIConfig, error) {
	var p Partner
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		p, err = tx.Partner(ctx, partnerID, false)
		return err
	})
	return ParseUserAPIConfig(p.UserAPI), err
}

// SetUserAPIConfig validates and stores the caller's configuration.
func (s *Service) SetUserAPIConfig(ctx context.Context, c Caller, cfg UserAPIConfig, routes map[string]string) (UserAPIConfig, error) {
	if err := c.partnerOnly("configure the User API"); err != nil {
		return UserAPIConfig{}, err
	}
	if cfg.Routes == nil {
		cfg.Routes = map[string]RouteConfig{}
	}
	if err := cfg.Validate(routes); err != nil {
		return UserAPIConfig{}, err
	}
	b, _ := json.Marshal(cfg)
	err := s.store.Update(ctx, func(tx Tx) error {
		p, err := tx.Partner(ctx, c.PartnerID, true)
		if err != nil {
			return err
		}
		if err := tx.SetPartnerUserAPI(ctx, c.PartnerID, string(b)); err != nil {
			return err
		}
		return s.audit(ctx, tx, c, s.clock(), "userapi", strconv.FormatInt(c.PartnerID, 10), "configure", ParseUserAPIConfig(p.UserAPI), cfg)
	})
	return cfg, err
}

// CustomerSignIn is one attempt to sign in to the User API.
type CustomerSignIn struct {
	// Partner is the scope: the name of the partner (hosting provider)
	// whose customer signs in, from /api/p/<partner>/…. Empty: unscoped,
	// which checks the password against every account of the email (at
	// most UnscopedMaxAccounts) and signs in the one it opens.
	Partner  string
	Email    string
	Password string
	// Addr is the client's address, for the per-address limit.
	Addr netip.Addr
}

// errWrongCustomerPassword is the one answer to every failed customer
// sign-in: unknown partner, unknown email, wrong password.
const errWrongCustomerPassword = "wrong username or password (if your email is registered with more than one hosting provider, sign in at /api/p/<provider>/…)"

// errAmbiguousCustomer answers an unscoped sign-in whose password opens
// more than one account (only someone who knows that password sees it).
const errAmbiguousCustomer = "this email and password open accounts at more than one hosting provider: sign in at /api/p/<provider>/…"

// UnscopedMaxAccounts is how many accounts of one email an unscoped
// sign-in checks the password against; an email with more accounts signs
// in only within its partner's scope.
const UnscopedMaxAccounts = 4

// AuthenticateCustomer checks a customer's email and password within a
// partner's scope, or, unscoped, against each account of the email.
// Before any password is hashed, the address's (and its networks') and
// then the account's failures are checked (guard.SignIn: a locked account
// still lets its owner in from a known-good or clean address); each hash
// runs in a slot of the hashing gate, in the priority lane when the
// address is known-good for the account, on behalf of the address's
// networks. The email is normalised (trimmed, lower case) before it is
// looked up or counted, so " Jane@…" is the same account and the same
// counter as "jane@…"; an account's counter is keyed by the account
// (partner and email), so one partner's customers cannot lock out
// another's.
//
// Unscoped, the password is checked against each account of the email
// (at most UnscopedMaxAccounts, oldest first), and the sign-in succeeds
// when exactly one matches: so a partner who registers an email that is
// another host's customer's learns nothing by signing in unscoped (its
// own password opens its own account) and does not break that customer's
// unscoped sign-in. None matches: the wrong-password answer; several:
// errAmbiguousCustomer, pointing to /api/p/. The answer then waits as
// long as UnscopedMaxAccounts hashes would have taken, so its time does
// not tell how many accounts the email has either.
func (s *Service) AuthenticateCustomer(ctx context.Context, in CustomerSignIn) (Subaccount, error) {
	fail := Errorf(EUNAUTHORIZED, "%s", errWrongCustomerPassword)
	now := s.clock()
	lim := s.customerSignIns
	if !lim.AddressAllowed(in.Addr, now) {
		return Subaccount{}, errTooManySignIns()
	}
	e, err := normalizeEmail(in.Email)
	if err != nil || in.Password == "" || len(in.Password) > 1024 {
		lim.Failed("", in.Addr, now)
		return Subaccount{}, fail
	}
	scope := strings.TrimSpace(in.Partner)
	// The attempt as the client names it: known-good once it succeeded
	// from this address, so an owner passes the gate's fast refusal.
	attempt := unscopedAttempt(e)
	if scope != "" {
		attempt = "scope:" + strings.ToLower(scope) + ":" + e
	}
	if !lim.KnownGood(attempt, in.Addr, now) && !s.hashGate.Room(guard.Ticket{Shares: guard.NetworkShares(in.Addr)}) {
		// The client's network already holds its share of the gate, or
		// the queue is full: refused before any lookup.
		return Subaccount{}, errBusy()
	}
	var as []Subaccount
	var hashes []string
	more := false // unscoped: the email has more accounts than were checked
	err = s.store.View(ctx, func(tx Tx) error {
		as, hashes, more = nil, nil, false
		var err error
		if scope != "" {
			p, err := tx.PartnerByName(ctx, scope)
			if ErrorCode(err) == ENOTFOUND {
				return nil
			}
			if err != nil {
				return err
			}
			if as, err = tx.Subaccounts(ctx, p.ID, SubaccountFilter{Email: e, Limit: 2}); err != nil {
				return err
			}
			if len(as) != 1 {
				as = nil
			}
		} else if as, err = tx.SubaccountsByEmail(ctx, e); err != nil {
			return err
		}
		if len(as) > UnscopedMaxAccounts {
			as, more = as[:UnscopedMaxAccounts], true
		}
		for _, a := range as {
			h, err := tx.SubaccountPasswordHash(ctx, a.PartnerID, a.ID)
			if err != nil {
				return err
			}
			hashes = append(hashes, h)
		}
		return nil
	})
	if err != nil {
		return Subaccount{}, err
	}
	accounts := make([]string, len(as))
	for i, a := range as {
		accounts[i] = "partner:" + strconv.FormatInt(a.PartnerID, 10) + ":" + e
	}
	if len(as) == 0 {
		accounts = []string{attempt}
	}
	for _, acct := range accounts {
		if !lim.Allowed(acct, in.Addr, now) {
			return Subaccount{}, errTooManySignIns()
		}
	}
	// One ticket for every check of the attempt: the priority lane when
	// the address is known-good for one of the accounts (the owner of two
	// accounts signing in unscoped from home is not starved on the other).
	ticket := lim.Ticket(accounts[0], in.Addr, now)
	for _, acct := range accounts[1:] {
		if ticket.Priority {
			break
		}
		ticket = lim.Ticket(acct, in.Addr, now)
	}
	var matched []int
	var took time.Duration
	checks := 0
	for i := range accounts {
		hash := dummyHash // no account, or one without a password: the same work
		if i < len(hashes) && hashes[i] != "" {
			hash = hashes[i]
		}
		ok, d, err := s.verifySignIn(ctx, ticket, hash, in.Password)
		if err != nil {
			return Subaccount{}, err
		}
		checks++
		took += d
		if ok && hash != dummyHash {
			matched = append(matched, i)
		}
	}
	if scope == "" && checks < UnscopedMaxAccounts {
		// As long as UnscopedMaxAccounts checks: the time of the answer
		// does not count the email's accounts.
		t := time.NewTimer(took / time.Duration(checks) * time.Duration(UnscopedMaxAccounts-checks))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	switch {
	case len(matched) == 0:
		lim.Failed(accounts[0], in.Addr, now)
		for _, acct := range accounts[1:] {
			lim.AccountFailed(acct, now)
		}
		return Subaccount{}, fail
	case len(matched) > 1 || more:
		return Subaccount{}, Errorf(EUNAUTHORIZED, "%s", errAmbiguousCustomer)
	}
	lim.Succeeded(accounts[matched[0]], in.Addr, now)
	lim.Succeeded(attempt, in.Addr, now)
	if scope != "" {
		// Whoever proved this email's password here may sign in unscoped
		// next (the User API's own /api/ paths): that attempt is known-good
		// too, so a flood cannot refuse it before its lookup.
		lim.Succeeded(unscopedAttempt(e), in.Addr, now)
	}
	return as[matched[0]], nil
}

// unscopedAttempt is the limiter's name of an unscoped sign-in as email.
func unscopedAttempt(email string) string { return "scope::" + email }

// CustomerCaller is the Caller of a customer using the User API.
func CustomerCaller(a Subaccount, ip string) Caller {
	return Caller{Role: RoleSubaccount, PartnerID: a.PartnerID, SubaccountID: a.ID,
		Actor: "customer:" + strconv.FormatInt(a.ID, 10), Protocol: ProtocolUserAPI, SourceIP: ip}
}

// UserAPIToken is an issued User API token, by the hash of its id.
type UserAPIToken struct {
	Hash         string
	PartnerID    int64
	SubaccountID int64
	Kind         string // access or refresh
	CreatedAt    time.Time
	ExpiresAt    time.Time
	RevokedAt    *time.Time
}

// UserAPITokenLeeway is how far past its expiry a token is still accepted,
// for clocks that differ between the node that issued it and the one
// checking it. The token's signature check and UserAPITokenLive both allow
// it, so that a token the one accepts the other does not call revoked.
const UserAPITokenLeeway = 30 * time.Second

// RecordUserAPITokens stores issued tokens so that they can be revoked.
func (s *Service) RecordUserAPITokens(ctx context.Context, ts ...UserAPIToken) error {
	return s.store.Update(ctx, func(tx Tx) error {
		for _, t := range ts {
			if err := tx.InsertUserAPIToken(ctx, t); err != nil {
				return err
			}
		}
		return nil
	})
}

// UserAPITokenLive reports whether a token id (hashed) was issued and is
// neither revoked nor expired (give or take UserAPITokenLeeway).
func (s *Service) UserAPITokenLive(ctx context.Context, hash string) (UserAPIToken, bool, error) {
	var t UserAPIToken
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		t, err = tx.UserAPIToken(ctx, hash)
		return err
	})
	if ErrorCode(err) == ENOTFOUND {
		return t, false, nil
	}
	if err != nil {
		return t, false, err
	}
	return t, t.RevokedAt == nil && s.clock().Before(t.ExpiresAt.Add(UserAPITokenLeeway)), nil
}

// RevokeUserAPIToken ends a token at once; it reports whether it was live.
func (s *Service) RevokeUserAPIToken(ctx context.Context, hash string) (bool, error) {
	var ok bool
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		ok, err = tx.RevokeUserAPIToken(ctx, hash, s.clock())
		return err
	})
	return ok, err
}

// UserAPILogEntry is one logged User API request.
type UserAPILogEntry struct {
	ID           int64     `json:"id"`
	PartnerID    int64     `json:"-"`
	SubaccountID int64     `json:"user,omitempty"`
	At           time.Time `json:"at"`
	Method       string    `json:"method"`
	Route        string    `json:"route"`
	Path         string    `json:"path"`
	Status       int       `json:"status"`
	SourceIP     string    `json:"source_ip"`
	Request      string    `json:"request"`
	Response     string    `json:"response"`
}

// LogUserAPI stores a request log entry (already redacted).
func (s *Service) LogUserAPI(ctx context.Context, e UserAPILogEntry) error {
	e.At = s.clock()
	return s.store.Update(ctx, func(tx Tx) error { return tx.InsertUserAPILog(ctx, &e) })
}

// UserAPILog lists the caller's request log, newest first.
func (s *Service) UserAPILog(ctx context.Context, c Caller, before int64, limit int) ([]UserAPILogEntry, error) {
	if err := c.partnerOnly("read the User API log"); err != nil {
		return nil, err
	}
	var out []UserAPILogEntry
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.UserAPILog(ctx, c.PartnerID, before, limit)
		return err
	})
	return out, err
}
