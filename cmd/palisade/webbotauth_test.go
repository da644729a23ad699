package main

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/webbotauth/webbotauthtest"
)

// TestEnableWebBotAuth: a directory configured by file verifies its
// agent's signatures through the classifier; a malformed flag or file is
// refused with the flag's name.
func TestEnableWebBotAuth(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "agent.json")
	if err := os.WriteFile(keys, webbotauthtest.Directory(), 0o600); err != nil {
		t.Fatal(err)
	}
	sigs, err := engine.LoadSignatures()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cls := engine.NewClassifier(sigs, nil, nil)
	if err := enableWebBotAuth(cls, []string{"https://agent.example=" + keys}, []string{"agent.example"}, nil, log); err != nil {
		t.Fatal(err)
	}
	e := engine.New(cls, nil)
	if errs := e.Load([]engine.Site{{ID: 1, Domain: "shop.example.com", Status: "online", ServerKeyHash: strings.Repeat("ab", 32)}}, nil); len(errs) > 0 {
		t.Fatal(errs)
	}
	now := time.Now()
	h := http.Header{}
	webbotauthtest.Sign(h, webbotauthtest.Signature{Host: "shop.example.com", Agent: "agent.example", Nonce: "wired",
		Created: now.Add(-time.Second), Expires: now.Add(time.Minute)})
	v := e.Decide(e.ByDomain("shop.example.com"), &engine.Request{Method: "GET", Host: "shop.example.com", Path: "/", UserAgent: "curl/8", Header: h})
	if v.Category != engine.SignedAgents || v.Detail != "agent.example" {
		t.Fatalf("signed request: %v", v)
	}
	for _, bad := range []string{"https://agent.example", "https://agent.example=" + filepath.Join(dir, "missing.json"), "http://agent.example=" + keys} {
		err := enableWebBotAuth(engine.NewClassifier(sigs, nil, nil), []string{bad}, nil, nil, log)
		if err == nil || !strings.Contains(err.Error(), "--web-bot-auth-directory") {
			t.Fatalf("%s: %v", bad, err)
		}
	}
	if err := enableWebBotAuth(cls, []string{"nofile"}, nil, nil, log); !errors.Is(err, errUsage) {
		t.Fatalf("no =FILE: %v", err)
	}
	for _, bad := range []string{"https://agent.example", "Agent.Example", "agent.example/x", "agent.example:", "agent.example:443", "localhost"} {
		if err := enableWebBotAuth(cls, nil, []string{bad}, nil, log); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "--web-bot-auth-agent") {
			t.Errorf("--web-bot-auth-agent %s: %v", bad, err)
		}
	}
	for list, want := range map[string][]string{"": engine.DefaultTrustedAgents, "none": nil, "a.example,b.example:8443": {"a.example", "b.example:8443"}} {
		var l stringList
		l.Set(list)
		if got, err := trustedAgents(l); err != nil || strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("--web-bot-auth-agent %q: %v %v; want %v", list, got, err, want)
		}
	}
	// A signer that is not trusted is judged as if unsigned.
	cls.SetTrustedAgents(nil)
	h = http.Header{}
	webbotauthtest.Sign(h, webbotauthtest.Signature{Host: "shop.example.com", Agent: "agent.example", Nonce: "untrusted",
		Created: now.Add(-time.Second), Expires: now.Add(time.Minute)})
	if v := e.Decide(e.ByDomain("shop.example.com"), &engine.Request{Method: "GET", Host: "shop.example.com", Path: "/", UserAgent: "curl/8", Header: h}); v.Category == engine.SignedAgents {
		t.Fatalf("signed by an agent not trusted: %v", v)
	}
}
