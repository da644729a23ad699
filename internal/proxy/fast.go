package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/palisadehq/palisade/internal/h1"
	"github.com/palisadehq/palisade/internal/netutil"
	"github.com/palisadehq/palisade/internal/rawio"
)

// The direct path. Most requests a site gets are bodiless (GET, HEAD) and
// go to a plain http:// upstream; for those the proxy writes the request
// on a pooled connection and reads the response in the visitor's own
// goroutine, where httputil.ReverseProxy and http.Transport hand every
// request between three goroutines (the handler, the connection's writer
// and reader loops): on one core that hand-off, not the decision, was most
// of the proxy's time. Everything else (bodies, WebSockets and other
// upgrades, https:// upstreams, upstreams with a path, queries that
// ReverseProxy would clean) takes httputil.ReverseProxy. Both send the
// same headers (setForwarded, writeRequest) and answer failures alike.
//
// Responses are read with http.ReadResponse, so the framing (length,
// chunks, trailers, HEAD, 204 and 304) is the standard library's.

// direct is one http:// upstream's pool of kept-alive connections.
type direct struct {
	up   *url.URL
	addr string // host:port
	opt  *Options
	dial func(ctx context.Context, network, addr string) (net.Conn, error)

	mu   sync.Mutex
	idle []*upConn // most recently used last
}

// upConn is a connection to an upstream, with its buffers.
type upConn struct {
	qc  *quietConn
	raw syscall.RawConn // for send; nil when the connection has none
	cut func()          // ends the wait for the upstream (a visitor that left)
	// send's state (send_unix.go).
	sendFn       func(fd uintptr) bool
	reused, sent bool
	sendErr      error
	lines        []byte // the raw relay's header lines (raw.go)
	br           *bufio.Reader
	bw           *bufio.Writer
	used         time.Time // when it was last put back
}

// maxResponseHead bounds a response's status line and headers.
const maxResponseHead = 1 << 20

// newDirect returns the direct path to up, or nil when up needs
// ReverseProxy (https://, a path or a query to join).
func newDirect(up *url.URL, opt *Options, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *direct {
	if up.Scheme != "http" || (up.Path != "" && up.Path != "/") || up.RawQuery != "" || up.User != nil {
		return nil
	}
	addr := up.Host
	if up.Port() == "" {
		addr = net.JoinHostPort(up.Hostname(), "80")
	}
	return &direct{up: up, addr: addr, opt: opt, dial: dial}
}

// takes reports whether r can go the direct path.
func takes(r *http.Request) bool {
	if r.ContentLength != 0 || (r.Body != nil && r.Body != http.NoBody) || len(r.TransferEncoding) > 0 {
		return false
	}
	h := r.Header
	if len(h["Upgrade"]) > 0 || len(h["Expect"]) > 0 {
		return false
	}
	return cleanQuery(r.URL.RawQuery)
}

// cleanQuery reports whether ReverseProxy would pass q as it is (it
// re-encodes a query with a semicolon or a malformed escape).
func cleanQuery(q string) bool {
	for i := 0; i < len(q); i++ {
		switch q[i] {
		case ';':
			return false
		case '%':
			if i+2 >= len(q) || !isHex(q[i+1]) || !isHex(q[i+2]) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// errStale is an idle connection that the upstream closed, or sent bytes
// on that no request asked for, while it was idle (send).
var errStale = errors.New("the upstream closed the idle connection or sent bytes nobody asked for")

// get returns an idle connection (reused true) or, when there is none or
// fresh is set, a new one. An idle connection is looked at when it is
// used (send).
func (d *direct) get(ctx context.Context, fresh bool) (c *upConn, reused bool, err error) {
	now := time.Now()
	keep := min(d.opt.IdleTimeout, d.opt.UpstreamTimeout)
	d.mu.Lock()
	for len(d.idle) > 0 && !fresh {
		c = d.idle[len(d.idle)-1]
		d.idle[len(d.idle)-1] = nil
		d.idle = d.idle[:len(d.idle)-1]
		if now.Sub(c.used) < keep {
			break
		}
		c.qc.Close() // too old; the rest are older
		c = nil
		for _, o := range d.idle {
			o.qc.Close()
		}
		clear(d.idle)
		d.idle = d.idle[:0]
	}
	d.mu.Unlock()
	if c != nil {
		return c, true, nil
	}
	dctx, cancel := context.WithTimeout(ctx, d.opt.ConnectTimeout)
	defer cancel()
	nc, err := d.dial(dctx, "tcp", d.addr)
	if err != nil {
		return nil, false, err
	}
	qc, ok := nc.(*quietConn)
	if !ok {
		qc = newQuietConn(nc, d.opt.UpstreamTimeout)
	}
	qc.rw = rawio.ReadWriter(qc.Conn)
	c = &upConn{qc: qc, br: bufio.NewReaderSize(qc, 4096), bw: bufio.NewWriterSize(qc, 4096)}
	if sc, ok := qc.Conn.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
	}
	// Both made once: a closure per request would allocate.
	c.sendFn = c.sendFunc()
	c.cut = qc.cutNow
	return c, false, nil
}

// put keeps c for the next request, unless the pool is full or c holds
// bytes no request asked for.
func (d *direct) put(c *upConn) {
	if c.br.Buffered() > 0 {
		c.qc.Close()
		return
	}
	c.used = time.Now()
	d.mu.Lock()
	if len(d.idle) < d.opt.IdleConns {
		d.idle = append(d.idle, c)
		c = nil
	}
	d.mu.Unlock()
	if c != nil {
		c.qc.Close()
	}
}

// closeIdle closes the idle connections.
func (d *direct) closeIdle() {
	d.mu.Lock()
	idle := d.idle
	d.idle = nil
	d.mu.Unlock()
	for _, c := range idle {
		c.qc.Close()
	}
}

// replayable is http.Transport's rule for sending a request again on a new
// connection when a kept-alive one turned out to be closed.
func replayable(r *http.Request) bool {
	switch r.Method {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return true
	}
	return len(r.Header["Idempotency-Key"]) > 0 || len(r.Header["X-Idempotency-Key"]) > 0
}

// errAborted is a request whose visitor left while the upstream worked.
var errAborted = errors.New("the visitor left")

// forwardDirect forwards r, which takes() accepted, on d.
func (px *Proxy) forwardDirect(d *direct, cw *clientWriter, r *http.Request) {
	ctx := r.Context()
	var w http.ResponseWriter = cw
	rh, _ := cw.ResponseWriter.(h1.RawHead)
	if px.noRaw {
		rh = nil
	}
	gone, _ := cw.ResponseWriter.(h1.Gone)
	fresh := false
	for attempt := 0; ; attempt++ {
		c, reused, err := d.get(ctx, fresh)
		if err != nil {
			px.upstreamError(w, r, d.up, err)
			return
		}
		// A visitor that leaves ends the wait for the upstream.
		stop := endWatch{g: gone}
		if gone != nil {
			gone.SetGone(c.cut)
		} else {
			stop.stop = context.AfterFunc(ctx, c.cut)
		}
		before := c.qc.read
		px.writeRequest(c.bw, r)
		err = c.send(reused)
		if err == nil && rh != nil {
			handled, reuse, rerr := px.tryRaw(c, cw, rh, r)
			if handled {
				px.rawRelayed.Add(1)
				px.done(d, c, stop, reuse, rerr, r)
				return
			}
			err = rerr // the head could not be read: answered below
		}
		var res *http.Response
		if err == nil {
			res, err = px.readResponse(c, w, r)
		}
		if err != nil {
			stop.end()
			c.qc.Close()
			if errors.Is(err, errStale) && ctx.Err() == nil {
				// Closed (Node.js does after 5 s idle) or holding stray
				// bytes, which the response must not be read from:
				// nothing was sent on it; a new connection.
				fresh = true
				attempt--
				continue
			}
			if ctx.Err() != nil {
				err = errors.Join(errAborted, err)
			} else if reused && attempt == 0 && c.qc.read == before && replayable(r) {
				continue // closed while idle: once more, on a new connection
			}
			px.upstreamError(w, r, d.up, err)
			return
		}
		reuse, err := px.relay(w, res)
		px.done(d, c, stop, reuse, err, r)
		return
	}
}

// done ends a request on c whose response went out: c goes back to the
// pool when it can serve another (reuse, and the visitor did not leave);
// an upstream that broke off the body breaks off the response too.
func (px *Proxy) done(d *direct, c *upConn, stop endWatch, reuse bool, err error, r *http.Request) {
	if !stop.end() {
		reuse = false // the visitor left: the deadline is cut
	}
	if reuse {
		d.put(c)
	} else {
		c.qc.Close()
	}
	if err != nil {
		// All that can be done is to break off the response too, as
		// ReverseProxy does.
		px.log.Debug("upstream response cut", "host", r.Host, "upstream", d.up.String(), "err", err)
		panic(http.ErrAbortHandler)
	}
}

// endWatch ends the watch of the visitor that cuts the wait for the
// upstream: h1's Gone on its fast path, context.AfterFunc's stop
// otherwise. end reports whether the watch had not fired.
type endWatch struct {
	g    h1.Gone
	stop func() bool
}

func (e endWatch) end() bool {
	if e.g != nil {
		return !e.g.ClearGone()
	}
	return e.stop()
}

// readResponse reads the response's head from c, once send wrote the
// request; a 103 Early Hints on the way is passed to the visitor, other
// 1xx are skipped.
func (px *Proxy) readResponse(c *upConn, w http.ResponseWriter, r *http.Request) (*http.Response, error) {
	c.qc.limit = maxResponseHead
	defer func() { c.qc.limit = -1 }()
	for n := 0; ; n++ {
		res, err := http.ReadResponse(c.br, r)
		if err != nil {
			return nil, err
		}
		switch {
		case res.StatusCode < 100 || res.StatusCode > 999:
			// http.ReadResponse takes any three digits; 000–099 is no
			// status a server can pass on (WriteHeader would panic).
			res.Body.Close()
			return nil, fmt.Errorf("the upstream answered status %03d, which is not an HTTP status", res.StatusCode)
		case res.StatusCode == http.StatusSwitchingProtocols:
			return nil, errors.New("101 Switching Protocols to a request that asked for no upgrade")
		case res.StatusCode >= 200 || res.StatusCode < 100:
			return res, nil
		case n >= 5:
			return nil, errors.New("too many 1xx responses")
		case res.StatusCode == http.StatusEarlyHints:
			h := w.Header()
			removeHopByHop(res.Header)
			copyHeader(h, res.Header)
			w.WriteHeader(http.StatusEarlyHints)
			clear(h)
		}
	}
}

// relay sends res to the visitor; it reports whether the upstream
// connection is ready for another request, and an error when the upstream
// broke off the body.
func (px *Proxy) relay(w http.ResponseWriter, res *http.Response) (reuse bool, err error) {
	h := w.Header()
	removeHopByHop(res.Header)
	copyHeader(h, res.Header)
	announced := len(res.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range res.Trailer {
			keys = append(keys, k)
		}
		h.Add("Trailer", strings.Join(keys, ", "))
	}
	w.WriteHeader(res.StatusCode)
	if res.Body == http.NoBody {
		return !res.Close, nil
	}
	// Event streams and bodies of unknown length go out as they come
	// (ReverseProxy's FlushInterval -1); others through the server's
	// buffer.
	var flush func() error
	if res.ContentLength == -1 || isEventStream(res.Header.Get("Content-Type")) {
		flush = http.NewResponseController(w).Flush
	}
	buf := px.buffers.Get()
	defer px.buffers.Put(buf)
	for {
		n, rerr := res.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				res.Body.Close()
				return false, nil // the visitor is gone; the upstream did nothing wrong
			}
			if flush != nil {
				_ = flush()
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			res.Body.Close()
			return false, rerr
		}
	}
	res.Body.Close() // fills res.Trailer
	if len(res.Trailer) > 0 {
		_ = http.NewResponseController(w).Flush() // chunked, so trailers can follow
	}
	if len(res.Trailer) == announced {
		copyHeader(h, res.Trailer)
	} else {
		for k, vv := range res.Trailer {
			for _, v := range vv {
				h.Add(http.TrailerPrefix+k, v)
			}
		}
	}
	return !res.Close, nil
}

func isEventStream(ct string) bool {
	ct, _, _ = strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(ct), "text/event-stream")
}

func copyHeader(dst, src http.Header) {
	for k, vv := range src {
		if old, ok := dst[k]; ok {
			dst[k] = append(old, vv...)
		} else {
			dst[k] = vv
		}
	}
}

// removeHopByHop removes the headers of one connection only: Connection,
// those it names, and the hop-by-hop headers of RFC 2616 (as
// ReverseProxy).
func removeHopByHop(h http.Header) {
	if conn := h["Connection"]; len(conn) > 0 {
		for k := range h {
			if listed(conn, k) {
				delete(h, k)
			}
		}
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
}

var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// dropRequestHeader: the hop-by-hop headers, and those the proxy sets
// itself (the visitor's copies are never passed on).
func dropRequestHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip", "Host", "Content-Length":
		return true
	}
	return false
}

// listed reports whether the Connection header values conn name k.
func listed(conn []string, k string) bool {
	for _, v := range conn {
		if hasToken(v, k) {
			return true
		}
	}
	return false
}

// hasToken reports whether the comma-separated list v holds tok (ASCII
// case-insensitive).
func hasToken(v, tok string) bool {
	for v != "" {
		var t string
		t, v, _ = strings.Cut(v, ",")
		if strings.EqualFold(textproto.TrimString(t), tok) {
			return true
		}
	}
	return false
}

// writeRequest writes r's head for the upstream into bw (send writes it
// out): the visitor's headers but the hop-by-hop ones and those naming a
// client, then the proxy's own, as setForwarded sets them for
// ReverseProxy.
func (px *Proxy) writeRequest(bw *bufio.Writer, r *http.Request) {
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	if p := r.URL.EscapedPath(); p == "" {
		bw.WriteByte('/')
	} else {
		bw.WriteString(p)
	}
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		bw.WriteByte('?')
		bw.WriteString(r.URL.RawQuery)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(r.Host)
	bw.WriteString("\r\n")
	conn := r.Header["Connection"]
	trailers := false
	for k, vv := range r.Header {
		if dropRequestHeader(k) || listed(conn, k) {
			if k == "Te" {
				for _, v := range vv {
					trailers = trailers || hasToken(v, "trailers")
				}
			}
			continue
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	if trailers {
		bw.WriteString("Te: trailers\r\n")
	}
	if client := netutil.ClientAddr(r, px.trusted); client.IsValid() {
		// Appended in the writer's own buffer: no allocation.
		bw.WriteString("X-Forwarded-For: ")
		bw.Write(client.AppendTo(bw.AvailableBuffer()))
		bw.WriteString("\r\nX-Real-Ip: ")
		bw.Write(client.AppendTo(bw.AvailableBuffer()))
		bw.WriteString("\r\n")
	}
	bw.WriteString("X-Forwarded-Host: ")
	bw.WriteString(r.Host)
	if netutil.HTTPS(r, px.trusted) {
		bw.WriteString("\r\nX-Forwarded-Proto: https\r\n")
	} else {
		bw.WriteString("\r\nX-Forwarded-Proto: http\r\n")
	}
	switch r.Method {
	case "POST", "PUT", "PATCH":
		bw.WriteString("Content-Length: 0\r\n")
	}
	bw.WriteString("\r\n")
}
