// Package h1 is a front for net/http's server that answers the simplest
// HTTP/1.1 requests itself.
//
// Every request a web server asks Palisade for a verdict (nginx's
// auth_request, Traefik's and Caddy's forward auth) and most requests a
// site gets through `palisade proxy` are bodiless GETs and HEADs on a
// kept-alive connection. For those, net/http's machinery (a read in the
// background between requests to notice a client that left, a bufio pair,
// a context and a response object per request, a goroutine hand-off) costs
// as much CPU as the verdict itself; on a machine where system calls are
// dear, more.
//
// Server reads a connection's requests itself while each is one it can
// take exactly as net/http would (Take's paths, GET or HEAD, HTTP/1.1, a
// Host, no body, nothing that needs net/http's judgement: see parse). It
// builds the *http.Request net/http would build and calls the same
// handler, with a ResponseWriter that writes what net/http writes (status
// line, the handler's headers sorted, then Date, Content-Length,
// Content-Type, Connection, Transfer-Encoding; Content-Length when the
// whole body fits in 2 KB, chunked otherwise). At the first request it
// cannot take, the connection and every byte read from it go to the
// net/http server, which serves the connection from then on as if it had
// read it from the start: anything unusual, malformed or hostile gets
// net/http's own answer.
//
// What it does not do: TLS (use http.Server for TLS listeners), HTTP/1.0,
// Expect, Upgrade, request bodies (all handed to net/http). A client that
// leaves while its handler runs cancels the request's context only when
// the handler has run for Server.WatchAfter (net/http watches every
// request from its start, with a read in another goroutine per request);
// without WatchAfter the context ends when the handler returns, and a
// write to a client that left fails.
//
// Differences from net/http, inherent and harmless:
//
//   - A pipelined request handed off after fast ones is read by net/http
//     as a connection's first, so its head is held to MaxHeaderBytes +
//     4096 bytes counted from its first byte; net/http serving the
//     connection throughout counts only what it read after the previous
//     request, which depends on how the bytes were split into reads. A
//     head within a few KB of the limit can get 431 here where net/http
//     would have served it (or not: it is net/http's own chance).
//   - Server.SetKeepAlivesEnabled(false) on HTTP is not seen (no getter):
//     fast connections stay kept alive until Shutdown or Close.
//   - The ResponseWriter offers Flush, FlushError, SetReadDeadline and
//     SetWriteDeadline to http.ResponseController, not Hijack or
//     EnableFullDuplex (no request it takes has a body or an Upgrade).
package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/palisadehq/palisade/internal/rawio"
)

// MaxFastHead bounds the request line and headers the fast path reads;
// a longer head goes to net/http (which applies MaxHeaderBytes).
const MaxFastHead = 16 << 10

// Server answers simple requests for Take's paths and hands every other
// connection to HTTP.
type Server struct {
	// HTTP serves what the fast path does not take; its Handler serves
	// both. Its timeouts (ReadHeaderTimeout, ReadTimeout, WriteTimeout,
	// IdleTimeout), ErrorLog, BaseContext and ConnContext apply to the
	// fast path too. ConnState is not called for fast connections.
	HTTP *http.Server
	// Take reports whether a request for path (without its query) may go
	// the fast path.
	Take func(path string) bool
	// WatchAfter: once a fast request's handler has run this long, a
	// read in the background watches its client, and a client that
	// closes the connection or resets it cancels the request's context,
	// as net/http does for every request from the start (a reverse
	// proxy stops waiting for its upstream then). 0: never; the context
	// ends when the handler returns. Watching costs nothing until then.
	WatchAfter time.Duration

	mu      sync.Mutex
	ln      net.Listener
	handoff *chanListener
	conns   map[*conn]struct{}
	closing atomic.Bool
}

// Fast reports how many requests the fast path answered and how many
// connections it handed to net/http (for tests and metrics).
var fastServed, handedOff atomic.Int64

// Counts returns the fast path's answered requests and handed-off
// connections since the process started.
func Counts() (fast, handed int64) { return fastServed.Load(), handedOff.Load() }

// Serve accepts connections on ln until Shutdown or Close; it always
// returns a non-nil error (http.ErrServerClosed after Shutdown or Close).
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		return http.ErrServerClosed
	}
	s.ln = ln
	s.handoff = newChanListener(ln.Addr())
	s.conns = make(map[*conn]struct{})
	s.mu.Unlock()
	go func() { _ = s.HTTP.Serve(s.handoff) }()

	base := context.Background()
	if s.HTTP.BaseContext != nil {
		base = s.HTTP.BaseContext(ln)
		if base == nil {
			panic("BaseContext returned a nil context")
		}
	}
	base = context.WithValue(base, http.ServerContextKey, s.HTTP)
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.logf("http: Accept error: %v; retrying in %v", err, delay)
				time.Sleep(delay)
				continue
			}
			s.closeHandoff()
			return err
		}
		delay = 0
		c := &conn{s: s, nc: nc}
		c.ctx = context.WithValue(base, http.LocalAddrContextKey, nc.LocalAddr())
		if s.HTTP.ConnContext != nil {
			c.ctx = s.HTTP.ConnContext(c.ctx, nc)
		}
		s.mu.Lock()
		if s.closing.Load() {
			s.mu.Unlock()
			nc.Close()
			return http.ErrServerClosed
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		go c.serve()
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

func (s *Server) logf(format string, args ...any) {
	if s.HTTP.ErrorLog != nil {
		s.HTTP.ErrorLog.Printf(format, args...)
	} else {
		log.Printf(format, args...)
	}
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) closeHandoff() {
	s.mu.Lock()
	h := s.handoff
	s.mu.Unlock()
	if h != nil {
		h.Close()
	}
}

// Shutdown stops accepting, closes idle fast connections, lets requests in
// flight finish (answered with Connection: close) and shuts the net/http
// server down, all within ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.mu.Lock()
	if s.ln != nil {
		s.ln.Close()
	}
	s.mu.Unlock()
	s.closeHandoff()
	herr := make(chan error, 1)
	go func() { herr <- s.HTTP.Shutdown(ctx) }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.closeIdle() {
			break
		}
		select {
		case <-ctx.Done():
			<-herr
			return ctx.Err()
		case <-tick.C:
		}
	}
	return <-herr
}

// closeIdle closes fast connections waiting for a request and reports
// whether none is left.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.Load() == stateIdle {
			c.nc.Close()
			delete(s.conns, c)
		}
	}
	return len(s.conns) == 0
}

// Close closes the listener and every connection at once.
func (s *Server) Close() error {
	s.closing.Store(true)
	s.mu.Lock()
	if s.ln != nil {
		s.ln.Close()
	}
	for c := range s.conns {
		c.nc.Close()
		delete(s.conns, c)
	}
	s.mu.Unlock()
	return s.HTTP.Close()
}

const (
	stateIdle int32 = iota
	stateActive
)

type conn struct {
	s       *Server
	nc      net.Conn
	ctx     context.Context
	state   atomic.Int32
	buf     []byte
	n       int // bytes in buf
	bw      *bufio.Writer
	remote  string
	wbuf    []byte        // the responses' body buffer, reused
	served  int           // requests answered
	readErr error         // the read error that ended a partial head
	broken  bool          // a write failed
	rw      io.ReadWriter // nc, or its raw reads and writes (no sysmon wake-up)
	numBuf  [20]byte
	req     http.Request // parse's, copied for each handler
	w       watch        // the client of a long request (Server.WatchAfter)
	// The watch saw the client close or reset the connection: the
	// answer is the last.
	clientDone bool
}

// watch is a connection's watch of its client while a handler runs long.
type watch struct {
	timer  *time.Timer // runs c.watchClient after WatchAfter; made once
	mu     sync.Mutex
	state  int // watchOff, watchArmed, watchReading, watchEnded
	cancel context.CancelFunc
	done   chan struct{} // closed when the read ends (watchReading)
	b      [1]byte
	n      int
	err    error
	// The handler's SetGone: run once when the request's context ends
	// early (the client left, or the connection's context ended).
	gone    func()
	goneRan bool
}

const (
	watchOff = iota
	watchArmed
	watchReading
	watchEnded
)

func (c *conn) serve() {
	defer func() {
		if v := recover(); v != nil && v != http.ErrAbortHandler {
			const size = 64 << 10
			stack := make([]byte, size)
			stack = stack[:runtime.Stack(stack, false)]
			c.s.logf("http: panic serving %v: %v\n%s", c.nc.RemoteAddr(), v, stack)
		}
		if c.nc != nil {
			if c.bw != nil {
				// As net/http's finalFlush: what a handler that
				// panicked had written goes out before the close.
				c.bw.Flush()
			}
			c.nc.Close()
			c.s.forget(c)
		}
	}()
	c.remote = c.nc.RemoteAddr().String()
	c.buf = make([]byte, 4096)
	c.rw = rawio.ReadWriter(c.nc)
	if c.ctx.Done() != nil {
		// The connection's context ends every request's (a server's
		// base context after a grace): a SetGone runs then too.
		stop := context.AfterFunc(c.ctx, c.runGone)
		defer stop()
	}
	srv := c.s.HTTP
	for {
		// Wait for a request, then for its head.
		if c.n == 0 {
			c.state.Store(stateIdle)
			if c.s.closing.Load() {
				return
			}
			idle := srv.IdleTimeout
			if idle == 0 {
				idle = srv.ReadTimeout
			}
			if idle > 0 {
				c.nc.SetReadDeadline(time.Now().Add(idle))
			} else {
				c.nc.SetReadDeadline(time.Time{})
			}
			m, err := c.read(c.buf)
			if m == 0 {
				_ = err
				return
			}
			c.state.Store(stateActive)
			c.n = m
			hdr := srv.ReadHeaderTimeout
			if hdr <= 0 {
				hdr = srv.ReadTimeout
			}
			if hdr > 0 {
				c.nc.SetReadDeadline(time.Now().Add(hdr))
			}
		} else {
			c.state.Store(stateActive)
		}
		for c.served > 0 && c.n < 4 {
			// net/http peeks 4 bytes before a kept-alive connection's
			// next request, and closes without an answer when they do
			// not come.
			m, err := c.read(c.buf[c.n:])
			c.n += m
			if m == 0 && err != nil {
				return
			}
		}
		end := headEnd(c.buf[:c.n])
		for end < 0 {
			if c.n == len(c.buf) {
				if len(c.buf) >= MaxFastHead {
					c.handOff()
					return
				}
				nb := make([]byte, 2*len(c.buf))
				copy(nb, c.buf[:c.n])
				c.buf = nb
			}
			m, err := c.read(c.buf[c.n:])
			c.n += m
			if m == 0 && err != nil {
				// A partial head and then EOF, a timeout or an error:
				// net/http answers (400 Bad Request) or not as it
				// judges; let it, from what was read and the same
				// error at once.
				c.readErr = err
				c.handOff()
				return
			}
			end = headEnd(c.buf[:c.n])
		}
		if srv.MaxHeaderBytes > 0 && end > srv.MaxHeaderBytes {
			// net/http may answer 431: let it judge.
			c.handOff()
			return
		}
		req, ok := c.parse(c.buf[:end])
		if !ok || !c.s.Take(req.URL.Path) {
			c.handOff()
			return
		}
		if srv.WriteTimeout > 0 {
			c.nc.SetWriteDeadline(time.Now().Add(srv.WriteTimeout))
		}
		// The request's bytes are consumed: keep any pipelined rest.
		c.n = copy(c.buf, c.buf[end:c.n])
		c.served++
		if !c.answer(req) {
			return
		}
	}
}

// read reads from the client.
func (c *conn) read(p []byte) (int, error) { return c.rw.Read(p) }

// handOff gives the connection and what was read from it to net/http.
func (c *conn) handOff() {
	nc := c.nc
	c.nc = nil // serve's defer must not close it
	c.s.forget(c)
	if c.s.closing.Load() {
		nc.Close()
		return
	}
	handedOff.Add(1)
	nc.SetDeadline(time.Time{})
	pc := &prefixConn{Conn: nc, err: c.readErr}
	if c.n > 0 {
		pc.pre = append([]byte(nil), c.buf[:c.n]...)
	}
	if !c.s.handoff.give(pc) {
		nc.Close()
	}
}

// headEnd returns the index just past the empty line ending the head, or
// -1. Lines may end in LF as well as CRLF, as net/http reads them (parse
// refuses all but CRLF, and net/http judges).
func headEnd(b []byte) int {
	for i := 0; i+1 < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		if b[i+1] == '\n' {
			return i + 2
		}
		if b[i+1] == '\r' && i+2 < len(b) && b[i+2] == '\n' {
			return i + 3
		}
	}
	return -1
}

// answer runs the handler for req and writes its response; it reports
// whether the connection can serve another request.
func (c *conn) answer(req *http.Request) (keep bool) {
	if c.bw == nil {
		c.bw = bufio.NewWriterSize(c.rw, 4096)
	}
	ctx, cancel := context.WithCancel(c.ctx)
	req = req.WithContext(ctx)
	w := &response{c: c, req: req, head: req.Method == "HEAD", cl: -1}
	defer func() {
		if v := recover(); v != nil {
			cancel()
			panic(v)
		}
	}()
	handler := c.s.HTTP.Handler
	if handler == nil {
		handler = http.DefaultServeMux
	}
	watching := c.s.WatchAfter > 0 && c.n == 0
	if watching {
		c.startWatch(cancel)
		defer c.stopWatch()
	}
	handler.ServeHTTP(w, req)
	if watching {
		c.stopWatch()
	}
	c.w.mu.Lock()
	c.w.gone, c.w.goneRan = nil, false // a handler that did not ClearGone
	c.w.mu.Unlock()
	cancel()
	fastServed.Add(1)
	w.finish()
	if err := c.bw.Flush(); err != nil {
		c.broken = true
	}
	return !c.broken && !c.clientDone && !w.closeAfter && !c.s.closing.Load()
}

// Gone is implemented by the fast path's ResponseWriter. It does what
// context.AfterFunc(r.Context(), f) does for a handler that only needs to
// hear that its request ended early, without AfterFunc's allocations and
// its registration with the connection's context on every request (a
// reverse proxy cutting its wait for the upstream when the visitor
// leaves). SetGone(f) runs f once if the request's context ends while
// the handler runs because the client left (Server.WatchAfter) or the
// connection's context ended, and at once if it has already ended; f
// runs under the connection's lock and must be quick. ClearGone undoes it
// and reports whether f ran (it has then returned). The handler must
// ClearGone before it returns (what it left set is cleared then).
type Gone interface {
	SetGone(f func())
	ClearGone() (ran bool)
}

// SetGone implements Gone.
func (w *response) SetGone(f func()) {
	c := w.c
	c.w.mu.Lock()
	c.w.gone, c.w.goneRan = f, false
	c.w.mu.Unlock()
	if w.req.Context().Err() != nil {
		c.runGone()
	}
}

// ClearGone implements Gone.
func (w *response) ClearGone() bool {
	c := w.c
	c.w.mu.Lock()
	ran := c.w.goneRan
	c.w.gone, c.w.goneRan = nil, false
	c.w.mu.Unlock()
	return ran
}

// runGone runs the handler's SetGone once.
func (c *conn) runGone() {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	if c.w.gone != nil && !c.w.goneRan {
		c.w.goneRan = true
		c.w.gone()
	}
}

// startWatch arms the watch of the client for the request whose context
// cancel ends: after WatchAfter, watchClient reads from the connection.
func (c *conn) startWatch(cancel context.CancelFunc) {
	c.w.mu.Lock()
	c.w.state, c.w.cancel, c.w.n, c.w.err = watchArmed, cancel, 0, nil
	c.w.mu.Unlock()
	if c.w.timer == nil {
		c.w.timer = time.AfterFunc(c.s.WatchAfter, c.watchClient)
	} else {
		c.w.timer.Reset(c.s.WatchAfter)
	}
}

// watchClient reads from a long request's connection (its own goroutine:
// the timer's): nothing arrives while the client waits for its answer,
// unless it sends its next request (a byte that is kept for it), closes
// the connection or resets it, which cancels the request's context.
func (c *conn) watchClient() {
	c.w.mu.Lock()
	if c.w.state != watchArmed {
		c.w.mu.Unlock()
		return
	}
	c.w.state = watchReading
	done := make(chan struct{})
	c.w.done = done
	// The head's deadline must not end the watch; stopWatch ends it
	// with a deadline in the past. Cleared under the lock: stopWatch sets
	// its deadline only after it has seen watchReading, so it cannot be
	// undone here.
	c.nc.SetReadDeadline(time.Time{})
	c.w.mu.Unlock()
	n, err := c.read(c.w.b[:])
	c.w.mu.Lock()
	c.w.n, c.w.err = n, err
	c.w.state = watchEnded
	cancel := c.w.cancel
	c.w.mu.Unlock()
	if n == 0 && err != nil && !isTimeout(err) {
		cancel() // the client left (or the server is closing)
		c.runGone()
	}
	close(done)
}

// stopWatch ends the watch when the handler returns: it stops a read in
// progress and keeps a byte it read (the next request's first). Safe to
// call twice.
func (c *conn) stopWatch() {
	c.w.timer.Stop()
	c.w.mu.Lock()
	st := c.w.state
	c.w.state = watchOff
	done := c.w.done
	c.w.done = nil
	c.w.mu.Unlock()
	switch st {
	case watchReading:
		c.nc.SetReadDeadline(time.Unix(1, 0))
		<-done
		c.nc.SetReadDeadline(time.Time{})
	case watchEnded:
	default:
		return
	}
	switch {
	case c.w.n == 1:
		c.buf[c.n] = c.w.b[0]
		c.n++
		if hdr := c.s.HTTP.ReadHeaderTimeout; hdr > 0 {
			c.nc.SetReadDeadline(time.Now().Add(hdr))
		} else if rt := c.s.HTTP.ReadTimeout; rt > 0 {
			c.nc.SetReadDeadline(time.Now().Add(rt))
		}
	case c.w.err != nil && !isTimeout(c.w.err):
		// The client closed its side (or reset): it may still read (a
		// half-close), so the answer is written as net/http writes it,
		// and then the connection is closed.
		c.clientDone = true
	}
}

// tchar reports whether b may appear in a header field name (RFC 9110's
// token).
var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return
}()

// parse builds the request of head (which ends in CRLF CRLF) as net/http
// would, or reports false when net/http should judge it: anything but
// "GET" or "HEAD", a target not in origin form, any protocol but HTTP/1.1,
// bare LFs, folded or malformed lines, control bytes, no Host or more than
// one, a Content-Length other than one "0", Transfer-Encoding, Expect,
// Upgrade, Connection other than keep-alive, Trailer.
func (c *conn) parse(head []byte) (*http.Request, bool) {
	// One string holds the head; names, values and the target are its
	// substrings, so a request costs one copy.
	if len(head) < 4 || string(head[len(head)-4:]) != "\r\n\r\n" {
		return nil, false
	}
	s := string(head[:len(head)-4])
	line, rest, _ := strings.Cut(s, "\r\n")
	method, line, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(line, " ")
	if !ok1 || !ok2 || proto != "HTTP/1.1" || (method != "GET" && method != "HEAD") ||
		len(target) == 0 || target[0] != '/' {
		return nil, false
	}
	for i := 0; i < len(target); i++ {
		if b := target[i]; b <= ' ' || b == 0x7f {
			return nil, false
		}
	}
	lines := strings.Count(rest, "\r\n") + 1
	if rest == "" {
		lines = 0
	}
	h := make(http.Header, lines)
	strs := make([]string, lines)
	host := ""
	hosts := 0
	for rest != "" {
		var l string
		l, rest, _ = strings.Cut(rest, "\r\n")
		colon := strings.IndexByte(l, ':')
		if colon <= 0 {
			return nil, false
		}
		name := l[:colon]
		// One pass checks the name and whether it is already in
		// canonical form (as browsers' and web servers' names are), so
		// that CanonicalHeaderKey, a second pass, runs only when not.
		canonical, upper := true, true
		for i := 0; i < len(name); i++ {
			b := name[i]
			if !tchar[b] {
				return nil, false
			}
			if upper && 'a' <= b && b <= 'z' || !upper && 'A' <= b && b <= 'Z' {
				canonical = false
			}
			upper = b == '-'
		}
		v := l[colon+1:]
		for i := 0; i < len(v); i++ {
			if b := v[i]; (b < ' ' && b != '\t') || b == 0x7f {
				return nil, false
			}
		}
		v = textproto.TrimString(v) // no CR or LF is left in v: the same as trimming spaces and tabs
		key := name
		if !canonical {
			key = http.CanonicalHeaderKey(name)
		}
		switch key {
		case "Host":
			hosts++
			host = v
			continue // net/http keeps Host out of Header
		case "Content-Length":
			if v != "0" || len(h[key]) > 0 {
				return nil, false
			}
		case "Transfer-Encoding", "Expect", "Upgrade", "Trailer", "Te":
			return nil, false
		case "Connection":
			if !strings.EqualFold(v, "keep-alive") {
				return nil, false
			}
		}
		if vs := h[key]; vs != nil {
			h[key] = append(vs, v)
			continue
		}
		strs[0] = v
		h[key] = strs[:1:1]
		strs = strs[1:]
	}
	if hosts != 1 || !validHost(host) {
		return nil, false
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, false
	}
	// net/http's fixPragmaCacheControl.
	if p, ok := h["Pragma"]; ok && len(p) > 0 && p[0] == "no-cache" {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
	// Built in the connection's own Request: answer hands the handler
	// a copy with its context (Request.WithContext), the one made.
	c.req = http.Request{
		Method:     method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Body:       http.NoBody,
		Host:       host,
		RemoteAddr: c.remote,
		RequestURI: target,
	}
	return &c.req, true
}

// validHost is stricter than net/http's check of a Host header: letters,
// digits and the punctuation of names, IPv4 and IPv6 addresses and ports.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		b := h[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '-' || b == ':' || b == '[' || b == ']' || b == '_') {
			return false
		}
	}
	return true
}

// response is the fast path's http.ResponseWriter. It mirrors net/http's
// response and chunkWriter: the header as it stood at WriteHeader, a
// 2048-byte buffer in front of the writer of the body (whose first write
// decides the head, as bufio.Writer's flushes decide net/http's), the same
// choice of framing and the same trailers.
type response struct {
	c            *conn
	req          *http.Request
	hdr          http.Header // the handler's
	snap         http.Header // hdr as of WriteHeader (net/http's cw.header)
	calledHeader bool
	code         int
	wrote        bool // WriteHeader (≥ 200) happened
	sent         bool // the head is in c.bw
	done         bool // the handler returned
	head         bool // a HEAD request
	chunked      bool
	cl           int64 // the Content-Length announced, or -1
	written      int64
	buf          []byte // net/http's bufio.Writer of bufferBeforeChunking bytes
	closeAfter   bool
	trailers     []string
}

// bufferBeforeChunking is net/http's: a body up to this size, written by
// a handler that returned, gets a Content-Length.
const bufferBeforeChunking = 2048

func (w *response) Header() http.Header {
	if w.hdr == nil {
		w.hdr = make(http.Header, 8) // made when asked: a raw head needs none
	}
	if w.snap == nil && w.wrote && !w.sent {
		w.snap = w.hdr.Clone()
	}
	w.calledHeader = true
	return w.hdr
}

func (w *response) WriteHeader(code int) {
	if w.wrote {
		w.c.s.logf("http: superfluous response.WriteHeader call")
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		// An informational answer goes out at once.
		writeStatusLine(w.c.bw, code)
		writeHeader(w.c.bw, w.hdr, excludedHeadersNoBody)
		w.c.bw.WriteString("\r\n")
		if err := w.c.bw.Flush(); err != nil {
			w.c.broken = true
		}
		return
	}
	w.wrote = true
	w.code = code
	if w.calledHeader && w.snap == nil {
		w.snap = w.hdr.Clone()
	}
	if v := w.hdr.Get("Content-Length"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			w.cl = n
		} else {
			// As net/http: deleted from the handler's header, not from
			// the snapshot that is sent.
			w.c.s.logf("http: invalid Content-Length of %q", v)
			w.hdr.Del("Content-Length")
		}
	}
}

// writeHeader writes h as net/http's Header.WriteSubset does (keys in
// sorted order, those in exclude and invalid names left out, CR and LF in
// values turned into spaces, values trimmed) without its pool and its
// strings.Replacer, which cost a tenth of a small answer.
func writeHeader(bw *bufio.Writer, h http.Header, exclude map[string]bool) {
	var arr [32]string
	keys := arr[:0]
	for k := range h {
		if !exclude[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !validFieldName(k) {
			continue
		}
		for _, v := range h[k] {
			if strings.ContainsAny(v, "\r\n") {
				v = newlineToSpace.Replace(v)
			}
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(textproto.TrimString(v))
			bw.WriteString("\r\n")
		}
	}
}

var newlineToSpace = strings.NewReplacer("\n", " ", "\r", " ")

// validFieldName is x/net's httpguts.ValidHeaderFieldName: a token.
func validFieldName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !tchar[k[i]] {
			return false
		}
	}
	return true
}

var excludedHeadersNoBody = map[string]bool{"Content-Length": true, "Transfer-Encoding": true}

func bodyAllowed(code int) bool {
	return !(code >= 100 && code <= 199 || code == 204 || code == 304)
}

func (w *response) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !bodyAllowed(w.code) {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(len(p))
	if w.cl != -1 && w.written > w.cl {
		return 0, http.ErrContentLength
	}
	return w.bufWrite(p)
}

var errBroken = errors.New("h1: connection broken")

func (w *response) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// bufWrite is bufio.Writer.Write over chunkWrite with net/http's size.
func (w *response) bufWrite(p []byte) (int, error) {
	if w.buf == nil {
		if cap(w.c.wbuf) < bufferBeforeChunking {
			w.c.wbuf = make([]byte, 0, bufferBeforeChunking)
		}
		w.buf = w.c.wbuf[:0]
	}
	nn := 0
	for len(p) > bufferBeforeChunking-len(w.buf) && !w.c.broken {
		var n int
		if len(w.buf) == 0 {
			n = len(p)
			w.chunkWrite(p)
		} else {
			n = bufferBeforeChunking - len(w.buf)
			w.buf = append(w.buf, p[:n]...)
			w.bufFlush()
		}
		nn += n
		p = p[n:]
	}
	if w.c.broken {
		return nn, errBroken
	}
	w.buf = append(w.buf, p...)
	return nn + len(p), nil
}

func (w *response) bufFlush() {
	if len(w.buf) > 0 && !w.c.broken {
		w.chunkWrite(w.buf)
		w.buf = w.buf[:0]
	}
}

// chunkWrite is net/http's chunkWriter.Write.
func (w *response) chunkWrite(p []byte) {
	if !w.sent {
		w.sendHead(p)
	}
	if w.head {
		return
	}
	bw := w.c.bw
	if w.chunked {
		bw.WriteString(strconv.FormatInt(int64(len(p)), 16))
		bw.WriteString("\r\n")
	}
	_, err := bw.Write(p)
	if w.chunked && err == nil {
		_, err = bw.WriteString("\r\n")
	}
	w.fail(err)
}

func (w *response) fail(err error) error {
	if err != nil {
		w.c.broken = true
	}
	return err
}

// Flush sends the head and what the body has so far.
func (w *response) Flush() { _ = w.FlushError() }

// FlushError is Flush, with its error (http.ResponseController).
func (w *response) FlushError() error {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	w.bufFlush()
	if !w.sent {
		w.sendHead(nil)
	}
	if w.c.broken {
		return errBroken
	}
	return w.fail(w.c.bw.Flush())
}

// SetReadDeadline and SetWriteDeadline serve http.ResponseController.
func (w *response) SetReadDeadline(t time.Time) error  { return w.c.nc.SetReadDeadline(t) }
func (w *response) SetWriteDeadline(t time.Time) error { return w.c.nc.SetWriteDeadline(t) }

// finish completes the response after the handler returned (net/http's
// finishRequest and chunkWriter.close).
func (w *response) finish() {
	w.done = true
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	w.bufFlush()
	if !w.sent {
		w.sendHead(nil)
	}
	if !w.head && w.cl != -1 && bodyAllowed(w.code) && w.cl != w.written {
		// The handler wrote less or more than it announced: the
		// connection's framing is lost (net/http closes it too).
		w.closeAfter = true
	}
	if w.chunked {
		bw := w.c.bw
		bw.WriteString("0\r\n")
		if t := w.finalTrailers(); t != nil {
			t.Write(bw)
		}
		_, err := bw.WriteString("\r\n")
		_ = w.fail(err)
	}
}

// finalTrailers is net/http's.
func (w *response) finalTrailers() http.Header {
	var t http.Header
	for k, vv := range w.hdr {
		if kk, found := strings.CutPrefix(k, http.TrailerPrefix); found {
			if t == nil {
				t = make(http.Header)
			}
			t[kk] = vv
		}
	}
	for _, k := range w.trailers {
		if t == nil {
			t = make(http.Header)
		}
		for _, v := range w.hdr[k] {
			t.Add(k, v)
		}
	}
	return t
}

func (w *response) declareTrailer(k string) {
	k = http.CanonicalHeaderKey(k)
	if !validTrailerHeader(k) {
		return
	}
	w.trailers = append(w.trailers, k)
}

// validTrailerHeader is x/net's httpguts.ValidTrailerHeader.
func validTrailerHeader(name string) bool {
	name = textproto.CanonicalMIMEHeaderKey(name)
	return !strings.HasPrefix(name, "If-") && !badTrailer[name]
}

var badTrailer = map[string]bool{
	"Authorization":       true,
	"Cache-Control":       true,
	"Connection":          true,
	"Content-Encoding":    true,
	"Content-Length":      true,
	"Content-Range":       true,
	"Content-Type":        true,
	"Expect":              true,
	"Host":                true,
	"Keep-Alive":          true,
	"Max-Forwards":        true,
	"Pragma":              true,
	"Proxy-Authenticate":  true,
	"Proxy-Authorization": true,
	"Proxy-Connection":    true,
	"Range":               true,
	"Realm":               true,
	"Te":                  true,
	"Trailer":             true,
	"Transfer-Encoding":   true,
	"Www-Authenticate":    true,
}

// foreachHeaderElement is net/http's.
func foreachHeaderElement(v string, fn func(string)) {
	v = textproto.TrimString(v)
	if v == "" {
		return
	}
	if !strings.Contains(v, ",") {
		fn(v)
		return
	}
	for f := range strings.SplitSeq(v, ",") {
		if f = textproto.TrimString(f); f != "" {
			fn(f)
		}
	}
}

func hget(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func hhas(h http.Header, key string) bool {
	_, ok := h[key]
	return ok
}

// sendHead writes the status line and headers as net/http's
// chunkWriter.writeHeader does for an HTTP/1.1 request whose Connection
// is keep-alive or absent; p is the first write of the body (the whole
// body when the handler has returned).
func (w *response) sendHead(p []byte) {
	w.sent = true
	hdr := w.snap
	if hdr == nil {
		hdr = w.hdr
	}
	var exclude map[string]bool
	del := func(k string) {
		if !hhas(hdr, k) {
			return
		}
		if exclude == nil {
			exclude = make(map[string]bool)
		}
		exclude[k] = true
	}
	trailers := false
	for k := range w.snap {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			if exclude == nil {
				exclude = make(map[string]bool)
			}
			exclude[k] = true
			trailers = true
		}
	}
	for _, v := range w.snap["Trailer"] {
		trailers = true
		foreachHeaderElement(v, w.declareTrailer)
	}
	te := hget(hdr, "Transfer-Encoding")
	hasTE := te != ""
	keepAlives := !w.c.s.closing.Load()
	var setCL, setCT, setConn, setTE string
	if w.done && !trailers && !hasTE && bodyAllowed(w.code) && !hhas(hdr, "Content-Length") && (!w.head || len(p) > 0) {
		w.cl = int64(len(p))
		setCL = strconv.Itoa(len(p))
	}
	hasCL := w.cl != -1
	if hget(hdr, "Connection") == "close" || !keepAlives {
		w.closeAfter = true
	}
	if bodyAllowed(w.code) {
		_, haveType := hdr["Content-Type"]
		if hdr.Get("Content-Encoding") == "" && !haveType && !hasTE && len(p) > 0 {
			setCT = http.DetectContentType(p)
		}
	} else {
		del("Content-Length")
		del("Transfer-Encoding")
		if w.code == http.StatusNotModified {
			del("Content-Type")
		}
	}
	if hasCL && hasTE && te != "identity" {
		w.c.s.logf("http: WriteHeader called with both Transfer-Encoding of %q and a Content-Length of %d", te, w.cl)
		del("Content-Length")
		hasCL = false
	}
	switch {
	case w.head || !bodyAllowed(w.code):
		del("Transfer-Encoding")
	case hasCL:
		del("Transfer-Encoding")
	case hasTE && te == "identity":
		w.chunked = false
		w.closeAfter = true
		del("Transfer-Encoding")
	default:
		w.chunked = true
		setTE = "chunked"
		if hasTE && te == "chunked" {
			del("Transfer-Encoding")
		}
	}
	if w.chunked {
		del("Content-Length")
	}
	if w.closeAfter && (!keepAlives || !hasToken(hget(w.snap, "Connection"), "close")) &&
		!(w.code == http.StatusSwitchingProtocols && isProtocolSwitchHeader(hdr)) {
		del("Connection")
		setConn = "close"
	}
	bw := w.c.bw
	writeStatusLine(bw, w.code)
	writeHeader(bw, w.snap, exclude)
	if !hhas(hdr, "Date") {
		bw.WriteString("Date: ")
		bw.Write(date())
		bw.WriteString("\r\n")
	}
	if setCL != "" {
		bw.WriteString("Content-Length: ")
		bw.WriteString(setCL)
		bw.WriteString("\r\n")
	}
	for _, kv := range [...][2]string{{"Content-Type", setCT}, {"Connection", setConn}, {"Transfer-Encoding", setTE}} {
		if kv[1] != "" {
			bw.WriteString(kv[0])
			bw.WriteString(": ")
			bw.WriteString(kv[1])
			bw.WriteString("\r\n")
		}
	}
	_, err := bw.WriteString("\r\n")
	_ = w.fail(err)
}

// RawHead is the fast path's ResponseWriter for a handler that holds a
// response head as bytes, not as an http.Header: a reverse proxy relaying
// its upstream's answer (internal/proxy). It skips the header map, its
// copy and its sorting; the head goes out in the order given.
type RawHead interface {
	// WriteRawHead writes the status line for code (its standard reason
	// phrase, as WriteHeader), then lines, then Date unless hasDate,
	// Content-Length: cl when cl ≥ 0 and code allows a body, and
	// Connection: close when the server is shutting down. lines are
	// whole "Name: value\r\n" lines the caller checked: token names,
	// values without control bytes, and none of Content-Length,
	// Transfer-Encoding, Connection or another hop-by-hop header. A body
	// that code allows must have a length: cl ≥ 0, or a HEAD request. It
	// reports false, and writes nothing, when the response has begun or
	// those rules are not met; the caller then uses Header and
	// WriteHeader. Write sends the body, as after WriteHeader.
	WriteRawHead(code int, lines []byte, hasDate bool, cl int64) bool
}

// WriteRawHead implements RawHead.
func (w *response) WriteRawHead(code int, lines []byte, hasDate bool, cl int64) bool {
	if w.wrote || w.calledHeader || code < 200 || code > 999 || code == http.StatusSwitchingProtocols ||
		(cl < 0 && bodyAllowed(code) && !w.head) {
		return false
	}
	w.wrote, w.code = true, code
	w.sent = true
	if bodyAllowed(code) {
		w.cl = cl
	}
	keepAlives := !w.c.s.closing.Load()
	bw := w.c.bw
	writeStatusLine(bw, code)
	bw.Write(lines)
	if !hasDate {
		bw.WriteString("Date: ")
		bw.Write(date())
		bw.WriteString("\r\n")
	}
	if cl >= 0 && bodyAllowed(code) {
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(w.c.numBuf[:0], cl, 10))
		bw.WriteString("\r\n")
	}
	if !keepAlives {
		w.closeAfter = true
		bw.WriteString("Connection: close\r\n")
	}
	_, err := bw.WriteString("\r\n")
	_ = w.fail(err)
	return true
}

func writeStatusLine(bw *bufio.Writer, code int) {
	if text := http.StatusText(code); text != "" {
		bw.WriteString("HTTP/1.1 ")
		bw.WriteString(strconv.Itoa(code))
		bw.WriteByte(' ')
		bw.WriteString(text)
		bw.WriteString("\r\n")
	} else {
		fmt.Fprintf(bw, "HTTP/1.1 %03d status code %d\r\n", code, code)
	}
}

func isProtocolSwitchHeader(h http.Header) bool {
	if h.Get("Upgrade") == "" {
		return false
	}
	for _, v := range h["Connection"] {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(textproto.TrimString(f), "Upgrade") {
				return true
			}
		}
	}
	return false
}

// hasToken is net/http's.
func hasToken(v, token string) bool {
	if len(token) > len(v) || token == "" {
		return false
	}
	if v == token {
		return true
	}
	for sp := 0; sp <= len(v)-len(token); sp++ {
		if b := v[sp]; b != token[0] && b|0x20 != token[0] {
			continue
		}
		if sp > 0 && !isTokenBoundary(v[sp-1]) {
			continue
		}
		if endPos := sp + len(token); endPos != len(v) && !isTokenBoundary(v[endPos]) {
			continue
		}
		if strings.EqualFold(v[sp:sp+len(token)], token) {
			return true
		}
	}
	return false
}

func isTokenBoundary(b byte) bool { return b == ' ' || b == ',' || b == '\t' }

// date returns the Date header's value, formatted once a second.
func date() []byte {
	now := time.Now().Unix()
	if d := cachedDate.Load(); d != nil && d.sec == now {
		return d.b
	}
	d := &dateCache{sec: now, b: time.Unix(now, 0).UTC().AppendFormat(nil, http.TimeFormat)}
	cachedDate.Store(d)
	return d.b
}

type dateCache struct {
	sec int64
	b   []byte
}

var cachedDate atomic.Pointer[dateCache]

// prefixConn is a connection handed to net/http with the bytes the fast
// path read from it first.
type prefixConn struct {
	net.Conn
	pre []byte
	err error // returned after pre instead of reading (a partial head's end)
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	if c.err != nil {
		return 0, c.err
	}
	return c.Conn.Read(p)
}

// CloseWrite lets net/http half-close the connection as it does a TCP
// connection's.
func (c *prefixConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom keeps sendfile for files net/http serves.
func (c *prefixConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(c.Conn, r)
}

// chanListener is the net/http server's listener: the connections the
// fast path handed over.
type chanListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) give(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }
