//go:build unix

package proxy

import (
	"net"
	"syscall"
)

// alive reports whether an idle upstream connection can take a request:
// the upstream has neither closed it nor sent anything on it. It looks
// without waiting (MSG_PEEK|MSG_DONTWAIT).
func alive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	ok = false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ok = rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK
		return true
	})
	return ok && err == nil
}
