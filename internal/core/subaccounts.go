package core

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

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
	Lang      string // two-letter language code for the dashboards; default "en"
}

// Validate normalises and checks the input.
func (in *SubaccountCreate) Validate() error {
	email, err := normalizeEmail(in.Email)
	if err != nil {
		return err
	}
	in.Email = email
	for _, f := range []struct {
		name string
		v    *string
		max  int
	}{{"first_name", &in.FirstName, 100}, {"last_name", &in.LastName, 100}, {"company", &in.Company, 200}, {"address", &in.Address, 500}} {
		*f.v = strings.TrimSpace(*f.v)
		if err := checkText(f.name, *f.v, f.max); err != nil {
			return err
		}
	}
	in.Country = strings.ToUpper(strings.TrimSpace(in.Country))
	if in.Country != "" && !isLetters(in.Country, 2) {
		return FieldError("country", "country must be a two-letter ISO 3166 code such as DE, not %q", in.Country)
	}
	in.Lang = strings.ToLower(strings.TrimSpace(in.Lang))
	if in.Lang == "" {
		in.Lang = "en"
	}
	if !isLetters(in.Lang, 2) {
		return FieldError("lang", "lang must be a two-letter language code such as en, not %q", in.Lang)
	}
	return nil
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

// CreateSubaccount adds an end customer. Emails are unique per partner.
func (s *Service) CreateSubaccount(ctx context.Context, c Caller, in SubaccountCreate, idem Idem) (Subaccount, bool, error) {
	if err := c.partnerOnly("create customer accounts"); err != nil {
		return Subaccount{}, false, err
	}
	if err := in.Validate(); err != nil {
		return Subaccount{}, false, err
	}
	key, err := secret.NewToken(s.rand, "ck_")
	if err != nil {
		return Subaccount{}, false, err
	}
	sealed, err := s.box.Seal(key)
	if err != nil {
		return Subaccount{}, false, err
	}
	var a Subaccount
	replayed, err := s.keyed(ctx, c, idem, "user", func(tx Tx, now time.Time) (string, error) {
		existing, err := tx.Subaccounts(ctx, c.PartnerID, SubaccountFilter{Email: in.Email, Limit: 1})
		if err != nil {
			return "", err
		}
		if len(existing) > 0 {
			return "", Errorf(ECONFLICT, "a subaccount with email %s already exists (id %d)", in.Email, existing[0].ID)
		}
		a = Subaccount{
			PartnerID: c.PartnerID, Email: in.Email, FirstName: in.FirstName, LastName: in.LastName,
			Company: in.Company, Country: in.Country, Address: in.Address, Lang: in.Lang,
			APIKey: key, APIKeyHash: secret.Hash(key), APIKeySealed: sealed, CreatedAt: now,
		}
		if err := tx.InsertSubaccount(ctx, &a); err != nil {
			return "", err
		}
		id := strconv.FormatInt(a.ID, 10)
		return id, s.audit(ctx, tx, c, now, "user", id, "create", nil, map[string]any{"email": a.Email, "first_name": a.FirstName, "last_name": a.LastName, "company": a.Company, "country": a.Country, "lang": a.Lang})
	}, func(tx Tx, id string) error {
		n, _ := strconv.ParseInt(id, 10, 64)
		var err error
		a, err = tx.Subaccount(ctx, c.PartnerID, n)
		return err
	})
	if err != nil {
		return Subaccount{}, false, err
	}
	return a, replayed, s.openSubaccountKey(&a)
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
