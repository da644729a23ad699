package redteam21

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/proxy"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestFixed_ProxyUnsolicitedBytesReachNextVisitor: palisade proxy's
// direct path (internal/proxy/fast.go) puts an upstream connection back in
// its pool as soon as a response's framing ends, and reuses one idle for
// less than a second without looking at it (get: "now.Sub(c.used) <
// time.Second || alive(...)"). Bytes the upstream sends after the
// response — a HEAD answered with a body a moment later, more bytes than
// Content-Length — are then read as the NEXT visitor's response: here
// visitor A's HEAD plants a whole response that visitor B's GET receives.
// http.Transport (the ReverseProxy path, and before this change every
// request) closes a connection on which unsolicited bytes arrive, as
// nginx's upstream keepalive does.
func TestFixed_ProxyUnsolicitedBytesReachNextVisitor(t *testing.T) {
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{})
	planted := "HTTP/1.1 200 OK\r\nContent-Length: 26\r\nX-Planted: yes\r\n\r\nplanted by visitor A's HEAD"
	planted = strings.Replace(planted, "26", fmt.Sprint(len("planted by visitor A's HEAD")), 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(20 * time.Second))
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					if req.Method == "HEAD" {
						// A backend that sends HEAD a body, after its head.
						fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n", len(planted))
						time.Sleep(50 * time.Millisecond)
						fmt.Fprint(c, planted)
						continue
					}
					fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\nthe real answer")
				}
			}(c)
		}
	}()
	up, _ := url.Parse("http://" + ln.Addr().String())
	px := httptest.NewServer(proxy.NewWith(pal.Protector, []proxy.Route{{Host: "shop.example.com", Upstream: up}}, nil, nil, proxy.Options{}))
	defer px.Close()
	addr := strings.TrimPrefix(px.URL, "http://")

	res, _ := raw(t, addr, "HEAD /uploads/a.txt HTTP/1.1\r\nHost: shop.example.com\r\n"+browserHeaders(chromeUA)+"Connection: close\r\n\r\n")
	if res.StatusCode != 200 {
		t.Fatalf("visitor A's HEAD: %d", res.StatusCode)
	}
	time.Sleep(200 * time.Millisecond) // the planted bytes are on the idle connection
	code, body := get(t, addr, "shop.example.com", "/account", "Cookie: session=visitor-b\r\n")
	if code != 200 || body != "the real answer" {
		t.Errorf("visitor B's GET /account got %d %q, not its own response (the real answer)", code, body)
	}
}
