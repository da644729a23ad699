package partnerapi_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// BenchmarkWebsiteHTTP measures registering (a charged create: ledger, audit,
// website in one transaction) and reading a website through the HTTP API, on
// each store. Run: go test -bench WebsiteHTTP -run '^$' ./internal/api/partnerapi
func BenchmarkWebsiteHTTP(b *testing.B) {
	stores := map[string]func(testing.TB) *store.DB{"sqlite": storetest.SQLite, "postgres": storetest.Postgres}
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			e := newEnv(b, stores[name](b))
			p, err := e.svc.PartnerByName(context.Background(), core.Operator(), "b")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := e.svc.TopUp(context.Background(), core.Operator(), p.ID, 1_000_000_000, "bench"); err != nil {
				b.Fatal(err)
			}
			e.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			var n atomic.Int64
			b.Run("create", func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := n.Add(1)
						r := e.do(b, call{method: "POST", path: "/website", key: e.keyB, body: fmt.Sprintf("domain=bench%d.example.com&plan=10k", i)})
						if r.status != 201 {
							b.Errorf("create: %d %s", r.status, r.body)
							return
						}
					}
				})
			})
			b.Run("get", func(b *testing.B) {
				total := n.Load()
				var i atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						k := i.Add(1)%total + 1
						r := e.do(b, call{method: "GET", path: fmt.Sprintf("/website/bench%d.example.com", k), key: e.keyB})
						if r.status != 200 {
							b.Errorf("get: %d %s", r.status, r.body)
							return
						}
					}
				})
			})
		})
	}
}
