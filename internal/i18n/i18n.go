// Package i18n is the message catalogue of every page a customer, a
// visitor or a partner's staff reads, and the locale rules for numbers,
// dates and plurals. Messages live in locales/<area>.<lang>.json (one
// file per area and language, embedded), are looked up by id, may hold
// text/template placeholders ({{.Name}}) and plural forms by CLDR's rules
// (github.com/nicksnyder/go-i18n); numbers are grouped the language's way
// (golang.org/x/text/message).
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

//go:embed locales/*.json
var localeFS embed.FS

// Languages are the languages every message exists in, English first
// (the fallback for any other code).
var Languages = []string{"en", "de", "fr", "es", "nl"}

// Names are the languages' own names, for a language switch.
var Names = map[string]string{"en": "English", "de": "Deutsch", "fr": "Français", "es": "Español", "nl": "Nederlands"}

var (
	bundle     *goi18n.Bundle
	localizers = map[string]*goi18n.Localizer{}
	printers   = map[string]*message.Printer{}
	plain      = map[string]map[string]string{} // lang → id → text of messages without placeholders or plurals
	loadOnce   sync.Once
)

func load() {
	bundle = goi18n.NewBundle(language.English)
	bundle.RegisterUnmarshalFunc("json", json.Unmarshal)
	files, err := fs.Glob(localeFS, "locales/*.json")
	if err != nil {
		panic(err)
	}
	for _, l := range Languages {
		plain[l] = map[string]string{}
	}
	for _, f := range files {
		b, err := localeFS.ReadFile(f)
		if err != nil {
			panic(err)
		}
		if _, err := bundle.ParseMessageFileBytes(b, f); err != nil {
			panic(fmt.Sprintf("i18n: %s: %v", f, err))
		}
		raw := map[string]json.RawMessage{}
		if err := json.Unmarshal(b, &raw); err != nil {
			panic(fmt.Sprintf("i18n: %s: %v", f, err))
		}
		l := langOfFile(f)
		for id, v := range raw {
			var s string
			if json.Unmarshal(v, &s) == nil && !strings.Contains(s, "{{") {
				if plain[l] == nil {
					plain[l] = map[string]string{}
				}
				plain[l][id] = s
			}
		}
	}
	for _, l := range Languages {
		localizers[l] = goi18n.NewLocalizer(bundle, l)
		printers[l] = message.NewPrinter(language.MustParse(l))
	}
}

// langOfFile is the language of locales/<area>.<lang>.json.
func langOfFile(f string) string {
	base := strings.TrimSuffix(path.Base(f), ".json")
	return base[strings.LastIndexByte(base, '.')+1:]
}

func ensure() { loadOnce.Do(load) }

// Supported says whether code is one of Languages.
func Supported(code string) bool {
	for _, l := range Languages {
		if l == code {
			return true
		}
	}
	return false
}

// Pick returns code's language when supported ("de", "de-AT", "de_CH"),
// else English.
func Pick(code string) string {
	code = strings.ToLower(strings.TrimSpace(code))
	if i := strings.IndexAny(code, "-_"); i > 0 {
		code = code[:i]
	}
	if Supported(code) {
		return code
	}
	return "en"
}

// Negotiate returns the best supported language of an Accept-Language
// header, or "" when it names none of them.
func Negotiate(acceptLanguage string) string {
	if len(acceptLanguage) > 512 {
		acceptLanguage = acceptLanguage[:512]
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil {
		return ""
	}
	for _, t := range tags { // sorted by q already
		base, _ := t.Base()
		if Supported(base.String()) {
			return base.String()
		}
	}
	return ""
}

// Has says whether id has a message in lang (without falling back).
func Has(lang, id string) bool {
	ensure()
	loc, ok := localizers[lang]
	if !ok {
		return false
	}
	_, tag, err := loc.LocalizeWithTag(&goi18n.LocalizeConfig{MessageID: id, PluralCount: 2, TemplateData: map[string]any{}})
	return err == nil && tag.String() == lang
}

// T returns message id in lang (English when lang is not supported),
// with data filled into its placeholders. A message missing from lang
// falls back to English; one missing everywhere shows as [[id]], which
// the catalogue test and the page tests catch.
func T(lang, id string, data ...map[string]any) string {
	ensure()
	if len(data) == 0 {
		if s, ok := plain[lang][id]; ok {
			return s
		}
	}
	return localize(lang, id, nil, data)
}

// N returns plural message id in lang for count n, with {{.Count}} the
// number formatted in lang's way.
func N(lang, id string, n int64, data ...map[string]any) string {
	ensure()
	return localize(lang, id, n, data)
}

func localize(lang, id string, count any, data []map[string]any) string {
	loc, ok := localizers[lang]
	if !ok {
		lang, loc = "en", localizers["en"]
	}
	td := map[string]any{}
	for _, d := range data {
		for k, v := range d {
			td[k] = v
		}
	}
	if n, ok := count.(int64); ok {
		if _, set := td["Count"]; !set {
			td["Count"] = Number(lang, n)
		}
	}
	s, err := loc.Localize(&goi18n.LocalizeConfig{MessageID: id, TemplateData: td, PluralCount: count})
	if s == "" && err != nil {
		return "[[" + id + "]]"
	}
	return s
}

// Number formats n with lang's digit grouping (10,000 · 10.000 · 10 000).
func Number(lang string, n int64) string {
	ensure()
	p, ok := printers[lang]
	if !ok {
		p = printers["en"]
	}
	return p.Sprintf("%d", n)
}

// Decimal formats f with digits decimals in lang's way (12.5 · 12,5).
func Decimal(lang string, f float64, digits int) string {
	ensure()
	p, ok := printers[lang]
	if !ok {
		p = printers["en"]
	}
	return p.Sprintf("%.*f", digits, f)
}

// Percent formats a fraction (0.125) as a percentage with one decimal in
// lang's way (12.5% · 12,5 % · 12,5 %).
func Percent(lang string, fraction float64) string {
	s := Decimal(lang, fraction*100, 1)
	switch lang {
	case "de", "es":
		return s + "\u00a0%"
	case "fr":
		return s + "\u202f%"
	}
	return s + "%"
}

// monthsShort are the months' short names by language.
var monthsShort = map[string][12]string{
	"en": {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"},
	"de": {"Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.", "Dez."},
	"fr": {"janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."},
	"es": {"ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic"},
	"nl": {"jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"},
}

// MonthsShort are the short month names in lang, January first (chart
// axes).
func MonthsShort(lang string) []string {
	m, ok := monthsShort[lang]
	if !ok {
		m = monthsShort["en"]
	}
	return m[:]
}

// dateLayouts are each language's layouts of a date and of a day and
// month (time.Format's), English's for any other language.
var dateLayouts = map[string]struct{ date, dayMonth string }{
	"en": {"2 Jan 2006", "2 Jan"},
	"de": {"02.01.2006", "02.01."},
	"fr": {"02/01/2006", "02/01"},
	"es": {"02/01/2006", "02/01"},
	"nl": {"02-01-2006", "02-01"},
}

func layouts(lang string) struct{ date, dayMonth string } {
	if l, ok := dateLayouts[lang]; ok {
		return l
	}
	return dateLayouts["en"]
}

// Date formats t's UTC day the way lang writes dates: 30 Nov 2026,
// 30.11.2026, 30/11/2026, 30/11/2026, 30-11-2026.
func Date(lang string, t time.Time) string { return t.UTC().Format(layouts(lang).date) }

// DateTime formats t in UTC as Date and a 24-hour time (15:04:05).
func DateTime(lang string, t time.Time) string {
	return Date(lang, t) + " " + t.UTC().Format("15:04:05")
}

// DayMonth formats t's day and month for chart axes: 30 Nov, 30.11.,
// 30/11, 30/11, 30-11.
func DayMonth(lang string, t time.Time) string { return t.UTC().Format(layouts(lang).dayMonth) }

// Separators are lang's decimal and grouping separators (for scripts
// that format numbers in the browser, such as the chart's axis).
func Separators(lang string) (decimal, group string) {
	s := Decimal(lang, 1234.5, 1) // 1,234.5 · 1.234,5 · 1 234,5
	return s[len(s)-2 : len(s)-1], strings.TrimSuffix(strings.TrimPrefix(s[:len(s)-2], "1"), "234")
}

// IDs are the ids of every English message, sorted.
func IDs() []string {
	ensure()
	ids := []string{}
	files, _ := fs.Glob(localeFS, "locales/*.en.json")
	for _, f := range files {
		b, _ := localeFS.ReadFile(f)
		raw := map[string]json.RawMessage{}
		_ = json.Unmarshal(b, &raw)
		for id := range raw {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}
