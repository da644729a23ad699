package core

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/palisadehq/palisade/internal/secret"
)

// SubaccountCreate is the input of CreateSubaccount.
type SubaccountCreate struct {
	Email     string
	FirstName string
	LastName  string
	Company   string
	Country   string // ISO 3166-1 alpha-2, optional
	Address   string
	// Lang is the dashboards' language: an ISO 639-1 code, a locale
	// (en_US, pt-BR) or an English name such as WHMCS sends (english,
	// russian, portuguese-br); see ParseLanguage. Empty or unknown: the
	// partner's default language (Partner.DefaultLang; an unknown one with
	// a warning).
	Lang string
}

// Validate normalises and checks the input. An unknown language is not an
// error: Validate, which knows no partner, makes it DefaultLanguage;
// ProvideSubaccount and ProvisionAccount use the partner's default.
func (in *SubaccountCreate) Validate() error {
	_, err := in.validate()
	if in.Lang == "" {
		in.Lang = DefaultLanguage
	}
	return err
}

// validate is Validate, leaving Lang "" when it is empty or unknown (the
// caller fills in the partner's default), and returning the unknown
// language sent, if any, for the caller's warning.
func (in *SubaccountCreate) validate() (unknownLang string, err error) {
	email, err := normalizeEmail(in.Email)
	if err != nil {
		return "", err
	}
	in.Email = email
	for _, f := range []struct {
		name string
		v    *string
		max  int
	}{{"first_name", &in.FirstName, 100}, {"last_name", &in.LastName, 100}, {"company", &in.Company, 200}, {"address", &in.Address, 500}} {
		*f.v = strings.TrimSpace(*f.v)
		if err := checkText(f.name, *f.v, f.max); err != nil {
			return "", err
		}
	}
	in.Country = strings.ToUpper(strings.TrimSpace(in.Country))
	if in.Country != "" && !isLetters(in.Country, 2) {
		return "", FieldError("country", "country must be a two-letter ISO 3166 code such as DE, not %q", in.Country)
	}
	lang := strings.TrimSpace(in.Lang)
	code, _ := ParseLanguage(lang)
	in.Lang = code
	if code == "" && lang != "" {
		return lang, nil
	}
	return "", nil
}

// unknownLangWarning is the warning of a new account created with the
// partner's default language lang because the one sent, raw, is unknown.
func unknownLangWarning(raw, lang string) string {
	return fmt.Sprintf("lang: %q is not a language Palisade knows (send an ISO 639-1 code such as de, a locale such as pt_BR, or an English name such as german); the account's language is the partner's default language, %s", clip(raw, 64), lang)
}

// clip shortens s to at most n bytes, on a rune boundary, for messages.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isLetters(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

func (s *Service) openSubaccountKey(a *Subaccount) error {
	k, err := s.box.Open(a.APIKeySealed)
	if err != nil {
		return fmt.Errorf("subaccount %d api key: %w", a.ID, err)
	}
	a.APIKey = k
	return nil
}

// SubaccountResult is what ProvideSubaccount did.
type SubaccountResult struct {
	Subaccount Subaccount
	// Existing: the partner already had a subaccount with this email and
	// no conflicting fields, and this is it; nothing was created.
	Existing bool
	// Replayed: the answer repeats an earlier request with the same
	// Idempotency-Key.
	Replayed bool
	// Warnings say what of the input was not taken as given (an unknown
	// language, a field the existing subaccount has no value for).
	Warnings []string
}

// CreateSubaccount is ProvideSubaccount for callers that need only the
// subaccount and whether the answer was replayed.
func (s *Service) CreateSubaccount(ctx context.Context, c Caller, in SubaccountCreate, idem Idem) (Subaccount, bool, error) {
	r, err := s.ProvideSubaccount(ctx, c, in, idem)
	return r.Subaccount, r.Replayed, err
}

// ProvideSubaccount adds an end customer, or answers the partner's existing
// one. Emails are unique per partner; billing modules ask to create the
// customer before each order, so a create whose email the partner already
// has is answered with that subaccount (Existing) when nothing sent
// contradicts it: every field sent non-empty (first_name, last_name,
// company, country, address) must equal the stored one, ignoring case and
// surrounding spaces. A field the stored subaccount has no value for, and
// a different lang, change nothing and are reported in Warnings. Any
// contradicting field is a conflict naming it. Only the caller's own
// subaccounts are looked at: another partner's customer with the same
// email is neither found nor revealed.
func (s *Service) ProvideSubaccount(ctx context.Context, c Caller, in SubaccountCreate, idem Idem) (SubaccountResult, error) {
	if err := c.partnerOnly("create customer accounts"); err != nil {
		return SubaccountResult{}, err
	}
	unknownLang, err := in.validate()
	if err != nil {
		return SubaccountResult{}, err
	}
	langSent := in.Lang != ""
	key, err := secret.NewToken(s.rand, "ck_")
	if err != nil {
		return SubaccountResult{}, err
	}
	sealed, err := s.box.Seal(key)
	if err != nil {
		return SubaccountResult{}, err
	}
	var r SubaccountResult
	for attempt := 0; ; attempt++ {
		r = SubaccountResult{}
		var inserting bool
		r.Replayed, err = s.keyed(ctx, c, idem, "user", func(tx Tx, now time.Time) (string, error) {
			existing, err := tx.Subaccounts(ctx, c.PartnerID, SubaccountFilter{Email: in.Email, Limit: 1})
			if err != nil {
				return "", err
			}
			if len(existing) > 0 {
				a := existing[0]
				notes, err := matchSubaccount(a, in, langSent)
				if err != nil {
					return "", err
				}
				r.Subaccount, r.Existing, r.Warnings = a, true, notes
				return existingPrefix + strconv.FormatInt(a.ID, 10), nil
			}
			lang := in.Lang
			if lang == "" {
				// None sent, or an unknown one: the partner's default.
				p, err := tx.Partner(ctx, c.PartnerID, false)
				if err != nil {
					return "", err
				}
				lang = p.Language()
			}
			a := Subaccount{
				PartnerID: c.PartnerID, Email: in.Email, FirstName: in.FirstName, LastName: in.LastName,
				Company: in.Company, Country: in.Country, Address: in.Address, Lang: lang,
				APIKey: key, APIKeyHash: secret.Hash(key), APIKeySealed: sealed, CreatedAt: now,
			}
			inserting = true
			if err := tx.InsertSubaccount(ctx, &a); err != nil {
				return "", err
			}
			inserting = false
			r.Subaccount, r.Existing, r.Warnings = a, false, nil
			id := strconv.FormatInt(a.ID, 10)
			return id, s.audit(ctx, tx, c, now, "user", id, "create", nil, map[string]any{"email": a.Email, "first_name": a.FirstName, "last_name": a.LastName, "company": a.Company, "country": a.Country, "lang": a.Lang})
		}, func(tx Tx, id string) error {
			// A replay answers as the first request did: the subaccount it
			// created, or the existing one it found.
			rest, found := strings.CutPrefix(id, existingPrefix)
			n, _ := strconv.ParseInt(rest, 10, 64)
			a, err := tx.Subaccount(ctx, c.PartnerID, n)
			r.Subaccount, r.Existing = a, found
			return err
		})
		// The same email inserted by a concurrent request that committed
		// first: look again, and match it.
		if inserting && ErrorCode(err) == ECONFLICT && attempt == 0 {
			continue
		}
		break
	}
	if err != nil {
		return SubaccountResult{}, err
	}
	var warnings []string
	switch {
	case unknownLang == "":
	case r.Existing:
		warnings = []string{fmt.Sprintf("lang: %q is not a language Palisade knows; subaccount %d (%s) keeps its language %s", clip(unknownLang, 64), r.Subaccount.ID, r.Subaccount.Email, r.Subaccount.Lang)}
	default:
		warnings = []string{unknownLangWarning(unknownLang, r.Subaccount.Lang)}
	}
	r.Warnings = append(warnings, r.Warnings...)
	return r, s.openSubaccountKey(&r.Subaccount)
}

// existingPrefix marks, in an idempotency record, a create answered with an
// existing subaccount, so that a replay answers the same way.
const existingPrefix = "existing:"

// matchSubaccount compares a create with the partner's subaccount of the
// same email (ProvideSubaccount): a conflict naming the fields sent that
// contradict it (each in Details), else notes on what was sent but not
// taken. langSent says whether in.Lang is a language the caller named.
func matchSubaccount(a Subaccount, in SubaccountCreate, langSent bool) (notes []string, err error) {
	var conflicts []FieldProblem
	for _, f := range []struct{ name, have, sent string }{
		{"first_name", a.FirstName, in.FirstName}, {"last_name", a.LastName, in.LastName},
		{"company", a.Company, in.Company}, {"country", a.Country, in.Country}, {"address", a.Address, in.Address},
	} {
		have, sent := strings.TrimSpace(f.have), strings.TrimSpace(f.sent)
		switch {
		case sent == "" || strings.EqualFold(have, sent):
		case have == "":
			notes = append(notes, fmt.Sprintf("%s: subaccount %d (%s) already exists without a %s; it was kept as it is, without %q", f.name, a.ID, a.Email, f.name, clip(sent, 100)))
		default:
			conflicts = append(conflicts, FieldProblem{Path: f.name, Message: fmt.Sprintf("%s %q differs from subaccount %d's %q", f.name, clip(sent, 100), a.ID, clip(have, 100))})
		}
	}
	if len(conflicts) > 0 {
		names := make([]string, len(conflicts))
		for i, p := range conflicts {
			names[i] = p.Path
		}
		return nil, &Error{Code: ECONFLICT, Field: conflicts[0].Path, Details: conflicts, Cause: ErrAccountExists,
			Message: fmt.Sprintf("a subaccount with email %s already exists (id %d) with a different %s: %s; send the stored values (or leave the fields out) to get the existing subaccount",
				a.Email, a.ID, strings.Join(names, ", "), conflicts[0].Message)}
	}
	if langSent && in.Lang != a.Lang {
		notes = append(notes, fmt.Sprintf("lang: subaccount %d (%s) already exists with language %s; it was kept", a.ID, a.Email, a.Lang))
	}
	return notes, nil
}

// Subaccount returns one of the caller's subaccounts; a customer may read
// its own account only (another is not found).
func (s *Service) Subaccount(ctx context.Context, c Caller, id int64) (Subaccount, error) {
	if err := c.tenant(); err != nil {
		return Subaccount{}, err
	}
	if c.Role == RoleSubaccount && (c.SubaccountID == 0 || id != c.SubaccountID) {
		return Subaccount{}, Errorf(ENOTFOUND, "subaccount %d does not exist", id)
	}
	var a Subaccount
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		a, err = tx.Subaccount(ctx, c.PartnerID, id)
		return err
	})
	if ErrorCode(err) == ENOTFOUND {
		return Subaccount{}, Errorf(ENOTFOUND, "subaccount %d does not exist", id)
	}
	if err != nil {
		return Subaccount{}, err
	}
	return a, s.openSubaccountKey(&a)
}

// Subaccounts lists the caller's subaccounts, optionally by email.
func (s *Service) Subaccounts(ctx context.Context, c Caller, f SubaccountFilter) ([]Subaccount, error) {
	if err := c.partnerOnly("list customer accounts"); err != nil {
		return nil, err
	}
	if f.Email != "" {
		f.Email = strings.ToLower(strings.TrimSpace(f.Email))
	}
	var as []Subaccount
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		as, err = tx.Subaccounts(ctx, c.PartnerID, f)
		return err
	})
	if err != nil {
		return nil, err
	}
	for i := range as {
		if err := s.openSubaccountKey(&as[i]); err != nil {
			return nil, err
		}
	}
	return as, nil
}

// DeleteSubaccount removes a subaccount. One that still has websites (other
// than deleted ones) is refused: delete or move its websites first.
func (s *Service) DeleteSubaccount(ctx context.Context, c Caller, id int64) error {
	if err := c.partnerOnly("delete customer accounts"); err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx Tx) error {
		now := s.clock()
		a, err := tx.Subaccount(ctx, c.PartnerID, id)
		if ErrorCode(err) == ENOTFOUND {
			return Errorf(ENOTFOUND, "subaccount %d does not exist", id)
		}
		if err != nil {
			return err
		}
		ws, err := tx.Websites(ctx, c.PartnerID, WebsiteFilter{SubaccountID: id, Limit: 1})
		if err != nil {
			return err
		}
		if len(ws) > 0 {
			return Errorf(ECONFLICT, "subaccount %d still has websites (such as %s); delete them or move them to another subaccount first", id, ws[0].Domain)
		}
		if err := tx.DeleteSubaccount(ctx, c.PartnerID, id, now); err != nil {
			return err
		}
		sid := strconv.FormatInt(id, 10)
		return s.audit(ctx, tx, c, now, "user", sid, "delete", map[string]any{"email": a.Email}, nil)
	})
}
