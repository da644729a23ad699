package h1

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// watchServer serves /fast/wait (waits for its context to end or for
// hold, then answers "waited" or "cancelled") and /fast/ok on the fast
// path, with WatchAfter of 20 ms. It reports each /fast/wait's context
// error on errs.
func watchServer(t *testing.T, hold time.Duration, errs chan<- error) (addr string, fs *Server) {
	t.Helper()
	hs := &http.Server{ErrorLog: quietLog(), ReadHeaderTimeout: 2 * time.Second, IdleTimeout: 5 * time.Second}
	hs.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/fast/wait" {
			w.Write([]byte("ok"))
			return
		}
		select {
		case <-r.Context().Done():
			errs <- r.Context().Err()
			w.Write([]byte("cancelled"))
		case <-time.After(hold):
			errs <- r.Context().Err()
			w.Write([]byte("waited"))
		}
	})
	fs = &Server{HTTP: hs, Take: func(p string) bool { return strings.HasPrefix(p, "/fast") }, WatchAfter: 20 * time.Millisecond}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- fs.Serve(ln) }()
	t.Cleanup(func() {
		fs.Close()
		<-done
	})
	return ln.Addr().String(), fs
}

// A client that leaves while a long handler runs cancels its context
// once the handler has run WatchAfter.
func TestWatchClientLeaves(t *testing.T) {
	errs := make(chan error, 1)
	addr, _ := watchServer(t, 10*time.Second, errs)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "GET /fast/wait HTTP/1.1\r\nHost: e\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the handler runs, the watch starts
	start := time.Now()
	c.Close()
	select {
	case err := <-errs:
		if err != context.Canceled {
			t.Fatalf("context error %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("noticed after %v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's context was not cancelled when the client left")
	}
}

// A client that stays, even one that sends its next request while the
// handler runs (a pipelined request: the watch reads its first byte), gets
// both answers on the connection; a client that leaves before WatchAfter
// is noticed at WatchAfter.
func TestWatchClientStays(t *testing.T) {
	errs := make(chan error, 4)
	addr, _ := watchServer(t, 150*time.Millisecond, errs)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	read := func(want string) {
		t.Helper()
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || string(b) != want {
			t.Fatalf("answer %d %q, want 200 %q", res.StatusCode, b, want)
		}
	}
	// Twice on one connection: the watch of the first must leave the
	// connection as it was for the second.
	for i := 0; i < 2; i++ {
		io.WriteString(c, "GET /fast/wait HTTP/1.1\r\nHost: e\r\n\r\n")
		read("waited")
		if err := <-errs; err != nil {
			t.Fatalf("context ended while the client stayed: %v", err)
		}
	}
	// The next request sent while the handler runs: its first byte is
	// read by the watch, in two writes so that the watch cannot read
	// the whole.
	io.WriteString(c, "GET /fast/wait HTTP/1.1\r\nHost: e\r\n\r\n")
	time.Sleep(60 * time.Millisecond)
	io.WriteString(c, "G")
	time.Sleep(20 * time.Millisecond)
	io.WriteString(c, "ET /fast/ok HTTP/1.1\r\nHost: e\r\n\r\n")
	read("waited")
	if err := <-errs; err != nil {
		t.Fatalf("context ended while the client sent its next request: %v", err)
	}
	read("ok")
	served, _ := Counts()
	if served == 0 {
		t.Fatal("the fast path served nothing")
	}
}
