package waf

import (
	"runtime"
	"testing"
	"time"
)

func benchEvaluate(b *testing.B, in *Input) {
	fw := firewall(b, 1)
	o := &Options{Paranoia: 1, Threshold: 5}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		fw.Evaluate(in, o)
	}
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
