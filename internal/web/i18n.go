package web

import (
	"html/template"
	"time"

	"github.com/palisadehq/palisade/internal/i18n"
)

// The pages' words are in the catalogue of internal/i18n
// (internal/i18n/locales/<area>.<lang>.json); these are the template
// functions that read it.

// lang returns a supported language for code, English by default.
func lang(code string) string { return i18n.Pick(code) }

// tr translates key into l.
func tr(l, key string) string { return i18n.T(l, key) }

// i18nFuncs are the templates' functions for words, numbers and dates:
//
//	{{t .Lang "id"}}                      a message
//	{{tf .Lang "id" "Name" .X "Other" .Y}} a message with placeholders ({{.Name}})
//	{{tn .Lang "id" .Count}}              a plural message ({{.Count}} is formatted)
//	{{num .Lang 10000}}                   10,000 · 10.000
//	{{lpct .Lang 0.125}}                  12.5% · 12,5 %
//	{{ldate .Lang .T}} {{ltime .Lang .T}} 30 Nov 2026 · 30.11.2026 15:04:05
func i18nFuncs() template.FuncMap {
	return template.FuncMap{
		"t": tr,
		"tf": func(l, id string, kv ...any) string {
			d := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				if k, ok := kv[i].(string); ok {
					d[k] = kv[i+1]
				}
			}
			return i18n.T(l, id, d)
		},
		"tn":    func(l, id string, n any) string { return i18n.N(l, id, toInt64(n)) },
		"num":   func(l string, n any) string { return i18n.Number(l, toInt64(n)) },
		"lpct":  func(l string, f float64) string { return i18n.Percent(l, f) },
		"ldate": func(l string, t time.Time) string { return i18n.Date(l, t) },
		"ltime": func(l string, t time.Time) string { return i18n.DateTime(l, t) },
	}
}

func toInt64(n any) int64 {
	switch v := n.(type) {
	case int:
		return int64(v)
	case int64:
		return v
	case int32:
		return int64(v)
	case uint64:
		return int64(v)
	case uint32:
		return int64(v)
	case float64:
		return int64(v)
	}
	return 0
}
