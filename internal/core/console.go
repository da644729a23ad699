package core

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/secret"
)

// The partner console and the operator pages: people sign in with email
// and password (argon2id), optionally a TOTP code (RFC 6238), and get a
// session like single-sign-on ones.

// CreateConsoleUser adds a person who signs in to partnerID's console, or,
// with partnerID 0, to the operator pages. Only the operator may do it.
func (s *Service) CreateConsoleUser(ctx context.Context, c Caller, partnerID int64, email, password string) (ConsoleUser, error) {
	if err := c.operatorOnly("create console users"); err != nil {
		return ConsoleUser{}, err
	}
	e, err := normalizeEmail(email)
	if err != nil {
		return ConsoleUser{}, err
	}
	if err := CheckPasswordStrength(password, e); err != nil {
		return ConsoleUser{}, err
	}
	h, err := s.hashPassword(ctx, password)
	if err != nil {
		return ConsoleUser{}, err
	}
	u := ConsoleUser{PartnerID: partnerID, Role: ScopePartner, Email: e, PasswordHash: h}
	if partnerID == 0 {
		u.Role = ScopeOperator
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		if partnerID != 0 {
			if _, err := tx.Partner(ctx, partnerID, false); err != nil {
				return err
			}
		}
		u.CreatedAt = s.clock()
		if err := tx.InsertConsoleUser(ctx, &u); err != nil {
			return err
		}
		cc := c
		cc.PartnerID = partnerID
		return s.audit(ctx, tx, cc, u.CreatedAt, "console_user", strconv.FormatInt(u.ID, 10), "create", nil, map[string]any{"email": e, "role": u.Role})
	})
	return u, err
}

// ConsoleSignIn is one attempt to sign in to the console or the operator
// pages.
type ConsoleSignIn struct {
	Email, Password string
	// Code is the TOTP code; the form asks everyone for it ("if you set
	// one up"), so the answer never tells a right password from a wrong one.
	Code string
	Addr netip.Addr // the client's address, for the per-address limit
}

// ConsoleLogin checks email, password and (when the user has one) the TOTP
// code, and opens a session. Every failure gets the same answer, after the
// same work (one argon2id run): unknown email, wrong password, and a right
// password with a missing or wrong code, so that the second factor is not
// an oracle for the first. Limits (guard.SignIn: per address and network,
// per account) are checked before the password is hashed, the hash runs
// in the gate's priority lane when the address is known-good for the
// user, and a right password without the right code counts as a failure
// and as a wrong code of the account: after five of those in a quarter of
// an hour, codes are checked only from the user's known-good addresses
// (any other address gets the same answer, whatever its code), so a thief
// with the password cannot spread code guesses over fresh addresses.
func (s *Service) ConsoleLogin(ctx context.Context, in ConsoleSignIn) (Login, error) {
	fail := Errorf(EUNAUTHORIZED, "wrong email, password or code")
	now := s.clock()
	lim := s.consoleSignIns
	if !lim.AddressAllowed(in.Addr, now) {
		return Login{}, errTooManySignIns()
	}
	e, err := normalizeEmail(in.Email)
	if err != nil || len(in.Password) > 1024 {
		lim.Failed("", in.Addr, now)
		return Login{}, fail
	}
	account := "console:" + e
	if !lim.Allowed(account, in.Addr, now) {
		return Login{}, errTooManySignIns()
	}
	ticket := lim.Ticket(account, in.Addr, now)
	if !s.hashGate.Room(ticket) {
		// The client's network already holds its share of the gate, or
		// the queue is full: refused before any lookup.
		return Login{}, errBusy()
	}
	var u ConsoleUser
	err = s.store.View(ctx, func(tx Tx) error {
		var err error
		u, err = tx.ConsoleUserByEmail(ctx, e)
		return err
	})
	hash := u.PasswordHash
	if ErrorCode(err) == ENOTFOUND {
		hash = dummyHash // the same work as a real check
	} else if err != nil {
		return Login{}, err
	}
	ok, _, verr := s.verifySignIn(ctx, ticket, hash, in.Password)
	if verr != nil {
		return Login{}, verr
	}
	if err != nil || !ok {
		lim.Failed(account, in.Addr, now)
		return Login{}, fail
	}
	if u.TOTPSecret != "" {
		sec, err := s.openTOTPSecret(u.TOTPSecret)
		if err != nil {
			return Login{}, err
		}
		if !lim.CodeAllowed(account, in.Addr, now) {
			lim.Failed(account, in.Addr, now)
			lim.CodeFailed(account, now)
			return Login{}, fail
		}
		step, ok := checkTOTP(sec, in.Code, now)
		if !ok || step <= u.TOTPLastStep {
			lim.Failed(account, in.Addr, now)
			lim.CodeFailed(account, now)
			return Login{}, fail
		}
		sealed, err := s.sealTOTPSecret(u.TOTPSecret)
		if err != nil {
			return Login{}, err
		}
		if err := s.store.Update(ctx, func(tx Tx) error { return tx.SetConsoleUserTOTP(ctx, u.ID, sealed, step) }); err != nil {
			return Login{}, err
		}
	}
	lim.Succeeded(account, in.Addr, now)
	return s.openUserSession(ctx, u, in.Addr)
}

// TOTP secrets are stored sealed under the master key ("v1:…", like
// partner keys); a secret stored before that is plain base32, which never
// starts with "v1:" (base32 has no ':'), and is sealed at start-up
// (SealTOTPSecrets) or at its next use.

func (s *Service) openTOTPSecret(stored string) (string, error) {
	if !strings.HasPrefix(stored, "v1:") {
		return stored, nil
	}
	sec, err := s.box.Open(stored)
	if err != nil {
		return "", Errorf(EINTERNAL, "open a TOTP secret: %v", err)
	}
	return sec, nil
}

// sealTOTPSecret seals a plain secret; a sealed one is returned as it is.
func (s *Service) sealTOTPSecret(sec string) (string, error) {
	if sec == "" || strings.HasPrefix(sec, "v1:") {
		return sec, nil
	}
	return s.box.Seal(sec)
}

// SealTOTPSecrets seals every TOTP secret still stored in plain text (a
// data migration, run at start-up after the master key is checked); it
// reports how many it sealed.
func (s *Service) SealTOTPSecrets(ctx context.Context) (int, error) {
	n := 0
	err := s.store.Update(ctx, func(tx Tx) error {
		n = 0
		us, err := tx.ConsoleUsersWithPlainTOTP(ctx)
		if err != nil {
			return err
		}
		for _, u := range us {
			sealed, err := s.sealTOTPSecret(u.TOTPSecret)
			if err != nil {
				return err
			}
			if err := tx.SetConsoleUserTOTP(ctx, u.ID, sealed, u.TOTPLastStep); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

var dummyHash, _ = HashPassword("palisade timing equaliser")

// ProtocolConsole is the audit log's protocol of the console's and the
// operator pages' sign-in form (email, password, code).
const ProtocolConsole = "console"

func (s *Service) openUserSession(ctx context.Context, u ConsoleUser, addr netip.Addr) (Login, error) {
	value, err := secret.NewToken(s.rand, "ps_")
	if err != nil {
		return Login{}, err
	}
	now := s.clock()
	ss := Session{Hash: secret.Hash(value), UserID: u.ID, PartnerID: u.PartnerID, Scope: u.Role, CreatedAt: now, ExpiresAt: now.Add(SessionTTL)}
	next := "/console/overview" // the partner's staff land on the overview of all its websites
	if u.Role == ScopeOperator {
		next = "/operator"
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		if err := tx.InsertSession(ctx, &ss); err != nil {
			return err
		}
		c := Caller{PartnerID: u.PartnerID, Actor: "user:" + u.Email, Protocol: ProtocolConsole}
		if addr.IsValid() {
			c.SourceIP = addr.String()
		}
		return s.audit(ctx, tx, c, now, "session", ss.Hash[:12], "login", nil, map[string]any{"scope": u.Role})
	})
	return Login{Session: ss, Value: value, Next: next}, err
}

// ConsoleUserOf returns the user of a session.
func (s *Service) ConsoleUserOf(ctx context.Context, ss Session) (ConsoleUser, error) {
	var u ConsoleUser
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		u, err = tx.ConsoleUser(ctx, ss.UserID)
		return err
	})
	return u, err
}

// NewTOTPSecret returns a random base32 secret and its otpauth:// URI for
// an authenticator app.
func NewTOTPSecret(issuer, account string) (string, string) {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	sec := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + issuer + ":" + account,
		RawQuery: url.Values{"secret": {sec}, "issuer": {issuer}, "period": {"30"}, "digits": {"6"}}.Encode()}
	return sec, u.String()
}

// EnableTOTP turns on the second factor once the user shows a valid code
// for secret; it signs out the user's other sessions.
func (s *Service) EnableTOTP(ctx context.Context, userID int64, secret, code string) error {
	step, ok := checkTOTP(secret, code, s.clock())
	if !ok {
		return FieldError("code", "that code is not right; check your device's clock and try the next one")
	}
	sealed, err := s.sealTOTPSecret(secret)
	if err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx Tx) error {
		u, err := tx.ConsoleUser(ctx, userID)
		if err != nil {
			return err
		}
		if err := tx.SetConsoleUserTOTP(ctx, userID, sealed, step); err != nil {
			return err
		}
		c := Caller{PartnerID: u.PartnerID, Actor: "user:" + u.Email, Protocol: ProtocolConsole}
		return s.audit(ctx, tx, c, s.clock(), "console_user", strconv.FormatInt(userID, 10), "enable_totp", nil, nil)
	})
}

// TOTPCode is the code of secret at t (for tests and documentation).
func TOTPCode(secret string, t time.Time) string {
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(secret))
	if err != nil {
		return ""
	}
	return hotp(key, t.Unix()/30)
}

func hotp(key []byte, counter int64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(counter))
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1_000_000)
}

// checkTOTP accepts the code of the current 30-second step or the one on
// either side, returning the step it matched.
func checkTOTP(secret, code string, now time.Time) (int64, bool) {
	code = strings.TrimSpace(code)
	if len(code) != 6 {
		return 0, false
	}
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(secret))
	if err != nil {
		return 0, false
	}
	step := now.Unix() / 30
	for _, d := range []int64{0, -1, 1} {
		if hmac.Equal([]byte(hotp(key, step+d)), []byte(code)) {
			return step + d, true
		}
	}
	return 0, false
}

// CreateAPIKey issues a named API key for the caller, usable from cidrs.
// Only the operator sets where a partner's keys may be used from, so each
// of cidrs must be a binding (at least /8, or /32 for IPv6) within the
// partner's operator-set ranges; none gives those ranges (or, for a
// partner the operator bound nowhere, any address, as its own key). The
// key is returned once. Only a partner has keys.
func (s *Service) CreateAPIKey(ctx context.Context, c Caller, name string, cidrs []string) (string, APIKey, error) {
	if err := c.partnerOnly("create API keys"); err != nil {
		return "", APIKey{}, err
	}
	name = strings.TrimSpace(name)
	if err := checkText("name", name, 100); err != nil {
		return "", APIKey{}, err
	}
	ps, err := ParsePrefixes("allowed_ips", cidrs)
	if err != nil {
		return "", APIKey{}, err
	}
	key, sealed, err := s.newPartnerKey()
	if err != nil {
		return "", APIKey{}, err
	}
	k := APIKey{PartnerID: c.PartnerID, Prefix: keyPrefix(key), Hash: secret.Hash(key), Sealed: sealed, AllowedCIDRs: ps, Name: name}
	err = s.store.Update(ctx, func(tx Tx) error {
		var err error
		if k.AllowedCIDRs, err = s.partnerMintedRanges(ctx, tx, c.PartnerID, ps); err != nil {
			return err
		}
		k.CreatedAt = s.clock()
		if err := tx.InsertAPIKey(ctx, &k); err != nil {
			return err
		}
		return s.audit(ctx, tx, c, k.CreatedAt, "api_key", k.Prefix, "create", nil, map[string]any{"name": name, "allowed_ips": prefixStrings(k.AllowedCIDRs)})
	})
	if err != nil {
		return "", APIKey{}, err
	}
	s.keysChanged()
	return key, k, nil
}

// partnerMintedRanges decides, in tx, the ranges of a key a partner (not
// the operator) mints for itself: requested must lie within the ranges
// the operator set for it (checkMintedRanges).
func (s *Service) partnerMintedRanges(ctx context.Context, tx Tx, partnerID int64, requested []netip.Prefix) ([]netip.Prefix, error) {
	ops, err := tx.PartnerAllowedCIDRs(ctx, partnerID)
	if err != nil {
		return nil, err
	}
	return checkMintedRanges("allowed_ips", requested, ops)
}

// SignOutEverywhere ends every session of a console user.
func (s *Service) SignOutEverywhere(ctx context.Context, userID int64) error {
	return s.store.Update(ctx, func(tx Tx) error { return tx.DeleteUserSessions(ctx, userID) })
}
