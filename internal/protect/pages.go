package protect

import (
	"net/http"
	"net/netip"

	"github.com/palisadehq/palisade/internal/challenge"
	"github.com/palisadehq/palisade/internal/engine"
)

// Page answers a verdict that is not a grant with the page the visitor
// sees: the browser challenge for challenge and captcha, the deny page
// otherwise. visitor is the visitor's request (its language and user
// agent), ip their address, returnTo where to go after the challenge.
func (p *Protector) Page(w http.ResponseWriter, visitor *http.Request, pol *engine.Policy, v engine.Verdict, ip netip.Addr, returnTo string, status int) {
	c := challenge.Client{IP: ip, UserAgent: visitor.UserAgent()}
	if pol != nil {
		c.Website = pol.WebsiteID
	}
	p.web.Page(w, visitor, pol, v, c, returnTo, status)
}

// ErrorPage answers a visitor's request that cannot go on with a short
// page in the visitor's language, branded by pol's partner (nil: the
// operator's name or none): msg is one of challenge.Msg….
func (p *Protector) ErrorPage(w http.ResponseWriter, visitor *http.Request, pol *engine.Policy, status int, msg string) {
	p.web.ErrorPage(w, visitor, pol, status, msg)
}

// Challenges returns the challenge endpoints' handler set.
func (p *Protector) Challenges() *challenge.Web { return p.web }
