package botguard_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/palisadehq/palisade/internal/api/botguard"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/protect"
	"github.com/palisadehq/palisade/internal/testenv"
	"github.com/palisadehq/palisade/internal/waf"
)

const sqli = "id=1' OR '1'='1"

// TestCheckPassesRawBody is issue 19 item 3 for /v2.1/check: the visitor's
// body in the raw request (after the blank line) reaches the engine, its
// first waf.MaxBody bytes and BodyTruncated beyond; the answer keeps
// BotGuard's shape.
func TestCheckPassesRawBody(t *testing.T) {
	pal := testenv.New(t)
	site := pal.Website(t, "shop.example.com", engine.Settings{WAF: wafOff})
	h := botguard.New(pal.Protector, protect.Loopback, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var mu sync.Mutex
	type seen struct {
		method string
		body   []byte
		isNil  bool
		trunc  bool
	}
	var last seen
	botguard.Watch(h, func(r *engine.Request) {
		mu.Lock()
		defer mu.Unlock()
		last = seen{r.Method, bytes.Clone(r.Body), r.Body == nil, r.BodyTruncated}
	})
	mux := http.NewServeMux()
	h.Register(mux, func(_ string, h http.Handler) http.Handler { return h })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	hd := []string{"BG-Key: " + site.ServerKey, "BG-RemoteAddr: 203.0.113.5"}
	form := func(body string) string {
		return visitor("POST", "/login", "HTTP/1.1", append(browser("shop.example.com"), "Content-Type: application/x-www-form-urlencoded", "Content-Length: "+strconv.Itoa(len(body))), body)
	}
	ask := func(name, raw string, extra ...string) seen {
		t.Helper()
		a := parseAnswer(t, rawExchange(t, addr, checkRequest(addr, "/v2.1/check", raw, append(hd, extra...)...)))
		if a.status != 200 || a.mitigation() != "grant" || !hasLine(a.raw, "BG-X-Mitigation: grant") {
			t.Fatalf("%s: %d %q\n%.400s", name, a.status, a.mitigation(), a.raw)
		}
		mu.Lock()
		defer mu.Unlock()
		s := last
		last = seen{}
		return s
	}
	if s := ask("form", form(sqli)); s.method != "POST" || string(s.body) != sqli || s.trunc {
		t.Fatalf("form: engine got %+v", s)
	}
	if s := ask("LF line ends", strings.ReplaceAll(form(sqli), "\r\n", "\n")); string(s.body) != sqli {
		t.Fatalf("LF: engine got %+v", s)
	}
	if s := ask("no body", visitor("GET", "/", "HTTP/1.1", browser("shop.example.com"), "")); s.method != "GET" || s.isNil || len(s.body) != 0 || s.trunc {
		t.Fatalf("no body: engine got %+v, want an empty, seen body", s)
	}
	big := strings.Repeat("a=b&", 1<<18) // 1 MiB
	if s := ask("1 MiB", form(big)); string(s.body) != big[:waf.MaxBody] || !s.trunc {
		t.Fatalf("1 MiB: engine got %d bytes, truncated %v", len(s.body), s.trunc)
	}
	if s := ask("at the limit", form(big[:waf.MaxBody])); len(s.body) != waf.MaxBody || s.trunc {
		t.Fatalf("at the limit: engine got %d bytes, truncated %v", len(s.body), s.trunc)
	}
	// Gzip-compressed check request: the body once decompressed.
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte(form(sqli)))
	zw.Close()
	gz := "POST /v2.1/check HTTP/1.1\r\nHost: x\r\nConnection: close\r\nBG-Key: " + site.ServerKey + "\r\nBG-RemoteAddr: 203.0.113.5\r\nContent-Encoding: gzip\r\nContent-Length: " + strconv.Itoa(z.Len()) + "\r\n\r\n" + z.String()
	a := parseAnswer(t, rawExchange(t, addr, gz))
	mu.Lock()
	s := last
	mu.Unlock()
	if a.status != 200 || string(s.body) != sqli {
		t.Fatalf("gzip: %d, engine got %+v", a.status, s)
	}
}

// wafOff switches the website firewall off for these tests, which follow
// a body (an attack's too) to the engine and on to the application: the
// firewall's own judgement is tested in waf_test.go, and its time over
// large bodies is not under test here.
var wafOff = engine.WAFSettings{Mode: "off"}
