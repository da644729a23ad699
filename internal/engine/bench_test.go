package engine

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
)

// realisticPolicy: 20 custom rules, 5,000 CIDRs in the deny list, the full
// signature lists, and a rate limit.
func realisticPolicy(tb testing.TB) (*Engine, *Policy) {
	e, _ := newTestEngine(tb, nil)
	st := Settings{RateLimits: []RateLimit{{Name: "flood", Requests: 1_000_000, Period: "1s"}}}
	for i := 0; i < 20; i++ {
		st.Rules = append(st.Rules, Rule{Name: fmt.Sprintf("rule %d", i), Action: "deny", Conditions: []Condition{
			{Field: "path", Op: "starts_with", Value: fmt.Sprintf("/private-%d/", i)},
			{Field: "user_agent", Op: "contains", Value: fmt.Sprintf("evil-%d", i)},
		}})
	}
	for i := 0; i < 5000; i++ {
		st.Deny = append(st.Deny, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24).String())
	}
	return e, load(tb, e, st)
}

// benchRequests are BenchmarkDecide's requests, as integrations pass them
// (the user agent in the headers too): a browser's clean GET with Chrome's
// own header set (granted; the firewall's prefilter passes it), curl
// (challenged), GPTBot from OpenAI's addresses and ClaudeBot (denied), and
// a deny-listed address. None of them runs CRS: BenchmarkDecideCRS does.
func benchRequests(tb testing.TB) map[string]*Request {
	gptUA := "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)"
	return map[string]*Request{
		"browser":   req("198.51.100.7", chromeUA, chromeHeaders),
		"curl":      req("198.51.100.7", "", toolHeaders("curl/8.5.0")),
		"gptbot":    req(firstPrefixAddr(tb, "openai-gptbot"), "", toolHeaders(gptUA)),
		"claudebot": req("198.51.100.7", "", toolHeaders(claudeUA)),
		"denied":    req("10.3.4.5", chromeUA, chromeHeaders),
	}
}

func BenchmarkDecide(b *testing.B) {
	e, p := realisticPolicy(b)
	cases := benchRequests(b)
	for _, name := range []string{"browser", "curl", "gptbot", "claudebot", "denied"} {
		r := cases[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e.Decide(p, r)
			}
		})
	}
}

// BenchmarkDecideCRS: granted browser requests the firewall's prefilter
// does not pass, so CRS runs in full: a search with an apostrophe (clean,
// granted) and an SQL injection (denied by the firewall).
func BenchmarkDecideCRS(b *testing.B) {
	e, p := realisticPolicy(b)
	for _, c := range []struct{ name, query string }{
		{"clean", "q=o%27brien+shoes"},
		{"sqli", "id=1%27%20OR%20%271%27=%271"},
	} {
		r := req("198.51.100.7", chromeUA, chromeHeaders, func(r *Request) { r.Path, r.Query = "/search", c.query })
		want := SourceCategory
		if c.name == "sqli" {
			want = SourceWAF
		}
		if v := e.Decide(p, r); v.Source != want || v.WAF == nil && want == SourceWAF {
			b.Fatalf("%s: %s source %q; want decided by %s", c.name, v, v.Source, want)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e.Decide(p, r)
			}
		})
	}
}

// BenchmarkDecideParallel spreads browser requests over many client IPs.
func BenchmarkDecideParallel(b *testing.B) {
	e, p := realisticPolicy(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := req("198.51.100.7", chromeUA)
		i := 0
		for pb.Next() {
			i++
			r.IP = netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)})
			e.Decide(p, r)
		}
	})
}

// BenchmarkLoad10kWebsites compiles 10,000 websites with default settings
// into a snapshot and reports the heap it holds.
func BenchmarkLoad10kWebsites(b *testing.B) {
	e, _ := newTestEngine(b, nil)
	sites := make([]Site, 10_000)
	for i := range sites {
		sites[i] = Site{ID: int64(i + 1), PartnerID: int64(i%50 + 1), Domain: fmt.Sprintf("site-%d.example.com", i), Status: "online", ServerKeyHash: sha256hex(fmt.Sprint("key", i))}
	}
	var before, after runtime.MemStats
	for b.Loop() {
		runtime.GC()
		runtime.ReadMemStats(&before)
		e.Load(sites, nil)
		runtime.GC()
		runtime.ReadMemStats(&after)
	}
	if e.Len() != 10_000 {
		b.Fatalf("%d websites loaded", e.Len())
	}
	b.ReportMetric(float64(after.HeapInuse)/(1<<20), "heapMB")
	b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/(1<<20), "snapshotMB")
}

// BenchmarkLoadWebsitesWithRules compiles 1,000 websites that each have 5
// custom rules, 20 deny-list entries and a rate limit, and reports the heap
// a website's policy holds (for sizing: memory per 1,000 websites).
func BenchmarkLoadWebsitesWithRules(b *testing.B) {
	e, _ := newTestEngine(b, nil)
	sites := make([]Site, 1000)
	for i := range sites {
		st := Settings{RateLimits: []RateLimit{{Name: "flood", Requests: 600, Period: "1m"}}}
		for r := 0; r < 5; r++ {
			st.Rules = append(st.Rules, Rule{Name: fmt.Sprintf("rule %d", r), Action: "deny", Conditions: []Condition{
				{Field: "path", Op: "starts_with", Value: fmt.Sprintf("/wp-admin-%d/", r)},
				{Field: "user_agent", Op: "contains", Value: fmt.Sprintf("scanner-%d", r)},
			}})
		}
		for d := 0; d < 20; d++ {
			st.Deny = append(st.Deny, netip.AddrFrom4([4]byte{203, 0, byte(i), byte(d)}).String())
		}
		sites[i] = Site{ID: int64(i + 1), PartnerID: int64(i%50 + 1), Domain: fmt.Sprintf("site-%d.example.com", i), Status: "online", ServerKeyHash: sha256hex(fmt.Sprint("key", i)), Settings: st}
	}
	var before, after runtime.MemStats
	for b.Loop() {
		e.Load(nil, nil)
		runtime.GC()
		runtime.ReadMemStats(&before)
		e.Load(sites, nil)
		runtime.GC()
		runtime.ReadMemStats(&after)
	}
	b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/(1<<20), "MB/1000sites")
}

// TestDecideAllocatesNothing: with the website firewall at its default
// (the prefilter passes these requests) Decide allocates nothing, for a
// browser, a tool, a crawler and a listed address.
func TestDecideAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts under the race detector are not the program's")
	}
	e, p := realisticPolicy(t)
	for name, r := range benchRequests(t) {
		e.Decide(p, r) // the prefilter's verdict cache warms on the first
		if n := testing.AllocsPerRun(100, func() { e.Decide(p, r) }); n != 0 {
			t.Errorf("%s: Decide allocates %v times", name, n)
		}
	}
}
