package core_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestDenyIP: only the operator removes one of a partner's allowed ranges;
// it leaves the partner's ranges and every key's, is audited, and a key
// then no longer works from there. A range the partner does not have, and
// the last one (without any, REST keys would work from anywhere), are
// refused with a clear error.
func TestDenyIP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		p, key, pc := gpPartner(t, f, "host", "198.51.100.0/24")
		if err := f.svc.AllowIP(ctx, core.Operator(), p.ID, "203.0.113.0/24"); err != nil {
			t.Fatal(err)
		}
		for _, c := range []core.Caller{pc, {}, core.PartnerCaller(p.ID+1, "other", core.ProtocolV1, "")} {
			if err := f.svc.DenyIP(ctx, c, p.ID, "203.0.113.0/24"); core.ErrorCode(err) != core.EFORBIDDEN {
				t.Fatalf("DenyIP by %+v: %v; want forbidden", c, err)
			}
		}
		if err := f.svc.DenyIP(ctx, core.Operator(), p.ID, "192.0.2.0/24"); core.ErrorCode(err) != core.EINVALID || !strings.Contains(err.Error(), "198.51.100.0/24, 203.0.113.0/24") {
			t.Fatalf("DenyIP of a range the partner lacks: %v", err)
		}
		if _, err := f.svc.Authenticate(ctx, key, netip.MustParseAddr("203.0.113.9"), core.ProtocolV1); err != nil {
			t.Fatalf("before: %v", err)
		}
		if err := f.svc.DenyIP(ctx, core.Operator(), p.ID, "203.0.113.0/24"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Authenticate(ctx, key, netip.MustParseAddr("203.0.113.9"), core.ProtocolV1); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Fatalf("a key used from the removed range: %v", err)
		}
		if _, err := f.svc.Authenticate(ctx, key, netip.MustParseAddr("198.51.100.9"), core.ProtocolV1); err != nil {
			t.Fatalf("a key used from the remaining range: %v", err)
		}
		ranges, err := f.svc.PartnerAllowedRanges(ctx, core.Operator(), p.ID)
		if err != nil || len(ranges) != 1 || ranges[0].String() != "198.51.100.0/24" {
			t.Fatalf("ranges after: %v %v", ranges, err)
		}
		keys, _ := f.svc.PartnerKeys(ctx, core.Operator(), p.ID)
		for _, k := range keys {
			if len(k.AllowedCIDRs) != 1 || k.AllowedCIDRs[0].String() != "198.51.100.0/24" {
				t.Fatalf("key %s ranges after: %v", k.Prefix, k.AllowedCIDRs)
			}
		}
		audit, err := f.svc.Audit(ctx, pc, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, a := range audit {
			found = found || a.Action == "deny_ip" && a.ObjectType == "partner" && strings.Contains(a.OldState, "203.0.113.0/24") && !strings.Contains(a.NewState, "203.0.113.0/24")
		}
		if !found {
			t.Fatalf("no deny_ip audit entry: %+v", audit)
		}
		if err := f.svc.DenyIP(ctx, core.Operator(), p.ID, "198.51.100.0/24"); core.ErrorCode(err) != core.EINVALID || !strings.Contains(err.Error(), "last allowed range") {
			t.Fatalf("DenyIP of the last range: %v", err)
		}
		if _, err := f.svc.Authenticate(ctx, key, netip.MustParseAddr("192.0.2.1"), core.ProtocolV1); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Fatalf("after refusing to remove the last range: %v", err)
		}
	})
}
