//go:build unix

package proxy

import "syscall"

// alive reports whether an idle upstream connection can take a request:
// the upstream has neither closed it nor sent anything on it. It looks
// without waiting (MSG_PEEK|MSG_DONTWAIT): one system call.
func (c *upConn) alive() bool {
	if c.raw == nil {
		return true
	}
	if err := c.raw.Read(c.look); err != nil {
		return false
	}
	return c.seen == syscall.EAGAIN || c.seen == syscall.EWOULDBLOCK
}

func (c *upConn) lookFunc() func(fd uintptr) bool {
	return func(fd uintptr) bool {
		_, _, c.seen = syscall.Recvfrom(int(fd), c.peek[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true // never wait
	}
}
