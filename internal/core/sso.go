package core

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"time"

	"github.com/palisadehq/palisade/internal/secret"
)

// Single sign-on: a partner's panel asks for a login link (XML createToken,
// GP loginlink, REST login-link), authenticated from its addresses; the
// browser that opens it gets a dashboard session, and the link is spent.

const (
	// LoginTokenTTL is how long a login link works.
	LoginTokenTTL = 5 * time.Minute
	// SessionTTL is how long a dashboard session lasts.
	SessionTTL = 12 * time.Hour
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
		l, err = s.openSessionTx(ctx, tx, lt.PartnerID, lt.Scope, lt.WebsiteID, lt.SubaccountID, ProtocolSSO)
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
	return s.openSession(ctx, a.PartnerID, ScopeCustomer, w.ID, a.ID, ProtocolKeyLink)
}

// GPLoginLink answers the GP loginlink call (POST /api/v1/loginlink/): a
// single-use login URL, valid for LoginTokenTTL, that opens panel "client"
// (the customer pages of domain, its customer's session, nothing more) or
// panel "admin" (the partner's console). c is the caller AuthenticateGP
// returned, so the link was asked for with the key, from an address the
// key is bound to, in a request that cannot be replayed: a stolen key
// used elsewhere gets no link.
func (s *Service) GPLoginLink(ctx context.Context, c Caller, panel, domain string) (string, time.Time, error) {
	switch panel {
	case "admin":
		return s.CreateLoginToken(ctx, c, ScopePartner, "")
	case "client":
		return s.CreateLoginToken(ctx, c, ScopeCustomer, domain)
	}
	return "", time.Time{}, FieldError("panel", "panel must be admin or client")
}

// ErrSelfSignedLink marks the refusal of a login link a module signed
// itself.
var ErrSelfSignedLink = errors.New("self-signed login links are not accepted")

// LoginWithGPLink refuses every login link a GP module signed itself
// (/api/v1/login/?panel=&domain=&timestamp=&key=&hash=, an HMAC of the key,
// or the older request-hash form; package testenv/gplink makes them for
// tests), whatever it names, so it reads none of its parameters. Such a link is made from the key alone,
// anywhere: with a stolen key bound to the panel's addresses, it opened
// the partner's console (where keys are minted and revoked) and any
// customer's pages from any address. A module asks for the link instead
// with the GP loginlink call, which is authenticated like every GP call,
// from the key's addresses (GPLoginLink).
func (s *Service) LoginWithGPLink(ctx context.Context) error {
	return &Error{Code: EUNAUTHORIZED, Cause: ErrSelfSignedLink,
		Message: "login links signed by the panel itself are no longer accepted: the panel must ask Palisade for the link with the GP call POST /api/v1/loginlink/ (fields domain, panel=admin|client, timestamp and hash, from the panel's address), which answers a single-use URL (docs/RESELLER.md, Login links)"}
}

// ProtocolKeyLink is the audit log's protocol of a customer's sign-in
// with its API key in the dashboard link (?api-key=, BotGuard-style panel
// links); a sign-in through a single-use login link is ProtocolSSO.
const ProtocolKeyLink = "key_link"

// openSession opens a session in a transaction of its own.
func (s *Service) openSession(ctx context.Context, partnerID int64, scope string, websiteID, subID int64, protocol string) (Login, error) {
	var l Login
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		l, err = s.openSessionTx(ctx, tx, partnerID, scope, websiteID, subID, protocol)
		return err
	})
	return l, err
}

// openSessionTx records a new session in tx, with its audit entry, and
// returns it with the page to open. The audit entry names who signed in
// (the customer, or the partner's staff) and how (protocol: a login link or
// a customer's API key).
func (s *Service) openSessionTx(ctx context.Context, tx Tx, partnerID int64, scope string, websiteID, subID int64, protocol string) (Login, error) {
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
	actor := "partner:" + strconv.FormatInt(partnerID, 10)
	if scope == ScopeCustomer {
		actor = "customer"
		if subID != 0 {
			actor += ":" + strconv.FormatInt(subID, 10)
		}
	}
	c := Caller{PartnerID: partnerID, Actor: actor, Protocol: protocol}
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
