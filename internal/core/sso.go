package core

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/secret"
)

// Single sign-on: a partner's panel asks for a login link (XML createToken,
// or builds a signed GP link itself); the browser that opens it gets a
// dashboard session, and the link is spent.

const (
	// LoginTokenTTL is how long a login link works.
	LoginTokenTTL = 5 * time.Minute
	// SessionTTL is how long a dashboard session lasts.
	SessionTTL = 12 * time.Hour
	// LinkClockSkew is how far a GP login link's timestamp may be from now.
	LinkClockSkew = 5 * time.Minute
)

// Login is where an opened link leads: the session and the page to show.
type Login struct {
	Session Session
	Value   string // the session cookie's value; only its hash is stored
	Next    string // path of the page to open
	// Framed is true when the partner lets its panels embed the customer
	// pages, so the cookie must work in a third-party iframe.
	Framed bool
}

// CreateLoginToken returns a single-use login URL, valid for LoginTokenTTL.
// Scope "customer" opens the customer pages of domain (its subaccount's
// session); scope "partner" opens the partner's own console. Only a
// partner creates login links.
func (s *Service) CreateLoginToken(ctx context.Context, c Caller, scope, domain string) (string, time.Time, error) {
	if err := c.partnerOnly("create login links"); err != nil {
		return "", time.Time{}, err
	}
	switch scope {
	case ScopePartner:
		return s.createLoginToken(ctx, c, LoginToken{PartnerID: c.PartnerID, Scope: scope})
	case ScopeCustomer:
		w, err := s.Website(ctx, c, domain)
		if err != nil {
			return "", time.Time{}, err
		}
		return s.createLoginToken(ctx, c, LoginToken{PartnerID: c.PartnerID, Scope: scope, WebsiteID: w.ID, SubaccountID: w.SubaccountID})
	}
	return "", time.Time{}, FieldError("scope", "scope must be partner or customer")
}

// CreateCustomerLoginToken is CreateLoginToken for a customer (subaccount)
// by id: websiteID opens that website (which must be theirs), 0 their first.
func (s *Service) CreateCustomerLoginToken(ctx context.Context, c Caller, subaccountID, websiteID int64) (string, time.Time, error) {
	if err := c.partnerOnly("create login links"); err != nil {
		return "", time.Time{}, err
	}
	a, err := s.Subaccount(ctx, c, subaccountID)
	if err != nil {
		return "", time.Time{}, Errorf(ENOTFOUND, "account_id %d not found", subaccountID)
	}
	if websiteID != 0 {
		w, err := s.WebsiteByID(ctx, c, websiteID)
		if err != nil {
			return "", time.Time{}, err
		}
		// The link opens what the customer may open, nothing more.
		if CanSeeWebsite(CustomerCaller(a, c.SourceIP), w) != nil {
			return "", time.Time{}, Errorf(ENOTFOUND, "site_id %d does not belong to account_id %d", websiteID, subaccountID)
		}
	} else {
		ws, err := s.Websites(ctx, c, WebsiteFilter{SubaccountID: subaccountID, Limit: 1})
		if err != nil {
			return "", time.Time{}, err
		}
		if len(ws) == 0 {
			return "", time.Time{}, Errorf(ECONFLICT, "account_id %d has no sites to open", subaccountID)
		}
		websiteID = ws[0].ID
	}
	return s.createLoginToken(ctx, c, LoginToken{PartnerID: c.PartnerID, Scope: ScopeCustomer, WebsiteID: websiteID, SubaccountID: subaccountID})
}

func (s *Service) createLoginToken(ctx context.Context, c Caller, lt LoginToken) (string, time.Time, error) {
	token, err := secret.NewToken(s.rand, "lt_")
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.clock()
	lt.Hash, lt.CreatedAt, lt.ExpiresAt = secret.Hash(token), now, now.Add(LoginTokenTTL)
	err = s.store.Update(ctx, func(tx Tx) error {
		if err := tx.InsertLoginToken(ctx, &lt); err != nil {
			return err
		}
		return s.audit(ctx, tx, c, now, "login_token", lt.Hash[:12], "create", nil, map[string]any{"scope": lt.Scope, "website": lt.WebsiteID, "user": lt.SubaccountID})
	})
	if err != nil {
		return "", time.Time{}, err
	}
	return s.cfg.PublicURL + "/sso?token=" + url.QueryEscape(token), lt.ExpiresAt, nil
}

// LoginWithToken spends a login token and opens a session, in one
// transaction: a session that could not be opened leaves the link unspent.
func (s *Service) LoginWithToken(ctx context.Context, token string) (Login, error) {
	var l Login
	err := s.store.Update(ctx, func(tx Tx) error {
		lt, err := tx.UseLoginToken(ctx, secret.Hash(token), s.clock())
		if err != nil {
			return err
		}
		l, err = s.openSessionTx(ctx, tx, lt.PartnerID, lt.Scope, lt.WebsiteID, lt.SubaccountID)
		return err
	})
	return l, err
}

// LoginWithSubaccountKey opens a customer session from a subaccount's API
// key (the ?api-key= of BotGuard-style panel links) for one of its websites.
func (s *Service) LoginWithSubaccountKey(ctx context.Context, key, domain string) (Login, error) {
	d, err := NormalizeDomain(domain)
	if err != nil {
		return Login{}, err
	}
	var a Subaccount
	var w Website
	err = s.store.View(ctx, func(tx Tx) error {
		var err error
		if a, err = tx.SubaccountByKeyHash(ctx, secret.Hash(key)); err != nil {
			return err
		}
		w, err = tx.Website(ctx, a.PartnerID, d, false)
		return err
	})
	if err == nil {
		err = CanSeeWebsite(CustomerCaller(a, ""), w)
	}
	if ErrorCode(err) == ENOTFOUND {
		return Login{}, Errorf(EUNAUTHORIZED, "this key does not open %s; ask your hosting provider for a new link", d)
	}
	if err != nil {
		return Login{}, err
	}
	return s.openSession(ctx, a.PartnerID, ScopeCustomer, w.ID, a.ID)
}

// LoginWithGPLink checks a login link a GP module built (GPLink,
// GPLinkHash) and opens what it names: panel "client" the customer pages
// of domain (its customer's session, nothing more), panel "admin" the
// partner's console. Everything that selects what the link opens (panel,
// domain) is signed, with a function of the key that no GP request hash
// is; the timestamp is the link's Unix time, within LinkClockSkew of now;
// the link is spent on first use. The browser opening it is the
// customer's, so no source address is checked; only keys bound to
// addresses within the operator's ranges sign links.
func (s *Service) LoginWithGPLink(ctx context.Context, l GPLink) (Login, error) {
	now := s.clock()
	switch l.Panel {
	case "admin", "client":
	default:
		return Login{}, FieldError("panel", "panel must be admin or client")
	}
	if l.Key == "" && len(l.Hash) == 40 {
		return Login{}, Errorf(EUNAUTHORIZED, "this login link has the old form (a request hash), which is no longer accepted: build it with key= and an HMAC-SHA256 hash (docs/RESELLER.md, Login links)")
	}
	if l.Domain == "" || len(l.Domain) > 253 || strings.ContainsAny(l.Domain, "|") || strings.IndexFunc(l.Domain, func(r rune) bool { return r < 0x21 || r == 0x7f }) >= 0 {
		return Login{}, FieldError("domain", "domain must be 1 to 253 printable characters without |")
	}
	if len(l.Key) != 16 || len(l.Hash) != 64 {
		return Login{}, Errorf(EUNAUTHORIZED, "this login link is not valid")
	}
	ts, err := strconv.ParseInt(l.Timestamp, 10, 64)
	if err != nil || strconv.FormatInt(ts, 10) != l.Timestamp || now.Sub(time.Unix(ts, 0)).Abs() > LinkClockSkew {
		return Login{}, Errorf(EUNAUTHORIZED, "this login link has expired; open it again from your panel")
	}
	m, found, err := s.gpLinkSigner(ctx, l)
	if err != nil {
		return Login{}, err
	}
	if !found {
		return Login{}, Errorf(EUNAUTHORIZED, "this login link is not valid")
	}
	hash := strings.ToLower(l.Hash)
	c := PartnerCaller(m.key.PartnerID, "partner:"+strconv.FormatInt(m.key.PartnerID, 10)+" key:"+m.key.Prefix+" (login link)", ProtocolSSO, "")
	scope, websiteID, subID := ScopePartner, int64(0), int64(0)
	if l.Panel == "client" {
		w, err := s.Website(ctx, c, l.Domain)
		if err != nil {
			return Login{}, err
		}
		scope, websiteID, subID = ScopeCustomer, w.ID, w.SubaccountID
	}
	// The link is spent and the session opened in one transaction: a
	// session that could not be opened leaves the link usable.
	var out Login
	err = s.store.Update(ctx, func(tx Tx) error {
		ranges, err := s.confirmGPKey(ctx, tx, m)
		if err != nil {
			return err
		}
		if len(ranges) == 0 {
			return Errorf(EUNAUTHORIZED, "this login link is not valid")
		}
		if err := tx.InsertNonce(ctx, m.key.PartnerID, "login:"+l.Domain, l.Timestamp, hash, now); err != nil {
			if ErrorCode(err) == ECONFLICT {
				return Errorf(EUNAUTHORIZED, "this login link was already used; open it again from your panel")
			}
			return err
		}
		out, err = s.openSessionTx(ctx, tx, m.key.PartnerID, scope, websiteID, subID)
		return err
	})
	return out, err
}

// openSession opens a session in a transaction of its own.
func (s *Service) openSession(ctx context.Context, partnerID int64, scope string, websiteID, subID int64) (Login, error) {
	var l Login
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		l, err = s.openSessionTx(ctx, tx, partnerID, scope, websiteID, subID)
		return err
	})
	return l, err
}

// openSessionTx records a new session in tx, with its audit entry, and
// returns it with the page to open.
func (s *Service) openSessionTx(ctx context.Context, tx Tx, partnerID int64, scope string, websiteID, subID int64) (Login, error) {
	value, err := secret.NewToken(s.rand, "ps_")
	if err != nil {
		return Login{}, err
	}
	now := s.clock()
	ss := Session{Hash: secret.Hash(value), PartnerID: partnerID, SubaccountID: subID, WebsiteID: websiteID, Scope: scope, CreatedAt: now, ExpiresAt: now.Add(SessionTTL)}
	if err := tx.InsertSession(ctx, &ss); err != nil {
		return Login{}, err
	}
	next := "/console"
	if scope == ScopeCustomer {
		w, err := tx.WebsiteByID(ctx, partnerID, websiteID)
		if err != nil {
			return Login{}, err
		}
		lang := "en"
		if subID != 0 {
			if a, err := tx.Subaccount(ctx, partnerID, subID); err == nil && a.Lang != "" {
				lang = a.Lang
			}
		}
		next = "/" + url.PathEscape(lang) + "/website/" + url.PathEscape(w.Domain) + "/statistics"
	}
	framed := false
	if p, err := tx.Partner(ctx, partnerID, false); err == nil {
		framed = p.EmbedOrigins != ""
	}
	c := Caller{PartnerID: partnerID, Actor: "session", Protocol: ProtocolSSO}
	if err := s.audit(ctx, tx, c, now, "session", ss.Hash[:12], "login", nil, map[string]any{"scope": scope, "website": websiteID}); err != nil {
		return Login{}, err
	}
	return Login{Session: ss, Value: value, Next: next, Framed: framed}, nil
}

// SessionByValue returns the live session a cookie value names.
func (s *Service) SessionByValue(ctx context.Context, value string) (Session, error) {
	if value == "" {
		return Session{}, Errorf(EUNAUTHORIZED, "not signed in; open the dashboard from your panel")
	}
	var ss Session
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		ss, err = tx.Session(ctx, secret.Hash(value), s.clock())
		return err
	})
	if ErrorCode(err) == ENOTFOUND {
		return Session{}, Errorf(EUNAUTHORIZED, "your session has ended; open the dashboard from your panel again")
	}
	return ss, err
}

// Logout ends a session.
func (s *Service) Logout(ctx context.Context, value string) error {
	return s.store.Update(ctx, func(tx Tx) error { return tx.DeleteSession(ctx, secret.Hash(value)) })
}

// PurgeLogins deletes expired login tokens and sessions.
func (s *Service) PurgeLogins(ctx context.Context) (n int64, err error) {
	err = s.store.Update(ctx, func(tx Tx) error {
		n, err = tx.PurgeLogins(ctx, s.clock())
		return err
	})
	return n, err
}
