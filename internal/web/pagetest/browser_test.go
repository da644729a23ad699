package pagetest_test

import (
	"context"
	_ "embed"
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/palisadehq/palisade/internal/testenv"

	"github.com/palisadehq/palisade/internal/web/signin"
)

// axeSource is axe-core, vendored by web/update.sh from the npm registry.
//
//go:embed testdata/axe/axe.min.js
var axeSource string

// A page of the product, as a browser opens it.
type pageSpec struct {
	Name string
	// URL returns the page's address in lang: customer pages carry the
	// language in their path, the console's and the operator's in ?lang=;
	// the others follow the browser's Accept-Language.
	URL func(lang string) string
	// Who is whose cookies the browser holds: "" (nobody), "customer",
	// "console", "operator", or "switch" (the customer, with a partner's
	// sign-in link waiting for confirmation).
	Who string
	// Header holds request headers the browser sends besides its own
	// (Authorization for the User API's documentation).
	Header map[string]string
	// Status is the answer expected: 0 for 200, statusClient for any 4xx,
	// statusAny for anything below 500.
	Status int
}

const (
	statusClient = 4
	statusAny    = 5
)

// pages lists every page a customer, a visitor, a partner's staff or the
// operator sees.
func pages(f *fixture) []pageSpec {
	var ps []pageSpec
	customer := func(name, domain, rest string, who string, status int) {
		ps = append(ps, pageSpec{Name: name, Who: who, Status: status, URL: func(l string) string {
			return f.URL + "/" + l + "/website/" + domain + "/" + rest
		}})
	}
	customer("statistics", shop, "statistics", "customer", 0)
	customer("statistics-day", shop, "statistics?period=day", "customer", 0)
	customer("statistics-month", shop, "statistics?period=month", "customer", 0)
	customer("events", shop, "events", "customer", 0)
	for _, k := range eventKinds {
		customer("event-"+k, shop, "events/"+strconv.FormatInt(f.Events[k], 10), "customer", 0)
	}
	customer("rules", shop, "edit", "customer", 0)
	customer("integration", shop, "integration", "customer", 0)
	customer("scan", shop, "scan", "customer", 0)
	customer("scan-filtered", shop, "scan?state=open&severity=critical", "customer", 0)
	customer("backups", shop, "backups", "customer", 0)
	customer("backups-choose", shop, "backups?snapshot="+shopSnapshot+"&what=path&confirm=1", "customer", 0)
	customer("backups-confirm", shop, "backups?snapshot="+shopSnapshot+"&what=alldb&confirm=1", "customer", 0)
	customer("setup-scan", newSite, "scan", "customer", 0)
	customer("setup-backups", newSite, "backups", "customer", 0)
	customer("setup-statistics", newSite, "statistics", "customer", 0)
	customer("setup-integration", newSite, "integration", "customer", 0)
	customer("deleted-website", gone, "statistics", "customer", statusClient)
	customer("unknown-page", shop, "nonsense", "customer", statusClient)
	customer("wrong-key", shop, "statistics?api-key=not-a-key", "", statusClient)
	plain := func(name, path, who string, status int) {
		ps = append(ps, pageSpec{Name: name, Who: who, Status: status, URL: func(string) string { return f.URL + path }})
	}
	plain("expired-link", "/sso?token="+url.QueryEscape(f.ExpiredToken), "", statusClient)
	plain("switch-account", signin.ConfirmPath, "switch", 0)
	withLang := func(name, path, who string) {
		ps = append(ps, pageSpec{Name: name, Who: who, URL: func(l string) string { return f.URL + path + "?lang=" + l }})
	}
	withLang("console-signin", "/console/login", "")
	withLang("console", "/console", "console")
	for _, tab := range []string{"overview", "customers", "credit", "keys", "plans", "emails", "audit", "branding", "security", "userapi", "firewall"} {
		withLang("console-"+tab, "/console/"+tab, "console")
	}
	withLang("operator", "/operator", "operator")
	visitor := func(name, path string) {
		ps = append(ps, pageSpec{Name: name, Status: 403, URL: func(string) string { return f.Front + path }})
	}
	visitor("visitor-challenge", "/challenge")
	visitor("visitor-deny", "/deny")
	visitor("visitor-firewall", "/firewall")
	visitor("visitor-rule", "/rule")
	plain("api-docs", "/api/docs", "", 0)
	plain("api-docs-generic", "/api/docs?generic", "", 0)
	plain("api-docs-customer", "/api/docs", "", 0)
	ps[len(ps)-1].Header = map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(janeEmail+":"+janePass))}
	return ps
}

// Widths are the viewport widths every page is checked at: a desktop and a
// phone.
var widths = []int64{1280, 390}

// browser is one headless Chromium.
type browser struct {
	ctx  context.Context // the first tab's
	f    *fixture
	tabs []*tab
}

// tab is one tab of the browser, reused for page after page, with cookies
// of its own.
type tab struct {
	ctx context.Context
	f   *fixture
	// Time spent loading pages and checking them.
	loading, checking time.Duration
	width             int64 // the viewport's, once set
}

func newBrowser(t testing.TB, chromium string, f *fixture) *browser {
	t.Helper()
	ctx := testenv.Browser(t, chromium, chromedp.Flag("hide-scrollbars", true))
	b := &browser{ctx: ctx, f: f}
	b.tabs = append(b.tabs, b.prepare(t, ctx))
	return b
}

// newTab opens another tab, in a browser context of its own (its own
// cookies), to check pages in parallel with the others.
func (b *browser) newTab(t testing.TB) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tb := b.prepare(t, ctx)
	b.tabs = append(b.tabs, tb)
	return tb
}

func (b *browser) prepare(t testing.TB, ctx context.Context) *tab {
	t.Helper()
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		// axe-core in every document, before the page's own scripts; the
		// pages' Content-Security-Policy does not apply to it.
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: axeSource})
		return err
	}))
	if err != nil {
		t.Fatalf("starting the browser: %v", err)
	}
	return &tab{ctx: ctx, f: b.f}
}

// open loads p in lang at width with the cookies of p.Who, and returns the
// answer's status and MIME type.
func (b *tab) open(p pageSpec, lang string, width int64) (status int64, mime string, err error) {
	defer func(t time.Time) { b.loading += time.Since(t) }(time.Now())
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	f := b.f
	setup := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if b.width != width {
			if _, err := cdp.Call(ctx, tg, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
				Width: width, Height: 900, DeviceScaleFactor: 1, Mobile: width < 600}); err != nil {
				return err
			}
			b.width = width
		}
		h := network.Headers{"Accept-Language": lang}
		for k, v := range p.Header {
			h[k] = v
		}
		if _, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: h}); err != nil {
			return err
		}
		if _, err := cdp.Call(ctx, tg, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
			return err
		}
		set := func(name, value, path string) error {
			_, err := cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{Name: name, Value: value, URL: f.URL + path, Path: path})
			return err
		}
		switch p.Who {
		case "customer":
			return set(signin.SessionCookie, f.Customer, "/")
		case "console":
			return set(signin.SessionCookie, f.Console, "/")
		case "operator":
			return set(signin.SessionCookie, f.Operator, "/")
		case "switch":
			if err := set(signin.SessionCookie, f.Customer, "/"); err != nil {
				return err
			}
			return set(signin.PendingCookie, url.Values{"s": {f.Console}, "n": {"/console"}}.Encode(), signin.ConfirmPath)
		}
		return nil
	})
	if err := chromedp.Do(ctx, setup); err != nil {
		return 0, "", err
	}
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(p.URL(lang)))
	if err != nil {
		return 0, "", err
	}
	if resp == nil {
		return 0, "", fmt.Errorf("no response")
	}
	return resp.Status, resp.MimeType, nil
}

// pageFacts is what the browser reports about the page it shows.
type pageFacts struct {
	Title        string         `json:"title"`
	Text         string         `json:"text"`
	Words        string         `json:"words"` // Text without code
	ViewportMeta bool           `json:"viewportMeta"`
	Lang         string         `json:"lang"`
	URL          string         `json:"url"`
	ScrollWidth  int64          `json:"scrollWidth"`
	InnerWidth   int64          `json:"innerWidth"`
	Violations   []axeViolation `json:"violations"`
	Wide         []string       `json:"wide"`
}

type axeViolation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Targets []string `json:"targets"`
	Nodes   int      `json:"nodes"`
}

// factsJS runs axe-core on the page and reads its text and width. Words is
// the text without code (code, pre, kbd, samp: API names, configuration,
// commands and JSON, which stay as they are in every language) and without
// text marked translate="no" (data, such as a customer's email subject in
// its own language). Wide lists the elements that stick out past the
// phone's right edge (%d), to say what scrolls sideways.
const factsJS = `(async () => {
  const r = await axe.run(document, {resultTypes: ['violations']});
  const vw = %d, wide = [];
  for (const el of document.body && vw < 600 ? document.body.querySelectorAll('*') : []) {
    const b = el.getBoundingClientRect();
    if (b.right > vw + 1 && b.width > 0 && wide.length < 5) {
      let inner = false;
      for (let p = el.parentElement; p; p = p.parentElement) {
        const s = getComputedStyle(p);
        if (s.overflowX === 'auto' || s.overflowX === 'scroll' || s.overflowX === 'hidden') { inner = true; break; }
      }
      if (!inner) wide.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className && typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\s+/).join('.') : '') + ' (right edge ' + Math.round(b.right) + ' px)');
    }
  }
  const api = document.querySelectorAll('code, pre, kbd, samp, [translate="no"]');
  api.forEach(c => { c.dataset.display = c.style.display; c.style.display = 'none'; });
  const words = document.body ? document.body.innerText : '';
  api.forEach(c => { c.style.display = c.dataset.display; });
  return {
    title: document.title,
    text: document.body ? document.body.innerText : '',
    words: words,
    lang: document.documentElement.lang,
    url: location.href,
    viewportMeta: !!document.querySelector('meta[name=viewport]'),
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    wide: wide,
    violations: r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => ({
      id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length,
      targets: v.nodes.slice(0, 4).map(n => n.target.join(' ') + (n.any && n.any[0] && n.any[0].message ? ' — ' + n.any[0].message : ''))
    }))
  };
})()`

func (b *tab) facts(width int64) (pageFacts, error) {
	defer func(t time.Time) { b.checking += time.Since(t) }(time.Now())
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[pageFacts](fmt.Sprintf(factsJS, width), chromedp.EvalAwaitPromise))
}

// maxShotHeight cuts a screenshot of a long page (the event list) to what
// shows the page; the rest is more of the same.
const maxShotHeight = 4000

// screenshot opens p and returns a PNG of the whole page, at most
// maxShotHeight pixels tall.
func (b *tab) screenshot(p pageSpec, lang string, width int64) ([]byte, error) {
	if _, _, err := b.open(p, lang, width); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	height, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0)`))
	if err != nil {
		return nil, err
	}
	return chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) ([]byte, error) {
		r, err := cdp.Call(ctx, tg, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Format: page.CaptureScreenshotFormatPng, CaptureBeyondViewport: &yes, FromSurface: &yes,
			Clip: &page.Viewport{X: 0, Y: 0, Width: float64(width), Height: min(height, maxShotHeight), Scale: 1},
		})
		return r.Data, err
	})
}

var yes = true
