package deploy

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/palisadehq/palisade/internal/challenge"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestBrowserSolvesChallenge: headless Chromium (Debian's) opens a page
// behind real nginx, is challenged (its user agent says HeadlessChrome),
// solves the proof of work, lands on the page and is not challenged again;
// curl stays challenged, and a replayed solution is refused.
func TestBrowserSolvesChallenge(t *testing.T) {
	nginx := need(t, "nginx", "/usr/sbin/nginx")
	chromium := need(t, "chromium", "/usr/bin/chromium")
	pal := testenv.New(t)
	w := pal.Website(t, "shop.example.com", engine.Settings{})
	site := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(rw, "<!doctype html><title>shop</title><p id=content>hello from %s%s</p>", r.Host, r.URL.Path)
	}))
	defer site.Close()
	port := freePort(t)
	startNginx(t, nginx, pal, fmt.Sprintf(`
    server {
        listen 127.0.0.1:%d;
        server_name shop.example.com;
        set $palisade_key "%s";
        include PALISADE_CONF/palisade.conf;
        location / { proxy_pass %s; proxy_set_header Host $host; }
    }`, port, w.ServerKey, site.URL))
	base := fmt.Sprintf("http://shop.example.com:%d", port)

	ctx := newBrowser(t, chromium)
	ua, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.userAgent`))
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/products/42"), chromedp.WaitVisible(chromedp.CSS(`#content`))); err != nil {
		t.Fatalf("browser: %v", err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#content`)))
	if err != nil {
		t.Fatal(err)
	}
	if text != "hello from shop.example.com:"+strconv.Itoa(port)+"/products/42" && text != "hello from shop.example.com/products/42" {
		t.Fatalf("landed on %q", text)
	}
	t.Logf("challenged, solved and landed in %s (user agent %q)", time.Since(start).Round(time.Millisecond), ua)
	if !strings.Contains(ua, "HeadlessChrome") {
		t.Fatalf("the browser's user agent %q is not one the default policy challenges", ua)
	}
	// The browser really was challenged and solved it: the events say so.
	pal.Recorder.Flush(context.Background())
	evs, err := pal.Service.Events(context.Background(), pal.Caller, "shop.example.com", core.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range evs {
		seen[e.Action]++
	}
	if seen["challenge"] == 0 || seen["challenge_solved"] != 1 {
		t.Fatalf("events %v: want a challenge and one solve", seen)
	}
	// The next page is served at once: the clearance cookie lets it through.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/cart")); err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if text, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#content`))); err != nil {
		t.Fatal(err)
	}
	if title != "shop" || !strings.HasSuffix(text, "/cart") {
		t.Fatalf("second page: %q %q", title, text)
	}

	// curl, same URL: still challenged.
	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path, ua string) (int, string) {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
		req.Host = "shop.example.com"
		testenv.AsBrowser(req, ua)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/products/42", "curl/8.5.0"); code != 403 || !strings.Contains(body, "Checking your browser") {
		t.Fatalf("curl: %d %q", code, body)
	}

	// A solution, once used, is refused when replayed.
	code, page := get("/products/42", ua)
	m := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(page)
	if code != 403 || m == nil {
		t.Fatalf("challenge page for the script: %d %q", code, page)
	}
	token := m[1]
	dm := regexp.MustCompile(`difficulty: *(\d+)`).FindStringSubmatch(page)
	difficulty, _ := strconv.Atoi(dm[1])
	counter := ""
	for i := 0; i < 1<<26; i++ {
		if challenge.Check(token, strconv.Itoa(i), difficulty) {
			counter = strconv.Itoa(i)
			break
		}
	}
	post := func() *http.Response {
		form := url.Values{"token": {token}, "counter": {counter}, "return": {"/products/42"}}
		req, _ := http.NewRequest("POST", fmt.Sprintf("http://127.0.0.1:%d/_palisade/verify", port), strings.NewReader(form.Encode()))
		req.Host = "shop.example.com"
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("User-Agent", ua)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	first := post()
	if first.StatusCode != 303 || first.Header.Get("Location") != "/products/42" || !strings.Contains(first.Header.Get("Set-Cookie"), challenge.CookieName+"=") {
		t.Fatalf("first solution: %d %v", first.StatusCode, first.Header)
	}
	if replay := post(); replay.StatusCode != 403 {
		t.Fatalf("replayed solution: %d", replay.StatusCode)
	}
}

// newBrowser starts headless Chromium for the test; every host name
// resolves to 127.0.0.1, so no traffic leaves this machine.
func newBrowser(t *testing.T, chromium string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("host-resolver-rules", "MAP * 127.0.0.1"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// TestBrowserSPAToken: a single-page app behind real nginx loads
// palisade.js; its API under /api/ is challenged, the page itself is not.
// The script solves in the background and its fetch reaches the API with
// X-Palisade-Token; the same token lets a plain HTTP client with the
// browser's user agent through, and nothing does without it.
func TestBrowserSPAToken(t *testing.T) {
	nginx := need(t, "nginx", "/usr/sbin/nginx")
	chromium := need(t, "chromium", "/usr/bin/chromium")
	pal := testenv.New(t)
	w := pal.Website(t, "app.example.com", engine.Settings{
		Categories: map[string]string{"automation_tools": "grant"},
		Rules: []engine.Rule{{Name: "api needs a browser", Action: "challenge",
			Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/api/"}}}},
	})
	site := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			fmt.Fprintf(rw, "api ok, token header %v", r.Header.Get("X-Palisade-Token") != "")
			return
		}
		fmt.Fprint(rw, `<!doctype html><title>app</title><p id=out>waiting</p>
<script src="/_palisade/palisade.js"></script>
<script>
fetch("/api/data").then(function (r) { return r.text(); }).then(function (t) {
  var p = document.createElement("p"); p.id = "done"; p.textContent = t; document.body.appendChild(p);
});
</script>`)
	}))
	defer site.Close()
	port := freePort(t)
	startNginx(t, nginx, pal, fmt.Sprintf(`
    server {
        listen 127.0.0.1:%d;
        server_name app.example.com;
        set $palisade_key "%s";
        include PALISADE_CONF/palisade.conf;
        location / { proxy_pass %s; proxy_set_header Host $host; }
    }`, port, w.ServerKey, site.URL))

	ctx := newBrowser(t, chromium)
	if err := chromedp.Do(ctx, chromedp.Navigate(fmt.Sprintf("http://app.example.com:%d/", port)), chromedp.WaitVisible(chromedp.CSS(`#done`))); err != nil {
		t.Fatalf("browser: %v", err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#done`)))
	if err != nil {
		t.Fatal(err)
	}
	if text != "api ok, token header true" {
		t.Fatalf("the page's fetch got %q", text)
	}
	token, err := chromedp.Run(ctx, chromedp.Evaluate[string](`palisade.token()`))
	if err != nil || token == "" {
		t.Fatalf("palisade.token(): %q %v", token, err)
	}
	query, err := chromedp.Run(ctx, chromedp.Evaluate[string](`palisade.query()`))
	if err != nil || !regexp.MustCompile(`^visitorId=[0-9a-f]{24}&sessionId=[0-9a-f]{24}&token=.+`).MatchString(query) {
		t.Fatalf("palisade.query(): %q %v", query, err)
	}
	ua, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.userAgent`))
	if err != nil {
		t.Fatal(err)
	}

	call := func(token string) (int, string, string) {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/api/data", port), nil)
		req.Host = "app.example.com"
		testenv.AsBrowser(req, ua)
		if token != "" {
			req.Header.Set("X-Palisade-Token", token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("X-Palisade-Action"), string(b)
	}
	if code, _, body := call(token); code != 200 || body != "api ok, token header true" {
		t.Fatalf("with the page's token: %d %q", code, body)
	}
	if code, act, _ := call(""); code != 403 || act != "challenge" {
		t.Fatalf("without a token: %d, X-Palisade-Action %q", code, act)
	}
	if code, _, _ := call(token[:len(token)-2] + "xx"); code != 403 {
		t.Fatalf("with a forged token: %d", code)
	}

	// A token the server refuses (here: forged, with no cookie to fall back
	// on) is solved for again and the request retried, unseen by the page.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`sessionStorage.setItem("palisade_token", JSON.stringify({token: "forged", expires: Date.now() + 3600e3})), true`)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#done`))); err != nil {
		t.Fatalf("browser: %v", err)
	}
	if text, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#done`))); err != nil || text != "api ok, token header true" {
		t.Fatalf("after a refused token the page's fetch got %q (%v)", text, err)
	}
	if again, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`palisade.token()`)); again == "forged" || again == "" {
		t.Fatalf("the refused token was kept: %q", again)
	}
	pal.Recorder.Flush(context.Background())
	evs, err := pal.Service.Events(context.Background(), pal.Caller, "app.example.com", core.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	solved := 0
	for _, e := range evs {
		if e.Action == "challenge_solved" {
			solved++
		}
	}
	if solved != 2 {
		t.Fatalf("%d challenges solved; want 2 (first load, then after the refused token)", solved)
	}
}

// solveChallenge does what the challenge page's script does, from Go: loads
// path (challenged), finds the counter, posts it to /_palisade/verify and
// follows the redirect back. client must keep cookies. It returns the final
// status and body.
func solveChallenge(t *testing.T, client *http.Client, origin, path, ua string) (int, string) {
	t.Helper()
	get := func(u string) (int, string) {
		req, _ := http.NewRequest("GET", u, nil)
		testenv.AsBrowser(req, ua)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, page := get(origin + path)
	m := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(page)
	dm := regexp.MustCompile(`difficulty: *(\d+)`).FindStringSubmatch(page)
	if code != 403 || m == nil || dm == nil {
		t.Fatalf("expected a challenge page: %d %q", code, page)
	}
	difficulty, _ := strconv.Atoi(dm[1])
	counter := ""
	for i := 0; counter == ""; i++ {
		if challenge.Check(html.UnescapeString(m[1]), strconv.Itoa(i), difficulty) {
			counter = strconv.Itoa(i)
		}
	}
	form := url.Values{"token": {html.UnescapeString(m[1])}, "counter": {counter}, "return": {path}}
	req, _ := http.NewRequest("POST", origin+"/_palisade/verify", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", ua)
	resp, err := client.Do(req) // follows the 303 back to path, with the cookie
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
