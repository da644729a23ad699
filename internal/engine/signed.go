package engine

// Signed agents (Web Bot Auth): a request that carries a valid HTTP
// Message Signature (RFC 9421) from an agent's published key directory is
// classified SignedAgents, and the agent's identity is in events and CEL
// rules (signed_agent). The verification itself (keys, directories, the
// replay cache) lives in internal/webbotauth; the engine asks it through
// AgentVerifier.

// AgentVerifier checks a request's Web Bot Auth signature. VerifyAgent
// returns the agent's identity (the Signature-Agent's directory host, or
// the key's) when the signature is valid, and "" otherwise: unsigned,
// invalid, expired, replayed or its key directory not fetched yet. It must
// not block on the network: directories are fetched in the background, and
// a request whose directory is not cached yet counts as unsigned. record
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
