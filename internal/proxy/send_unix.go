//go:build unix

package proxy

import "github.com/palisadehq/palisade/internal/rawio"

// send writes the request buffered in c.bw and waits until the upstream's
// answer can be read. On a kept-alive connection (reused) it first looks
// whether the upstream closed it or sent bytes no request asked for (a
// body to a HEAD, say) while it was idle, without waiting
// (MSG_PEEK|MSG_DONTWAIT): errStale then, and nothing is written.
// (http.Transport's reader loop watches idle connections for the same;
// nginx too.)
//
// All of it happens in one raw read of the connection: Go's poller is
// told to watch for the answer before the look and the write, so the
// answer cannot arrive unseen, and no read is tried until it is there (a
// read straight after the write would find nothing and only then wait:
// one system call fewer per request).
func (c *upConn) send(reused bool) error {
	if c.raw == nil {
		return c.bw.Flush()
	}
	c.reused, c.sent, c.sendErr = reused, false, nil
	if err := c.raw.Read(c.sendFn); err != nil {
		return err // a deadline (the upstream's silence, or a visitor that left), or closed
	}
	return c.sendErr
}

// sendFunc is c.send's step, made once per connection: a closure per
// request would allocate.
func (c *upConn) sendFunc() func(fd uintptr) bool {
	return func(fd uintptr) bool {
		if c.sent {
			return true // readable: the answer, or the upstream's end, is there
		}
		if c.reused && rawio.Peek(fd) {
			c.sendErr = errStale // closed, reset, or bytes nobody asked for
			return true
		}
		c.sent = true
		if err := c.bw.Flush(); err != nil {
			c.sendErr = err
			return true
		}
		return false // wait for the answer
	}
}
