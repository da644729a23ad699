package core

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"golang.org/x/crypto/argon2"

	"github.com/palisadehq/palisade/internal/guard"
)

// Sentinel causes of the sign-in refusals (code ERATELIMITED, so every
// adapter answers them through its ErrorTable's rate_limited row: 429).
var (
	// ErrPasswordChecksBusy: every password-hashing slot is taken and the
	// short queue is full; nothing was checked, retry in a second.
	ErrPasswordChecksBusy = errors.New("too many password checks at once")
	// ErrTooManySignIns: this address, or this address for this account,
	// has failed too often (guard.SignIn); nothing was checked.
	ErrTooManySignIns = errors.New("too many failed sign-ins")
)

func errBusy() error {
	return &Error{Code: ERATELIMITED, Message: "too many sign-ins are being checked right now; retry in a second", Cause: ErrPasswordChecksBusy}
}

func errTooManySignIns() error {
	return &Error{Code: ERATELIMITED, Message: "too many failed sign-ins; wait a quarter of an hour and try again", Cause: ErrTooManySignIns}
}

// WithPasswordGate replaces the Service's password-hashing gate (tests
// use it to count concurrent hashes).
func WithPasswordGate(g *guard.Gate) Option { return func(s *Service) { s.hashGate = g } }

// WithSignInPolicies replaces the sign-in limits of the User API
// (customers) and of the console.
func WithSignInPolicies(customers, console guard.SignInPolicy) Option {
	return func(s *Service) {
		s.customerSignIns, s.consoleSignIns = guard.NewSignIn(customers), guard.NewSignIn(console)
	}
}

// PasswordGate is the Service's password-hashing gate.
func (s *Service) PasswordGate() *guard.Gate { return s.hashGate }

// SignInEntries is how many keys the sign-in limiters hold (customers and
// console together): bounded by their policies.
func (s *Service) SignInEntries() int {
	return s.customerSignIns.Entries() + s.consoleSignIns.Entries()
}

// hashPassword is HashPassword in a slot of the hashing gate: every
// argon2id run of the Service (19 MiB each) goes through the gate, so a
// flood of sign-ins or password changes costs at most Cap runs at once.
func (s *Service) hashPassword(ctx context.Context, pw string) (string, error) {
	var h string
	var err error
	if gerr := s.hashGate.Do(ctx, func() { h, err = HashPassword(pw) }); gerr != nil {
		return "", busyErr(gerr)
	}
	return h, err
}

// verifyPassword is VerifyPassword in a slot of the hashing gate (its
// normal lane, for callers that are not signing in).
func (s *Service) verifyPassword(ctx context.Context, hash, pw string) (bool, error) {
	ok, _, err := s.verifySignIn(ctx, guard.Ticket{}, hash, pw)
	return ok, err
}

// verifySignIn is VerifyPassword of a sign-in attempt in the hashing gate:
// in the lane and on behalf of the networks its ticket names (see
// guard.Gate: a known-good address is served first, and one network holds
// only its share of the gate). It also returns how long the hash itself
// took.
func (s *Service) verifySignIn(ctx context.Context, t guard.Ticket, hash, pw string) (bool, time.Duration, error) {
	var ok bool
	var took time.Duration
	if gerr := s.hashGate.Enter(ctx, t, func() {
		start := time.Now()
		ok = VerifyPassword(hash, pw)
		took = time.Since(start)
	}); gerr != nil {
		return false, 0, busyErr(gerr)
	}
	return ok, took, nil
}

func busyErr(err error) error {
	if errors.Is(err, guard.ErrBusy) {
		return errBusy()
	}
	return Errorf(EUNAVAILABLE, "the request was cancelled before the password was checked")
}

// Password hashing: argon2id with OWASP's minimum parameters (19 MiB, two
// passes, one lane), in the PHC string format so parameters can change later.
const (
	argonMemory = 19 * 1024
	argonTime   = 2
	argonLanes  = 1
	argonKeyLen = 32
)

// HashPassword returns the PHC-format argon2id hash of pw.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	sum := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonLanes, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonLanes, b64.EncodeToString(salt), b64.EncodeToString(sum)), nil
}

// VerifyPassword reports whether pw matches a hash made by HashPassword.
func VerifyPassword(hash, pw string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m > 1<<20 || t > 10 || p == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// CheckPasswordStrength refuses passwords that are easy to guess: fewer than
// 8 characters, fewer than three kinds of character (lower case, upper
// case, digits, others) unless 16 characters or longer, or containing the
// customer's email name or domain.
func CheckPasswordStrength(pw string, avoid ...string) error {
	n := len([]rune(pw))
	if n < 8 {
		return FieldError("password", "weak password: use at least 8 characters")
	}
	if n > 128 {
		return FieldError("password", "password is longer than 128 characters")
	}
	var lower, upper, digit, other bool
	for _, r := range pw {
		switch {
		case unicode.IsLower(r):
			lower = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsDigit(r):
			digit = true
		case unicode.IsControl(r):
			return FieldError("password", "password contains a control character")
		default:
			other = true
		}
	}
	kinds := 0
	for _, k := range []bool{lower, upper, digit, other} {
		if k {
			kinds++
		}
	}
	if kinds < 3 && n < 16 {
		return FieldError("password", "weak password: mix at least three of lower case, upper case, digits and symbols, or use 16 characters or more")
	}
	low := strings.ToLower(pw)
	for _, a := range avoid {
		for _, part := range strings.FieldsFunc(strings.ToLower(a), func(r rune) bool { return r == '@' || r == '.' }) {
			if len(part) >= 4 && strings.Contains(low, part) {
				return FieldError("password", "weak password: it contains %q from the account's email or domain", part)
			}
		}
	}
	return nil
}
