package waf

import (
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
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
