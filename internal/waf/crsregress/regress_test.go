package crsregress

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza-coreruleset/v4/tests"
)

var reportFile = flag.String("crs.report", "", "write a markdown report of the CRS regression run to this file")

// levels are the paranoia levels judged and the website settings that
// choose them (PL1 is the default settings).
var levels = []struct {
	pl       int
	settings string
}{{1, `{}`}, {2, `{"waf":{"paranoia":2}}`}}

// MinPassRate is what issue 19 asks of the applicable tests at each level.
const MinPassRate = 0.95

// TestCRSRegression runs every request-phase test of CRS's own regression
// suite through palisade proxy at paranoia levels 1 and 2 with default
// firewall settings, on websites that grant every category (NewPlane:
// the suite tests the firewall, not classification) (bench/README.md,
// "CRS regression suite").
func TestCRSRegression(t *testing.T) {
	files, err := Load(tests.FS)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := Rules(coreruleset.FS)
	if err != nil {
		t.Fatal(err)
	}
	if raceEnabled {
		// The race detector makes CRS ten times slower: judge every
		// twentieth test there (the full run is the test without -race).
		for i := range files {
			var keep []Test
			for j, ts := range files[i].Tests {
				if (i+j)%20 == 0 {
					keep = append(keep, ts)
				}
			}
			files[i].Tests = keep
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var sums []Summary
	for _, lv := range levels {
		start := time.Now()
		res, err := Run(ctx, files, rules, lv.pl, lv.settings, 4)
		if err != nil {
			t.Fatal(err)
		}
		s := Summarize(lv.pl, lv.settings, res, time.Since(start))
		sums = append(sums, s)
		names, per := s.PerFile()
		var all, failing strings.Builder
		for _, n := range names {
			c := per[n]
			item := fmt.Sprintf(" %s %d/%d", strings.TrimSuffix(n[strings.LastIndexByte(n, '/')+1:], ".yaml"), c[0], c[1])
			all.WriteString(item)
			if c[0] < c[1] {
				failing.WriteString(item)
			}
		}
		t.Logf("PL%d: %d/%d applicable tests pass (%.1f%%), %d refused by Go's HTTP server, %d not applicable %v, in %s",
			lv.pl, s.Pass, s.Applicable, 100*s.Rate(), s.Rejected, s.Total-s.Applicable, s.NA, s.Took.Round(time.Millisecond))
		t.Logf("PL%d per file (pass/applicable):%s", lv.pl, all.String())
		t.Logf("PL%d files with failures (pass/applicable):%s", lv.pl, failing.String())
		for _, r := range res {
			if r.NA.Applicable() && !r.Pass {
				t.Logf("PL%d FAIL %s: %s", lv.pl, r.Test, r.Why)
			}
		}
	}
	if *reportFile != "" {
		var b bytes.Buffer
		WriteReport(&b, sums)
		if err := os.WriteFile(*reportFile, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range sums {
		if s.Applicable == 0 || s.Rate() < MinPassRate {
			t.Errorf("PL%d: %d of %d applicable tests pass (%.1f%%), below %.0f%%", s.PL, s.Pass, s.Applicable, 100*s.Rate(), 100*MinPassRate)
		}
	}
}

// TestHarnessWithoutWAF: with the firewall off, every test that expects a
// rule fails and every test that expects none passes, so the judge cannot
// pass a run the firewall did not do.
func TestHarnessWithoutWAF(t *testing.T) {
	all, err := Load(tests.FS)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := Rules(coreruleset.FS)
	if err != nil {
		t.Fatal(err)
	}
	var files []File
	for _, f := range all {
		if f.RuleID == 942100 || f.RuleID == 920350 {
			files = append(files, f)
		}
	}
	res, err := Run(context.Background(), files, rules, 1, `{"waf":{"mode":"off"}}`, 2)
	if err != nil {
		t.Fatal(err)
	}
	expecting, judged := 0, 0
	for _, r := range res {
		if !r.NA.Applicable() {
			continue
		}
		judged++
		var ts Test
		for _, f := range files {
			for _, x := range f.Tests {
				if x.Name == r.Test {
					ts = x
				}
			}
		}
		expects := len(ts.Stages[0].Output.Log.ExpectIDs) > 0
		if expects {
			expecting++
		}
		if r.Pass == expects {
			t.Errorf("%s with the firewall off: pass %v (%s)", r.Test, r.Pass, r.Why)
		}
	}
	if expecting < 10 || judged == expecting {
		t.Fatalf("%d judged, %d expecting ids: the sample proves nothing", judged, expecting)
	}
}
