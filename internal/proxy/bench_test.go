package proxy_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/events"
	"github.com/palisadehq/palisade/internal/proxy"
	"github.com/palisadehq/palisade/internal/testenv"
)

// discard is a ResponseWriter that keeps nothing but the status, reused
// across iterations so that the benchmark counts the proxy's allocations,
// not a recorder's.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }

// rawBackend answers every bodiless request on a kept-alive connection
// with 204, allocating nothing per request (a Go http.Server would add its
// own allocations to the benchmark's count). It returns its URL.
func rawBackend(tb testing.TB) *url.URL {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadSlice('\n')
					if err != nil {
						return
					}
					if len(line) <= 2 { // the blank line ending the headers
						if _, err := io.WriteString(c, "HTTP/1.1 204 No Content\r\n\r\n"); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	u, _ := url.Parse("http://" + ln.Addr().String())
	return u
}

// BenchmarkProxyGrant is the grant path of palisade proxy in process: a
// browser's GET for a website with default settings (the website firewall
// on), decided (granted requests sampled into events at 1%, the default)
// and forwarded over keep-alive to a loopback backend that answers 204.
// Allocations are the proxy's own: the request is not parsed by a server
// and the backend allocates nothing.
func BenchmarkProxyGrant(b *testing.B) {
	pal := testenv.New(b)
	pal.Website(b, "bench.example.com", engine.Settings{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := events.New(pal.Service.RecordBatch, events.Options{GrantSample: 0.01, Logger: slog.New(slog.DiscardHandler)})
	go rec.Run(ctx)
	pal.Protector.Observe(rec, pal.Protector.Metrics())
	px := proxy.New(pal.Protector, []proxy.Route{{Host: "bench.example.com", Upstream: rawBackend(b)}}, nil, nil)
	req := httptest.NewRequest("GET", "http://bench.example.com/products/42", nil)
	testenv.AsBrowser(req, chromeUA)
	req.RemoteAddr = "198.51.100.7:40000"
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		w.code = 0
		req.Body = http.NoBody
		px.ServeHTTP(w, req)
		if w.code != http.StatusNoContent {
			b.Fatalf("status %d", w.code)
		}
	}
}
