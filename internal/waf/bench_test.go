package waf

import (
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza/v3"
)

// benchEvaluate measures Evaluate on in (prefilter included: a request it
// passes skips CRS), the full CRS evaluation alone ("crs": the same
// request again and again, so its values come from the @rx memory;
// "crs-unique": a new query and cookie value each time), and CRS with
// Coraza's plain @rx.
func benchEvaluate(b *testing.B, in *Input) {
	fw := firewall(b, 1)
	o := &Options{Paranoia: 1, Threshold: 5}
	run := func(b *testing.B, f func()) {
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime()
		for b.Loop() {
			f()
		}
		// CPU time the process spent (GC included), steadier than wall
		// time on a shared machine.
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	}
	b.Run("evaluate", func(b *testing.B) {
		if fw.Evaluate(in, o).Skipped {
			b.ReportMetric(1, "skipped")
		}
		run(b, func() { fw.Evaluate(in, o) })
	})
	b.Run("crs", func(b *testing.B) {
		run(b, func() {
			var res Result
			fw.evaluateCRS(in, o, &res)
		})
	})
	// Every request new to the @rx memory in its query and cookie: a
	// unique value in each (the headers stay a browser's).
	b.Run("crs-unique", func(b *testing.B) {
		u := *in
		u.Header = in.Header.Clone()
		n := 0
		run(b, func() {
			n++
			s := strconv.Itoa(n)
			u.Query = in.Query + "&v=" + s
			u.Header.Set("Cookie", "_ga=GA1.1."+s+".1700000000; sid=a"+s+"b")
			var res Result
			fw.evaluateCRS(&u, o, &res)
		})
	})
	// Coraza's own @rx (no memory), for comparison.
	b.Run("crs-plain-rx", func(b *testing.B) {
		plain := plainFirewall(b, 1)
		run(b, func() {
			var res Result
			plain.evaluateCRS(in, o, &res)
		})
	})
}

var plainFirewalls sync.Map

// plainFirewall compiles CRS with Coraza's @rx, for comparison.
func plainFirewall(b testing.TB, pl int) *Firewall {
	if fw, ok := plainFirewalls.Load(pl); ok {
		return fw.(*Firewall)
	}
	w, err := coraza.NewWAF(coraza.NewWAFConfig().WithRootFS(coreruleset.FS).WithDirectives(directives(pl)))
	if err != nil {
		b.Fatal(err)
	}
	fw := &Firewall{paranoia: pl, waf: w, rules: firewall(b, pl).rules}
	plainFirewalls.Store(pl, fw)
	return fw
}

// cpuTime is the process's user and system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func BenchmarkEvaluateCleanGET(b *testing.B) { benchEvaluate(b, get("/")) }

func BenchmarkEvaluateQueryGET(b *testing.B) {
	benchEvaluate(b, get("/products/shoes?color=red&size=42&sort=price_asc&page=2"))
}

func BenchmarkEvaluateFormPOST(b *testing.B) {
	benchEvaluate(b, post("/contact", "application/x-www-form-urlencoded",
		"name=Jane+Doe&email=jane%40example.com&subject=Order+1234&message=Hello%2C+my+order+has+not+arrived+yet.+Could+you+check%3F"))
}

func BenchmarkEvaluateJSONPOST(b *testing.B) {
	benchEvaluate(b, post("/api/cart", "application/json",
		`{"items":[{"sku":"A-100","qty":2},{"sku":"B-7","qty":1}],"coupon":"SPRING","note":"Leave at the door"}`))
}

func BenchmarkEvaluateSQLi(b *testing.B) {
	benchEvaluate(b, get("/products?id=1%27%20OR%20%271%27%3D%271"))
}

func BenchmarkEvaluateParallel(b *testing.B) {
	fw := firewall(b, 1)
	in := get("/products/shoes?color=red&size=42")
	o := &Options{Threshold: 5}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			fw.Evaluate(in, o)
		}
	})
}

// BenchmarkCompile compiles one paranoia level (a fresh registry each
// time) and reports the heap it keeps.
func BenchmarkCompile(b *testing.B) {
	var heap uint64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r := NewRegistry()
		start := time.Now()
		fw, err := r.Firewall(1)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/compile")
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap = after.HeapAlloc - before.HeapAlloc
		runtime.KeepAlive(fw)
	}
	b.ReportMetric(float64(heap)/(1<<20), "MiB-heap/level")
}

// TestCompileFigures compiles the four levels in a fresh registry and
// reports the time and heap each takes (the first is cold only when this
// test runs alone: go test -run TestCompileFigures -v). Coraza memoizes
// compiled regular expressions process-wide, so the later levels share
// the first one's.
func TestCompileFigures(t *testing.T) {
	r := NewRegistry()
	var total uint64
	for pl := 1; pl <= 4; pl++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		fw, err := r.Firewall(pl)
		if err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		total += uint64(max(heap, 0))
		t.Logf("paranoia %d: compiled in %v, heap +%.1f MiB, %d rules", pl, fw.Compiled.Round(time.Millisecond), float64(heap)/(1<<20), len(fw.rules))
		if fw.Compiled > time.Minute || heap > 256<<20 {
			t.Errorf("paranoia %d: %v and %d bytes to compile", pl, fw.Compiled, heap)
		}
		runtime.KeepAlive(fw)
	}
	t.Logf("four levels: heap +%.1f MiB", float64(total)/(1<<20))
}
