package core

// SamePrincipal reports whether two dashboard sessions act for the same
// principal: the same operator console user; the same partner (its console,
// whoever of its people opened it); the same customer account; or, for a
// session opened for a website without an account, the same website. A link
// (single sign-on token, a customer page's ?api-key=, a GP login link) that
// opens a session of another principal than the one a browser already holds
// must not replace it without the person's explicit confirmation: a link
// can be sent by anyone.
func SamePrincipal(a, b Session) bool {
	if a.Scope != b.Scope || a.PartnerID != b.PartnerID {
		return false
	}
	switch a.Scope {
	case ScopeCustomer:
		if a.SubaccountID != 0 || b.SubaccountID != 0 {
			return a.SubaccountID == b.SubaccountID
		}
		return a.WebsiteID != 0 && a.WebsiteID == b.WebsiteID
	case ScopePartner:
		return a.PartnerID != 0
	case ScopeOperator:
		return a.UserID != 0 && a.UserID == b.UserID
	}
	return false
}
