package userapi_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/api/gp"
	"github.com/palisadehq/palisade/internal/core"
)

// Issue 16 item 8: the limit counts the normalised email, so a leading
// space or capital letters give an attacker no fresh tries.
func TestSignInLimitNormalisesTheEmail(t *testing.T) {
	e := newEnv(t)
	spellings := []string{"bob@example.org", " bob@example.org", "BOB@example.org", "Bob@Example.org ", "\tbob@example.org"}
	for i := 0; i < 10; i++ {
		e.do(t, "GET", "/api/me", basic(spellings[i%len(spellings)], "guess"+fmt.Sprint(i)), "")
	}
	for _, s := range spellings {
		wantErr(t, e.do(t, "GET", "/api/me", basic(s, bobPW), ""), 429, "too many failed sign-ins")
		wantErr(t, e.do(t, "POST", "/api/login", "", url.Values{"username": {s}, "password": {bobPW}}.Encode()), 429, "too many failed sign-ins")
	}
	// Another customer of the same address is not locked out.
	if a := e.do(t, "GET", "/api/me", basic("jane@example.com", janePW), ""); a.status != 200 {
		t.Fatalf("jane: %d %s", a.status, a.raw)
	}
}

// otherPartner adds a partner "other" with its own jane@example.com.
func (e *env) otherPartner(t *testing.T, pw string) core.Subaccount {
	t.Helper()
	ctx := context.Background()
	p, key, err := e.Service.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.TopUp(ctx, core.Operator(), p.ID, 100000, ""); err != nil {
		t.Fatal(err)
	}
	c, err := e.Service.Authenticate(ctx, key, netip.MustParseAddr("127.0.0.1"), core.ProtocolV1)
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := e.Service.ProvisionAccount(ctx, c, core.Provision{Account: core.SubaccountCreate{Email: "jane@example.com"}, Password: pw, Domain: "jane.example.net", Plan: "10k"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Issue 16 item 9: the same email at two partners is two accounts; each
// partner's scope (/api/p/<partner>/…) signs in its own, and an unscoped
// request opens the one account its password matches, never the lower id.
func TestPartnerScopes(t *testing.T) {
	e := newEnv(t)
	const otherPW = "Orchid-S3cret-pw"
	other := e.otherPartner(t, otherPW)
	me := func(path, auth string) map[string]any {
		t.Helper()
		a := e.do(t, "GET", path, auth, "")
		if a.status != 200 {
			t.Fatalf("GET %s: %d %s", path, a.status, a.raw)
		}
		return a.body["data"].(map[string]any)
	}
	if d := me("/api/p/host/me", basic("jane@example.com", janePW)); d["id"] != float64(e.jane.ID) {
		t.Fatalf("host scope: %v", d)
	}
	if d := me("/api/p/other/me", basic("jane@example.com", otherPW)); d["id"] != float64(other.ID) {
		t.Fatalf("other scope: %v", d)
	}
	if a := e.do(t, "GET", "/api/p/other/websites", basic("jane@example.com", otherPW), ""); !strings.Contains(a.raw, "jane.example.net") || strings.Contains(a.raw, "shop.example.com") {
		t.Fatalf("other's websites: %s", a.raw)
	}
	// Within a scope, the other partner's password is just wrong.
	wantErr(t, e.do(t, "GET", "/api/p/other/me", basic("jane@example.com", janePW), ""), 401, "wrong username or password")
	// Unscoped, each password opens the one account it belongs to (the
	// red team's finding 7: "other" registering the host's customer's
	// email learns nothing and breaks nothing); a wrong one is answered
	// with the way to scope it.
	if d := me("/api/me", basic("jane@example.com", otherPW)); d["id"] != float64(other.ID) {
		t.Fatalf("unscoped, the other partner's password: %v", d)
	}
	if d := me("/api/me", basic("jane@example.com", janePW)); d["id"] != float64(e.jane.ID) {
		t.Fatalf("unscoped, the host's password: %v", d)
	}
	wantErr(t, e.do(t, "GET", "/api/me", basic("jane@example.com", "Wrong-Passw0rd-1"), ""), 401, "/api/p/")
	// An email with one account still works unscoped.
	me("/api/me", basic("bob@example.org", bobPW))
	// Tokens: signed in within a scope, usable there and unscoped (a token
	// names its partner), not in another partner's scope.
	a := e.do(t, "POST", "/api/p/other/login", "", url.Values{"username": {"jane@example.com"}, "password": {otherPW}}.Encode())
	if a.status != 200 {
		t.Fatalf("scoped login: %d %s", a.status, a.raw)
	}
	d := a.body["data"].(map[string]any)
	bearer := "Bearer " + d["access_token"].(string)
	if got := me("/api/p/other/me", bearer); got["id"] != float64(other.ID) {
		t.Fatalf("scoped token: %v", got)
	}
	if got := me("/api/me", bearer); got["id"] != float64(other.ID) {
		t.Fatalf("scoped token, unscoped path: %v", got)
	}
	wantErr(t, e.do(t, "GET", "/api/p/host/me", bearer, ""), 401, "not issued for this hosting provider")
	wantErr(t, e.do(t, "POST", "/api/p/host/token", "", "refresh_token="+d["refresh_token"].(string)), 401, "not issued for this hosting provider")
	if a := e.do(t, "POST", "/api/login", "", url.Values{"username": {"jane@example.com"}, "password": {janePW}}.Encode()); a.status != 200 {
		t.Fatalf("unscoped login, the host's password: %d %s", a.status, a.raw)
	}
	wantErr(t, e.do(t, "POST", "/api/login", "", url.Values{"username": {"jane@example.com"}, "password": {"Wrong-Passw0rd-1"}}.Encode()), 401, "/api/p/")
	// An unknown partner answers like a wrong password.
	wantErr(t, e.do(t, "GET", "/api/p/nobody/me", basic("jane@example.com", janePW), ""), 401, "wrong username or password")
	// No partner named.
	wantErr(t, e.do(t, "GET", "/api/p/", basic("jane@example.com", janePW), ""), 404, "name your hosting provider")
}

// Issue 16 item 10, through the User API: a password reset ends the
// customer's access and refresh tokens at once.
func TestPasswordResetEndsTokens(t *testing.T) {
	e := newEnv(t)
	access, refresh := e.login(t, "jane@example.com", janePW)
	if err := e.Service.SetSubaccountPassword(context.Background(), e.Caller, e.jane.ID, "Fresh-Passw0rd-1"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.do(t, "GET", "/api/me", "Bearer "+access, ""), 401, "revoked")
	wantErr(t, e.do(t, "POST", "/api/token", "", "refresh_token="+refresh), 401, "used or revoked")
	wantErr(t, e.do(t, "GET", "/api/me", basic("jane@example.com", janePW), ""), 401, "wrong username or password")
	if a := e.do(t, "GET", "/api/me", basic("jane@example.com", "Fresh-Passw0rd-1"), ""); a.status != 200 {
		t.Fatalf("new password: %d %s", a.status, a.raw)
	}
}

// Issue 16 item 6: a flood of sign-ins for unknown users (Basic and
// /api/login, long usernames included) keeps the heap bounded, never
// hashes more than the gate allows at once, and leaves the sign-in
// limiters small.
func TestSignInFloodBounded(t *testing.T) {
	e := newEnv(t)
	base := heapAfterGC()
	peak := heapPeak(t)
	var wg sync.WaitGroup
	long := strings.Repeat("x", 15<<10) + "@example.com"
	statuses := make(chan int, 200)
	for i := 0; i < 120; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := fmt.Sprintf("nobody%d@example.com", i)
			if i%3 == 0 {
				user = long + fmt.Sprint(i)
			}
			var a answer
			if i%2 == 0 {
				a = e.do(t, "GET", "/api/me", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":guess")), "")
			} else {
				a = e.do(t, "POST", "/api/login", "", url.Values{"username": {user}, "password": {"guess"}}.Encode())
			}
			statuses <- a.status
		}()
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != 401 && s != 429 {
			t.Fatalf("status %d in a flood of wrong sign-ins", s)
		}
	}
	if g := e.Service.PasswordGate(); g.Peak() > g.Cap() {
		t.Fatalf("%d password hashes at once; the gate has %d slots", g.Peak(), g.Cap())
	}
	if n := e.Service.SignInEntries(); n > 200 {
		t.Fatalf("the sign-in limiters hold %d entries after 120 attempts from one address", n)
	}
	// Each hash holds 19 MiB; allow twice that per slot (garbage not yet
	// collected) and 64 MiB besides. Without the gate, 120 at once is
	// over 2 GiB.
	if grew, bound := peak()-base, uint64(e.Service.PasswordGate().Cap())*38<<20+64<<20; grew > bound {
		t.Fatalf("heap grew by %d MiB during the flood (bound %d MiB)", grew>>20, bound>>20)
	}
	if held := int64(heapAfterGC()) - int64(base); held > 32<<20 {
		t.Fatalf("the flood left %d MiB on the heap", held>>20)
	}
}

func heapAfterGC() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// heapPeak samples HeapAlloc until the test ends; the function returns
// the highest value seen.
func heapPeak(t *testing.T) func() uint64 {
	var mu sync.Mutex
	var peak uint64
	done, stopped := make(chan struct{}), make(chan struct{})
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

// Issue 16 item 10, per protocol on the wire: GP passwordreset and XML
// passwordReset end the customer's User API tokens at once.
func TestPasswordChangeByProtocolEndsTokens(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.Service.AllowIP(ctx, core.Operator(), e.Caller.PartnerID, "127.0.0.0/8"); err != nil {
		t.Fatal(err)
	}
	site, err := e.Service.Website(ctx, e.Caller, "shop.example.com")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Uint64
	for name, change := range map[string]func(pw string) string{
		"GP passwordreset": func(pw string) string {
			ts := core.GPTimestamp(e.Clock.Now(), n.Add(1))
			f := url.Values{"domain": {"shop.example.com"}, "timestamp": {ts}, "hash": {core.GPHash(e.PartnerKey, "shop.example.com", ts)},
				"password": {gp.EncryptPassword(e.PartnerKey, pw, []byte("0123456789abcdef"))}}
			return post(t, e.URL+"/api/v1/passwordreset/", "application/x-www-form-urlencoded", f.Encode())
		},
		"XML passwordReset": func(pw string) string {
			doc := "<SiteLockOnlineRequest><authentication><user>host</user><password>" + e.PartnerKey + "</password></authentication>" +
				"<methodName>passwordReset</methodName><site_id>" + strconv.FormatInt(site.ID, 10) + "</site_id><password>" + pw + "</password></SiteLockOnlineRequest>"
			return post(t, e.URL+"/v1/partner", "application/xml", doc)
		},
	} {
		pw := "Orbit-Lantern-" + strconv.Itoa(int(n.Add(1)))
		access, refresh := e.login(t, "jane@example.com", janePW)
		janePW2 := pw
		if out := change(pw); !strings.Contains(out, "ok") && !strings.Contains(out, "success") {
			t.Fatalf("%s: %s", name, out)
		}
		if ok, _ := e.Service.CheckSubaccountPassword(ctx, e.Caller, e.jane.ID, janePW2); !ok {
			t.Fatalf("%s did not set the password", name)
		}
		wantErr(t, e.do(t, "GET", "/api/me", "Bearer "+access, ""), 401, "revoked")
		wantErr(t, e.do(t, "POST", "/api/token", "", "refresh_token="+refresh), 401, "used or revoked")
		// Back to the known password for the next protocol.
		if err := e.Service.SetSubaccountPassword(ctx, e.Caller, e.jane.ID, janePW); err != nil {
			t.Fatal(err)
		}
	}
}

func post(t *testing.T, u, ct, body string) string {
	t.Helper()
	resp, err := http.Post(u, ct, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, b)
}
