package proxy_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/proxy"
	"github.com/palisadehq/palisade/internal/testenv"
)

const chromeUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

func TestProxy(t *testing.T) {
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{Rules: []engine.Rule{{Name: "Moved", Action: "redirect", Location: "/new", Conditions: []engine.Condition{{Field: "path", Op: "is", Value: "/old"}}}}})
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "app %s %s xff=%s", r.Host, r.URL.RequestURI(), r.Header.Get("X-Forwarded-For"))
	}))
	defer app.Close()
	up, _ := url.Parse(app.URL)
	px := httptest.NewServer(proxy.New(pal.Protector, []proxy.Route{{Host: "shop.example.com", Upstream: up}}, nil, nil))
	defer px.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(host, path, ua string) (int, string, http.Header) {
		req, _ := http.NewRequest("GET", px.URL+path, nil)
		req.Host = host
		testenv.AsBrowser(req, ua)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	if code, body, _ := get("shop.example.com", "/cart?x=1", chromeUA); code != 200 || body != "app shop.example.com /cart?x=1 xff=127.0.0.1" {
		t.Fatalf("browser: %d %q", code, body)
	}
	if code, body, _ := get("shop.example.com", "/", "sqlmap/1.7"); code != 403 || !strings.Contains(body, "Access denied") {
		t.Fatalf("bad bot: %d %q", code, body)
	}
	if code, body, _ := get("shop.example.com", "/", "curl/8.5"); code != 403 || !strings.Contains(body, "Checking your browser") {
		t.Fatalf("challenge: %d %q", code, body)
	}
	if code, _, h := get("shop.example.com", "/old", chromeUA); code != 302 || h.Get("Location") != "/new" {
		t.Fatalf("redirect: %d %v", code, h)
	}
	if code, _, _ := get("other.example.com", "/", chromeUA); code != http.StatusMisdirectedRequest {
		t.Fatalf("unrouted host: %d", code)
	}
	app.Close()
	if code, body, _ := get("shop.example.com", "/", chromeUA); code != 502 || !strings.Contains(body, "cannot be reached") {
		t.Fatalf("upstream down: %d %q", code, body)
	}
}

func TestParseRoute(t *testing.T) {
	for in, want := range map[string]string{"http://127.0.0.1:9000": "|http://127.0.0.1:9000", "Shop.Example.com=https://10.0.0.5": "shop.example.com|https://10.0.0.5"} {
		rt, err := proxy.ParseRoute(in)
		if err != nil || rt.Host+"|"+rt.Upstream.String() != want {
			t.Errorf("ParseRoute(%q) = %+v, %v", in, rt, err)
		}
	}
	for _, bad := range []string{"", "ftp://x", "host=", "x=127.0.0.1:9000"} {
		if _, err := proxy.ParseRoute(bad); err == nil {
			t.Errorf("ParseRoute(%q) succeeded", bad)
		}
	}
}
