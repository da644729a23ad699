package h1

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Attacks on Server.WatchAfter (watchClient/stopWatch): a client that
// half-closes, pipelines byte by byte, resets, stays through many long
// requests on one connection, or a goroutine descheduled at the worst
// moment.

// attackServer serves hs's handler on the fast path for every path with
// WatchAfter watch, on loopback (through wrap's listener when not nil).
func attackServer(t *testing.T, watch time.Duration, h http.HandlerFunc, wrap func(net.Listener) net.Listener) (string, *Server) {
	t.Helper()
	hs := &http.Server{Handler: h, ErrorLog: quietLog(), ReadHeaderTimeout: 2 * time.Second, IdleTimeout: 5 * time.Second}
	fs := &Server{HTTP: hs, Take: func(string) bool { return true }, WatchAfter: watch}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	var sl net.Listener = ln
	if wrap != nil {
		sl = wrap(ln)
	}
	done := make(chan error, 1)
	go func() { done <- fs.Serve(sl) }()
	t.Cleanup(func() {
		fs.Close()
		<-done
	})
	return addr, fs
}

// slowClearListener's connections take delay to clear their read
// deadline (SetReadDeadline with the zero time), as a goroutine that is
// descheduled just before the call would.
type slowClearListener struct {
	net.Listener
	delay time.Duration
}

func (l slowClearListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &slowClearConn{Conn: c, delay: l.delay}, nil
}

type slowClearConn struct {
	net.Conn
	delay time.Duration
}

func (c *slowClearConn) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		time.Sleep(c.delay)
	}
	return c.Conn.SetReadDeadline(t)
}

// TestAttackWatchStopRace: watchClient once marked the watch as reading,
// unlocked, and only then cleared the read deadline. A handler that
// returned in between had stopWatch's past deadline (which ends the read)
// overwritten by that zero deadline: the read blocked until the client
// sent or left, and stopWatch waited for it, so the answer the client
// waited for never went out (found by this test; the deadline is now
// cleared under the lock). The descheduling is made certain here by a
// connection whose SetReadDeadline(zero) is slow.
func TestAttackWatchStopRace(t *testing.T) {
	addr, _ := attackServer(t, 20*time.Millisecond, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(40 * time.Millisecond) // past WatchAfter, returns while watchClient is between Unlock and SetReadDeadline
		io.WriteString(w, "ok")
	}, func(ln net.Listener) net.Listener { return slowClearListener{ln, 100 * time.Millisecond} })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /x HTTP/1.1\r\nHost: e\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer within 3 s to a client that waits for it: %v", err)
	}
	b, _ := io.ReadAll(res.Body)
	if string(b) != "ok" {
		t.Fatalf("body %q", b)
	}
}

// TestAttackWatchStopRaceNatural: the same race without help: many
// connections whose handlers return right about WatchAfter. Bounded:
// 40 connections × 10 requests, each answer within 3 s.
func TestAttackWatchStopRaceNatural(t *testing.T) {
	const watch = 2 * time.Millisecond
	addr, _ := attackServer(t, watch, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(watch)
		io.WriteString(w, "ok")
	}, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			br := bufio.NewReader(c)
			for j := 0; j < 10; j++ {
				io.WriteString(c, "GET /x HTTP/1.1\r\nHost: e\r\n\r\n")
				c.SetReadDeadline(time.Now().Add(3 * time.Second))
				res, err := http.ReadResponse(br, nil)
				if err != nil {
					errs <- fmt.Errorf("request %d: %v", j, err)
					return
				}
				b, err := io.ReadAll(res.Body)
				if err != nil || string(b) != "ok" {
					errs <- fmt.Errorf("request %d: %q %v", j, b, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestAttackWatchHalfClose: a client that sends its request and then
// shuts its side for writing (a half-close; it still reads) while the
// handler runs past WatchAfter. net/http cancels the context too (its
// background read sees EOF), but still writes what the handler wrote;
// the fast path must not answer with an empty body instead (it did, with
// Content-Length: 0, until this test found it: the watch's EOF now only
// ends the connection after the answer).
func TestAttackWatchHalfClose(t *testing.T) {
	handler := func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(80 * time.Millisecond) // past WatchAfter; ignores the context
		io.WriteString(w, "the whole body")
	}
	get := func(addr string) (string, error) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return "", err
		}
		defer c.Close()
		io.WriteString(c, "GET /x HTTP/1.1\r\nHost: e\r\n\r\n")
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return "", err
		}
		b, err := io.ReadAll(res.Body)
		return fmt.Sprintf("%d %q", res.StatusCode, b), err
	}
	// net/http's answer, for reference.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(handler), ErrorLog: quietLog()}
	go hs.Serve(ln)
	defer hs.Close()
	want, err := get(ln.Addr().String())
	if err != nil {
		t.Fatalf("net/http: %v", err)
	}
	addr, _ := attackServer(t, 20*time.Millisecond, handler, nil)
	got, err := get(addr)
	if err != nil || got != want {
		t.Fatalf("fast path to a half-closed client: %s (%v); net/http: %s", got, err, want)
	}
}

// TestAttackWatchManyOnOneConn: one connection, 30 requests whose
// handlers run around WatchAfter (before, at, after): the timer is reused
// and a fire of the previous request's timer must not watch, cancel or
// eat bytes of the next. Each answer is in order and no context ends
// early.
func TestAttackWatchManyOnOneConn(t *testing.T) {
	const watch = 5 * time.Millisecond
	addr, _ := attackServer(t, watch, func(w http.ResponseWriter, r *http.Request) {
		var d time.Duration
		fmt.Sscan(r.URL.Query().Get("us"), &d)
		time.Sleep(d * time.Microsecond)
		if err := r.Context().Err(); err != nil {
			io.WriteString(w, "cancelled "+r.URL.Path)
			return
		}
		io.WriteString(w, r.URL.Path)
	}, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	durs := []int{0, 4000, 5000, 6000, 10000, 100}
	for i := 0; i < 30; i++ {
		fmt.Fprintf(c, "GET /r%d?us=%d HTTP/1.1\r\nHost: e\r\n\r\n", i, durs[i%len(durs)])
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(res.Body)
		if want := fmt.Sprintf("/r%d", i); string(b) != want {
			t.Fatalf("request %d: %q, want %q", i, b, want)
		}
	}
}

// TestAttackWatchSlowPipeline: while a long handler runs, the client
// sends only the first byte of its next request (the watch reads it),
// then the rest a byte at a time after the answer. The kept byte and the
// rest make the second request; a client that then stalls mid-head is
// cut at ReadHeaderTimeout, not held forever.
func TestAttackWatchSlowPipeline(t *testing.T) {
	hs := &http.Server{ErrorLog: quietLog(), ReadHeaderTimeout: 300 * time.Millisecond, IdleTimeout: 5 * time.Second}
	hs.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(80 * time.Millisecond)
		}
		io.WriteString(w, r.URL.Path)
	})
	fs := &Server{HTTP: hs, Take: func(string) bool { return true }, WatchAfter: 20 * time.Millisecond}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- fs.Serve(ln) }()
	defer func() { fs.Close(); <-done }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	read := func(want string) {
		t.Helper()
		expectBody(t, c, br, want)
	}
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: e\r\n\r\n")
	time.Sleep(40 * time.Millisecond) // the watch reads
	io.WriteString(c, "G")
	read("/slow")
	for _, b := range []byte("ET /second HTTP/1.1\r\nHost: e\r\n\r\n") {
		c.Write([]byte{b})
		time.Sleep(time.Millisecond)
	}
	read("/second")
	// Again, and then stall mid-head: the connection must be closed at
	// ReadHeaderTimeout (net/http may answer 408 first).
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: e\r\n\r\n")
	time.Sleep(40 * time.Millisecond)
	io.WriteString(c, "G")
	read("/slow")
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatalf("a stalled head was not cut within 5 s (after %v): %v", time.Since(start), err)
	}
	if len(rest) > 0 && !strings.HasPrefix(string(rest), "HTTP/1.1 4") {
		t.Fatalf("a stalled head got %q", rest)
	}
}

// TestAttackWatchReset: a client that resets its connection (SO_LINGER 0)
// while the handler runs past WatchAfter cancels the context.
func TestAttackWatchReset(t *testing.T) {
	ctxErr := make(chan error, 1)
	addr, _ := attackServer(t, 20*time.Millisecond, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		ctxErr <- r.Context().Err()
	}, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /x HTTP/1.1\r\nHost: e\r\n\r\n")
	time.Sleep(50 * time.Millisecond)
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
	select {
	case err := <-ctxErr:
		if err != context.Canceled {
			t.Fatalf("context error %v after a reset", err)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("handler did not return")
	}
}

// TestAttackWatchShutdown: Shutdown while a watched request runs lets it
// finish with its context intact and its answer (Connection: close).
func TestAttackWatchShutdown(t *testing.T) {
	started := make(chan struct{}, 1)
	addr, fs := attackServer(t, 20*time.Millisecond, func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		time.Sleep(150 * time.Millisecond)
		if r.Context().Err() != nil {
			io.WriteString(w, "cancelled")
			return
		}
		io.WriteString(w, "ok")
	}, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /x HTTP/1.1\r\nHost: e\r\n\r\n")
	<-started
	time.Sleep(50 * time.Millisecond) // watched
	sd := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		sd <- fs.Shutdown(ctx)
	}()
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	if string(b) != "ok" || !res.Close {
		t.Fatalf("answer %q close=%v", b, res.Close)
	}
	if err := <-sd; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// TestAttackWatchPipelinedHandOff: the request a client pipelines while a
// long handler runs is one the fast path does not take (a POST with a
// body): the byte the watch read goes to net/http with the rest, and the
// client gets both answers in order.
func TestAttackWatchPipelinedHandOff(t *testing.T) {
	addr, _ := attackServer(t, 20*time.Millisecond, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(80 * time.Millisecond)
		}
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(b))
	}, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: e\r\n\r\n")
	time.Sleep(40 * time.Millisecond)
	io.WriteString(c, "POST /p HTTP/1.1\r\nHost: e\r\nContent-Length: 3\r\n\r\nabc")
	for _, want := range []string{"GET /slow ", "POST /p abc"} {
		expectBody(t, c, br, want)
	}
}

// expectBody reads the next answer on c (within 3 s) and fails unless its
// body is want.
func expectBody(t *testing.T, c net.Conn, br *bufio.Reader, want string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("want %q: %v", want, err)
	}
	b, _ := io.ReadAll(res.Body)
	if string(b) != want {
		t.Fatalf("body %q, want %q", b, want)
	}
}
