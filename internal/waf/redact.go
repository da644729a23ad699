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
	"session", "sessid",
}

// secretName reports whether a parameter name looks like a secret's.
func secretName(name string) bool {
	if len(name) > 256 {
		name = name[:256]
	}
	l := strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// secretAssignment finds name=value and "name": "value" pairs whose name
// looks like a secret's, in data that is not one named input (a URI, a
// raw body).
var secretAssignment = regexp.MustCompile(`(?i)([\w.\-\[\]]*(?:` + secretAlternation() + `)[\w.\-\[\]]*"?\s*[=:]\s*"?)[^&;,"\s]*`)

func secretAlternation() string {
	q := make([]string, len(secretWords))
	for i, w := range secretWords {
		q[i] = regexp.QuoteMeta(w)
	}
	return strings.Join(q, "|")
}

// jsonSecret, xmlSecret and multipartSecret find a JSON string member,
// an XML element and a multipart form field whose name looks like a secret's, to learn the
// secret values the body carries.
var (
	jsonSecret      = regexp.MustCompile(`(?i)"([^"\\]{0,64}(?:` + secretAlternation() + `)[^"\\]{0,64})"\s*:\s*"((?:[^"\\]|\\.){1,1000})"`)
	xmlSecret       = regexp.MustCompile(`(?i)<([\w:.\-]{0,64}(?:` + secretAlternation() + `)[\w:.\-]{0,64})(?:\s[^>]{0,256})?>([^<]{1,1000})<`)
	multipartSecret = regexp.MustCompile(`(?i)name="([^"]{0,64}(?:` + secretAlternation() + `)[^"]{0,64})"[^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*\r?\n([^\r\n]{1,1000})`)
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
		switch strings.ToLower(key) {
		case "authorization", "proxy-authorization", "cookie", "x-api-key", "x-auth-token":
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
	return secretAssignment.ReplaceAllString(s, "${1}"+Redacted)
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
	for _, name := range []string{"Authorization", "Proxy-Authorization", "X-Api-Key", "X-Auth-Token"} {
		for _, v := range in.Header.Values(name) {
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
		for _, m := range jsonSecret.FindAllStringSubmatch(body, maxSecrets) {
			rc.addSecret(m[2])
		}
		if strings.IndexByte(body, '<') >= 0 {
			for _, m := range xmlSecret.FindAllStringSubmatch(body, maxSecrets) {
				rc.addSecret(strings.TrimSpace(m[2]))
			}
		}
		if strings.Contains(body, "name=\"") {
			for _, m := range multipartSecret.FindAllStringSubmatch(body, maxSecrets) {
				rc.addSecret(strings.TrimSpace(m[2]))
			}
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
