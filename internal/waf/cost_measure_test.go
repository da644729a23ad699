package waf

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMeasureCostPerByte measures the CPU cost per inspected byte of
// cookies, other headers, the query and the body (PALISADE_MEASURE=1);
// the weights in gate.go come from it.
func TestMeasureCostPerByte(t *testing.T) {
	if os.Getenv("PALISADE_MEASURE") == "" {
		t.Skip("measurement: PALISADE_MEASURE=1")
	}
	fw := firewall(t, 1)
	o := &Options{Paranoia: 1, Threshold: 5}
	rnd := rand.New(rand.NewPCG(1, 2))
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[rnd.IntN(36)]
		}
		return string(b)
	}
	const size = 6 << 10
	cases := map[string]func() *Input{
		"base": func() *Input { return get("/x") },
		"cookies tiny (cN=v)": func() *Input {
			in := get("/x")
			var sb strings.Builder
			for i := 0; sb.Len() < size; i++ {
				fmt.Fprintf(&sb, "c%d=%s; ", i, word(1))
			}
			in.Header.Set("Cookie", sb.String())
			return in
		},
		"cookies 10x600": func() *Input {
			in := get("/x")
			var sb strings.Builder
			for i := 0; sb.Len() < size; i++ {
				fmt.Fprintf(&sb, "c%d=%s; ", i, word(600))
			}
			in.Header.Set("Cookie", sb.String())
			return in
		},
		"header one value": func() *Input {
			in := get("/x")
			in.Header.Set("X-Foo", word(size))
			return in
		},
		"headers 100 small": func() *Input {
			in := get("/x")
			for i := 0; i < 100; i++ {
				in.Header.Set(fmt.Sprintf("X-H%d", i), word(size/100-8))
			}
			return in
		},
		"query tiny args": func() *Input {
			var sb strings.Builder
			for i := 0; sb.Len() < size; i++ {
				fmt.Fprintf(&sb, "a%d=%s&", i, word(1))
			}
			return get("/x?" + sb.String())
		},
		"query one value": func() *Input { return get("/x?q=" + word(size)) },
		"body form one value": func() *Input {
			return post("/x", "application/x-www-form-urlencoded", "q="+word(size))
		},
		"body form tiny args": func() *Input {
			var sb strings.Builder
			for i := 0; sb.Len() < size; i++ {
				fmt.Fprintf(&sb, "a%d=%s&", i, word(1))
			}
			return post("/x", "application/x-www-form-urlencoded", sb.String())
		},
	}
	var base time.Duration
	for _, name := range []string{"base", "cookies tiny (cN=v)", "cookies 10x600", "header one value", "headers 100 small", "query tiny args", "query one value", "body form one value", "body form tiny args"} {
		mk := cases[name]
		const n = 5
		var total time.Duration
		for i := 0; i < n; i++ {
			in := mk()
			start := time.Now()
			var res Result
			fw.evaluateCRS(in, o, &res)
			total += time.Since(start)
		}
		d := total / n
		if name == "base" {
			base = d
		}
		t.Logf("%-22s %8v  %.2f µs/byte over base", name, d, float64(d-base)/1e3/float64(size))
	}
}

// TestMeasureJustUnderTheGate measures requests of different shapes that
// weigh just under HeavyBytes (the most an ungated request costs).
func TestMeasureJustUnderTheGate(t *testing.T) {
	if os.Getenv("PALISADE_MEASURE") == "" {
		t.Skip("measurement: PALISADE_MEASURE=1")
	}
	fw := firewall(t, 1)
	o := &Options{Paranoia: 1, Threshold: 5}
	rnd := rand.New(rand.NewPCG(3, 4))
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[rnd.IntN(36)]
		}
		return string(b)
	}
	grow := func(name string, mk func(k int) *Input) {
		k := 1
		for inspectedBytes(mk(k*2)) <= HeavyBytes {
			k *= 2
		}
		for step := k / 2; step > 0; step /= 2 {
			if inspectedBytes(mk(k+step)) <= HeavyBytes {
				k += step
			}
		}
		var total time.Duration
		const n = 5
		for i := 0; i < n; i++ {
			in := mk(k)
			start := time.Now()
			var res Result
			fw.evaluateCRS(in, o, &res)
			total += time.Since(start)
		}
		t.Logf("%-28s k=%-5d weight %5d: %v", name, k, inspectedBytes(mk(k)), total/n)
	}
	cookies := func(size int) func(k int) *Input {
		return func(k int) *Input {
			in := get("/x")
			var sb strings.Builder
			for i := 0; i < k; i++ {
				fmt.Fprintf(&sb, "c%d=%s; ", i, word(size))
			}
			in.Header.Set("Cookie", sb.String())
			return in
		}
	}
	grow("cookies of 1 byte", cookies(1))
	grow("cookies of 20 bytes", cookies(20))
	grow("cookies of 200 bytes", cookies(200))
	grow("query args of 1 byte", func(k int) *Input {
		var sb strings.Builder
		for i := 0; i < k; i++ {
			fmt.Fprintf(&sb, "a%d=%s&", i, word(1))
		}
		return get("/x?" + sb.String())
	})
	grow("json members of 1 byte", func(k int) *Input {
		var sb strings.Builder
		sb.WriteString("{")
		for i := 0; i < k; i++ {
			fmt.Fprintf(&sb, `"a%d":"%s",`, i, word(1))
		}
		sb.WriteString(`"z":1}`)
		return post("/x", "application/json", sb.String())
	})
	grow("headers of 20 bytes", func(k int) *Input {
		in := get("/x")
		for i := 0; i < k; i++ {
			in.Header.Set(fmt.Sprintf("X-H%d", i), word(20))
		}
		return in
	})
	grow("one header", func(k int) *Input {
		in := get("/x")
		in.Header.Set("X-Foo", word(k))
		return in
	})
	grow("user agent", func(k int) *Input {
		in := get("/x")
		in.Header.Set("User-Agent", word(k))
		return in
	})
	grow("query one value", func(k int) *Input { return get("/x?q=" + word(k)) })
}
