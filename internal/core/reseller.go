package core

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/secret"
)

// NonceRetention is how long GP request nonces are remembered. A GP
// timestamp must shuffle the digits of a time near now, but the same
// digits are also a time months away (1796123456, 1796213456), so a
// request is remembered for a year.
const NonceRetention = 365 * 24 * time.Hour

// GPHash is the GP protocol's request signature:
// sha1(sha1(trim(key)) . domain . timestamp) in lower-case hex.
func GPHash(key, domain, timestamp string) string {
	inner := sha1.Sum([]byte(strings.TrimSpace(key)))
	outer := sha1.Sum([]byte(hex.EncodeToString(inner[:]) + domain + timestamp))
	return hex.EncodeToString(outer[:])
}

// AuthenticateGP checks a GP request from ip: its timestamp must shuffle
// the digits of a time within GPTimestampWindow of now; its hash must be
// made by a key usable from ip (bound to a range holding ip, within the
// ranges the operator set for the partner); and the request is recorded as
// a nonce so that it cannot be replayed. Only the keys usable from ip are
// hashed. It returns the caller and the key itself, which the protocol
// needs to decrypt passwords.
func (s *Service) AuthenticateGP(ctx context.Context, ip netip.Addr, domain, timestamp, hash string) (Caller, string, error) {
	now := s.clock()
	if err := checkGPTimestamp(timestamp, now); err != nil {
		return Caller{}, "", err
	}
	m, found, tried, err := s.gpSigner(ctx, ip, domain, timestamp, hash)
	if err != nil {
		return Caller{}, "", err
	}
	if !found && tried == 0 {
		// No key may be used from ip at all: only keys usable from the
		// caller's address are tried.
		return Caller{}, "", &Error{Code: EFORBIDDEN, Message: fmt.Sprintf("access denied: %s is not a registered address of any reseller", ip.Unmap()), Cause: ErrAddressNotAllowed}
	}
	if !found {
		return Caller{}, "", Errorf(EUNAUTHORIZED, "invalid hash")
	}
	hash = strings.ToLower(strings.TrimSpace(hash))
	err = s.store.Update(ctx, func(tx Tx) error {
		ranges, err := s.confirmGPKey(ctx, tx, m)
		if err != nil {
			return err
		}
		if !containsAddr(ranges, ip) {
			return &Error{Code: EFORBIDDEN, Message: fmt.Sprintf("access denied: %s is not a registered address of this reseller", ip.Unmap()), Cause: ErrAddressNotAllowed}
		}
		return tx.InsertNonce(ctx, m.key.PartnerID, domain, timestamp, hash, now)
	})
	if ErrorCode(err) == ECONFLICT {
		// The nonce's primary key: this very request was seen before.
		return Caller{}, "", &Error{Code: ECONFLICT, Message: ErrorMessage(err), Cause: ErrRequestReplayed}
	}
	if err != nil {
		return Caller{}, "", err
	}
	return keyCaller(m.key, ProtocolGP, ip), m.plain, nil
}

// AuthenticateXML resolves the XML API's user (the partner's name, any
// case) and password (one of its API keys) used from ip. The key must be
// bound to a range holding ip that lies within the ranges the operator
// set for the partner; 0.0.0.0/0 and other ranges wider than a /8 (/32
// for IPv6) bind nothing.
func (s *Service) AuthenticateXML(ctx context.Context, user, password string, ip netip.Addr) (Caller, error) {
	if user == "" || password == "" {
		return Caller{}, Errorf(EUNAUTHORIZED, "authentication failed: user and password are required")
	}
	var k APIKey
	var p Partner
	var ops []netip.Prefix
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if k, err = tx.APIKeyByHash(ctx, secret.Hash(password)); err != nil {
			return err
		}
		if p, err = tx.Partner(ctx, k.PartnerID, false); err != nil {
			return err
		}
		ops, err = tx.PartnerAllowedCIDRs(ctx, k.PartnerID)
		return err
	})
	if ErrorCode(err) == ENOTFOUND || err == nil && !strings.EqualFold(strings.TrimSpace(user), p.Name) {
		return Caller{}, Errorf(EUNAUTHORIZED, "authentication failed: unknown user or wrong password")
	}
	if err != nil {
		return Caller{}, err
	}
	ranges := boundRanges(k.AllowedCIDRs, ops)
	if len(ranges) == 0 {
		return Caller{}, Errorf(EFORBIDDEN, "this API key is not bound to any address the operator allows for your account; the XML API needs one (palisade partner allow-ip; 0.0.0.0/0 and ranges wider than /%d or /%d for IPv6 do not count)", MinBindingBitsV4, MinBindingBitsV6)
	}
	if !containsAddr(ranges, ip) {
		return Caller{}, &Error{Code: EFORBIDDEN, Message: fmt.Sprintf("access denied: %s is not an allowed address for this account", ip.Unmap()), Cause: ErrAddressNotAllowed}
	}
	return keyCaller(k, ProtocolXML, ip), nil
}

// AccountsPage is one page of a partner's customers, with the live
// websites of each (by subaccount id), and how many customers there are.
type AccountsPage struct {
	Total    int
	Accounts []Subaccount
	Websites map[int64][]Website
}

// MaxAccountsPage is the most customers AccountsPage returns at once.
const MaxAccountsPage = 500

// AccountsPage returns customers offset+1 … offset+limit of the caller's,
// by id, with their websites: two indexed queries and a count, whatever
// the number of customers (XML getAccounts).
func (s *Service) AccountsPage(ctx context.Context, c Caller, limit, offset int) (AccountsPage, error) {
	if err := c.partnerOnly("list customer accounts"); err != nil {
		return AccountsPage{}, err
	}
	if limit < 1 || limit > MaxAccountsPage {
		return AccountsPage{}, FieldError("limit", "limit must be between 1 and %d", MaxAccountsPage)
	}
	if offset < 0 {
		return AccountsPage{}, FieldError("offset", "offset must be 0 or more")
	}
	out := AccountsPage{Websites: map[int64][]Website{}}
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if out.Total, out.Accounts, err = tx.SubaccountPage(ctx, c.PartnerID, limit, offset); err != nil {
			return err
		}
		ids := make([]int64, len(out.Accounts))
		for i, a := range out.Accounts {
			ids[i] = a.ID
		}
		ws, err := tx.WebsitesOfSubaccounts(ctx, c.PartnerID, ids)
		for _, w := range ws {
			out.Websites[w.SubaccountID] = append(out.Websites[w.SubaccountID], w)
		}
		return err
	})
	if err != nil {
		return AccountsPage{}, err
	}
	return out, nil
}

// PurgeNonces forgets GP nonces older than NonceRetention.
func (s *Service) PurgeNonces(ctx context.Context) (n int64, err error) {
	err = s.store.Update(ctx, func(tx Tx) error {
		n, err = tx.PurgeNonces(ctx, s.clock().Add(-NonceRetention))
		return err
	})
	return n, err
}

// Provision is the input of ProvisionAccount: a customer (found by email, or
// created) and, optionally, a website for them.
type Provision struct {
	Account  SubaccountCreate
	Password string // plain; "" keeps (or leaves unset) the password
	// MustBeNew refuses an existing account with the same email.
	MustBeNew bool
	Domain    string // "" provisions the account only
	Plan      string
}

// ProvisionAccount creates (or finds, by email) a subaccount, sets its
// password, and registers a website for it on a plan, charging the plan,
// all in one transaction: either everything is done or nothing is.
func (s *Service) ProvisionAccount(ctx context.Context, c Caller, in Provision) (Subaccount, Website, error) {
	if err := c.partnerOnly("provision accounts"); err != nil {
		return Subaccount{}, Website{}, err
	}
	// An empty or unknown language becomes the partner's default below.
	if _, err := in.Account.validate(); err != nil {
		return Subaccount{}, Website{}, err
	}
	var domain string
	if in.Domain != "" {
		d, err := NormalizeDomain(in.Domain)
		if err != nil {
			return Subaccount{}, Website{}, err
		}
		domain = d
	}
	var pwHash string
	if in.Password != "" {
		if err := CheckPasswordStrength(in.Password, in.Account.Email, domain); err != nil {
			return Subaccount{}, Website{}, err
		}
		h, err := s.hashPassword(ctx, in.Password)
		if err != nil {
			return Subaccount{}, Website{}, err
		}
		pwHash = h
	}
	planName := in.Plan
	if planName == "" {
		planName = s.cfg.DefaultPlan
	}
	subKey, err := secret.NewToken(s.rand, "ck_")
	if err != nil {
		return Subaccount{}, Website{}, err
	}
	subSealed, err := s.box.Seal(subKey)
	if err != nil {
		return Subaccount{}, Website{}, err
	}
	siteKey, err := secret.NewToken(s.rand, "sk_")
	if err != nil {
		return Subaccount{}, Website{}, err
	}
	siteSealed, err := s.box.Seal(siteKey)
	if err != nil {
		return Subaccount{}, Website{}, err
	}
	var a Subaccount
	var w Website
	err = s.store.Update(ctx, func(tx Tx) error {
		now := s.clock()
		existing, err := tx.Subaccounts(ctx, c.PartnerID, SubaccountFilter{Email: in.Account.Email, Limit: 1})
		if err != nil {
			return err
		}
		if len(existing) > 0 {
			if in.MustBeNew {
				return &Error{Code: ECONFLICT, Message: fmt.Sprintf("account already exists: %s (id %d)", in.Account.Email, existing[0].ID), Cause: ErrAccountExists}
			}
			a = existing[0]
			if in.Password != "" {
				// The account's other websites count too.
				if err := s.checkCustomerPassword(ctx, tx, a, in.Password, domain); err != nil {
					return err
				}
			}
		} else {
			lang := in.Account.Lang
			if lang == "" {
				p, err := tx.Partner(ctx, c.PartnerID, false)
				if err != nil {
					return err
				}
				lang = p.Language()
			}
			a = Subaccount{
				PartnerID: c.PartnerID, Email: in.Account.Email, FirstName: in.Account.FirstName, LastName: in.Account.LastName,
				Company: in.Account.Company, Country: in.Account.Country, Address: in.Account.Address, Lang: lang,
				APIKeyHash: secret.Hash(subKey), APIKeySealed: subSealed, CreatedAt: now,
			}
			if err := tx.InsertSubaccount(ctx, &a); err != nil {
				return err
			}
			id := strconv.FormatInt(a.ID, 10)
			if err := s.audit(ctx, tx, c, now, "user", id, "create", nil, map[string]any{"email": a.Email, "first_name": a.FirstName, "last_name": a.LastName}); err != nil {
				return err
			}
		}
		if pwHash != "" {
			if err := tx.SetSubaccountPassword(ctx, c.PartnerID, a.ID, pwHash); err != nil {
				return err
			}
			// A new password ends the customer's User API tokens.
			if _, err := tx.RevokeSubaccountUserAPITokens(ctx, c.PartnerID, a.ID, now); err != nil {
				return err
			}
			if err := s.audit(ctx, tx, c, now, "user", strconv.FormatInt(a.ID, 10), "set_password", nil, nil); err != nil {
				return err
			}
		}
		if domain == "" {
			return nil
		}
		w, err = s.createWebsiteTx(ctx, tx, c, now, domain, planName, a.ID, siteKey, siteSealed)
		if ErrorCode(err) == ECONFLICT {
			// createWebsiteTx's one conflict: the domain is registered.
			err = &Error{Code: ECONFLICT, Message: ErrorMessage(err), Cause: ErrDomainTaken}
		}
		return err
	})
	if err != nil {
		return Subaccount{}, Website{}, err
	}
	if err := s.openSubaccountKey(&a); err != nil {
		return Subaccount{}, Website{}, err
	}
	if domain != "" {
		s.notify()
		if err := s.openServerKey(&w); err != nil {
			return Subaccount{}, Website{}, err
		}
	}
	return a, w, nil
}

// SetWebsitePassword sets the password of the subaccount a website belongs to.
func (s *Service) SetWebsitePassword(ctx context.Context, c Caller, domain, password string) error {
	if err := c.partnerOnly("set customers' passwords"); err != nil {
		return err
	}
	w, err := s.Website(ctx, c, domain)
	if err != nil {
		return err
	}
	if w.SubaccountID == 0 {
		return Errorf(ECONFLICT, "website %s has no customer account to set a password for", w.Domain)
	}
	return s.SetSubaccountPassword(ctx, c, w.SubaccountID, password)
}

// SetSubaccountPassword checks and sets a subaccount's password. Every
// protocol's password reset comes here, so one rule applies to all: strong
// enough, and not containing the account's email name or the domain of
// any of its websites (checkCustomerPassword).
func (s *Service) SetSubaccountPassword(ctx context.Context, c Caller, id int64, password string) error {
	if err := c.partnerOnly("set customers' passwords"); err != nil {
		return err
	}
	a, err := s.Subaccount(ctx, c, id)
	if err != nil {
		return err
	}
	if err := s.store.View(ctx, func(tx Tx) error { return s.checkCustomerPassword(ctx, tx, a, password) }); err != nil {
		return err
	}
	h, err := s.hashPassword(ctx, password)
	if err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx Tx) error {
		if err := tx.SetSubaccountPassword(ctx, c.PartnerID, id, h); err != nil {
			return err
		}
		// A new password ends the customer's User API tokens (access and
		// refresh), in the same transaction.
		if _, err := tx.RevokeSubaccountUserAPITokens(ctx, c.PartnerID, id, s.clock()); err != nil {
			return err
		}
		return s.audit(ctx, tx, c, s.clock(), "user", strconv.FormatInt(id, 10), "set_password", nil, nil)
	})
}

// CheckSubaccountPassword reports whether password is the subaccount's.
func (s *Service) CheckSubaccountPassword(ctx context.Context, c Caller, id int64, password string) (bool, error) {
	if err := c.partnerOnly("check customers' passwords"); err != nil {
		return false, err
	}
	var h string
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		h, err = tx.SubaccountPasswordHash(ctx, c.PartnerID, id)
		return err
	})
	if err != nil {
		return false, err
	}
	if h == "" {
		return false, nil
	}
	return s.verifyPassword(ctx, h, password)
}

// checkCustomerPassword is the one password rule for customer accounts:
// CheckPasswordStrength, avoiding the account's email and the domains of
// its websites, plus extra (a domain being registered with the password).
func (s *Service) checkCustomerPassword(ctx context.Context, tx Tx, a Subaccount, password string, extra ...string) error {
	ws, err := tx.Websites(ctx, a.PartnerID, WebsiteFilter{SubaccountID: a.ID})
	if err != nil {
		return err
	}
	avoid := append([]string{a.Email}, extra...)
	for _, w := range ws {
		avoid = append(avoid, w.Domain)
	}
	return CheckPasswordStrength(password, avoid...)
}
