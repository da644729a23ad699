package h1

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// rawServer serves h on the fast path (every /fast path) with watch as
// WatchAfter until the test ends.
func rawServer(t *testing.T, watch time.Duration, h http.HandlerFunc) (string, *Server) {
	t.Helper()
	hs := &http.Server{Handler: h, ErrorLog: quietLog(), ReadHeaderTimeout: 2 * time.Second, IdleTimeout: 5 * time.Second}
	fs := &Server{HTTP: hs, Take: func(p string) bool { return strings.HasPrefix(p, "/fast") }, WatchAfter: watch}
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

const rawDate = "Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n"

// rawHandler answers each /fast path with WriteRawHead as its case says;
// a refused WriteRawHead is answered "refused" the ordinary way, with
// X-Refused: 1. results gets each WriteRawHead's answer.
func rawHandler(results chan<- bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rh := w.(RawHead)
		ok := false
		switch strings.TrimPrefix(r.URL.Path, "/fast/") {
		case "plain":
			ok = rh.WriteRawHead(200, []byte("X-B: 2\r\nx-a: 1\r\nSet-Cookie: s=1\r\n"), false, 5)
			if ok {
				w.Write([]byte("hello"))
			}
		case "hasdate":
			ok = rh.WriteRawHead(200, []byte("X-A: 1\r\n"+rawDate), true, 2)
			if ok {
				w.Write([]byte("ok"))
			}
		case "204":
			ok = rh.WriteRawHead(204, []byte("X-A: a\r\n"), false, 7)
		case "304":
			ok = rh.WriteRawHead(304, []byte("Etag: \"v\"\r\n"), false, 10)
		case "head":
			ok = rh.WriteRawHead(200, []byte("Content-Type: text/html\r\n"), false, 1234)
		case "head-nocl":
			ok = rh.WriteRawHead(200, nil, false, -1)
		case "zero":
			ok = rh.WriteRawHead(200, nil, false, 0)
		case "599":
			ok = rh.WriteRawHead(599, nil, false, 3)
			if ok {
				w.Write([]byte("odd"))
			}
		case "404":
			ok = rh.WriteRawHead(404, nil, false, 4)
			if ok {
				w.Write([]byte("nope"))
			}
		case "short":
			// Less than announced: the connection is closed after it.
			ok = rh.WriteRawHead(200, nil, false, 10)
			if ok {
				w.Write([]byte("abc"))
			}
		case "after-header":
			w.Header()
			ok = rh.WriteRawHead(200, []byte("X-Raw: 1\r\n"), false, 7)
		case "after-writeheader":
			w.WriteHeader(http.StatusAccepted)
			ok = rh.WriteRawHead(200, []byte("X-Raw: 1\r\n"), false, 7)
		case "twice":
			ok = rh.WriteRawHead(200, []byte("X-First: 1\r\n"), false, 7)
			results <- ok
			ok = rh.WriteRawHead(200, []byte("X-Raw: 1\r\n"), false, 7)
			results <- ok
			w.Write([]byte("refused"))
			return
		case "nolength":
			ok = rh.WriteRawHead(200, []byte("X-Raw: 1\r\n"), false, -1)
		case "101":
			ok = rh.WriteRawHead(101, []byte("X-Raw: 1\r\n"), false, -1)
		case "103":
			ok = rh.WriteRawHead(103, []byte("X-Raw: 1\r\n"), false, -1)
		case "100":
			ok = rh.WriteRawHead(100, []byte("X-Raw: 1\r\n"), false, 0)
		case "ok":
			w.Write([]byte("ok"))
			return
		}
		results <- ok
		if !ok {
			w.Header().Set("X-Refused", "1")
			w.Write([]byte("refused"))
		}
	}
}

// TestWriteRawHead: the bytes WriteRawHead writes, and what it refuses
// (writing nothing: the handler's ordinary answer follows).
func TestWriteRawHead(t *testing.T) {
	results := make(chan bool, 4)
	addr, _ := rawServer(t, 0, rawHandler(results))
	const refused = "HTTP/1.1 200 OK\r\nX-Refused: 1\r\nDate: X\r\nContent-Length: 7\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nrefused"
	const okAnswer = "HTTP/1.1 200 OK\r\nDate: X\r\nContent-Length: 2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nok"
	for _, tc := range []struct {
		name, method, path string
		ok                 bool
		want               string // after the Date's value is X; a /fast/ok follows on the connection
	}{
		{"lines in order, Date, Content-Length", "GET", "plain", true,
			"HTTP/1.1 200 OK\r\nX-B: 2\r\nx-a: 1\r\nSet-Cookie: s=1\r\nDate: X\r\nContent-Length: 5\r\n\r\nhello"},
		{"the caller's Date, none added", "GET", "hasdate", true,
			"HTTP/1.1 200 OK\r\nX-A: 1\r\nDate: X\r\nContent-Length: 2\r\n\r\nok"},
		{"204: no Content-Length", "GET", "204", true, "HTTP/1.1 204 No Content\r\nX-A: a\r\nDate: X\r\n\r\n"},
		{"304: no Content-Length", "GET", "304", true, "HTTP/1.1 304 Not Modified\r\nEtag: \"v\"\r\nDate: X\r\n\r\n"},
		{"HEAD: the length given, no body", "HEAD", "head", true,
			"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nDate: X\r\nContent-Length: 1234\r\n\r\n"},
		{"HEAD without a length", "HEAD", "head-nocl", true, "HTTP/1.1 200 OK\r\nDate: X\r\n\r\n"},
		{"Content-Length: 0", "GET", "zero", true, "HTTP/1.1 200 OK\r\nDate: X\r\nContent-Length: 0\r\n\r\n"},
		{"599: net/http's status line", "GET", "599", true,
			"HTTP/1.1 599 status code 599\r\nDate: X\r\nContent-Length: 3\r\n\r\nodd"},
		{"404: the standard reason", "GET", "404", true, "HTTP/1.1 404 Not Found\r\nDate: X\r\nContent-Length: 4\r\n\r\nnope"},
		{"after Header()", "GET", "after-header", false, refused},
		{"after WriteHeader", "GET", "after-writeheader", false, // X-Refused set after WriteHeader is not sent
			"HTTP/1.1 202 Accepted\r\nDate: X\r\nContent-Length: 7\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nrefused"},
		{"no length on GET", "GET", "nolength", false, refused},
		{"101", "GET", "101", false, refused},
		{"103", "GET", "103", false, refused},
		{"100", "GET", "100", false, refused},
	} {
		req := tc.method + " /fast/" + tc.path + " HTTP/1.1\r\nHost: example.com\r\n\r\nGET /fast/ok HTTP/1.1\r\nHost: example.com\r\n\r\n"
		got, err := roundTrip(addr, req, 5*time.Second)
		if err != nil {
			t.Errorf("%s: %v (got %q)", tc.name, err, got)
			continue
		}
		if want := tc.want + okAnswer; string(got) != want {
			t.Errorf("%s:\ngot  %q\nwant %q", tc.name, got, want)
		}
		select {
		case ok := <-results:
			if ok != tc.ok {
				t.Errorf("%s: WriteRawHead returned %v, want %v", tc.name, ok, tc.ok)
			}
		default:
			t.Errorf("%s: the handler did not report", tc.name)
		}
	}

	// Called twice: the second call is refused, and writes nothing.
	got, err := roundTrip(addr, "GET /fast/twice HTTP/1.1\r\nHost: example.com\r\n\r\n", 5*time.Second)
	if first, second := <-results, <-results; err != nil || !first || second ||
		string(got) != "HTTP/1.1 200 OK\r\nX-First: 1\r\nDate: X\r\nContent-Length: 7\r\n\r\nrefused" {
		t.Errorf("twice: %v, %v, %v, %q", first, second, err, got)
	}

	// Less body than announced: the connection is closed after it, the
	// next request unanswered.
	got, err = roundTrip(addr, "GET /fast/short HTTP/1.1\r\nHost: example.com\r\n\r\nGET /fast/ok HTTP/1.1\r\nHost: example.com\r\n\r\n", 5*time.Second)
	<-results
	if err != nil || string(got) != "HTTP/1.1 200 OK\r\nDate: X\r\nContent-Length: 10\r\n\r\nabc" {
		t.Errorf("short: %v, %q", err, got)
	}
}

// TestWriteRawHeadShutdown: during Shutdown, a raw head says
// Connection: close and the connection is closed after the answer.
func TestWriteRawHeadShutdown(t *testing.T) {
	started, release := make(chan struct{}, 1), make(chan struct{})
	addr, fs := rawServer(t, 0, func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		if !w.(RawHead).WriteRawHead(200, []byte("X-A: 1\r\n"), false, 2) {
			t.Error("WriteRawHead refused")
		}
		w.Write([]byte("ok"))
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /fast/x HTTP/1.1\r\nHost: example.com\r\n\r\n")
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler did not start")
	}
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- fs.Shutdown(ctx)
	}()
	for i := 0; !fs.closing.Load(); i++ {
		if i > 500 {
			t.Fatal("Shutdown did not begin")
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading: %v (got %q)", err, b)
	}
	if got := string(dateRE.ReplaceAll(b, []byte("Date: X\r\n"))); got != "HTTP/1.1 200 OK\r\nX-A: 1\r\nDate: X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok" {
		t.Fatalf("answer during Shutdown: %q", got)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// readOK reads one 200 answer with body want from br.
func readOK(t *testing.T, br *bufio.Reader, want string) {
	t.Helper()
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 || string(b) != want {
		t.Fatalf("answer %d %q %v, want 200 %q", res.StatusCode, b, err, want)
	}
}

// TestGone: SetGone's f runs when the client hangs up during a long
// handler, not when the handler ends normally, at once when the context
// has already ended, and a handler that leaves it set does not leave it
// to the next request on the connection.
func TestGone(t *testing.T) {
	type report struct {
		ranBeforeClear bool // f had run when the handler looked
		cleared        bool // ClearGone's answer
		ctxErr         error
	}
	reports := make(chan report, 4)
	var forgotten atomic.Int64 // runs of the f that /fast/forget left set
	addr, _ := rawServer(t, 20*time.Millisecond, func(w http.ResponseWriter, r *http.Request) {
		g := w.(Gone)
		switch r.URL.Path {
		case "/fast/long": // until the client leaves, or 5 s
			var ran atomic.Bool
			fired := make(chan struct{})
			g.SetGone(func() { ran.Store(true); close(fired) })
			select {
			case <-fired:
			case <-time.After(5 * time.Second):
			}
			rep := report{ranBeforeClear: ran.Load()}
			rep.cleared = g.ClearGone()
			rep.ctxErr = r.Context().Err()
			reports <- rep
		case "/fast/normal": // past WatchAfter, then answers
			var ran atomic.Bool
			g.SetGone(func() { ran.Store(true) })
			time.Sleep(60 * time.Millisecond)
			rep := report{ranBeforeClear: ran.Load()}
			rep.cleared = g.ClearGone()
			rep.ctxErr = r.Context().Err()
			reports <- rep
			w.Write([]byte("normal"))
		case "/fast/late": // SetGone once the context has ended
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			var ran atomic.Bool
			g.SetGone(func() { ran.Store(true) })
			rep := report{ranBeforeClear: ran.Load()}
			rep.cleared = g.ClearGone()
			rep.ctxErr = r.Context().Err()
			reports <- rep
		case "/fast/forget": // SetGone without ClearGone
			g.SetGone(func() { forgotten.Add(1) })
			w.Write([]byte("forgot"))
		case "/fast/wait": // until the client leaves, or 5 s; no SetGone
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			reports <- report{cleared: g.ClearGone(), ctxErr: r.Context().Err()}
		}
	})
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		return c, bufio.NewReader(c)
	}
	get := func(c net.Conn, path string) {
		if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: example.com\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	wait := func(what string) report {
		t.Helper()
		select {
		case r := <-reports:
			return r
		case <-time.After(3 * time.Second):
			t.Fatalf("%s: the handler did not report within 3 s", what)
		}
		return report{}
	}

	// The client hangs up during a long handler: f runs (before the
	// handler's 5 s are up), ClearGone says so.
	c, _ := dial()
	get(c, "/fast/long")
	time.Sleep(60 * time.Millisecond)
	c.Close()
	if r := wait("client leaves"); !r.ranBeforeClear || !r.cleared || r.ctxErr == nil {
		t.Errorf("client leaves: %+v, want f run, ClearGone true, the context ended", r)
	}

	// The handler ends normally (past WatchAfter, so the watch ran): f
	// does not run, ClearGone false.
	c, br := dial()
	get(c, "/fast/normal")
	readOK(t, br, "normal")
	if r := wait("normal"); r.ranBeforeClear || r.cleared || r.ctxErr != nil {
		t.Errorf("normal end: %+v, want f not run, ClearGone false", r)
	}

	// SetGone after the context ended: f runs at once.
	c, _ = dial()
	get(c, "/fast/late")
	time.Sleep(60 * time.Millisecond)
	c.Close()
	if r := wait("late"); !r.ranBeforeClear || !r.cleared || r.ctxErr == nil {
		t.Errorf("SetGone after the context ended: %+v, want f run at once, ClearGone true", r)
	}

	// A handler that forgets ClearGone: the next request on the
	// connection, whose client leaves, does not run its f, and its
	// ClearGone reports nothing ran.
	c, br = dial()
	get(c, "/fast/forget")
	readOK(t, br, "forgot")
	get(c, "/fast/wait")
	time.Sleep(60 * time.Millisecond)
	c.Close()
	if r := wait("after forget"); r.ctxErr == nil || r.cleared {
		t.Errorf("the request after a forgotten SetGone: %+v, want its context ended and ClearGone false", r)
	}
	time.Sleep(20 * time.Millisecond)
	if n := forgotten.Load(); n != 0 {
		t.Errorf("the forgotten f ran %d times in the next request", n)
	}
}
