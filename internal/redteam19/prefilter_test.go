package redteam19

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/palisadehq/palisade/internal/waf"
)

// vocabulary: every token of [A-Za-z0-9_.-] in CRS's data files, plus
// SQL, shell and HTML words.
func vocabulary(t testing.TB) []string {
	t.Helper()
	seen := map[string]bool{}
	var out []string
	add := func(w string) {
		if w != "" && len(w) <= 40 && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	ents, err := fs.ReadDir(coreruleset.FS, "@owasp_crs")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".data") {
			continue
		}
		b, _ := fs.ReadFile(coreruleset.FS, "@owasp_crs/"+e.Name())
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "#") {
				continue
			}
			for _, f := range strings.FieldsFunc(line, func(r rune) bool {
				return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-')
			}) {
				add(f)
			}
		}
	}
	for _, w := range strings.Fields("select union or and xor like rlike regexp sleep benchmark waitfor delay having " +
		"order by group concat char chr ascii hex unhex load_file outfile into from where exec execute declare cast " +
		"convert table column schema database version user current_user 1e1 0x41 0b1 1.e1 e1 null true false not " +
		"script alert onerror onload svg img iframe src href javascript vbscript expression eval settimeout " +
		"cat ls id whoami uname wget curl nc bash sh python perl php ruby node env passwd shadow etc proc self " +
		"environ cmd powershell system32 win.ini boot.ini jndi ldap rmi dns java runtime exec classloader " +
		"constructor prototype proto __proto__ require import process mainmodule child_process spawn") {
		add(w)
	}
	return out
}

// mixCase randomly changes the case of w.
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

// FINDING (medium, visitor; low practical impact): the prefilter is not
// sound. Requests it skips (Result.Skipped: CRS never runs) are matched
// by CRS when CRS does run, at paranoia 1 included:
//   - GET /?a=xzfgrep1php: 932260 (PL1, critical, 5 points: blocked);
//     "xzfgrep" is a command of 932260's expression, but the
//     prefilter's first-word check sees "xzfgrep1php";
//   - GET /?401LOAd=1: 942362 at PL2-4;
//   - User-Agent "Mozilla/5.0 (hanDlER-IndIa; ChAR ARguMEnTS)
//     check_Log/1.0": 932237 at PL3-4.
//
// The alphabet the prefilter lets through ([A-Za-z0-9_.-], no spaces)
// keeps real payloads few, but the contract ("no CRS request rule could
// match") is what docs/WAF.md promises and what blocks here. The fuzz
// below puts words of CRS's own data files in each part the prefilter
// reads and checks every skipped request against the full evaluation
// (forced with BodyTruncated, which changes nothing else for a GET
// without a body) at paranoia 1 and 4. Fix: take a command word as
// matched when it starts the value whatever follows (as 932260 does for
// most commands), and run this differential in prefilter_test.go.
//
// Fixed: the prefilter reads every CRS @rx on parameters, cookies, the
// User-Agent and the Referer, restricted to the bytes it lets through,
// and runs them on those values (prefilter.go, buildTokenRules).
func TestFixed_PrefilterSkipsWhatCRSMatches(t *testing.T) {
	for _, c := range []struct {
		query, ua string
		pl        int
	}{
		{"a=xzfgrep1php", "", 1},
		{"401LOAd=1", "", 2},
		{"", "Mozilla/5.0 (hanDlER-IndIa; ChAR ARguMEnTS) check_Log/1.0", 4},
	} {
		in := get("/")
		in.Query = c.query
		if c.ua != "" {
			in.Header.Set("User-Agent", c.ua)
		}
		fw := firewall(t, c.pl)
		if !fw.Evaluate(in, &waf.Options{}).Skipped {
			continue // the prefilter sends it to CRS: fixed
		}
		full := *in
		full.BodyTruncated = true
		if r := fw.Evaluate(&full, &waf.Options{}); len(r.Matches) > 0 {
			t.Errorf("PL%d: the prefilter skips %s; CRS in full matches %v (score %d, blocked %v)", c.pl, describe(in), ruleIDs(r), r.Score, r.Blocked)
		}
	}
}

// TestFixed_FuzzPrefilterAgainstFullCRS: see TestFixed_PrefilterSkipsWhatCRSMatches.
// Words of CRS's own data files are put in the parts the prefilter
// reads, including the less common headers (If-None-Match,
// X-Requested-With, Origin, Accept-Language, Host, User-Agent comments).
func TestFixed_FuzzPrefilterAgainstFullCRS(t *testing.T) {
	if testing.Short() {
		t.Skip("fuzz")
	}
	vocab := vocabulary(t)
	rng := rand.New(rand.NewPCG(19, 930))
	fws := []*waf.Firewall{firewall(t, 1), firewall(t, 4)}
	seps := []string{"", ".", "-", "_", "1", "0"}
	word := func() string {
		w := mixCase(rng, vocab[rng.IntN(len(vocab))])
		if rng.IntN(3) == 0 {
			w += seps[rng.IntN(len(seps))] + mixCase(rng, vocab[rng.IntN(len(vocab))])
		}
		return w
	}
	deadline := time.Now().Add(20 * time.Second)
	tried, clean, bad := 0, 0, 0
	for time.Now().Before(deadline) && bad < 10 {
		tried++
		in := get("/")
		in.Header = http.Header{
			"User-Agent":      {chromeUA},
			"Accept":          {"text/html,*/*;q=0.8"},
			"Accept-Language": {"en-US,en;q=0.9"},
		}
		for n := 1 + rng.IntN(2); n > 0; n-- {
			switch rng.IntN(11) {
			case 0:
				in.Path = "/" + word() + "/" + word()
			case 1:
				in.Query = word() + "=" + word()
			case 2:
				in.Query = "q=" + word() + "&" + word() + "=1"
			case 3:
				in.Header.Set("Cookie", word()+"="+word()+"; a="+word())
			case 4:
				in.Header.Set("User-Agent", "Mozilla/5.0 ("+word()+"; "+word()+" "+word()+") "+word()+"/1.0")
			case 5:
				in.Header.Set("Referer", "https://"+strings.ToLower(word())+".example.com/"+word()+"?"+word()+"="+word())
			case 6:
				in.Header.Set("If-None-Match", `"`+word()+":"+word()+`"`)
			case 7:
				in.Header.Set("X-Requested-With", "com."+strings.ToLower(word())+"."+strings.ToLower(word()))
			case 8:
				in.Header.Set("Origin", "https://"+strings.ToLower(word())+".com")
			case 9:
				in.Header.Set("Accept-Language", word()+"-"+word()+",en;q=0.5")
			case 10:
				in.Host = strings.ToLower(word()) + "." + strings.ToLower(word()) + ".com"
			}
		}
		r := fws[0].Evaluate(in, &waf.Options{})
		if !r.Skipped {
			continue
		}
		clean++
		full := *in
		full.BodyTruncated = true
		for _, fw := range fws {
			if r := fw.Evaluate(&full, &waf.Options{Threshold: 1000}); len(r.Matches) > 0 {
				bad++
				t.Errorf("prefilter skipped it, CRS at PL%d matches %v: %s", fw.Paranoia(), ruleIDs(r), describe(in))
			}
		}
	}
	t.Logf("%d generated, %d skipped by the prefilter and checked in full", tried, clean)
}

func describe(in *waf.Input) string {
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
