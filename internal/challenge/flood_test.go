package challenge

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/i18n"
	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

func heapNow() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestChallengeEndpointsFlood: the unauthenticated /_palisade/ endpoints
// keep no state per request but one entry per valid solution, bounded by
// the spent set's cap. 40,000 challenges, 40,000 junk posts (oversized,
// forged, malformed) and 20,000 valid solves from as many addresses leave
// the spent set at its cap and the heap within a few MB.
func TestChallengeEndpointsFlood(t *testing.T) {
	keys, _ := NewKeys(NewKey())
	clk := &clock{t: testclock.Now(t)}
	spent := NewMemorySpentCap(clk.now, 5000)
	is := NewIssuer(keys, spent, clk.now)
	wb, _ := testWeb(t, is)
	mux := http.NewServeMux()
	wb.Register(mux)
	const ua = "Mozilla/5.0 Flood"
	do := func(method, target, ip, ctype, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		r.Header.Set("User-Agent", ua)
		r.Header.Set("X-Test-IP", ip)
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w
	}
	ipOf := func(i int) string {
		if i%2 == 0 {
			return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String()
		}
		return fmt.Sprintf("2001:db8:%x:%x::1", i>>16, i&0xffff)
	}
	form := "application/x-www-form-urlencoded"
	big := strings.Repeat("a", 64<<10)
	// Warm up (templates, pools, the message catalogue, loaded once per
	// process by the first page) before measuring.
	i18n.T("en", "ch.title")
	for i := range 200 {
		do("GET", Prefix+"challenge", ipOf(i), "", "")
	}
	before := heapNow()
	for i := range 40_000 {
		ip := ipOf(i)
		if w := do("GET", Prefix+"challenge", ip, "", ""); w.Code != 200 {
			t.Fatalf("challenge: %d", w.Code)
		}
		switch i % 4 {
		case 0:
			if w := do("POST", Prefix+"verify", ip, form, "token="+big+"&counter=1"); w.Code != 400 && w.Code != 403 {
				t.Fatalf("oversized verify: %d", w.Code)
			}
		case 1:
			if w := do("POST", Prefix+"token", ip, "application/json", `{"token":"v1.7.x.y.8.9999999999.n.AAAA","counter":"1"}`); w.Code != 403 {
				t.Fatalf("forged token: %d", w.Code)
			}
		case 2:
			if w := do("POST", Prefix+"token", ip, "application/json", `{"token":"`+big); w.Code != 400 && w.Code != 403 {
				t.Fatalf("oversized token: %d", w.Code)
			}
		case 3:
			if w := do("GET", Prefix+"nojs?token="+url.QueryEscape(big[:600])+"&return=//evil", ip, "", ""); w.Code != 403 {
				t.Fatalf("nojs: %d", w.Code)
			}
		}
	}
	for i := range 20_000 {
		ip := ipOf(i)
		var ch struct {
			Token      string `json:"token"`
			Difficulty int    `json:"difficulty"`
		}
		if err := json.Unmarshal(do("GET", Prefix+"challenge", ip, "", "").Body.Bytes(), &ch); err != nil {
			t.Fatal(err)
		}
		counter := solve(t, Challenge{Token: ch.Token, Difficulty: ch.Difficulty})
		body := fmt.Sprintf(`{"token":%q,"counter":%q}`, ch.Token, counter)
		if w := do("POST", Prefix+"token", ip, "application/json", body); w.Code != 200 {
			t.Fatalf("solve %d: %d %s", i, w.Code, w.Body)
		}
		if i%100 == 0 {
			if w := do("POST", Prefix+"token", ip, "application/json", body); w.Code != 403 || !strings.Contains(w.Body.String(), "already solved") {
				t.Fatalf("replay %d: %d %s", i, w.Code, w.Body)
			}
		}
		if i%1000 == 0 {
			clk.t = clk.t.Add(time.Second)
		}
	}
	if n := spent.Len(); n > 5000 {
		t.Fatalf("spent set holds %d entries past a cap of 5000", n)
	}
	grown := int64(heapNow()) - int64(before)
	t.Logf("heap grew by %d bytes; spent set %d entries", grown, spent.Len())
	if grown > 4<<20 {
		t.Fatalf("heap grew by %d bytes", grown)
	}
}
