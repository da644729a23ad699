package fcgiauth

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

const chromeUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

func browserParams(host, ua string) map[string]string {
	return map[string]string{"REQUEST_METHOD": "GET", "REQUEST_URI": "/shop?x=1", "HTTP_HOST": host, "REMOTE_ADDR": "198.51.100.7",
		"SERVER_PROTOCOL": "HTTP/1.1", "HTTP_USER_AGENT": ua, "HTTP_ACCEPT": "text/html", "HTTP_ACCEPT_LANGUAGE": "en", "HTTP_ACCEPT_ENCODING": "gzip",
		"FCGI_ROLE": "AUTHORIZER"}
}

// client speaks the web server's side over a pipe.
type client struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func newClient(t *testing.T, s *Server) *client {
	t.Helper()
	a, b := net.Pipe()
	go func() { _ = s.ServeConn(b); b.Close() }()
	t.Cleanup(func() { a.Close() })
	_ = a.SetDeadline(time.Now().Add(5 * time.Second))
	return &client{t: t, c: a, r: bufio.NewReader(a)}
}

func (c *client) begin(id uint16, role uint16, keep bool) {
	var b [8]byte
	binary.BigEndian.PutUint16(b[:2], role)
	if keep {
		b[2] = flagKeepConn
	}
	c.write(typeBeginRequest, id, b[:])
}

func (c *client) write(t uint8, id uint16, content []byte) {
	c.t.Helper()
	if err := writeRecord(c.c, t, id, content); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) params(id uint16, p map[string]string) {
	var b []byte
	for k, v := range p {
		b = appendPair(b, k, v)
	}
	for len(b) > 0 { // several records, as a web server may send
		n := min(len(b), 100)
		c.write(typeParams, id, b[:n])
		b = b[n:]
	}
	c.write(typeParams, id, nil)
}

// response reads records for id until END_REQUEST and returns stdout and
// the protocol status.
func (c *client) response(id uint16) (string, uint8) {
	c.t.Helper()
	var out bytes.Buffer
	buf := make([]byte, 0, 1024)
	for {
		h, content, err := readRecord(c.r, buf)
		if err != nil {
			c.t.Fatalf("reading the answer: %v", err)
		}
		if h.RequestID != id {
			c.t.Fatalf("record for request %d while waiting for %d", h.RequestID, id)
		}
		switch h.Type {
		case typeStdout:
			out.Write(content)
		case typeEndRequest:
			return out.String(), content[4]
		}
	}
}

func newServer(t *testing.T) (*Server, *testenv.Stack) {
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{})
	return New(pal.Protector, nil, slog.New(slog.NewTextHandler(io.Discard, nil))), pal
}

func TestAuthorizerVerdicts(t *testing.T) {
	s, _ := newServer(t)
	c := newClient(t, s)
	cases := []struct {
		ua, host, want string
		extra          map[string]string
	}{
		{chromeUA, "shop.example.com", "Status: 200\r\n", nil},
		{"sqlmap/1.7", "shop.example.com", "Status: 403\r\n", nil},
		{"curl/8.5.0", "shop.example.com", "Checking your browser", nil},
		{"sqlmap/1.7", "unknown.example.org", "Status: 200\r\n", nil}, // not a Palisade website: unprotected
		{"sqlmap/1.7", "shop.example.com", "Variable-PALISADE_ACTION: deny", map[string]string{"PALISADE_AUTHORITATIVE": "off"}},
		// the page Apache then fetches shows the reference ID sent back
		{"sqlmap/1.7", "shop.example.com", "Variable-PALISADE_REF: ", map[string]string{"PALISADE_AUTHORITATIVE": "off"}},
		{"sqlmap/1.7", "shop.example.com", "Variable-PALISADE_ERROR: unknown server key", map[string]string{"PALISADE_KEY": "sk_wrong"}},
		// Apache calling itself (REMOTE_ADDR is its own SERVER_ADDR): built-in self_calls
		{"curl/8.5.0", "shop.example.com", "Status: 200\r\n", map[string]string{"REMOTE_ADDR": "10.0.0.5", "SERVER_ADDR": "10.0.0.5"}},
		{"curl/8.5.0", "shop.example.com", "Checking your browser", map[string]string{"REMOTE_ADDR": "10.0.0.6", "SERVER_ADDR": "10.0.0.5"}},
		// Apache behind a proxy it takes no client address from (nginx in
		// front on the same machine): every visitor is 127.0.0.1, and the
		// proxy's headers say so, so none of them is a self call.
		{"curl/8.5.0", "shop.example.com", "Checking your browser", map[string]string{"REMOTE_ADDR": "127.0.0.1", "SERVER_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "198.51.100.7"}},
		{"curl/8.5.0", "shop.example.com", "Status: 200\r\n", map[string]string{"REMOTE_ADDR": "127.0.0.1", "SERVER_ADDR": "127.0.0.1"}},
	}
	for i, tc := range cases {
		id := uint16(i + 1)
		c.begin(id, roleAuthorizer, true)
		p := browserParams(tc.host, tc.ua)
		for k, v := range tc.extra {
			p[k] = v
		}
		c.params(id, p)
		out, st := c.response(id)
		if st != statusRequestComplete || !strings.Contains(out, tc.want) {
			t.Errorf("%s on %s %v: status %d, %.200q", tc.ua, tc.host, tc.extra, st, out)
		}
	}
}

func TestProtocol(t *testing.T) {
	s, _ := newServer(t)
	c := newClient(t, s)
	// Management: GET_VALUES.
	var q []byte
	for _, k := range []string{"FCGI_MAX_CONNS", "FCGI_MPXS_CONNS", "NOT_A_VALUE"} {
		q = appendPair(q, k, "")
	}
	c.write(typeGetValues, 0, q)
	h, content, err := readRecord(c.r, nil)
	got := map[string]string{}
	if err != nil || h.Type != typeGetValuesResult || parsePairs(content, got) != nil || got["FCGI_MPXS_CONNS"] != "1" || len(got) != 2 {
		t.Fatalf("GET_VALUES: %+v %v %v", h, got, err)
	}
	// An unknown management record type.
	c.write(42, 0, nil)
	if h, content, _ := readRecord(c.r, nil); h.Type != typeUnknownType || content[0] != 42 {
		t.Fatalf("unknown type: %+v %v", h, content)
	}
	// The Responder role is refused; the connection stays (keep-conn).
	c.begin(1, roleResponder, true)
	if _, st := c.response(1); st != statusUnknownRole {
		t.Fatalf("responder role: status %d", st)
	}
	// Two requests multiplexed on one connection, answered each by its id.
	c.begin(2, roleAuthorizer, true)
	c.begin(3, roleAuthorizer, true)
	c.params(3, browserParams("shop.example.com", "sqlmap/1.7"))
	if out, _ := c.response(3); !strings.Contains(out, "Status: 403") {
		t.Fatalf("request 3: %.100q", out)
	}
	c.params(2, browserParams("shop.example.com", chromeUA))
	if out, _ := c.response(2); !strings.Contains(out, "Status: 200") {
		t.Fatalf("request 2: %.100q", out)
	}
	// An aborted request is ended.
	c.begin(4, roleAuthorizer, true)
	c.write(typeAbortRequest, 4, nil)
	if _, st := c.response(4); st != statusRequestComplete {
		t.Fatalf("abort: %d", st)
	}
	// Without keep-conn the server closes after answering.
	c.begin(5, roleAuthorizer, false)
	c.params(5, browserParams("shop.example.com", chromeUA))
	c.response(5)
	if _, _, err := readRecord(c.r, nil); err == nil {
		t.Fatal("the connection stayed open without FCGI_KEEP_CONN")
	}
}

func TestProtocolErrors(t *testing.T) {
	s, _ := newServer(t)
	for name, send := range map[string][]byte{
		"version 2":       {2, typeBeginRequest, 0, 1, 0, 8, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0},
		"short content":   {1, typeParams, 0, 1, 0, 200, 0, 0, 1, 2, 3},
		"short begin":     {1, typeBeginRequest, 0, 1, 0, 2, 0, 0, 0, 2},
		"begin with id 0": {1, typeBeginRequest, 0, 0, 0, 8, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0},
	} {
		a, b := net.Pipe()
		done := make(chan error, 1)
		go func() { done <- s.ServeConn(b) }()
		go func() { _, _ = a.Write(send); a.Close() }()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("%s: accepted", name)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the server hangs", name)
		}
	}
	// Parameters beyond the bound end the connection.
	c := newClient(t, s)
	c.begin(1, roleAuthorizer, true)
	big := appendPair(nil, "HTTP_X", strings.Repeat("a", 60000))
	for i := 0; i < 3; i++ {
		c.write(typeParams, 1, big)
	}
	if _, _, err := readRecord(c.r, nil); err == nil {
		t.Fatal("a huge FCGI_PARAMS stream was accepted")
	}
}

func TestPairs(t *testing.T) {
	long := strings.Repeat("v", 300)
	b := appendPair(appendPair(nil, "A", "1"), "LONG", long)
	m := map[string]string{}
	if err := parsePairs(b, m); err != nil || m["A"] != "1" || m["LONG"] != long {
		t.Fatalf("%v %v", m, err)
	}
	for _, bad := range [][]byte{{5}, {1, 10, 'a'}, {0x80, 0, 0}, {0x80, 0, 0, 9, 0, 'a'}} {
		if err := parsePairs(bad, map[string]string{}); err == nil {
			t.Errorf("%v parsed", bad)
		}
	}
}

// BenchmarkAuthorize: one authorizer request as mod_authnz_fcgi sends it
// (its own connection, ~25 CGI variables), over loopback TCP.
func BenchmarkAuthorize(b *testing.B) {
	pal := testenv.New(b)
	pal.Website(b, "shop.example.com", engine.Settings{})
	s := New(pal.Protector, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Serve(ctx, ln)
	var req bytes.Buffer
	var begin [8]byte
	begin[1] = roleAuthorizer
	_ = writeRecord(&req, typeBeginRequest, 1, begin[:])
	var p []byte
	for k, v := range browserParams("shop.example.com", chromeUA) {
		p = appendPair(p, k, v)
	}
	for i := 0; i < 15; i++ {
		p = appendPair(p, fmt.Sprintf("SERVER_VAR_%d", i), "some value of a typical length")
	}
	_ = writeRecord(&req, typeParams, 1, p)
	_ = writeRecord(&req, typeParams, 1, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Write(req.Bytes()); err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, c); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
