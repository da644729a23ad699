package core

import (
	"context"
	"strconv"
)

// Who may call what. Every Service method that acts for someone takes a
// Caller and checks its Role here, in the core; adapters only authenticate
// and build the Caller. A customer's claim on a website is decided by one
// function, CanSeeWebsite.

// Role is what a Caller is allowed to be.
type Role uint8

const (
	// RoleNone is the zero Role: a Caller built without a role is nobody
	// and every check refuses it, so a forgotten field fails closed.
	RoleNone Role = iota
	// RoleOperator is whoever runs Palisade (the CLI, the operator pages):
	// plans, partners, their keys and credit.
	RoleOperator
	// RolePartner is a reseller acting on its own account and customers
	// (its API keys, console users, partner sign-on links).
	RolePartner
	// RoleSubaccount is an end customer (the User API, the customer
	// dashboard pages): it sees and edits its own websites only.
	RoleSubaccount
)

func (r Role) String() string {
	switch r {
	case RoleOperator:
		return "operator"
	case RolePartner:
		return "partner"
	case RoleSubaccount:
		return "subaccount"
	}
	return "none"
}

// PartnerCaller is the Caller of partner partnerID (an API key, a console
// user, a sign-on link) through protocol.
func PartnerCaller(partnerID int64, actor, protocol, sourceIP string) Caller {
	return Caller{Role: RolePartner, PartnerID: partnerID, Actor: actor, Protocol: protocol, SourceIP: sourceIP}
}

// errOperatorOnly is what a Caller other than the operator hears.
func errOperatorOnly(what string) error {
	return Errorf(EFORBIDDEN, "only the operator can %s", what)
}

// operatorOnly refuses every Caller but the operator.
func (c Caller) operatorOnly(what string) error {
	if c.Role != RoleOperator {
		return errOperatorOnly(what)
	}
	return nil
}

// partnerOnly refuses every Caller but a partner acting for itself: the
// operator has no account of its own and customers do not manage their
// hosting provider's.
func (c Caller) partnerOnly(what string) error {
	if c.Role != RolePartner || c.PartnerID == 0 {
		return Errorf(EFORBIDDEN, "only the hosting provider can %s", what)
	}
	return nil
}

// operatorOrPartner lets the operator act on any partner, and a partner on
// itself only.
func (c Caller) operatorOrPartner(partnerID int64, what string) error {
	switch {
	case c.Role == RoleOperator:
		return nil
	case c.Role == RolePartner && c.PartnerID != 0 && c.PartnerID == partnerID:
		return nil
	case c.Role == RolePartner:
		return Errorf(EFORBIDDEN, "a partner can only %s for itself", what)
	}
	return errOperatorOnly(what)
}

// tenant refuses every Caller that does not act inside one partner's
// account (the operator, nobody).
func (c Caller) tenant() error {
	if (c.Role != RolePartner && c.Role != RoleSubaccount) || c.PartnerID == 0 {
		return Errorf(EFORBIDDEN, "this is for a hosting provider and its customers")
	}
	return nil
}

// CanSeeWebsite is the one ownership rule for websites: a partner sees its
// own; a customer (RoleSubaccount) sees its own account's, or, when its
// session was opened for a website without an account, that website while
// it has none. Everyone else is answered not_found with the words used for
// an unregistered domain, so nobody learns another tenant's domains.
func CanSeeWebsite(c Caller, w Website) error {
	if c.PartnerID != 0 && w.PartnerID == c.PartnerID {
		switch c.Role {
		case RolePartner:
			return nil
		case RoleSubaccount:
			if c.SubaccountID != 0 && w.SubaccountID == c.SubaccountID {
				return nil
			}
			if c.SubaccountID == 0 && c.WebsiteID != 0 && w.ID == c.WebsiteID && w.SubaccountID == 0 {
				return nil
			}
		}
	}
	return Errorf(ENOTFOUND, "website %s is not registered", w.Domain)
}

// OwnedWebsite returns a website that the caller — a partner, or a
// customer of it — may see and edit (CanSeeWebsite). Customer-facing
// adapters load websites through it.
func (s *Service) OwnedWebsite(ctx context.Context, c Caller, domain string) (Website, error) {
	if err := c.tenant(); err != nil {
		return Website{}, err
	}
	w, err := s.Website(ctx, c, domain)
	if err != nil {
		return Website{}, err
	}
	if err := CanSeeWebsite(c, w); err != nil {
		return Website{}, err
	}
	return w, nil
}

// OwnedWebsites lists the websites the caller may see: a partner's, or a
// customer's own account's (f.SubaccountID is then the customer's, whatever
// was asked). A customer session without an account lists none.
func (s *Service) OwnedWebsites(ctx context.Context, c Caller, f WebsiteFilter) ([]Website, error) {
	if err := c.tenant(); err != nil {
		return nil, err
	}
	if c.Role == RoleSubaccount {
		if c.SubaccountID == 0 {
			return []Website{}, nil
		}
		f.SubaccountID = c.SubaccountID
	}
	ws, err := s.Websites(ctx, c, f)
	if err != nil {
		return nil, err
	}
	out := ws[:0]
	for _, w := range ws {
		if CanSeeWebsite(c, w) == nil {
			out = append(out, w)
		}
	}
	return out, nil
}

// SessionCaller is the Caller of a dashboard session: the operator pages,
// a partner's console, or a customer's pages (its account, and the website
// the session was opened for). A session of no known scope is nobody.
func SessionCaller(ss Session) Caller {
	c := Caller{PartnerID: ss.PartnerID, Protocol: ProtocolSSO}
	switch ss.Scope {
	case ScopeOperator:
		c.Role, c.PartnerID, c.Actor = RoleOperator, 0, "operator (dashboard)"
	case ScopePartner:
		c.Role, c.Actor = RolePartner, "partner:"+strconv.FormatInt(ss.PartnerID, 10)+" (dashboard)"
	case ScopeCustomer:
		c.Role, c.SubaccountID, c.WebsiteID = RoleSubaccount, ss.SubaccountID, ss.WebsiteID
		c.Actor = "customer:" + strconv.FormatInt(ss.SubaccountID, 10) + " (dashboard)"
	}
	return c
}
