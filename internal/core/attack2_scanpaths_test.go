package core_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestAttack2DeletedWebsiteFreesItsRoot: a deleted website's settings stay
// in the store, but its document root is no longer its own: the same domain
// registered again (a new website) or another website may use the folder.
// Before, the deleted website held the folder for ever and nothing could
// release it.
func TestAttack2DeletedWebsiteFreesItsRoot(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f, a, w := scanFixture(t, db)
		var err error
		st := core.ScanSettings{Files: core.FileScanSettings{Source: core.FileSource{Kind: "local", Path: "/var/www/shop"}}}
		if _, err := f.svc.SetWebsiteScanSettings(ctx, a, w.Domain, st); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.DeleteWebsite(ctx, a, w.Domain, core.Match{}); err != nil {
			t.Fatal(err)
		}
		again, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "shop.example.com"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		if again.ID == w.ID {
			t.Fatal("the same website again")
		}
		if _, err := f.svc.SetWebsiteScanSettings(ctx, a, again.Domain, st); err != nil {
			t.Fatalf("the domain registered again cannot use its folder, held by the deleted website: %v", err)
		}
	})
}

// TestAttack2ConcurrentRoots: on PostgreSQL, websites whose settings are
// saved at the same moment cannot all take the same document root (each
// transaction read the others' settings before any was committed).
func TestAttack2ConcurrentRoots(t *testing.T) {
	db := storetest.Postgres(t)
	ctx := context.Background()
	f := newFixture(t, db, func(c *core.Config) { c.ScanRoots = []string{"/srv/shared"} })
	const n = 8
	type one struct {
		c core.Caller
		w core.Website
	}
	var sites []one
	for i := 0; i < n; i++ {
		p := f.partner(t, fmt.Sprintf("p%d", i), 0)
		w, _, err := f.svc.CreateWebsite(ctx, p, core.WebsiteCreate{Domain: fmt.Sprintf("s%d.example.com", i)}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		sites = append(sites, one{p, w})
	}
	for round := 0; round < 5; round++ {
		path := fmt.Sprintf("/srv/shared/site%d", round)
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		start := make(chan struct{})
		for _, s := range sites {
			wg.Add(1)
			go func(s one) {
				defer wg.Done()
				<-start
				_, err := f.svc.SetWebsiteScanSettings(ctx, s.c, s.w.Domain, core.ScanSettings{Files: core.FileScanSettings{Source: core.FileSource{Kind: "local", Path: path}}})
				if err == nil {
					mu.Lock()
					won++
					mu.Unlock()
				} else if core.ErrorCode(err) != core.ECONFLICT {
					t.Errorf("round %d: %v", round, err)
				}
			}(s)
		}
		close(start)
		wg.Wait()
		if won != 1 {
			t.Fatalf("round %d: %d websites took %s at once", round, won, path)
		}
	}
}
