package i18n

import (
	"encoding/json"
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// placeholder matches a message's template actions ({{.Name}}).
var placeholder = regexp.MustCompile(`\{\{[^}]*\}\}`)

var (
	catalogues   = map[string]map[string][]string{}
	cataloguesMu sync.Mutex
)

// catalogue reads every file of lang: id → the message's texts (one, or
// one per plural form). Read once per language; callers must not change it.
func catalogue(lang string) map[string][]string {
	cataloguesMu.Lock()
	defer cataloguesMu.Unlock()
	if c, ok := catalogues[lang]; ok {
		return c
	}
	out := readCatalogue(lang)
	catalogues[lang] = out
	return out
}

func readCatalogue(lang string) map[string][]string {
	out := map[string][]string{}
	files, _ := fs.Glob(localeFS, "locales/*."+lang+".json")
	for _, f := range files {
		b, _ := localeFS.ReadFile(f)
		raw := map[string]json.RawMessage{}
		_ = json.Unmarshal(b, &raw)
		for id, v := range raw {
			var s string
			if json.Unmarshal(v, &s) == nil {
				out[id] = append(out[id], s)
				continue
			}
			forms := map[string]string{}
			if json.Unmarshal(v, &forms) == nil {
				for k, s := range forms {
					if k != "description" && k != "hash" {
						out[id] = append(out[id], s)
					}
				}
			}
		}
	}
	return out
}

// fragments are the literal parts of a message between its placeholders.
func fragments(s string) []string {
	var out []string
	for _, p := range placeholder.Split(s, -1) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Untranslated returns the English catalogue's strings that text (a
// rendered page's visible text in lang) contains, though lang has its own
// words for them. A string is left out when lang's catalogue uses it too
// (names such as "nginx", "Status" in German, or a word inside a longer
// translation), and so are strings shorter than four letters; a string of
// one word must stand as a word in text. For English, nothing is
// untranslated.
func Untranslated(lang, text string) []string {
	ensure()
	if lang == "en" || !Supported(lang) {
		return nil
	}
	en, other := catalogue("en"), catalogue(lang)
	var own strings.Builder
	for _, ss := range other {
		for _, s := range ss {
			own.WriteString(s)
			own.WriteByte('\n')
		}
	}
	theirs := own.String()
	seen := map[string]bool{}
	var found []string
	for _, ss := range en {
		for _, s := range ss {
			for _, f := range fragments(s) {
				if seen[f] || utf8.RuneCountInString(strings.Trim(f, " .,:;()·…-")) < 4 || !hasLetters(f) {
					continue
				}
				seen[f] = true
				if strings.Contains(theirs, f) {
					continue
				}
				if containsWord(text, f) {
					found = append(found, f)
				}
			}
		}
	}
	sort.Strings(found)
	return found
}

func hasLetters(s string) bool {
	n := 0
	for _, r := range s {
		if unicode.IsLetter(r) {
			n++
		}
	}
	return n >= 3
}

// containsWord reports whether text holds f with no letter or digit
// right before or after it.
func containsWord(text, f string) bool {
	for i := 0; ; {
		j := strings.Index(text[i:], f)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(f)
		before, _ := utf8.DecodeLastRuneInString(text[:start])
		after, _ := utf8.DecodeRuneInString(text[end:])
		first, _ := utf8.DecodeRuneInString(f)
		last, _ := utf8.DecodeLastRuneInString(f)
		if (!isWordRune(before) || !isWordRune(first)) && (!isWordRune(after) || !isWordRune(last)) {
			return true
		}
		i = start + 1
	}
}

func isWordRune(r rune) bool {
	return r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r))
}
