package engine

import (
	"testing"
)

// fakeAgents verifies every request whose Signature header is "good" as
// agent, and counts its calls.
type fakeAgents struct {
	agent string
	calls int
}

func (f *fakeAgents) VerifyAgent(r *Request, _ bool) string {
	f.calls++
	if r.header("Signature") == "good" {
		return f.agent
	}
	return ""
}

// TestSignedAgentInRulesAndCategory: a verified, trusted agent is in
// signed_agents with its identity as the detail (an untrusted one is judged
// as if unsigned), CEL rules see it as signed_agent, and only requests
// carrying both signature headers are checked.
func TestSignedAgentInRulesAndCategory(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	f := &fakeAgents{agent: "agent.example"}
	e.Classifier().SetAgentVerifier(f)
	e.Classifier().SetTrustedAgents([]string{"Agent.Example"})
	p := load(t, e, Settings{Rules: []Rule{{Name: "no agent on admin", Action: "deny",
		Expression: `signed_agent == "agent.example" && path.startsWith("/admin")`}}})
	signed := func(sig string) func(*Request) {
		return func(r *Request) {
			r.Header.Set("Signature-Input", `sig1=("@authority");tag="web-bot-auth"`)
			r.Header.Set("Signature", sig)
		}
	}
	v := e.Decide(p, req("203.0.113.9", "curl/8.0", signed("good")))
	if v.Category != SignedAgents || v.Detail != "agent.example" || v.Action != Grant {
		t.Fatalf("signed request: %v", v)
	}
	v = e.Decide(p, req("203.0.113.9", "curl/8.0", signed("good"), func(r *Request) { r.Path = "/admin/x" }))
	if v.Action != Deny || v.Reason != "no agent on admin" {
		t.Fatalf("rule on signed_agent: %v", v)
	}
	v = e.Decide(p, req("203.0.113.9", "curl/8.0", signed("bad"), func(r *Request) { r.Path = "/admin/x" }))
	if v.Category == SignedAgents || v.Source == SourceRule {
		t.Fatalf("unverified signature: %v", v)
	}
	// An attack tool's user agent wins over a trusted signature.
	if v := e.Decide(p, req("203.0.113.9", "sqlmap/1.7", signed("good"))); v.Category != SecurityIssues || v.Action != Deny {
		t.Fatalf("signed sqlmap: %v", v)
	}
	// A signer that is not trusted is judged as if unsigned, but rules
	// still see who signed.
	e.Classifier().SetTrustedAgents(nil)
	if v := e.Decide(p, req("203.0.113.9", "curl/8.0", signed("good"))); v.Category != AutomationTools || v.Action != Challenge {
		t.Fatalf("signed by an agent not trusted: %v", v)
	}
	if v := e.Decide(p, req("203.0.113.9", "curl/8.0", signed("good"), func(r *Request) { r.Path = "/admin/x" })); v.Reason != "no agent on admin" {
		t.Fatalf("rule on an untrusted signed_agent: %v", v)
	}
	calls := f.calls
	e.Decide(p, req("203.0.113.9", "curl/8.0", func(r *Request) { r.Header.Set("Signature", "good") }))
	if f.calls != calls {
		t.Fatal("a request without Signature-Input was sent to the verifier")
	}
	// A validated rule's cost estimate knows signed_agent's cap.
	st := Settings{Rules: []Rule{{Name: "r", Action: "deny", Expression: `signed_agent.matches("^agent\\.")`}}}
	if err := st.Validate(); err != nil {
		t.Fatalf("rule on signed_agent refused: %v", err)
	}
}
