package pagetest_test

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"
)

var reportFile = flag.String("report", "", "also write TestPagesInEveryLanguage's findings, grouped, as Markdown to this file")

// grouped is a finding seen in several languages and widths.
type grouped struct {
	finding
	where []string
}

// group merges findings that differ only in language and width, in the
// order first seen.
func group(fs []finding) []grouped {
	var out []grouped
	at := map[[3]string]int{}
	for _, f := range fs {
		k := [3]string{f.Page, f.Kind, f.Text}
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, grouped{finding: f})
		}
		out[i].where = append(out[i].where, f.Where)
	}
	return out
}

// writeReport writes the findings as Markdown, by kind and then by page.
func writeReport(t testing.TB, file string, checked []string, fs []finding, views int64, took time.Duration) {
	var b strings.Builder
	pages := map[string]bool{}
	for _, f := range fs {
		pages[f.Page] = true
	}
	fmt.Fprintf(&b, "# Page test report\n\n`go test ./internal/web/pagetest -run TestPagesInEveryLanguage` at %s UTC: %d page views in %s; %d findings on %d pages.\n",
		time.Now().UTC().Format("2006-01-02 15:04"), views, took.Round(time.Second), len(fs), len(pages))
	fmt.Fprintf(&b, "Each line: page — the finding — [languages and widths where seen].\n\nPages checked (%d, each in %s at 1280 and 390 px): %s.\n",
		len(checked), strings.Join(checkedLanguages, ", "), strings.Join(checked, ", "))
	gs := group(fs)
	sort.SliceStable(gs, func(i, j int) bool { return gs[i].Page < gs[j].Page })
	for _, kind := range []string{kindPage, kindVendor, kindUntranslated, kindLocale, kindAxe, kindPhone} {
		title := map[string]string{kindPage: "Pages that did not load as expected (status, type, <html lang>)", kindVendor: "Product name shown",
			kindUntranslated: "Untranslated strings (English catalogue strings on a non-English page)",
			kindLocale:       "Numbers and dates written the English way on a non-English page", kindAxe: "axe-core: serious and critical violations",
			kindPhone: "At 390 px: horizontal scroll"}[kind]
		var lines []string
		for _, g := range gs {
			if g.Kind == kind {
				lines = append(lines, fmt.Sprintf("- **%s** — %s — [%s]", g.Page, g.Text, strings.Join(g.where, ", ")))
			}
		}
		fmt.Fprintf(&b, "\n## %s: %d\n\n", title, len(lines))
		if len(lines) == 0 {
			b.WriteString("None.\n")
		}
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Error(err)
	}
}
