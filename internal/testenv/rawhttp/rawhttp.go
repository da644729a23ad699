// Package rawhttp sends HTTP requests to a test server as exact bytes over
// TCP and gives back the answer's bytes as sent. Vendor clients read header
// names case-sensitively and write requests Go's client would rewrite, so
// their compatibility tests must not go through net/http's client, which
// canonicalises header names both ways.
package rawhttp

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http/httputil"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Exchange writes req to addr exactly as given and returns every byte of
// the answer, read until the server closes the connection (so the request
// should say "Connection: close"). A reset after the answer (a server that
// refused a body it did not read) still returns what arrived.
func Exchange(t testing.TB, addr string, req []byte) []byte {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil && len(b) == 0 {
		t.Fatalf("reading the answer: %v", err)
	}
	return b
}

// Answer is one answer as it came over the wire.
type Answer struct {
	Status     int      // the status code
	StatusLine string   // "HTTP/1.1 200 OK"
	Head       string   // the status line and header lines, each ending in CRLF
	Headers    []string // the header lines as sent ("BG-X-Mitigation: deny")
	Body       []byte   // the body, de-chunked when it was chunked
}

// Do sends req to addr (Exchange) and splits the answer.
func Do(t testing.TB, addr string, req []byte) Answer {
	t.Helper()
	b := Exchange(t, addr, req)
	head, body, ok := bytes.Cut(b, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("no end of headers in %q", b)
	}
	lines := strings.Split(string(head), "\r\n")
	a := Answer{StatusLine: lines[0], Head: string(head) + "\r\n", Headers: lines[1:], Body: body}
	if f := strings.Fields(a.StatusLine); len(f) >= 2 {
		a.Status, _ = strconv.Atoi(f[1])
	}
	if a.Status == 0 {
		t.Fatalf("no status in %q", a.StatusLine)
	}
	if strings.EqualFold(a.Header("Transfer-Encoding"), "chunked") {
		var err error
		if a.Body, err = io.ReadAll(httputil.NewChunkedReader(bufio.NewReader(bytes.NewReader(body)))); err != nil {
			t.Fatalf("chunked body: %v", err)
		}
	}
	return a
}

// Header returns the value of the last header line whose name is exactly
// name (case-sensitive, as vendor clients read them), or "".
func (a Answer) Header(name string) string {
	v := ""
	for _, h := range a.Headers {
		if k, val, ok := strings.Cut(h, ":"); ok && k == name {
			v = strings.TrimSpace(val)
		}
	}
	return v
}
