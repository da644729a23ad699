package forwardauth_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/api/forwardauth"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/protect"
	"github.com/palisadehq/palisade/internal/proxy/bodypeek"
	"github.com/palisadehq/palisade/internal/testenv"
)

const sqli = "id=1' OR '1'='1"

type seenReq struct {
	method, path string
	body         []byte
	nilBody      bool
	truncated    bool
}

// watched serves the forward-auth endpoints of a fresh handler whose
// engine requests are recorded.
func watched(t *testing.T) (base, key string, last func() seenReq) {
	t.Helper()
	e := testenv.New(t)
	w := e.Website(t, "shop.example.com", engine.Settings{WAF: wafOff})
	h := forwardauth.New(e.Protector, protect.Loopback, nil)
	var mu sync.Mutex
	var got []seenReq
	forwardauth.Watch(h, func(r *engine.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, seenReq{r.Method, r.Path, bytes.Clone(r.Body), r.Body == nil, r.BodyTruncated})
	})
	mux := http.NewServeMux()
	h.Register(mux, func(_ string, h http.Handler) http.Handler { return h })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL, w.ServerKey, func() seenReq {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if len(got) == 0 {
			t.Fatal("the engine was not asked")
		}
		r := got[len(got)-1]
		got = got[:0]
		return r
	}
}

func askBody(t *testing.T, url, key string, hd map[string]string, body []byte) (int, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("X-Palisade-Key", key)
	testenv.AsBrowser(req, chromeUA)
	for k, v := range hd {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header
}

// TestForwardAuthBody is issue 19 item 3 for the Go middleware's endpoint:
// with X-Original-Body the request's own body is the original's, and
// reaches the engine; without it (nginx, Caddy, Traefik, which pass none)
// no body is seen, whatever the request carries.
func TestForwardAuthBody(t *testing.T) {
	base, key, last := watched(t)
	orig := func(extra map[string]string) map[string]string {
		m := map[string]string{"X-Original-Method": "POST", "X-Original-Uri": "/login", "X-Original-Host": "shop.example.com", "X-Real-Ip": "203.0.113.5", "Content-Type": "application/x-www-form-urlencoded"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	if code, _ := askBody(t, base+"/forward-auth", key, orig(map[string]string{"X-Original-Body": "full"}), []byte(sqli)); code != 200 {
		t.Fatalf("full body: %d", code)
	}
	if s := last(); s.method != "POST" || s.path != "/login" || string(s.body) != sqli || s.truncated {
		t.Fatalf("engine got %+v, want POST /login with %q", s, sqli)
	}
	// The middleware cut it: the engine is told there was more.
	askBody(t, base+"/forward-auth", key, orig(map[string]string{"X-Original-Body": "truncated"}), []byte(sqli))
	if s := last(); string(s.body) != sqli || !s.truncated {
		t.Fatalf("truncated: engine got %+v", s)
	}
	// More than the limit is cut, and counts as truncated.
	big := bytes.Repeat([]byte("a"), bodypeek.Max+10)
	askBody(t, base+"/forward-auth", key, orig(map[string]string{"X-Original-Body": "full"}), big)
	if s := last(); len(s.body) != bodypeek.Max || !s.truncated {
		t.Fatalf("over the limit: engine got %d bytes, truncated %v", len(s.body), s.truncated)
	}
	// An empty body said to be the original's: seen, empty.
	askBody(t, base+"/forward-auth", key, orig(map[string]string{"X-Original-Body": "full", "X-Original-Method": "GET"}), nil)
	if s := last(); s.nilBody || len(s.body) != 0 || s.truncated {
		t.Fatalf("empty: engine got %+v", s)
	}
	// No X-Original-Body: a body on the verdict request is not the
	// original's, and no body is seen. Other endpoints never read one.
	askBody(t, base+"/forward-auth", key, orig(nil), []byte(sqli))
	if s := last(); !s.nilBody {
		t.Fatalf("without X-Original-Body: engine got %+v, want no body", s)
	}
	askBody(t, base+"/forward-auth/nginx", key, orig(map[string]string{"X-Original-Body": "full"}), []byte(sqli))
	if s := last(); !s.nilBody {
		t.Fatalf("nginx endpoint: engine got %+v, want no body", s)
	}
	caddy := map[string]string{"X-Forwarded-Method": "POST", "X-Forwarded-Uri": "/login", "X-Forwarded-Host": "shop.example.com", "X-Forwarded-For": "203.0.113.5", "X-Original-Body": "full"}
	for _, ep := range []string{"/forward-auth/caddy", "/forward-auth/traefik"} {
		askBody(t, base+ep, key, caddy, []byte(sqli))
		if s := last(); !s.nilBody {
			t.Fatalf("%s: engine got %+v, want no body", ep, s)
		}
	}
	// A value that is neither: 500 with the reason, as for any misconfiguration.
	code, hd := askBody(t, base+"/forward-auth", key, orig(map[string]string{"X-Original-Body": "yes"}), []byte(sqli))
	if code != 500 || !strings.Contains(hd.Get("X-Palisade-Error"), "X-Original-Body must be full") {
		t.Fatalf("bad X-Original-Body: %d %q", code, hd.Get("X-Palisade-Error"))
	}
}

// TestForwardAuthSlowBody: a caller that announces a body and stalls is
// answered (500, the snippets' "unreachable") after BodyTimeout, undecided.
func TestForwardAuthSlowBody(t *testing.T) {
	base, key, _ := watched(t)
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /forward-auth HTTP/1.1\r\nHost: palisade\r\nX-Palisade-Key: %s\r\nX-Original-Method: POST\r\nX-Original-Uri: /login\r\nX-Original-Host: shop.example.com\r\nX-Original-Body: full\r\nUser-Agent: %s\r\nContent-Length: 100\r\n\r\n%s", key, chromeUA, sqli)
	start := time.Now()
	c.SetDeadline(start.Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if took := time.Since(start); resp.StatusCode != 500 || took > forwardauth.BodyTimeout+2*time.Second || !strings.Contains(resp.Header.Get("X-Palisade-Error"), "did not arrive in time") {
		t.Fatalf("%d %q after %v", resp.StatusCode, resp.Header.Get("X-Palisade-Error"), took)
	}
}

// wafOff switches the website firewall off for these tests, which follow
// a body (an attack's too) to the engine and on to the application: the
// firewall's own judgement is tested in waf_test.go, and its time over
// large bodies is not under test here.
var wafOff = engine.WAFSettings{Mode: "off"}
