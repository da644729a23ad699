package proxy_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/proxy"
	"github.com/palisadehq/palisade/internal/proxy/bodypeek"
	"github.com/palisadehq/palisade/internal/testenv"
	"github.com/palisadehq/palisade/internal/waf"
)

// sqli is issue 19's SQL injection, as a form field.
const sqli = "id=1' OR '1'='1"

// seen is what the engine was handed, copied (the adapter's buffers are
// the adapter's).
type seen struct {
	Method, Path string
	Body         []byte
	NilBody      bool
	Truncated    bool
}

type watcher struct {
	mu   sync.Mutex
	reqs []seen
}

func (w *watcher) watch(r *engine.Request) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reqs = append(w.reqs, seen{Method: r.Method, Path: r.Path, Body: bytes.Clone(r.Body), NilBody: r.Body == nil, Truncated: r.BodyTruncated})
}

func (w *watcher) last(t *testing.T) seen {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.reqs) == 0 {
		t.Fatal("the engine was not asked")
	}
	return w.reqs[len(w.reqs)-1]
}

func (w *watcher) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.reqs)
}

// upstreamSeen is what the application received.
type upstreamSeen struct {
	body          []byte
	contentLength int64
	te            []string
}

// bodyStack is a website behind palisade proxy whose upstream records what
// it receives, and whose engine requests are watched.
func bodyStack(t *testing.T) (px *proxy.Proxy, base string, w *watcher, up chan upstreamSeen) {
	t.Helper()
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{WAF: wafOff})
	up = make(chan upstreamSeen, 8)
	app := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("upstream reading the body: %v", err)
		}
		up <- upstreamSeen{body: b, contentLength: r.ContentLength, te: r.TransferEncoding}
		fmt.Fprintf(rw, "app got %d bytes", len(b))
	}))
	t.Cleanup(app.Close)
	u, _ := url.Parse(app.URL)
	px = proxy.New(pal.Protector, []proxy.Route{{Host: "shop.example.com", Upstream: u}}, nil, nil)
	w = &watcher{}
	proxy.Watch(px, w.watch)
	srv := httptest.NewServer(px)
	t.Cleanup(srv.Close)
	return px, srv.URL, w, up
}

func post(t *testing.T, base string, body io.Reader, length int64, ctype string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/login", body)
	req.Host = "shop.example.com"
	req.ContentLength = length
	testenv.AsBrowser(req, chromeUA)
	req.Header.Set("Content-Type", ctype)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func received(t *testing.T, up chan upstreamSeen) upstreamSeen {
	t.Helper()
	select {
	case u := <-up:
		return u
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream received nothing")
	}
	return upstreamSeen{}
}

func TestPeekMaxIsTheFirewallsLimit(t *testing.T) {
	if bodypeek.Max != waf.MaxBody {
		t.Fatalf("bodypeek.Max %d, waf.MaxBody %d", bodypeek.Max, waf.MaxBody)
	}
}

// TestProxyPassesFormBody is issue 19 item 3 for palisade proxy: a POST's
// urlencoded body reaches the engine as sent, and the upstream gets it
// byte for byte with its Content-Length.
func TestProxyPassesFormBody(t *testing.T) {
	_, base, w, up := bodyStack(t)
	if code, body := post(t, base, strings.NewReader(sqli), int64(len(sqli)), "application/x-www-form-urlencoded"); code != 200 {
		t.Fatalf("POST: %d %q", code, body)
	}
	s := w.last(t)
	if s.Method != "POST" || s.Path != "/login" || string(s.Body) != sqli || s.Truncated {
		t.Fatalf("engine got %+v, want POST /login with body %q, not truncated", s, sqli)
	}
	u := received(t, up)
	if string(u.body) != sqli || u.contentLength != int64(len(sqli)) {
		t.Fatalf("upstream got %q (Content-Length %d)", u.body, u.contentLength)
	}
	// A GET without a body: seen, and empty (not "not passed").
	req, _ := http.NewRequest("GET", base+"/", nil)
	req.Host = "shop.example.com"
	testenv.AsBrowser(req, chromeUA)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if s := w.last(t); s.Method != "GET" || s.NilBody || len(s.Body) != 0 || s.Truncated {
		t.Fatalf("GET: engine got %+v, want an empty, seen body", s)
	}
	received(t, up)
}

// TestProxyBigBodies: bodies over the limit reach the engine as their
// first bodypeek.Max bytes, marked truncated, and the upstream gets every
// byte, with a length or chunked as the client sent it.
func TestProxyBigBodies(t *testing.T) {
	_, base, w, up := bodyStack(t)
	rnd := rand.New(rand.NewPCG(1, 2))
	mk := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rnd.UintN(256))
		}
		return b
	}
	for _, c := range []struct {
		name    string
		size    int
		chunked bool
		trunc   bool
	}{
		{"1 MiB with a length", 1 << 20, false, true},
		{"1 MiB chunked", 1 << 20, true, true},
		{"exactly the limit, length", bodypeek.Max, false, false},
		{"exactly the limit, chunked", bodypeek.Max, true, false},
		{"one byte over, length", bodypeek.Max + 1, false, true},
		{"one byte over, chunked", bodypeek.Max + 1, true, true},
		{"small chunked", 100, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := mk(c.size)
			var body io.Reader = bytes.NewReader(data)
			length := int64(len(data))
			if c.chunked {
				body, length = io.MultiReader(bytes.NewReader(data)), -1 // hides the length: sent chunked
			}
			if code, resp := post(t, base, body, length, "application/octet-stream"); code != 200 || resp != "app got "+strconv.Itoa(c.size)+" bytes" {
				t.Fatalf("POST: %d %q", code, resp)
			}
			s := w.last(t)
			want := data[:min(c.size, bodypeek.Max)]
			if !bytes.Equal(s.Body, want) || s.Truncated != c.trunc {
				t.Fatalf("engine got %d bytes (truncated %v), want the first %d (truncated %v)", len(s.Body), s.Truncated, len(want), c.trunc)
			}
			u := received(t, up)
			if sha256.Sum256(u.body) != sha256.Sum256(data) {
				t.Fatalf("upstream got %d bytes, not the %d sent", len(u.body), len(data))
			}
			if c.chunked && u.contentLength != -1 || !c.chunked && u.contentLength != int64(c.size) {
				t.Fatalf("upstream Content-Length %d (chunked %v)", u.contentLength, c.chunked)
			}
		})
	}
}

// TestProxySlowBody: a client that sends part of its body and stalls is
// answered 408 once BodyTimeout passes; nothing is decided or forwarded.
func TestProxySlowBody(t *testing.T) {
	px, base, w, up := bodyStack(t)
	px.BodyTimeout = 300 * time.Millisecond
	for _, te := range []string{"Content-Length: 100", "Transfer-Encoding: chunked"} {
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		part := sqli
		if strings.HasPrefix(te, "Transfer") {
			part = fmt.Sprintf("%x\r\n%s\r\n", len(sqli), sqli)
		}
		fmt.Fprintf(c, "POST /login HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: %s\r\nAccept: text/html\r\nAccept-Language: en\r\nAccept-Encoding: gzip\r\nContent-Type: application/x-www-form-urlencoded\r\n%s\r\n\r\n%s", chromeUA, te, part)
		start := time.Now()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%s: no answer: %v", te, err)
		}
		resp.Body.Close()
		if took := time.Since(start); resp.StatusCode != http.StatusRequestTimeout || took > 3*time.Second {
			t.Fatalf("%s: %d after %v, want 408 after about %v", te, resp.StatusCode, took, px.BodyTimeout)
		}
	}
	if n := w.count(); n != 0 {
		t.Fatalf("the engine was asked %d times about slow bodies", n)
	}
	select {
	case u := <-up:
		t.Fatalf("a slow body was forwarded: %q", u.body)
	default:
	}
	// The proxy still works, and a body that comes in time passes.
	if code, body := post(t, base, strings.NewReader(sqli), int64(len(sqli)), "application/x-www-form-urlencoded"); code != 200 {
		t.Fatalf("after the slow clients: %d %q", code, body)
	}
	received(t, up)
}

// wafOff switches the website firewall off for these tests, which follow
// a body (an attack's too) to the engine and on to the application: the
// firewall's own judgement is tested in waf_test.go, and its time over
// large bodies is not under test here.
var wafOff = engine.WAFSettings{Mode: "off"}
