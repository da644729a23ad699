package core_test

import (
	"context"
	"errors"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// gpPartner creates a partner bound by the operator to ranges, with credit.
func gpPartner(t *testing.T, f *fixture, name string, ranges ...string) (core.Partner, string, core.Caller) {
	t.Helper()
	ctx := context.Background()
	p, key, err := f.svc.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: name, AllowedIPs: ranges})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.TopUp(ctx, core.Operator(), p.ID, 100000, ""); err != nil {
		t.Fatal(err)
	}
	return p, key, core.PartnerCaller(p.ID, "test", core.ProtocolV1, "")
}

// TestGPTimestamp: a GP timestamp is the digits of a time within five
// minutes of the service's clock, in any order; anything else (1, abc, a
// time an hour away, extra digits) is refused as a bad timestamp before any
// key is hashed, and a good one is still accepted only once.
func TestGPTimestamp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		_, key, _ := gpPartner(t, f, "host", "198.51.100.0/24")
		ip := netip.MustParseAddr("198.51.100.9")
		now := *f.now.Load()
		try := func(ts string) error {
			_, _, err := f.svc.AuthenticateGP(ctx, ip, "shop.example.com", ts, core.GPHash(key, "shop.example.com", ts))
			return err
		}
		unix := strconv.FormatInt(now.Unix(), 10)
		reversed := []byte(unix)
		for i, j := 0, len(reversed)-1; i < j; i, j = i+1, j-1 {
			reversed[i], reversed[j] = reversed[j], reversed[i]
		}
		// Times outside the window whose digits no time inside it has
		// (the digits of 1796004150 are also those of 1796004510, six
		// minutes on).
		sorted := func(u int64) string {
			b := []byte(strconv.FormatInt(u, 10))
			slices.Sort(b)
			return string(b)
		}
		inWindow := map[string]bool{}
		for u := now.Add(-5 * time.Minute).Unix(); u <= now.Add(5*time.Minute).Unix(); u++ {
			inWindow[sorted(u)] = true
		}
		outside := func(from time.Duration) string {
			for u := now.Add(from).Unix(); ; u++ {
				if !inWindow[sorted(u)] {
					return strconv.FormatInt(u, 10)
				}
			}
		}
		hashesBefore := f.svc.GPStats().Hashes
		for _, bad := range []string{"1", "abc", "", unix + "7", unix[:9], "-" + unix[1:], " " + unix,
			outside(-time.Hour), outside(6 * time.Minute), outside(-6 * time.Minute)} {
			err := try(bad)
			if core.ErrorCode(err) != core.EINVALID || !errors.Is(err, core.ErrBadTimestamp) {
				t.Fatalf("timestamp %q: %v", bad, err)
			}
		}
		if n := f.svc.GPStats().Hashes - hashesBefore; n != 0 {
			t.Fatalf("bad timestamps hashed %d keys", n)
		}
		for _, good := range []string{unix, string(reversed), strconv.FormatInt(now.Add(-4*time.Minute).Unix(), 10), core.GPTimestamp(now.Add(4*time.Minute), 7)} {
			if err := try(good); err != nil {
				t.Fatalf("timestamp %q: %v", good, err)
			}
			if err := try(good); !errors.Is(err, core.ErrRequestReplayed) {
				t.Fatalf("timestamp %q replayed: %v", good, err)
			}
		}
		// Ten minutes on, a time that was near is too old (one whose digits
		// no time near the new one has).
		f.advance(10 * time.Minute)
		later := *f.now.Load()
		inLater := map[string]bool{}
		for u := later.Add(-5 * time.Minute).Unix(); u <= later.Add(5*time.Minute).Unix(); u++ {
			inLater[sorted(u)] = true
		}
		old := ""
		for u := now.Unix(); old == ""; u-- {
			if !inLater[sorted(u)] {
				old = strconv.FormatInt(u, 10)
			}
		}
		if err := try(old); !errors.Is(err, core.ErrBadTimestamp) {
			t.Fatalf("a timestamp from ten minutes ago: %v", err)
		}
	})
}

// TestGPTimestampSequence: GPTimestamp gives distinct shuffles of one
// time's digits, each of them accepted.
func TestGPTimestampSequence(t *testing.T) {
	at := time.Unix(1796123456, 0)
	seen := map[string]bool{}
	for n := uint64(0); n < 5000; n++ {
		ts := core.GPTimestamp(at, n)
		if seen[ts] || len(ts) != 10 {
			t.Fatalf("GPTimestamp(%d) = %q (seen: %v)", n, ts, seen[ts])
		}
		seen[ts] = true
	}
	if core.GPTimestamp(at, 0) != "1123456679" {
		t.Fatalf("first shuffle %q", core.GPTimestamp(at, 0))
	}
}

// TestGPLoginLinks (issue 17 finding 2): a login link is asked for with
// the GP loginlink call, so only from the key's addresses. A stolen key
// bound to the panel's range, used from elsewhere, opens neither the
// partner's console nor a customer's pages: its GP calls are refused and
// every link signed with the key alone (admin or client, the previous
// release's form or the older request-hash form) is refused with a message
// naming the call. From the bound address, the call answers a single-use
// /sso URL that opens exactly what it names, once.
func TestGPLoginLinks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		_, key, c := gpPartner(t, f, "host", "198.51.100.0/24")
		if _, _, err := f.svc.ProvisionAccount(ctx, c, core.Provision{Account: core.SubaccountCreate{Email: "jane@example.com"}, Domain: "shop.example.com", Plan: "10k"}); err != nil {
			t.Fatal(err)
		}
		_, _, oc := gpPartner(t, f, "other", "203.0.113.0/24")
		if _, _, err := f.svc.ProvisionAccount(ctx, oc, core.Provision{Account: core.SubaccountCreate{Email: "bob@example.com"}, Domain: "other.example.com", Plan: "10k"}); err != nil {
			t.Fatal(err)
		}
		now := *f.now.Load()
		thief, panel := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("198.51.100.9")
		n := uint64(0)
		gpCall := func(ip netip.Addr, domain string) (core.Caller, error) {
			n++
			ts := core.GPTimestamp(now, n)
			c, _, err := f.svc.AuthenticateGP(ctx, ip, domain, ts, core.GPHash(key, domain, ts))
			return c, err
		}

		// From the thief's address: no GP call, so no loginlink.
		if _, err := gpCall(thief, "panel.example"); core.ErrorCode(err) != core.EFORBIDDEN || !errors.Is(err, core.ErrAddressNotAllowed) {
			t.Fatalf("GP call from an unbound address: %v", err)
		}
		// Links signed with the key alone: refused, whatever they name
		// (the core reads none of a self-signed link; gp's
		// TestLoginLinkOnlyFromBoundAddress sends correctly signed ones).
		if err := f.svc.LoginWithGPLink(ctx); core.ErrorCode(err) != core.EUNAUTHORIZED || !errors.Is(err, core.ErrSelfSignedLink) || !strings.Contains(core.ErrorMessage(err), "/api/v1/loginlink/") {
			t.Fatalf("self-signed link: %v", err)
		}

		// From the bound address: the call answers links.
		gc, err := gpCall(panel, "panel.example")
		if err != nil {
			t.Fatal(err)
		}
		admin, exp, err := f.svc.GPLoginLink(ctx, gc, "admin", "panel.example")
		if err != nil || !strings.Contains(admin, "/sso?token=lt_") || !exp.Equal(now.Add(core.LoginTokenTTL)) {
			t.Fatalf("admin link: %q %v %v", admin, exp, err)
		}
		l, err := f.svc.LoginWithToken(ctx, tokenOf(t, admin))
		if err != nil || l.Session.Scope != core.ScopePartner || l.Session.PartnerID != c.PartnerID || l.Next != "/console" {
			t.Fatalf("admin link opened %+v %v", l, err)
		}
		if _, err := f.svc.LoginWithToken(ctx, tokenOf(t, admin)); err == nil {
			t.Fatal("the admin link opened twice")
		}
		gc, _ = gpCall(panel, "shop.example.com")
		client, _, err := f.svc.GPLoginLink(ctx, gc, "client", "shop.example.com")
		if err != nil {
			t.Fatal(err)
		}
		l, err = f.svc.LoginWithToken(ctx, tokenOf(t, client))
		if err != nil || l.Session.Scope != core.ScopeCustomer || l.Session.SubaccountID == 0 || !strings.Contains(l.Next, "/website/shop.example.com/") {
			t.Fatalf("client link opened %+v %v", l, err)
		}
		// Another partner's customer, an unknown panel: nothing.
		gc, _ = gpCall(panel, "other.example.com")
		if _, _, err := f.svc.GPLoginLink(ctx, gc, "client", "other.example.com"); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("a link to another partner's customer: %v", err)
		}
		if _, _, err := f.svc.GPLoginLink(ctx, gc, "root", "panel.example"); core.ErrorCode(err) != core.EINVALID {
			t.Fatalf("panel=root: %v", err)
		}
		// Five minutes on, an unused link has expired.
		gc, _ = gpCall(panel, "shop.example.com")
		late, _, err := f.svc.GPLoginLink(ctx, gc, "client", "shop.example.com")
		if err != nil {
			t.Fatal(err)
		}
		f.advance(core.LoginTokenTTL + time.Second)
		if _, err := f.svc.LoginWithToken(ctx, tokenOf(t, late)); err == nil {
			t.Fatal("a link opened after five minutes")
		}
	})
}

// TestKeyBinding: only the operator sets or widens where a partner's keys
// may be used from. A key a partner mints lies within the operator's
// ranges; 0.0.0.0/0, ::/0 and ranges wider than /8 (/32) bind nothing; GP
// and XML need a real binding.
func TestKeyBinding(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		_, key, c := gpPartner(t, f, "host", "198.51.100.0/24", "2001:db8:1::/48")
		for _, bad := range [][]string{{"0.0.0.0/0"}, {"::/0"}, {"198.0.0.0/7"}, {"198.51.0.0/16"}, {"203.0.113.7"}, {"2001:db8::/32"}, {"198.51.100.0/25", "0.0.0.0/0"}} {
			if _, _, err := f.svc.CreateAPIKey(ctx, c, "wide", bad); core.ErrorCode(err) != core.EINVALID {
				t.Fatalf("partner minted a key for %v: %v", bad, err)
			}
		}
		_, k, err := f.svc.CreateAPIKey(ctx, c, "default", nil)
		if err != nil || len(k.AllowedCIDRs) != 2 || k.AllowedCIDRs[0].String() != "198.51.100.0/24" {
			t.Fatalf("a key with no ranges given: %+v %v", k, err)
		}
		narrow, k, err := f.svc.CreateAPIKey(ctx, c, "narrow", []string{"198.51.100.7", "2001:db8:1:2::/64"})
		if err != nil || len(k.AllowedCIDRs) != 2 {
			t.Fatalf("a key within the operator's ranges: %+v %v", k, err)
		}
		// The narrow key works for GP from its address only.
		now := *f.now.Load()
		ts := core.GPTimestamp(now, 1)
		if _, _, err := f.svc.AuthenticateGP(ctx, netip.MustParseAddr("198.51.100.7"), "a.example", ts, core.GPHash(narrow, "a.example", ts)); err != nil {
			t.Fatalf("GP with the narrow key: %v", err)
		}
		ts = core.GPTimestamp(now, 2)
		if _, _, err := f.svc.AuthenticateGP(ctx, netip.MustParseAddr("198.51.100.8"), "a.example", ts, core.GPHash(narrow, "a.example", ts)); err == nil {
			t.Fatal("GP with the narrow key from another address")
		}
		// A partner's rotation stays within the operator's ranges.
		rotated, err := f.svc.RotateKey(ctx, c, c.PartnerID, true)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.AuthenticateXML(ctx, "host", rotated, netip.MustParseAddr("198.51.100.9")); err != nil {
			t.Fatalf("XML with the rotated key: %v", err)
		}
		if _, err := f.svc.AuthenticateXML(ctx, "host", key, netip.MustParseAddr("203.0.113.9")); !errors.Is(err, core.ErrAddressNotAllowed) {
			t.Fatalf("XML from outside: %v", err)
		}

		// The operator bound a partner to 0.0.0.0/0 and ::/0: that is no
		// binding. Its own key cannot make GP or XML requests, and it
		// cannot mint bound keys.
		_, open, oc := gpPartner(t, f, "open", "0.0.0.0/0", "::/0")
		ip := netip.MustParseAddr("192.0.2.1")
		ts = core.GPTimestamp(now, 3)
		if _, _, err := f.svc.AuthenticateGP(ctx, ip, "a.example", ts, core.GPHash(open, "a.example", ts)); err == nil {
			t.Fatal("GP with a key bound to 0.0.0.0/0")
		}
		if _, err := f.svc.AuthenticateXML(ctx, "open", open, ip); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Fatalf("XML with a key bound to 0.0.0.0/0: %v", err)
		}
		if _, _, err := f.svc.CreateAPIKey(ctx, oc, "mine", []string{"192.0.2.0/24"}); core.ErrorCode(err) != core.EINVALID {
			t.Fatalf("a partner bound nowhere minted a bound key: %v", err)
		}
		if _, k, err := f.svc.CreateAPIKey(ctx, oc, "rest", nil); err != nil || len(k.AllowedCIDRs) != 0 {
			t.Fatalf("an unbound key for REST: %+v %v", k, err)
		}
		// Only the operator binds it; then GP works from there.
		if err := f.svc.AllowIP(ctx, core.Operator(), oc.PartnerID, "192.0.2.0/24"); err != nil {
			t.Fatal(err)
		}
		ts = core.GPTimestamp(now, 4)
		if _, _, err := f.svc.AuthenticateGP(ctx, ip, "a.example", ts, core.GPHash(open, "a.example", ts)); err != nil {
			t.Fatalf("GP after the operator bound the partner: %v", err)
		}
		if _, _, err := f.svc.CreateAPIKey(ctx, oc, "mine", []string{"192.0.2.0/24"}); err != nil {
			t.Fatalf("a key within the new range: %v", err)
		}
		if err := f.svc.AllowIP(ctx, c, c.PartnerID, "0.0.0.0/0"); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Fatalf("a partner widened its own ranges: %v", err)
		}

		// The operator's ranges are read by the operator and the partner,
		// not by another partner; allow-ip added the new range.
		if r, err := f.svc.PartnerAllowedRanges(ctx, core.Operator(), oc.PartnerID); err != nil || len(r) != 3 || r[2].String() != "192.0.2.0/24" {
			t.Fatalf("allowed ranges: %v %v", r, err)
		}
		if _, err := f.svc.PartnerAllowedRanges(ctx, c, c.PartnerID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.PartnerAllowedRanges(ctx, c, oc.PartnerID); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Fatalf("another partner's ranges: %v", err)
		}

		// A key a partner minted before keys had to stay within the
		// operator's ranges (here: widened behind the service's back) is
		// still used only from those ranges, by every protocol.
		legacy, lk, err := f.svc.CreateAPIKey(ctx, c, "legacy", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(ctx, func(tx core.Tx) error {
			return tx.SetAPIKeyCIDRs(ctx, c.PartnerID, lk.ID, []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")})
		}); err != nil {
			t.Fatal(err)
		}
		far := netip.MustParseAddr("203.0.113.50")
		if _, err := f.svc.Authenticate(ctx, legacy, far, core.ProtocolV1); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Fatalf("REST with a 0.0.0.0/0 key from outside the operator's ranges: %v", err)
		}
		if _, err := f.svc.Authenticate(ctx, legacy, netip.MustParseAddr("198.51.100.20"), core.ProtocolV1); err != nil {
			t.Fatalf("REST with the legacy key from inside: %v", err)
		}
		if _, err := f.svc.AuthenticateXML(ctx, "host", legacy, netip.MustParseAddr("198.51.100.20")); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Fatalf("XML with a key bound only to 0.0.0.0/0: %v", err)
		}
		ts = core.GPTimestamp(now, 5)
		if _, _, err := f.svc.AuthenticateGP(ctx, netip.MustParseAddr("198.51.100.20"), "a.example", ts, core.GPHash(legacy, "a.example", ts)); err == nil {
			t.Fatal("GP with a key bound only to 0.0.0.0/0")
		}
	})
}

// TestGPFlood: a flood of GP requests with bad hashes, from addresses in
// and out of many partners' ranges, hashes only the keys usable from each
// address, reads the keys at most about once a second, and keeps the heap
// bounded.
func TestGPFlood(t *testing.T) {
	f := newFixture(t, storetest.SQLite(t))
	ctx := context.Background()
	const partners = 120
	for i := 0; i < partners; i++ {
		// Spread over many /8s and a few shared /24s.
		r := strconv.Itoa(10+i%100) + ".0." + strconv.Itoa(i/100) + ".0/24"
		gpPartner(t, f, "p"+strconv.Itoa(i), r, "2001:db8:"+strconv.FormatInt(int64(i), 16)+"::/48")
	}
	now := *f.now.Load()
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := f.svc.GPStats()
	const requests = 3000
	for i := 0; i < requests; i++ {
		var ip netip.Addr
		switch i % 3 {
		case 0: // inside partner i%100's range (shared by at most two partners)
			ip = netip.MustParseAddr(strconv.Itoa(10+i%100) + ".0.0.9")
		case 1: // nobody's range
			ip = netip.MustParseAddr("192.0.2." + strconv.Itoa(i%250))
		default:
			ip = netip.MustParseAddr("2001:db8:" + strconv.FormatInt(int64(i%partners), 16) + "::" + strconv.FormatInt(int64(i), 16))
		}
		ts := core.GPTimestamp(now, uint64(i))
		hash := core.GPHash("pk_guessed"+strconv.Itoa(i), "d"+strconv.Itoa(i)+".example", ts)
		if _, _, err := f.svc.AuthenticateGP(ctx, ip, "d"+strconv.Itoa(i)+".example", ts, hash); err == nil {
			t.Fatal("a guessed key was accepted")
		}
	}
	got := f.svc.GPStats()
	hashes, loads := got.Hashes-start.Hashes, got.Loads-start.Loads
	// At most two keys are usable from any one address here; every key
	// hashed for every request would be 120 × 3000.
	if hashes > 2*2*requests {
		t.Fatalf("%d requests hashed %d keys", requests, hashes)
	}
	// The clock is frozen: the index is read once, plus once after the
	// last key change.
	if loads > 2 {
		t.Fatalf("%d requests read the key index %d times", requests, loads)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grow := int64(after.HeapInuse) - int64(before.HeapInuse); grow > 8<<20 {
		t.Fatalf("the flood grew the heap by %d bytes", grow)
	}
}

// TestNonBindingRangesWidenNothing (issue 17 finding 3): partner allow-ip
// refuses a range that binds nothing (0.0.0.0/0, ::/0, wider than /8 or
// /32) with a clear error, and one already stored (partner create
// --allowed-ip 0.0.0.0/0 warns but stores it) never lets REST in from
// outside the operator's binding ranges.
func TestNonBindingRangesWidenNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		p, key, _ := gpPartner(t, f, "host", "198.51.100.0/24", "0.0.0.0/0")
		for _, wide := range []string{"0.0.0.0/0", "::/0", "10.0.0.0/7", "2001::/16", "::ffff:0:0/64"} {
			err := f.svc.AllowIP(ctx, core.Operator(), p.ID, wide)
			if core.ErrorCode(err) != core.EINVALID || core.ErrorField(err) != "cidr" {
				t.Fatalf("allow-ip %s: %v", wide, err)
			}
			if wide != "::ffff:0:0/64" && !strings.Contains(core.ErrorMessage(err), "binds nothing") {
				t.Fatalf("allow-ip %s: %q does not say why", wide, core.ErrorMessage(err))
			}
		}
		ranges, err := f.svc.PartnerAllowedRanges(ctx, core.Operator(), p.ID)
		if err != nil || len(ranges) != 2 {
			t.Fatalf("ranges after refused allow-ip: %v %v", ranges, err)
		}
		if err := f.svc.AllowIP(ctx, core.Operator(), p.ID, "203.0.113.0/24"); err != nil {
			t.Fatalf("allow-ip of a binding range: %v", err)
		}
		// REST: the stored 0.0.0.0/0 binds nothing; the binding ranges do.
		for ip, ok := range map[string]bool{"198.51.100.9": true, "203.0.113.9": true, "192.0.2.1": false, "2001:db8::1": false} {
			_, err := f.svc.Authenticate(ctx, key, netip.MustParseAddr(ip), core.ProtocolV1)
			if ok && err != nil || !ok && core.ErrorCode(err) != core.EFORBIDDEN {
				t.Fatalf("REST from %s: %v", ip, err)
			}
		}
		// deny-ip never leaves only ranges that bind nothing: that would
		// let the keys in over REST from anywhere, like no range at all.
		if err := f.svc.DenyIP(ctx, core.Operator(), p.ID, "198.51.100.0/24"); err != nil {
			t.Fatalf("deny-ip with another binding range left: %v", err)
		}
		if err := f.svc.DenyIP(ctx, core.Operator(), p.ID, "203.0.113.0/24"); core.ErrorCode(err) != core.EINVALID || !strings.Contains(core.ErrorMessage(err), "last") {
			t.Fatalf("deny-ip of the last binding range: %v", err)
		}
		if err := f.svc.DenyIP(ctx, core.Operator(), p.ID, "0.0.0.0/0"); err != nil {
			t.Fatalf("deny-ip of a range that binds nothing: %v", err)
		}
		if _, err := f.svc.Authenticate(ctx, key, netip.MustParseAddr("192.0.2.1"), core.ProtocolV1); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Fatalf("REST from outside after deny-ip: %v", err)
		}
		// Only non-binding ranges: no binding at all, REST from anywhere
		// (as with none), GP and XML refused.
		_, open, _ := gpPartner(t, f, "open", "0.0.0.0/0", "::/0")
		if _, err := f.svc.Authenticate(ctx, open, netip.MustParseAddr("192.0.2.1"), core.ProtocolV1); err != nil {
			t.Fatalf("REST of a partner bound nowhere: %v", err)
		}
	})
}
