// Package waf is Palisade's website firewall: the OWASP Core Rule Set v4 on
// Coraza v3, evaluated per request for the engine, with per-website
// exclusions applied at run time (so every website at one paranoia level
// shares one compiled rule set), ready exclusion sets for common
// applications, virtual patches pushed by the operator or a partner, and a
// prefilter that skips requests with nothing CRS's request rules look for.
//
// The package knows nothing of websites, partners or the store: the engine
// gives it an Input and Options and gets a Result.
package waf

import (
	"net/http"
	"net/netip"
	"time"
)

// Attack classes a WAF match is filed under (Match.Class, Result.Class).
const (
	ClassSQLi     = "sqli"
	ClassXSS      = "xss"
	ClassRCE      = "rce"
	ClassLFI      = "lfi" // local file inclusion, path traversal, restricted files
	ClassRFI      = "rfi"
	ClassPHP      = "php"
	ClassJava     = "java"
	ClassGeneric  = "generic"  // 934: Node.js, SSRF, other injections
	ClassSession  = "session"  // 943: session fixation
	ClassProtocol = "protocol" // 911, 920, 921, 922: methods, protocol, multipart
	ClassScanner  = "scanner"  // 913: security scanners
	ClassPatch    = "virtual_patch"
)

// Classes lists every attack class, in a fixed order (statistics use it).
func Classes() []string {
	return []string{ClassSQLi, ClassXSS, ClassRCE, ClassLFI, ClassRFI, ClassPHP, ClassJava, ClassGeneric, ClassSession, ClassProtocol, ClassScanner, ClassPatch}
}

// Limits on what the WAF reads.
const (
	// MaxBody is the most request-body bytes an integration passes and the
	// WAF inspects; the rest is not inspected (Input.BodyTruncated).
	MaxBody = 128 << 10
)

// Input is one request as the WAF sees it. Strings may point into the
// caller's buffers; the WAF does not keep them after Evaluate returns.
type Input struct {
	ClientAddr netip.Addr
	Method     string
	Host       string
	Path       string // as sent, percent-encoded, no query
	Query      string // without "?"
	Proto      string // "HTTP/1.1"; "" is taken as HTTP/1.1
	Header     http.Header
	// IgnoreHeaders are canonical header names the WAF does not inspect:
	// the ones the integration's web server sets on the verdict request
	// (X-Palisade-Key, X-Original-Uri, ...), which are not the visitor's.
	IgnoreHeaders []string
	// Body is the request body the integration passed (at most MaxBody
	// bytes); nil when it passed none. BodyTruncated: the body was longer.
	Body          []byte
	BodyTruncated bool
}

// Exclusion says that some matches are fine. An exclusion drops the matches
// of the rules it names (RuleIDs, Tags; every rule when both are empty) on
// requests whose canonical path starts with Path ("" everywhere), and only
// matches on the named request parameters or cookies (Parameters; every
// input when empty). Cookie, when set, limits it to requests carrying a
// cookie whose name starts with it (an application's signed-in cookie).
// An exclusion must narrow something: at least one of RuleIDs, Tags, Path,
// Parameters.
type Exclusion struct {
	RuleIDs    []int    `json:"rule_ids,omitempty"`
	Tags       []string `json:"tags,omitempty"`
	Path       string   `json:"path,omitempty"`
	Parameters []string `json:"parameters,omitempty"`
	Cookie     string   `json:"cookie,omitempty"`
	Note       string   `json:"note,omitempty"`
}

// ExclusionSet is a ready set of exclusions for one application.
type ExclusionSet struct {
	Name        string // "wordpress"
	Title       string // "WordPress"
	Description string
	Default     bool // on for a website that did not choose
	Exclusions  []Exclusion
}

// Patch is a virtual patch: one rule pushed to many websites at once by
// the operator or a partner.
type Patch struct {
	ID      int64
	Name    string
	Reason  string
	Expires time.Time // zero: never
	// Exactly one of SecLang and Rule is set.
	SecLang string     // Coraza SecLang: SecRule/SecAction directives only
	Rule    *PatchRule // the project's own form
}

// PatchRule is a virtual patch in Palisade's own form: requests to Path
// (prefix; "" any) with Method ("" any) whose Target matches Op Value are
// blocked (Action "block", default) or only recorded ("log").
type PatchRule struct {
	Path   string `json:"path,omitempty"`
	Method string `json:"method,omitempty"`
	// Target is "path", "query", "body", "args" (every query and body
	// parameter), "arg:NAME", "header:NAME", "cookie:NAME" or "user_agent".
	Target string `json:"target"`
	// Op is "contains", "equals", "starts_with", "regex" (RE2) or "exists".
	Op     string `json:"op"`
	Value  string `json:"value,omitempty"`
	Action string `json:"action,omitempty"`
}

// Options are one website's WAF settings, compiled.
type Options struct {
	Paranoia   int // 1-4
	Threshold  int // inbound anomaly score that blocks (default 5)
	Exclusions *Exclusions
	// Patches are the patch sets that apply (the operator's, the partner's);
	// nil entries are skipped.
	Patches []*PatchSet
	Now     time.Time // expired patches do not apply
}

// Match is one rule that matched.
type Match struct {
	ID       int    `json:"id"`
	Message  string `json:"msg"`
	Class    string `json:"class"`
	Severity string `json:"severity,omitempty"` // critical, error, warning, notice
	// Variable is where it matched ("ARGS:id", "REQUEST_HEADERS:User-Agent").
	Variable string `json:"var,omitempty"`
	// Data is the matched data, at most 64 bytes, with cookie values,
	// Authorization and password-like parameters replaced by "[redacted]".
	Data  string `json:"data,omitempty"`
	Patch string `json:"patch,omitempty"` // the virtual patch's name
}

// Result is the WAF's answer for one request.
type Result struct {
	// Blocked: the anomaly score reached the threshold, or a virtual patch
	// blocks. Whether that blocks the request is the engine's business
	// (detect mode only records).
	Blocked bool
	// Patch is the name of the virtual patch that blocks ("" when none
	// does): a patch blocks whatever the website's WAF mode.
	Patch   string
	Score   int    // CRS inbound anomaly score after exclusions
	Class   string // the attack class of the highest-scoring match ("" none)
	Matches []Match
	// Skipped: the prefilter found nothing CRS's request rules look for and
	// the full evaluation did not run (virtual patches still did).
	Skipped bool
}
