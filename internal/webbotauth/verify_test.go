package webbotauth_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/challenge"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/webbotauth"
	"github.com/palisadehq/palisade/internal/webbotauth/webbotauthtest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type testClock struct{ t time.Time }

func (c *testClock) now() time.Time { return c.t }

func signedRequest(s webbotauthtest.Signature) *engine.Request {
	if s.Host == "" {
		s.Host = "shop.example.com"
	}
	if s.Path == "" {
		s.Path = "/products"
	}
	if s.Created.IsZero() {
		s.Created = t0.Add(-time.Minute)
	}
	if s.Expires.IsZero() {
		s.Expires = s.Created.Add(time.Hour)
	}
	h := http.Header{"User-Agent": {"ExampleAgent/1.0"}}
	webbotauthtest.Sign(h, s)
	return &engine.Request{Method: "GET", Host: s.Host, Path: s.Path, Header: h}
}

// TestVerifyCases: what verifies and what does not, each refusal for its
// own reason.
func TestVerifyCases(t *testing.T) {
	agent := webbotauthtest.Agent
	cases := []struct {
		name   string
		s      webbotauthtest.Signature
		mod    func(r *engine.Request)
		want   string
		wantEr error
	}{
		{name: "valid", s: webbotauthtest.Signature{Agent: agent, Nonce: "n1"}, want: agent},
		{name: "valid without nonce", s: webbotauthtest.Signature{Agent: agent}, want: agent},
		{name: "valid without alg", s: webbotauthtest.Signature{Agent: agent, NoAlg: true}, want: agent},
		{name: "host in upper case", s: webbotauthtest.Signature{Agent: agent}, mod: func(r *engine.Request) { r.Host = "Shop.Example.COM" }, want: agent},
		{name: "expired within the skew", s: webbotauthtest.Signature{Agent: agent, Created: t0.Add(-time.Hour), Expires: t0.Add(-30 * time.Second)}, want: agent},
		{name: "created within the skew", s: webbotauthtest.Signature{Agent: agent, Created: t0.Add(30 * time.Second), Expires: t0.Add(time.Hour)}, want: agent},
		{name: "expired", s: webbotauthtest.Signature{Agent: agent, Created: t0.Add(-2 * time.Hour), Expires: t0.Add(-61 * time.Second)}, wantEr: webbotauth.ErrExpired},
		{name: "not yet valid", s: webbotauthtest.Signature{Agent: agent, Created: t0.Add(2 * time.Minute), Expires: t0.Add(time.Hour)}, wantEr: webbotauth.ErrNotYetValid},
		{name: "valid for too long", s: webbotauthtest.Signature{Agent: agent, Created: t0.Add(-time.Minute), Expires: t0.Add(25 * time.Hour)}, wantEr: webbotauth.ErrValidity},
		{name: "expires before created", s: webbotauthtest.Signature{Agent: agent, Created: t0, Expires: t0.Add(-time.Second)}, wantEr: webbotauth.ErrValidity},
		{name: "key not in the directory", s: webbotauthtest.Signature{Agent: agent, Key: webbotauthtest.OtherKey()}, wantEr: webbotauth.ErrUnknownKey},
		{name: "signature bytes changed", s: webbotauthtest.Signature{Agent: agent}, mod: func(r *engine.Request) {
			s := r.Header.Get("Signature")
			i := strings.Index(s, ":") + 5
			c := byte('A')
			if s[i] == 'A' {
				c = 'B'
			}
			r.Header.Set("Signature", s[:i]+string(c)+s[i+1:])
		}, wantEr: webbotauth.ErrBadSignature},
		{name: "signed for another host", s: webbotauthtest.Signature{Agent: agent}, mod: func(r *engine.Request) { r.Host = "other.example.com" }, wantEr: webbotauth.ErrBadSignature},
		{name: "signed for another path", s: webbotauthtest.Signature{Agent: agent}, mod: func(r *engine.Request) { r.Path = "/admin" }, wantEr: webbotauth.ErrBadSignature},
		{name: "Signature-Agent changed", s: webbotauthtest.Signature{Agent: agent}, mod: func(r *engine.Request) {
			r.Header.Set("Signature-Agent", `sig1="https://evil.example"`)
		}, wantEr: webbotauth.ErrNoDirectory},
		{name: "@authority not covered", s: webbotauthtest.Signature{Agent: agent, Covered: []string{`"@method"`, `"@path"`, `"signature-agent";key="sig1"`}}, wantEr: webbotauth.ErrAuthority},
		{name: "Signature-Agent not covered", s: webbotauthtest.Signature{Agent: agent, Covered: []string{`"@authority"`, `"@path"`}}, wantEr: webbotauth.ErrAgentCovered},
		{name: "another tag", s: webbotauthtest.Signature{Agent: agent, Tag: "something-else"}, wantEr: webbotauth.ErrNoWebBotAuth},
		{name: "another algorithm", s: webbotauthtest.Signature{Agent: agent}, mod: func(r *engine.Request) {
			r.Header.Set("Signature-Input", strings.Replace(r.Header.Get("Signature-Input"), `alg="ed25519"`, `alg="rsa-pss-sha512"`, 1))
		}, wantEr: webbotauth.ErrAlgorithm},
		{name: "no expires", s: webbotauthtest.Signature{Agent: agent}, mod: func(r *engine.Request) {
			in := r.Header.Get("Signature-Input")
			i := strings.Index(in, ";expires=")
			j := strings.Index(in[i+1:], ";") + i + 1
			r.Header.Set("Signature-Input", in[:i]+in[j:])
		}, wantEr: webbotauth.ErrParams},
		{name: "agent over http", s: webbotauthtest.Signature{Agent: agent}, mod: func(r *engine.Request) {
			r.Header.Set("Signature-Agent", `sig1="http://agent.example"`)
		}, wantEr: webbotauth.ErrAgent},
		{name: "agent with a path", s: webbotauthtest.Signature{Agent: agent}, mod: func(r *engine.Request) {
			r.Header.Set("Signature-Agent", `sig1="https://agent.example/keys.json"`)
		}, wantEr: webbotauth.ErrAgent},
		{name: "agent at an address", s: webbotauthtest.Signature{Agent: agent}, mod: func(r *engine.Request) {
			r.Header.Set("Signature-Agent", `sig1="https://10.0.0.1"`)
		}, wantEr: webbotauth.ErrAgent},
		{name: "agent of another discovery type", s: webbotauthtest.Signature{Agent: agent}, mod: func(r *engine.Request) {
			r.Header.Set("Signature-Agent", `sig1="https://agent.example";type=jwks_uri`)
		}, wantEr: webbotauth.ErrAgent},
		{name: "agent unknown", s: webbotauthtest.Signature{Agent: "unknown.example"}, wantEr: webbotauth.ErrNoDirectory},
		{name: "no Signature-Agent: keyid of a configured directory", s: webbotauthtest.Signature{}, want: webbotauthtest.KeyID()},
		{name: "no Signature-Agent, unknown key", s: webbotauthtest.Signature{Key: webbotauthtest.OtherKey()}, wantEr: webbotauth.ErrUnknownKey},
		{name: "header too long", s: webbotauthtest.Signature{Agent: agent}, mod: func(r *engine.Request) {
			r.Header.Add("Signature-Input", "x="+strings.Repeat("a", 4100))
		}, wantEr: webbotauth.ErrTooLong},
		{name: "garbage", s: webbotauthtest.Signature{Agent: agent}, mod: func(r *engine.Request) {
			r.Header.Set("Signature-Input", `sig1=("@authority";tag="web-bot-auth`)
		}, wantEr: errors.New("structured field")},
		{name: "unsupported component", s: webbotauthtest.Signature{Agent: agent, Covered: []string{`"@authority"`, `"@status"`, `"signature-agent";key="sig1"`}}, wantEr: webbotauth.ErrBadSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := &testClock{t0}
			v := webbotauthtest.NewVerifier(clock.now)
			var r *engine.Request
			func() {
				defer func() {
					if p := recover(); p != nil {
						// Sign refuses to sign what it cannot build a
						// base for; verify such a request unsigned.
						r = signedRequest(webbotauthtest.Signature{Agent: agent})
						r.Header.Set("Signature-Input", strings.Replace(r.Header.Get("Signature-Input"), `"@authority"`, `"@authority" "@status"`, 1))
					}
				}()
				r = signedRequest(c.s)
			}()
			if c.mod != nil {
				c.mod(r)
			}
			id, err := v.Verify(r)
			if c.wantEr == nil {
				if err != nil || id != c.want {
					t.Fatalf("Verify = %q, %v; want %q", id, err, c.want)
				}
				if got := v.VerifyAgent(r, true); got != "" {
					t.Fatalf("second use verified as %q", got)
				}
				return
			}
			if id != "" || err == nil {
				t.Fatalf("Verify = %q, %v; want %v", id, err, c.wantEr)
			}
			if !errors.Is(err, c.wantEr) && !strings.Contains(err.Error(), c.wantEr.Error()) {
				t.Fatalf("Verify: %v; want %v", err, c.wantEr)
			}
		})
	}
}

// TestReplay: a signature verifies once; the same nonce in another
// signature is a replay too; once the first has expired its nonce is free
// again; another nonce verifies.
func TestReplay(t *testing.T) {
	clock := &testClock{t0}
	v := webbotauthtest.NewVerifier(clock.now)
	s := webbotauthtest.Signature{Agent: webbotauthtest.Agent, Nonce: "abc", Created: t0, Expires: t0.Add(time.Minute)}
	if id, err := v.Verify(signedRequest(s)); err != nil || id != webbotauthtest.Agent {
		t.Fatalf("first use: %q %v", id, err)
	}
	if _, err := v.Verify(signedRequest(s)); !errors.Is(err, webbotauth.ErrReplayed) {
		t.Fatalf("replay: %v", err)
	}
	s2 := s
	s2.Expires = t0.Add(2 * time.Minute) // another signature, same nonce
	if _, err := v.Verify(signedRequest(s2)); !errors.Is(err, webbotauth.ErrReplayed) {
		t.Fatalf("nonce reused: %v", err)
	}
	s3 := s
	s3.Nonce = "def"
	if _, err := v.Verify(signedRequest(s3)); err != nil {
		t.Fatalf("another nonce: %v", err)
	}
	clock.t = t0.Add(3 * time.Minute) // the first two expired (with the skew)
	s4 := webbotauthtest.Signature{Agent: webbotauthtest.Agent, Nonce: "abc", Created: clock.t, Expires: clock.t.Add(time.Minute)}
	if _, err := v.Verify(signedRequest(s4)); err != nil {
		t.Fatalf("nonce of an expired signature: %v", err)
	}
}

// countingSet is a shared replay set that counts what reaches it.
type countingSet struct {
	challenge.SpentSet
	spends int
}

func (c *countingSet) Spend(nonce string, ttl time.Duration) (bool, error) {
	c.spends++
	return c.SpentSet.Spend(nonce, ttl)
}

// TestUntrustedSignersStayOffTheSharedSet: only the identities Shared names
// are remembered in the shared replay set (Redis in a fleet); any other
// signer's replays are refused from a node-local set, so signers anyone can
// be neither fill the shared set nor cost it a call per request.
func TestUntrustedSignersStayOffTheSharedSet(t *testing.T) {
	clock := &testClock{t0}
	shared := &countingSet{SpentSet: challenge.NewMemorySpent(clock.now)}
	trusted := ""
	v := webbotauth.New(webbotauth.Options{Now: clock.now, Replay: shared, Shared: func(id string) bool { return id == trusted }})
	if err := v.AddDirectory("https://"+webbotauthtest.Agent, webbotauthtest.Directory()); err != nil {
		t.Fatal(err)
	}
	s := webbotauthtest.Signature{Agent: webbotauthtest.Agent, Nonce: "n1", Created: t0, Expires: t0.Add(time.Minute)}
	if _, err := v.Verify(signedRequest(s)); err != nil {
		t.Fatalf("untrusted signer: %v", err)
	}
	if _, err := v.Verify(signedRequest(s)); !errors.Is(err, webbotauth.ErrReplayed) {
		t.Fatalf("untrusted signer's replay: %v", err)
	}
	if shared.spends != 0 {
		t.Fatalf("an untrusted signer reached the shared set %d times", shared.spends)
	}
	trusted = webbotauthtest.Agent
	s.Nonce = "n2"
	if _, err := v.Verify(signedRequest(s)); err != nil || shared.spends != 1 {
		t.Fatalf("trusted signer: %v, shared set used %d times", err, shared.spends)
	}
}
