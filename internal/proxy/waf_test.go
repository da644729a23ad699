package proxy_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/proxy"
	"github.com/palisadehq/palisade/internal/testenv"
	"github.com/palisadehq/palisade/internal/waf"
)

// TestProxyFirewallSeesBody: through palisade proxy, the website firewall
// (default settings: block at paranoia 1) denies a form whose body carries
// issue 19's SQL injection, with source waf; the application never sees
// it. The same payload past the first waf.MaxBody bytes is not inspected.
func TestProxyFirewallSeesBody(t *testing.T) {
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{})
	var appGot int
	var mu sync.Mutex
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		appGot++
		mu.Unlock()
		fmt.Fprintf(w, "app got %d bytes", len(b))
	}))
	defer app.Close()
	u, _ := url.Parse(app.URL)
	px := proxy.New(pal.Protector, []proxy.Route{{Host: "shop.example.com", Upstream: u}}, nil, nil)
	var last engine.Verdict
	proxy.Verdicts(px, func(_ *engine.Request, v engine.Verdict) {
		mu.Lock()
		last = v
		mu.Unlock()
	})
	srv := httptest.NewServer(px)
	defer srv.Close()
	verdict := func() engine.Verdict {
		mu.Lock()
		defer mu.Unlock()
		return last
	}
	if code, body := post(t, srv.URL, strings.NewReader(sqli), int64(len(sqli)), "application/x-www-form-urlencoded"); code != 403 {
		t.Fatalf("SQL injection in the body: %d %.200q", code, body)
	}
	if v := verdict(); v.Source != engine.SourceWAF || v.WAF == nil || v.WAF.Class != waf.ClassSQLi {
		t.Fatalf("verdict %+v, want denied by the firewall (sqli)", v)
	}
	mu.Lock()
	if appGot != 0 {
		t.Fatalf("the application got the request")
	}
	mu.Unlock()
	// An ordinary form passes, and so does the payload after the
	// inspected part (documented: the rest is not inspected).
	if code, body := post(t, srv.URL, strings.NewReader("id=1&name=O'Brien"), 17, "application/x-www-form-urlencoded"); code != 200 {
		t.Fatalf("ordinary form: %d %q", code, body)
	}
	late := "pad=" + strings.Repeat("a", waf.MaxBody) + "&" + sqli
	if code, body := post(t, srv.URL, bytes.NewReader([]byte(late)), int64(len(late)), "application/x-www-form-urlencoded"); code != 200 {
		t.Fatalf("payload past the limit: %d %.200q", code, body)
	}
	if v := verdict(); v.Source == engine.SourceWAF {
		t.Fatalf("payload past the limit: %+v", v)
	}
}
