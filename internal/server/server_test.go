package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/protect"
	"github.com/palisadehq/palisade/internal/secret"
	"github.com/palisadehq/palisade/internal/server"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

const chromeUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

type stack struct {
	url        string
	svc        *core.Service
	prot       *protect.Protector
	caller     core.Caller
	partnerKey string
	site       core.Website
}

func newStack(t *testing.T) *stack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	db := storetest.SQLite(t)
	box, _ := secret.NewBox(make([]byte, secret.KeySize), nil)
	sigs, err := engine.LoadSignatures()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	prot := protect.New(engine.New(engine.NewClassifier(sigs, nil, nil), nil), log)
	svc := core.NewService(db, box, core.Config{PublicURL: "http://palisade.test"}, core.WithChangeHook(prot.Changed))
	prot.SetService(svc)
	if _, err := svc.SeedPlans(ctx); err != nil {
		t.Fatal(err)
	}
	p, key, err := svc.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "host"})
	if err != nil {
		t.Fatal(err)
	}
	_ = p
	c, err := svc.Authenticate(ctx, key, protect.Loopback[0].Addr(), core.ProtocolV1)
	if err != nil {
		t.Fatal(err)
	}
	site, _, err := svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "shop.example.com"}, core.Idem{})
	if err != nil {
		t.Fatal(err)
	}
	if err := prot.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	go prot.Run(ctx, time.Hour)
	srv := httptest.NewServer(server.NewHandler(server.Deps{Service: svc, Logger: log, Protector: prot}))
	t.Cleanup(srv.Close)
	return &stack{url: srv.URL, svc: svc, prot: prot, caller: c, partnerKey: key, site: site}
}

type faCall struct {
	ua, uri, realIP string
	nginx           bool
	key             string
	extra           map[string]string
}

func (s *stack) forwardAuth(t *testing.T, c faCall) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", s.url+"/forward-auth", nil)
	key := c.key
	if key == "" {
		key = s.site.ServerKey
	}
	req.Header.Set("X-Palisade-Key", key)
	req.Header.Set("X-Original-Uri", c.uri)
	req.Header.Set("X-Original-Method", "GET")
	req.Header.Set("X-Original-Host", "shop.example.com")
	if c.realIP != "" {
		req.Header.Set("X-Real-Ip", c.realIP)
	}
	if c.nginx {
		req.Header.Set("X-Palisade-Mode", "nginx")
	}
	req.Header.Set("User-Agent", c.ua)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Accept-Language", "en")
	req.Header.Set("Accept-Encoding", "gzip")
	for k, v := range c.extra {
		req.Header.Set(k, v)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// noRedirects hands 3xx answers back instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s did not happen within 3s", what)
}

func TestForwardAuth(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	check := func(name string, c faCall, status int, action, reason string) *http.Response {
		t.Helper()
		resp := s.forwardAuth(t, c)
		if resp.StatusCode != status || resp.Header.Get("X-Palisade-Action") != action || (reason != "" && resp.Header.Get("X-Palisade-Reason") != reason) {
			t.Fatalf("%s: %d %s (%s); want %d %s (%s)", name, resp.StatusCode, resp.Header.Get("X-Palisade-Action"), resp.Header.Get("X-Palisade-Reason"), status, action, reason)
		}
		return resp
	}
	check("browser", faCall{ua: chromeUA, uri: "/"}, 200, "grant", "humans")
	// First traffic moves the website from setup to online.
	eventually(t, "status online", func() bool {
		w, err := s.svc.Website(ctx, s.caller, "shop.example.com")
		return err == nil && w.Status == core.StatusOnline
	})
	check("curl", faCall{ua: "curl/8.5.0", uri: "/"}, 403, "challenge", "automation_tools")
	check("curl via nginx", faCall{ua: "curl/8.5.0", uri: "/", nginx: true}, 401, "challenge", "automation_tools")
	check("sqlmap", faCall{ua: "sqlmap/1.7", uri: "/"}, 403, "deny", "security_issues")
	check("sqlmap via nginx", faCall{ua: "sqlmap/1.7", uri: "/", nginx: true}, 403, "deny", "security_issues")
	resp := s.forwardAuth(t, faCall{ua: chromeUA, uri: "/", key: "sk_wrong"})
	if resp.StatusCode != 500 || !strings.Contains(resp.Header.Get("X-Palisade-Error"), "server key") {
		t.Fatalf("wrong key: %d %v", resp.StatusCode, resp.Header)
	}

	// Settings saved through the API reach the engine within a second.
	var st engine.Settings
	st.Deny = []string{"203.0.113.0/24"}
	st.Rules = []engine.Rule{
		{Name: "Block admin", Action: "deny", Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/wp-admin"}}},
		{Name: "Moved", Action: "redirect", Location: "https://new.example.test/", Conditions: []engine.Condition{{Field: "path", Op: "is", Value: "/old"}}},
	}
	if _, err := s.svc.UpdateWebsiteSettings(ctx, s.caller, "shop.example.com", st, core.Match{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the rule taking effect", func() bool {
		return s.forwardAuth(t, faCall{ua: chromeUA, uri: "/wp-admin/index.php?x=1"}).StatusCode == 403
	})
	check("rule", faCall{ua: chromeUA, uri: "/wp-admin/"}, 403, "deny", "Block admin")
	r := check("redirect", faCall{ua: chromeUA, uri: "/old"}, 302, "redirect", "Moved")
	if r.Header.Get("Location") != "https://new.example.test/" {
		t.Fatalf("redirect location %q", r.Header.Get("Location"))
	}
	r = check("redirect via nginx", faCall{ua: chromeUA, uri: "/old", nginx: true}, 401, "redirect", "Moved")
	if r.Header.Get("X-Palisade-Location") != "https://new.example.test/" {
		t.Fatalf("nginx redirect location %q", r.Header.Get("X-Palisade-Location"))
	}
	// The client address comes from X-Real-IP: the test client is on
	// loopback, a trusted web server.
	check("deny list via X-Real-IP", faCall{ua: chromeUA, uri: "/", realIP: "203.0.113.50"}, 403, "deny", "deny list")
	check("X-Forwarded-For", faCall{ua: chromeUA, uri: "/", extra: map[string]string{"X-Forwarded-For": "203.0.113.51"}}, 403, "deny", "deny list")

	// A paused website is served unprotected.
	paused := core.StatusPaused
	if _, err := s.svc.UpdateWebsite(ctx, s.caller, "shop.example.com", core.WebsiteUpdate{Status: &paused}, core.Match{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "pause taking effect", func() bool {
		return s.forwardAuth(t, faCall{ua: "sqlmap/1.7", uri: "/"}).StatusCode == 200
	})
}
