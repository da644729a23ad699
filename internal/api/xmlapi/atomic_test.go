package xmlapi_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/api/xmlapi"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/secret"
	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/testenv/faultstore"
	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

// books is what a change may touch: the partner's ledger and balance,
// and the outbox.
type books struct {
	ledger  int
	balance core.Cents
	emails  int
}

func booksOf(t *testing.T, svc *core.Service, c core.Caller) books {
	t.Helper()
	ctx := context.Background()
	l, err := svc.Ledger(ctx, c, 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Partner(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	es, err := svc.Emails(ctx, c, core.EmailFilter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	return books{len(l), p.Balance, len(es)}
}

// TestModifyAccountIsOneTransaction: every change of one modifyAccount
// happens, or none does. A suspension with a refused downgrade used to
// answer an error and leave the site suspended.
func TestModifyAccountIsOneTransaction(t *testing.T) {
	e := newEnv(t, nil)
	p := ok(t, e.call(t, "provisionAccount", account+`<site><domain>shop.example.com</domain><subscription>20k</subscription></site>`))
	siteID := p.get("site_id")
	status := func() resp { return ok(t, e.call(t, "getStatus", "<site_id>"+siteID+"</site_id>")) }
	before := booksOf(t, e.Service, e.Caller)

	// Suspend + downgrade (not allowed): refused as a whole.
	r := e.call(t, "modifyAccount", "<site_id>"+siteID+"</site_id><status>suspended</status><subscription>10k</subscription>")
	if r.status != 200 || !strings.Contains(r.err(), "downgrade") {
		t.Fatalf("suspend + downgrade: %d %s", r.status, r.raw)
	}
	if s := status(); s.get("account", "sites", "site", "status") != "pending" || s.get("account", "sites", "site", "subscription") != "20k" {
		t.Fatalf("after a refused call the site changed: %s", s.raw)
	}
	if after := booksOf(t, e.Service, e.Caller); after != before {
		t.Fatalf("a refused call moved the books: %+v, before %+v", after, before)
	}

	// Suspend + renewal beyond the allowed term: refused as a whole.
	wantErr(t, e.call(t, "modifyAccount", "<site_id>"+siteID+"</site_id><status>suspended</status><renewal_date>2020-01-01</renewal_date>"), "renewal_date must be a whole number of months")
	if s := status(); s.get("account", "sites", "site", "status") != "pending" {
		t.Fatalf("after a refused renewal the site is %s", s.raw)
	}

	// Upgrade + suspend in one call: both, one charge, one email.
	r = ok(t, e.call(t, "modifyAccount", "<site_id>"+siteID+"</site_id><status>suspended</status><subscription>40k</subscription>"))
	if r.get("status") != "suspended" || r.get("subscription") != "40k" {
		t.Fatalf("upgrade + suspend: %s", r.raw)
	}
	after := booksOf(t, e.Service, e.Caller)
	if after.ledger != before.ledger+1 || after.balance >= before.balance || after.emails != before.emails+1 {
		t.Fatalf("upgrade + suspend: books %+v, before %+v; want one charge and one email", after, before)
	}

	// A suspended site changes plan only when the same call resumes it.
	wantErr(t, e.call(t, "modifyAccount", "<site_id>"+siteID+"</site_id><subscription>100k</subscription>"), "website shop.example.com is paused")
	r = ok(t, e.call(t, "modifyAccount", "<site_id>"+siteID+"</site_id><status>active</status><subscription>100k</subscription>"))
	if r.get("status") == "suspended" || r.get("subscription") != "100k" {
		t.Fatalf("resume + upgrade: %s", r.raw)
	}
}

// TestPasswordRuleIsTheCore's: passwordReset refuses a password holding
// one of the account's domains, as GP's passwordreset does.
func TestPasswordRuleIsTheCores(t *testing.T) {
	e := newEnv(t, nil)
	p := ok(t, e.call(t, "provisionAccount", account+`<site><domain>shopfront.example.net</domain><subscription>10k</subscription></site>`))
	wantErr(t, e.call(t, "passwordReset", "<site_id>"+p.get("site_id")+"</site_id><password>My-Shopfront-2026</password>"), `weak password: it contains "shopfront"`)
	wantErr(t, e.call(t, "passwordReset", "<account_id>"+p.get("account_id")+"</account_id><password>My-Shopfront-2026</password>"), `weak password: it contains "shopfront"`)
	ok(t, e.call(t, "passwordReset", "<account_id>"+p.get("account_id")+"</account_id><password>N3w-Secret-Pass</password>"))
}

// faultEnv is the XML API over a store that fails on demand.
func faultEnv(t *testing.T) (*env, *faultstore.Store, *core.Service) {
	t.Helper()
	ctx := context.Background()
	fs := faultstore.Wrap(storetest.SQLite(t))
	box, _ := secret.NewBox(make([]byte, secret.KeySize), nil)
	svc := core.NewService(fs, box, core.Config{PublicURL: "https://palisade.test"}, core.WithClock(testclock.New(t).Now))
	if _, err := svc.SeedPlans(ctx); err != nil {
		t.Fatal(err)
	}
	pt, key, err := svc.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "host", AllowedIPs: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.TopUp(ctx, core.Operator(), pt.ID, 100000, ""); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	xmlapi.New(svc, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil))).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{xmlURL: srv.URL + "/v1/partner", user: "host", pass: key}, fs, svc
}

// TestStoreFailuresKeepTheirMeaning: a database that does not answer is
// "unavailable, retry" (503), never "account_id not found"; a lost COMMIT
// is "outcome unknown" (502), never "nothing changed".
func TestStoreFailuresKeepTheirMeaning(t *testing.T) {
	e, fs, _ := faultEnv(t)
	p := ok(t, e.call(t, "provisionAccount", account+`<site><domain>shop.example.com</domain><subscription>10k</subscription></site>`))
	aid := p.get("account_id")

	// Authentication reads once; the account lookup is the second read.
	for _, c := range []struct{ method, body string }{
		{"getStatus", "<account_id>" + aid + "</account_id>"},
		{"provisionAccount", "<account><account_id>" + aid + "</account_id></account><site><domain>blog.example.com</domain><subscription>10k</subscription></site>"},
		{"passwordReset", "<account_id>" + aid + "</account_id><password>N3w-Secret-Pass</password>"},
	} {
		fs.FailViews(1, 1)
		r := e.call(t, c.method, c.body)
		if r.status != 503 || strings.Contains(r.err(), "not found") || !strings.Contains(r.err(), "nothing was changed") {
			t.Errorf("%s with the database down: %d %s", c.method, r.status, r.raw)
		}
	}
	fs.FailViews(0, 0)

	fs.LoseCommits(0, 1)
	r := e.call(t, "modifyAccount", "<site_id>"+p.get("site_id")+"</site_id><status>suspended</status>")
	if r.status != 502 || !strings.HasPrefix(r.err(), "outcome unknown") || !strings.Contains(r.err(), "getStatus") {
		t.Fatalf("lost commit: %d %s", r.status, r.raw)
	}
	// It did happen; getStatus shows it.
	if s := ok(t, e.call(t, "getStatus", "<site_id>"+p.get("site_id")+"</site_id>")); s.get("account", "sites", "site", "status") != "suspended" {
		t.Fatalf("after the lost commit: %s", s.raw)
	}
}
