// Package bodypeek reads the start of a request body for the website
// firewall and gives the request back a body that still yields every byte:
// the reverse proxy and the Go middleware read up to Max bytes before
// deciding, then pass the whole body on unchanged (the prefix, then the
// rest, streamed).
//
// The read is bounded in time: a client that has not sent the first Max
// bytes (or its whole body, when shorter) within the timeout gets
// ErrTimeout, so a slow body cannot hold a decision. The package imports
// nothing of Palisade's, so the public middleware can use it without the
// firewall's dependencies.
package bodypeek

import (
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// Max is the most body bytes read for inspection: waf.MaxBody (a test
// keeps the two equal; the middleware must not import the firewall).
const Max = 128 << 10

// DefaultTimeout is how long a client has to send the inspected part of
// its body.
const DefaultTimeout = 10 * time.Second

// ErrTimeout is a body whose inspected part did not arrive in time.
var ErrTimeout = errors.New("the request body did not arrive in time")

// Request reads up to max bytes of r's body within timeout (0: no limit
// but the server's own), and replaces r.Body with one that yields the
// whole body again. It returns the bytes read (non-nil, empty for a request
// without a body) and whether the body is longer. r.ContentLength is kept.
//
// The timeout is enforced through w's read deadline
// (http.ResponseController), touched only when the timer fires, so the
// server's own ReadTimeout stays as it was. A ResponseWriter that cannot
// set one (a wrapper without Unwrap, httptest.ResponseRecorder) leaves
// only the server's timeouts. After ErrTimeout the connection is no
// longer usable for the body: answer 408 and close it.
func Request(w http.ResponseWriter, r *http.Request, max int, timeout time.Duration) (prefix []byte, truncated bool, err error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return []byte{}, false, nil
	}
	n := max + 1 // one more to know whether there is more
	if r.ContentLength > 0 && r.ContentLength <= int64(max) {
		n = int(r.ContentLength)
	} else if r.ContentLength > int64(max) {
		n, truncated = max, true
	}
	var fired atomic.Bool
	var timer *time.Timer
	if timeout > 0 && w != nil {
		rc := http.NewResponseController(w)
		timer = time.AfterFunc(timeout, func() {
			fired.Store(true)
			_ = rc.SetReadDeadline(time.Now()) // wakes the read below
		})
	}
	buf := make([]byte, n)
	got, err := io.ReadFull(r.Body, buf)
	if timer != nil && !timer.Stop() || fired.Load() {
		// The deadline passed (perhaps just after the read): the
		// connection's read side is spent.
		return nil, false, ErrTimeout
	}
	switch {
	case err == nil:
	case (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) && r.ContentLength < 0:
		// A chunked body shorter than n: all of it.
	default:
		return nil, false, err
	}
	buf = buf[:got]
	r.Body = &replay{buf: buf, rest: r.Body}
	if got > max {
		return buf[:max], true, nil
	}
	return buf, truncated, nil
}

// replay yields buf, then rest.
type replay struct {
	buf  []byte
	off  int
	rest io.ReadCloser
}

func (b *replay) Read(p []byte) (int, error) {
	if b.off < len(b.buf) {
		n := copy(p, b.buf[b.off:])
		b.off += n
		return n, nil
	}
	return b.rest.Read(p)
}

func (b *replay) Close() error { return b.rest.Close() }
