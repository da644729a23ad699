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
	if err := enableWebBotAuth(cls, []string{"https://agent.example=" + keys}, nil, log); err != nil {
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
		err := enableWebBotAuth(engine.NewClassifier(sigs, nil, nil), []string{bad}, nil, log)
		if err == nil || !strings.Contains(err.Error(), "--web-bot-auth-directory") {
			t.Fatalf("%s: %v", bad, err)
		}
	}
	if err := enableWebBotAuth(cls, []string{"nofile"}, nil, log); !errors.Is(err, errUsage) {
		t.Fatalf("no =FILE: %v", err)
	}
}
