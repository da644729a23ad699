// Command table reads what bench/compare.sh recorded (wrk's and bench/load's
// output, one file a run) and prints the side-by-side table: per case the
// median of the rounds, each round's figure, p50 and p99, whether every
// answer had the expected status, the ratio to the case's reference, and
// the four targets as met or not met.
//
//	go run ./bench/compare/table -dir /tmp/palisade-compare.XXXX
//
// The directory holds cases.tsv (name, reference, expected answers "2xx" or
// "4xx", description; tab-separated, in the order to print), NAME.ROUND.wrk
// files, and for the latency comparison lat.rate and lat.NAME.load.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

type run struct {
	rps, p50, p99 float64 // req/s, ms, ms
	requests      int64
	asked         float64 // decisions palisade serve made during the run, per request; -1: not known
	cpu           float64 // the servers' CPU time during the run, µs per request; -1: not known
	non2xx        int64
	sockErrs      int64
}

type result struct {
	name, ref, expect, desc string
	runs                    []run
	rps, p50, p99           float64 // medians
	answers                 string
	ok                      bool // every answer as expected, and Palisade in the path where it should be
}

func main() {
	dir := flag.String("dir", "", "the run's directory")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "table: -dir is required")
		os.Exit(2)
	}
	f, err := os.Open(filepath.Join(*dir, "cases.tsv"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "table:", err)
		os.Exit(1)
	}
	guard := map[string]string{} // case → the status curl's request got (cases with Palisade in the path)
	if b, err := os.ReadFile(filepath.Join(*dir, "guard.tsv")); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if n, code, ok := strings.Cut(l, "\t"); ok {
				guard[n] = code
			}
		}
	}
	// Clock ticks per second of the servers' CPU times (compare.sh's
	// srvcpu); 0: an older run without them.
	var clk float64
	if b, err := os.ReadFile(filepath.Join(*dir, "clk_tck")); err == nil {
		clk, _ = strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	}
	var results []*result
	byName := map[string]*result{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Split(sc.Text(), "\t")
		if len(fs) < 4 {
			continue
		}
		r := &result{name: fs[0], ref: fs[1], expect: fs[2], desc: fs[3]}
		files, _ := filepath.Glob(filepath.Join(*dir, r.name+".*.wrk"))
		sort.Strings(files)
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			if x, ok := parseWrk(string(b)); ok {
				x.asked = -1
				var d0, d1 float64
				if a, err := os.ReadFile(strings.TrimSuffix(p, ".wrk") + ".asked"); err == nil && x.requests > 0 {
					if n, _ := fmt.Sscan(string(a), &d0, &d1); n == 2 {
						x.asked = (d1 - d0) / float64(x.requests)
					}
				}
				x.cpu = -1
				var c0, c1 float64
				if a, err := os.ReadFile(strings.TrimSuffix(p, ".wrk") + ".cpu"); err == nil && x.requests > 0 && clk > 0 {
					if n, _ := fmt.Sscan(string(a), &c0, &c1); n == 2 && c1 >= c0 {
						x.cpu = (c1 - c0) / clk * 1e6 / float64(x.requests)
					}
				}
				r.runs = append(r.runs, x)
			}
		}
		if len(r.runs) == 0 {
			continue
		}
		r.rps = median(r.runs, func(x run) float64 { return x.rps })
		r.p50 = median(r.runs, func(x run) float64 { return x.p50 })
		r.p99 = median(r.runs, func(x run) float64 { return x.p99 })
		r.answers, r.ok = answers(r)
		if code, ok := guard[r.name]; ok && !strings.HasPrefix(code, "4") {
			r.answers += "; NOT PROTECTED: curl's request got " + code
			r.ok = false
		}
		results = append(results, r)
		byName[r.name] = r
	}
	f.Close()

	fmt.Println("| case | what | req/s (median) | rounds | p50 | p99 | answers | Palisade asked per request | servers' CPU per request | ratio | to |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range results {
		var rounds []string
		for _, x := range r.runs {
			rounds = append(rounds, thousands(x.rps))
		}
		ratio, to := "", ""
		if ref := byName[r.ref]; ref != nil && ref.rps > 0 {
			ratio, to = fmt.Sprintf("**%.2f**", r.rps/ref.rps), ref.name
		}
		asked := "—" // palisade serve not in the path (palisade proxy decides in its own process)
		if _, guarded := guard[r.name]; (guarded || strings.HasPrefix(r.name, "fa-")) && r.name != "proxy" {
			if a := median(r.runs, func(x run) float64 { return x.asked }); a >= 0 {
				asked = fmt.Sprintf("%.2f", a)
			}
		}
		cpu := "—"
		if c := median(r.runs, func(x run) float64 { return x.cpu }); c >= 0 {
			cpu = fmt.Sprintf("%.1f µs", c)
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.name, r.desc, thousands(r.rps), strings.Join(rounds, " / "),
			ms(r.p50), ms(r.p99), r.answers, asked, cpu, ratio, to)
	}

	// Latency at half of Apache alone's peak (open loop, bench/load): each
	// case's rounds (lat.NAME.ROUND.load; an older run's lat.NAME.load is
	// one round), after a warm-up that is not counted; the figures are the
	// medians of the rounds.
	lat := map[string][2]float64{}
	latBad := map[string]string{} // most rounds could not keep the rate
	rate := ""
	if b, err := os.ReadFile(filepath.Join(*dir, "lat.rate")); err == nil {
		rate = strings.TrimSpace(string(b))
		files, _ := filepath.Glob(filepath.Join(*dir, "lat.*.load"))
		sort.Strings(files)
		type latRound struct {
			p50, p99  float64
			info, bad string
		}
		rounds := map[string][]latRound{}
		var names []string
		for _, p := range files {
			name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "lat."), ".load")
			if i := strings.LastIndexByte(name, '.'); i > 0 {
				if _, err := strconv.Atoi(name[i+1:]); err == nil {
					name = name[:i]
				}
			}
			if _, seen := rounds[name]; !seen {
				names = append(names, name)
				rounds[name] = nil
			}
			b, _ := os.ReadFile(p)
			p50, p99, info, bad, ok := parseLoad(string(b))
			if !ok {
				continue
			}
			rounds[name] = append(rounds[name], latRound{p50, p99, info, bad})
		}
		if len(names) > 0 {
			fmt.Printf("\nOpen loop (bench/load) at %s req/s, half of apache-static's median peak (after a warm-up that is not counted; median of the rounds):\n\n", rate)
			fmt.Println("| case | p50 | p99 | p99 of each round | each round: sent, answered, errors, skipped |")
			fmt.Println("|---|---|---|---|---|")
		}
		for _, name := range names {
			rs := rounds[name]
			if len(rs) == 0 {
				fmt.Printf("| %s | — | — | — | no result |\n", name)
				continue
			}
			var p50s, p99s []float64
			var each, infos []string
			nbad := 0
			for _, r := range rs {
				p50s = append(p50s, r.p50)
				p99s = append(p99s, r.p99)
				each = append(each, ms(r.p99))
				infos = append(infos, r.info)
				if r.bad != "" {
					nbad++
				}
			}
			if 2*nbad > len(rs) {
				latBad[name] = fmt.Sprintf("%d of %d rounds did not keep up with the rate", nbad, len(rs))
			}
			lat[name] = [2]float64{medianOf(p50s), medianOf(p99s)}
			fmt.Printf("| %s | %s | %s | %s | %s |\n", name, ms(lat[name][0]), ms(lat[name][1]), strings.Join(each, " / "), strings.Join(infos, "; "))
		}
	}

	fmt.Println("\nTargets (issue 21):")
	check := func(label, a, b string, min float64) {
		ra, rb := byName[a], byName[b]
		if ra == nil || rb == nil || rb.rps == 0 {
			fmt.Printf("- %s: not measured (%s or %s did not run)\n", label, a, b)
			return
		}
		ratio := ra.rps / rb.rps
		met := "MET"
		if ratio < min || !ra.ok || !rb.ok {
			met = "NOT MET"
		}
		note := ""
		if !ra.ok || !rb.ok {
			note = " (unexpected answers: see the table)"
		}
		// The same comparison by CPU time: what the servers spent per
		// request on core 0 in the reference's case over this case's.
		// Not the target (that is req/s), but steadier where the
		// machine's speed drifts between runs.
		byCPU := ""
		ca, cb := median(ra.runs, func(x run) float64 { return x.cpu }), median(rb.runs, func(x run) float64 { return x.cpu })
		if ca > 0 && cb > 0 {
			byCPU = fmt.Sprintf(" (by the servers' CPU per request: %.1f / %.1f µs = %.3f)", cb, ca, cb/ca)
		}
		fmt.Printf("- %s: %s / %s = %s / %s = %.3f (want ≥ %.2f): %s%s%s\n", label, a, b, thousands(ra.rps), thousands(rb.rps), ratio, min, met, note, byCPU)
	}
	apache := "apache-module"
	if byName[apache] == nil {
		apache = "apache-fcgi"
	}
	check("Target 1: Apache + Palisade ≥ 0.70 of Apache alone (static file)", apache, "apache-static", 0.70)
	if l, ok := lat["apache-static"]; ok {
		with, okw := lat[apache]
		if okw {
			d := with[1] - l[1]
			met := "MET"
			switch {
			case latBad["apache-static"] != "":
				// Apache alone did not hold the rate: its p99 is no
				// reference, whatever the difference says.
				met = "NOT MEASURED"
			case d > 2 || latBad[apache] != "":
				met = "NOT MET"
			}
			note := ""
			for _, n := range []string{"apache-static", apache} {
				if latBad[n] != "" {
					note += fmt.Sprintf(" (%s: %s)", n, latBad[n])
				}
			}
			fmt.Printf("- Target 1: p99 within 2 ms of Apache alone at half load (%s req/s): %s %s − apache-static %s = %+.2f ms: %s%s\n", rate, apache, ms(with[1]), ms(l[1]), d, met, note)
		} else {
			fmt.Printf("- Target 1: p99 at half load: %s not measured\n", apache)
		}
	} else {
		fmt.Println("- Target 1: p99 at half load: not measured")
	}
	check("Target 2: forward-auth deny ≥ 0.65 of bare", "fa-deny", "bare", 0.65)
	check("Target 2: forward-auth challenge ≥ 0.65 of bare", "fa-challenge", "bare", 0.65)
	check("Target 3: nginx auth_request → Palisade ≥ 0.95 of auth_request → bare (static file, palisade.conf as shipped)", "nginx-authreq-palisade", "nginx-authreq-bare", 0.95)
	if c, b := byName["nginx-authreq-conf-bare"], byName["nginx-authreq-bare"]; c != nil && b != nil && b.rps > 0 {
		fmt.Printf("- (for reference: target 3's ceiling, the shipped palisade.conf with bench/bare where Palisade would be, / nginx-authreq-bare = %s / %s = %.2f)\n", thousands(c.rps), thousands(b.rps), c.rps/b.rps)
	}
	check("Target 3: page with 20 assets through nginx + Palisade (grant cache: palisade-static.conf) ≥ 0.6 of nginx alone", "nginx-page-palisade-cache", "nginx-page", 0.6)
	check("Target 4: palisade proxy → bare ≥ 0.8 of nginx proxy_pass → bare", "proxy", "nginx-proxy", 0.8)
	if p, b := byName["proxy"], byName["bare"]; p != nil && b != nil && b.rps > 0 {
		fmt.Printf("- (for reference: proxy / bare directly = %s / %s = %.2f)\n", thousands(p.rps), thousands(b.rps), p.rps/b.rps)
	}
	if f, n := byName["go-floor"], byName["nginx-proxy"]; f != nil && n != nil && n.rps > 0 {
		fmt.Printf("- (for reference: bench/floor, a Go proxy that does nothing but pass bytes, / nginx-proxy = %s / %s = %.2f)\n", thousands(f.rps), thousands(n.rps), f.rps/n.rps)
	}
}

var (
	reRPS   = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	reReq   = regexp.MustCompile(`(\d+) requests in`)
	reNon   = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	reSock  = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	rePct   = regexp.MustCompile(`(?m)^\s+(50|99)(?:\.000)?%\s+([0-9.]+)(us|ms|s)\s*$`)
	reLoad  = regexp.MustCompile(`latency p50 (\S+)\s+p90 (\S+)\s+p99 (\S+)`)
	reLoadI = regexp.MustCompile(`sent (\d+) \(([0-9]+) req/s\), answered (\d+), errors (\d+), 5xx (\d+), skipped \(all \d+ connections busy\) (\d+)`)
)

func parseWrk(s string) (run, bool) {
	var x run
	m := reRPS.FindStringSubmatch(s)
	if m == nil {
		return x, false
	}
	x.rps, _ = strconv.ParseFloat(m[1], 64)
	if m := reReq.FindStringSubmatch(s); m != nil {
		x.requests, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := reNon.FindStringSubmatch(s); m != nil {
		x.non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := reSock.FindStringSubmatch(s); m != nil {
		for _, v := range m[1:] {
			n, _ := strconv.ParseInt(v, 10, 64)
			x.sockErrs += n
		}
	}
	for _, m := range rePct.FindAllStringSubmatch(s, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		switch m[3] {
		case "us":
			v /= 1000
		case "s":
			v *= 1000
		}
		if m[1] == "50" {
			x.p50 = v
		} else {
			x.p99 = v
		}
	}
	return x, true
}

// parseLoad reads bench/load's output; bad says why the run did not hold
// its rate (requests it skipped because every connection was busy, or
// that failed), "" when it did.
func parseLoad(s string) (p50, p99 float64, info, bad string, ok bool) {
	m := reLoad.FindStringSubmatch(s)
	if m == nil {
		return 0, 0, "", "", false
	}
	d50, e1 := time.ParseDuration(m[1])
	d99, e2 := time.ParseDuration(m[3])
	if e1 != nil || e2 != nil {
		return 0, 0, "", "", false
	}
	if i := reLoadI.FindStringSubmatch(s); i != nil {
		info = fmt.Sprintf("%s (%s req/s), %s, %s, %s", i[1], i[2], i[3], i[4], i[6])
		sent, _ := strconv.ParseFloat(i[1], 64)
		errs, _ := strconv.ParseFloat(i[4], 64)
		skipped, _ := strconv.ParseFloat(i[6], 64)
		if skipped+errs > 0.01*(sent+skipped) {
			bad = fmt.Sprintf("%s skipped, %s failed: it did not keep up with the rate", i[6], i[4])
		}
	}
	return float64(d50) / 1e6, float64(d99) / 1e6, info, bad, true
}

// answers says whether every answer of every round had the expected kind
// of status: "2xx" (wrk counts none as non-2xx) or "4xx" (all of them).
// Socket errors are reported but do not count against it: wrk counts a
// connection the server closes after its keep-alive limit (Apache's
// MaxKeepAliveRequests 100) as a read error.
func answers(r *result) (string, bool) {
	var req, non, sock int64
	for _, x := range r.runs {
		req += x.requests
		non += x.non2xx
		sock += x.sockErrs
	}
	ok := (r.expect == "2xx" && non == 0) || (r.expect == "4xx" && non == req)
	s := "as expected"
	if !ok {
		s = fmt.Sprintf("%d of %d non-2xx, want %s", non, req, map[string]string{"2xx": "none", "4xx": "all"}[r.expect])
	}
	if sock > 0 {
		s += fmt.Sprintf("; %d socket errors", sock)
	}
	return s, ok
}

func median(runs []run, f func(run) float64) float64 {
	v := make([]float64, len(runs))
	for i, x := range runs {
		v[i] = f(x)
	}
	return medianOf(v)
}

func ms(v float64) string {
	switch {
	case v == 0:
		return "—"
	case v < 10:
		return fmt.Sprintf("%.2f ms", v)
	default:
		return fmt.Sprintf("%.1f ms", v)
	}
}

func thousands(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// medianOf is the median of xs (the mean of the middle two for an even
// count).
func medianOf(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	v := append([]float64(nil), xs...)
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}
