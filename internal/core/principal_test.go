package core_test

import (
	"testing"

	"github.com/palisadehq/palisade/internal/core"
)

func TestSamePrincipal(t *testing.T) {
	cust := func(p, sub, site int64) core.Session {
		return core.Session{Scope: core.ScopeCustomer, PartnerID: p, SubaccountID: sub, WebsiteID: site}
	}
	partner := func(p, user int64) core.Session {
		return core.Session{Scope: core.ScopePartner, PartnerID: p, UserID: user}
	}
	op := func(user int64) core.Session { return core.Session{Scope: core.ScopeOperator, UserID: user} }
	for _, c := range []struct {
		name string
		a, b core.Session
		same bool
	}{
		{"one customer, two of its websites", cust(1, 5, 10), cust(1, 5, 11), true},
		{"two customers of one partner", cust(1, 5, 10), cust(1, 6, 10), false},
		{"customer ids of two partners", cust(1, 5, 10), cust(2, 5, 10), false},
		{"account-less website, same", cust(1, 0, 10), cust(1, 0, 10), true},
		{"account-less websites, two", cust(1, 0, 10), cust(1, 0, 11), false},
		{"customer and account-less website", cust(1, 5, 10), cust(1, 0, 10), false},
		{"partner console, link and console user", partner(1, 7), partner(1, 0), true},
		{"two partners", partner(1, 0), partner(2, 0), false},
		{"partner and its customer", partner(1, 0), cust(1, 5, 10), false},
		{"operator and partner", op(3), partner(1, 0), false},
		{"operator users", op(3), op(4), false},
		{"zero sessions", core.Session{}, core.Session{}, false},
	} {
		if got := core.SamePrincipal(c.a, c.b); got != c.same {
			t.Errorf("%s: %v", c.name, got)
		}
		if got := core.SamePrincipal(c.b, c.a); got != c.same {
			t.Errorf("%s (reversed): %v", c.name, got)
		}
	}
}
