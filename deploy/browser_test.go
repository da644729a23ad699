package deploy_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
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
	nginx := testenv.NeedBinary(t, "nginx", "/usr/sbin/nginx")
	chromium := testenv.NeedBinary(t, "chromium", "/usr/bin/chromium")
	pal := testenv.New(t)
	w := pal.Website(t, "shop.example.com", remoteVisitors(engine.Settings{}))
	site := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(rw, "<!doctype html><title>shop</title><p id=content>hello from %s%s</p>", r.Host, r.URL.Path)
	}))
	defer site.Close()
	port := freePort(t)
	startNginx(t, nginx, pal, nginxServer(port, "shop.example.com", w.ServerKey, "palisade.conf", site.URL))
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
	ctx := testenv.Browser(t, chromium)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancelTimeout)
	return ctx
}

// TestBrowserSPAToken: a single-page app behind real nginx loads
// palisade.js; its API under /api/ is challenged, the page itself is not.
// The script solves in the background and its fetch reaches the API with
// X-Palisade-Token; the same token lets a plain HTTP client with the
// browser's user agent through, and nothing does without it.
func TestBrowserSPAToken(t *testing.T) {
	nginx := testenv.NeedBinary(t, "nginx", "/usr/sbin/nginx")
	chromium := testenv.NeedBinary(t, "chromium", "/usr/bin/chromium")
	pal := testenv.New(t)
	w := pal.Website(t, "app.example.com", remoteVisitors(engine.Settings{
		Categories: map[string]string{"automation_tools": "grant"},
		Rules: []engine.Rule{{Name: "api needs a browser", Action: "challenge",
			Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/api/"}}}},
	}))
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
	startNginx(t, nginx, pal, nginxServer(port, "app.example.com", w.ServerKey, "palisade.conf", site.URL))

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
	// Forged: one character of the signature changed (the first after the
	// dot carries six whole bits, so it always changes the signature).
	dot := strings.IndexByte(token, '.')
	forged := []byte(token)
	if forged[dot+1] == 'A' {
		forged[dot+1] = 'B'
	} else {
		forged[dot+1] = 'A'
	}
	if code, _, _ := call(string(forged)); code != 403 {
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
	solved := solvedChallenges(t, pal, "app.example.com")
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

// TestBrowserDashboardInIframe: a partner's panel (on an allowed origin)
// embeds a customer's pages in an iframe. In headless Chromium the customer
// adds a custom rule in the editor inside the iframe; the rule blocks a
// forward-auth request at once; the blocked request shows on the events
// page and the statistics chart renders. The same pages refuse to load in
// an iframe of another origin.
func TestBrowserDashboardInIframe(t *testing.T) {
	chromium := testenv.NeedBinary(t, "chromium", "/usr/bin/chromium")
	pal := testenv.New(t)
	ctx0 := context.Background()
	_, palPort, _ := net.SplitHostPort(pal.Addr)
	panel := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(rw, `<!doctype html><title>My Hosting panel</title><h1>My Hosting</h1><iframe id="dash" width="1200" height="900" src="%s"></iframe>`, r.URL.Query().Get("src"))
	}))
	defer panel.Close()
	_, panelPort, _ := net.SplitHostPort(strings.TrimPrefix(panel.URL, "http://"))
	allowed := "http://panel.acme.example:" + panelPort
	if _, err := pal.Service.SetBranding(ctx0, pal.Caller, pal.Caller.PartnerID, core.Branding{Name: "Acme Shield", Color: "#aa3300", EmbedOrigins: []string{allowed}}); err != nil {
		t.Fatal(err)
	}
	jane, _, err := pal.Service.CreateSubaccount(ctx0, pal.Caller, core.SubaccountCreate{Email: "jane@example.com"}, core.Idem{})
	if err != nil {
		t.Fatal(err)
	}
	site, _, err := pal.Service.CreateWebsite(ctx0, pal.Caller, core.WebsiteCreate{Domain: "shop.example.com", SubaccountID: jane.ID, Plan: "10k"}, core.Idem{})
	if err != nil {
		t.Fatal(err)
	}
	pal.Protector.Reload(ctx0)
	dash := "http://palisade.acme.example:" + palPort + "/en/website/shop.example.com/"

	ctx := newBrowser(t, chromium)
	frame := func() *chromedp.Node {
		t.Helper()
		nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS(`#dash`)))
		if err != nil || len(nodes) == 0 {
			t.Fatalf("iframe: %v", err)
		}
		return nodes[0]
	}
	open := func(origin, page string) {
		t.Helper()
		u := origin + "/?src=" + url.QueryEscape(dash+page)
		if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
			t.Fatal(err)
		}
	}
	// The panel opens the rule editor with the customer's key.
	open(allowed, "edit?api-key="+jane.APIKey)
	f := frame()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#rule-form summary`), chromedp.FromNode(f))); err != nil {
		t.Fatalf("the editor did not load in the iframe: %v", err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#rule-form summary`), chromedp.FromNode(f)),
		chromedp.SendKeys(chromedp.CSS(`#rule-form input[name="name"]`), "block-admin", chromedp.FromNode(f)),
		chromedp.SetValue(chromedp.CSS(`#rule-form select[name="action"]`), "deny", chromedp.FromNode(f)),
		chromedp.SetValue(chromedp.CSS(`#rule-form select[name="cond.0.field"]`), "path", chromedp.FromNode(f)),
		chromedp.SetValue(chromedp.CSS(`#rule-form select[name="cond.0.op"]`), "starts_with", chromedp.FromNode(f)),
		chromedp.SendKeys(chromedp.CSS(`#rule-form input[name="cond.0.value"]`), "/admin", chromedp.FromNode(f)),
		chromedp.Click(chromedp.CSS(`#rule-form button:not([name]):not(.sr)`), chromedp.FromNode(f)), // Save (the first button is the hidden default for Enter)
	); err != nil {
		t.Fatalf("filling the rule form: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, st, _ := pal.Service.WebsiteSettings(ctx0, pal.Caller, "shop.example.com")
		if len(st.Rules) == 1 && st.Rules[0].Name == "block-admin" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rule was not saved: %+v", st.Rules)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// It takes effect on the decision endpoint within a second.
	var blocked bool
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end) && !blocked; time.Sleep(20 * time.Millisecond) {
		req, _ := http.NewRequest("GET", pal.URL+"/forward-auth", nil)
		req.Header.Set("X-Palisade-Key", site.ServerKey)
		req.Header.Set("X-Original-Uri", "/admin/login")
		req.Header.Set("X-Real-Ip", "203.0.113.77")
		testenv.AsBrowser(req, testenv.ChromeUA)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		blocked = resp.StatusCode == 403 && resp.Header.Get("X-Palisade-Reason") == "block-admin"
	}
	if !blocked {
		t.Fatal("the rule added in the iframe does not block")
	}
	screenshot(t, ctx, "rule-editor-in-panel.png")
	pal.Recorder.Flush(ctx0)

	// The events page, in the iframe, shows the blocked request.
	open(allowed, "events")
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`tr.act-deny`), chromedp.FromNode(frame()))); err != nil {
		t.Fatalf("events in the iframe: %v", err)
	}
	screenshot(t, ctx, "events-in-panel.png")
	row, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`tr.act-deny`), chromedp.FromNode(frame())))
	if err != nil || !strings.Contains(row, "block-admin") || !strings.Contains(row, "203.0.113.77") {
		t.Fatalf("event row %q: %v", row, err)
	}
	// The statistics chart renders (uPlot draws a canvas).
	open(allowed, "statistics")
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#chart[data-rendered="1"] canvas`), chromedp.FromNode(frame()))); err != nil {
		t.Fatalf("the chart did not render in the iframe: %v", err)
	}
	screenshot(t, ctx, "statistics-in-panel.png")

	// Another origin (another site, so Chromium runs the iframe in a
	// process of its own): the browser refuses to show any of Palisade's
	// pages there (frame-ancestors), not even the sign-in error.
	evil := "http://evil.example:" + panelPort
	open(evil, "statistics?api-key="+jane.APIKey)
	if crossSiteFrameShows(t, ctx, "http://palisade.acme.example:"+palPort+"/", `header.top`, 3*time.Second) {
		t.Fatal("Palisade's page loaded inside an iframe of another origin")
	}
	// Not even once the partner allows that origin: before sign-in (the
	// session cookie is not sent to a cross-site iframe over plain HTTP)
	// the answer is Palisade's own, unframed and unbranded, so that it does
	// not tell who serves the domain (issue 16 item 17).
	if _, err := pal.Service.SetBranding(ctx0, pal.Caller, pal.Caller.PartnerID, core.Branding{EmbedOrigins: []string{allowed, evil}}); err != nil {
		t.Fatal(err)
	}
	open(evil, "statistics")
	if crossSiteFrameShows(t, ctx, "http://palisade.acme.example:"+palPort+"/", `header.top`, 3*time.Second) {
		t.Fatal("a page before sign-in loaded inside an iframe of another origin")
	}
	// Control: the same cross-site iframe does show what carries no
	// frame-ancestors (a stylesheet, which Chromium shows as text), so the
	// checks above are not vacuous.
	if err := chromedp.Do(ctx, chromedp.Navigate(evil+"/?src="+url.QueryEscape("http://palisade.acme.example:"+palPort+"/_assets/app.css"))); err != nil {
		t.Fatal(err)
	}
	if !crossSiteFrameShows(t, ctx, "http://palisade.acme.example:"+palPort+"/", `pre`, 10*time.Second) {
		t.Fatal("a cross-site iframe does not show a frameable resource")
	}
}

// crossSiteFrameShows reports whether an iframe target whose URL starts
// with prefix shows an element matching sel within wait. Chromium runs a
// cross-site iframe as a target of its own, which the page's DOM does not
// reach.
func crossSiteFrameShows(t *testing.T, ctx context.Context, prefix, sel string, wait time.Duration) bool {
	t.Helper()
	end := time.Now().Add(wait)
	for time.Now().Before(end) {
		infos, err := chromedp.Targets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, info := range infos {
			if info.Type != "iframe" || !strings.HasPrefix(info.URL, prefix) {
				continue
			}
			fctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(info.TargetID), chromedp.WithDetachOnCancel())
			short, cancel2 := context.WithTimeout(fctx, time.Until(end))
			err := chromedp.Do(short, chromedp.WaitVisible(chromedp.CSS(sel)))
			cancel2()
			cancel()
			return err == nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// screenshot saves the browser's page as name in $PALISADE_ARTIFACTS, when
// set (CI keeps the folder; a developer can look at the pages).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("PALISADE_ARTIFACTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.MkdirAll(dir, 0o755); err == nil {
		_ = os.WriteFile(filepath.Join(dir, name), png, 0o644)
	}
}
