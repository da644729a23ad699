package userapi_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"

	. "github.com/palisadehq/palisade/internal/api/userapi"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/secret"
	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/testenv/faultstore"
	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

// TestRefreshIsOneTransaction: a refresh spends the old token and records
// the new ones together. With the database down it answers 503 (not 401)
// and the old refresh token still works; a lost COMMIT is 502.
func TestRefreshIsOneTransaction(t *testing.T) {
	ctx := context.Background()
	fs := faultstore.Wrap(storetest.SQLite(t))
	box, _ := secret.NewBox(make([]byte, secret.KeySize), nil)
	svc := core.NewService(fs, box, core.Config{PublicURL: "https://palisade.test"}, core.WithClock(testclock.New(t).Now))
	if _, err := svc.SeedPlans(ctx); err != nil {
		t.Fatal(err)
	}
	p, key, err := svc.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "host"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.TopUp(ctx, core.Operator(), p.ID, 100000, ""); err != nil {
		t.Fatal(err)
	}
	c, err := svc.Authenticate(ctx, key, netip.MustParseAddr("127.0.0.1"), core.ProtocolV1)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.ProvisionAccount(ctx, c, core.Provision{Account: core.SubaccountCreate{Email: "jane@example.com"}, Password: janePW, Domain: "shop.example.com", Plan: "10k"}); err != nil {
		t.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(svc, rk, "https://palisade.test", nil, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)
	e := &env{url: srv.URL}

	login := e.do(t, "POST", "/api/login", "", url.Values{"username": {"jane@example.com"}, "password": {janePW}}.Encode())
	if login.status != 200 {
		t.Fatalf("login: %d %s", login.status, login.raw)
	}
	refresh := login.body["data"].(map[string]any)["refresh_token"].(string)
	form := url.Values{"refresh_token": {refresh}}.Encode()

	fs.FailUpdates(0, 1)
	if a := e.do(t, "POST", "/api/token", "", form); a.status != 503 || a.header.Get("Retry-After") == "" {
		t.Fatalf("refresh with the database down: %d %s", a.status, a.raw)
	}
	// Nothing was spent: the same token refreshes now.
	a := e.do(t, "POST", "/api/token", "", form)
	if a.status != 200 {
		t.Fatalf("refresh after the outage: %d %s", a.status, a.raw)
	}
	if b := e.do(t, "POST", "/api/token", "", form); b.status != 401 {
		t.Fatalf("a spent refresh token: %d %s", b.status, b.raw)
	}
	next := a.body["data"].(map[string]any)
	access, refresh2 := next["access_token"].(string), next["refresh_token"].(string)

	fs.LoseCommits(0, 1)
	if b := e.do(t, "POST", "/api/token", "", url.Values{"refresh_token": {refresh2}}.Encode()); b.status != 502 || b.header.Get("Retry-After") != "" {
		t.Fatalf("refresh whose COMMIT was lost: %d %v %s", b.status, b.header, b.raw)
	}

	// Sign-out ends both tokens in one transaction, or says it did not.
	fs.FailUpdates(0, 1)
	if b := e.do(t, "POST", "/api/logout", "Bearer "+access, ""); b.status != 503 {
		t.Fatalf("sign-out with the database down: %d %s", b.status, b.raw)
	}
	if b := e.do(t, "GET", "/api/websites", "Bearer "+access, ""); b.status != 200 {
		t.Fatalf("the access token after a failed sign-out: %d %s", b.status, b.raw)
	}
	if b := e.do(t, "POST", "/api/logout", "Bearer "+access, ""); b.status != 200 {
		t.Fatalf("sign-out: %d %s", b.status, b.raw)
	}
	if b := e.do(t, "GET", "/api/websites", "Bearer "+access, ""); b.status != 401 {
		t.Fatalf("the access token after sign-out: %d %s", b.status, b.raw)
	}
}
