package pagetest_test

import (
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/i18n"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestPagesInEveryLanguage opens every page of the product (pages) in every
// language at 1280 and 390 px in headless Chromium, and checks on each:
//
//   - the visible text and the title do not name the product: the fixture's
//     partner chose no "powered by", and the operator set no brand name
//     (identifiers such as X-Palisade-Key or palisade.conf aside);
//   - a page in another language than English holds none of the English
//     catalogue's strings (i18n.Untranslated) outside code, and writes its
//     numbers and dates its own way (not 10,000, 21 Oct or 10/22/2026);
//   - no message id without text ([[id]]) or template residue shows;
//   - axe-core finds no serious or critical accessibility violation;
//   - the answer has the expected status, is HTML, and is in the page's
//     language (<html lang>);
//   - at 390 px nothing scrolls sideways, and the page has a viewport.
//
// Each page is a subtest (-run 'TestPagesInEveryLanguage/console' checks the
// console's pages), failing once with every problem of every language and
// width, grouped; -report=FILE writes all of them as Markdown too.
func TestPagesInEveryLanguage(t *testing.T) {
	chromium := testenv.NeedBinary(t, "chromium", "/usr/bin/chromium")
	start := time.Now()
	f := newFixture(t)
	t.Logf("fixture seeded in %s", time.Since(start).Round(time.Millisecond))
	b := newBrowser(t, chromium, f)
	// Each page is checked in a tab of its own, parallelTabs at a time.
	tabs := make(chan *tab, parallelTabs)
	tabs <- b.tabs[0]
	for i := 1; i < parallelTabs; i++ {
		tabs <- b.newTab(t)
	}
	var views atomic.Int64
	t.Cleanup(func() {
		var loading, checking time.Duration
		for _, tb := range b.tabs {
			loading, checking = loading+tb.loading, checking+tb.checking
		}
		t.Logf("%d page views in %s in %d tabs (loading %s, checking %s)", views.Load(), time.Since(start).Round(time.Millisecond), len(b.tabs),
			loading.Round(time.Millisecond), checking.Round(time.Millisecond))
	})
	var mu sync.Mutex
	var all []finding
	var checked []string // page names, as -run selects them
	if *reportFile != "" {
		t.Cleanup(func() { writeReport(t, *reportFile, checked, all, views.Load(), time.Since(start)) })
	}
	for _, p := range pages(f) {
		t.Run(p.Name, func(t *testing.T) {
			t.Parallel()
			tb := <-tabs
			defer func() { tabs <- tb }()
			mu.Lock()
			checked = append(checked, p.Name)
			mu.Unlock()
			var found []finding
			for _, width := range widths { // one change of width per page
				for _, lang := range checkedLanguages {
					views.Add(1)
					for _, fd := range tb.check(p, lang, width) {
						fd.Page, fd.Where = p.Name, fmt.Sprintf("%s %d", lang, width)
						found = append(found, fd)
					}
				}
			}
			mu.Lock()
			all = append(all, found...)
			mu.Unlock()
			if len(found) > 0 {
				var lines []string
				for _, g := range group(found) {
					lines = append(lines, fmt.Sprintf("[%s] %s: %s", strings.Join(g.where, ", "), g.Kind, g.Text))
				}
				t.Errorf("%s (%s):\n  %s", p.Name, p.URL("xx"), strings.Join(lines, "\n  "))
			}
		})
	}
}

// parallelTabs is how many pages are checked at once: one on a machine of
// two cores, which one tab keeps busy (the browser, axe-core and the server
// share them), more on bigger ones.
var parallelTabs = max(1, min(4, runtime.NumCPU()/2))

// residue finds what a page shows when a message or a value is missing: a
// message id with no text in the catalogue (i18n's "[[id]]"), a template's
// missing field, a formatting verb that did not match, a template action.
var residue = regexp.MustCompile(`\[\[[A-Za-z0-9_.-]+\]\]|<no value>|%!\w?\(|\{\{`)

// englishNumber is a number grouped the English way (10,000), which reads
// as a decimal in de, fr, es and nl.
var englishNumber = regexp.MustCompile(`(?:^|[^\d.,])(\d{1,3}(?:,\d{3})+)(?:$|[^\d,])`)

// usDate is a date written month first (10/22/2026), seen when the day is
// over 12.
var usDate = regexp.MustCompile(`\b(1[0-2]|0?[1-9])/(1[3-9]|2\d|3[01])/\d{4}\b`)

// englishFormats returns numbers and dates in text (a page in lang, not
// English) that are written the English way: 10,000, "21 Oct", 10/22/2026.
func englishFormats(lang, text string) []string {
	var out []string
	for _, m := range englishNumber.FindAllStringSubmatch(text, 5) {
		out = append(out, m[1])
	}
	out = append(out, usDate.FindAllString(text, 5)...)
	// English short month names that lang writes otherwise, next to a
	// number ("21 Oct", "Oct 2026").
	own := map[string]bool{}
	for _, m := range i18n.MonthsShort(lang) {
		own[strings.TrimSuffix(m, ".")] = true
	}
	var names []string
	for _, m := range i18n.MonthsShort("en") {
		if !own[m] {
			names = append(names, m)
		}
	}
	if len(names) > 0 {
		alt := strings.Join(names, "|")
		re := regexp.MustCompile(`\b\d{1,2}\.? (?:` + alt + `)\b|\b(?:` + alt + `) \d{1,4}\b`)
		out = append(out, re.FindAllString(text, 5)...)
	}
	return out
}

// productName finds the product's name with some words around it.
var productName = regexp.MustCompile(`(?i)(.{0,40})palisade(.{0,40})`)

// productNames returns the places text names the product, leaving out
// identifiers that carry the name and are not the product speaking to
// anyone (docs/: header, cookie, path, file and variable names such as
// X-Palisade-Key, /_palisade/, palisade.conf or $palisade_key).
func productNames(text string) []string {
	var hits []string
	for _, m := range productName.FindAllStringSubmatch(text, -1) {
		before, after := m[1], m[2]
		if before != "" && strings.ContainsAny(before[len(before)-1:], "-_/$.@") ||
			after != "" && strings.ContainsAny(after[:1], "-_/") ||
			len(after) > 1 && after[0] == '.' && (after[1] >= 'a' && after[1] <= 'z' || after[1] >= '0' && after[1] <= '9') {
			continue
		}
		hits = append(hits, fmt.Sprintf("%q", strings.Join(strings.Fields(m[0]), " ")))
		if len(hits) == 3 {
			break
		}
	}
	return hits
}

// A finding is one thing wrong with a page in one language at one width.
type finding struct {
	Page, Where string // page name; language and width ("de 390")
	Kind        string // kindVendor, kindUntranslated, kindLocale, kindAxe, kindPhone or kindPage
	Text        string
}

const (
	kindVendor       = "product name shown"
	kindUntranslated = "untranslated"
	kindAxe          = "axe"
	kindPhone        = "at 390 px"
	kindLocale       = "locale"
	kindPage         = "page"
)

// check opens p and returns what is wrong with it.
func (b *tab) check(p pageSpec, lang string, width int64) []finding {
	status, mime, err := b.open(p, lang, width)
	if err != nil {
		return []finding{{Kind: kindPage, Text: "not loaded: " + err.Error()}}
	}
	var out []finding
	add := func(kind, format string, args ...any) {
		out = append(out, finding{Kind: kind, Text: fmt.Sprintf(format, args...)})
	}
	switch want := p.Status; {
	case want == 0 && status != 200, want == statusClient && (status < 400 || status > 499), want == statusAny && status >= 500,
		want >= 100 && status != int64(want):
		add(kindPage, "HTTP status %d", status)
	}
	if mime != "text/html" {
		add(kindPage, "answered %s, not an HTML page", mime)
	}
	fa, err := b.facts(width)
	if err != nil {
		add(kindPage, "checks did not run: %v", err)
		return out
	}
	if hits := productNames(fa.Title + "\n" + fa.Text); len(hits) > 0 {
		add(kindVendor, "%s", strings.Join(hits, ", "))
	}
	if m := residue.FindAllString(fa.Title+"\n"+fa.Words, 5); len(m) > 0 { // code may show a template
		add(kindPage, "unfilled text: %q", m)
	}
	if lang != "en" {
		if left := i18n.Untranslated(lang, fa.Title+"\n"+fa.Words); len(left) > 0 {
			for i, s := range left {
				left[i] = fmt.Sprintf("%q", s)
			}
			add(kindUntranslated, "(%d) %s", len(left), strings.Join(left, ", "))
		}
	}
	if lang != "en" {
		if bad := englishFormats(lang, fa.Words); len(bad) > 0 {
			add(kindLocale, "written the English way: %q", bad)
		}
	}
	if fa.Lang != lang {
		add(kindPage, `<html lang=%q>, want %q`, fa.Lang, lang)
	}
	for _, v := range fa.Violations {
		add(kindAxe, "%s (%s, %d elements): %s — %s", v.ID, v.Impact, v.Nodes, v.Help, strings.Join(v.Targets, "; "))
	}
	if width < 600 {
		// A phone widens the layout to the content (innerWidth) when
		// something sticks out; without that, the document scrolls.
		if !fa.ViewportMeta {
			add(kindPhone, "no <meta name=viewport>: a phone shows the page zoomed out")
		}
		if w := max(fa.ScrollWidth, fa.InnerWidth); w > width+1 {
			add(kindPhone, "scrolls sideways: %d px wide; sticking out: %s", w, strings.Join(fa.Wide, ", "))
		}
	}
	return out
}
