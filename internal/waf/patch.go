package waf

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/experimental"
)

// Limits on one virtual patch.
const (
	PatchMaxName       = 100
	PatchMaxReason     = 500
	PatchMaxSecLang    = 16 << 10
	PatchMaxDirectives = 50
	PatchMaxRuleID     = 899999 // CRS owns 900000-999999
	PatchMaxValue      = 4096   // a PatchRule's Value

	// PatchMaxRegexInsts bounds one regular expression of a patch: the
	// instructions of its compiled program (regexp/syntax, simplified).
	// Go's matcher runs up to one thread per instruction over every byte
	// it reads, about 18 ns per instruction and byte in the worst case
	// (Unicode classes): 150 instructions over a 16 KiB parameter are
	// ~45 ms. A pattern that is a plain literal, or a literal anchored at
	// the start of the value (\A), runs in linear time and counts 1.
	PatchMaxRegexInsts = 150
	// PatchMaxRegexCost bounds a whole patch: the sum over its patterns
	// of instructions times the variables the rule reads (each may hold
	// the same bytes), times the transformations + 1 under multiMatch.
	PatchMaxRegexCost = 150
)

// patchCacheSize bounds the registry's compiled patch sets (a variable
// for tests).
var patchCacheSize = 4096

// PatchSet is compiled virtual patches: one small Coraza WAF holding only
// the patches' rules (more than one when two patches use the same rule id
// or marker), evaluated in detection-only mode so that the set, not
// Coraza, decides what blocks (an expired patch is skipped without
// recompiling). Safe for concurrent use.
type PatchSet struct {
	patches []patchMeta
	groups  []*patchGroup
}

type patchMeta struct {
	name    string
	expires time.Time // zero: never
}

type patchGroup struct {
	waf     coraza.WAF
	patches []int // indexes into PatchSet.patches
	rules   map[int]patchRuleInfo
}

// patchRuleInfo is what the set knows of one rule (a chain: its starter).
type patchRuleInfo struct {
	patch  int  // index into PatchSet.patches
	blocks bool // deny, block or drop
	log    bool // recorded when it only passes
	own    bool // the project's own form: report the target, the last link
}

// Rule ids of the set's own body-processor rules (as CRS's
// coraza.conf-recommended), above every patch and CRS id.
const patchBaseRuleID = 9900001

// patchBase is the configuration every patch set runs under: request body
// access up to MaxBody (the rest is not inspected), JSON and XML bodies
// parsed as coraza.conf-recommended does, REQUEST_BODY set whatever the
// content type (JSON parameters are ARGS:json.NAME, as in CRS). Coraza only detects: the set
// decides what blocks.
var patchBase = fmt.Sprintf(`SecRuleEngine DetectionOnly
SecRequestBodyAccess On
SecRequestBodyLimit %d
SecRequestBodyInMemoryLimit %d
SecRequestBodyLimitAction ProcessPartial
SecRequestBodyJsonDepthLimit 1024
SecArgumentsLimit %d
SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\+|/)|text/)xml" "id:%d,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule REQUEST_HEADERS:Content-Type "^application/json" "id:%d,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule REQUEST_HEADERS:Content-Type "^application/[a-z0-9.-]+[+]json" "id:%d,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecAction "id:%d,phase:1,pass,nolog,ctl:forceRequestBodyVariable=On"
`, MaxBody, MaxBody, patchMaxArgs, patchBaseRuleID, patchBaseRuleID+1, patchBaseRuleID+2, patchBaseRuleID+3)

// patchMaxArgs is the patch sets' argument limit: more than a request
// can hold (each argument takes at least one byte of the body or query
// besides its separator), so that a patch reads every argument, not only
// the first 1000 (CRS's limit; PHP's json_decode reads them all).
const patchMaxArgs = 2 * MaxBody

func patchNewWAF(directives string) (coraza.WAF, error) {
	return coraza.NewWAF(coraza.NewWAFConfig().
		WithRequestBodyAccess().
		WithRequestBodyLimit(MaxBody).
		WithRequestBodyInMemoryLimit(MaxBody).
		WithDirectives(patchBase + directives))
}

// patchCloseWAF releases what Coraza's process-wide memoize cache keeps
// of w's compiled patterns (entries other WAFs share stay until their last
// owner closes). w keeps working: its rules hold their own references.
func patchCloseWAF(w coraza.WAF) {
	if c, ok := w.(experimental.WAFCloser); ok {
		_ = c.Close()
	}
}

// close releases the set's patterns from Coraza's memoize cache (the set
// still evaluates; its compiled rules are freed with it).
func (ps *PatchSet) close() {
	if ps == nil {
		return
	}
	for _, g := range ps.groups {
		patchCloseWAF(g.waf)
	}
}

// patchKey is the SHA-256 of the patches' content: id, name, expiry and
// rule text, each length-prefixed.
func patchKey(ps []Patch) [32]byte {
	h := sha256.New()
	var b [8]byte
	field := func(s string) {
		binary.BigEndian.PutUint64(b[:], uint64(len(s)))
		h.Write(b[:])
		h.Write([]byte(s))
	}
	for _, p := range ps {
		field(strconv.FormatInt(p.ID, 10))
		field(p.Name)
		if p.Expires.IsZero() {
			field("")
		} else {
			field(strconv.FormatInt(p.Expires.UnixNano(), 10))
		}
		field(p.SecLang)
		if p.Rule != nil {
			r := p.Rule
			field("rule")
			for _, s := range []string{r.Path, r.Method, r.Target, r.Op, r.Value, r.Action} {
				field(s)
			}
		} else {
			field("")
		}
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// PatchSet compiles patches into one set (shared with any other caller
// asking for the same patches; the registry keeps a bounded number). No
// patches: nil.
func (r *Registry) PatchSet(ps []Patch) (*PatchSet, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	k := patchKey(ps)
	if s := r.cachedPatchSet(k); s != nil {
		return s, nil
	}
	// Compiled outside the lock: two callers may compile the same set at
	// once; the first stored wins (the other is closed).
	s, err := compilePatchSet(ps)
	if err != nil {
		return nil, err
	}
	stored := r.storePatchSet(k, s)
	if stored != s {
		s.close()
	}
	return stored, nil
}

// cachedPatchSet returns the set stored under k (nil: none) and marks it
// most recently used.
func (r *Registry) cachedPatchSet(k [32]byte) *PatchSet {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.patchSets[k]
	if s != nil {
		r.touchPatchSet(k)
	}
	return s
}

// storePatchSet stores s under k unless a set is there already (which it
// returns), dropping the least recently used beyond patchCacheSize.
func (r *Registry) storePatchSet(k [32]byte, s *PatchSet) *PatchSet {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old := r.patchSets[k]; old != nil {
		r.touchPatchSet(k)
		return old
	}
	if r.patchSets == nil {
		r.patchSets = map[[32]byte]*PatchSet{}
	}
	r.patchSets[k] = s
	r.patchOrder = append(r.patchOrder, k)
	for len(r.patchOrder) > patchCacheSize {
		r.patchSets[r.patchOrder[0]].close()
		delete(r.patchSets, r.patchOrder[0])
		r.patchOrder = r.patchOrder[1:]
	}
	return s
}

// touchPatchSet moves k to the end of patchOrder (most recently used).
// Linear, but only on a compile-time lookup, never per request.
func (r *Registry) touchPatchSet(k [32]byte) {
	for i, o := range r.patchOrder {
		if o == k {
			copy(r.patchOrder[i:], r.patchOrder[i+1:])
			r.patchOrder[len(r.patchOrder)-1] = k
			return
		}
	}
}

// compiledPatch is one patch, validated and parsed.
type compiledPatch struct {
	seclang string
	rules   []patchDirective // rule starters and markers
}

func compilePatchSet(ps []Patch) (*PatchSet, error) {
	set := &PatchSet{patches: make([]patchMeta, len(ps))}
	type group struct {
		idx     []int
		ids     map[int]bool
		markers map[string]bool
		text    strings.Builder
		rules   map[int]patchRuleInfo
	}
	var groups []*group
	for i, p := range ps {
		if err := validatePatchFields(p); err != nil {
			return nil, fmt.Errorf("virtual patch %d (%q): %w", p.ID, p.Name, err)
		}
		text, own := p.SecLang, false
		if p.Rule != nil {
			var err error
			if text, err = p.Rule.SecLang(patchOwnRuleID(p.ID)); err != nil {
				return nil, fmt.Errorf("virtual patch %d (%q): %w", p.ID, p.Name, err)
			}
			own = true
		}
		dirs, err := checkPatchSecLang(text)
		if err != nil {
			return nil, fmt.Errorf("virtual patch %d (%q): %w", p.ID, p.Name, err)
		}
		set.patches[i] = patchMeta{name: p.Name, expires: p.Expires}
		// The first group where none of its rule ids or markers is taken.
		var g *group
		for _, cand := range groups {
			free := true
			for _, d := range dirs {
				if (d.id != 0 && cand.ids[d.id]) || (d.marker != "" && cand.markers[d.marker]) {
					free = false
					break
				}
			}
			if free {
				g = cand
				break
			}
		}
		if g == nil {
			g = &group{ids: map[int]bool{}, markers: map[string]bool{}, rules: map[int]patchRuleInfo{}}
			groups = append(groups, g)
		}
		g.idx = append(g.idx, i)
		for _, d := range dirs {
			if d.marker != "" {
				g.markers[d.marker] = true
			}
			if d.id != 0 {
				g.ids[d.id] = true
				g.rules[d.id] = patchRuleInfo{patch: i, blocks: d.blocks, log: d.log, own: own}
			}
		}
		g.text.WriteString(text)
		g.text.WriteString("\n")
	}
	for _, g := range groups {
		w, err := patchNewWAF(g.text.String())
		if err != nil {
			set.close()
			return nil, fmt.Errorf("compiling virtual patches: %w", err)
		}
		set.groups = append(set.groups, &patchGroup{waf: w, patches: g.idx, rules: g.rules})
	}
	return set, nil
}

// patchOwnRuleID is the rule id of a patch in the project's own form,
// derived from the patch's id (1..PatchMaxRuleID).
func patchOwnRuleID(patchID int64) int {
	if patchID <= 0 {
		return 1
	}
	return int((patchID-1)%PatchMaxRuleID) + 1
}

// evaluate runs the set's unexpired patches on in and adds their matches
// to res (Class ClassPatch, Patch the patch's name; Blocked when a
// blocking patch matched).
func (ps *PatchSet) evaluate(in *Input, now time.Time, res *Result) {
	if ps == nil {
		return
	}
	for _, g := range ps.groups {
		live := false
		for _, i := range g.patches {
			if ps.patches[i].live(now) {
				live = true
				break
			}
		}
		if !live {
			continue
		}
		ps.evaluateGroup(g, in, now, res)
	}
}

func (m patchMeta) live(now time.Time) bool {
	return m.expires.IsZero() || now.Before(m.expires)
}

func (ps *PatchSet) evaluateGroup(g *patchGroup, in *Input, now time.Time, res *Result) {
	// A panic in the rule engine on some input is recovered and counted
	// (as Evaluate does for CRS): the group's patches then found nothing.
	n, blocked, class, patch := len(res.Matches), res.Blocked, res.Class, res.Patch
	defer func() {
		if p := recover(); p != nil {
			recovered.Add(1)
			res.Matches, res.Blocked, res.Class, res.Patch = res.Matches[:n], blocked, class, patch
		}
	}()
	tx := g.waf.NewTransaction()
	defer func() { _ = tx.Close() }()
	feed(tx, in)
	rc := reqContext{in: in}
	for _, mr := range tx.MatchedRules() {
		info, ok := g.rules[mr.Rule().ID()]
		if !ok {
			continue
		}
		p := ps.patches[info.patch]
		if !p.live(now) || (!info.blocks && !info.log) {
			continue
		}
		if info.blocks {
			res.Blocked = true
			res.Class = ClassPatch
			if res.Patch == "" {
				res.Patch = p.name
			}
		}
		if len(res.Matches) >= MaxMatches {
			continue
		}
		m := Match{ID: mr.Rule().ID(), Message: mr.Message(), Class: ClassPatch, Patch: p.name}
		if m.Message == "" {
			m.Message = p.name
		}
		if mds := mr.MatchedDatas(); len(mds) > 0 {
			md := mds[0]
			if info.own {
				md = mds[len(mds)-1]
			}
			m.Variable = md.Variable().Name()
			if k := md.Key(); k != "" {
				m.Variable += ":" + k
			}
			m.Data = truncate(rc.redact(md.Variable(), md.Key(), md.Value()), MaxData)
		}
		res.Matches = append(res.Matches, m)
	}
}

// ValidatePatch says precisely what is wrong with a patch (for SecLang:
// the directive, line and Coraza's message), nil when it compiles.
func ValidatePatch(p Patch) error {
	if err := validatePatchFields(p); err != nil {
		return err
	}
	text := p.SecLang
	if p.Rule != nil {
		var err error
		if text, err = p.Rule.SecLang(patchOwnRuleID(p.ID)); err != nil {
			return err
		}
	}
	dirs, err := checkPatchSecLang(text)
	if err != nil {
		return err
	}
	// Every WAF compiled here is closed: validation keeps nothing in
	// Coraza's memoize cache.
	w, err := patchNewWAF(text)
	if err != nil {
		// Find the directive Coraza refuses: the shortest prefix that fails.
		for i := range dirs {
			pw, perr := patchNewWAF(patchJoin(dirs[:i+1]))
			if perr != nil {
				return fmt.Errorf("%s: Coraza: %s", dirs[i].where(), perr.Error())
			}
			patchCloseWAF(pw)
		}
		return fmt.Errorf("Coraza: %s", err.Error())
	}
	patchCloseWAF(w)
	return nil
}

func patchJoin(dirs []patchDirective) string {
	var b strings.Builder
	for _, d := range dirs {
		b.WriteString(d.text)
		b.WriteString("\n")
	}
	return b.String()
}

func validatePatchFields(p Patch) error {
	n := utf8.RuneCountInString(strings.TrimSpace(p.Name))
	switch {
	case n == 0:
		return errors.New("name: required")
	case n > PatchMaxName:
		return fmt.Errorf("name: at most %d characters", PatchMaxName)
	case !utf8.ValidString(p.Name) || strings.ContainsFunc(p.Name, patchControl):
		return errors.New("name: no control characters")
	case utf8.RuneCountInString(p.Reason) > PatchMaxReason:
		return fmt.Errorf("reason: at most %d characters", PatchMaxReason)
	case !utf8.ValidString(p.Reason):
		return errors.New("reason: not valid UTF-8")
	case strings.TrimSpace(p.SecLang) != "" && p.Rule != nil:
		return errors.New("give either seclang or rule, not both")
	case strings.TrimSpace(p.SecLang) == "" && p.Rule == nil:
		return errors.New("seclang or rule: required")
	}
	return nil
}

func patchControl(r rune) bool { return r < 0x20 || r == 0x7f }

// patchDirective is one directive of a patch, as the validator read it.
type patchDirective struct {
	n, line int    // 1-based directive number and first line
	text    string // the whole directive, continuations joined
	name    string // "SecRule", "SecAction", "SecMarker"
	id      int    // rule starters; 0 for chain links and markers
	marker  string // SecMarker's name
	blocks  bool
	log     bool
}

func (d patchDirective) where() string {
	return fmt.Sprintf("directive %d (line %d)", d.n, d.line)
}

// Allowed in a patch. Anything not listed here is refused.
var (
	patchVariables = patchSet("ARGS", "ARGS_NAMES", "ARGS_GET", "ARGS_GET_NAMES", "ARGS_POST", "ARGS_POST_NAMES",
		"ARGS_PATH", "ARGS_COMBINED_SIZE", "QUERY_STRING", "REQUEST_URI", "REQUEST_URI_RAW", "REQUEST_FILENAME",
		"REQUEST_BASENAME", "REQUEST_LINE", "REQUEST_METHOD", "REQUEST_PROTOCOL", "REQUEST_HEADERS",
		"REQUEST_HEADERS_NAMES", "REQUEST_COOKIES", "REQUEST_COOKIES_NAMES", "REQUEST_BODY", "REQUEST_BODY_LENGTH",
		"REQBODY_ERROR", "REQBODY_ERROR_MSG", "REQBODY_PROCESSOR", "FILES", "FILES_NAMES", "FILES_SIZES",
		"FILES_COMBINED_SIZE", "MULTIPART_FILENAME", "MULTIPART_NAME", "MULTIPART_PART_HEADERS",
		"MULTIPART_STRICT_ERROR", "XML", "JSON", "REMOTE_ADDR", "SERVER_NAME", "TX", "MATCHED_VAR",
		"MATCHED_VAR_NAME", "MATCHED_VARS", "MATCHED_VARS_NAMES", "URI_PARSE_ERROR")
	// Macros may also name the rule being run (%{RULE.id}).
	patchMacroCollections = patchSet("RULE")
	patchOperators        = patchSet("rx", "pm", "contains", "containsWord", "beginsWith", "endsWith", "streq",
		"strmatch", "eq", "ge", "gt", "le", "lt", "within", "ipMatch", "detectSQLi", "detectXSS",
		"validateByteRange", "validateUrlEncoding", "validateUtf8Encoding", "validateNid", "unconditionalMatch", "noMatch",
		"restpath")
	// Operators refused with a reason.
	patchRefusedOperators = map[string]string{
		"pmFromFile": "reads files", "pmf": "reads files", "ipMatchFromFile": "reads files",
		"ipMatchF": "reads files", "inspectFile": "runs programs", "rbl": "makes DNS queries",
		"geoLookup": "needs a geo database the WAF does not load", "pmFromDataset": "needs SecDataset",
		"ipMatchFromDataset": "needs SecDataset", "validateSchema": "reads files",
	}
	patchActions = patchSet("id", "phase", "msg", "logdata", "severity", "tag", "rev", "ver", "maturity",
		"accuracy", "t", "chain", "log", "nolog", "auditlog", "noauditlog", "capture", "multimatch", "pass",
		"deny", "block", "drop", "status", "setvar", "skipafter")
	patchRefusedActions = map[string]string{
		"exec": "runs programs", "setenv": "changes the process environment",
		"ctl": "changes the engine's configuration", "initcol": "opens persistent collections",
		"expirevar": "works on persistent collections", "allow": "would stop other patches",
		"redirect": "is not a blocking action a patch can take (use deny)",
		"skip":     "counts rules across patches (use skipAfter with a SecMarker of this patch)",
	}
	patchMarkerName = regexp.MustCompile(`^[A-Za-z0-9_.\-]{1,100}$`)
	patchMacro      = regexp.MustCompile(`%\{([^}.]*)`)
	patchAnyMacro   = regexp.MustCompile(`%\{([^}]*)\}?`)
)

func patchSet(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// patchSplit splits SecLang into directives the way Coraza's parser does:
// lines trimmed, blank and "#" lines skipped, a trailing backslash joins
// the next line.
func patchSplit(src string) ([]patchDirective, error) {
	var out []patchDirective
	var buf strings.Builder
	start := 0
	lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	for i, raw := range lines {
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' {
			continue
		}
		if strings.HasPrefix(line, "`") || strings.HasSuffix(line, "`") {
			return nil, fmt.Errorf("line %d: backtick blocks (SecDataset) are not allowed in a virtual patch", i+1)
		}
		if buf.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(line, "\\") {
			buf.WriteString(strings.TrimSuffix(line, "\\"))
			continue
		}
		buf.WriteString(line)
		out = append(out, patchDirective{n: len(out) + 1, line: start, text: buf.String()})
		buf.Reset()
		if len(out) > PatchMaxDirectives {
			return nil, fmt.Errorf("at most %d directives", PatchMaxDirectives)
		}
	}
	if buf.Len() > 0 {
		return nil, fmt.Errorf("line %d: the last directive ends with a backslash and nothing follows", start)
	}
	return out, nil
}

// checkPatchSecLang reads a patch's SecLang and checks it against the
// allow lists: directives, variables, operators, actions, ids, phases.
// Coraza itself compiles it afterwards.
func checkPatchSecLang(src string) ([]patchDirective, error) {
	switch {
	case len(src) > PatchMaxSecLang:
		return nil, fmt.Errorf("seclang: at most %d bytes", PatchMaxSecLang)
	case !utf8.ValidString(src):
		return nil, errors.New("seclang: not valid UTF-8")
	case strings.ContainsRune(src, 0):
		return nil, errors.New("seclang: contains a NUL byte")
	}
	dirs, err := patchSplit(src)
	if err != nil {
		return nil, err
	}
	if len(dirs) == 0 {
		return nil, errors.New("seclang: no directive")
	}
	ids := map[int]int{}
	markers := map[string]bool{}
	var skipTargets []struct {
		d      patchDirective
		marker string
	}
	inChain := false // the previous rule asked for a chain link
	totalCost := 0   // the patch's regular expressions (PatchMaxRegexCost)
	for i := range dirs {
		d := &dirs[i]
		name, opts, _ := strings.Cut(d.text, " ")
		opts = strings.TrimSpace(opts)
		if len(opts) >= 3 && opts[0] == '"' && opts[len(opts)-1] == '"' {
			opts = strings.Trim(opts, `"`)
		}
		for _, m := range patchMacro.FindAllStringSubmatch(d.text, -1) {
			c := strings.ToUpper(m[1])
			if !patchVariables[c] && !patchMacroCollections[c] {
				return nil, fmt.Errorf("%s: macro %%{%s} is not allowed in a virtual patch", d.where(), m[1])
			}
		}
		var acts []patchAction
		switch strings.ToLower(name) {
		case "secmarker":
			if inChain {
				return nil, fmt.Errorf("%s: SecMarker where the previous rule's chain expects a SecRule", d.where())
			}
			d.name = "SecMarker"
			if !patchMarkerName.MatchString(opts) {
				return nil, fmt.Errorf("%s: SecMarker needs a name of letters, digits, '_', '.', '-' (at most 100)", d.where())
			}
			if markers[opts] {
				return nil, fmt.Errorf("%s: marker %q is defined twice", d.where(), opts)
			}
			markers[opts] = true
			d.marker = opts
			continue
		case "secaction":
			if inChain {
				return nil, fmt.Errorf("%s: SecAction where the previous rule's chain expects a SecRule", d.where())
			}
			d.name = "SecAction"
			if opts == "" {
				return nil, fmt.Errorf("%s: SecAction needs actions", d.where())
			}
			if acts, err = patchParseActions(opts); err != nil {
				return nil, fmt.Errorf("%s: %w", d.where(), err)
			}
		case "secrule":
			d.name = "SecRule"
			vars, op, actText, err := patchRuleParts(opts)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", d.where(), err)
			}
			if err := patchCheckVariables(vars); err != nil {
				return nil, fmt.Errorf("%s: %w", d.where(), err)
			}
			// A /regex/ key is matched against every name of its collection.
			for _, key := range patchVariableRegexes(vars) {
				cost, err := patchRegexCost("@rx "+key, "", nil)
				if err != nil {
					return nil, fmt.Errorf("%s: variable key /%s/: %w", d.where(), key, err)
				}
				totalCost += cost
			}
			if err := patchCheckOperator(op); err != nil {
				return nil, fmt.Errorf("%s: %w", d.where(), err)
			}
			if actText != "" {
				if acts, err = patchParseActions(actText); err != nil {
					return nil, fmt.Errorf("%s: %w", d.where(), err)
				}
			}
			cost, err := patchRegexCost(op, vars, acts)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", d.where(), err)
			}
			totalCost += cost
			if totalCost > PatchMaxRegexCost {
				return nil, fmt.Errorf("%s: the patch's regular expressions are too complex together: %d instructions so far (each pattern's instructions times the variables its rule reads), at most %d in one patch", d.where(), totalCost, PatchMaxRegexCost)
			}
		default:
			return nil, fmt.Errorf("%s: directive %q is not allowed in a virtual patch (only SecRule, SecAction and SecMarker)", d.where(), name)
		}
		// Actions: allow list, id, phase, what the rule does.
		id, phase, chain := 0, "", false
		disruptive, nolog := "", false
		for _, a := range acts {
			if why, bad := patchRefusedActions[a.key]; bad {
				return nil, fmt.Errorf("%s: action %q %s and is not allowed in a virtual patch", d.where(), a.raw, why)
			}
			if !patchActions[a.key] {
				return nil, fmt.Errorf("%s: action %q is not allowed in a virtual patch", d.where(), a.raw)
			}
			switch a.key {
			case "msg", "logdata", "tag":
				// What these expand goes into events: no request data.
				for _, m := range patchAnyMacro.FindAllStringSubmatch(a.value, -1) {
					coll, _, _ := strings.Cut(m[1], ".")
					if !strings.EqualFold(coll, "RULE") {
						return nil, fmt.Errorf("%s: %s: macro %%{%s} may carry request data into events; a virtual patch's msg, logdata and tag may only use %%{RULE.…}", d.where(), a.key, m[1])
					}
				}
			}
			switch a.key {
			case "id":
				if id != 0 {
					return nil, fmt.Errorf("%s: a rule has one id", d.where())
				}
				n, err := strconv.Atoi(a.value)
				if err != nil || n < 1 || n > PatchMaxRuleID {
					return nil, fmt.Errorf("%s: id %q: a virtual patch's rule ids are 1-%d (CRS owns 900000-999999)", d.where(), a.value, PatchMaxRuleID)
				}
				id = n
			case "phase":
				if phase != "" {
					return nil, fmt.Errorf("%s: a rule has one phase", d.where())
				}
				phase = a.value
			case "chain":
				chain = true
			case "deny", "block", "drop", "pass":
				disruptive = a.key
			case "nolog":
				nolog = true
			case "log":
				nolog = false
			case "setvar":
				v := strings.ToLower(strings.TrimPrefix(a.value, "!"))
				if !strings.HasPrefix(v, "tx.") {
					return nil, fmt.Errorf("%s: action %q: setvar may only set TX variables", d.where(), a.raw)
				}
			case "skipafter":
				skipTargets = append(skipTargets, struct {
					d      patchDirective
					marker string
				}{*d, a.value})
			}
		}
		if inChain {
			// A chain link: the starter carries id, phase and disruptive action.
			if id != 0 || phase != "" {
				return nil, fmt.Errorf("%s: a chained rule takes no id or phase (its chain's first rule has them)", d.where())
			}
			inChain = chain
			continue
		}
		if id == 0 {
			return nil, fmt.Errorf("%s: every rule needs an id (1-%d)", d.where(), PatchMaxRuleID)
		}
		if prev, dup := ids[id]; dup {
			return nil, fmt.Errorf("%s: id %d is already used by directive %d", d.where(), id, prev)
		}
		ids[id] = d.n
		switch phase {
		case "", "2", "request", "1":
		default:
			return nil, fmt.Errorf("%s: phase %q: a virtual patch runs in phase 1 (headers) or 2 (body) only", d.where(), phase)
		}
		d.id, d.blocks, d.log = id, disruptive == "deny" || disruptive == "block" || disruptive == "drop", !nolog
		inChain = chain
	}
	if inChain {
		return nil, fmt.Errorf("%s: the rule asks for a chain but no SecRule follows", dirs[len(dirs)-1].where())
	}
	for _, s := range skipTargets {
		if !markers[s.marker] {
			return nil, fmt.Errorf("%s: skipAfter:%s names no SecMarker of this patch", s.d.where(), s.marker)
		}
	}
	return dirs, nil
}

// patchRegexCost checks the regular expression of a rule's operator (@rx,
// also negated; other operators cost nothing here) and returns its cost:
// the instructions of its compiled program (Coraza compiles "(?sm)" and
// the pattern), times the variables the rule reads, times the
// transformations + 1 under multiMatch. A plain literal, or a literal
// anchored at the start of the value, costs 1 (linear whatever its length).
func patchRegexCost(op, vars string, acts []patchAction) (int, error) {
	op = strings.TrimPrefix(strings.TrimSpace(op), "!")
	pat := op
	if strings.HasPrefix(op, "@") {
		name, arg, _ := strings.Cut(op[1:], " ")
		if name != "rx" {
			return 0, nil
		}
		pat = arg
	}
	re, err := syntax.Parse("(?sm)"+pat, syntax.Perl)
	if err != nil {
		return 0, nil // Coraza refuses it, in its words
	}
	re = re.Simplify()
	insts := 1
	if !patchLinearRegex(re) {
		prog, err := syntax.Compile(re)
		if err != nil {
			return 0, fmt.Errorf("@rx pattern: %v", err)
		}
		insts = len(prog.Inst)
		if insts > PatchMaxRegexInsts {
			return 0, fmt.Errorf("@rx pattern too complex: %d instructions, at most %d", insts, PatchMaxRegexInsts)
		}
	}
	nvars := 0
	for _, v := range strings.Split(vars, "|") {
		if v != "" && v[0] != '!' && v[0] != '&' {
			nvars++
		}
	}
	if nvars == 0 {
		nvars = 1
	}
	mult, ts := false, 0
	for _, a := range acts {
		switch a.key {
		case "multimatch":
			mult = true
		case "t":
			if !strings.EqualFold(a.value, "none") {
				ts++
			}
		}
	}
	cost := insts * nvars
	if mult {
		cost *= ts + 1
	}
	return cost, nil
}

// patchLinearRegex reports whether re starts with \A and is then a
// literal: one thread from the value's start, linear in the input. (An
// unanchored literal is not: Go's matcher starts a thread at every byte,
// and "aaa…ab" over "aaaa…" keeps as many alive as the literal is long.)
func patchLinearRegex(re *syntax.Regexp) bool {
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	if re.Op != syntax.OpConcat || re.Sub[0].Op != syntax.OpBeginText {
		return false
	}
	for _, sub := range re.Sub[1:] {
		if sub.Op != syntax.OpLiteral && sub.Op != syntax.OpEndText {
			return false
		}
	}
	return true
}

// patchRuleParts splits a SecRule's arguments as Coraza does: variables up
// to the first space, a quoted operator, optionally quoted actions.
func patchRuleParts(opts string) (vars, op, acts string, err error) {
	vars, rest, ok := strings.Cut(strings.Trim(opts, " "), " ")
	if !ok {
		return "", "", "", errors.New("SecRule needs variables, an operator and actions")
	}
	rest = strings.TrimLeft(rest, " ")
	if rest == "" || rest[0] != '"' {
		return "", "", "", errors.New("SecRule's operator must be in double quotes")
	}
	end := -1
	bs := 0
	for i := 1; i < len(rest); i++ {
		if rest[i] == '\\' {
			bs++
			continue
		}
		if rest[i] == '"' && bs%2 == 0 {
			end = i
			break
		}
		bs = 0
	}
	if end < 0 {
		return "", "", "", errors.New("SecRule's operator has no closing double quote")
	}
	op = strings.ReplaceAll(rest[1:end], `\"`, `"`)
	rest = strings.TrimLeft(rest[end+1:], " ")
	if rest == "" {
		return vars, op, "", nil
	}
	if len(rest) < 2 || rest[0] != '"' || rest[len(rest)-1] != '"' {
		return "", "", "", errors.New("SecRule's actions must be in double quotes")
	}
	return vars, op, rest[1 : len(rest)-1], nil
}

// patchCheckVariables checks every collection a rule reads. It reads the
// variables more strictly than Coraza: each is [!&]NAME[:KEY], KEY being
// a plain name (an XPath for XML and JSON), a /regex/ or a '/regex/', and
// a regex ends the variable (Coraza would read what follows it as the next
// variable's name); anything else is refused.
func patchCheckVariables(vars string) error {
	if vars == "" {
		return errors.New("SecRule needs variables")
	}
	for i := 0; i < len(vars); {
		j := i
		for j < len(vars) && (vars[j] == '!' || vars[j] == '&') {
			j++
		}
		k := j
		for k < len(vars) && vars[k] != ':' && vars[k] != '|' {
			k++
		}
		name := vars[j:k]
		if !patchVariables[strings.ToUpper(name)] {
			return fmt.Errorf("variable %q is not allowed in a virtual patch", name)
		}
		i = k
		if i < len(vars) && vars[i] == ':' {
			i++
			quoted := i < len(vars) && vars[i] == '\''
			if quoted {
				i++
			}
			if i < len(vars) && vars[i] == '/' && !(strings.EqualFold(name, "XML") || strings.EqualFold(name, "JSON")) {
				// A regex key, to its unescaped closing slash.
				i++
				for i < len(vars) && vars[i] != '/' {
					if vars[i] == '\\' {
						i++
					}
					i++
				}
				if i >= len(vars) {
					return fmt.Errorf("variable %q: its /regex/ key is not closed", name)
				}
				i++
				if quoted {
					if i >= len(vars) || vars[i] != '\'' {
						return fmt.Errorf("variable %q: its '/regex/' key is not closed", name)
					}
					i++
				}
			} else {
				if quoted {
					return fmt.Errorf("variable %q: a quoted key must be a '/regex/'", name)
				}
				k := i
				for k < len(vars) && vars[k] != '|' {
					if c := vars[k]; c == '\'' || c == '"' || (c == '/' && !(strings.EqualFold(name, "XML") || strings.EqualFold(name, "JSON"))) {
						return fmt.Errorf("variable %q: its key has a %q (a regex key is /regex/)", name, c)
					}
					k++
				}
				i = k
			}
		}
		if i < len(vars) {
			if vars[i] != '|' {
				return fmt.Errorf("variable %q: %q follows it where '|' or a space should", name, vars[i:])
			}
			i++
			if i == len(vars) {
				return errors.New("the variables end with '|'")
			}
		}
	}
	return nil
}

// patchVariableRegexes lists the /regex/ keys of a rule's variables (as
// patchCheckVariables reads them).
func patchVariableRegexes(vars string) []string {
	var out []string
	for i := 0; i < len(vars); i++ {
		if vars[i] != ':' {
			continue
		}
		j := i + 1
		if j < len(vars) && vars[j] == '\'' {
			j++
		}
		if j >= len(vars) || vars[j] != '/' {
			continue
		}
		k := j + 1
		for k < len(vars) && vars[k] != '/' {
			if vars[k] == '\\' {
				k++
			}
			k++
		}
		if k <= len(vars) {
			out = append(out, vars[j+1:min(k, len(vars))])
		}
		i = k
	}
	return out
}

// PatchRegexCost is a patch's regular expression cost, as bounded by
// PatchMaxRegexCost (0 for a patch without regular expressions): what
// the patches of one owner cost together on every request they run on.
func PatchRegexCost(p Patch) (int, error) {
	text := p.SecLang
	if p.Rule != nil {
		var err error
		if text, err = p.Rule.SecLang(patchOwnRuleID(p.ID)); err != nil {
			return 0, err
		}
	}
	dirs, err := patchSplit(text)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, d := range dirs {
		name, opts, _ := strings.Cut(d.text, " ")
		if !strings.EqualFold(name, "SecRule") {
			continue
		}
		vars, op, actText, err := patchRuleParts(strings.TrimSpace(opts))
		if err != nil {
			return 0, fmt.Errorf("%s: %w", d.where(), err)
		}
		acts, err := patchParseActions(actText)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", d.where(), err)
		}
		c, err := patchRegexCost(op, vars, acts)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", d.where(), err)
		}
		total += c
		for _, key := range patchVariableRegexes(vars) {
			if c, err = patchRegexCost("@rx "+key, "", nil); err != nil {
				return 0, fmt.Errorf("%s: %w", d.where(), err)
			}
			total += c
		}
	}
	return total, nil
}

// patchCheckOperator checks a rule's operator against the allow list.
func patchCheckOperator(op string) error {
	op = strings.TrimSpace(op)
	op = strings.TrimPrefix(op, "!")
	if !strings.HasPrefix(op, "@") {
		return nil // @rx
	}
	name, _, _ := strings.Cut(op[1:], " ")
	if why, bad := patchRefusedOperators[name]; bad {
		return fmt.Errorf("operator @%s %s and is not allowed in a virtual patch", name, why)
	}
	if !patchOperators[name] {
		return fmt.Errorf("operator @%s is not allowed in a virtual patch", name)
	}
	return nil
}

type patchAction struct{ key, value, raw string }

// patchParseActions splits an action list as Coraza does: commas outside
// single quotes, "key:value", the value's quotes removed.
func patchParseActions(s string) ([]patchAction, error) {
	var out []patchAction
	inQuotes := false
	start := 0
	add := func(part string) {
		part = strings.TrimSpace(part)
		if part == "" {
			return
		}
		k, v, _ := strings.Cut(part, ":")
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
			v = v[1 : len(v)-1]
		}
		out = append(out, patchAction{key: k, value: v, raw: part})
	}
	for i := 1; i < len(s); i++ {
		if s[i-1] == '\\' {
			continue
		}
		switch s[i] {
		case '\'':
			inQuotes = !inQuotes
		case ',':
			if !inQuotes {
				add(s[start:i])
				start = i + 1
			}
		}
	}
	if inQuotes {
		return nil, errors.New("an action's single quote is not closed")
	}
	add(s[start:])
	return out, nil
}

// Own-form patch rules.

var (
	patchParamName  = regexp.MustCompile(`^[A-Za-z0-9_.\-\[\]]{1,100}$`)
	patchHeaderName = regexp.MustCompile(`^[A-Za-z0-9_\-]{1,100}$`)
	patchMethod     = regexp.MustCompile(`^[A-Z]{1,20}$`)
)

// Validate says what is wrong with r, in words a partner can act on.
func (r *PatchRule) Validate() error {
	_, err := r.SecLang(1)
	return err
}

// patchTarget is the SecLang variable of a Target and whether it is a
// collection (so "exists" counts it).
func patchTarget(t string) (string, bool, error) {
	kind, name, hasName := strings.Cut(t, ":")
	switch {
	case t == "path":
		return "REQUEST_FILENAME", false, nil
	case t == "query":
		return "QUERY_STRING", false, nil
	case t == "body":
		return "REQUEST_BODY", false, nil
	case t == "args":
		return "ARGS", true, nil
	case t == "user_agent":
		return "REQUEST_HEADERS:User-Agent", true, nil
	case hasName && kind == "arg":
		if !patchParamName.MatchString(name) {
			return "", false, fmt.Errorf("target %q: a parameter name is 1-100 letters, digits, '_', '.', '-', '[', ']'", t)
		}
		return "ARGS:" + name, true, nil
	case hasName && kind == "header":
		if !patchHeaderName.MatchString(name) {
			return "", false, fmt.Errorf("target %q: a header name is 1-100 letters, digits, '_', '-'", t)
		}
		return "REQUEST_HEADERS:" + name, true, nil
	case hasName && kind == "cookie":
		if !patchParamName.MatchString(name) {
			return "", false, fmt.Errorf("target %q: a cookie name is 1-100 letters, digits, '_', '.', '-', '[', ']'", t)
		}
		return "REQUEST_COOKIES:" + name, true, nil
	}
	return "", false, fmt.Errorf(`target %q: one of "path", "query", "body", "args", "arg:NAME", "header:NAME", "cookie:NAME", "user_agent"`, t)
}

// patchLiteral writes s as an RE2 pattern matching it literally, with
// every ASCII character but letters and digits as \xHH: nothing in it can
// end a quoted SecLang string, start a macro or break a line.
func patchLiteral(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r >= 0x80:
			b.WriteRune(r)
		default:
			fmt.Fprintf(&b, `\x%02x`, r)
		}
	}
	return b.String()
}

// patchRegex rewrites a partner's RE2 pattern in its canonical form, with
// double quotes, spaces, '%' and control characters as \xHH (the
// canonical form never escapes them with a backslash, so this keeps the
// meaning), and ^ $ meaning the start and end of the value.
func patchRegex(p string) (string, error) {
	if _, err := regexp.Compile(p); err != nil {
		return "", err
	}
	re, err := syntax.Parse(p, syntax.Perl)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("(?-m:")
	for _, r := range re.String() {
		if r == '"' || r == ' ' || r == '%' || r < 0x20 || r == 0x7f {
			fmt.Fprintf(&b, `\x%02x`, r)
		} else {
			b.WriteRune(r)
		}
	}
	b.WriteString(")")
	return b.String(), nil
}

// SecLang converts the rule into SecLang with the given rule id: one
// chain (path, method, target), phase 2, deny or pass, no message (the
// match is reported under the patch's name). Every value is escaped, so
// nothing in it can change the rule.
func (r *PatchRule) SecLang(id int) (string, error) {
	if r == nil {
		return "", errors.New("rule: required")
	}
	action := "deny,status:403"
	switch r.Action {
	case "", "block":
	case "log":
		action = "pass"
	default:
		return "", fmt.Errorf(`rule.action %q: "block" (default) or "log"`, r.Action)
	}
	if r.Path != "" && (!strings.HasPrefix(r.Path, "/") || len(r.Path) > 1000) {
		return "", errors.New("rule.path: must start with / (at most 1000 characters)")
	}
	if r.Method != "" && !patchMethod.MatchString(r.Method) {
		return "", fmt.Errorf("rule.method %q: an HTTP method in capitals (GET, POST)", r.Method)
	}
	variable, collection, err := patchTarget(r.Target)
	if err != nil {
		return "", fmt.Errorf("rule.%w", err)
	}
	if len(r.Value) > PatchMaxValue || !utf8.ValidString(r.Value) {
		return "", fmt.Errorf("rule.value: at most %d bytes of UTF-8", PatchMaxValue)
	}
	trans := "t:none"
	if r.Target == "path" {
		trans = "t:none,t:urlDecodeUni,t:normalizePath"
	}
	var target string
	switch r.Op {
	case "contains", "equals", "starts_with":
		if r.Value == "" {
			return "", fmt.Errorf("rule.value: required for op %q", r.Op)
		}
		lit := patchLiteral(r.Value)
		switch r.Op {
		case "equals":
			lit = `\A` + lit + `\z`
		case "starts_with":
			lit = `\A` + lit
		}
		if _, err := patchRegexCost("@rx "+lit, variable, nil); err != nil {
			return "", fmt.Errorf("rule.value: %w (a substring of at most %d characters)", err, PatchMaxRegexInsts-5)
		}
		target = fmt.Sprintf(`SecRule %s "@rx %s" "%s"`, variable, lit, trans)
	case "regex":
		if r.Value == "" {
			return "", errors.New(`rule.value: required for op "regex"`)
		}
		re, err := patchRegex(r.Value)
		if err != nil {
			return "", fmt.Errorf("rule.value: not an RE2 regular expression: %v", err)
		}
		if _, err := patchRegexCost("@rx "+re, variable, nil); err != nil {
			return "", fmt.Errorf("rule.value: %w", err)
		}
		target = fmt.Sprintf(`SecRule %s "@rx %s" "%s"`, variable, re, trans)
	case "exists":
		if r.Value != "" {
			return "", errors.New(`rule.value: op "exists" takes no value`)
		}
		if collection {
			target = fmt.Sprintf(`SecRule &%s "@gt 0" "t:none"`, variable)
		} else {
			target = fmt.Sprintf(`SecRule %s "@rx ." "t:none"`, variable)
		}
	default:
		return "", fmt.Errorf(`rule.op %q: one of "contains", "equals", "starts_with", "regex", "exists"`, r.Op)
	}
	var links []string
	if before, route, rest := strings.Cut(r.Path, "/wp-json/"); rest {
		// A WordPress REST route: WordPress serves it also as
		// ?rest_route=/route (query or form) and /index.php/wp-json/route,
		// and matches routes case-insensitively.
		pat := fmt.Sprintf(`(?i)\A(?:%s(?:\x2findex\x2ephp)?\x2fwp\x2djson)?\x2f%s`, patchLiteral(before), patchLiteral(route))
		if _, err := patchRegexCost("@rx "+pat, "REQUEST_FILENAME|ARGS:rest_route", nil); err != nil {
			return "", fmt.Errorf("rule.path: a path with /wp-json/ is also matched as ?rest_route=, and this one is too long for that: %w", err)
		}
		links = append(links, fmt.Sprintf(`SecRule REQUEST_FILENAME|ARGS:rest_route "@rx %s" "t:none,t:urlDecodeUni,t:normalizePath"`, pat))
	} else if r.Path != "" {
		links = append(links, fmt.Sprintf(`SecRule REQUEST_FILENAME "@rx \A%s" "t:none,t:urlDecodeUni,t:normalizePath"`, patchLiteral(r.Path)))
	}
	if r.Method != "" {
		links = append(links, fmt.Sprintf(`SecRule REQUEST_METHOD "@rx \A%s\z" "t:none"`, r.Method))
	}
	links = append(links, target)
	// The first link carries id, phase and action; every link but the
	// last asks for the next.
	var b strings.Builder
	for i, l := range links {
		l = strings.TrimSuffix(l, `"`)
		if i == 0 {
			l += fmt.Sprintf(",id:%d,phase:2,%s,log", id, action)
		}
		if i < len(links)-1 {
			l += ",chain"
		}
		b.WriteString(l + "\"\n")
	}
	return b.String(), nil
}
