package redteam19

import (
	"fmt"
	"github.com/palisadehq/palisade/internal/testenv/cputime"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/waf"
)

// heapAfterGC is the live heap after a full collection.
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// letters is a SecLang @rx of n counted repeats of \pL{999}: a few
// bytes of RE2 that compile to n*999 instructions, each a Unicode class.
func letters(n int) string { return strings.Repeat(`\pL{999}`, n) }

// FINDING (high, hostile partner): a virtual patch's regular expression
// is checked for syntax only. Ten counted repeats, 80 bytes of SecLang
// well inside every limit (16 KiB, 50 directives), make Go's NFA run
// ~10,000 threads over every byte: one request with a 16 KiB parameter
// costs the node most of a second of CPU (a 128 KiB body, seconds). A
// partner (or a careless operator, whose patches run on every website)
// slows every tenant on the node. Bound the compiled program (e.g.
// regexp/syntax Prog size, or the product of repeat counts) at save time
// and the patch set's time per request.
//
// Fixed: ValidatePatch (and compiling a set) refuses a pattern whose
// program is over waf.PatchMaxRegexInsts instructions; the largest
// pattern of this kind it accepts is measured instead.
func TestFixed_PatchRegexCPUPerRequest(t *testing.T) {
	p := waf.Patch{ID: 1, Name: "letters", Reason: "red team",
		SecLang: fmt.Sprintf(`SecRule ARGS "@rx %s" "id:1001,phase:2,deny,msg:'x'"`, letters(10))}
	if err := waf.ValidatePatch(p); err == nil {
		t.Errorf("the 80-byte \\pL{999}x10 patch is accepted")
	} else {
		t.Logf("refused at save time: %v", err)
	}
	// The largest accepted pattern of the same kind, which never matches.
	for n := 200; ; n-- {
		p.SecLang = fmt.Sprintf(`SecRule ARGS "@rx \pL{%d}\PL" "id:1001,phase:2,deny,msg:'x'"`, n)
		if waf.ValidatePatch(p) == nil {
			break
		}
	}
	ps, err := waf.NewRegistry().PatchSet([]waf.Patch{p})
	if err != nil {
		t.Fatal(err)
	}
	in := get("/search?q=" + strings.Repeat("b", 16<<10))
	opt := &waf.Options{Patches: []*waf.PatchSet{ps}, Now: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}
	// Judged against what the node already spends on the same request,
	// CRS at paranoia 1, measured here the same way (CPU time, the least
	// of three): a fixed budget in milliseconds passed on one machine and
	// failed on a slower one (134 ms against 100 on a 2.0 GHz Xeon, where
	// CRS itself takes 310 ms on this request).
	fw := firewall(t, 1)
	least := func(f func()) time.Duration {
		f() // warm
		best := time.Duration(1<<63 - 1)
		for i := 0; i < 3; i++ {
			best = min(best, cputime.Of(f)) // CPU time: a loaded machine does not count
		}
		return best
	}
	took := least(func() { waf.EvaluatePatches(in, opt.Patches, opt.Now) })
	crs := least(func() { fw.Evaluate(in, &waf.Options{}) })
	t.Logf("one request with a 16 KiB parameter under the largest accepted %s: %v of CPU; CRS on the same request: %v (%.2f)",
		p.SecLang, took, crs, float64(took)/float64(crs))
	// The bound keeps the largest accepted pattern about as dear as CRS
	// (0.68 and 1.01 of it in two CI runs on one machine: the two
	// measurements swing by a fifth from run to run, so "at most CRS"
	// failed by 1%); the refused 80-byte pattern costs tens of times
	// more. Half as much again as CRS is the line.
	if took > crs*3/2 {
		t.Errorf("a hostile partner's 80-byte patch costs %v of CPU per request (16 KiB parameter), over 1.5 times CRS itself on that request (%v)", took, crs)
	}
}

// FINDING (high, hostile partner): a patch regex of a few KiB compiles
// to tens of MiB (here 200 repeats, 1.6 KiB of SecLang: ~9 MiB), and
// Coraza memoizes every compiled pattern in a process-wide cache that
// is only released by WAF.Close, which Palisade never calls: every
// POST /v1/waf/patches (ValidatePatch compiles it; even one refused
// afterwards for the 100-live-patches limit) and every evicted patch
// set leaves its patterns on the heap for good. A partner who pushes
// and deletes distinct patches in a loop grows every node's memory
// until it is killed. Close validation WAFs and evicted sets
// (experimental.WAFCloser) or build with coraza.no_memoize, and bound
// the compiled size.
//
// Fixed: ValidatePatch closes every WAF it compiles and an evicted patch
// set is closed (experimental.WAFCloser releases the memoize entries);
// the patterns are now also bounded, so the test validates many distinct
// patterns within the bound.
func TestFixed_PatchValidationRetainsCompiledRegexes(t *testing.T) {
	before := heapAfterGC()
	const n = 300
	for i := 0; i < n; i++ {
		p := waf.Patch{ID: int64(i + 1), Name: "leak", Reason: "red team",
			SecLang: fmt.Sprintf(`SecRule ARGS:x%d "@rx \pL{140}z%d" "id:1001,phase:2,deny"`, i, i)}
		if err := waf.ValidatePatch(p); err != nil {
			t.Fatalf("refused: %v", err)
		}
	}
	after := heapAfterGC()
	grew := int64(after) - int64(before)
	t.Logf("heap after validating %d patches and dropping them: %+d KiB", n, grew/1024)
	if grew > 1<<20 {
		t.Errorf("validating %d patches (nothing stored) left %d KiB on the heap; want it released", n, grew>>10)
	}
}

// FINDING (medium, hostile partner / careless operator): a patch's msg
// (and logdata) may expand macros of request collections
// (%{REQUEST_HEADERS.authorization}, %{REQUEST_COOKIES.x},
// %{ARGS.password}, %{REQUEST_BODY}: every one is on the allow list),
// and the expanded message goes into the event without redaction or
// truncation (the event clips it at 256 bytes, after the secrets). A
// partner harvests its customers' visitors' bearer tokens, session
// cookies and passwords into events; an operator's patch written that
// way does it on every website of every partner, shown to each customer.
// Refuse request-collection macros in msg/logdata (allow RULE.*,
// MATCHED_VAR_NAME) or pass the message through the same redaction as
// Match.Data.
//
// Fixed: msg, logdata and tag may only use %{RULE.…} macros.
func TestFixed_PatchMessageMacrosLeakSecrets(t *testing.T) {
	p := waf.Patch{ID: 7, Name: "harvest", Reason: "red team",
		SecLang: `SecRule REQUEST_URI "@rx ." "id:1001,phase:2,pass,log,msg:'%{REQUEST_HEADERS.authorization} %{REQUEST_COOKIES.sid} %{ARGS.password}'"`}
	if err := waf.ValidatePatch(p); err != nil {
		t.Logf("refused at save time (the fix): %v", err)
		return
	}
	ps, err := waf.NewRegistry().PatchSet([]waf.Patch{p})
	if err != nil {
		t.Fatal(err)
	}
	in := post("/login", "application/x-www-form-urlencoded", []byte("user=bob&password=Hunter2Secret"))
	in.Header.Set("Authorization", "Bearer TopSecretBearer")
	in.Header.Set("Cookie", "sid=SessionSecret")
	r := waf.EvaluatePatches(in, []*waf.PatchSet{ps}, time.Now())
	if len(r.Matches) == 0 {
		t.Fatal("the patch did not match")
	}
	for _, m := range r.Matches {
		for _, secret := range []string{"TopSecretBearer", "SessionSecret", "Hunter2Secret"} {
			if strings.Contains(m.Message, secret) {
				t.Errorf("patch %q's event message carries the visitor's %s: %q", m.Patch, secret, m.Message)
			}
		}
	}
}

// FINDING (high, hostile partner; availability of every node): one patch
// within the limits (8 KiB of SecLang of 16, 1 directive of 50) compiles
// to ~47 MiB of heap in ~0.5 s. A partner's 100 live patches are then
// ~4.7 GiB and ~50 s of compile on every node at every reload (each
// config change of anyone reloads: Engine.Load compiles the patch sets
// before swapping, so every tenant's changes wait), and ValidatePatch
// compiles each push again on the API node. Bound the compiled size (Go's
// regexp/syntax Prog length per pattern and per patch), not only the text.
//
// Fixed: the pattern is refused (waf.PatchMaxRegexInsts).
func TestFixed_PatchCompiledSizeBounded(t *testing.T) {
	p := waf.Patch{ID: 2, Name: "big", Reason: "red team",
		SecLang: fmt.Sprintf(`SecRule ARGS:big "@rx %s" "id:1002,phase:2,deny"`, letters(1000))}
	if len(p.SecLang) > waf.PatchMaxSecLang {
		t.Fatalf("the patch is %d bytes, over the limit", len(p.SecLang))
	}
	before := heapAfterGC()
	start := time.Now()
	ps, err := waf.NewRegistry().PatchSet([]waf.Patch{p})
	took := time.Since(start)
	if err != nil {
		t.Logf("refused (the fix): %v", err)
		return
	}
	grew := int64(heapAfterGC()) - int64(before)
	runtime.KeepAlive(ps)
	t.Logf("one %d-byte patch: compiled in %v, %d MiB of heap", len(p.SecLang), took, grew>>20)
	if grew > 16<<20 || took > raceSlowdown*200*time.Millisecond {
		t.Errorf("one %d-byte patch (the limit is %d) compiles to %d MiB in %v; want under 16 MiB and 200ms", len(p.SecLang), waf.PatchMaxSecLang, grew>>20, took)
	}
}

// FINDING (medium, careless operator/partner; patch authoring): a
// patch in the project's own form scopes by a path prefix, the natural
// way to patch a WordPress REST route ("/wp-json/vuln/v1/"), but
// WordPress serves every REST route also as /?rest_route=/vuln/v1/... and
// /index.php/wp-json/vuln/v1/... (both always on); neither matches the
// patch, so the exploit goes around the emergency patch. Offer a REST
// route target (path or rest_route) in the own form, or document it
// next to the example and check it when the path starts with /wp-json/.
//
// Fixed: an own-form path under /wp-json/ also matches ?rest_route= (query
// or form) and /index.php/wp-json/, case-insensitively (docs/WAF.md).
func TestFixed_RESTRoutePatchBypassedByRestRouteParam(t *testing.T) {
	p := waf.Patch{ID: 4, Name: "vuln-plugin REST", Reason: "CVE",
		Rule: &waf.PatchRule{Path: "/wp-json/vuln/v1/", Method: "POST", Target: "args", Op: "exists"}}
	ps, err := waf.NewRegistry().PatchSet([]waf.Patch{p})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	form := []byte("option=siteurl&value=https://evil.example")
	if r := waf.EvaluatePatches(post("/wp-json/vuln/v1/options", "application/x-www-form-urlencoded", form), []*waf.PatchSet{ps}, now); r.Patch == "" {
		t.Fatalf("control: the patch does not fire")
	}
	for _, target := range []string{"/?rest_route=/vuln/v1/options", "/index.php/wp-json/vuln/v1/options"} {
		if r := waf.EvaluatePatches(post(target, "application/x-www-form-urlencoded", form), []*waf.PatchSet{ps}, now); r.Patch == "" {
			t.Errorf("POST %s reaches the same WordPress REST route and the patch does not fire", target)
		}
	}
}
