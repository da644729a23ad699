package core_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// flood runs the red team's flood until stop is closed or ctx ends: 48
// goroutines calling AuthenticateCustomer (unscoped, as the red team did)
// with an unknown email and a fresh address from next each time (the red
// team made 2,921 attempts in about two seconds; this makes more). It
// returns a function that waits for the goroutines and reports how many
// attempts they made and how the attempts were answered.
func flood(ctx context.Context, f *fixture, next func(i int64) netip.Addr, stop <-chan struct{}) func() (int64, map[string]int) {
	var n atomic.Int64
	var mu sync.Mutex
	codes := map[string]int{}
	var wg sync.WaitGroup
	for g := 0; g < 48; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				i := n.Add(1)
				_, err := f.svc.AuthenticateCustomer(ctx, core.CustomerSignIn{Email: fmt.Sprintf("nobody%d@example.com", i), Password: "guess", Addr: next(i)})
				c := core.ErrorCode(err)
				if errors.Is(err, core.ErrPasswordChecksBusy) {
					c = "busy"
				}
				mu.Lock()
				codes[c]++
				mu.Unlock()
				if c != core.EUNAUTHORIZED {
					// A refusal comes back at once: at most 4,800
					// attempts a second in all, three times the red
					// team's rate, without spinning the test's CPUs.
					time.Sleep(10 * time.Millisecond)
				}
			}
		}()
	}
	return func() (int64, map[string]int) {
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return n.Load(), codes
	}
}

// Follow-up of issue 16 (red team, finding 5): a flood of sign-ins for
// unknown emails, each from a fresh /64, cannot starve the password-hashing
// gate for everyone else. A customer signing in from an address where she
// signed in before gets all ten sign-ins through: whether the flood comes
// from one /48 (the network limits and shares stop it) or from everywhere
// (the priority lane still serves her first). A customer who never signed
// in before gets through a one-/48 flood too (the /48 holds at most its
// share of the gate). The clock is the injected one (frozen); each run is
// bounded by a context.
func TestSignInFloodCannotStarveOwners(t *testing.T) {
	for _, tc := range []struct {
		name string
		next func(i int64) netip.Addr // the flood's address for attempt i
		// known: the customer signs in from her known-good address;
		// otherwise a customer who never signed in tries from ten fresh
		// addresses.
		known bool
	}{
		{"one /48, known-good customer", func(i int64) netip.Addr {
			return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0x00, 0x77, byte(i >> 8), byte(i), 15: 1})
		}, true},
		{"everywhere, known-good customer", func(i int64) netip.Addr {
			return netip.AddrFrom16([16]byte{0x2a, byte(i >> 16), byte(i >> 8), byte(i), 0x00, 0x01, 15: 1})
		}, true},
		{"one /48, new customer", func(i int64) netip.Addr {
			return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0x00, 0x77, byte(i >> 8), byte(i), 15: 1})
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, storetest.SQLite(t))
			_, _, janeHost, _ := twoPartners(t, f)
			home := "192.0.2.10"
			if tc.known {
				if _, err := signIn(f, "host", "jane@example.com", hostPW, home); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			gate := f.svc.PasswordGate()
			before := gate.Runs()
			stop := make(chan struct{})
			started := time.Now()
			wait := flood(ctx, f, tc.next, stop)
			// The flood is hashing before she starts.
			for gate.Runs() < before+2*gate.Cap() && ctx.Err() == nil {
				time.Sleep(time.Millisecond)
			}
			var failures []string
			for i := 0; i < 10; i++ {
				addr, scope := home, "host"
				if !tc.known {
					addr = fmt.Sprintf("203.0.113.%d", 10+i)
				}
				if i%2 == 1 {
					scope = "" // unscoped: she has one account
				}
				a, err := signIn(f, scope, "jane@example.com", hostPW, addr)
				if err != nil || a.ID != janeHost.ID {
					failures = append(failures, fmt.Sprintf("sign-in %d (%q from %s): %v", i+1, scope, addr, err))
				}
			}
			close(stop)
			n, codes := wait()
			if ctx.Err() != nil {
				t.Fatal("the test ran out of time")
			}
			t.Logf("flood: %d attempts in %v, answers %v; gate runs %d (priority %d), peak %d of %d", n, time.Since(started).Round(time.Millisecond), codes, gate.Runs()-before, gate.PriorityRuns(), gate.Peak(), gate.Cap())
			if len(failures) > 0 {
				t.Fatalf("%d of 10 sign-ins failed during the flood:\n%v", len(failures), failures)
			}
			if gate.Peak() > gate.Cap() {
				t.Fatalf("%d hashes at once; the gate has %d slots", gate.Peak(), gate.Cap())
			}
			if codes[core.EUNAUTHORIZED] < 2*gate.Cap() {
				t.Fatalf("the flood hashed too little to be a flood: %v", codes)
			}
			if gate.Held() != 0 {
				t.Fatalf("the idle gate still holds %d shares", gate.Held())
			}
		})
	}
}

// Finding 5(a): failures from one /48 (or IPv4 /24) add up, whatever /64
// or address each came from; at the limit the network is refused before
// anything is hashed, except an account from one of its known-good
// addresses.
func TestSignInNetworkLimits(t *testing.T) {
	f := newFixture(t, storetest.SQLite(t))
	twoPartners(t, f)
	if _, err := signIn(f, "host", "jane@example.com", hostPW, "2001:db8:77:ffff::1"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		_, err := signIn(f, "host", fmt.Sprintf("nobody%d@example.com", i), "guess", fmt.Sprintf("2001:db8:77:%x::1", i))
		wantCode(t, err, core.EUNAUTHORIZED)
	}
	gate := f.svc.PasswordGate()
	runs := gate.Runs()
	if _, err := signIn(f, "host", "bob@example.org", "Maple-Secret-9!", "2001:db8:77:4000::1"); !errors.Is(err, core.ErrTooManySignIns) {
		t.Fatalf("the 201st attempt from the /48: %v", err)
	}
	if gate.Runs() != runs {
		t.Fatal("a refused attempt hashed a password")
	}
	if _, err := signIn(f, "host", "jane@example.com", hostPW, "2001:db8:77:ffff::2"); err != nil {
		t.Fatalf("jane from her known-good /64 inside the refused /48: %v", err)
	}
	if _, err := signIn(f, "host", "bob@example.org", "Maple-Secret-9!", "2001:db8:78::1"); err != nil {
		t.Fatalf("the next /48: %v", err)
	}
	// IPv4: the /24.
	for i := 0; i < 200; i++ {
		signIn(f, "host", fmt.Sprintf("v4-%d@example.com", i), "guess", fmt.Sprintf("198.51.100.%d", i+1))
	}
	if _, err := signIn(f, "host", "bob@example.org", "Maple-Secret-9!", "198.51.100.251"); !errors.Is(err, core.ErrTooManySignIns) {
		t.Fatalf("an address in a /24 with 200 failures: %v", err)
	}
	f.advance(16 * time.Minute)
	if _, err := signIn(f, "host", "bob@example.org", "Maple-Secret-9!", "198.51.100.251"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// Follow-up of issue 16 (red team, finding 6): with a stolen password, the
// second factor cannot be guessed by spreading codes over fresh addresses.
// After five wrong codes in a quarter of an hour, codes for the account are
// taken only from its known-good addresses: the right code from a new /64
// is refused with exactly the answer of a wrong password, and the owner at
// her known-good address still signs in.
func TestConsoleCodeGuessesLimitedPerAccount(t *testing.T) {
	f := newFixture(t, storetest.SQLite(t))
	ctx := context.Background()
	u, err := f.svc.CreateConsoleUser(ctx, core.Operator(), 0, "root@palisade.example", "0perator-Secret")
	if err != nil {
		t.Fatal(err)
	}
	sec, _ := core.NewTOTPSecret("Palisade", u.Email)
	if err := f.svc.EnableTOTP(ctx, u.ID, sec, core.TOTPCode(sec, f.svc.Now())); err != nil {
		t.Fatal(err)
	}
	login := func(pw, code, addr string) error {
		_, err := f.svc.ConsoleLogin(ctx, core.ConsoleSignIn{Email: "root@palisade.example", Password: pw, Code: code, Addr: mustAddr(addr)})
		return err
	}
	f.advance(30 * time.Second)
	if err := login("0perator-Secret", core.TOTPCode(sec, f.svc.Now()), "192.0.2.1"); err != nil {
		t.Fatalf("the owner at home: %v", err)
	}
	wrongPW := login("Wrong-Passw0rd", "123456", "192.0.2.99")
	wantCode(t, wrongPW, core.EUNAUTHORIZED)
	same := func(what string, err error) {
		t.Helper()
		if core.ErrorCode(err) != core.ErrorCode(wrongPW) || core.ErrorMessage(err) != core.ErrorMessage(wrongPW) {
			t.Fatalf("%s: %v; a wrong password: %v", what, err, wrongPW)
		}
	}
	// The thief has the password: five wrong codes, each from a fresh /64.
	for i := 0; i < 5; i++ {
		same(fmt.Sprintf("wrong code %d", i+1), login("0perator-Secret", "000000", fmt.Sprintf("2001:db8:66:%x::1", i)))
	}
	// Now even the right code from a fresh /64 is refused, as a wrong
	// password is.
	f.advance(30 * time.Second)
	same("the right code from a fresh /64", login("0perator-Secret", core.TOTPCode(sec, f.svc.Now()), "2001:db8:66:100::1"))
	for i := 0; i < 25; i++ {
		same("another code", login("0perator-Secret", fmt.Sprintf("%06d", i), fmt.Sprintf("2001:db8:66:%x::1", 0x200+i)))
	}
	// The owner at her known-good address still gets in.
	if err := login("0perator-Secret", core.TOTPCode(sec, f.svc.Now()), "192.0.2.1"); err != nil {
		t.Fatalf("the owner at her known-good address: %v", err)
	}
	// After the window, the right code works from a new address again.
	f.advance(16 * time.Minute)
	if err := login("0perator-Secret", core.TOTPCode(sec, f.svc.Now()), "203.0.113.8"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// Follow-up of issue 16 (red team, finding 7): an unscoped sign-in checks
// the password against each account of the email (at most four) and
// succeeds when exactly one matches. So a partner who registers someone
// else's customer's email learns nothing from signing in unscoped, and does
// not break that customer's unscoped sign-in.
func TestUnscopedSignInChecksEachAccount(t *testing.T) {
	f := newFixture(t, storetest.SQLite(t))
	host, other, janeHost, janeOther := twoPartners(t, f)
	ctx := context.Background()
	// Jane at two hosts: each password opens its own account.
	if a, err := signIn(f, "", "jane@example.com", hostPW, "192.0.2.1"); err != nil || a.ID != janeHost.ID {
		t.Fatalf("unscoped with the host's password: %+v %v", a, err)
	}
	if a, err := signIn(f, "", " Jane@example.com", otherPW, "192.0.2.1"); err != nil || a.ID != janeOther.ID {
		t.Fatalf("unscoped with the other's password: %+v %v", a, err)
	}
	_, err := signIn(f, "", "jane@example.com", "Wrong-Passw0rd", "192.0.2.2")
	_, unknown := signIn(f, "", "nobody@example.com", "Wrong-Passw0rd", "192.0.2.2")
	if core.ErrorCode(err) != core.EUNAUTHORIZED || core.ErrorMessage(err) != core.ErrorMessage(unknown) {
		t.Fatalf("a wrong password: %v; an unknown email: %v", err, unknown)
	}
	// Carol is the host's customer. The other partner registers her email
	// with a password of its own and signs in unscoped: it gets its own
	// account, exactly as if nobody else had the email.
	mk := func(c core.Caller, pw, domain string) core.Subaccount {
		a, _, err := f.svc.ProvisionAccount(ctx, c, core.Provision{Account: core.SubaccountCreate{Email: "carol@example.net"}, Password: pw, Domain: domain, Plan: "10k"})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	carolHost := mk(host, "Tulip-Host-Passw0rd", "carol.example.net")
	carolOther := mk(other, "Zebra-By-Other-9", "probe.example.org")
	if a, err := signIn(f, "", "carol@example.net", "Zebra-By-Other-9", "198.51.100.1"); err != nil || a.ID != carolOther.ID {
		t.Fatalf("the other partner's probe: %+v %v", a, err)
	}
	// Carol's unscoped sign-in still works.
	if a, err := signIn(f, "", "carol@example.net", "Tulip-Host-Passw0rd", "192.0.2.3"); err != nil || a.ID != carolHost.ID {
		t.Fatalf("carol at the host, unscoped: %+v %v", a, err)
	}
	// One password that opens two accounts is ambiguous: 401 naming /api/p/.
	mkSame := func(c core.Caller, domain string) {
		if _, _, err := f.svc.ProvisionAccount(ctx, c, core.Provision{Account: core.SubaccountCreate{Email: "dan@example.org"}, Password: "Same-Passw0rd-1", Domain: domain, Plan: "10k"}); err != nil {
			t.Fatal(err)
		}
	}
	mkSame(host, "dan.example.org")
	mkSame(other, "dan2.example.org")
	_, err = signIn(f, "", "dan@example.org", "Same-Passw0rd-1", "192.0.2.4")
	if core.ErrorCode(err) != core.EUNAUTHORIZED || !strings.Contains(core.ErrorMessage(err), "/api/p/") {
		t.Fatalf("one password for two accounts: %v", err)
	}
	if a, err := signIn(f, "other", "dan@example.org", "Same-Passw0rd-1", "192.0.2.4"); err != nil || a.PartnerID != other.PartnerID {
		t.Fatalf("scoped: %+v %v", a, err)
	}
}
