package core

import (
	"context"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/secret"
)

// NonceRetention is how long GP request nonces are remembered. The GP
// timestamp is a shuffled digit string, not a time, so a replay can only be
// recognised by having seen it: keep them for a year.
const NonceRetention = 365 * 24 * time.Hour

// GPHash is the GP protocol's request signature:
// sha1(sha1(trim(key)) . domain . timestamp) in lower-case hex.
func GPHash(key, domain, timestamp string) string {
	inner := sha1.Sum([]byte(strings.TrimSpace(key)))
	outer := sha1.Sum([]byte(hex.EncodeToString(inner[:]) + domain + timestamp))
	return hex.EncodeToString(outer[:])
}

// AuthenticateGP finds the partner whose API key made hash for (domain,
// timestamp) among the keys bound to addresses (GP keys must be), checks
// that ip is one of that key's addresses, and records the request as a nonce so that it cannot
// be replayed. It returns the caller and the key itself, which the protocol
// needs to decrypt passwords.
func (s *Service) AuthenticateGP(ctx context.Context, ip netip.Addr, domain, timestamp, hash string) (Caller, string, error) {
	signers, err := s.gpSigners(ctx, domain, timestamp, hash)
	if err != nil {
		return Caller{}, "", err
	}
	var found *APIKey
	var key string
	for _, m := range signers {
		if m.key.Allows(ip) {
			found, key = &m.key, m.plain
			break
		}
	}
	if found == nil && len(signers) > 0 {
		return Caller{}, "", &Error{Code: EFORBIDDEN, Message: fmt.Sprintf("access denied: %s is not a registered address of this reseller", ip), Cause: ErrAddressNotAllowed}
	}
	if found == nil {
		return Caller{}, "", Errorf(EUNAUTHORIZED, "invalid hash")
	}
	hash = strings.ToLower(strings.TrimSpace(hash))
	c := keyCaller(*found, ProtocolGP, ip)
	err = s.store.Update(ctx, func(tx Tx) error {
		return tx.InsertNonce(ctx, found.PartnerID, domain, timestamp, hash, s.clock())
	})
	if ErrorCode(err) == ECONFLICT {
		// The nonce's primary key: this very request was seen before.
		return Caller{}, "", &Error{Code: ECONFLICT, Message: ErrorMessage(err), Cause: ErrRequestReplayed}
	}
	if err != nil {
		return Caller{}, "", err
	}
	return c, key, nil
}

// gpMatch is an API key that signed a GP request, with the key itself.
type gpMatch struct {
	key   APIKey
	plain string
}

// gpSigners returns the address-bound API keys (GP keys must be bound)
// whose GP hash of (domain, timestamp) is hash, compared in constant time.
func (s *Service) gpSigners(ctx context.Context, domain, timestamp, hash string) ([]gpMatch, error) {
	var keys []APIKey
	if err := s.store.View(ctx, func(tx Tx) error {
		var err error
		keys, err = tx.AllAPIKeys(ctx)
		return err
	}); err != nil {
		return nil, err
	}
	want := []byte(strings.ToLower(strings.TrimSpace(hash)))
	var out []gpMatch
	for i := range keys {
		if len(keys[i].AllowedCIDRs) == 0 {
			continue
		}
		plain, inner, err := s.gpKey(&keys[i])
		if err != nil {
			return nil, err
		}
		sum := sha1.Sum([]byte(inner + domain + timestamp))
		if subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), want) == 1 {
			out = append(out, gpMatch{keys[i], plain})
		}
	}
	return out, nil
}

// gpKey returns an API key in the clear and its sha1 (hex), opened once and
// then remembered by key id: keys never change, a rotation makes new ones.
func (s *Service) gpKey(k *APIKey) (plain, inner string, err error) {
	if v, ok := s.gpKeys.Load(k.ID); ok {
		e := v.([2]string)
		return e[0], e[1], nil
	}
	plain, err = s.box.Open(k.Sealed)
	if err != nil {
		return "", "", err
	}
	h := sha1.Sum([]byte(strings.TrimSpace(plain)))
	inner = hex.EncodeToString(h[:])
	s.gpKeys.Store(k.ID, [2]string{plain, inner})
	return plain, inner, nil
}

// AuthenticateXML resolves the XML API's user (the partner's name, any
// case) and password (one of its API keys, which must be bound to its
// addresses) used from ip.
func (s *Service) AuthenticateXML(ctx context.Context, user, password string, ip netip.Addr) (Caller, error) {
	if user == "" || password == "" {
		return Caller{}, Errorf(EUNAUTHORIZED, "authentication failed: user and password are required")
	}
	var k APIKey
	var p Partner
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if k, err = tx.APIKeyByHash(ctx, secret.Hash(password)); err != nil {
			return err
		}
		p, err = tx.Partner(ctx, k.PartnerID, false)
		return err
	})
	if ErrorCode(err) == ENOTFOUND || err == nil && !strings.EqualFold(strings.TrimSpace(user), p.Name) {
		return Caller{}, Errorf(EUNAUTHORIZED, "authentication failed: unknown user or wrong password")
	}
	if err != nil {
		return Caller{}, err
	}
	if len(k.AllowedCIDRs) == 0 {
		return Caller{}, Errorf(EFORBIDDEN, "this API key is not bound to any address; the XML API needs one (palisade partner allow-ip)")
	}
	if !k.Allows(ip) {
		return Caller{}, &Error{Code: EFORBIDDEN, Message: fmt.Sprintf("access denied: %s is not an allowed address for this account", ip), Cause: ErrAddressNotAllowed}
	}
	return keyCaller(k, ProtocolXML, ip), nil
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
	if err := in.Account.Validate(); err != nil {
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
		h, err := HashPassword(in.Password)
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
			a = Subaccount{
				PartnerID: c.PartnerID, Email: in.Account.Email, FirstName: in.Account.FirstName, LastName: in.Account.LastName,
				Company: in.Account.Company, Country: in.Account.Country, Address: in.Account.Address, Lang: in.Account.Lang,
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
	h, err := HashPassword(password)
	if err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx Tx) error {
		if err := tx.SetSubaccountPassword(ctx, c.PartnerID, id, h); err != nil {
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
	return h != "" && VerifyPassword(h, password), nil
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
