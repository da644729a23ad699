package core_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/guard"
	"github.com/palisadehq/palisade/internal/secret"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

const hostPW, otherPW = "Tulip-S3cret-pw", "Orchid-S3cret-pw"

// twoPartners provisions jane@example.com at partners "host" and "other"
// (different passwords) and bob@example.org at "host" only.
func twoPartners(t *testing.T, f *fixture) (host, other core.Caller, janeHost, janeOther core.Subaccount) {
	t.Helper()
	ctx := context.Background()
	host, other = f.partner(t, "host", 100000), f.partner(t, "other", 100000)
	mk := func(c core.Caller, email, pw, domain string) core.Subaccount {
		a, _, err := f.svc.ProvisionAccount(ctx, c, core.Provision{Account: core.SubaccountCreate{Email: email}, Password: pw, Domain: domain, Plan: "10k"})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	janeHost = mk(host, "jane@example.com", hostPW, "shop.example.com")
	janeOther = mk(other, "jane@example.com", otherPW, "jane.example.net")
	mk(host, "bob@example.org", "Maple-Secret-9!", "bob.example.org")
	return
}

func signIn(f *fixture, partner, email, pw, addr string) (core.Subaccount, error) {
	return f.svc.AuthenticateCustomer(context.Background(), core.CustomerSignIn{Partner: partner, Email: email, Password: pw, Addr: netip.MustParseAddr(addr)})
}

// Issue 16 item 8: the limit is on the normalised email, per partner, per
// address; a lockout never keeps the customer out.
func TestCustomerSignInLimits(t *testing.T) {
	f := newFixture(t, storetest.SQLite(t))
	_, _, janeHost, janeOther := twoPartners(t, f)
	// Jane signed in from home before the attack.
	if a, err := signIn(f, "host", "jane@example.com", hostPW, "192.0.2.10"); err != nil || a.ID != janeHost.ID {
		t.Fatalf("jane at home: %v", err)
	}
	// An attacker spells the email every way: it is one account, one count.
	variants := []string{"jane@example.com", " jane@example.com", "JANE@Example.com ", "\tJane@example.com"}
	tries := 0
	for i := 0; i < 40; i++ {
		_, err := signIn(f, "host", variants[i%len(variants)], fmt.Sprintf("guess-%d", i), "198.51.100.7")
		if core.ErrorCode(err) == core.ERATELIMITED {
			if !errors.Is(err, core.ErrTooManySignIns) {
				t.Fatalf("refusal without its sentinel: %v", err)
			}
			break
		}
		wantCode(t, err, core.EUNAUTHORIZED)
		tries++
	}
	if tries != 10 {
		t.Fatalf("the attacker got %d guesses; want 10 whatever the spelling", tries)
	}
	// Even the right password is refused from the attacker's address now.
	if _, err := signIn(f, "host", " Jane@example.com", hostPW, "198.51.100.7"); core.ErrorCode(err) != core.ERATELIMITED {
		t.Fatalf("a locked account, failing address: %v", err)
	}
	// Jane still gets in: from her known-good address, and from a clean one.
	if _, err := signIn(f, "host", "jane@example.com", hostPW, "192.0.2.10"); err != nil {
		t.Fatalf("jane at home, account under attack: %v", err)
	}
	if _, err := signIn(f, "host", "jane@example.com", hostPW, "203.0.113.5"); err != nil {
		t.Fatalf("jane from a clean address, account under attack: %v", err)
	}
	// A wrong guess from a fresh address is one guess, then that address
	// is refused too.
	if _, err := signIn(f, "host", "jane@example.com", "guess-x", "203.0.113.77"); core.ErrorCode(err) != core.EUNAUTHORIZED {
		t.Fatalf("fresh address: %v", err)
	}
	if _, err := signIn(f, "host", "jane@example.com", "guess-y", "203.0.113.77"); core.ErrorCode(err) != core.ERATELIMITED {
		t.Fatalf("second guess from a fresh address at a locked account: %v", err)
	}
	// The other partner's Jane is another account, not locked.
	if a, err := signIn(f, "other", "jane@example.com", otherPW, "198.51.100.7"); err != nil || a.ID != janeOther.ID {
		t.Fatalf("the other partner's jane: %v", err)
	}
	// Per address, checked before any hashing: twenty failures on any
	// accounts (IPv6: the /64) stop the address.
	gate := f.svc.PasswordGate()
	for i := 0; i < 20; i++ {
		signIn(f, "host", fmt.Sprintf("nobody%d@example.com", i), "x", fmt.Sprintf("2001:db8:1:2::%x", i+1))
	}
	runs := gate.Runs()
	if _, err := signIn(f, "host", "bob@example.org", "Maple-Secret-9!", "2001:db8:1:2::ffff"); core.ErrorCode(err) != core.ERATELIMITED {
		t.Fatalf("21st attempt from the /64: %v", err)
	}
	if gate.Runs() != runs {
		t.Fatal("a refused attempt hashed a password")
	}
	f.advance(16 * time.Minute)
	if _, err := signIn(f, "host", "bob@example.org", "Maple-Secret-9!", "2001:db8:1:2::ffff"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// Issue 16 item 9: a customer signs in within a partner's scope; an
// unscoped sign-in opens the one account whose password matches.
func TestCustomerSignInScope(t *testing.T) {
	f := newFixture(t, storetest.SQLite(t))
	_, _, janeHost, janeOther := twoPartners(t, f)
	if a, err := signIn(f, "host", "jane@example.com", hostPW, "192.0.2.1"); err != nil || a.ID != janeHost.ID {
		t.Fatalf("host scope: %+v %v", a, err)
	}
	if a, err := signIn(f, "other", "jane@example.com", otherPW, "192.0.2.1"); err != nil || a.ID != janeOther.ID {
		t.Fatalf("other scope: %+v %v", a, err)
	}
	// The host's password does not open the other partner's account.
	if _, err := signIn(f, "other", "jane@example.com", hostPW, "192.0.2.2"); core.ErrorCode(err) != core.EUNAUTHORIZED {
		t.Fatalf("cross-scope password: %v", err)
	}
	// Unscoped: jane's password opens the one account it belongs to
	// (TestUnscopedSignInChecksEachAccount); a wrong one names /api/p/.
	for pw, want := range map[string]int64{hostPW: janeHost.ID, otherPW: janeOther.ID} {
		if a, err := signIn(f, "", "jane@example.com", pw, "192.0.2.3"); err != nil || a.ID != want {
			t.Fatalf("unscoped, email at two partners: %+v %v", a, err)
		}
	}
	if _, err := signIn(f, "", "jane@example.com", "Wrong-Passw0rd", "192.0.2.3"); core.ErrorCode(err) != core.EUNAUTHORIZED || !strings.Contains(core.ErrorMessage(err), "/api/p/") {
		t.Fatalf("unscoped, wrong password: %v", err)
	}
	if _, err := signIn(f, "", "bob@example.org", "Maple-Secret-9!", "192.0.2.4"); err != nil {
		t.Fatalf("unscoped, one account: %v", err)
	}
	// An unknown partner answers like a wrong password.
	_, err1 := signIn(f, "nobody", "jane@example.com", hostPW, "192.0.2.5")
	_, err2 := signIn(f, "host", "jane@example.com", "wrong", "192.0.2.5")
	if core.ErrorCode(err1) != core.EUNAUTHORIZED || core.ErrorMessage(err1) != core.ErrorMessage(err2) {
		t.Fatalf("unknown partner %v; wrong password %v", err1, err2)
	}
}

// Issue 16 item 6(a): password hashing never runs more than the gate's
// slots at once, whatever the flood; the rest wait briefly or are refused
// with rate_limited. Heap stays bounded.
func TestPasswordHashingGate(t *testing.T) {
	db := storetest.SQLite(t)
	box, _ := secret.NewBox(make([]byte, secret.KeySize), nil)
	gate := guard.NewGate(2, 4, 2*time.Second)
	clock := testclock.New(t)
	svc := core.NewService(db, box, core.Config{PublicURL: "https://palisade.test"}, core.WithClock(clock.Now), core.WithPasswordGate(gate))
	if _, err := svc.CreateConsoleUser(context.Background(), core.Operator(), 0, "root@palisade.example", "0perator-Secret"); err != nil {
		t.Fatal(err)
	}
	base := heapNow()
	peak := watchHeap(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string]int{}
	for i := 0; i < 48; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr := netip.AddrFrom4([4]byte{10, 1, byte(i / 250), byte(i%250 + 1)})
			var err error
			if i%2 == 0 {
				_, err = svc.AuthenticateCustomer(context.Background(), core.CustomerSignIn{Email: fmt.Sprintf("u%d@example.com", i), Password: "x", Addr: addr})
			} else {
				_, err = svc.ConsoleLogin(context.Background(), core.ConsoleSignIn{Email: fmt.Sprintf("u%d@example.com", i), Password: "x", Addr: addr})
			}
			if core.ErrorCode(err) == core.ERATELIMITED && !errors.Is(err, core.ErrPasswordChecksBusy) {
				t.Errorf("rate_limited without the busy sentinel: %v", err)
			}
			mu.Lock()
			codes[core.ErrorCode(err)]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if gate.Peak() > gate.Cap() {
		t.Fatalf("%d hashes at once; the gate has %d slots", gate.Peak(), gate.Cap())
	}
	if codes[core.EUNAUTHORIZED]+codes[core.ERATELIMITED] != 48 || codes[core.EUNAUTHORIZED] < 2 {
		t.Fatalf("answers %v", codes)
	}
	if grew := peak() - base; grew > 160<<20 {
		t.Fatalf("heap grew by %d MiB during the flood; two 19 MiB hashes at once should need far less", grew>>20)
	}
}

func heapNow() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// watchHeap samples the heap until the test ends; the function returns
// the highest HeapAlloc seen so far.
func watchHeap(t *testing.T) func() uint64 {
	var mu sync.Mutex
	var peak uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			mu.Lock()
			peak = max(peak, m.HeapAlloc)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { close(done); <-stopped })
	return func() uint64 {
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// Issue 16 item 10: a password change ends the customer's User API tokens,
// by whichever path (GP and XML reset through SetSubaccountPassword or
// SetWebsitePassword; GP and XML create through ProvisionAccount).
func TestPasswordChangeRevokesTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		host, _, jane, _ := twoPartners(t, f)
		bob, err := f.svc.Subaccounts(ctx, host, core.SubaccountFilter{Email: "bob@example.org"})
		if err != nil || len(bob) != 1 {
			t.Fatal(err)
		}
		n := 0
		issue := func(a core.Subaccount) (access, refresh string) {
			n++
			now := f.svc.Now()
			access, refresh = fmt.Sprintf("access-%d", n), fmt.Sprintf("refresh-%d", n)
			if err := f.svc.RecordUserAPITokens(ctx,
				core.UserAPIToken{Hash: secret.Hash(access), PartnerID: a.PartnerID, SubaccountID: a.ID, Kind: "access", CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute)},
				core.UserAPIToken{Hash: secret.Hash(refresh), PartnerID: a.PartnerID, SubaccountID: a.ID, Kind: "refresh", CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)}); err != nil {
				t.Fatal(err)
			}
			return
		}
		live := func(tok string) bool {
			_, ok, err := f.svc.UserAPITokenLive(ctx, secret.Hash(tok))
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		for name, change := range map[string]func() error{
			"SetSubaccountPassword (XML setPassword, GP)": func() error { return f.svc.SetSubaccountPassword(ctx, host, jane.ID, "New-Passw0rd-one") },
			"SetWebsitePassword (GP)":                     func() error { return f.svc.SetWebsitePassword(ctx, host, "shop.example.com", "New-Passw0rd-two") },
			"ProvisionAccount (GP and XML create)": func() error {
				_, _, err := f.svc.ProvisionAccount(ctx, host, core.Provision{Account: core.SubaccountCreate{Email: "jane@example.com"}, Password: "New-Passw0rd-three"})
				return err
			},
		} {
			access, refresh := issue(jane)
			bobAccess, _ := issue(bob[0])
			if !live(access) || !live(refresh) {
				t.Fatalf("%s: tokens not live before the change", name)
			}
			if err := change(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if live(access) || live(refresh) {
				t.Fatalf("%s: a token survived the password change", name)
			}
			if ok, err := f.svc.RotateUserAPITokens(ctx, secret.Hash(refresh)); err != nil || ok {
				t.Fatalf("%s: the refresh token still rotates (%v)", name, err)
			}
			if !live(bobAccess) {
				t.Fatalf("%s: another customer's token was revoked", name)
			}
		}
	})
}

// Issue 16 item 18: TOTP secrets are sealed at rest (new ones at once, old
// plain ones at start-up), and a right password without the right code is
// answered exactly like a wrong password.
func TestConsoleTOTPSealedAndNoOracle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		u, err := f.svc.CreateConsoleUser(ctx, core.Operator(), 0, "root@palisade.example", "0perator-Secret")
		if err != nil {
			t.Fatal(err)
		}
		sec, _ := core.NewTOTPSecret("Palisade", u.Email)
		if err := f.svc.EnableTOTP(ctx, u.ID, sec, core.TOTPCode(sec, f.svc.Now())); err != nil {
			t.Fatal(err)
		}
		stored := func() string {
			rows, err := storetest.Query(t, db, "SELECT totp_secret FROM console_users WHERE id = $1", u.ID)
			if err != nil || len(rows) != 1 {
				t.Fatal(rows, err)
			}
			return rows[0]
		}
		if s := stored(); !strings.HasPrefix(s, "v1:") || strings.Contains(s, sec) {
			t.Fatalf("TOTP secret stored as %q", s)
		}
		login := func(pw, code string) error {
			_, err := f.svc.ConsoleLogin(ctx, core.ConsoleSignIn{Email: "root@palisade.example", Password: pw, Code: code, Addr: mustAddr("192.0.2.1")})
			return err
		}
		f.advance(30 * time.Second)
		wrongPW, noCode, wrongCode := login("wrong", ""), login("0perator-Secret", ""), login("0perator-Secret", "000000")
		for _, err := range []error{noCode, wrongCode} {
			if core.ErrorCode(err) != core.ErrorCode(wrongPW) || core.ErrorMessage(err) != core.ErrorMessage(wrongPW) {
				t.Fatalf("right password without the code: %v; wrong password: %v", err, wrongPW)
			}
		}
		wantCode(t, wrongPW, core.EUNAUTHORIZED)
		if err := login("0perator-Secret", core.TOTPCode(sec, f.svc.Now())); err != nil {
			t.Fatalf("with the code: %v", err)
		}
		// A secret stored in plain text before this change is sealed at
		// start-up and still works.
		if err := db.Update(ctx, func(tx core.Tx) error { return tx.SetConsoleUserTOTP(ctx, u.ID, sec, 0) }); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.CheckMasterKey(ctx); err != nil {
			t.Fatal(err)
		}
		if s := stored(); !strings.HasPrefix(s, "v1:") || strings.Contains(s, sec) {
			t.Fatalf("a plain secret was not sealed at start-up: %q", s)
		}
		f.advance(30 * time.Second)
		if err := login("0perator-Secret", core.TOTPCode(sec, f.svc.Now())); err != nil {
			t.Fatalf("with the code after sealing: %v", err)
		}
	})
}
