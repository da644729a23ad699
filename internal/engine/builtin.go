package engine

// builtinGrant returns the name of the built-in grant (robots.txt, a
// declared webhook, ...) that lets r through on p although its category's
// action is not grant, or "" when none applies. c is the request's
// classification.
func (p *Policy) builtinGrant(r *Request, c classification, rdns *RDNSVerifier, claim bool) string {
	return ""
}
