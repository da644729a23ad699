package xmlapi_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/palisadehq/palisade/internal/api/xmlapi"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/secret"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

// countingStore counts read transactions and the customer rows and
// website queries they ask for.
type countingStore struct {
	core.Store
	views, subRows, siteQueries atomic.Int64
}

func (s *countingStore) View(ctx context.Context, fn func(core.Tx) error) error {
	s.views.Add(1)
	return s.Store.View(ctx, func(tx core.Tx) error { return fn(&countingTx{Tx: tx, s: s}) })
}

type countingTx struct {
	core.Tx
	s *countingStore
}

func (t *countingTx) Subaccounts(ctx context.Context, partnerID int64, f core.SubaccountFilter) ([]core.Subaccount, error) {
	as, err := t.Tx.Subaccounts(ctx, partnerID, f)
	t.s.subRows.Add(int64(len(as)))
	return as, err
}

func (t *countingTx) SubaccountPage(ctx context.Context, partnerID int64, limit, offset int) (int, []core.Subaccount, error) {
	n, as, err := t.Tx.SubaccountPage(ctx, partnerID, limit, offset)
	t.s.subRows.Add(int64(len(as)))
	return n, as, err
}

func (t *countingTx) Websites(ctx context.Context, partnerID int64, f core.WebsiteFilter) ([]core.Website, error) {
	t.s.siteQueries.Add(1)
	return t.Tx.Websites(ctx, partnerID, f)
}

func (t *countingTx) WebsitesOfSubaccounts(ctx context.Context, partnerID int64, ids []int64) ([]core.Website, error) {
	t.s.siteQueries.Add(1)
	return t.Tx.WebsitesOfSubaccounts(ctx, partnerID, ids)
}

// TestGetAccountsIsBounded: a page of getAccounts reads that page of
// customers and their websites in one query each, however many customers
// the partner has (it used to read every account, then query each one's
// websites), on SQLite and PostgreSQL.
func TestGetAccountsIsBounded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		cs := &countingStore{Store: db}
		box, _ := secret.NewBox(make([]byte, secret.KeySize), nil)
		svc := core.NewService(cs, box, core.Config{PublicURL: "https://palisade.test"}, core.WithClock(testclock.New(t).Now))
		if _, err := svc.SeedPlans(ctx); err != nil {
			t.Fatal(err)
		}
		pt, key, err := svc.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "host", AllowedIPs: []string{"127.0.0.1"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.TopUp(ctx, core.Operator(), pt.ID, 1000000, ""); err != nil {
			t.Fatal(err)
		}
		c := core.PartnerCaller(pt.ID, "test", core.ProtocolV1, "")
		const accounts = 60
		for i := 0; i < accounts; i++ {
			in := core.Provision{Account: core.SubaccountCreate{Email: "c" + strconv.Itoa(i) + "@example.com"}}
			if i%3 == 0 {
				in.Domain, in.Plan = "site"+strconv.Itoa(i)+".example.com", "10k"
			}
			if _, _, err := svc.ProvisionAccount(ctx, c, in); err != nil {
				t.Fatal(err)
			}
		}
		mux := http.NewServeMux()
		xmlapi.New(svc, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil))).Register(mux)
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		e := &env{xmlURL: srv.URL + "/v1/partner", user: "host", pass: key}

		views, rows, sites := cs.views.Load(), cs.subRows.Load(), cs.siteQueries.Load()
		r := ok(t, e.call(t, "getAccounts", "<limit>5</limit><offset>3</offset>"))
		if r.get("total") != strconv.Itoa(accounts) || r.get("offset") != "3" || len(r.method().Kids) < 4 {
			t.Fatalf("getAccounts: %s", r.raw)
		}
		list := r.method().Kids[3]
		if len(list.Kids) != 5 {
			t.Fatalf("%d accounts on a page of 5: %s", len(list.Kids), r.raw)
		}
		// The fourth customer (c3) has site3.
		if got := len(list.Kids[0].Kids[5].Kids); got != 1 {
			t.Fatalf("c3's sites: %d in %s", got, r.raw)
		}
		// Authentication, then one read for the page.
		if n := cs.views.Load() - views; n > 2 {
			t.Fatalf("getAccounts ran %d read transactions", n)
		}
		if n := cs.subRows.Load() - rows; n != 5 {
			t.Fatalf("getAccounts read %d customer rows for a page of 5", n)
		}
		if n := cs.siteQueries.Load() - sites; n != 1 {
			t.Fatalf("getAccounts ran %d website queries for a page of 5", n)
		}
		// Past the end: an empty page, the offset capped at the total.
		r = ok(t, e.call(t, "getAccounts", "<limit>5</limit><offset>500</offset>"))
		if r.get("total") != strconv.Itoa(accounts) || r.get("offset") != strconv.Itoa(accounts) || len(r.method().Kids[3].Kids) != 0 {
			t.Fatalf("past the end: %s", r.raw)
		}
	})
}
