package engine

import (
	"slices"
	"strings"
	"testing"
)

func TestMatcher(t *testing.T) {
	tokens := []string{"curl/", "googlebot", "bot", "HeadlessChrome", "he", "she", "hers"}
	m := newMatcher(tokens)
	cases := map[string][]string{
		"curl/8.5.0": {"curl/"},
		"Mozilla/5.0 (compatible; Googlebot/2.1)": {"googlebot", "bot"},
		"Mozilla/5.0 HEADLESSCHROME/120":          {"HeadlessChrome", "he"},
		"ushers":                                  {"she", "he", "hers"},
		"nothing here":                            {"he"},
		"":                                        nil,
		"\xff\x00bot":                             {"bot"},
	}
	for in, want := range cases {
		var got []string
		for _, id := range m.find(in, make([]int32, 0, 16)) {
			if !slices.Contains(got, tokens[id]) {
				got = append(got, tokens[id])
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("find(%q) = %v; want %v", in, got, want)
		}
	}
}

// TestMatcherAgainstContains cross-checks the automaton with strings.Contains
// on the user agents of testdata/ (and the real crawler user agents of
// ../shared/data when it is there).
func TestMatcherAgainstContains(t *testing.T) {
	uas := testUserAgents(t)
	sigs := builtinSignatures(t)
	tokens := make([]string, len(sigs))
	for i, s := range sigs {
		tokens[i] = strings.ToLower(s.Token)
	}
	m := newMatcher(tokens)
	for _, ua := range uas {
		found := map[int32]bool{}
		for _, id := range m.find(ua, make([]int32, 0, 64)) {
			found[id] = true
		}
		for id, tok := range tokens {
			if strings.Contains(strings.ToLower(ua), tok) != found[int32(id)] {
				t.Fatalf("token %q in %q: automaton says %v", tok, ua, found[int32(id)])
			}
		}
	}
}
