package waf

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/corazawaf/coraza/v3/types/variables"
)

// Redacted replaces a secret in Match.Data.
const Redacted = "[redacted]"

// secretWords mark a parameter whose value is a secret: a name holding
// one of them (case-insensitive) is redacted.
var secretWords = []string{
	"pass", "pwd", "secret", "token", "api_key", "apikey", "api-key", "access_key", "private_key",
	"authorization", "credential", "card", "cvv", "cvc", "ccnum", "cc_num", "iban", "ssn",
	"session", "sessid", "signature",
}

// secretSegments are short secret names that count only as a whole name
// or a whole segment of one (separated by _ - . [ ] or a space): "key",
// "api-key" and "json.user.pw" are secrets, "keyword" and "shipping" are
// not.
var secretSegments = []string{"pw", "key", "sid", "otp", "pin", "sig", "auth", "jwt"}

// secretHeaderWords mark a request header whose value is a secret: a name
// holding one of them (case-insensitive).
var secretHeaderWords = []string{"token", "auth", "key", "secret", "session", "cookie", "signature", "password"}

// maxSecretName bounds the bytes of a name that are looked at.
const maxSecretName = 256

// secretName reports whether a parameter name looks like a secret's.
func secretName(name string) bool {
	if len(name) > maxSecretName {
		name = name[:maxSecretName]
	}
	l := strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(l, w) {
			return true
		}
	}
	for len(l) > 0 {
		i := strings.IndexAny(l, "_-.[] ")
		seg := l
		if i >= 0 {
			seg, l = l[:i], l[i+1:]
		} else {
			l = ""
		}
		if len(seg) <= 4 {
			for _, w := range secretSegments {
				if seg == w {
					return true
				}
			}
		}
	}
	return false
}

// secretHeader reports whether a request header's value is a secret.
func secretHeader(name string) bool {
	if len(name) > maxSecretName {
		name = name[:maxSecretName]
	}
	l := strings.ToLower(name)
	for _, w := range secretHeaderWords {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// RedactQuery returns the query string q with the value of every
// parameter whose name looks like a secret's (secretName: password, pw,
// token, key, session, …) replaced by Redacted; everything else is kept
// byte for byte. Its work is linear in len(q).
func RedactQuery(q string) string {
	if !strings.Contains(q, "=") {
		return q
	}
	var b strings.Builder
	rest := q
	changed := false
	for first := true; first || rest != ""; first = false {
		part := rest
		if i := strings.IndexByte(rest, '&'); i >= 0 {
			part, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if !first {
			b.WriteByte('&')
		}
		name, value, ok := strings.Cut(part, "=")
		if ok && value != "" && secretName(queryName(name)) {
			b.WriteString(name)
			b.WriteString("=" + Redacted)
			changed = true
			continue
		}
		b.WriteString(part)
	}
	if !changed {
		return q
	}
	if strings.HasSuffix(q, "&") {
		b.WriteByte('&')
	}
	return b.String()
}

// queryName decodes a query parameter's name (its first maxSecretName
// bytes) as PHP and Go read it.
func queryName(name string) string {
	if len(name) > maxSecretName {
		name = name[:maxSecretName]
	}
	if strings.ContainsAny(name, "%+") {
		if d, err := url.QueryUnescape(name); err == nil {
			return d
		}
	}
	return name
}

// secretAssignment finds name=value and "name": "value" pairs in data
// that is not one named input (a URI, a raw body); the ones whose name
// looks like a secret's (secretName) have their value cut out.
var secretAssignment = regexp.MustCompile(`([\w.\-\[\]]{1,128})("?\s*[=:]\s*"?)([^&;,"\s]*)`)

// jsonPair, xmlElement and multipartField find a JSON string member, an
// XML element and a multipart form field, to learn the secret values the
// body carries (those whose name looks like a secret's).
var (
	jsonPair       = regexp.MustCompile(`"([^"\\]{1,128})"\s*:\s*"((?:[^"\\]|\\.){1,1000})"`)
	xmlElement     = regexp.MustCompile(`<([\w:.\-]{1,128})(?:\s[^>]{0,256})?>([^<]{1,1000})<`)
	multipartField = regexp.MustCompile(`name="([^"]{1,128})"[^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*\r?\n([^\r\n]{1,1000})`)
)

// reqContext holds what the evaluation of one request's matches learns of
// the request lazily: nothing of it is computed for a request without
// matches.
type reqContext struct {
	in *Input

	pathDone bool
	cpath    string

	cookiesDone bool
	cookieNames []string

	secretsDone bool
	secrets     []string // lower case, at least minSecret bytes
}

// minSecret: shorter secret values are not searched for in other data
// (they would redact unrelated text); the named inputs holding them are
// still redacted whole.
const minSecret = 3

// maxSecrets bounds the secret values collected from one request, and
// maxSecretLen the bytes of each that are searched for (a longer secret's
// start is found and replaced; the rest lies beyond what a Match shows).
const (
	maxSecrets   = 64
	maxSecretLen = 1024
	scrubWindow  = MaxData + maxSecretLen + 256
)

// path is the request's canonical path.
func (rc *reqContext) path() string {
	if !rc.pathDone {
		rc.pathDone = true
		rc.cpath = canonicalPath(rc.in.Path)
	}
	return rc.cpath
}

// hasCookiePrefix reports whether the request carries a cookie whose name
// starts with prefix.
func (rc *reqContext) hasCookiePrefix(prefix string) bool {
	if !rc.cookiesDone {
		rc.cookiesDone = true
		for _, h := range rc.in.Header.Values("Cookie") {
			for part := range strings.SplitSeq(h, ";") {
				name, _, _ := strings.Cut(part, "=")
				if name = strings.TrimSpace(name); name != "" && len(rc.cookieNames) < 256 {
					rc.cookieNames = append(rc.cookieNames, name)
				}
			}
		}
	}
	for _, n := range rc.cookieNames {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}

// redact returns value as a Match may show it: cookie values,
// credentials and password-like parameters replaced by Redacted, and
// secrets the request carries elsewhere cut out of composite data.
func (rc *reqContext) redact(v variables.RuleVariable, key, value string) string {
	switch v {
	case variables.RequestCookies:
		return Redacted
	case variables.RequestHeaders:
		if secretHeader(key) {
			return Redacted
		}
	case variables.Args, variables.ArgsGet, variables.ArgsPost, variables.ArgsPath, variables.Files:
		if secretName(key) {
			return Redacted
		}
	}
	return rc.scrub(value)
}

// scrub cuts the request's secret values and secret-named assignments
// out of s.
func (rc *reqContext) scrub(s string) string {
	if s == "" {
		return s
	}
	// A Match shows MaxData bytes: scrub only what can reach them (a
	// secret starting there is at most maxSecretLen long).
	if len(s) > scrubWindow {
		s = s[:scrubWindow]
	}
	rc.collectSecrets()
	if len(rc.secrets) > 0 {
		// Each secret becomes a NUL first (secrets hold none), so one
		// secret is never searched for inside another's replacement.
		l := strings.ToLower(s)
		if len(l) != len(s) {
			s = l // lower-casing changed the length: show the lower-case form
		}
		for _, sec := range rc.secrets {
			for from := 0; from < len(l); {
				i := strings.Index(l[from:], sec)
				if i < 0 {
					break
				}
				i += from
				s = s[:i] + "\x00" + s[i+len(sec):]
				l = l[:i] + "\x00" + l[i+len(sec):]
				from = i + 1
			}
		}
		if strings.IndexByte(s, 0) >= 0 {
			s = strings.ReplaceAll(s, "\x00", Redacted)
		}
	}
	return scrubAssignments(s)
}

// scrubAssignments replaces the value of every secret-named name=value or
// "name": "value" pair in s with Redacted.
func scrubAssignments(s string) string {
	idx := secretAssignment.FindAllStringSubmatchIndex(s, -1)
	if len(idx) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range idx {
		if m[6] == m[7] || !secretName(s[m[2]:m[3]]) {
			continue
		}
		b.WriteString(s[last:m[6]])
		b.WriteString(Redacted)
		last = m[7]
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// collectSecrets learns the secret values the request carries: cookie
// values, credentials, and the values of password-like parameters in the
// query and the body (urlencoded, JSON, multipart).
func (rc *reqContext) collectSecrets() {
	if rc.secretsDone {
		return
	}
	rc.secretsDone = true
	in := rc.in
	for _, h := range in.Header.Values("Cookie") {
		for part := range strings.SplitSeq(h, ";") {
			_, v, _ := strings.Cut(part, "=")
			rc.addSecret(strings.Trim(strings.TrimSpace(v), `"`))
		}
	}
	for name, vs := range in.Header {
		if strings.EqualFold(name, "Cookie") || !secretHeader(name) {
			continue
		}
		for _, v := range vs {
			rc.addSecret(v)
			if _, cred, ok := strings.Cut(v, " "); ok {
				rc.addSecret(strings.TrimSpace(cred))
			}
		}
	}
	rc.formSecrets(in.Query)
	if len(in.Body) > 0 {
		body := string(in.Body)
		rc.formSecrets(body)
		rc.bodySecrets(jsonPair, body)
		if strings.IndexByte(body, '<') >= 0 {
			rc.bodySecrets(xmlElement, body)
		}
		if strings.Contains(body, "name=\"") {
			rc.bodySecrets(multipartField, body)
		}
	}
}

// bodySecrets learns the values of the pairs re finds in body (name, then
// value) whose name looks like a secret's.
func (rc *reqContext) bodySecrets(re *regexp.Regexp, body string) {
	for _, m := range re.FindAllStringSubmatchIndex(body, -1) {
		if len(rc.secrets) >= maxSecrets {
			return
		}
		if secretName(body[m[2]:m[3]]) {
			rc.addSecret(strings.TrimSpace(body[m[4]:m[5]]))
		}
	}
}

// formSecrets learns the secret values of an urlencoded form.
func (rc *reqContext) formSecrets(q string) {
	if !strings.Contains(q, "=") {
		return
	}
	for part := range strings.SplitSeq(q, "&") {
		name, v, ok := strings.Cut(part, "=")
		if !ok || v == "" {
			continue
		}
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if !secretName(name) {
			continue
		}
		rc.addSecret(v)
		if d, err := url.QueryUnescape(v); err == nil {
			rc.addSecret(d)
		}
	}
}

func (rc *reqContext) addSecret(v string) {
	if len(v) < minSecret || len(rc.secrets) >= maxSecrets || strings.IndexByte(v, 0) >= 0 {
		return
	}
	if len(v) > maxSecretLen {
		v = v[:maxSecretLen]
	}
	l := strings.ToLower(v)
	for _, s := range rc.secrets {
		if s == l {
			return
		}
	}
	rc.secrets = append(rc.secrets, l)
}
