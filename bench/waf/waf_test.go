// Package waf_test measures the website firewall from the outside (issue
// 19's benchmarks; figures in bench/README.md, "Website firewall"):
//
//	go test ./bench/waf -run '^$' -bench ForwardAuth -benchtime 10s   # throughput, WAF on against off, one run
//	go test ./bench/waf -run Memory10k -v                             # resident memory, 10,000 websites
package waf_test

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
	"github.com/palisadehq/palisade/internal/waf"
)

const chromeUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// BenchmarkForwardAuth asks /forward-auth (nginx's headers) about a
// browser's request, from many goroutines over keep-alive connections to a
// whole in-process Palisade, for a website with the firewall on (default
// settings: block, paranoia 1) and one with it off, in the same run.
// Reported: requests/s over the wall clock, and ns/op.
func BenchmarkForwardAuth(b *testing.B) {
	pal := testenv.New(b)
	on := pal.Website(b, "waf-on.example.com", engine.Settings{})
	off := pal.Website(b, "waf-off.example.com", engine.Settings{WAF: engine.WAFSettings{Mode: "off"}})
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}
	b.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for _, req := range []struct {
		name, uri string
		realIP    bool // nginx's snippet sets X-Real-IP
	}{
		{"clean-GET", "/products/42", true},
		{"query-GET", "/search?q=winter+boots&page=2&sort=price", true},
		{"clean-GET-without-X-Real-IP", "/products/42", false},
	} {
		for _, site := range []struct {
			name, domain, key string
		}{{"waf-on", on.Domain, on.ServerKey}, {"waf-off", off.Domain, off.ServerKey}} {
			b.Run(req.name+"/"+site.name, func(b *testing.B) {
				var failed atomic.Int64
				var lastBad atomic.Value
				b.SetParallelism(16) // 32 goroutines on 2 cores
				start, cpu := time.Now(), cpuTime()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						r, _ := http.NewRequest("GET", pal.URL+"/forward-auth", nil)
						r.Header.Set("X-Palisade-Key", site.key)
						r.Header.Set("X-Palisade-Mode", "nginx")
						r.Header.Set("X-Original-Uri", req.uri)
						r.Header.Set("X-Original-Method", "GET")
						r.Header.Set("X-Original-Host", site.domain)
						if req.realIP {
							r.Header.Set("X-Real-Ip", "198.51.100.7")
						}
						testenv.AsBrowser(r, chromeUA)
						resp, err := client.Do(r)
						if err != nil {
							failed.Add(1)
							continue
						}
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK {
							failed.Add(1)
							lastBad.Store(fmt.Sprintf("%d %s (%s)", resp.StatusCode, resp.Header.Get("X-Palisade-Action"), resp.Header.Get("X-Palisade-Reason")))
						}
					}
				})
				el := time.Since(start)
				b.StopTimer()
				// Client and server share the process: CPU per request of both.
				b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
				if n := failed.Load(); n > 0 {
					b.Fatalf("%d of %d requests not granted, e.g. %v", n, b.N, lastBad.Load())
				}
				b.ReportMetric(float64(b.N)/el.Seconds(), "req/s")
			})
		}
	}
}

// rss is the process's resident memory in bytes (VmRSS).
func rss(t testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status:", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Skip("no VmRSS")
	return 0
}

// MaxResident10k is issue 19's bound for 10,000 websites with the
// firewall on by default in one process.
const MaxResident10k = 400 << 20

// TestMemory10kWebsites loads 10,000 websites with default settings (the
// firewall on: block, paranoia 1) into one engine and checks the process's
// resident memory stays under 400 MB; then a mix (a tenth at paranoia 2,
// a tenth with an exclusion of their own) is loaded in its place.
func TestMemory10kWebsites(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's shadow memory is no measure of resident memory")
	}
	sigs, err := engine.LoadSignatures()
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(engine.NewClassifier(sigs, nil, nil), nil)
	runtime.GC()
	before := rss(t)
	var ms runtime.MemStats
	site := func(i int, st engine.Settings) engine.Site {
		return engine.Site{ID: int64(i + 1), PartnerID: int64(i%50 + 1), Domain: fmt.Sprintf("site%05d.example.com", i), Status: "online",
			ServerKeyHash: fmt.Sprintf("%064x", i+1), Settings: st}
	}
	for _, mix := range []string{"default", "mixed"} {
		sites := make([]engine.Site, 10000)
		for i := range sites {
			var st engine.Settings
			if mix == "mixed" {
				switch i % 10 {
				case 1:
					st.WAF.Paranoia = 2
				case 2:
					st.WAF.Exclusions = []waf.Exclusion{{RuleIDs: []int{942100}, Path: fmt.Sprintf("/app%d/", i), Parameters: []string{"q"}}}
				}
			}
			sites[i] = site(i, st)
		}
		start := time.Now()
		if errs := eng.Load(sites, nil); len(errs) > 0 {
			t.Fatal(errs[0])
		}
		took := time.Since(start)
		sites = nil
		runtime.GC()
		runtime.ReadMemStats(&ms)
		now := rss(t)
		t.Logf("%s: 10,000 websites loaded in %s; resident %d MB (%d MB before the engine), heap in use %d MB",
			mix, took.Round(time.Millisecond), now>>20, before>>20, ms.HeapInuse>>20)
		if now > MaxResident10k {
			t.Errorf("%s: %d MB resident with 10,000 websites, over %d MB", mix, now>>20, MaxResident10k>>20)
		}
		// The engine must have them: one is decided with its firewall.
		pol := eng.ByDomain("site00007.example.com")
		if pol == nil {
			t.Fatal("site00007 not loaded")
		}
		v := eng.Decide(pol, &engine.Request{Method: "GET", Host: "site00007.example.com", Path: "/", Query: "id=1'+OR+'1'='1", UserAgent: chromeUA,
			Header: http.Header{"User-Agent": {chromeUA}, "Accept": {"text/html"}, "Accept-Language": {"en"}}})
		if v.Source != engine.SourceWAF {
			t.Fatalf("%s: an SQL injection on a loaded website: %v", mix, v)
		}
	}
}

// BenchmarkDecide is one engine decision with the firewall on (default
// settings) and off, for a browser's clean GET, a GET with a query string,
// a form POST and an SQL injection: what the firewall adds to a decision.
func BenchmarkDecide(b *testing.B) {
	sigs, err := engine.LoadSignatures()
	if err != nil {
		b.Fatal(err)
	}
	eng := engine.New(engine.NewClassifier(sigs, nil, nil), nil)
	if errs := eng.Load([]engine.Site{
		{ID: 1, PartnerID: 1, Domain: "waf-on.example.com", Status: "online", ServerKeyHash: fmt.Sprintf("%064x", 1)},
		{ID: 2, PartnerID: 1, Domain: "waf-off.example.com", Status: "online", ServerKeyHash: fmt.Sprintf("%064x", 2), Settings: engine.Settings{WAF: engine.WAFSettings{Mode: "off"}}},
	}, nil); len(errs) > 0 {
		b.Fatal(errs[0])
	}
	browser := func(method, path, query string, body []byte) engine.Request {
		h := http.Header{"User-Agent": {chromeUA}, "Accept": {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
			"Accept-Language": {"en-GB,en;q=0.9"}, "Accept-Encoding": {"gzip, deflate, br"}}
		if body != nil {
			h.Set("Content-Type", "application/x-www-form-urlencoded")
			h.Set("Content-Length", strconv.Itoa(len(body)))
			h.Set("Origin", "https://shop.example.com")
		}
		return engine.Request{IP: netip.MustParseAddr("198.51.100.7"), Method: method, Path: path, Query: query, Proto: "HTTP/1.1",
			UserAgent: chromeUA, Header: h, Body: body}
	}
	for _, c := range []struct {
		name string
		r    engine.Request
		waf  bool // the firewall must deny it
	}{
		{"clean-GET", browser("GET", "/products/42", "", nil), false},
		{"query-GET", browser("GET", "/search", "q=winter+boots&page=2&sort=price", nil), false},
		{"form-POST", browser("POST", "/checkout", "", []byte("email=ann%40example.com&name=Ann+Smith&address=12+High+Street&qty=2")), false},
		{"attack", browser("GET", "/products", "id=1'+OR+'1'='1", nil), true},
	} {
		for _, site := range []string{"waf-on", "waf-off"} {
			pol := eng.ByDomain(site + ".example.com")
			b.Run(c.name+"/"+site, func(b *testing.B) {
				r := c.r
				r.Host = pol.Domain
				if v := eng.Decide(pol, &r); (v.Source == engine.SourceWAF) != (c.waf && site == "waf-on") {
					b.Fatalf("%s on %s: %v", c.name, site, v)
				}
				b.ReportAllocs()
				cpu := cpuTime()
				for b.Loop() {
					r := c.r
					r.Host = pol.Domain
					eng.Decide(pol, &r)
				}
				b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// cpuTime is the process's user and system CPU time in nanoseconds: on a
// shared machine steadier than wall time.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
