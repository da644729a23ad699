package web_test

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/testenv"
)

var alertRe = regexp.MustCompile(`<p class="error" role="alert">([^<]*)</p>`)

// Issue 16 item 18: with two-factor sign-in on, a right password without
// the code (or with a wrong one) gets exactly the answer of a wrong
// password; the form asks everyone for the code.
func TestConsoleLoginDoesNotConfirmThePassword(t *testing.T) {
	e := testenv.New(t)
	ctx := context.Background()
	u, err := e.Service.CreateConsoleUser(ctx, core.Operator(), e.Caller.PartnerID, "ops@acme.example", "S3cure-Passw0rd")
	if err != nil {
		t.Fatal(err)
	}
	sec, _ := core.NewTOTPSecret("Acme", u.Email)
	if err := e.Service.EnableTOTP(ctx, u.ID, sec, core.TOTPCode(sec, e.Clock.Now())); err != nil {
		t.Fatal(err)
	}
	if _, page, _ := newBrowser(t, e.URL).get("/console/login"); !strings.Contains(page, `name="code"`) {
		t.Fatal("the sign-in form does not ask everyone for the code")
	}
	type answer struct {
		status int
		alert  string
		code   bool
	}
	try := func(pw, code string) answer {
		st, page := login(t, newBrowser(t, e.URL), "ops@acme.example", pw, code)
		m := alertRe.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no error shown: %d %s", st, page)
		}
		return answer{st, m[1], strings.Contains(page, `name="code"`)}
	}
	wrong := try("Wrong-Passw0rd", "")
	for name, got := range map[string]answer{"no code": try("S3cure-Passw0rd", ""), "wrong code": try("S3cure-Passw0rd", "000000"), "wrong password with a code": try("Wrong-Passw0rd", "123456")} {
		if got != wrong {
			t.Fatalf("right password, %s: %+v; wrong password: %+v", name, got, wrong)
		}
	}
	if wrong.status != 401 {
		t.Fatalf("status %d", wrong.status)
	}
}

// Issue 16 item 6(b): a flood of console sign-ins with 15 KB "emails"
// leaves nothing large behind: the limiter keeps no entry per attempt and
// no long key, and the heap after the flood is about what it was.
func TestConsoleLoginFloodBounded(t *testing.T) {
	e := testenv.New(t)
	// A burst of ordinary unknown emails at once: the hashes they cost run
	// in the gate's slots, never more at once.
	var burst sync.WaitGroup
	for i := 0; i < 40; i++ {
		burst.Add(1)
		go func() {
			defer burst.Done()
			newBrowser(t, e.URL).post("/console/login", url.Values{"email": {fmt.Sprintf("nobody%d@example.com", i)}, "password": {"x"}})
		}()
	}
	burst.Wait()
	if g := e.Service.PasswordGate(); g.Peak() > g.Cap() {
		t.Fatalf("%d password hashes at once; the gate has %d slots", g.Peak(), g.Cap())
	} else if g.Peak() == 0 {
		t.Fatal("the burst hashed nothing")
	}
	long := strings.Repeat("a", 15<<10)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	jobs := make(chan int)
	var mu sync.Mutex
	statuses := map[int]int{}
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			br := newBrowser(t, e.URL)
			for i := range jobs {
				st, _ := br.post("/console/login", url.Values{"email": {fmt.Sprintf("%s%d@example.com", long, i)}, "password": {"x"}})
				mu.Lock()
				statuses[st]++
				mu.Unlock()
			}
		}()
	}
	const n = 3000
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if statuses[401]+statuses[429] != n || statuses[429] == 0 {
		t.Fatalf("statuses %v", statuses)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if held := int64(after.HeapAlloc) - int64(before.HeapAlloc); held > 16<<20 {
		t.Fatalf("%d sign-ins with 15 KB emails left %d MiB on the heap", n, held>>20)
	}
	if got := e.Service.SignInEntries(); got > 50 {
		t.Fatalf("the sign-in limiters hold %d entries after %d attempts from one address", got, n)
	}
}
