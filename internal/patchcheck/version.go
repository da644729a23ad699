package patchcheck

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Version is a parsed WordPress, Joomla, Drupal or Composer style version
// ("6.4.2", "1.2", "4.4.1-rc1", "8.x-1.5"), ordered like PHP's
// version_compare with two differences that matter for advisories:
// missing numeric parts count as zero ("1.0" equals "1.0.0", where PHP
// puts "1.0" first), and words PHP does not know ("x" in "8.x-1.x-dev",
// "trunk") are refused rather than sorted below "dev", so that an
// unordered version is never judged safe or affected by accident.
//
// Ordering of the words after the release numbers: dev < alpha (a) < beta
// (b) < rc < (the release itself, or a number) < pl (p, patch), so
// 1.2.3-dev < 1.2.3-alpha1 < 1.2.3-beta1 < 1.2.3-beta10 < 1.2.3-rc1 <
// 1.2.3 < 1.2.3-p1 < 1.2.3.1. A Drupal contrib core-compatibility prefix
// ("8.x-", "7.x-") is dropped: 8.x-1.12 is the 1.12.0 of Packagist's
// drupal/<project>. Build metadata after "+" is ignored, as in SemVer.
type Version struct {
	raw     string
	release []string // numbers without leading zeros
	suffix  []token  // what follows the release numbers
}

type token struct {
	rank int    // see wordRank; rankNumber for numbers
	num  string // the number without leading zeros, when rank == rankNumber
}

const rankNumber = 5

var wordRank = map[string]int{
	"dev": 1, "alpha": 2, "a": 2, "beta": 3, "b": 3, "rc": 4,
	"pl": 6, "p": 6, "patch": 6,
}

var drupalCorePrefix = regexp.MustCompile(`^[0-9]+\.x-`)

// errVersion is wrapped by every ParseVersion error.
var errVersion = errors.New("patchcheck: not a comparable version")

// maxVersionLen bounds what ParseVersion reads; real versions are short.
const maxVersionLen = 64

// ParseVersion parses s. It fails on an empty string, a string longer
// than 64 bytes, one that does not start with a number, or one holding a
// character or word outside the ordering above.
func ParseVersion(s string) (Version, error) {
	raw := s
	s = strings.TrimSpace(s)
	if s == "" || len(s) > maxVersionLen {
		return Version{}, fmt.Errorf("%w: %q", errVersion, raw)
	}
	s = strings.ToLower(s)
	if len(s) > 1 && s[0] == 'v' && isDigit(s[1]) {
		s = s[1:]
	}
	if i := strings.IndexByte(s, '+'); i >= 0 {
		s = s[:i]
	}
	s = drupalCorePrefix.ReplaceAllString(s, "")
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '.' || c == '-' || c == '_':
			i++
		case isDigit(c):
			j := i
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		case c >= 'a' && c <= 'z':
			j := i
			for j < len(s) && s[j] >= 'a' && s[j] <= 'z' {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		default:
			return Version{}, fmt.Errorf("%w: %q", errVersion, raw)
		}
	}
	if len(toks) == 0 || !isDigit(toks[0][0]) {
		return Version{}, fmt.Errorf("%w: %q", errVersion, raw)
	}
	v := Version{raw: strings.TrimSpace(raw)}
	i := 0
	for ; i < len(toks) && isDigit(toks[i][0]); i++ {
		v.release = append(v.release, trimZeros(toks[i]))
	}
	for ; i < len(toks); i++ {
		t := toks[i]
		if isDigit(t[0]) {
			v.suffix = append(v.suffix, token{rank: rankNumber, num: trimZeros(t)})
			continue
		}
		r, ok := wordRank[t]
		if !ok {
			return Version{}, fmt.Errorf("%w: %q (unknown word %q)", errVersion, raw, t)
		}
		v.suffix = append(v.suffix, token{rank: r})
	}
	return v, nil
}

// String is the version as it was given (trimmed).
func (v Version) String() string { return v.raw }

// IsZero reports whether v is the zero Version (never parsed).
func (v Version) IsZero() bool { return v.release == nil }

// Compare returns -1, 0 or +1 as v is older than, the same as, or newer
// than w.
func (v Version) Compare(w Version) int {
	n := max(len(v.release), len(w.release))
	for i := 0; i < n; i++ {
		if c := compareNum(at(v.release, i), at(w.release, i)); c != 0 {
			return c
		}
	}
	n = max(len(v.suffix), len(w.suffix))
	for i := 0; i < n; i++ {
		if c := compareToken(tokenAt(v.suffix, i), tokenAt(w.suffix, i)); c != 0 {
			return c
		}
	}
	return 0
}

// CompareVersions parses and compares two version strings.
func CompareVersions(a, b string) (int, error) {
	va, err := ParseVersion(a)
	if err != nil {
		return 0, err
	}
	vb, err := ParseVersion(b)
	if err != nil {
		return 0, err
	}
	return va.Compare(vb), nil
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "0"
}

// tokenAt treats a missing suffix token as the release itself (a zero),
// which sorts after dev/alpha/beta/rc and before pl.
func tokenAt(s []token, i int) token {
	if i < len(s) {
		return s[i]
	}
	return token{rank: rankNumber, num: "0"}
}

func compareToken(a, b token) int {
	if a.rank != b.rank {
		if a.rank < b.rank {
			return -1
		}
		return 1
	}
	if a.rank == rankNumber {
		return compareNum(a.num, b.num)
	}
	return 0
}

// compareNum compares decimal strings without leading zeros, of any length.
func compareNum(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

func trimZeros(s string) string {
	s = strings.TrimLeft(s, "0")
	if s == "" {
		return "0"
	}
	return s
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
