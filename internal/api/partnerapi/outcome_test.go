package partnerapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/secret"
	"github.com/palisadehq/palisade/internal/server"
	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/testenv/faultstore"
	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

// faultEnv is the partner API over a store that fails on demand, with one
// partner (key) holding 100.00 of credit.
func faultEnv(t *testing.T) (*env, *faultstore.Store, core.Caller) {
	t.Helper()
	ctx := context.Background()
	fs := faultstore.Wrap(storetest.SQLite(t))
	box, _ := secret.NewBox(make([]byte, secret.KeySize), nil)
	svc := core.NewService(fs, box, core.Config{PublicURL: "https://palisade.test"}, core.WithClock(testclock.New(t).Now))
	if _, err := svc.SeedPlans(ctx); err != nil {
		t.Fatal(err)
	}
	p, key, err := svc.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.TopUp(ctx, core.Operator(), p.ID, 10000, ""); err != nil {
		t.Fatal(err)
	}
	c, err := svc.Authenticate(ctx, key, netip.MustParseAddr("127.0.0.1"), core.ProtocolV1)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.NewHandler(server.Deps{Service: svc, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	t.Cleanup(srv.Close)
	return &env{url: srv.URL, svc: svc, keyA: key, client: &http.Client{}}, fs, c
}

func ledgerLen(t *testing.T, svc *core.Service, c core.Caller) int {
	t.Helper()
	l, err := svc.Ledger(context.Background(), c, 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	return len(l)
}

// TestOutcomeUnknownThenRetry: a change whose COMMIT answer is lost is
// 502 outcome_unknown (no Retry-After), distinct from 503 unavailable;
// retried with the same Idempotency-Key it answers the first result and
// charges once.
func TestOutcomeUnknownThenRetry(t *testing.T) {
	e, fs, c := faultEnv(t)
	if r := e.do(t, call{method: "POST", path: "/v1/websites", key: e.keyA, body: `{"domain":"shop.example.com","plan":"10k"}`}); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	charges := ledgerLen(t, e.svc, c)

	renew := call{method: "POST", path: "/v1/websites/shop.example.com/renew", key: e.keyA, body: `{"months":2}`, headers: map[string]string{"Idempotency-Key": "renew-1"}}
	fs.LoseCommits(0, 1)
	r := e.do(t, renew)
	var body struct{ Status, Code, Message string }
	_ = json.Unmarshal([]byte(r.body), &body)
	if r.status != 502 || body.Code != core.EUNKNOWN || r.header.Get("Retry-After") != "" || !strings.Contains(body.Message, "check the resource before retrying") {
		t.Fatalf("lost commit: %d %v %s", r.status, r.header, r.body)
	}
	if n := ledgerLen(t, e.svc, c); n != charges+1 {
		t.Fatalf("the lost commit was applied, so the ledger should have one more entry: %d, before %d", n, charges)
	}
	r = e.do(t, renew)
	if r.status != 200 || r.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry with the same key: %d %v %s", r.status, r.header, r.body)
	}
	if n := ledgerLen(t, e.svc, c); n != charges+1 {
		t.Fatalf("the retry charged again: %d entries, want %d", n, charges+1)
	}

	// A store that does not answer: 503 with Retry-After, nothing changed.
	fs.FailUpdates(0, 1)
	r = e.do(t, call{method: "POST", path: "/v1/websites/shop.example.com/renew", key: e.keyA, body: `{"months":1}`, headers: map[string]string{"Idempotency-Key": "renew-2"}})
	_ = json.Unmarshal([]byte(r.body), &body)
	if r.status != 503 || body.Code != core.EUNAVAILABLE || r.header.Get("Retry-After") == "" || !strings.Contains(body.Message, "nothing was changed") {
		t.Fatalf("unavailable: %d %v %s", r.status, r.header, r.body)
	}
	if n := ledgerLen(t, e.svc, c); n != charges+1 {
		t.Fatalf("an unavailable store charged: %d entries", n)
	}
}

// TestWebsiteUpdateIsOneTransaction: PATCH /v1/websites/{domain} and PUT
// /website/{domain} apply status, user and plan together or not at all.
func TestWebsiteUpdateIsOneTransaction(t *testing.T) {
	e, _, c := faultEnv(t)
	if r := e.do(t, call{method: "POST", path: "/v1/websites", key: e.keyA, body: `{"domain":"shop.example.com","plan":"20k"}`}); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	site := func() core.Website {
		w, err := e.svc.Website(context.Background(), c, "shop.example.com")
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	charges := ledgerLen(t, e.svc, c)
	// Suspend + a downgrade that is not allowed: 403, nothing changed.
	r := e.do(t, call{method: "PATCH", path: "/v1/websites/shop.example.com", key: e.keyA, body: `{"status":"paused","plan":"10k"}`})
	if r.status != 403 || site().Status == core.StatusPaused || site().Plan.Name != "20k" || ledgerLen(t, e.svc, c) != charges {
		t.Fatalf("suspend + downgrade: %d %s; website %+v", r.status, r.body, site())
	}
	// Upgrade + suspend (compat PUT, "package"): both, one charge.
	r = e.do(t, call{method: "PUT", path: "/website/shop.example.com", key: e.keyA, body: "status=paused&package=40k"})
	if r.status != 200 || site().Status != core.StatusPaused || site().Plan.Name != "40k" || ledgerLen(t, e.svc, c) != charges+1 {
		t.Fatalf("upgrade + suspend: %d %s; website %+v", r.status, r.body, site())
	}
	// A paused website changes plan only when the same call resumes it.
	if r = e.do(t, call{method: "PATCH", path: "/v1/websites/shop.example.com", key: e.keyA, body: `{"plan":"100k"}`}); r.status != 409 {
		t.Fatalf("plan change while paused: %d %s", r.status, r.body)
	}
	r = e.do(t, call{method: "PATCH", path: "/v1/websites/shop.example.com", key: e.keyA, body: `{"status":"online","plan":"100k"}`, headers: map[string]string{"Idempotency-Key": "resume-upgrade"}})
	if r.status != 200 || site().Status == core.StatusPaused || site().Plan.Name != "100k" || ledgerLen(t, e.svc, c) != charges+2 {
		t.Fatalf("resume + upgrade: %d %s; website %+v", r.status, r.body, site())
	}
	// The same plan again changes nothing and charges nothing.
	if r = e.do(t, call{method: "PATCH", path: "/v1/websites/shop.example.com", key: e.keyA, body: `{"plan":"100k"}`}); r.status != 200 || ledgerLen(t, e.svc, c) != charges+2 {
		t.Fatalf("same plan: %d %s", r.status, r.body)
	}
}
