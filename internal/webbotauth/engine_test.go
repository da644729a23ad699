package webbotauth_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/webbotauth/webbotauthtest"
)

// TestEngineSignedAgents: through the engine, a request signed by a known
// agent is in signed_agents (granted by default) with the agent as the
// detail, a CEL rule on signed_agent matches it, and the same request
// unsigned, replayed or signed by an unknown key is classified as usual.
func TestEngineSignedAgents(t *testing.T) {
	sigs, err := engine.LoadSignatures()
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{t0}
	cls := engine.NewClassifier(sigs, nil, nil)
	cls.SetAgentVerifier(webbotauthtest.NewVerifier(clock.now))
	cls.SetTrustedAgents([]string{webbotauthtest.Agent}) // as --web-bot-auth-agent does
	e := engine.New(cls, clock.now)
	st := engine.Settings{Rules: []engine.Rule{{Name: "agents stay out of /private", Action: "deny",
		Expression: `signed_agent == "agent.example" && path.startsWith("/private")`}}}
	if errs := e.Load([]engine.Site{{ID: 1, PartnerID: 1, Domain: "shop.example.com", Status: "online",
		ServerKeyHash: strings.Repeat("ab", 32), Settings: st}}, nil); len(errs) > 0 {
		t.Fatal(errs)
	}
	p := e.ByDomain("shop.example.com")
	request := func(path, nonce string, key bool) *engine.Request {
		h := http.Header{"User-Agent": {"curl/8.5.0"}}
		s := webbotauthtest.Signature{Host: "shop.example.com", Path: path, Agent: webbotauthtest.Agent, Nonce: nonce,
			Created: t0.Add(-time.Second), Expires: t0.Add(time.Minute)}
		if !key {
			s.Key = webbotauthtest.OtherKey()
		}
		webbotauthtest.Sign(h, s)
		return &engine.Request{IP: netip.MustParseAddr("203.0.113.7"), Method: "GET", Host: "shop.example.com", Path: path,
			Proto: "HTTP/1.1", UserAgent: "curl/8.5.0", Header: h}
	}
	// The rule editor's "test a request" (Explain) checks the signature
	// without using it up: the same request is then still signed.
	if v := e.Explain(p, request("/products", "n1", true)); v.Category != engine.SignedAgents {
		t.Fatalf("explained signed request: %v", v)
	}
	v := e.Decide(p, request("/products", "n1", true))
	if v.Category != engine.SignedAgents || v.Detail != "agent.example" || v.Action != engine.Grant {
		t.Fatalf("signed request: %v", v)
	}
	v = e.Decide(p, request("/private/x", "n2", true))
	if v.Action != engine.Deny || v.Reason != "agents stay out of /private" {
		t.Fatalf("CEL rule on signed_agent: %v", v)
	}
	// Replayed: curl without a signature is an automation tool.
	v = e.Decide(p, request("/products", "n1", true))
	if v.Category == engine.SignedAgents {
		t.Fatalf("replayed signature: %v", v)
	}
	unsigned := v.Category
	v = e.Decide(p, request("/private/y", "n3", false))
	if v.Category != unsigned || v.Source == engine.SourceRule {
		t.Fatalf("unknown key: %v", v)
	}
}
