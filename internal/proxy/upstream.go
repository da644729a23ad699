package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Options.
const (
	DefaultConnectTimeout  = 5 * time.Second
	DefaultUpstreamTimeout = 60 * time.Second
	DefaultClientTimeout   = 60 * time.Second
	DefaultIdleTimeout     = 60 * time.Second
	DefaultIdleConns       = 512
)

// newTransport is the one http.Transport of a proxy: every route's
// connections are pooled in it, kept alive, idleConns of them per upstream
// (http.Transport's default of 2 would make all but two of 64 busy
// connections dial and close again for every request).
func newTransport(o Options, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Transport {
	return &http.Transport{
		// No Proxy: an upstream is reached directly, whatever the
		// environment's HTTP_PROXY says.
		DialContext:           dial,
		MaxIdleConnsPerHost:   o.IdleConns,
		IdleConnTimeout:       o.IdleTimeout,
		ResponseHeaderTimeout: o.UpstreamTimeout,
		TLSHandshakeTimeout:   o.ConnectTimeout,
		ExpectContinueTimeout: time.Second,
		// The visitor's Accept-Encoding goes to the application as sent
		// and the response comes back as the application encoded it.
		DisableCompression: true,
	}
}

// dialer connects to upstreams within o.ConnectTimeout; its connections
// are quietConns.
func dialer(o Options) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return newQuietConn(c, o.UpstreamTimeout), nil
	}
}

// quietConn is an upstream connection that may stay silent for at most
// limit while it is read: waiting for a response (counted from when the
// request was written), and between two reads of a response body or of an
// upgraded connection (WebSocket). That is nginx's proxy_read_timeout. An
// idle connection in the pool is closed by it too, after limit.
//
// Deadlines are moved only when they would move by more than an eighth of
// limit (and at least a millisecond), so a busy connection does not reset
// its timer on every read: the limit holds to within that slack.
type quietConn struct {
	net.Conn
	silence, slack time.Duration
	deadline       atomic.Int64 // the read deadline set, UnixNano
	// mu orders extend's deadline after cutNow's: once cut, a
	// connection's deadline stays in the past.
	mu  sync.Mutex
	cut bool
	// For the direct path, which reads in one goroutine: bytes read so
	// far, and how many more may be (a response's head; -1: no limit).
	read, limit int64
	// What Read and Write go through: Conn, or on the direct path its
	// raw reads and writes (rawio; not for http.Transport's connections,
	// whose reads and writes are its own).
	rw io.ReadWriter
}

func newQuietConn(c net.Conn, silence time.Duration) *quietConn {
	return &quietConn{Conn: c, rw: c, silence: silence, slack: max(silence/8, time.Millisecond), limit: -1}
}

var errHeadTooLarge = errors.New("the upstream's response head is larger than 1 MiB")

// extend moves the read deadline to now+limit unless it is already near.
func (c *quietConn) extend() {
	want := time.Now().Add(c.silence)
	if want.UnixNano()-c.deadline.Load() < int64(c.slack) {
		return
	}
	c.mu.Lock()
	if !c.cut {
		c.deadline.Store(want.UnixNano())
		_ = c.Conn.SetReadDeadline(want)
	}
	c.mu.Unlock()
}

// cutNow ends every wait on the connection at once, for good: a later
// read or write (and its extend) fails at once rather than waiting until
// the upstream's silence ends it.
func (c *quietConn) cutNow() {
	c.mu.Lock()
	c.cut = true
	_ = c.Conn.SetDeadline(time.Unix(1, 0))
	c.mu.Unlock()
}

func (c *quietConn) Read(p []byte) (int, error) {
	if c.limit == 0 {
		return 0, errHeadTooLarge
	}
	if c.limit > 0 && int64(len(p)) > c.limit {
		p = p[:c.limit]
	}
	c.extend()
	n, err := c.rw.Read(p)
	c.read += int64(n)
	if c.limit > 0 {
		c.limit -= int64(n)
	}
	return n, err
}

// Write sends a request (or a WebSocket's frames): the wait for its answer
// starts now, not when the connection went idle.
func (c *quietConn) Write(p []byte) (int, error) {
	n, err := c.rw.Write(p)
	c.extend()
	return n, err
}

// bufferPool lends the 32 KiB buffers response bodies are copied through
// (httputil.ReverseProxy would allocate one per request).
type bufferPool struct{ p sync.Pool }

const copyBuffer = 32 << 10

func (b *bufferPool) Get() []byte {
	if a, ok := b.p.Get().(*[copyBuffer]byte); ok {
		return a[:]
	}
	return make([]byte, copyBuffer)
}

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) < copyBuffer {
		return
	}
	b.p.Put((*[copyBuffer]byte)(buf[:copyBuffer]))
}
