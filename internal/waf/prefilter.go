package waf

import (
	"bufio"
	"bytes"
	"fmt"
	"hash/maphash"
	"io/fs"
	"net/netip"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync/atomic"
	"unicode"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/libinjection-go"
	"golang.org/x/net/html"
)

// The prefilter answers one question cheaply: can any CRS request rule,
// at any paranoia level, match this request? When the answer is surely
// no, Evaluate skips the full evaluation (Result.Skipped).
//
// It is an allow list, not a detector: a request is clean only when
// every part CRS's request rules read has a shape known to be safe, and
// anything else goes to CRS. Specifically:
//
//   - GET or HEAD, HTTP/1.0 to HTTP/3, no body;
//   - the path from [A-Za-z0-9/._-], no "//", no segment starting with
//     "." (dot files, "..", "."), no extension CRS restricts
//     (tx.restricted_extensions, read from CRS);
//   - the query, if any: at most 16 distinct name=value pairs of
//     [A-Za-z0-9_.] and at most one "-" each (paranoia level 4 counts two
//     special characters in a parameter as an attack), no "..", no
//     session-fixation name;
//   - only headers browsers send, each of a browser's shape: User-Agent
//     as product/version tokens and flat comments, Accept, Accept-Language
//     and Accept-Encoding as lists of known items, Referer and Origin as
//     plain http(s) URLs (a Referer's query of the request query's
//     shape), the Sec-Fetch and client hint headers with their defined
//     values and known brands, cookies of [A-Za-z0-9_.-] with at most two
//     "-" per name and value (and WooCommerce's session cookie), Host a
//     domain name (not an address);
//   - no keyword of the CRS data files the request rules use
//     (@pmFromFile: lfi-os-files, restricted-files, ai-critical-artifacts,
//     unix-shell, windows-powershell-commands, java-classes, ssrf,
//     ssrf-no-scheme, scanners-user-agents, and 944300's words) nor of a
//     list of SQL, script, PHP and Java words, anywhere in the path, the
//     query, the cookies or the free-form header values;
//   - no parameter, cookie or user-agent word that is (or, for the
//     longer ones, starts with) a command of CRS's RCE rules, read from
//     their expressions at start;
//   - libinjection (the SQL injection and XSS detector of 942100,
//     942101, 941100 and 941101) finds nothing in the parameters, cookies,
//     user agent, Referer and path;
//   - the rules that decode base64 in parameters, cookies and the path
//     (934100, 934101, 934160: any token of letters and digits decodes to
//     something) match nothing in what they decode (pfB64RuleMatch);
//   - the user agent holds no command word, but for curl's own
//     "curl/8.5.0", in which no CRS rule reads one.
//
// The checks read the bytes in place. The verdicts on values that repeat
// (path, query, user agent, cookies, Referer, Accept headers, client
// hints, host) are kept, only when clean, in a small direct-mapped table of
// exact copies: a typical browser request is answered from it without
// allocating; a value seen for the first time is checked in full (and
// libinjection allocates).
//
// prefilter_test.go checks soundness: the full evaluation at paranoia
// levels 1 and 4 matches no rule for any request it passes, from the
// corpora, generated browser requests and their mutations.

// pfKeywords are words CRS's regular expressions look for that the
// shapes above do not already exclude: checked as case-insensitive
// substrings.
var pfKeywords = []string{
	// SQL: 942140, 942190, 942280, 942470 (names), 942480 (phrases: one
	// word of each), 942210 (like followed by a digit), 942250 (merge ...
	// using), 942361 (union, alter), 942380 (having), 942450 (0x...),
	// 942560 (1.e.), 942220 (whole-value magic numbers, as substrings)
	"information_", "msysaccess", "msysmodules", "msysobjects", "msysqueries", "msysrelationships",
	"msdb", "mysql.db", "northwind", "pg_", "tempdb", "schema_name", "sqlite_", "sysaux",
	"sys.database_name", "sysdatabases", "autonomous_transaction", "current_user", "varchar",
	"tbcreator", "dba_users", "dbms_", "openowa_util", "openquery", "openrowset", "sp_", "sql_",
	"utl_", "xp_", "waitfor", "select", "union", "insert", "delete", "having", "join", "outfile",
	"dumpfile", "infile", "load_file", "alter", "merge", "declare",
	// script (941130, 941170, 941180, 934100, 934130)
	"javascript", "vbscript", "livescript", "data:", "xhtml", "xmlns", "xlink", "formaction",
	"document.", "window.location", ".parentnode", ".innerhtml", "-moz-binding", "fromcharcode",
	"constructor", "prototype", "__proto__", "_js_function",
	// PHP (933131 server variables, 933140 php://)
	"auth_type", "http_", "path_info", "path_translated", "query_string", "request_uri", "php:",
	// Java (944100 to 944260; 944300 is read from CRS)
	"java", "processbuilder", "unmarshaller", "base64data", "clonetransformer", "xmldecoder",
	"forclosure", "filewriter", "instantiate", "invokertransformer", "prototypeclonefactory",
	"prototypeserializationfactory", "getproperty", "whileclosure", "classloader", "springframework",
	"ro0abq", "kztaau", "cs7qaf",
	// RCE launchers (932236, 932239, 932260, 932350): after these any
	// command later in the value counts, even inside a word ("Uptime ")
	"busybox", "nohup", "strace", "ltrace", "timeout", "time ", "time)", "time,", "command ", "command)",
	"command,", "env ", "env)", "env,", "eval ", "eval)", "eval,", "watch ", "watch)", "watch,",
}

// pfArgKeywords are looked for in parameters and cookies only (the
// rules that want them read no header): 942210 (like followed by a
// digit), 942560 (1.e.), 942220 (whole-value magic numbers, as
// substrings). (942450's "0x..." is not one: pfTokenRuleMatch runs its
// expression on the token exactly, and "0x" alone turned away one
// opaque token in 25, e.g. a clearance cookie, for nothing.)
var pfArgKeywords = []string{"like", "1.e.", "e-308", "1e309", "4294967295", "4294967296",
	"2147483647", "2147483648", "2147483649", "0000012345", "0000023456",
	// 942120 (also on the path)
	"xor", "regexp", "rlike", "isnull", "ilike", "notnull", "collate"}

// pfCommandWords are command words CRS's RCE expressions know beyond
// unix-shell.data.
var pfCommandWords = []string{"w", "id", "ls", "env", "set", "top", "htop", "who", "whoami", "whois", "ps",
	"psql", "pwd", "su", "df", "dir", "dmesg", "last", "uname", "hostname", "history", "iostat", "vmstat",
	"reboot", "shutdown", "screen", "aptitude", "mysql", "busybox", "command", "exec", "eval", "echo",
	"print", "printf", "kill", "sudo", "doas", "nc", "ncat", "netcat", "python", "python3", "perl", "ruby",
	"php", "node", "lua", "sh", "bash", "zsh", "ksh", "csh", "tcsh", "dash", "fish", "cat", "tac", "more",
	"less", "head", "tail", "grep", "find", "xargs", "wget", "curl", "ping", "telnet", "ssh", "scp", "ftp",
	"tftp", "rm", "cp", "mv", "chmod", "chown", "touch", "mkdir", "rmdir", "ln", "tar", "zip", "unzip",
	"gzip", "base64", "xxd", "od", "nl", "sort", "uniq", "cut", "awk", "sed", "tee", "time", "timeout",
	"nohup", "crontab", "at", "passwd", "shadow", "group", "ifconfig", "ip", "netstat", "ss", "route",
	"arp", "nmap", "yes", "help", "yum", "yarn", "apt", "dnf", "get", "post", "head", "7z"}

// pfCommandRules are the RCE rules whose command lists are read (a
// command's own regular expression, evasions left out).
var pfCommandRules = []int{932236, 932237, 932238, 932239, 932250, 932260, 932350}

// pfSessionNames are the parameter names 943110 and 943120 (session
// fixation) look for, whole and case-insensitive.
var pfSessionNames = []string{"jsessionid", "jservsession", "jwsession", "aspsessionid", "asp.net_sessionid",
	"asp.netsessionid", "phpsessid", "sessid", "sessionid", "weblogic", "session-id", "session_id", "cfid",
	"cftoken", "cfsid"}

// pfRegexRules are CRS rules whose regular expression is an alternation
// of plain words: the words are read from the rule and added to the
// keywords.
var pfRegexRules = []int{944300}

// pfDataFiles are the CRS data files request rules read with
// @pmFromFile (and the scanners' user agents), all keywords.
var pfDataFiles = []string{
	"lfi-os-files.data", "restricted-files.data", "ai-critical-artifacts.data", "unix-shell.data",
	"windows-powershell-commands.data", "java-classes.data", "ssrf.data", "ssrf-no-scheme.data",
	"scanners-user-agents.data", "php-variables.data", "restricted-upload.data",
}

// The path (REQUEST_FILENAME, REQUEST_BASENAME) is read by fewer rules:
// its own keywords are the data files of 930130, 930140, 934110, 934190
// and 944130 and the words of 934100, 934130 and 934170.
var (
	pfPathDataFiles = []string{"restricted-files.data", "ai-critical-artifacts.data", "ssrf.data",
		"ssrf-no-scheme.data", "java-classes.data"}
	pfPathKeywords = []string{"fromcharcode", "constructor", "__proto__", "_js_function", "data:",
		"javascript", "vbscript", "xor", "regexp", "rlike", "isnull", "ilike", "notnull", "collate"}
)

// pf is the prefilter's data, built once at start.
var pf = mustBuildPrefilter()

type prefilter struct {
	// commands are Unix command and shell words (the basenames of
	// unix-shell.data, the shell builtins, the commands of the RCE rules'
	// expressions): 932236, 932237, 932260
	// and 932350 read a parameter or cookie that starts with one as a
	// command ("id", "ls", "w", "passwd.x").
	commands map[string]struct{}
	// prefixes are the commands those rules read as such at the start
	// of a parameter whatever follows ("passwdx").
	prefixes   trie
	keywords   acDFA               // headers
	args       acDFA               // parameters and cookies: keywords and pfArgKeywords
	path       acDFA               // the path
	extensions map[string]struct{} // restricted extensions, lower case, without the dot
	// (Formerly tokenRaw and tokenLower: see headerRules.) Every CRS @rx that reads parameters or
	// cookies (names or values) and whose transformations leave a token
	// of pfTokenAlphabet as it is (tokenLower: but for lower case),
	// restricted to that alphabet (see pfRestrict): a token matches one
	// exactly when the rule would match it.
	tokenRules int // how many rules (or chains) they stand for
	// tokenNames are the parameter names rules read by name
	// (ARGS:_method), lower case: such a parameter or cookie goes to CRS.
	tokenNames map[string]bool
	// headerRules are the rules on the User-Agent and Referer read the
	// same way ("user-agent", "referer"), by list of transformations.
	headerRules map[string][]*pfPipeline
	// b64Rules are the rules on parameters, cookies or the path whose
	// transformations decode base64 (934100, 934101, 934160): run on a
	// token or path as their transformations leave it (pfB64RuleMatch).
	b64Rules []*pfB64Rule
}

func mustBuildPrefilter() *prefilter {
	p, err := buildPrefilter(coreruleset.FS)
	if err != nil {
		panic("waf: building the prefilter: " + err.Error())
	}
	return p
}

var restrictedExtRE = regexp.MustCompile(`tx\.restricted_extensions=([^']*)'`)

func buildPrefilter(crs fs.FS) (*prefilter, error) {
	readData := func(names []string) ([]string, error) {
		var words []string
		for _, name := range names {
			data, err := fs.ReadFile(crs, "@owasp_crs/"+name)
			if err != nil {
				return nil, err
			}
			sc := bufio.NewScanner(bytes.NewReader(data))
			for sc.Scan() {
				line := strings.TrimSpace(sc.Text())
				if line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				words = append(words, line)
			}
		}
		return words, nil
	}
	all, err := readData(pfDataFiles)
	if err != nil {
		return nil, err
	}
	all = append(all, pfKeywords...)
	for _, id := range pfRegexRules {
		w, err := ruleWords(crs, id)
		if err != nil {
			return nil, err
		}
		all = append(all, w...)
	}
	// (unix-shell-aliases.data, "l", "la", "ll", is not read: CRS's
	// expressions do not take them for commands, and "l." starts
	// Facebook's link-shim Referers.)
	shell, err := readData([]string{"unix-shell.data", "unix-shell-builtins.data"})
	if err != nil {
		return nil, err
	}
	commands := map[string]struct{}{}
	addCommand := func(w string) {
		w = strings.ToLower(w[strings.LastIndexByte(w, '/')+1:])
		w = strings.TrimRight(w, "-_.")
		if w != "" && !strings.ContainsAny(w, "${}") {
			commands[w] = struct{}{}
		}
	}
	for _, w := range append(shell, pfCommandWords...) {
		addCommand(w)
	}
	var prefixes []string
	for _, id := range pfCommandRules {
		lits, err := ruleCommands(crs, id)
		if err != nil {
			return nil, err
		}
		for _, l := range lits {
			w, open := strings.CutSuffix(l.s, "\x00")
			if w == "" || strings.ContainsRune(w, 0) {
				continue
			}
			// A command after a separator (";ls", "&ls", "$(ls") cannot
			// occur in the shapes the prefilter lets through.
			if c := w[0]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
				continue
			}
			addCommand(w)
			// What may follow a short command is not read reliably
			// from the expressions; three letters and more are
			// checked as prefixes too ("passwdx").
			if (!l.end || open) && len(w) >= 3 {
				prefixes = append(prefixes, w)
			}
		}
	}
	path, err := readData(pfPathDataFiles)
	if err != nil {
		return nil, err
	}
	path = append(path, pfPathKeywords...)

	init, err := fs.ReadFile(crs, "@owasp_crs/REQUEST-901-INITIALIZATION.conf")
	if err != nil {
		return nil, err
	}
	m := restrictedExtRE.FindSubmatch(init)
	if m == nil {
		return nil, fmt.Errorf("no tx.restricted_extensions in REQUEST-901-INITIALIZATION.conf")
	}
	p := &prefilter{extensions: map[string]struct{}{}, commands: commands}
	if err := p.prefixes.build(prefixes); err != nil {
		return nil, err
	}
	for _, e := range strings.Fields(string(m[1])) {
		e = strings.ToLower(strings.Trim(e, "./"))
		if e != "" {
			p.extensions[e] = struct{}{}
		}
	}
	if len(p.extensions) < 20 {
		return nil, fmt.Errorf("only %d restricted extensions read", len(p.extensions))
	}
	rules, err := buildTokenRules(crs)
	if err != nil {
		return nil, err
	}
	p.tokenNames, p.tokenRules, p.headerRules, p.b64Rules = rules.names, rules.n, rules.headers, rules.b64
	if len(p.b64Rules) < 3 {
		return nil, fmt.Errorf("only %d CRS rules decode base64 in parameters, cookies or the path", len(p.b64Rules))
	}
	if err := p.keywords.build(all, ""); err != nil {
		return nil, err
	}
	if err := p.args.build(append(all, pfArgKeywords...), pfTokenBytes); err != nil {
		return nil, err
	}
	if err := p.path.build(path, pfTokenBytes+"/"); err != nil {
		return nil, err
	}
	return p, nil
}

// pfTokenAlphabet is every byte a parameter or cookie token the
// prefilter passes may hold (WooCommerce's session cookie brings "%", and
// "|" once URL-decoded).
const pfTokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-%|"

// pfTokenVars are the collections whose values are single parameters or
// cookies (names or values) as the prefilter reads them.
var pfTokenVars = map[string]string{"ARGS": "arg", "ARGS_NAMES": "arg", "ARGS_GET": "arg", "ARGS_GET_NAMES": "arg",
	"REQUEST_COOKIES": "cookie", "REQUEST_COOKIES_NAMES": "cookie"}

// pfSameOnTokens are the transformations that change no token of
// pfTokenAlphabet without "%" (no byte they decode, strip or fold: a
// token with "%" is also checked URL-decoded), and pfLowerOnTokens those
// that only lower its case. A rule with any other
// (base64Decode, hexDecode, length, …) is left to the keyword checks.
var (
	pfSameOnTokens = map[string]bool{"none": true, "urldecode": true, "urldecodeuni": true, "htmlentitydecode": true,
		"jsdecode": true, "cssdecode": true, "removenulls": true, "replacenulls": true, "compresswhitespace": true,
		"removewhitespace": true, "trim": true, "trimleft": true, "trimright": true, "utf8tounicode": true,
		"escapeseqdecode": true, "replacecomments": true, "removecomments": true, "removecommentschar": true}
	pfLowerOnTokens = map[string]bool{"lowercase": true, "cmdline": true}
)

// pfHeaderAlphabets are the bytes the prefilter lets through in the
// headers whose rules are read like the parameters' (pfUserAgent, pfURL).
var pfHeaderAlphabets = map[string]string{
	"arg":        pfTokenAlphabet,
	"cookie":     pfTokenAlphabet,
	"user-agent": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-+/ (),;:",
	"referer":    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-/:?=&",
}

// pfPipeline is a header's rules that share one list of
// transformations: their expressions restricted to the header's
// alphabet, run on the value as the transformations leave it.
type pfPipeline struct {
	ts    []string // lower case
	multi bool     // multiMatch: every intermediate value too
	pats  []string
	re    *pfMatcher
}

// pfApplyT is a transformation on a value of the alphabets above as
// Coraza does it (false: not emulated, or not for this value).
func pfApplyT(t, v string) (string, bool) {
	switch t {
	case "urldecode", "urldecodeuni":
		if strings.IndexByte(v, '%') >= 0 {
			// Only WooCommerce's session cookie has one: "%7C" ("|").
			d := strings.ReplaceAll(strings.ReplaceAll(v, "%7C", "|"), "%7c", "|")
			if strings.IndexByte(d, '%') >= 0 {
				return "", false
			}
			v = d
		}
		return strings.ReplaceAll(v, "+", " "), true
	case "htmlentitydecode":
		return html.UnescapeString(v), true // Coraza's own
	case "removewhitespace":
		return strings.ReplaceAll(v, " ", ""), true
	case "compresswhitespace", "trim", "trimleft", "trimright":
		if strings.Contains(v, "  ") || strings.HasPrefix(v, " ") || strings.HasSuffix(v, " ") {
			return "", false
		}
		return v, true
	case "replacecomments", "removecomments", "removecommentschar":
		if strings.Contains(v, "--") || strings.Contains(v, "/*") || strings.Contains(v, "*/") || strings.IndexByte(v, '#') >= 0 {
			return "", false
		}
		return v, true
	case "none", "jsdecode", "cssdecode", "escapeseqdecode", "removenulls", "replacenulls", "utf8tounicode":
		// They act on "\\", NUL and bytes above 0x7f, in no alphabet.
		return v, true
	case "lowercase":
		return strings.ToLower(v), true
	case "cmdline":
		var b strings.Builder
		space := false
		for i := 0; i < len(v); i++ {
			c := v[i]
			switch c {
			case ' ', ',', ';':
				if !space {
					b.WriteByte(' ')
					space = true
				}
			case '/', '(':
				if space {
					s := b.String()[:b.Len()-1]
					b.Reset()
					b.WriteString(s)
				}
				space = false
				b.WriteByte(c)
			default:
				if c >= 'A' && c <= 'Z' {
					c += 'a' - 'A'
				}
				b.WriteByte(c)
				space = false
			}
		}
		return b.String(), true
	case "normalizepath", "normalisepath":
		if v == "" {
			return v, true
		}
		clean := filepath.Clean(v)
		if clean == "." {
			return "", true
		}
		if v[len(v)-1] == '/' {
			return clean + "/", true
		}
		return clean, true
	}
	return "", false
}

// pfCanonical drops from ts the transformations that change no value of
// kind the prefilter lets through (so that rules share pipelines):
// decoders of bytes no alphabet holds everywhere; for parameters and
// cookies (no space, "&", "/", "*", "#", "--", "..", and "." alone is
// judged apart) also the whitespace, comment, entity and path ones, and
// cmdLine is lowercase there; for the user agent (single inner spaces,
// no "&") the whitespace and entity ones.
func pfCanonical(kind string, ts []string) []string {
	var out []string
	for _, t := range ts {
		switch t {
		case "none", "jsdecode", "cssdecode", "escapeseqdecode", "removenulls", "replacenulls", "utf8tounicode":
			continue
		case "htmlentitydecode", "compresswhitespace", "trim", "trimleft", "trimright":
			if kind != "referer" {
				continue
			}
		case "removewhitespace", "replacecomments", "removecomments", "removecommentschar", "normalizepath", "normalisepath":
			if kind == "arg" || kind == "cookie" {
				continue
			}
		case "cmdline":
			if kind == "arg" || kind == "cookie" {
				t = "lowercase"
			}
		}
		if len(out) > 0 && out[len(out)-1] == t && (t == "lowercase") {
			continue
		}
		out = append(out, t)
	}
	return out
}

// pfInAlphabet reports whether every byte of v is in alphabet.
func pfInAlphabet(v, alphabet string) bool {
	for i := 0; i < len(v); i++ {
		if strings.IndexByte(alphabet, v[i]) < 0 {
			return false
		}
	}
	return true
}

// pfHeaderRuleMatch reports whether a rule of the header's pipelines
// matches v (a value of the header's alphabet).
func pfHeaderRuleMatch(header, v string) bool {
	alphabet := pfHeaderAlphabets[header]
	for _, p := range pf.headerRules[header] {
		cur := v
		if p.multi && p.re.MatchString(cur) {
			return true
		}
		for _, t := range p.ts {
			var ok bool
			if cur, ok = pfApplyT(t, cur); !ok || !pfInAlphabet(cur, alphabet) {
				// Not a value the restricted expressions judge exactly.
				return true
			}
			if p.multi && p.re.MatchString(cur) {
				return true
			}
		}
		if p.re.MatchString(cur) {
			return true
		}
	}
	return false
}

// pfMatcher runs alternatives of restricted expressions: those anchored
// at the value's start as one expression (one thread from the start:
// cheap however many), each of the others on its own (small: Go's
// backtracker).
type pfMatcher struct {
	anchored *regexp.Regexp // nil: none
	others   []*regexp.Regexp
	// needs[i], when set, holds strings one of which every match of
	// others[i] contains (case-insensitively): others[i] runs only on a
	// value that holds one.
	needs []*acDFA
	pats  []string // the alternatives as given (tests)
}

// newPFMatcher compiles the alternatives pats (syntax strings).
func newPFMatcher(pats []string) (*pfMatcher, error) {
	m := &pfMatcher{pats: pats}
	var anchored []string
	var res []*syntax.Regexp
	for _, p := range pats {
		re, err := syntax.Parse(p, syntax.Perl)
		if err != nil {
			return nil, err
		}
		res = append(res, pfSplitStart(re.Simplify())...)
	}
	for _, re := range res {
		p := re.String()
		if rest, ok := pfStripAnchor(re); ok {
			anchored = append(anchored, rest.String())
			continue
		}
		c, err := regexp.Compile(p)
		if err != nil {
			return nil, err
		}
		m.others = append(m.others, c)
		var need *acDFA
		if words, ok := pfNeeded(re.Simplify(), 0); ok && len(words) > 0 && len(words) <= 5000 {
			usable := true
			for _, w := range words {
				for i := 0; i < len(w) && usable; i++ {
					c := w[i]
					if c >= 'A' && c <= 'Z' {
						c += 'a' - 'A'
					}
					usable = strings.IndexByte(pfAlphabet, c) >= 0
				}
			}
			if usable {
				need = &acDFA{}
				if err := need.build(words, ""); err != nil {
					need = nil
				}
			}
		}
		m.needs = append(m.needs, need)
	}
	if len(anchored) > 0 {
		var err error
		if m.anchored, err = regexp.Compile(`\A(?:(?:` + strings.Join(anchored, ")|(?:") + "))"); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// pfSplitStart splits (?:\A|X)Y (CRS's RCE rules: a command at the start
// or after a launcher word) into \AY and XY, which match the same.
func pfSplitStart(re *syntax.Regexp) []*syntax.Regexp {
	if re.Op != syntax.OpConcat || len(re.Sub) < 2 {
		return []*syntax.Regexp{re}
	}
	first := re.Sub[0]
	for first.Op == syntax.OpCapture {
		first = first.Sub[0]
	}
	if first.Op != syntax.OpAlternate {
		return []*syntax.Regexp{re}
	}
	var others []*syntax.Regexp
	anchored := false
	for _, b := range first.Sub {
		if b.Op == syntax.OpBeginText {
			anchored = true
		} else {
			others = append(others, b)
		}
	}
	if !anchored || len(others) == 0 {
		return []*syntax.Regexp{re}
	}
	with := func(head *syntax.Regexp) *syntax.Regexp {
		return &syntax.Regexp{Op: syntax.OpConcat, Sub: append([]*syntax.Regexp{head}, re.Sub[1:]...)}
	}
	return []*syntax.Regexp{
		with(&syntax.Regexp{Op: syntax.OpBeginText}),
		with(&syntax.Regexp{Op: syntax.OpAlternate, Sub: others}),
	}
}

// pfStripAnchor returns re without its leading \A when every match of
// re starts with it.
func pfStripAnchor(re *syntax.Regexp) (*syntax.Regexp, bool) {
	switch re.Op {
	case syntax.OpCapture:
		return pfStripAnchor(re.Sub[0])
	case syntax.OpBeginText:
		return &syntax.Regexp{Op: syntax.OpEmptyMatch}, true
	case syntax.OpConcat:
		first, ok := pfStripAnchor(re.Sub[0])
		if !ok {
			return nil, false
		}
		c := *re
		c.Sub = append([]*syntax.Regexp{first}, re.Sub[1:]...)
		c.Sub0 = [1]*syntax.Regexp{}
		return &c, true
	case syntax.OpAlternate:
		c := *re
		c.Sub = nil
		c.Sub0 = [1]*syntax.Regexp{}
		for _, sub := range re.Sub {
			r, ok := pfStripAnchor(sub)
			if !ok {
				return nil, false
			}
			c.Sub = append(c.Sub, r)
		}
		return &c, true
	}
	return nil, false
}

func (m *pfMatcher) MatchString(s string) bool {
	if m.anchored != nil && m.anchored.MatchString(s) {
		return true
	}
	for i, re := range m.others {
		if n := m.needs[i]; n != nil && !n.contains(s) {
			continue
		}
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

func (m *pfMatcher) Match(b []byte) bool {
	if m.anchored != nil && m.anchored.Match(b) {
		return true
	}
	for i, re := range m.others {
		if n := m.needs[i]; n != nil && !n.containsBytes(b) {
			continue
		}
		if re.Match(b) {
			return true
		}
	}
	return false
}

// pfNeeded lists strings one of which every match of re contains
// (compared case-insensitively), each at least 3 bytes (false: none
// known).
func pfNeeded(re *syntax.Regexp, depth int) ([]string, bool) {
	if depth > 200 {
		return nil, false
	}
	switch re.Op {
	case syntax.OpLiteral:
		if len(re.Rune) < 3 {
			return nil, false
		}
		return []string{string(re.Rune)}, true
	case syntax.OpCapture, syntax.OpPlus:
		return pfNeeded(re.Sub[0], depth+1)
	case syntax.OpRepeat:
		if re.Min == 0 {
			return nil, false
		}
		return pfNeeded(re.Sub[0], depth+1)
	case syntax.OpAlternate:
		var out []string
		for _, sub := range re.Sub {
			w, ok := pfNeeded(sub, depth+1)
			if !ok {
				return nil, false
			}
			out = append(out, w...)
		}
		return out, true
	case syntax.OpConcat:
		// Adjacent literals together, else the most selective part: the
		// one whose shortest string is longest.
		var best []string
		bestMin := 0
		consider := func(w []string) {
			m := 1 << 30
			for _, x := range w {
				m = min(m, len(x))
			}
			if m > bestMin {
				best, bestMin = w, m
			}
		}
		var run []rune
		flush := func() {
			if len(run) >= 3 {
				consider([]string{string(run)})
			}
			run = nil
		}
		for _, sub := range re.Sub {
			if sub.Op == syntax.OpLiteral {
				run = append(run, sub.Rune...)
				continue
			}
			if sub.Op == syntax.OpEmptyMatch {
				continue // what the alphabet left of an evasion: nothing
			}
			flush()
			if w, ok := pfNeeded(sub, depth+1); ok {
				consider(w)
			}
		}
		flush()
		return best, best != nil
	}
	return nil, false
}

// pfRules is what buildTokenRules reads from CRS.
type pfRules struct {
	names   map[string]bool
	headers map[string][]*pfPipeline
	b64     []*pfB64Rule
	n       int // rules and chains read
	loose   int // chains left out (see buildTokenRules)
}

// buildTokenRules reads every rule (or chain) of CRS's request rules
// that applies @rx to parameters, cookies, the User-Agent or the Referer
// and compiles their expressions restricted to the bytes the prefilter
// lets through there (pfRestrict): for tokens (parameter and cookie
// names and values) two alternations, raw (run on the token) and lower
// (on it in lower case); for the two headers one per list of
// transformations. A chain matches only when every link does, so one
// link stands for it (the one that matches the fewest ordinary values),
// checked on every variable of it the prefilter reads this way; a link
// that reads parameters only by name (ARGS:_method) stands for them by
// the name (any parameter or cookie of that name goes to CRS). Links
// with transformations not emulated here (base64Decode, hexDecode, …)
// are left to the keyword checks, and rules that do not log (nolog: they
// set variables for others) are left out: what those others count
// (duplicate names) the shapes already exclude.
func buildTokenRules(crs fs.FS) (*pfRules, error) {
	files, err := fs.Glob(crs, "@owasp_crs/REQUEST-*.conf")
	if err != nil {
		return nil, err
	}
	type link struct {
		vars, op string
		acts     []patchAction
	}
	var chains [][]link
	var cur []link
	for _, f := range files {
		data, err := fs.ReadFile(crs, f)
		if err != nil {
			return nil, err
		}
		var buf strings.Builder
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if strings.HasSuffix(line, "\\") {
				buf.WriteString(strings.TrimSuffix(line, "\\"))
				continue
			}
			buf.WriteString(line)
			d := buf.String()
			buf.Reset()
			opts, ok := strings.CutPrefix(d, "SecRule ")
			if !ok {
				continue
			}
			vars, op, acts, err := patchRuleParts(opts)
			if err != nil {
				return nil, fmt.Errorf("%s: %v: %.80s", f, err, d)
			}
			actions, err := patchParseActions(acts)
			if err != nil {
				return nil, err
			}
			cur = append(cur, link{vars, op, actions})
			chained := false
			for _, a := range actions {
				chained = chained || a.key == "chain"
			}
			if !chained {
				chains = append(chains, cur)
				cur = nil
			}
		}
	}
	ordinary := map[string][]string{
		"arg": {"ver", "v", "4.6.0", "1", "2", "price", "paged", "orderby", "_ga", "GA1.1.417261248.1730758080",
			"woocommerce_items_in_cart", "utm_source", "google", "en", "a1b2c3", "1730758080123", "de_DE", "IwAR0abcdef"},
		"user-agent": {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
			"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"},
		"referer": {"https://shop.example.com/product/merino-scarf/", "https://www.google.com/"},
	}
	type cand struct {
		keys    []string
		headers map[string]*pfPipeline // one pattern each
		hits    int
	}
	out := &pfRules{names: map[string]bool{}, headers: map[string][]*pfPipeline{}}
	pipes := map[string]*pfPipeline{}
	for _, chain := range chains {
		nolog := false
		for _, a := range chain[0].acts {
			nolog = nolog || a.key == "nolog"
		}
		if nolog {
			continue
		}
		var best *cand
		for _, l := range chain {
			pat, isRx := strings.CutPrefix(l.op, "@rx ")
			if !isRx {
				continue
			}
			var ts []string
			emulated, low, multi := true, false, false
			for _, a := range l.acts {
				switch a.key {
				case "multimatch":
					multi = true
				case "t":
					t := strings.ToLower(a.value)
					if t == "none" {
						ts = ts[:0]
						continue
					}
					if _, ok := pfApplyT(t, "x"); !ok {
						emulated = false
					}
					low = low || pfLowerOnTokens[t]
					ts = append(ts, t)
				}
			}
			c := &cand{headers: map[string]*pfPipeline{}}
			for _, v := range strings.Split(l.vars, "|") {
				if strings.HasPrefix(v, "!") || strings.HasPrefix(v, "&") {
					continue
				}
				name, key, hasKey := strings.Cut(v, ":")
				name = strings.ToUpper(name)
				plainKey := hasKey && key != "" && !strings.HasPrefix(key, "/") && !strings.HasPrefix(key, "'")
				switch kind := pfTokenVars[name]; {
				case kind != "" && plainKey:
					c.keys = append(c.keys, strings.ToLower(key))
				case kind != "":
					c.headers[kind] = nil
				case name == "REQUEST_HEADERS":
					k := strings.ToLower(key)
					for _, h := range []string{"user-agent", "referer"} {
						if !hasKey || k == h || strings.HasPrefix(k, "/") || strings.HasPrefix(k, "'") {
							c.headers[h] = nil
						}
					}
				}
			}
			if !emulated && slices.Contains(ts, "base64decode") && (len(c.keys) > 0 || c.headers["arg"] != nil ||
				c.headers["cookie"] != nil || strings.Contains(strings.ToUpper(l.vars), "REQUEST_FILENAME")) {
				full, err := syntax.Parse("(?sm)"+pat, syntax.Perl)
				if err != nil {
					return nil, err
				}
				m, err := newPFMatcher([]string{full.String()})
				if err != nil {
					return nil, err
				}
				r := &pfB64Rule{ts: ts, multi: multi, re: m}
				if rs, ok := pfRestrictTo(full, pfB64RawAlphabet); ok {
					if r.raw, err = newPFMatcher([]string{rs.String()}); err != nil {
						return nil, err
					}
				}
				out.b64 = append(out.b64, r)
			}
			if len(c.keys) == 0 && len(c.headers) == 0 || !emulated {
				continue
			}
			re, err := syntax.Parse("(?sm)"+pat, syntax.Perl)
			if err != nil {
				return nil, err
			}
			hits := func(r *syntax.Regexp, kind string, f func(string) string) (int, error) {
				cre, err := regexp.Compile(r.String())
				if err != nil {
					return 0, err
				}
				n := 0
				for _, o := range ordinary[kind] {
					if cre.MatchString(f(o)) {
						n++
					}
				}
				return n, nil
			}
			for h := range c.headers {
				r, ok := pfRestrictTo(re, pfHeaderAlphabets[h])
				if !ok {
					delete(c.headers, h)
					continue
				}
				cts := pfCanonical(h, ts)
				p := &pfPipeline{ts: cts, multi: multi, pats: []string{r.String()}}
				n, err := hits(r, h, func(o string) string {
					for _, t := range cts {
						o, _ = pfApplyT(t, o)
					}
					return o
				})
				if err != nil {
					return nil, err
				}
				c.hits += n
				c.headers[h] = p
			}
			if best == nil || c.hits < best.hits {
				best = c
			}
		}
		if best == nil {
			continue
		}
		if len(chain) > 1 && best.hits > 0 {
			// Every link this way reads matches ordinary requests: the
			// chain is selective by a link read otherwise (the Host, a
			// TX variable); left to the keyword checks, as before.
			out.loose++
			continue
		}
		out.n++
		for _, k := range best.keys {
			out.names[k] = true
		}
		for h, p := range best.headers {
			key := fmt.Sprint(h, p.ts, p.multi)
			if q := pipes[key]; q != nil {
				q.pats = append(q.pats, p.pats...)
				continue
			}
			pipes[key] = p
			out.headers[h] = append(out.headers[h], p)
		}
	}
	if out.n < 40 {
		return nil, fmt.Errorf("only %d CRS rules read parameters or headers with @rx", out.n)
	}
	compile := newPFMatcher
	for _, ps := range out.headers {
		for _, p := range ps {
			if p.re, err = compile(p.pats); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// pfRestrict rewrites re to match exactly the same strings of
// pfTokenAlphabet, leaving out every branch that needs another byte
// (false: re matches no such string). On a token, a match of re can only
// read the token's bytes, so the rewritten expression matches a token
// exactly when re does.
func pfRestrictTo(re *syntax.Regexp, alphabet string) (*syntax.Regexp, bool) {
	return pfRestrict(re, alphabet, 0)
}

func pfRestrict(re *syntax.Regexp, alphabet string, depth int) (*syntax.Regexp, bool) {
	if depth > 1000 {
		return re, true // too deep to rewrite: keep it whole (still exact)
	}
	inAlpha := func(r rune) bool { return r < 0x80 && strings.IndexByte(alphabet, byte(r)) >= 0 }
	empty := &syntax.Regexp{Op: syntax.OpEmptyMatch}
	switch re.Op {
	case syntax.OpNoMatch:
		return nil, false
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			ok := inAlpha(r)
			if re.Flags&syntax.FoldCase != 0 {
				for f := unicode.SimpleFold(r); f != r && !ok; f = unicode.SimpleFold(f) {
					ok = inAlpha(f)
				}
			}
			if !ok {
				return nil, false
			}
		}
		return re, true
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		var rs []rune
		for i := 0; i < len(alphabet); i++ {
			c := rune(alphabet[i])
			in := re.Op != syntax.OpCharClass
			for j := 0; !in && j+1 < len(re.Rune); j += 2 {
				in = re.Rune[j] <= c && c <= re.Rune[j+1]
			}
			if in {
				rs = append(rs, c, c)
			}
		}
		if len(rs) == 0 {
			return nil, false
		}
		return &syntax.Regexp{Op: syntax.OpCharClass, Rune: rs}, true
	case syntax.OpCapture:
		return pfRestrict(re.Sub[0], alphabet, depth+1)
	case syntax.OpStar, syntax.OpQuest, syntax.OpPlus, syntax.OpRepeat:
		sub, ok := pfRestrict(re.Sub[0], alphabet, depth+1)
		if !ok {
			if re.Op == syntax.OpPlus || re.Op == syntax.OpRepeat && re.Min > 0 {
				return nil, false
			}
			return empty, true
		}
		c := *re
		c.Sub = []*syntax.Regexp{sub}
		c.Sub0 = [1]*syntax.Regexp{}
		return &c, true
	case syntax.OpConcat, syntax.OpAlternate:
		var subs []*syntax.Regexp
		for _, s := range re.Sub {
			r, ok := pfRestrict(s, alphabet, depth+1)
			if !ok {
				if re.Op == syntax.OpConcat {
					return nil, false
				}
				continue
			}
			subs = append(subs, r)
		}
		if len(subs) == 0 {
			return nil, false
		}
		c := *re
		c.Sub = subs
		c.Sub0 = [1]*syntax.Regexp{}
		return &c, true
	case syntax.OpBeginLine:
		// No alphabet holds a line break: the start of a line is the
		// start of the value (and so for the end).
		return &syntax.Regexp{Op: syntax.OpBeginText}, true
	case syntax.OpEndLine:
		return &syntax.Regexp{Op: syntax.OpEndText}, true
	}
	return re, true // anchors, word boundaries, empty match
}

// pfB64Rule is a CRS rule whose transformations decode base64 (t:urlDecodeUni,
// t:jsDecode, t:base64Decode, t:urlDecodeUni, …): whatever the alphabet
// of a token, what it decodes to is any bytes, so the rule's expression
// runs whole on the value as the transformations leave it.
type pfB64Rule struct {
	ts    []string // lower case
	multi bool
	re    *pfMatcher
	// raw is re restricted to pfB64RawAlphabet (pfRestrict), for the
	// value as given (nil: no such value matches).
	raw *pfMatcher
}

// pfB64RawAlphabet: the bytes of the tokens and paths the prefilter
// passes.
const pfB64RawAlphabet = pfTokenAlphabet + "/"

// pfB64RuleMatch reports whether a rule of pf.b64Rules may match v (a
// token or path): true when one matches, or when a transformation would
// act on the value in a way not emulated here.
func pfB64RuleMatch(v string) bool {
	for _, r := range pf.b64Rules {
		cur, last := v, ""
		matched := false
		// Each distinct value once: most transformations leave it as it is.
		match := func() bool {
			if matched && cur == last {
				return false
			}
			matched, last = true, cur
			if cur == v && pfInAlphabet(v, pfB64RawAlphabet) {
				return r.raw != nil && r.raw.MatchString(cur)
			}
			return r.re.MatchString(cur)
		}
		if r.multi && match() {
			return true
		}
		for _, t := range r.ts {
			var ok bool
			if cur, ok = pfB64ApplyT(t, cur); !ok {
				return true
			}
			if r.multi && match() {
				return true
			}
		}
		if match() {
			return true
		}
	}
	return false
}

// pfB64ApplyT is a transformation of a base64 rule on any bytes as
// Coraza does it (false: not emulated for this value).
func pfB64ApplyT(t, v string) (string, bool) {
	switch t {
	case "base64decode":
		return pfBase64Decode(v), true
	case "urldecodeuni", "urldecode":
		// pfApplyT's: "%7C" only, "+" a space.
		return pfApplyT(t, v)
	case "jsdecode":
		// Coraza's jsDecode acts from the first "\" only.
		return v, strings.IndexByte(v, '\\') < 0
	case "removewhitespace":
		// Coraza's: strings.Map dropping unicode.IsSpace (an invalid
		// byte becomes U+FFFD, which expressions read the same).
		return strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return -1
			}
			return r
		}, v), true
	case "replacecomments":
		return v, !strings.Contains(v, "/*")
	case "none":
		return v, true
	}
	return "", false
}

// pfBase64Decode is Coraza's t:base64Decode (strict): the bytes of the
// standard alphabet decoded up to the first other byte ("=", " ", "-",
// "_", "." …), CR and LF skipped, a last partial group kept.
func pfBase64Decode(src string) string {
	var dst []byte
	x, n := 0, 0
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '\r' || c == '\n' {
			continue
		}
		var d int
		switch {
		case c >= 'A' && c <= 'Z':
			d = int(c - 'A')
		case c >= 'a' && c <= 'z':
			d = int(c-'a') + 26
		case c >= '0' && c <= '9':
			d = int(c-'0') + 52
		case c == '+':
			d = 62
		case c == '/':
			d = 63
		default:
			i = len(src) // "=", " " and every other byte end decoding
			continue
		}
		x = x<<6 | d
		n++
		if n == 4 {
			dst = append(dst, byte(x>>16), byte(x>>8), byte(x))
			x, n = 0, 0
		}
	}
	switch n {
	case 2:
		dst = append(dst, byte(x<<12>>16))
	case 3:
		x <<= 6
		dst = append(dst, byte(x>>16), byte(x>>8))
	}
	return string(dst)
}

// pfTokenName reports whether a CRS rule reads the parameter or cookie
// name by name (case-insensitively).
func pfTokenName(name string) bool {
	if len(name) > 64 {
		return true
	}
	var buf [64]byte
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return pf.tokenNames[string(buf[:len(name)])]
}

// pfTokenRuleMatch reports whether a CRS rule on parameters (kind
// "arg") or cookies ("cookie") matches the token s.
func pfTokenRuleMatch(kind, s string) bool {
	if s == "." {
		return true // normalizePath makes it "": not judged here
	}
	return pfHeaderRuleMatch(kind, s)
}

// ruleRegexp reads and parses the @rx of a CRS request rule.
func ruleRegexp(crs fs.FS, id int) (*syntax.Regexp, error) {
	files, err := fs.Glob(crs, "@owasp_crs/REQUEST-*.conf")
	if err != nil {
		return nil, err
	}
	marker := fmt.Sprintf(`"id:%d,`, id)
	for _, f := range files {
		data, err := fs.ReadFile(crs, f)
		if err != nil {
			return nil, err
		}
		text := string(data)
		i := strings.Index(text, marker)
		if i < 0 {
			continue
		}
		j := strings.LastIndex(text[:i], `"@rx `)
		if j < 0 {
			return nil, fmt.Errorf("rule %d: no @rx before it", id)
		}
		pat := text[j+5 : i]
		end := -1
		for k := 0; k < len(pat); k++ {
			if pat[k] == '"' && (k == 0 || pat[k-1] != '\\') {
				end = k
				break
			}
		}
		if end < 0 {
			return nil, fmt.Errorf("rule %d: unterminated @rx", id)
		}
		re, err := syntax.Parse(pat[:end], syntax.Perl)
		if err != nil {
			return nil, fmt.Errorf("rule %d: %v", id, err)
		}
		return re.Simplify(), nil
	}
	return nil, fmt.Errorf("rule %d not found", id)
}

// ruleWords reads the words a CRS rule's regular expression is an
// alternation of (a rule of another shape is an error).
func ruleWords(crs fs.FS, id int) ([]string, error) {
	re, err := ruleRegexp(crs, id)
	if err != nil {
		return nil, err
	}
	words, ok := literals(re, 0)
	if !ok || len(words) == 0 {
		return nil, fmt.Errorf("rule %d: its expression is not an alternation of words", id)
	}
	return words, nil
}

// cmdLit is a command an RCE rule looks for: end is set when the rule
// wants a non-word character or the end after it, else any start of a
// parameter that begins with s matches.
type cmdLit struct {
	s   string
	end bool
}

// ruleCommands lists the commands of an RCE rule's expression: its
// literal paths with every optional part (the evasions CRS allows
// between letters) left out.
func ruleCommands(crs fs.FS, id int) ([]cmdLit, error) {
	re, err := ruleRegexp(crs, id)
	if err != nil {
		return nil, err
	}
	lits, ok := cmdLiterals(re, 0)
	if !ok || len(lits) < 10 {
		return nil, fmt.Errorf("rule %d: cannot list its commands", id)
	}
	return lits, nil
}

// startsWithWord reports whether a match of re may begin with a letter,
// digit or "_" (conservatively: true when unsure).
func startsWithWord(re *syntax.Regexp, depth int) bool {
	if depth > 50 {
		return true
	}
	switch re.Op {
	case syntax.OpLiteral:
		r := re.Rune[0]
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_'
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			meets := func(a, b rune) bool { return lo <= b && hi >= a }
			if meets('0', '9') || meets('A', 'Z') || meets('a', 'z') || meets('_', '_') {
				return true
			}
		}
		return false
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpBeginText, syntax.OpEndLine, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return false
	case syntax.OpCapture, syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		return startsWithWord(re.Sub[0], depth+1)
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			if startsWithWord(sub, depth+1) {
				return true
			}
		}
		return false
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			if startsWithWord(sub, depth+1) {
				return true
			}
			switch sub.Op {
			case syntax.OpStar, syntax.OpQuest, syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpBeginText,
				syntax.OpWordBoundary, syntax.OpNoWordBoundary:
				continue // may match nothing: the next part may start the match
			case syntax.OpRepeat:
				if sub.Min == 0 {
					continue
				}
			}
			return false
		}
		return false
	}
	return true
}

func cmdLiterals(re *syntax.Regexp, depth int) ([]cmdLit, bool) {
	if depth > 100 {
		return nil, false
	}
	wordRune := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_'
	}
	switch re.Op {
	case syntax.OpLiteral:
		return []cmdLit{{s: strings.ToLower(string(re.Rune))}}, true
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpBeginText, syntax.OpNoWordBoundary:
		return []cmdLit{{}}, true
	case syntax.OpEndLine, syntax.OpEndText, syntax.OpWordBoundary:
		return []cmdLit{{end: true}}, true
	case syntax.OpStar, syntax.OpQuest, syntax.OpRepeat:
		if re.Op == syntax.OpRepeat && re.Min > 0 {
			return []cmdLit{{s: "\x00"}}, true // something must follow: a prefix
		}
		// An optional part: left out (CRS's evasions between letters),
		// or, when it may go on with a letter or digit ("mysql" then
		// [^\s]{1,10}), any continuation: a prefix too.
		if startsWithWord(re.Sub[0], 0) {
			return []cmdLit{{}, {s: "\x00"}}, true
		}
		return []cmdLit{{}}, true
	case syntax.OpPlus, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return []cmdLit{{s: "\x00"}}, true // anything may follow: a prefix
	case syntax.OpCharClass:
		words, others, n := 0, 0, 0
		for i := 0; i+1 < len(re.Rune); i += 2 {
			n += int(re.Rune[i+1]-re.Rune[i]) + 1
			for r := re.Rune[i]; r <= re.Rune[i+1] && r-re.Rune[i] < 256; r++ {
				if wordRune(r) {
					words++
				} else {
					others++
				}
			}
		}
		switch {
		case words == 0:
			return []cmdLit{{end: true}}, true
		case others == 0 && n <= 16:
			var out []cmdLit
			for i := 0; i+1 < len(re.Rune); i += 2 {
				for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
					out = append(out, cmdLit{s: strings.ToLower(string(r))})
				}
			}
			return out, true
		}
		return []cmdLit{{s: "\x00"}}, true
	case syntax.OpCapture:
		return cmdLiterals(re.Sub[0], depth+1)
	case syntax.OpAlternate:
		var out []cmdLit
		for _, sub := range re.Sub {
			l, ok := cmdLiterals(sub, depth+1)
			if !ok {
				return nil, false
			}
			out = append(out, l...)
		}
		return out, true
	case syntax.OpConcat:
		out := []cmdLit{{}}
		for _, sub := range re.Sub {
			l, ok := cmdLiterals(sub, depth+1)
			if !ok {
				return nil, false
			}
			var next []cmdLit
			for _, a := range out {
				if a.end || strings.HasSuffix(a.s, "\x00") {
					next = append(next, a)
					continue
				}
				for _, b := range l {
					if a.s == "" && b.s == "" && b.end {
						// a boundary before the word
						next = append(next, cmdLit{})
						continue
					}
					next = append(next, cmdLit{s: a.s + b.s, end: b.end})
				}
			}
			if len(next) > 200000 {
				return nil, false
			}
			out = next
		}
		return out, true
	}
	return nil, false
}

// literals lists every string re matches when re is made of literals,
// concatenations, alternations and small character classes only.
func literals(re *syntax.Regexp, depth int) ([]string, bool) {
	if depth > 50 {
		return nil, false
	}
	switch re.Op {
	case syntax.OpLiteral:
		return []string{string(re.Rune)}, true
	case syntax.OpEmptyMatch:
		return []string{""}, true
	case syntax.OpCapture:
		return literals(re.Sub[0], depth+1)
	case syntax.OpCharClass:
		var out []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			if re.Rune[i+1]-re.Rune[i] > 64 {
				return nil, false
			}
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				out = append(out, string(r))
			}
		}
		return out, true
	case syntax.OpAlternate:
		var out []string
		for _, sub := range re.Sub {
			l, ok := literals(sub, depth+1)
			if !ok {
				return nil, false
			}
			out = append(out, l...)
		}
		return out, true
	case syntax.OpConcat:
		out := []string{""}
		for _, sub := range re.Sub {
			l, ok := literals(sub, depth+1)
			if !ok {
				return nil, false
			}
			var next []string
			for _, a := range out {
				for _, b := range l {
					next = append(next, a+b)
				}
			}
			if len(next) > 10000 {
				return nil, false
			}
			out = next
		}
		return out, true
	}
	return nil, false
}

// trie answers whether a string starts with one of its words
// (case-insensitively), over pfAlphabet.
type trie struct {
	class  [256]uint8
	stride int
	next   []uint16 // 0: no such word
	final  []bool
}

func (t *trie) build(words []string) error {
	for i := 0; i < len(pfAlphabet); i++ {
		c := pfAlphabet[i]
		t.class[c] = uint8(i + 1)
		if c >= 'a' && c <= 'z' {
			t.class[c-'a'+'A'] = uint8(i + 1)
		}
	}
	t.stride = len(pfAlphabet) + 1
	t.next = make([]uint16, t.stride)
	t.final = []bool{false}
	for _, w := range words {
		ok := w != ""
		for i := 0; i < len(w) && ok; i++ {
			ok = t.class[w[i]] != 0
		}
		if !ok {
			continue
		}
		s := 0
		for i := 0; i < len(w); i++ {
			c := int(t.class[w[i]])
			if t.next[s*t.stride+c] == 0 {
				if len(t.final) >= 65535 {
					return fmt.Errorf("command prefix trie too large")
				}
				t.next[s*t.stride+c] = uint16(len(t.final))
				t.final = append(t.final, false)
				t.next = append(t.next, make([]uint16, t.stride)...)
			}
			s = int(t.next[s*t.stride+c])
		}
		t.final[s] = true
	}
	return nil
}

// hasPrefixOf reports whether s starts with a word of t.
func (t *trie) hasPrefixOf(s string) bool {
	st := 0
	for i := 0; i < len(s); i++ {
		c := t.class[s[i]]
		if c == 0 {
			return false
		}
		st = int(t.next[st*t.stride+int(c)])
		if st == 0 {
			return false
		}
		if t.final[st] {
			return true
		}
	}
	return false
}

// acDFA is an Aho-Corasick automaton compiled to a dense DFA over the
// bytes the prefilter lets through (case folded); a keyword with any
// other byte can never occur in a checked string and is left out.
type acDFA struct {
	class  [256]uint8 // 0: not in the alphabet
	stride int
	next   []uint16 // state*stride + class
	final  []bool
}

// pfTokenBytes are the bytes of a parameter or cookie the prefilter
// lets through.
const pfTokenBytes = "abcdefghijklmnopqrstuvwxyz0123456789._-"

// pfAlphabet is every byte a checked string may hold (upper case folds
// to lower case).
const pfAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789 ._-/:;,()+=*?\"!"

// build compiles the words that hold only bytes of only (case folded; ""
// is pfAlphabet): a word with another byte cannot occur in the strings
// checked with d.
func (d *acDFA) build(words []string, only string) error {
	if only == "" {
		only = pfAlphabet
	}
	for i := 0; i < len(pfAlphabet); i++ {
		c := pfAlphabet[i]
		d.class[c] = uint8(i + 1)
		if c >= 'a' && c <= 'z' {
			d.class[c-'a'+'A'] = uint8(i + 1)
		}
	}
	d.stride = len(pfAlphabet) + 1
	// The trie, with children in a map while building.
	type node struct {
		child map[uint8]int
		fail  int
		final bool
	}
	nodes := []node{{child: map[uint8]int{}}}
	for _, w := range words {
		ok := w != ""
		for i := 0; i < len(w) && ok; i++ {
			c := w[i]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			ok = strings.IndexByte(only, c) >= 0
		}
		if !ok {
			continue
		}
		s := 0
		for i := 0; i < len(w); i++ {
			c := d.class[w[i]]
			n, found := nodes[s].child[c]
			if !found {
				nodes = append(nodes, node{child: map[uint8]int{}})
				n = len(nodes) - 1
				nodes[s].child[c] = n
			}
			s = n
		}
		nodes[s].final = true
	}
	if len(nodes) > 65535 {
		return fmt.Errorf("keyword automaton has %d states", len(nodes))
	}
	d.next = make([]uint16, len(nodes)*d.stride)
	d.final = make([]bool, len(nodes))
	// Breadth first: a state's failure state is complete before it.
	queue := []int{0}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if nodes[s].final || nodes[nodes[s].fail].final {
			nodes[s].final = true
		}
		d.final[s] = nodes[s].final
		for c := 1; c < d.stride; c++ {
			if n, ok := nodes[s].child[uint8(c)]; ok {
				if s != 0 {
					nodes[n].fail = int(d.next[nodes[s].fail*d.stride+c])
				}
				d.next[s*d.stride+c] = uint16(n)
				queue = append(queue, n)
			} else if s != 0 {
				d.next[s*d.stride+c] = d.next[nodes[s].fail*d.stride+c]
			}
		}
	}
	return nil
}

// contains reports whether s holds a keyword (case-insensitively).
func (d *acDFA) contains(s string) bool { return acContains(d, s) }

// containsBytes is contains on b.
func (d *acDFA) containsBytes(b []byte) bool { return acContains(d, b) }

// acContains runs the automaton over s, a string or bytes.
func acContains[T string | []byte](d *acDFA, s T) bool {
	st := 0
	for i := 0; i < len(s); i++ {
		c := d.class[s[i]]
		if c == 0 {
			st = 0
			continue
		}
		st = int(d.next[st*d.stride+int(c)])
		if d.final[st] {
			return true
		}
	}
	return false
}

// containsCmdLine is contains on s as CRS's t:cmdLine sees it: "," and
// ";" are spaces, runs of spaces are one, and a space before "/" or "("
// is dropped.
func (d *acDFA) containsCmdLine(s string) bool {
	st := 0
	space := false
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch b {
		case ' ', ',', ';', '\t':
			space = true
			continue
		}
		if space {
			space = false
			if b != '/' && b != '(' {
				st = int(d.next[st*d.stride+int(d.class[' '])])
				if d.final[st] {
					return true
				}
			}
		}
		c := d.class[b]
		if c == 0 {
			st = 0
			continue
		}
		st = int(d.next[st*d.stride+int(c)])
		if d.final[st] {
			return true
		}
	}
	return false
}

// prefilterClean reports whether in holds nothing any CRS request rule
// could match, so the full evaluation can be skipped.
func prefilterClean(in *Input) bool {
	if in == nil || len(in.Body) > 0 || in.BodyTruncated {
		return false
	}
	switch in.Method {
	case "GET", "HEAD":
	default:
		return false
	}
	switch in.Proto {
	case "", "HTTP/1.1", "HTTP/2.0", "HTTP/2", "HTTP/1.0", "HTTP/3", "HTTP/3.0":
	default:
		return false
	}
	if !pfCached(pfKindPath, in.Path, pfPath) || (in.Query != "" && !pfCached(pfKindQuery, in.Query, pfQuery)) {
		return false
	}
	host := in.Host
	hasUA, hasAccept := false, false
	for name, vs := range in.Header {
		if ignoredHeader(in, name) {
			continue
		}
		if name == "Cookie" {
			for _, v := range vs {
				if !pfCached(pfKindCookie, v, pfCookies) {
					return false
				}
			}
			continue
		}
		if len(vs) != 1 {
			return false
		}
		v := vs[0]
		var ok bool
		switch name {
		case "Host":
			if in.Host != "" {
				continue // the Input's Host is the one inspected
			}
			host, ok = v, true
		case "User-Agent":
			hasUA, ok = true, pfCached(pfKindUA, v, pfUserAgent)
		case "Accept":
			hasAccept, ok = true, pfCached(pfKindAccept, v, pfAccept)
		case "Accept-Language":
			ok = pfCached(pfKindLanguage, v, pfAcceptLanguage)
		case "Accept-Encoding":
			ok = pfCached(pfKindEncoding, v, pfAcceptEncoding)
		case "Referer":
			ok = pfCached(pfKindReferer, v, pfReferer)
		case "Origin":
			ok = pfURL(v, false)
		case "Connection":
			ok = v == "keep-alive" || v == "Keep-Alive" || v == "close"
		case "Cache-Control":
			ok = v == "max-age=0" || v == "no-cache"
		case "Pragma":
			ok = v == "no-cache"
		case "Upgrade-Insecure-Requests", "Sec-Gpc":
			ok = v == "1"
		case "Dnt":
			ok = v == "1" || v == "0"
		case "Sec-Fetch-Site":
			ok = v == "same-origin" || v == "same-site" || v == "cross-site" || v == "none"
		case "Sec-Fetch-Mode":
			ok = v == "navigate" || v == "cors" || v == "no-cors" || v == "same-origin"
		case "Sec-Fetch-Dest":
			ok = pfOneOf(v, pfFetchDests)
		case "Sec-Fetch-User":
			ok = v == "?1"
		case "Sec-Ch-Ua-Mobile":
			ok = v == "?0" || v == "?1"
		case "Sec-Ch-Ua-Platform":
			ok = pfOneOf(v, pfPlatforms)
		case "Sec-Ch-Ua":
			ok = pfCached(pfKindBrands, v, pfClientHintBrands)
		case "Priority":
			ok = pfOneOf(v, pfPriorities)
		case "Sec-Purpose", "Purpose":
			ok = v == "prefetch" || v == "prefetch;prerender"
		case "X-Requested-With":
			ok = v == "XMLHttpRequest" || pfAppID(v)
		case "Te":
			ok = v == "trailers"
		case "X-Real-Ip", "X-Forwarded-For":
			// The client address as a web server or balancer passes it
			// (nginx's snippet sets X-Real-IP): addresses only.
			ok = pfAddrList(v)
		case "X-Forwarded-Proto":
			ok = v == "https" || v == "http"
		case "If-None-Match":
			ok = pfETag(v)
		case "If-Modified-Since":
			ok = pfHTTPDate(v)
		default:
			return false
		}
		if !ok {
			return false
		}
	}
	return hasUA && hasAccept && pfCached(pfKindHost, host, pfHost)
}

// pfAddrList reports whether v is a comma-separated list of at most 8 IP
// addresses (X-Forwarded-For's shape), nothing else.
func pfAddrList(v string) bool {
	if v == "" || len(v) > 8*40 {
		return false
	}
	for n := 0; ; n++ {
		if n == 8 {
			return false
		}
		item, rest, more := strings.Cut(v, ",")
		item = strings.TrimLeft(item, " ")
		if _, err := netip.ParseAddr(item); err != nil || strings.Contains(item, "%") {
			return false
		}
		if !more {
			return true
		}
		v = rest
	}
}

// The verdicts on the header values that repeat from request to request
// (a visitor's User-Agent, cookies, Referer, language, client hints) are
// kept: a direct-mapped table of the last clean value per slot, compared
// byte for byte, so a value is only ever taken as clean after it was
// checked in full. Only clean values are stored (a miss allocates the
// copy; a hit nothing).
const (
	pfKindUA uint8 = iota + 1
	pfKindCookie
	pfKindReferer
	pfKindLanguage
	pfKindBrands
	pfKindHost
	pfKindPath
	pfKindQuery
	pfKindAccept
	pfKindEncoding

	pfCacheSlots = 4096 // a power of two
	pfCacheMax   = 2048 // longer values are not kept
)

type pfCacheEntry struct {
	kind uint8
	v    string
}

var (
	pfCache     [pfCacheSlots]atomic.Pointer[pfCacheEntry]
	pfCacheSeed = maphash.MakeSeed()
	// pfCacheOff makes every check run in full (benchmarks of the cold
	// path).
	pfCacheOff bool
)

func pfCached(kind uint8, v string, check func(string) bool) bool {
	if pfCacheOff || len(v) > pfCacheMax {
		return check(v)
	}
	h := maphash.String(pfCacheSeed, v) + uint64(kind)*0x9e3779b97f4a7c15
	slot := &pfCache[h&(pfCacheSlots-1)]
	if e := slot.Load(); e != nil && e.kind == kind && e.v == v {
		return true
	}
	if !check(v) {
		return false
	}
	slot.Store(&pfCacheEntry{kind: kind, v: strings.Clone(v)})
	return true
}

// pfInjection runs the libinjection checks CRS runs (942100, 942101:
// SQL injection; 941100, 941101: XSS) on s as they see it: for the bytes
// the prefilter lets through, CRS's transformations change nothing.
func pfInjection(s string) bool {
	if s == "" {
		return false
	}
	if sqli, _ := libinjection.IsSQLi(s); sqli {
		return true
	}
	return libinjection.IsXSS(s)
}

func pfAccept(v string) bool { return pfList(v, pfAcceptItem) }

func pfAcceptEncoding(v string) bool { return len(v) <= 100 && pfList(v, pfEncodingItem) }

func pfAcceptLanguage(v string) bool {
	return len(v) <= 200 && pfList(v, pfLanguageItem) && !pf.keywords.contains(v)
}

func pfReferer(v string) bool {
	return pfURL(v, true) && !pf.keywords.contains(v) && !pf.keywords.containsCmdLine(v) && !pfHasCommandWord(v) &&
		!pfInjection(v) && !pfHeaderRuleMatch("referer", v)
}

var (
	pfFetchDests = []string{"document", "empty", "image", "script", "style", "font", "iframe", "frame",
		"audio", "video", "manifest", "track", "worker", "sharedworker", "serviceworker"}
	pfPlatforms = []string{`"Windows"`, `"macOS"`, `"Linux"`, `"Android"`, `"Chrome OS"`, `"Chromium OS"`,
		`"iOS"`, `"Unknown"`, `""`}
	pfPriorities = []string{"u=0, i", "u=1, i", "u=2, i", "u=3, i", "u=4, i", "u=5, i", "u=6, i", "u=7, i",
		"u=0", "u=1", "u=2", "u=3", "u=4", "u=5", "u=6", "u=7", "i"}
	pfBrands = []string{"Google Chrome", "Chromium", "Microsoft Edge", "Opera", "Opera GX", "Brave",
		"Vivaldi", "YaBrowser", "Yandex", "Samsung Internet", "Android WebView", "DuckDuckGo", "Whale"}
	pfAcceptTypes = []string{"*/*", "text/html", "application/xhtml+xml", "application/xml", "text/xml",
		"image/avif", "image/webp", "image/apng", "image/svg+xml", "image/*", "image/png", "image/jpeg",
		"image/gif", "image/jxl", "image/heic", "image/heic-sequence", "video/*", "audio/*", "text/css", "text/plain",
		"text/javascript", "application/javascript", "application/json", "application/signed-exchange",
		"application/font-woff2", "font/woff2", "font/woff", "application/manifest+json",
		"application/rss+xml", "application/atom+xml", "application/pdf", "text/*", "application/*"}
	pfEncodings = []string{"gzip", "deflate", "br", "zstd", "identity", "compress", "*", "x-gzip", "dcb", "dcz"}
)

func pfOneOf(v string, set []string) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}

// pfList checks a comma-separated header list item by item (items may
// be followed by ";q=..." parameters, which the item check sees too).
func pfList(v string, item func(string) bool) bool {
	if v == "" || len(v) > 512 {
		return false
	}
	for len(v) > 0 {
		i := strings.IndexByte(v, ',')
		var it string
		if i < 0 {
			it, v = v, ""
		} else {
			it, v = v[:i], v[i+1:]
			if v == "" {
				return false
			}
		}
		if len(it) > 0 && it[0] == ' ' {
			it = it[1:]
		}
		if !item(it) {
			return false
		}
	}
	return true
}

// pfSplitParams cuts ";q=0.9" (and for Accept ";v=b3") off an item and
// checks it.
func pfSplitParams(it string, allowV bool) (string, bool) {
	base := it
	for {
		i := strings.LastIndexByte(base, ';')
		if i < 0 {
			return base, true
		}
		p := base[i+1:]
		if len(p) > 0 && p[0] == ' ' {
			p = p[1:]
		}
		base = base[:i]
		switch {
		case pfQValue(p):
		case allowV && p == "v=b3":
		default:
			return "", false
		}
	}
}

// pfQValue: q=0, q=1, q=0.N to q=0.NNN, q=1.0.
func pfQValue(p string) bool {
	if len(p) < 3 || p[0] != 'q' || p[1] != '=' {
		return false
	}
	n := p[2:]
	if n == "0" || n == "1" || n == "1.0" {
		return true
	}
	if len(n) < 3 || len(n) > 5 || n[0] != '0' || n[1] != '.' {
		return false
	}
	for i := 2; i < len(n); i++ {
		if n[i] < '0' || n[i] > '9' {
			return false
		}
	}
	return true
}

func pfAcceptItem(it string) bool {
	base, ok := pfSplitParams(it, true)
	return ok && pfOneOf(base, pfAcceptTypes)
}

func pfEncodingItem(it string) bool {
	base, ok := pfSplitParams(it, false)
	return ok && pfOneOf(base, pfEncodings)
}

// pfLanguageItem: a language tag (letters, digits, single "-" between
// subtags of 1 to 8) or "*", with an optional q.
func pfLanguageItem(it string) bool {
	base, ok := pfSplitParams(it, false)
	if !ok || base == "" {
		return false
	}
	if base == "*" {
		return true
	}
	if len(base) > 35 {
		return false
	}
	sub := 0
	for i := 0; i < len(base); i++ {
		c := base[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			sub++
			if sub > 8 {
				return false
			}
		case c == '-' && sub > 0 && i+1 < len(base):
			sub = 0
		default:
			return false
		}
	}
	return true
}

// pfClientHintBrands: Sec-CH-UA as Chromium sends it: "Brand";v="N"
// items of known brands and Chromium's GREASE brand.
func pfClientHintBrands(v string) bool {
	return pfList(v, func(it string) bool {
		if len(it) < 8 || it[0] != '"' {
			return false
		}
		end := strings.Index(it[1:], `";v="`)
		if end < 0 {
			return false
		}
		brand, ver := it[1:1+end], it[1+end+5:]
		if len(ver) < 2 || ver[len(ver)-1] != '"' {
			return false
		}
		ver = ver[:len(ver)-1]
		if ver == "" || len(ver) > 20 {
			return false
		}
		for i := 0; i < len(ver); i++ {
			if (ver[i] < '0' || ver[i] > '9') && ver[i] != '.' {
				return false
			}
		}
		return pfOneOf(brand, pfBrands) || pfGreaseBrand(brand)
	})
}

// pfGreaseBrand: Chromium's "Not?A?Brand", the ? from its GREASE set.
func pfGreaseBrand(b string) bool {
	if len(b) != 11 || b[:3] != "Not" || b[4] != 'A' || b[6:] != "Brand" {
		return false
	}
	const grease = " (:-./);=?_"
	return strings.IndexByte(grease, b[3]) >= 0 && strings.IndexByte(grease, b[5]) >= 0
}

// pfAppID: an Android application id (com.instagram.android), which
// Android's WebView sends in X-Requested-With.
func pfAppID(v string) bool {
	if len(v) < 3 || len(v) > 100 || v[0] < 'a' || v[0] > 'z' || strings.IndexByte(v, '.') < 0 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.') || c == '.' && v[i-1] == '.' {
			return false
		}
	}
	return v[len(v)-1] != '.' && !pf.keywords.contains(v)
}

// pfETag: one entity tag, "x" or W/"x", of [A-Za-z0-9_.:-].
func pfETag(v string) bool {
	v = strings.TrimPrefix(v, "W/")
	if len(v) < 3 || len(v) > 80 || v[0] != '"' || v[len(v)-1] != '"' {
		return false
	}
	for i := 1; i < len(v)-1; i++ {
		c := v[i]
		if !(pfWord(c) || c == '.' || c == ':' || c == '-') {
			return false
		}
	}
	return !pf.keywords.contains(v)
}

// pfHTTPDate: "Sun, 06 Nov 1994 08:49:37 GMT".
func pfHTTPDate(v string) bool {
	if len(v) != 29 || v[3] != ',' || v[25:] != " GMT" {
		return false
	}
	for i := 0; i < 25; i++ {
		c := v[i]
		if !(pfWord(c) || c == ' ' || c == ',' || c == ':') || c == '_' {
			return false
		}
	}
	return true
}

func pfWord(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// pfPath: [A-Za-z0-9/._-], starting with "/", at most 512 bytes, no
// "//", no segment starting with ".", no restricted extension, no
// keyword.
func pfPath(p string) bool {
	if len(p) == 0 || len(p) > 512 || p[0] != '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case pfWord(c), c == '-':
		case c == '.':
			if p[i-1] == '/' {
				return false
			}
		case c == '/':
			if i > 0 && p[i-1] == '/' {
				return false
			}
		default:
			return false
		}
	}
	if pf.path.contains(p) || pfB64RuleMatch(p) {
		return false
	}
	last := p[strings.LastIndexByte(p, '/')+1:]
	if pfInjection(p) || pfInjection(last) {
		return false
	}
	// The last segment's extension.
	if i := strings.LastIndexByte(last, '.'); i >= 0 {
		ext := last[i+1:]
		if len(ext) > 16 {
			return false
		}
		var buf [16]byte
		for j := 0; j < len(ext); j++ {
			c := ext[j]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			buf[j] = c
		}
		if _, bad := pf.extensions[string(buf[:len(ext)])]; bad {
			return false
		}
	}
	return true
}

// pfQuery: at most 16 name=value (or name) pairs joined by "&", names
// of 1 to 64 and values of at most 128 bytes of [A-Za-z0-9_.-] with at
// most one "-" each and no "..", every name once, no keyword.
func pfQuery(q string) bool {
	if q == "" {
		return true
	}
	if len(q) > 1024 {
		return false
	}
	var names [16]string
	n := 0
	for len(q) > 0 {
		pair := q
		if i := strings.IndexByte(q, '&'); i >= 0 {
			pair, q = q[:i], q[i+1:]
			if q == "" {
				return false
			}
		} else {
			q = ""
		}
		name, value, _ := strings.Cut(pair, "=")
		if name == "" || len(name) > 64 || len(value) > 128 || !pfToken(name) || !pfToken(value) {
			return false
		}
		if n == len(names) {
			return false
		}
		for _, seen := range names[:n] {
			if seen == name {
				return false
			}
		}
		for _, sn := range pfSessionNames {
			if strings.EqualFold(name, sn) {
				return false
			}
		}
		if pfTokenName(name) {
			return false
		}
		names[n] = name
		n++
	}
	return true
}

// pfToken: [A-Za-z0-9_.-], at most one "-", no "..", no keyword.
func pfToken(s string) bool {
	dashes := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case pfWord(c):
		case c == '.':
			if i > 0 && s[i-1] == '.' {
				return false
			}
		case c == '-':
			dashes++
			if dashes > 1 {
				return false
			}
		default:
			return false
		}
	}
	return !pf.args.contains(s) && !pfStartsWithCommand(s) && !pfInjection(s) && !pfTokenRuleMatch("arg", s) &&
		!pfB64RuleMatch(s)
}

// pfStartsWithCommand reports whether s's first word (up to ".", "-"
// or "_") is a command word, or s starts with a command CRS reads
// whatever follows it.
func pfStartsWithCommand(s string) bool {
	if pf.prefixes.hasPrefixOf(s) {
		return true
	}
	end := len(s)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '.' || c == '-' || c == '_' {
			end = i
			break
		}
	}
	if end == 0 || end > 32 {
		return false
	}
	var buf [32]byte
	for i := 0; i < end; i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	// A one-letter command ("l") counts in a parameter only as "w"
	// (932350); the others only before a separator (pfHasCommandWord).
	if end == 1 && buf[0] != 'w' {
		return false
	}
	_, ok := pf.commands[string(buf[:end])]
	return ok
}

// pfIsCommand reports whether word (at most 32 bytes) is a command word.
func pfIsCommand(word string) bool {
	if word == "" || len(word) > 32 {
		return false
	}
	var buf [32]byte
	for i := 0; i < len(word); i++ {
		c := word[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	_, ok := pf.commands[string(buf[:len(word)])]
	return ok
}

// pfCookies: "name=value; name=value", at most 32 cookies, names and
// values of [A-Za-z0-9_.-] with at most two "-" each (paranoia level 4
// counts three special characters in a cookie as an attack), no "..",
// no keyword; Palisade's own cookies of their issued shape, which CRS
// does not see (owncookies.go), are passed whatever their dashes.
func pfCookies(v string) bool {
	if v == "" || len(v) > 4096 {
		return false
	}
	count := 0
	for len(v) > 0 {
		c := v
		if i := strings.IndexByte(v, ';'); i >= 0 {
			c, v = v[:i], v[i+1:]
			if len(v) == 0 || v[0] != ' ' {
				return false
			}
			v = v[1:]
		} else {
			v = ""
		}
		count++
		if count > 32 {
			return false
		}
		name, value, ok := strings.Cut(c, "=")
		if ok && ownCookie(name, value) {
			continue // CRS does not see it either (owncookies.go)
		}
		if !ok || name == "" || len(name) > 64 || len(value) > 256 || !pfCookieToken(name) || !pfCookieToken(value) ||
			pfTokenName(name) {
			return false
		}
	}
	return true
}

func pfCookieToken(s string) bool {
	// WooCommerce's session cookie: customer||expiry, the bars
	// percent-encoded; one such pair, digits after it.
	if i := strings.Index(s, "%7C%7C"); i >= 0 {
		tail := s[i+6:]
		if tail == "" || len(tail) > 12 {
			return false
		}
		for j := 0; j < len(tail); j++ {
			if tail[j] < '0' || tail[j] > '9' {
				return false
			}
		}
		// 942100 reads it URL-decoded, and so do rules with urlDecodeUni.
		if pfInjection(s[:i]+"||"+tail) || pfTokenRuleMatch("cookie", s) || pfB64RuleMatch(s) {
			return false
		}
		return pfCookieWord(s[:i], 0)
	}
	return pfCookieWord(s, 2)
}

// pfCookieWord: [A-Za-z0-9_.-] with at most maxDashes single "-", no
// "..", no keyword.
func pfCookieWord(s string, maxDashes int) bool {
	dashes := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case pfWord(c):
		case c == '.':
			if i > 0 && s[i-1] == '.' {
				return false
			}
		case c == '-':
			dashes++
			if dashes > maxDashes || (i > 0 && s[i-1] == '-') {
				return false
			}
		default:
			return false
		}
	}
	return !pf.args.contains(s) && !pfStartsWithCommand(s) && !pfInjection(s) && !pfTokenRuleMatch("cookie", s) &&
		!pfB64RuleMatch(s)
}

// pfHost: a domain name, lower or upper case letters, digits, "-" and
// ".", with a letter in its last label (not an IPv4 address), and an
// optional port.
func pfHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		port := h[i+1:]
		if port == "" || len(port) > 5 {
			return false
		}
		for j := 0; j < len(port); j++ {
			if port[j] < '0' || port[j] > '9' {
				return false
			}
		}
		h = h[:i]
	}
	if h == "" || h[0] == '.' || h[0] == '-' || h[len(h)-1] == '.' {
		return false
	}
	letter := false
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			letter = true
		case c >= '0' && c <= '9':
		case c == '.':
			if h[i-1] == '.' {
				return false
			}
			letter = false
		case c == '-':
		default:
			return false
		}
	}
	return letter && !pf.keywords.contains(h)
}

// pfURL: http(s)://host[:port] and, when withPath, an optional path of
// pfPath's shape and a query of pfQuery's shape in which no digit
// stands before "on" (941120 reads "1onx=" in a header as an event
// handler); no fragment, no user info.
func pfURL(v string, withPath bool) bool {
	if withPath {
		if i := strings.IndexByte(v, '?'); i >= 0 {
			q := v[i+1:]
			for j := 1; j+1 < len(q); j++ {
				if q[j-1] >= '0' && q[j-1] <= '9' && (q[j] == 'o' || q[j] == 'O') && (q[j+1] == 'n' || q[j+1] == 'N') {
					return false
				}
			}
			if q == "" || !pfQuery(q) {
				return false
			}
			v = v[:i]
		}
	}
	rest, ok := strings.CutPrefix(v, "https://")
	if !ok {
		if rest, ok = strings.CutPrefix(v, "http://"); !ok {
			return false
		}
	}
	host, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		if !withPath {
			return false
		}
		host, path = rest[:i], rest[i:]
	}
	if !pfHost(host) {
		return false
	}
	return path == "" || pfPath(path)
}

// pfAfterVersion reports whether s ends in a comment or in a product
// token name/version whose version starts with a digit (so no word of
// a rule stands right before the comment's "(").
func pfAfterVersion(s string) bool {
	if s == "" {
		return false
	}
	if s[len(s)-1] == ')' {
		return true
	}
	tok := s[strings.LastIndexByte(s, ' ')+1:]
	i := strings.LastIndexByte(tok, '/')
	return i >= 0 && i+1 < len(tok) && tok[i+1] >= '0' && tok[i+1] <= '9'
}

// pfUserAgent: product tokens (name or name/version of
// [A-Za-z0-9_.+-]) separated by single spaces, and flat comments
// "(...)" of [A-Za-z0-9 _.,;:/+-] that follow a space after a
// name/version token whose version starts with a digit, or after a ")", at most 512 bytes, no "//", no keyword (also as
// t:cmdLine reads it).
func pfUserAgent(v string) bool {
	if v == "" || len(v) > 512 {
		return false
	}
	depth := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case pfWord(c), c == '.', c == '-', c == '+':
		case c == '/':
			if i > 0 && v[i-1] == '/' {
				return false
			}
			if depth == 0 && (i == 0 || v[i-1] == ' ') {
				return false
			}
		case c == ' ':
			if i == 0 || v[i-1] == ' ' || i+1 == len(v) {
				return false
			}
		case c == '(':
			if depth > 0 || i < 2 || v[i-1] != ' ' || !pfAfterVersion(v[:i-1]) {
				return false
			}
			depth++
		case c == ')':
			if depth == 0 || v[i-1] == '(' {
				return false
			}
			depth--
		case depth > 0 && (c == ',' || c == ';' || c == ':'):
		default:
			return false
		}
	}
	return depth == 0 && !pf.keywords.contains(v) && !pf.keywords.containsCmdLine(v) && (!pfHasCommandWord(v) || pfCurlUA(v)) &&
		!pfInjection(v) && !pfHeaderRuleMatch("user-agent", v)
}

// pfCurlUA: curl's own user agent, "curl/" and a version of digits and
// single dots (at most 16 bytes). pfHasCommandWord reads "curl" as a
// command, but no CRS rule does in this shape at any paranoia level
// (TestPrefilterCurlUserAgent runs them); the other checks still apply.
func pfCurlUA(v string) bool {
	ver, ok := strings.CutPrefix(v, "curl/")
	if !ok || ver == "" || len(ver) > 16 || ver[0] == '.' || ver[len(ver)-1] == '.' {
		return false
	}
	for i := 0; i < len(ver); i++ {
		c := ver[i]
		if !(c >= '0' && c <= '9' || c == '.' && ver[i-1] != '.') {
			return false
		}
	}
	return true
}

// pfHasCommandWord reports whether any word (run of letters and digits)
// of v is a command word: 932237 and 932239 read a user agent's
// "openssl/" or a Referer's "/passwd/" as a command.
func pfHasCommandWord(v string) bool {
	start := -1
	for i := 0; i <= len(v); i++ {
		alnum := i < len(v) && (v[i] >= 'a' && v[i] <= 'z' || v[i] >= 'A' && v[i] <= 'Z' || v[i] >= '0' && v[i] <= '9')
		if alnum {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			w := v[start:i]
			if pfStartsWithCommand(w) {
				return true
			}
			// 932237 reads "L," and "l)" in a user agent as the command
			// l: any command word right before a separator counts.
			if i < len(v) && strings.IndexByte(" ,)&|<>;", v[i]) >= 0 && pfIsCommand(w) {
				return true
			}
		}
		start = -1
	}
	return false
}
