package core_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestSettingsStaleVersion: a settings write based on a version that is no
// longer current is refused with EPRECONDITION and the current version, and
// changes nothing; one based on the current version lands.
func TestSettingsStaleVersion(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		c := f.partner(t, "host", 100000)
		w, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "shop.example.com"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		read := core.Match{WebsiteID: w.ID, Version: w.Version}
		// Someone else saves first.
		w2, err := f.svc.UpdateWebsiteSettings(ctx, c, "shop.example.com", engine.Settings{Deny: []string{"198.51.100.1"}}, read)
		if err != nil {
			t.Fatal(err)
		}
		if w2.Version != w.Version+1 {
			t.Fatalf("version %d after a change of version %d", w2.Version, w.Version)
		}
		// The change based on the old read is refused, both ways of writing.
		_, err = f.svc.UpdateWebsiteSettings(ctx, c, "shop.example.com", engine.Settings{Mode: "monitor"}, read)
		wantCode(t, err, core.EPRECONDITION)
		if cur, ok := core.CurrentVersion(err); !ok || cur != (core.Match{WebsiteID: w.ID, Version: w2.Version}) {
			t.Fatalf("CurrentVersion(%v) = %v, %v; want version %d", err, cur, ok, w2.Version)
		}
		_, _, err = f.svc.EditWebsiteSettings(ctx, c, "shop.example.com", read, func(st *engine.Settings) error {
			st.Allow = append(st.Allow, "192.0.2.1")
			return nil
		})
		wantCode(t, err, core.EPRECONDITION)
		// A match of another website (the domain registered again) is stale too.
		_, err = f.svc.UpdateWebsiteSettings(ctx, c, "shop.example.com", engine.Settings{}, core.Match{WebsiteID: w.ID + 100, Version: w2.Version})
		wantCode(t, err, core.EPRECONDITION)
		_, st, _ := f.svc.WebsiteSettings(ctx, c, "shop.example.com")
		if st.Mode != "" || len(st.Allow) != 0 || !slices.Equal(st.Deny, []string{"198.51.100.1"}) {
			t.Fatalf("a refused write changed the settings: %+v", st)
		}
		// Based on the current version, it lands.
		w3, st, err := f.svc.EditWebsiteSettings(ctx, c, "shop.example.com", core.Match{WebsiteID: w.ID, Version: w2.Version}, func(st *engine.Settings) error {
			st.Allow = append(st.Allow, "192.0.2.1")
			return nil
		})
		if err != nil || w3.Version != w2.Version+1 || !slices.Equal(st.Allow, []string{"192.0.2.1"}) || !slices.Equal(st.Deny, []string{"198.51.100.1"}) {
			t.Fatalf("edit on the current version: %v %+v %d", err, st, w3.Version)
		}
		// An edit that changes nothing keeps the version; an invalid one
		// is refused with the path of its problem.
		w4, _, err := f.svc.EditWebsiteSettings(ctx, c, "shop.example.com", core.Match{}, func(*engine.Settings) error { return nil })
		if err != nil || w4.Version != w3.Version {
			t.Fatalf("a no-op edit: %v, version %d -> %d", err, w3.Version, w4.Version)
		}
		_, _, err = f.svc.EditWebsiteSettings(ctx, c, "shop.example.com", core.Match{}, func(st *engine.Settings) error {
			st.Deny = append(st.Deny, "not-an-ip")
			return nil
		})
		if wantCode(t, err, core.EINVALID); len(core.ErrorDetails(err)) != 1 || core.ErrorDetails(err)[0].Path != "deny[1]" {
			t.Fatalf("invalid edit: %v %+v", err, core.ErrorDetails(err))
		}
	})
}

// TestSettingsCompareAndSet: writers that all read the same version race;
// exactly one lands and every other is told its version is stale. Edits
// made inside the transaction (no version) racing with them all land.
func TestSettingsCompareAndSet(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		c := f.partner(t, "host", 100000)
		w, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "shop.example.com"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		const n = 10
		rule := func(name string) engine.Settings {
			return engine.Settings{Rules: []engine.Rule{{Name: name, Action: "deny", Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/x"}}}}}
		}
		// race runs n writers based on read and, with edits, n edits that
		// each add a deny entry; it returns the writer that landed, or -1.
		race := func(round int, read core.Match, edits bool) int {
			t.Helper()
			var wg sync.WaitGroup
			errs := make([]error, 2*n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = f.svc.UpdateWebsiteSettings(ctx, c, "shop.example.com", rule(fmt.Sprintf("r%d.%d", round, i)), read)
				}()
				if edits {
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, _, errs[n+i] = f.svc.EditWebsiteSettings(ctx, c, "shop.example.com", core.Match{}, func(st *engine.Settings) error {
							st.Deny = append(st.Deny, fmt.Sprintf("198.51.100.%d", i))
							return nil
						})
					}()
				}
			}
			wg.Wait()
			won := -1
			for i, err := range errs[:n] {
				switch core.ErrorCode(err) {
				case "":
					if won >= 0 {
						t.Fatalf("round %d: writers %d and %d both landed on version %d", round, won, i, read.Version)
					}
					won = i
				case core.EPRECONDITION:
				default:
					t.Fatalf("round %d: writer %d: %v", round, i, err)
				}
			}
			for i, err := range errs[n:] {
				if err != nil {
					t.Fatalf("round %d: edit %d: %v", round, i, err)
				}
			}
			return won
		}
		// Writers alone: exactly one lands.
		won := race(1, core.Match{WebsiteID: w.ID, Version: w.Version}, false)
		w, st, _ := f.svc.WebsiteSettings(ctx, c, "shop.example.com")
		if won < 0 || len(st.Rules) != 1 || st.Rules[0].Name != fmt.Sprintf("r1.%d", won) {
			t.Fatalf("round 1: winner %d, rules %+v", won, st.Rules)
		}
		first := won
		// Writers and edits: at most one writer lands, and only if it came
		// first (its version was the current one), so every edit is there.
		won = race(2, core.Match{WebsiteID: w.ID, Version: w.Version}, true)
		_, st, _ = f.svc.WebsiteSettings(ctx, c, "shop.example.com")
		wantRule := fmt.Sprintf("r1.%d", first)
		if won >= 0 {
			wantRule = fmt.Sprintf("r2.%d", won)
		}
		if len(st.Rules) != 1 || st.Rules[0].Name != wantRule {
			t.Fatalf("round 2: winner %d, rules %+v", won, st.Rules)
		}
		slices.Sort(st.Deny)
		if len(slices.Compact(st.Deny)) != n {
			t.Fatalf("round 2: deny list %v; want the %d edits", st.Deny, n)
		}
	})
}
