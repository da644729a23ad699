package waf

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/corazawaf/coraza/v3/types"
	"github.com/corazawaf/coraza/v3/types/variables"
)

// Limits on one exclusion.
const (
	maxExclusionRuleIDs = 100
	maxExclusionTags    = 20
	maxExclusionParams  = 50
	maxExclusionPath    = 512
	maxExclusionTag     = 100
	maxExclusionParam   = 128
	maxExclusionCookie  = 64
	maxExclusionNote    = 200
	maxRuleID           = 99999999
)

// Exclusions are a website's exclusions, compiled: its chosen sets and its
// own entries. A nil *Exclusions excludes nothing.
//
// How an exclusion's Parameters name an input:
//
//	id                       the request parameter "id": query string, urlencoded
//	                         or multipart body (also as an uploaded file's field),
//	                         and its name (ARGS_NAMES)
//	json.user.email          a JSON body field, as Coraza flattens it: "json",
//	                         then each key, dot-separated; array elements by index
//	                         (json.items.0.title)
//	cookie:NAME              the cookie NAME (its value and its name)
//	header:NAME              the request header NAME (case-insensitive)
//	ARGS:id, ARGS_GET:id,    the forms a WAF event shows (Match.Variable) are
//	ARGS_POST:id,            accepted as they are: every ARGS* form is the
//	ARGS_NAMES:id,           parameter, REQUEST_COOKIES* a cookie,
//	REQUEST_COOKIES:sid,     REQUEST_HEADERS* a header
//	REQUEST_HEADERS:Referer
//
// Names compare case-insensitively. A trailing "*" makes a name a prefix
// ("json.items.*", "wp_*", "cookie:wordpress_*"). Inputs that are not one
// named parameter, cookie or header (the path, the raw body, XML) cannot
// be named: exclude such matches by rule id or tag, narrowed by path.
type Exclusions struct {
	// sets are the chosen ready sets, compiled once per process and
	// shared by every website; own are the website's entries.
	sets [][]exclusion
	own  []exclusion
}

type exclusion struct {
	off    bool // excludes everything: ignored (compileExclusion)
	ids    map[int]struct{}
	tags   []string
	path   string // canonical
	cookie string
	params []param
}

type paramKind uint8

const (
	paramArg paramKind = iota + 1
	paramCookie
	paramHeader
)

// param is one named input of an exclusion.
type param struct {
	kind   paramKind
	name   string // lower case
	prefix bool
}

// readySets are the ready exclusion sets, compiled once.
var readySets struct {
	once   sync.Once
	order  []string
	byName map[string][]exclusion
	err    error

	mu sync.Mutex
	// shared holds one *Exclusions per combination of sets chosen by
	// websites without exclusions of their own (at most 2^len(Sets())).
	shared map[string]*Exclusions
}

func compiledSets() (order []string, byName map[string][]exclusion, err error) {
	readySets.once.Do(func() {
		readySets.byName = map[string][]exclusion{}
		for _, s := range Sets() {
			readySets.order = append(readySets.order, s.Name)
			list := make([]exclusion, 0, len(s.Exclusions))
			for i, e := range s.Exclusions {
				c, err := compileExclusion(e)
				if err != nil {
					readySets.err = fmt.Errorf("exclusion set %s, entry %d: %w", s.Name, i, err)
					return
				}
				list = append(list, c)
			}
			readySets.byName[s.Name] = list
		}
	})
	return readySets.order, readySets.byName, readySets.err
}

// CompileExclusions compiles the sets a website switched (name → on; a set
// left out keeps its Default) and its own exclusions. The sets are
// compiled once per process; websites without exclusions of their own
// that chose the same sets share one *Exclusions.
func CompileExclusions(sets map[string]bool, own []Exclusion) (*Exclusions, error) {
	order, byName, err := compiledSets()
	if err != nil {
		return nil, err
	}
	for name := range sets {
		if _, ok := byName[name]; !ok {
			return nil, fmt.Errorf("unknown exclusion set %q; sets are %s", name, strings.Join(order, ", "))
		}
	}
	defaults := map[string]bool{}
	for _, s := range Sets() {
		defaults[s.Name] = s.Default
	}
	ex := &Exclusions{}
	var key strings.Builder
	for _, name := range order {
		on := defaults[name]
		if v, ok := sets[name]; ok {
			on = v
		}
		if on && len(byName[name]) > 0 {
			ex.sets = append(ex.sets, byName[name])
			key.WriteString(name)
			key.WriteByte(',')
		}
	}
	if len(own) == 0 {
		readySets.mu.Lock()
		defer readySets.mu.Unlock()
		if shared := readySets.shared[key.String()]; shared != nil {
			return shared, nil
		}
		if readySets.shared == nil {
			readySets.shared = map[string]*Exclusions{}
		}
		readySets.shared[key.String()] = ex
		return ex, nil
	}
	for i, e := range own {
		c, err := compileExclusion(e)
		if err != nil {
			return nil, fmt.Errorf("exclusions[%d]: %w", i, err)
		}
		ex.own = append(ex.own, c)
	}
	return ex, nil
}

// compileExclusion compiles one exclusion. One that excludes everything
// (switchesOff; refused when saved since it was introduced) compiles to
// an exclusion that drops nothing, so a website stored with one before
// keeps its firewall, and its policy still compiles.
func compileExclusion(e Exclusion) (exclusion, error) {
	if err := validateExclusionFields(e); err != nil {
		return exclusion{}, err
	}
	if switchesOff(e) != "" {
		return exclusion{off: true}, nil
	}
	c := exclusion{cookie: e.Cookie}
	if len(e.RuleIDs) > 0 {
		c.ids = make(map[int]struct{}, len(e.RuleIDs))
		for _, id := range e.RuleIDs {
			c.ids[id] = struct{}{}
		}
	}
	c.tags = append(c.tags, e.Tags...)
	if e.Path != "" {
		c.path = canonicalPath(e.Path)
	}
	for _, p := range e.Parameters {
		c.params = append(c.params, parseParam(p))
	}
	return c, nil
}

// ValidateExclusion says what is wrong with one exclusion, in words a
// customer can act on (nil: fine). An exclusion that would switch the
// firewall off for the whole website (switchesOff) is refused: that is
// mode off or detect.
func ValidateExclusion(e Exclusion) error {
	if err := validateExclusionFields(e); err != nil {
		return err
	}
	if why := switchesOff(e); why != "" {
		return errors.New(why)
	}
	return nil
}

// switchesOff says why e would drop every rule's matches on the whole
// website ("" when it would not): it names no rule ids and no tags (or
// only tags almost every CRS rule carries), on every path ("" or "/"),
// on every parameter (none named, or "*"); or it names a tag almost every
// CRS rule carries (commonTag), which is the same on its path.
func switchesOff(e Exclusion) string {
	const instead = `; to stop the firewall from blocking, set waf.mode to "detect" (record only) or "off" instead`
	for _, t := range e.Tags {
		if commonTag(t) {
			return fmt.Sprintf("tags: %s is carried by almost every CRS rule, so this exclusion would switch the firewall off; name the rule ids or an attack tag (attack-sqli, attack-xss, paranoia-level/2, …)%s", quote(t), instead)
		}
	}
	if len(e.RuleIDs) > 0 || len(e.Tags) > 0 {
		return ""
	}
	if e.Path != "" && canonicalPath(e.Path) != "/" {
		return ""
	}
	every := len(e.Parameters) == 0
	for _, p := range e.Parameters {
		if pr := parseParam(p); pr.kind == paramArg && pr.prefix && pr.name == "" {
			every = true
		}
	}
	if !every {
		return ""
	}
	return "this exclusion names no rule_ids or tags, on every path and every parameter: it would switch the firewall off for the whole website; name the rules, a path or the parameters that are fine" + instead
}

// alwaysCommonTags are tags every CRS request rule carries (or nearly).
var alwaysCommonTags = []string{"owasp_crs", "owasp_crs/*", "application-multi", "language-multi", "platform-multi"}

var commonTags struct {
	once sync.Once
	set  map[string]bool
}

// commonTag reports whether tag t (case-insensitive) is one of
// alwaysCommonTags or carried by more than half of the scoring CRS rules
// at paranoia level 4, from the compiled rule infos (every level's
// compiled set holds every rule, the level only decides at run time which
// of them run: the default level's set, compiled anyway, is read).
func commonTag(t string) bool {
	commonTags.once.Do(func() {
		commonTags.set = map[string]bool{}
		for _, t := range alwaysCommonTags {
			commonTags.set[t] = true
		}
		fw, err := Default.Firewall(1)
		if err != nil {
			return
		}
		for t, n := range fw.tagCounts() {
			if 2*n > fw.scoringRules() {
				commonTags.set[t] = true
			}
		}
	})
	return commonTags.set[strings.ToLower(t)]
}

// tagCounts counts, per tag (lower case), the scoring CRS rules that
// carry it.
func (f *Firewall) tagCounts() map[string]int {
	counts := map[string]int{}
	for id, info := range f.rules {
		if info.points == 0 || !scoringPhase(id) {
			continue
		}
		seen := map[string]bool{}
		for _, t := range info.tags {
			if l := strings.ToLower(t); !seen[l] {
				seen[l] = true
				counts[l]++
			}
		}
	}
	return counts
}

// scoringRules is how many scoring CRS rules f holds.
func (f *Firewall) scoringRules() int {
	n := 0
	for id, info := range f.rules {
		if info.points > 0 && scoringPhase(id) {
			n++
		}
	}
	return n
}

// validateExclusionFields checks each field of e on its own.
func validateExclusionFields(e Exclusion) error {
	var errs []string
	add := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if len(e.RuleIDs) == 0 && len(e.Tags) == 0 && e.Path == "" && len(e.Parameters) == 0 {
		add("an exclusion must name at least one of rule_ids, tags, path or parameters (one that names none would switch the firewall off)")
	}
	if len(e.RuleIDs) > maxExclusionRuleIDs {
		add("rule_ids: at most %d rule ids, not %d", maxExclusionRuleIDs, len(e.RuleIDs))
	}
	for _, id := range e.RuleIDs {
		if id < 1 || id > maxRuleID {
			add("rule_ids: %d is not a rule id (CRS rule ids are numbers like 942100)", id)
			break
		}
		if id >= RuleBusy && id < RuleBusy+100 {
			add("rule_ids: %d is Palisade's own check (a request too large to inspect), which no exclusion lifts", id)
			break
		}
	}
	if len(e.Tags) > maxExclusionTags {
		add("tags: at most %d tags, not %d", maxExclusionTags, len(e.Tags))
	}
	for _, t := range e.Tags {
		if t == "" || len(t) > maxExclusionTag || !printable(t) {
			add("tags: %s is not a rule tag (1 to %d printable characters, like attack-sqli or paranoia-level/2)", quote(t), maxExclusionTag)
			break
		}
	}
	if e.Path != "" {
		switch {
		case !strings.HasPrefix(e.Path, "/"):
			add("path: %s must start with / (a path prefix like /wp-admin/)", quote(e.Path))
		case len(e.Path) > maxExclusionPath:
			add("path: at most %d bytes, not %d", maxExclusionPath, len(e.Path))
		case !printable(e.Path):
			add("path: %s holds a control character or a space (percent-encode it)", quote(e.Path))
		}
	}
	if len(e.Parameters) > maxExclusionParams {
		add("parameters: at most %d parameters, not %d", maxExclusionParams, len(e.Parameters))
	}
	for _, p := range e.Parameters {
		if p == "" || len(p) > maxExclusionParam || !printableOrSpace(p) {
			add("parameters: %s is not a parameter name (1 to %d printable bytes, like id, json.user.email, cookie:session or header:Referer)", quote(p), maxExclusionParam)
			break
		}
		if pr := parseParam(p); pr.name == "" && !pr.prefix {
			add("parameters: %s names no parameter after the colon", quote(p))
			break
		}
	}
	if len(e.Cookie) > maxExclusionCookie {
		add("cookie: at most %d bytes, not %d", maxExclusionCookie, len(e.Cookie))
	} else if e.Cookie != "" && !cookieName(e.Cookie) {
		add("cookie: %s is not the start of a cookie name (letters, digits and !#$%%&'*+-.^_`|~)", quote(e.Cookie))
	}
	if len(e.Note) > maxExclusionNote {
		add("note: at most %d bytes, not %d", maxExclusionNote, len(e.Note))
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "; "))
}

// quote quotes a customer's string for an error, shortened.
func quote(s string) string {
	if len(s) > 40 {
		s = truncate(s, 40) + "…"
	}
	return strconv.Quote(s)
}

func printable(s string) bool {
	for _, r := range s {
		if r == utf8RuneError || !unicode.IsPrint(r) || r == ' ' {
			return false
		}
	}
	return true
}

func printableOrSpace(s string) bool {
	for _, r := range s {
		if r == utf8RuneError || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

const utf8RuneError = '\uFFFD'

// cookieName reports whether s holds only RFC 6265 token characters.
func cookieName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

// parseParam reads one Parameters entry.
func parseParam(s string) param {
	p := param{kind: paramArg}
	if i := strings.IndexByte(s, ':'); i > 0 {
		switch strings.ToUpper(s[:i]) {
		case "COOKIE", "REQUEST_COOKIES", "REQUEST_COOKIES_NAMES":
			p.kind, s = paramCookie, s[i+1:]
		case "HEADER", "REQUEST_HEADERS", "REQUEST_HEADERS_NAMES":
			p.kind, s = paramHeader, s[i+1:]
		case "ARG", "ARGS", "ARGS_GET", "ARGS_POST", "ARGS_NAMES", "ARGS_GET_NAMES", "ARGS_POST_NAMES", "FILES", "FILES_NAMES":
			s = s[i+1:]
		}
	}
	if strings.HasSuffix(s, "*") {
		p.prefix, s = true, strings.TrimSuffix(s, "*")
	}
	p.name = strings.ToLower(s)
	return p
}

// kindOf says which kind of named input a Coraza variable is (0: none).
func kindOf(v variables.RuleVariable) paramKind {
	switch v {
	case variables.Args, variables.ArgsGet, variables.ArgsPost, variables.ArgsPath,
		variables.ArgsNames, variables.ArgsGetNames, variables.ArgsPostNames,
		variables.Files, variables.FilesNames:
		return paramArg
	case variables.RequestCookies, variables.RequestCookiesNames:
		return paramCookie
	case variables.RequestHeaders, variables.RequestHeadersNames:
		return paramHeader
	}
	return 0
}

func (p param) covers(kind paramKind, key string) bool {
	if kind != p.kind {
		return false
	}
	if p.prefix {
		return len(key) >= len(p.name) && strings.EqualFold(key[:len(p.name)], p.name)
	}
	return strings.EqualFold(key, p.name)
}

// drops reports whether an exclusion drops rule id's match.
func (ex *Exclusions) drops(id int, info *ruleInfo, mds []types.MatchData, rc *reqContext) bool {
	if ex == nil {
		return false
	}
	for i := range ex.own {
		if ex.own[i].drops(id, info, mds, rc) {
			return true
		}
	}
	for _, set := range ex.sets {
		for i := range set {
			if set[i].drops(id, info, mds, rc) {
				return true
			}
		}
	}
	return false
}

func (e *exclusion) drops(id int, info *ruleInfo, mds []types.MatchData, rc *reqContext) bool {
	if e.off {
		return false
	}
	if len(e.ids) > 0 || len(e.tags) > 0 {
		_, named := e.ids[id]
		for _, t := range e.tags {
			if named {
				break
			}
			for _, rt := range info.tags {
				if strings.EqualFold(t, rt) {
					named = true
					break
				}
			}
		}
		if !named {
			return false
		}
	}
	if e.path != "" && !pathHasPrefix(rc.path(), e.path) {
		return false
	}
	if e.cookie != "" && !rc.hasCookiePrefix(e.cookie) {
		return false
	}
	if len(e.params) == 0 {
		return true
	}
	// Every input the rule itself matched must be one the exclusion
	// names: an attack in another parameter still counts.
	seen := false
	for _, md := range mds {
		if md.ChainLevel() != 0 {
			continue
		}
		kind := kindOf(md.Variable())
		if kind == 0 {
			return false
		}
		covered := false
		for _, p := range e.params {
			if p.covers(kind, md.Key()) {
				covered = true
				break
			}
		}
		if !covered {
			return false
		}
		seen = true
	}
	return seen
}

// pathHasPrefix is strings.HasPrefix; a named function so the rule is in
// one place: a plain prefix of the canonical path ("/wp-admin" also
// covers "/wp-admin.php"; write "/wp-admin/" for the directory).
func pathHasPrefix(p, prefix string) bool { return strings.HasPrefix(p, prefix) }

// canonicalPath decodes percent-escapes once and resolves dot segments
// and repeated slashes; a trailing slash stays.
func canonicalPath(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if d, err := url.PathUnescape(p); err == nil {
		p = d
	}
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	c := path.Clean(p)
	if c != "/" && (strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")) {
		c += "/"
	}
	return c
}
