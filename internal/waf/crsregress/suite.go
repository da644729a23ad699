package crsregress

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// BlockingRule is CRS's inbound blocking evaluation (949110). Palisade
// runs CRS without its thresholds and sums the score itself, after each
// website's exclusions, so 949110 never fires: a test expecting it passes
// when Palisade's recorded score reaches the website's threshold, one
// expecting its absence when the score stays below.
const BlockingRule = 949110

// Result is one test judged at one paranoia level.
type Result struct {
	File string // "REQUEST-920-PROTOCOL-ENFORCEMENT/920100.yaml"
	Test string // "920100-1"
	PL   int
	NA   Applicability
	Pass bool
	// Rejected: Go's HTTP server refused a stage before the proxy saw it.
	Rejected bool
	Why      string // for a failure: what was expected and what matched
}

// Judge judges one stage from its answer: every expected id among the
// matched rules, no unexpected one, and a firewall deny exactly when the
// recorded score reaches threshold. A stage that only expects the web
// server to refuse the request (status 400, no ids) passes when Go's
// server refused it with that status or the firewall denied it. A request Go's HTTP server refused
// (no decision, an error status) passes when CRS expects ids (it is
// blocked before the site) or expects the web server to answer that very
// status, and fails when CRS expects no rule to match.
func Judge(out Output, a Answer, threshold int) (pass, rejected bool, why string) {
	if a.Event == nil {
		if a.Status >= 400 || (a.Status == 0 && a.Err != "") {
			what := fmt.Sprintf("refused by Go's HTTP server (%d) before the proxy", a.Status)
			if a.Status == 0 {
				what = "refused by Go's HTTP server (" + a.Err + ") before the proxy"
			}
			if len(out.Log.ExpectIDs) > 0 {
				return true, true, what + ": blocked before the site"
			}
			if out.Status >= 400 && a.Status >= 400 {
				if out.Status == a.Status {
					return true, true, what + ", the status CRS expects of the web server"
				}
				return true, true, fmt.Sprintf("%s, where CRS expects the web server to refuse it with %d", what, out.Status)
			}
			return false, true, what + ", but CRS expects no rule to match"
		}
		return false, false, fmt.Sprintf("no decision recorded (status %d %s)", a.Status, a.Err)
	}
	e := a.Event
	ids := MatchedIDs(e)
	score := 0
	if e.WAF != nil {
		score = e.WAF.Score
	}
	blocked := score >= threshold
	deny := e.Source == "waf" && e.Action == "deny"
	var problems []string
	if !out.HasIDs() && out.Status >= 400 && !deny {
		// A test of the web server's refusal (Apache answers 400): Go's
		// server let it through, so Palisade's firewall must refuse it.
		problems = append(problems, fmt.Sprintf("CRS expects the web server to refuse it (%d), Go's server passed it and the firewall did not deny it", out.Status))
	}
	var missing, unexpected []int
	for _, id := range out.Log.ExpectIDs {
		if id == BlockingRule {
			if !blocked {
				missing = append(missing, id)
			}
		} else if !slices.Contains(ids, id) {
			missing = append(missing, id)
		}
	}
	for _, id := range out.Log.NoExpectIDs {
		if id == BlockingRule {
			if blocked {
				unexpected = append(unexpected, id)
			}
		} else if slices.Contains(ids, id) {
			unexpected = append(unexpected, id)
		}
	}
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("missing %v", missing))
	}
	if len(unexpected) > 0 {
		problems = append(problems, fmt.Sprintf("unexpected %v", unexpected))
	}
	if deny != blocked {
		problems = append(problems, fmt.Sprintf("verdict %s by %q with score %d (threshold %d)", e.Action, e.Source, score, threshold))
	}
	if len(problems) == 0 {
		return true, false, ""
	}
	return false, false, fmt.Sprintf("%s; matched %v, score %d, %s by %s", strings.Join(problems, ", "), ids, score, e.Action, e.Source)
}

// Run judges every test of files at paranoia level pl under the website
// settings settingsJSON, sending over workers connections at once.
func Run(ctx context.Context, files []File, rules map[int]Rule, pl int, settingsJSON string, workers int) ([]Result, error) {
	type job struct {
		idx   int // into results
		f     *File
		t     *Test
		raws  [][]byte
		outs  []Output
		start int // first client index
	}
	var results []Result
	var jobs []job
	var hosts []string
	n := 0
	for fi := range files {
		f := &files[fi]
		for ti := range f.Tests {
			t := &f.Tests[ti]
			res := Result{File: f.Path, Test: t.Name, PL: pl, NA: Classify(*f, *t, rules, pl)}
			results = append(results, res)
			if !res.NA.Applicable() {
				continue
			}
			j := job{idx: len(results) - 1, f: f, t: t, start: n}
			for _, s := range t.Stages {
				raw, _ := s.Input.Build() // Classify built it already
				j.raws = append(j.raws, raw)
				j.outs = append(j.outs, s.Output)
				hosts = append(hosts, HostOf(raw))
				n++
			}
			jobs = append(jobs, j)
		}
	}
	p, err := NewPlane(settingsJSON, hosts)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1)) - 1
				if k >= len(jobs) || ctx.Err() != nil {
					return
				}
				j := jobs[k]
				res := &results[j.idx]
				res.Pass = true
				for s, raw := range j.raws {
					a := p.Send(ctx, ClientAddr(j.start+s), raw)
					ok, rej, why := Judge(j.outs[s], a, p.Threshold)
					res.Rejected = res.Rejected || rej
					if !ok {
						res.Pass = false
						res.Why = why
						if len(j.raws) > 1 {
							res.Why = fmt.Sprintf("stage %d: %s", s+1, why)
						}
						break
					}
					if rej && res.Why == "" {
						res.Why = why
					}
				}
			}
		}()
	}
	wg.Wait()
	return results, ctx.Err()
}

// Summary counts one level's results.
type Summary struct {
	PL                      int
	Settings                string
	Total, Applicable, Pass int
	Rejected                int // applicable tests a stage of which Go's server refused
	NA                      map[string]int
	Took                    time.Duration
	Results                 []Result
}

// Summarize counts results.
func Summarize(pl int, settings string, results []Result, took time.Duration) Summary {
	s := Summary{PL: pl, Settings: settings, Total: len(results), NA: map[string]int{}, Took: took, Results: results}
	for _, r := range results {
		if !r.NA.Applicable() {
			s.NA[r.NA.Kind]++
			continue
		}
		s.Applicable++
		if r.Pass {
			s.Pass++
		}
		if r.Rejected {
			s.Rejected++
		}
	}
	return s
}

// Rate is the pass rate of the applicable tests, 0 to 1.
func (s Summary) Rate() float64 {
	if s.Applicable == 0 {
		return 0
	}
	return float64(s.Pass) / float64(s.Applicable)
}

// PerFile is the pass counts of each file with applicable tests:
// "REQUEST-942-APPLICATION-ATTACK-SQLI/942100.yaml" → [pass, applicable].
func (s Summary) PerFile() ([]string, map[string][2]int) {
	m := map[string][2]int{}
	for _, r := range s.Results {
		if !r.NA.Applicable() {
			continue
		}
		c := m[r.File]
		if r.Pass {
			c[0]++
		}
		c[1]++
		m[r.File] = c
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names, m
}

// naOrder is the order of the not-applicable kinds in reports.
var naOrder = []string{NAResponse, NAParanoia, NAGated, NALogOnly, NABodyLimit, NAUncarried, NABuildError}

// WriteReport writes a markdown report of the summaries: pass counts,
// every failing test with what matched, the tests Go's server refused, and
// every not-applicable test with its reason.
func WriteReport(w io.Writer, sums []Summary) {
	fmt.Fprintf(w, "## Results\n\n| paranoia | settings | tests | applicable | pass | rate | refused by the HTTP server | not applicable |\n|---|---|---|---|---|---|---|---|\n")
	for _, s := range sums {
		var na []string
		for _, k := range naOrder {
			if s.NA[k] > 0 {
				na = append(na, fmt.Sprintf("%s %d", k, s.NA[k]))
			}
		}
		fmt.Fprintf(w, "| %d | `%s` | %d | %d | %d | %.1f%% | %d | %s |\n", s.PL, s.Settings, s.Total, s.Applicable, s.Pass, 100*s.Rate(), s.Rejected, strings.Join(na, ", "))
	}
	for _, s := range sums {
		fmt.Fprintf(w, "\n## Paranoia level %d\n\n### Failing tests\n\n", s.PL)
		nf := 0
		for _, r := range s.Results {
			if r.NA.Applicable() && !r.Pass {
				fmt.Fprintf(w, "- `%s`: %s\n", r.Test, r.Why)
				nf++
			}
		}
		if nf == 0 {
			fmt.Fprintf(w, "None.\n")
		}
		fmt.Fprintf(w, "\n### Refused by Go's HTTP server before the proxy, counted as passing (CRS expects a rule to match, or the web server's refusal)\n\n")
		nr := 0
		for _, r := range s.Results {
			if r.NA.Applicable() && r.Pass && r.Rejected {
				fmt.Fprintf(w, "- `%s`: %s\n", r.Test, r.Why)
				nr++
			}
		}
		if nr == 0 {
			fmt.Fprintf(w, "None.\n")
		}
		fmt.Fprintf(w, "\n### Per file (pass / applicable)\n\n")
		names, m := s.PerFile()
		for _, n := range names {
			fmt.Fprintf(w, "%s %d/%d; ", strings.TrimSuffix(n[strings.LastIndexByte(n, '/')+1:], ".yaml"), m[n][0], m[n][1])
		}
		fmt.Fprintf(w, "\n\n### Not applicable\n\n")
		for _, k := range naOrder {
			if s.NA[k] == 0 {
				continue
			}
			fmt.Fprintf(w, "#### %s (%d)\n\n", k, s.NA[k])
			if k == NAResponse || k == NAParanoia {
				// Long lists: one line per reason.
				by := map[string][]string{}
				var reasons []string
				for _, r := range s.Results {
					if r.NA.Kind == k {
						if by[r.NA.Reason] == nil {
							reasons = append(reasons, r.NA.Reason)
						}
						by[r.NA.Reason] = append(by[r.NA.Reason], r.Test)
					}
				}
				for _, reason := range reasons {
					fmt.Fprintf(w, "- %s: %s\n", reason, strings.Join(by[reason], ", "))
				}
			} else {
				for _, r := range s.Results {
					if r.NA.Kind == k {
						fmt.Fprintf(w, "- `%s`: %s\n", r.Test, r.NA.Reason)
					}
				}
			}
			fmt.Fprintln(w)
		}
	}
}
