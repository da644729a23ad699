package engine

import "strings"

// Signed agents (Web Bot Auth): a request that carries a valid HTTP
// Message Signature (RFC 9421) from an agent's published key directory has
// the agent's identity in CEL rules (signed_agent). When that identity is a
// trusted one (SetTrustedAgents: the operator's list, DefaultTrustedAgents
// by default) the request is classified SignedAgents, with the identity in
// events; any other signer is classified as if unsigned, because anyone
// with a domain can publish keys and sign (a site grants such an agent by a
// rule on signed_agent). An attack tool's user agent wins even over a
// trusted signature. The verification itself (keys, directories, the
// replay cache) lives in internal/webbotauth; the engine asks it through
// AgentVerifier.

// AgentVerifier checks a request's Web Bot Auth signature. VerifyAgent
// returns the agent's identity (the Signature-Agent's directory host, or
// the key's) when the signature is valid, and "" otherwise: unsigned,
// invalid, expired, replayed or its key directory not fetched yet. It must
// not wait for key directories: they are fetched in the background, and a
// request whose directory is not cached yet counts as unsigned (a trusted
// agent's valid signature costs one round trip to the fleet's replay set,
// bounded by its timeout). record
// false (Explain, which changes no state) checks the signature without
// using it up in the replay cache.
type AgentVerifier interface {
	VerifyAgent(r *Request, record bool) string
}

type agentVerifier struct{ v AgentVerifier }

// SetAgentVerifier turns on Web Bot Auth (nil: off, every request unsigned).
func (c *Classifier) SetAgentVerifier(v AgentVerifier) {
	if v == nil {
		c.agents.Store(nil)
		return
	}
	c.agents.Store(&agentVerifier{v})
}

// signedAgent fills r.SignedAgent when the request carries a signature that
// verifies. Only requests with a Signature-Input header pay for the check.
// record: see AgentVerifier.
func (c *Classifier) signedAgent(r *Request, record bool) {
	r.SignedAgent = ""
	a := c.agents.Load()
	if a == nil || r.header("Signature-Input") == "" || r.header("Signature") == "" {
		return
	}
	r.SignedAgent = a.v.VerifyAgent(r, record)
}

// DefaultTrustedAgents are the signed agents classified signed_agents when
// the operator names none: OpenAI's ChatGPT agent, which signs as
// https://chatgpt.com.
var DefaultTrustedAgents = []string{"chatgpt.com"}

// SetTrustedAgents sets the identities (as AgentVerifier returns them, e.g.
// "chatgpt.com") whose verified signatures make a request a signed agent.
// nil or empty: none.
func (c *Classifier) SetTrustedAgents(ids []string) {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[strings.ToLower(strings.TrimSpace(id))] = true
	}
	c.trusted.Store(&m)
}

func (c *Classifier) trustedAgent(id string) bool {
	m := c.trusted.Load()
	return m != nil && (*m)[id]
}
