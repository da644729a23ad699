package waf

import (
	"slices"
	"strings"
	"testing"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza/v3"
)

func TestRewriteRx(t *testing.T) {
	for in, want := range map[string]string{
		`SecRule ARGS "@rx (?i)foo" "id:1"`:                  `SecRule ARGS "@rxcache (?i)foo" "id:1"`,
		`SecRule ARGS "!@rx ^[a-z]+$" "id:1"`:                `SecRule ARGS "!@rxcache ^[a-z]+$" "id:1"`,
		`SecRule ARGS "@rx [\x80-\xff]" "id:1"`:              `SecRule ARGS "@rx [\x80-\xff]" "id:1"`,
		`SecRule ARGS "@rx \x{e9}" "id:1"`:                   `SecRule ARGS "@rx \x{e9}" "id:1"`,
		`SecRule ARGS "@rx a\x25b\\xff" "id:1"`:              `SecRule ARGS "@rxcache a\x25b\\xff" "id:1"`,
		`# the @rx operator` + "\n" + `SecRule A "@rx b" ""`: `# the @rx operator` + "\n" + `SecRule A "@rxcache b" ""`,
		`SecRule A "@pm x" "msg:'@rx y'"`:                    `SecRule A "@pm x" "msg:'@rx y'"`,
	} {
		if got := string(rewriteRx([]byte(in))); got != want {
			t.Errorf("rewriteRx(%s)\n got %s\nwant %s", in, got, want)
		}
	}
	b, err := rxCacheFS{coreruleset.FS}.ReadFile("@owasp_crs/REQUEST-942-APPLICATION-ATTACK-SQLI.conf")
	if err != nil || !strings.Contains(string(b), `"@rxcache `) {
		t.Fatalf("942's rules are not rewritten: %v", err)
	}
}

// TestRxCacheChangesNothing: CRS with @rxcache matches exactly what CRS
// with Coraza's @rx does, on first sight of a request and again (when the
// refused values come from the memory).
func TestRxCacheChangesNothing(t *testing.T) {
	for _, pl := range []int{1, 4} {
		w, err := coraza.NewWAF(coraza.NewWAFConfig().WithRootFS(coreruleset.FS).WithDirectives(directives(pl)))
		if err != nil {
			t.Fatal(err)
		}
		cached := firewall(t, pl)
		plain := &Firewall{paranoia: pl, waf: w, rules: cached.rules}
		inputs := []*Input{
			get("/"), get("/search?q=red+shoes"), get("/products?" + sqliID), get("/search?" + xssQ),
			get("/index.php?page=../../../../etc/passwd"), get("/?cmd=%3Bcat%20/etc/passwd"), get("/.env"),
			get("/?a=%7B%7B7*7%7D%7D&b=select+name+from+users&c=http://example.com/x.txt"),
			get("/?x=${jndi:ldap://evil/a}&y=java.lang.Runtime"), get("/?p=O:8:\"stdClass\":0:{}"),
			post("/contact", "application/x-www-form-urlencoded", "name=O%27Brien&city=K%C3%B6ln&msg=Hello+%3Cb%3Ethere%3C/b%3E"),
			post("/api", "application/json", `{"q":"1 union select password from users","n":[1,2,{"x":"<svg onload=alert(1)>"}]}`),
		}
		for pass := 0; pass < 2; pass++ {
			for _, in := range inputs {
				var a, b Result
				cached.evaluateCRS(in, &Options{}, &a)
				plain.evaluateCRS(in, &Options{}, &b)
				ia, ib := ids(a), ids(b)
				slices.Sort(ia)
				slices.Sort(ib)
				if a.Score != b.Score || !slices.Equal(ia, ib) {
					t.Errorf("PL%d pass %d %s?%s: rxcache %d %v, @rx %d %v", pl, pass, in.Path, in.Query, a.Score, ia, b.Score, ib)
				}
			}
		}
	}
}
