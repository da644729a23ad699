package store_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestPartnerRangesMigration (issue 17 finding 3): migration 14 seeds a
// partner's allowed ranges (the operator's) only from what the operator
// certainly set, the partner's first key (partner create --allowed-ip,
// then partner allow-ip), and keeps only binding ranges. Ranges a partner
// gave its own unnamed console keys, or that rotation merged from them,
// never become the operator's; 0.0.0.0/0, ::/0, ranges wider than /8 (/32)
// and unparsable rows are dropped. The state before the migration is
// built with SQL as the previous release stored it.
func TestPartnerRangesMigration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.MigrateDownTo(ctx, 13); err != nil {
			t.Fatal(err)
		}
		partners := []struct {
			name string
			keys []string // allowed_cidrs of its keys, first one first (all unnamed)
			want []string
		}{
			// Created bound to the panel (and, by mistake, to everything);
			// the partner then minted an unnamed console key for an
			// address of its own and rotated (which merged all ranges).
			{"host", []string{"198.51.100.0/24,0.0.0.0/0", "203.0.113.7/32", "198.51.100.0/24,0.0.0.0/0,203.0.113.7/32"}, []string{"198.51.100.0/24"}},
			// Created unbound; the partner's keys carry ranges of its own.
			{"unbound", []string{"", "0.0.0.0/0", "10.0.0.0/8"}, nil},
			{"wide", []string{"0.0.0.0/0,10.0.0.0/7"}, nil},
			{"v6", []string{"2001:db8:1::/48,::/0,2001::/16,2001:db8::/32,10.0.0.0/8"}, []string{"2001:db8:1::/48", "2001:db8::/32", "10.0.0.0/8"}},
			{"broken", []string{"invalid Prefix,192.0.2.0/24,192.0.2.0/x,/24"}, []string{"192.0.2.0/24"}},
			{"keyless", nil, nil},
		}
		nKey := 0
		for _, p := range partners {
			id := "(SELECT id FROM partners WHERE name = '" + p.name + "')"
			if err := db.Exec(ctx, "INSERT INTO partners (name, created_at) VALUES ('"+p.name+"', '2026-11-01 00:00:00')"); err != nil {
				t.Fatal(err)
			}
			for _, cidrs := range p.keys {
				nKey++
				n := strconv.Itoa(nKey)
				if err := db.Exec(ctx, "INSERT INTO partner_api_keys (partner_id, key_prefix, key_hash, key_sealed, allowed_cidrs, created_at) VALUES ("+
					id+", 'pk_"+n+"', 'hash-"+n+"', 'sealed', '"+cidrs+"', '2026-11-01 00:00:00')"); err != nil {
					t.Fatal(err)
				}
			}
		}
		// The partner's first key was revoked by a rotation: its ranges
		// are still the operator's.
		if err := db.Exec(ctx, "UPDATE partner_api_keys SET revoked_at = created_at WHERE key_prefix = 'pk_1'"); err != nil {
			t.Fatal(err)
		}
		if err := db.MigrateUpTo(ctx, 14); err != nil {
			t.Fatal(err)
		}
		got, err := db.QueryStrings(ctx, "SELECT allowed_cidrs FROM partners ORDER BY id")
		if err != nil || len(got) != len(partners) {
			t.Fatalf("allowed_cidrs %q %v", got, err)
		}
		for i, p := range partners {
			var have []string
			if got[i] != "" {
				have = strings.Split(got[i], ",")
			}
			slices.Sort(have)
			want := slices.Clone(p.want)
			slices.Sort(want)
			if !slices.Equal(have, want) {
				t.Errorf("partner %s: allowed_cidrs %q, want %q", p.name, got[i], strings.Join(want, ","))
			}
		}
		if err := db.MigrateUpTo(ctx, 1<<30); err != nil {
			t.Fatal(err)
		}
	})
}

// TestBoundPartnersSkipsBadRows (issue 17 finding 9): one partner's
// unparsable allowed ranges (the "invalid Prefix" an old allow-ip stored)
// leave that partner unbound; every other partner's GP keeps working.
func TestBoundPartnersSkipsBadRows(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for _, q := range []string{
			"INSERT INTO partners (name, created_at, allowed_cidrs) VALUES ('good', '2026-11-01 00:00:00', '198.51.100.0/24')",
			"INSERT INTO partners (name, created_at, allowed_cidrs) VALUES ('bad', '2026-11-01 00:00:00', 'invalid Prefix')",
			"INSERT INTO partners (name, created_at, allowed_cidrs) VALUES ('half', '2026-11-01 00:00:00', '203.0.113.0/24,nope')",
		} {
			if err := db.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		good, err := db.QueryStrings(ctx, "SELECT CAST(id AS TEXT) FROM partners WHERE name = 'good'")
		if err != nil || len(good) != 1 {
			t.Fatal(good, err)
		}
		goodID, _ := strconv.ParseInt(good[0], 10, 64)
		var bound map[int64][]string
		err = db.View(ctx, func(tx core.Tx) error {
			m, err := tx.BoundPartners(ctx)
			bound = map[int64][]string{}
			for id, ps := range m {
				for _, p := range ps {
					bound[id] = append(bound[id], p.String())
				}
			}
			return err
		})
		if err != nil {
			t.Fatalf("BoundPartners: %v", err)
		}
		if len(bound) != 1 || len(bound[goodID]) != 1 || bound[goodID][0] != "198.51.100.0/24" {
			t.Fatalf("BoundPartners = %v; want only partner 1's range", bound)
		}
		// allow-ip stored the bad range on the partner's keys too: those
		// keys are skipped, the good partner's key is still found.
		for _, q := range []string{
			"INSERT INTO partner_api_keys (partner_id, key_prefix, key_hash, key_sealed, allowed_cidrs, created_at) VALUES ((SELECT id FROM partners WHERE name = 'good'), 'pk_good', 'h-good', 's', '198.51.100.0/24', '2026-11-01 00:00:00')",
			"INSERT INTO partner_api_keys (partner_id, key_prefix, key_hash, key_sealed, allowed_cidrs, created_at) VALUES ((SELECT id FROM partners WHERE name = 'half'), 'pk_half', 'h-half', 's', '203.0.113.0/24,invalid Prefix', '2026-11-01 00:00:00')",
		} {
			if err := db.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		var keys []core.APIKey
		err = db.View(ctx, func(tx core.Tx) error {
			var err error
			keys, err = tx.BoundAPIKeys(ctx)
			return err
		})
		if err != nil || len(keys) != 1 || keys[0].Prefix != "pk_good" {
			t.Fatalf("BoundAPIKeys = %+v, %v; want only pk_good", keys, err)
		}
	})
}
