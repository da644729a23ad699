package waf

import (
	"bufio"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"os"
	"regexp"
	"regexp/syntax"
	"strings"
	"testing"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
)

func crsFS() fs.FS { return coreruleset.FS }

func mustParse(t *testing.T, re string) *syntax.Regexp {
	t.Helper()
	r, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		t.Fatal(err)
	}
	return r.Simplify()
}

// crsMatches runs CRS on in without the prefilter and says which rules
// scored (nil: none).
func crsMatches(fw *Firewall, in *Input) []int {
	var res Result
	fw.evaluateCRS(in, &Options{Paranoia: fw.Paranoia(), Threshold: 5}, &res)
	if res.Score == 0 && len(res.Matches) == 0 {
		return nil
	}
	ids := matchedIDs(res)
	if ids == nil {
		ids = []int{}
	}
	return ids
}

// engineCorpus reads the engine's labelled traffic corpus
// (internal/engine/testdata/corpus.txt) as Inputs, by class.
func engineCorpus(t testing.TB) map[string][]*Input {
	t.Helper()
	f, err := os.Open("../engine/testdata/corpus.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]*Input{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || line[0] == '@' {
			continue
		}
		fields := strings.Split(line, "\t")
		if len(fields) < 5 {
			t.Fatalf("corpus line %q", line)
		}
		method, target, ok := strings.Cut(fields[4], " ")
		if !ok {
			t.Fatalf("corpus request %q", fields[4])
		}
		path, query, _ := strings.Cut(target, "?")
		in := &Input{ClientAddr: netip.MustParseAddr("198.51.100.23"), Method: method, Host: "shop.example.com",
			Path: path, Query: query, Proto: fields[3], Header: http.Header{}}
		for _, h := range fields[5:] {
			if strings.HasPrefix(h, "@") {
				continue
			}
			name, value, ok := strings.Cut(h, ": ")
			if !ok {
				t.Fatalf("corpus header %q", h)
			}
			in.Header.Add(name, value)
		}
		out[fields[0]] = append(out[fields[0]], in)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// assetGET is a typical browser asset request: Chrome fetching a
// stylesheet of a WordPress site, with analytics cookies.
func assetGET() *Input {
	return &Input{
		ClientAddr: netip.MustParseAddr("203.0.113.7"), Method: "GET", Host: "shop.example.com",
		Path: "/wp-content/themes/storefront/assets/css/base/icons.css", Query: "ver=4.6.0", Proto: "HTTP/2.0",
		Header: http.Header{
			"Sec-Ch-Ua-Platform": {`"Windows"`},
			"User-Agent":         {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"},
			"Sec-Ch-Ua":          {`"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"`},
			"Sec-Ch-Ua-Mobile":   {"?0"},
			"Accept":             {"text/css,*/*;q=0.1"},
			"Sec-Fetch-Site":     {"same-origin"},
			"Sec-Fetch-Mode":     {"no-cors"},
			"Sec-Fetch-Dest":     {"style"},
			"Referer":            {"https://shop.example.com/product/merino-scarf/"},
			"Accept-Encoding":    {"gzip, deflate, br, zstd"},
			"Accept-Language":    {"en-US,en;q=0.9,de;q=0.8"},
			"Cookie":             {"_ga=GA1.1.417261248.1730758080; _ga_X2Y3Z4=GS1.1.1730758080.1.1.1730758100.0.0.0; woocommerce_items_in_cart=1"},
			"Priority":           {"u=0"},
		},
	}
}

func TestPrefilterPassesBrowserRequests(t *testing.T) {
	for name, in := range map[string]*Input{
		"asset GET":      assetGET(),
		"page GET":       get("/about-us/"),
		"HEAD":           func() *Input { in := get("/"); in.Method = "HEAD"; return in }(),
		"query":          get("/shop/?orderby=price&paged=2"),
		"firefox":        func() *Input { in := get("/"); in.Header = firefoxHeaders(); return in }(),
		"no cookie":      func() *Input { in := get("/"); in.Header.Del("Cookie"); return in }(),
		"host with port": func() *Input { in := get("/"); in.Host = "shop.example.com:8443"; return in }(),
		"ignored headers": func() *Input {
			in := get("/")
			in.Header.Set("X-Palisade-Key", "k;<>")
			in.IgnoreHeaders = []string{"X-Palisade-Key"}
			return in
		}(),
	} {
		if !prefilterClean(in) {
			t.Errorf("%s: not clean", name)
		}
	}
}

func firefoxHeaders() http.Header {
	return http.Header{
		"User-Agent":                {"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"},
		"Accept":                    {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
		"Accept-Language":           {"de,en-US;q=0.7,en;q=0.3"},
		"Accept-Encoding":           {"gzip, deflate, br, zstd"},
		"Connection":                {"keep-alive"},
		"Upgrade-Insecure-Requests": {"1"},
		"Sec-Fetch-Dest":            {"document"},
		"Sec-Fetch-Mode":            {"navigate"},
		"Sec-Fetch-Site":            {"none"},
		"Sec-Fetch-User":            {"?1"},
		"Priority":                  {"u=0, i"},
		"Dnt":                       {"1"},
		"Sec-Gpc":                   {"1"},
	}
}

func TestPrefilterRejects(t *testing.T) {
	mod := func(f func(in *Input)) *Input { in := assetGET(); f(in); return in }
	for name, in := range map[string]*Input{
		"POST":                  mod(func(in *Input) { in.Method = "POST" }),
		"body":                  mod(func(in *Input) { in.Body = []byte("a=b") }),
		"truncated body":        mod(func(in *Input) { in.BodyTruncated = true }),
		"HTTP/0.9":              mod(func(in *Input) { in.Proto = "HTTP/0.9" }),
		"percent in path":       mod(func(in *Input) { in.Path = "/a%20b" }),
		"dot file":              mod(func(in *Input) { in.Path = "/.env" }),
		"dot segment":           mod(func(in *Input) { in.Path = "/a/../etc/passwd" }),
		"double slash":          mod(func(in *Input) { in.Path = "//a" }),
		"restricted extension":  mod(func(in *Input) { in.Path = "/backup/site.sql" }),
		"restricted file":       mod(func(in *Input) { in.Path = "/wp-config.php" }),
		"quote in query":        mod(func(in *Input) { in.Query = "id=1'" }),
		"plus in query":         mod(func(in *Input) { in.Query = "q=red+shoes" }),
		"two dashes":            mod(func(in *Input) { in.Query = "d=2026-01-01" }),
		"duplicate name":        mod(func(in *Input) { in.Query = "a=1&a=2" }),
		"empty pair":            mod(func(in *Input) { in.Query = "a=1&&b=2" }),
		"SQL word":              mod(func(in *Input) { in.Query = "q=union" }),
		"hex":                   mod(func(in *Input) { in.Query = "q=0x41414141" }),
		"magic number":          mod(func(in *Input) { in.Query = "n=2147483648" }),
		"session name":          mod(func(in *Input) { in.Query = "PHPSESSID=abc" }),
		"unknown header":        mod(func(in *Input) { in.Header.Set("X-Forwarded-Host", "evil.example") }),
		"two user agents":       mod(func(in *Input) { in.Header["User-Agent"] = []string{"a/1", "b/2"} }),
		"no user agent":         mod(func(in *Input) { in.Header.Del("User-Agent") }),
		"no accept":             mod(func(in *Input) { in.Header.Del("Accept") }),
		"scanner":               mod(func(in *Input) { in.Header.Set("User-Agent", "sqlmap/1.8") }),
		"ua with equals":        mod(func(in *Input) { in.Header.Set("User-Agent", "Mozilla/5.0 (x=1)") }),
		"ua nested comment":     mod(func(in *Input) { in.Header.Set("User-Agent", "Mozilla/5.0 (a (b))") }),
		"shellshock":            mod(func(in *Input) { in.Header.Set("User-Agent", "() { :; }; /bin/cat /etc/passwd") }),
		"ua command":            mod(func(in *Input) { in.Header.Set("User-Agent", "Mozilla/5.0 (X11; bin /bash)") }),
		"cookie with percent":   mod(func(in *Input) { in.Header.Set("Cookie", "a=b%7Cc") }),
		"cookie three dashes":   mod(func(in *Input) { in.Header.Set("Cookie", "wp-settings-time-1=1") }),
		"cookie quote":          mod(func(in *Input) { in.Header.Set("Cookie", "a='") }),
		"referer quote":         mod(func(in *Input) { in.Header.Set("Referer", "https://shop.example.com/?id=1%27") }),
		"referer javascript":    mod(func(in *Input) { in.Header.Set("Referer", "javascript:alert(1)") }),
		"ip host":               mod(func(in *Input) { in.Host = "203.0.113.7" }),
		"empty host":            mod(func(in *Input) { in.Host = "" }),
		"unknown brand":         mod(func(in *Input) { in.Header.Set("Sec-Ch-Ua", `"Union Select";v="1"`) }),
		"accept language words": mod(func(in *Input) { in.Header.Set("Accept-Language", "delete-from") }),
		"range":                 mod(func(in *Input) { in.Header.Set("Range", "bytes=0-1") }),
		"content length":        mod(func(in *Input) { in.Header.Set("Content-Length", "0") }),
		"method override":       mod(func(in *Input) { in.Header.Set("X-Http-Method-Override", "PUT") }),
		"java base64":           mod(func(in *Input) { in.Header.Set("Cookie", "s=rO0ABQxyz") }),
		"nil":                   nil,
		// found by the mutation search (CRS matched at PL1, PL2 or PL4)
		"942120 xor":             mod(func(in *Input) { in.Query = "xor" }),
		"942101 comment in path": mod(func(in *Input) { in.Path = "/false--.xml" }),
		"942100 libinjection":    mod(func(in *Input) { in.Query = "ver=1-null" }),
		"932236 command prefix":  mod(func(in *Input) { in.Query = "passwdrder=x" }),
		"932350 command value":   mod(func(in *Input) { in.Query = "page=id" }),
		"932350 command name":    mod(func(in *Input) { in.Query = "w=1" }),
		"932350 command cookie":  mod(func(in *Input) { in.Header.Set("Cookie", "id=1") }),
		"932239 launcher in agent": mod(func(in *Input) {
			in.Header.Set("User-Agent", "Better Uptime Bot Mozilla/5.0 (X11; Linux x86_64) Chrome/90.0")
		}),
		"932237 command in agent": mod(func(in *Input) { in.Header.Set("User-Agent", "PycURL/7.45.3 libcurl/8.9.1 OpenSSL/3.3.2") }),
		// found by the red team (redteam19): a command inside a token
		// (932260 reads "xzfgrep" whatever follows), an SQL word after
		// non-letters (942362), a command before a version (932237)
		"932260 command in token": mod(func(in *Input) { in.Query = "a=xzfgrep1php" }),
		"942362 digits then load": mod(func(in *Input) { in.Query = "401LOAd=1" }),
		"932237 check_log agent": mod(func(in *Input) {
			in.Header.Set("User-Agent", "Mozilla/5.0 (hanDlER-IndIa; ChAR ARguMEnTS) check_Log/1.0")
		}),
		"920 _method by name": mod(func(in *Input) { in.Query = "_method=put" }),
	} {
		if prefilterClean(in) {
			t.Errorf("%s: clean", name)
		}
	}
}

func TestPrefilterAllocatesNothing(t *testing.T) {
	in := assetGET()
	if n := testing.AllocsPerRun(100, func() { prefilterClean(in) }); n != 0 {
		t.Errorf("prefilterClean allocates %v times", n)
	}
}

func TestPrefilterData(t *testing.T) {
	if n := len(pf.extensions); n < 50 {
		t.Errorf("%d restricted extensions", n)
	}
	words, err := ruleWords(crsFS(), 944300)
	if err != nil || len(words) < 20 {
		t.Fatalf("944300: %d words, %v", len(words), err)
	}
	for _, w := range []string{"cnVudGltZQ", "Y2xvbmV0cmFuc2Zvcm1lcg"} {
		if !pf.keywords.contains("x" + w + "x") {
			t.Errorf("944300's %s not a keyword", w)
		}
	}
	for _, w := range []string{"etc/passwd", "Invoke-Expression", "java.lang.Runtime", "nikto", ".htaccess", "localhost/"} {
		if !pf.keywords.contains(w) {
			t.Errorf("%s not a keyword", w)
		}
	}
	if !pf.keywords.containsCmdLine("Mozilla/5.0 (X11; bin /bash)") || pf.keywords.contains("Mozilla/5.0 (X11; bin /bash)") {
		t.Error("t:cmdLine's view of a user agent not checked")
	}
	if _, ok := literals(mustParse(t, "a(?:b|c)d"), 0); !ok {
		t.Error("literals of a(?:b|c)d")
	}
	if _, ok := literals(mustParse(t, "a+"), 0); ok {
		t.Error("literals of a+")
	}
}

// TestPrefilterSoundness: for every request the prefilter passes, the
// full evaluation at paranoia levels 1 and 4 matches no rule. The
// requests: the admin corpus, the engine's traffic corpus, generated
// browser GETs and seeded mutations of them.
func TestPrefilterSoundness(t *testing.T) {
	if testing.Short() {
		t.Skip("evaluates thousands of requests")
	}
	fws := []*Firewall{firewall(t, 1), firewall(t, 4)}
	checked, clean := 0, 0
	check := func(label string, in *Input) bool {
		checked++
		if !prefilterClean(in) {
			return false
		}
		clean++
		for _, fw := range fws {
			if ids := crsMatches(fw, in); ids != nil {
				t.Errorf("%s: the prefilter passed it but CRS at PL%d matches %v: %s", label, fw.Paranoia(), ids, describe(in))
			}
		}
		return true
	}
	for _, c := range loadAdminCorpus(t) {
		check("admin corpus "+c.name, c.in)
	}
	for class, ins := range engineCorpus(t) {
		for i, in := range ins {
			check(fmt.Sprintf("engine corpus %s #%d", class, i), in)
		}
	}
	rng := rand.New(rand.NewPCG(19, 2026))
	var base []*Input
	for i := 0; i < 600; i++ {
		in := genBrowserGET(rng)
		if check(fmt.Sprintf("generated #%d", i), in) {
			base = append(base, in)
		}
	}
	if len(base) < 60 {
		t.Fatalf("only %d of 600 generated browser GETs are clean", len(base))
	}
	mutated := 0
	for i := 0; i < 40000/soundnessShare && mutated < 3000/soundnessShare; i++ {
		in := mutate(rng, base[rng.IntN(len(base))])
		if check(fmt.Sprintf("mutation #%d", i), in) {
			mutated++
		}
	}
	if mutated < 1000/soundnessShare {
		t.Errorf("only %d clean mutations", mutated)
	}
	// Words of CRS's own data files and SQL, PHP and HTML names, put in
	// each part of ordinary requests.
	vocab := crsVocabulary(t)
	withWords := 0
	for i := 0; i < 100000/soundnessShare && withWords < 1500/soundnessShare; i++ {
		in := genBrowserGET(rng)
		w, w2 := vocab[rng.IntN(len(vocab))], vocab[rng.IntN(len(vocab))]
		switch rng.IntN(5) {
		case 0:
			in.Query = "q=" + w
		case 1:
			in.Query = w + "=" + w2
		case 2:
			in.Path = "/" + w + "/" + w2 + ".js"
		case 3:
			in.Header.Set("Cookie", w+"="+w2)
		default:
			in.Header.Set("Referer", "https://shop.example.com/"+w+"/?a="+w2)
		}
		if check(fmt.Sprintf("CRS words #%d", i), in) {
			withWords++
		}
	}
	if withWords < 500/soundnessShare {
		t.Errorf("only %d clean requests with CRS's words", withWords)
	}
	// Command and SQL words inside tokens, the way 932260, 932236 and
	// 942362 read them: after digits or other characters, before
	// anything, in any case, as parameter names and values and cookies.
	inTokens := 0
	words := commandAndSQLWords(t)
	prefixes := []string{"", "", "1", "401", "0.", "x", "_", "a.", "-"}
	suffixes := []string{"", "", "1php", "1", "_x", ".x", "-1", "x", "s"}
	for i := 0; i < 60000/soundnessShare && inTokens < 1500/soundnessShare; i++ {
		in := genBrowserGET(rng)
		w := prefixes[rng.IntN(len(prefixes))] + mixCase(rng, words[rng.IntN(len(words))]) + suffixes[rng.IntN(len(suffixes))]
		switch rng.IntN(4) {
		case 0:
			in.Query = "a=" + w
		case 1:
			in.Query = w + "=1"
		case 2:
			in.Header.Set("Cookie", "c="+w)
		default:
			in.Header.Set("User-Agent", "Mozilla/5.0 (X11; "+w+") "+w+"/1.0")
		}
		if check(fmt.Sprintf("word in token #%d", i), in) {
			inTokens++
		}
	}
	if inTokens < 300/soundnessShare {
		t.Errorf("only %d clean requests with words in tokens", inTokens)
	}
	t.Logf("%d clean requests with command and SQL words inside tokens", inTokens)
	t.Logf("%d requests checked, %d passed the prefilter and matched nothing at PL1 and PL4 (%d mutations)", checked, clean, mutated)
}

// TestPrefilterSkipRate reports the share of the engine corpus's browser
// requests the prefilter skips, and fails when it is implausibly low.
func TestPrefilterSkipRate(t *testing.T) {
	corpus := engineCorpus(t)
	for _, class := range []string{"browser", "webview"} {
		ins := corpus[class]
		skipped, gets := 0, 0
		for _, in := range ins {
			if in.Method == "GET" || in.Method == "HEAD" {
				gets++
			}
			if prefilterClean(in) {
				skipped++
			} else if testing.Verbose() {
				t.Logf("%s not skipped: %s", class, describe(in))
			}
		}
		t.Logf("%s: %d of %d requests skipped (%.0f%%; %d of them GET or HEAD)", class, skipped, len(ins), 100*float64(skipped)/float64(len(ins)), gets)
		if class == "browser" && skipped*4 < len(ins) {
			t.Errorf("only %d of %d browser requests skipped", skipped, len(ins))
		}
	}
}

// commandAndSQLWords are the Unix commands of CRS's lists (unix-shell.data
// by basename, the builtins, the prefilter's own list) and SQL words.
func commandAndSQLWords(t testing.TB) []string {
	var out []string
	for _, f := range []string{"unix-shell.data", "unix-shell-builtins.data"} {
		data, err := fs.ReadFile(coreruleset.FS, "@owasp_crs/"+f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if line = strings.TrimSpace(line); line == "" || line[0] == '#' {
				continue
			}
			w := line[strings.LastIndexByte(line, '/')+1:]
			if w != "" && !strings.ContainsAny(w, "${}") {
				out = append(out, w)
			}
		}
	}
	out = append(out, pfCommandWords...)
	return append(out, strings.Fields("load select union insert update delete drop alter create rename truncate desc "+
		"having sleep benchmark waitfor exec execute declare like rlike regexp xor or and not null")...)
}

// mixCase changes the case of some letters of w.
func mixCase(rng *rand.Rand, w string) string {
	b := []byte(w)
	for i := range b {
		if rng.IntN(3) == 0 {
			if b[i] >= 'a' && b[i] <= 'z' {
				b[i] -= 32
			} else if b[i] >= 'A' && b[i] <= 'Z' {
				b[i] += 32
			}
		}
	}
	return string(b)
}

// crsVocabulary is the words of CRS data files the prefilter does not
// refuse outright, and SQL function, HTML tag and event names.
func crsVocabulary(t testing.TB) []string {
	var out []string
	for _, f := range []string{"php-function-names-933150.data", "windows-powershell-commands.data", "java-classes.data",
		"sql-errors.data", "php-errors.data"} {
		data, err := fs.ReadFile(coreruleset.FS, "@owasp_crs/"+f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if line = strings.TrimSpace(line); line == "" || line[0] == '#' {
				continue
			}
			out = append(out, strings.FieldsFunc(line, func(r rune) bool {
				return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-')
			})...)
		}
	}
	return append(out, strings.Fields("iframe svg img body onload onerror onmouseover src href style abs acos ascii avg "+
		"bin cast ceil char concat conv count cot crc32 curdate date day degrees elt exp extract field floor format "+
		"greatest hex if ifnull instr isnull last lcase least left length ln load locate log lower lpad ltrim max md5 "+
		"mid min mod month now nullif oct ord pi pow power quote radians rand repeat replace reverse right round rpad "+
		"rtrim sha sha1 sha2 sign sin soundex space sqrt std stddev strcmp substr sum sysdate tan trim truncate ucase "+
		"unhex upper user uuid values variance version week weekday year yearweek")...)
}

func describe(in *Input) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", in.Method, in.Path)
	if in.Query != "" {
		b.WriteString("?" + in.Query)
	}
	fmt.Fprintf(&b, " Host=%q", in.Host)
	for k, vs := range in.Header {
		for _, v := range vs {
			fmt.Fprintf(&b, " %s=%q", k, v)
		}
	}
	return b.String()
}

// Vocabulary of the generated requests: ordinary path and parameter
// words, and words CRS's rules and data files know, which the prefilter
// must either refuse or prove harmless.
var (
	genPathWords = []string{"wp-content", "wp-includes", "themes", "plugins", "uploads", "assets", "js", "css",
		"images", "img", "static", "dist", "build", "fonts", "vendor", "blog", "shop", "product", "category",
		"2026", "11", "about-us", "contact", "my-account", "cart", "checkout", "storefront", "twentytwentyfour",
		"block-library", "jquery", "select2", "runtime", "main", "app", "chunk-vendors", "index", "style",
		"icons", "logo", "hero", "banner", "search", "news", "admin", "system", "include", "config",
		"user", "users", "order", "orders", "group", "join", "data", "file", "files", "exec", "union",
		"select", "script", "scripts", "shell", "bin", "etc", "passwd", "tmp", "proc", "self", "environ",
		"windows", "win", "ini", "boot", "cmd", "java", "lang", "class", "eval", "alert", "document",
		"cookie", "php", "phpinfo", "system32", "localhost", "metadata", "internal", "sleep", "benchmark",
		"waitfor", "delay", "having", "like", "or", "and", "not", "null", "true", "false", "1", "0", "01",
		"a", "x", "id", "ls", "cat", "wget", "curl", "nc", "sh", "bash", "python", "perl", "ruby", "node",
		"constructor", "prototype", "proto", "fromcharcode", "import", "require", "process"}
	genExtensions = []string{"", "", "", "/", "/", ".js", ".css", ".min.js", ".min.css", ".png", ".jpg", ".webp",
		".svg", ".woff2", ".ico", ".map", ".json", ".xml", ".txt", ".html", ".php", ".pdf", ".mp4", ".gif"}
	genParamNames = []string{"ver", "v", "id", "p", "page", "paged", "s", "q", "orderby", "order", "sort",
		"lang", "ref", "utm_source", "utm_medium", "utm_campaign", "fbclid", "gclid", "color", "size", "cat",
		"tag", "post_type", "add-to-cart", "attribute_pa_color", "format", "amp", "w", "h", "width", "height",
		"cb", "t", "ts", "_", "callback", "file", "path", "cmd", "exec", "sql", "debug", "include", "url"}
	genParamValues = []string{"1", "2", "42", "6.7.1", "4.6.0", "3.7.1", "1700000000", "1730758080123", "true",
		"false", "grey", "red", "product", "price", "date", "desc", "asc", "en", "de_DE", "google", "cpc",
		"newsletter", "spring-sale", "a1b2c3", "IwAR0abcdef", "Cj0KCQiA", "xl", "json", "list", "top", "id",
		"ls", "cat", "echo", "whoami", "ping", "sleep", "union", "select", "or", "and", "null", "1.e.1",
		"0x41", "4294967295", "2147483647", "passwd", "etc", "win.ini", "localhost", "alert", "eval", "script",
		"javascript", "php", "java", "runtime", "processbuilder", "constructor", "__proto__", "data", "file",
		"set", "env", "id", "w", "l", "ll", "la", "fi", "done", "export", "history", "alias", "exec", "x.y.z",
		"1.2.3.4", "127.0.0.1", "169.254.169.254", "a.b", "a_b", "-1", "1-", "--", "..", "...", "1.0e309"}
	genUAs = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
		"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
		"Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/131.0.6778.39 Mobile Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0",
		"curl/8.5.0",
	}
	genAccepts = []string{
		"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
		"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "text/css,*/*;q=0.1", "*/*",
		"image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", "application/json, text/plain, */*",
	}
	genLanguages = []string{"en-US,en;q=0.9", "de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7", "fr-FR,fr;q=0.9", "en-GB,en;q=0.5",
		"it-IT,it;q=0.9,en-US;q=0.8,en;q=0.7", "pt-BR,pt;q=0.9", "ja,en-US;q=0.9,en;q=0.8", "zh-CN,zh;q=0.9", "*"}
	genCookies = []string{"_ga=GA1.1.417261248.1730758080", "_gid=GA1.2.1234567890.1730758080", "_fbp=fb.1.1730758080123.1234567890",
		"PHPSESSID=k3v9q2m8t1r7p4s6n0c5b2x8z1", "woocommerce_items_in_cart=1", "theme=dark", "cookielawinfo-checkbox-necessary=yes",
		"_gcl_au=1.1.1234567890.1730758080", "wordpress_test_cookie=WP-Cookie-check", "lang=en", "cart=a1b2c3", "_hjSessionUser_123=abc",
		"session=union", "x=select", "id=1", "q=0x41", "a=ls", "b=cat", "__proto__=1", "sid=java", "s=rO0AB",
		// Palisade's clearance (two single "-", and three) and base64
		// tokens that decode to what 934100 looks for
		"palisade_clearance=" + benchClearance,
		"palisade_clearance=YzEuMjMuQUFBQS4wMTIzNDU2Nzg5YWJjZGVmLjE3NjQ1NDMyMTA.q-Jx0Tb5mJ8uVZy1Wl4oC9rEw2nKf6dHsAiPgXe-7aM-",
		"t=ZXZhbCgx", "u=AAAAZXZhbA"}
)

// genBrowserGET makes an ordinary browser GET from the vocabularies.
func genBrowserGET(rng *rand.Rand) *Input {
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	var path strings.Builder
	for n := 1 + rng.IntN(4); n > 0; n-- {
		path.WriteString("/" + pick(genPathWords))
	}
	path.WriteString(pick(genExtensions))
	var q []string
	for n := rng.IntN(3); n > 0; n-- {
		q = append(q, pick(genParamNames)+"="+pick(genParamValues))
	}
	h := http.Header{
		"User-Agent":      {pick(genUAs)},
		"Accept":          {pick(genAccepts)},
		"Accept-Language": {pick(genLanguages)},
		"Accept-Encoding": {"gzip, deflate, br, zstd"},
	}
	if rng.IntN(2) == 0 {
		h.Set("Sec-Ch-Ua", `"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"`)
		h.Set("Sec-Ch-Ua-Mobile", "?0")
		h.Set("Sec-Ch-Ua-Platform", `"Windows"`)
		h.Set("Sec-Fetch-Site", "same-origin")
		h.Set("Sec-Fetch-Mode", "no-cors")
		h.Set("Sec-Fetch-Dest", "image")
	}
	// The client address and scheme as web servers pass them (nginx's
	// X-Real-IP, a balancer's X-Forwarded-For and -Proto).
	switch rng.IntN(4) {
	case 1:
		h.Set("X-Real-Ip", pick([]string{"203.0.113.9", "2001:db8::7", "198.51.100.200"}))
	case 2:
		h.Set("X-Forwarded-For", pick([]string{"203.0.113.9", "203.0.113.9, 10.0.0.2", "2001:db8::7,192.0.2.1"}))
		h.Set("X-Forwarded-Proto", pick([]string{"https", "http"}))
	}
	switch rng.IntN(4) {
	case 1, 2:
		h.Set("Referer", "https://shop.example.com/"+pick(genPathWords)+"/")
	case 3:
		h.Set("Referer", "https://shop.example.com/"+pick(genPathWords)+"/?"+pick(genParamNames)+"="+pick(genParamValues))
	}
	if rng.IntN(3) > 0 {
		var c []string
		for n := 1 + rng.IntN(4); n > 0; n-- {
			c = append(c, pick(genCookies))
		}
		h.Set("Cookie", strings.Join(c, "; "))
	}
	return &Input{ClientAddr: netip.MustParseAddr("203.0.113.9"), Method: "GET", Host: "shop.example.com",
		Path: path.String(), Query: strings.Join(q, "&"), Proto: "HTTP/2.0", Header: h}
}

// genInserts are what mutations insert: characters and words CRS looks for.
var genInserts = []string{"'", "\"", "<", ">", ";", "|", "&", "$", "`", "(", ")", "{", "}", "[", "]", "\\", "%",
	"+", " ", "=", "-", "--", ".", "..", "/", "//", ":", "#", "?", "!", "~", "*", "@", "^", ",", "0x", "1.e.",
	"union", "select", "or", "and", "sleep", "ls", "id", "cat", "eval", "alert", "script", "on", "onload",
	"etc", "passwd", "bin", "sh", "java", "php", "data", "javascript", "having", "like", "null", "w", "set",
	"Runtime", "constructor", "__", "proto", "1", "9", "e", "x", "A", "Z", "_", "ENV", "win", "ini", "cmd",
	"\x00", "\n", "\t", "\x7f", "\xc3\xa9", "\xff"}

// mutate changes one part of a copy of in: inserts, deletes or
// duplicates something in the path, the query, a header value or a
// cookie, or adds a header.
func mutate(rng *rand.Rand, in *Input) *Input {
	c := cloneInput(in)
	ins := genInserts[rng.IntN(len(genInserts))]
	edit := func(s string) string {
		i := 0
		if len(s) > 0 {
			i = rng.IntN(len(s) + 1)
		}
		switch rng.IntN(4) {
		case 0: // insert
			return s[:i] + ins + s[i:]
		case 1: // delete a byte
			if i < len(s) {
				return s[:i] + s[i+1:]
			}
			return s + ins
		case 2: // replace a byte
			if i < len(s) {
				return s[:i] + ins + s[i+1:]
			}
			return s + ins
		default: // duplicate a piece
			j := i + rng.IntN(len(s)-i+1)
			return s[:j] + s[i:j] + s[j:]
		}
	}
	switch rng.IntN(6) {
	case 0:
		c.Path = edit(c.Path)
	case 1, 2:
		c.Query = edit(c.Query)
	case 3:
		name := []string{"User-Agent", "Accept", "Accept-Language", "Referer", "Sec-Ch-Ua", "Accept-Encoding"}[rng.IntN(6)]
		if v := c.Header.Get(name); v != "" {
			c.Header.Set(name, edit(v))
		}
	case 4:
		v := c.Header.Get("Cookie")
		if v == "" {
			v = genCookies[rng.IntN(len(genCookies))]
		}
		c.Header.Set("Cookie", edit(v))
	default:
		name := []string{"Dnt", "Priority", "Cache-Control", "Pragma", "Origin", "If-None-Match", "Sec-Fetch-User", "Connection"}[rng.IntN(8)]
		value := []string{"1", "u=1, i", "no-cache", "max-age=0", "https://shop.example.com", `"abc123"`, "?1", "keep-alive"}[rng.IntN(8)]
		c.Header.Set(name, edit(value))
	}
	return c
}

// FuzzPrefilterSoundness: whatever the prefilter passes, CRS at
// paranoia levels 1 and 4 matches nothing. Seeds are in
// testdata/fuzz/FuzzPrefilterSoundness and below.
func FuzzPrefilterSoundness(f *testing.F) {
	a := assetGET()
	f.Add(a.Path, a.Query, a.Header.Get("User-Agent"), a.Header.Get("Cookie"), a.Header.Get("Referer"), a.Header.Get("Accept-Language"))
	f.Add("/", "", "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "", "", "de")
	f.Add("/shop/", "orderby=price&paged=2", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
		"PHPSESSID=abc; theme=dark", "https://shop.example.com/", "en-US,en;q=0.9")
	fws := []*Firewall{firewall(f, 1), firewall(f, 4)}
	f.Fuzz(func(t *testing.T, path, query, ua, cookie, referer, lang string) {
		in := assetGET()
		in.Path, in.Query = path, query
		in.Header.Set("User-Agent", ua)
		in.Header.Set("Accept-Language", lang)
		for name, v := range map[string]string{"Cookie": cookie, "Referer": referer} {
			if v == "" {
				in.Header.Del(name)
			} else {
				in.Header.Set(name, v)
			}
		}
		if !prefilterClean(in) {
			return
		}
		for _, fw := range fws {
			if ids := crsMatches(fw, in); ids != nil {
				t.Errorf("the prefilter passed it but CRS at PL%d matches %v: %s", fw.Paranoia(), ids, describe(in))
			}
		}
	})
}

func BenchmarkPrefilterAssetGET(b *testing.B) {
	in := assetGET()
	if !prefilterClean(in) {
		b.Fatal("the asset GET is not clean")
	}
	b.ReportAllocs()
	for b.Loop() {
		prefilterClean(in)
	}
}

// BenchmarkPrefilterAssetGETCold: the same request with every header
// value checked in full (a visitor's first request).
func BenchmarkPrefilterAssetGETCold(b *testing.B) {
	in := assetGET()
	pfCacheOff = true
	defer func() { pfCacheOff = false }()
	b.ReportAllocs()
	for b.Loop() {
		prefilterClean(in)
	}
}

func TestPrefilterCacheKeepsOnlyCleanValues(t *testing.T) {
	in := assetGET()
	in.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Probe/1.0")
	if !prefilterClean(in) {
		t.Fatal("not clean")
	}
	// The same bytes as another header kind, and a dirty value, are
	// judged on their own.
	dirty := assetGET()
	dirty.Header.Set("Cookie", "Mozilla/5.0 (X11; Linux x86_64) Probe/1.0")
	if prefilterClean(dirty) {
		t.Error("a user agent's clean verdict made a cookie clean")
	}
	for i := 0; i < 3; i++ {
		bad := assetGET()
		bad.Header.Set("User-Agent", "sqlmap/1.8")
		if prefilterClean(bad) {
			t.Error("scanner clean")
		}
	}
}

func BenchmarkPrefilterRefusesAttack(b *testing.B) {
	in := assetGET()
	in.Query = "id=1%27%20OR%20%271%27%3D%271"
	b.ReportAllocs()
	for b.Loop() {
		prefilterClean(in)
	}
}

// BenchmarkFullEvaluationAssetGET is what the prefilter saves: the same
// request through CRS at paranoia level 1.
func BenchmarkFullEvaluationAssetGET(b *testing.B) {
	fw := firewall(b, 1)
	in := assetGET()
	o := &Options{Paranoia: 1, Threshold: 5}
	b.ReportAllocs()
	for b.Loop() {
		var res Result
		fw.evaluateCRS(in, o, &res)
	}
}

func BenchmarkEvaluateAssetGET(b *testing.B) {
	fw := firewall(b, 1)
	in := assetGET()
	o := &Options{Paranoia: 1, Threshold: 5}
	b.ReportAllocs()
	for b.Loop() {
		if !fw.Evaluate(in, o).Skipped {
			b.Fatal("not skipped")
		}
	}
}

// TestPrefilterClientAddressHeaders: the client address and scheme headers
// web servers add pass the prefilter only as addresses and schemes.
func TestPrefilterClientAddressHeaders(t *testing.T) {
	base := func() *Input {
		return &Input{Method: "GET", Host: "shop.example.com", Path: "/assets/app.css", Proto: "HTTP/1.1", Header: http.Header{
			"User-Agent": {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"},
			"Accept":     {"text/css,*/*;q=0.1"}}}
	}
	for v, want := range map[string]bool{
		"203.0.113.9": true, "2001:db8::7": true, "203.0.113.9, 10.0.0.2": true, "203.0.113.9,10.0.0.2": true,
		"": false, "unknown": false, "203.0.113.9,": false, "fe80::1%eth0": false, "1' or '1'='1": false,
		"203.0.113.9, <script>": false, "1,2,3,4,5,6,7,8,9": false,
	} {
		for _, h := range []string{"X-Real-Ip", "X-Forwarded-For"} {
			in := base()
			in.Header.Set(h, v)
			if got := prefilterClean(in); got != want {
				t.Errorf("%s: %q: clean %v, want %v", h, v, got, want)
			}
		}
	}
	in := base()
	in.Header.Set("X-Forwarded-Proto", "javascript")
	if prefilterClean(in) {
		t.Error("X-Forwarded-Proto: javascript passed")
	}
}

// TestPrefilterMatcherExact: the split (anchored alternatives together,
// the others each behind the strings they need) matches exactly what the
// plain alternation of the same expressions matches.
func TestPrefilterMatcherExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 260))
	words := commandAndSQLWords(t)
	gen := func(alphabet string) string {
		var b strings.Builder
		for n := rng.IntN(4); n >= 0; n-- {
			switch rng.IntN(3) {
			case 0:
				b.WriteString(mixCase(rng, words[rng.IntN(len(words))]))
			default:
				for k := rng.IntN(4); k >= 0; k-- {
					b.WriteByte(alphabet[rng.IntN(len(alphabet))])
				}
			}
		}
		return b.String()
	}
	check := func(name string, m *pfMatcher, alphabet string, lower bool) {
		plain := regexp.MustCompile("(?:" + strings.Join(m.pats, ")|(?:") + ")")
		hits := 0
		for i := 0; i < 3000; i++ {
			v := gen(alphabet)
			if lower {
				v = strings.ToLower(v)
			}
			got, want := m.MatchString(v), plain.MatchString(v)
			if got != m.Match([]byte(v)) {
				t.Errorf("%s: Match and MatchString differ on %q", name, v)
			}
			if got != want {
				t.Errorf("%s: %q: matcher %v, plain alternation %v", name, v, got, want)
			}
			if want {
				hits++
			}
		}
		t.Logf("%s: %d of 3000 generated values match", name, hits)
	}
	for h, ps := range pf.headerRules {
		for _, p := range ps {
			check(fmt.Sprint(h, p.ts), p.re, pfHeaderAlphabets[h], false)
		}
	}
}
