// Package rawio reads and writes a socket with raw system calls, for the
// hot paths of servers that run with few cores (h1's fast front, the
// reverse proxy's upstream connections).
//
// Go's own net.Conn makes each read and write through syscall.Syscall,
// which tells the scheduler the goroutine may block: on entry it wakes the
// runtime's monitor thread (sysmon) when that thread sleeps because every
// P was idle. A server that goes idle between bursts (on one core beside
// the application it protects, say) wakes sysmon over and over, a thread
// switch each time; measured on a 2-core machine, that was a tenth of a
// reverse proxy's CPU per request. A read or write of a non-blocking
// socket never blocks, so it may go through syscall.RawSyscall, which does
// not: Conn does that, through the connection's syscall.RawConn, so Go's
// poller still waits for readiness and deadlines still apply.
package rawio

import (
	"io"
	"net"
	"os"
	"syscall"
)

// Conn reads and writes one connection with raw system calls. One Read
// at a time and one Write at a time (a Read and a Write may overlap), as
// with the net.Conn it comes from, whose deadlines and Close apply.
type Conn struct {
	rc syscall.RawConn
	// The read in progress: its buffer, what it read, its error.
	rp      []byte
	rn      int
	rerrno  syscall.Errno
	readFn  func(fd uintptr) bool
	wp      []byte
	wn      int
	werrno  syscall.Errno
	writeFn func(fd uintptr) bool
}

// New returns c's raw reader and writer, or nil when c is not a
// *net.TCPConn (TLS, in-memory, Unix, or a wrapper with its own Read and
// Write) or the platform has no raw system calls (use c itself then).
func New(c net.Conn) *Conn {
	if !supported {
		return nil
	}
	// Only the net package's own connections: a wrapper that embeds
	// one (and so offers SyscallConn) may read or write differently
	// (a PROXY protocol header consumed, bytes counted, TLS), and going
	// around its Read and Write would be wrong.
	// TCP only: a Unix socket may be a datagram one, where an empty read
	// is an empty datagram, not the end.
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	r := &Conn{rc: rc}
	// Made once: a closure per call would allocate.
	r.readFn = r.read
	r.writeFn = r.write
	return r
}

// ReadWriter is c's raw Conn when New offers one, else c itself: what a
// caller reads and writes through.
func ReadWriter(c net.Conn) io.ReadWriter {
	if r := New(c); r != nil {
		return r
	}
	return c
}

// Read reads into p as net.Conn's Read does: at least one byte, io.EOF
// at the end, a timeout error past the read deadline.
func (r *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.rp, r.rn, r.rerrno = p, 0, 0
	err := r.rc.Read(r.readFn)
	r.rp = nil
	switch {
	case err != nil:
		return 0, err // the deadline, or closed
	case r.rerrno != 0:
		return 0, os.NewSyscallError("read", r.rerrno)
	case r.rn == 0:
		return 0, io.EOF
	}
	return r.rn, nil
}

// Write writes all of p, or fails, as net.Conn's Write does.
func (r *Conn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.wp, r.wn, r.werrno = p, 0, 0
	err := r.rc.Write(r.writeFn)
	n := r.wn
	r.wp = nil
	switch {
	case err != nil:
		return n, err
	case r.werrno != 0:
		return n, os.NewSyscallError("write", r.werrno)
	}
	return n, nil
}

// Peek reports, without waiting and without consuming anything, whether
// the connection has bytes to read or has ended (closed or reset by the
// peer): a kept-alive connection that should be idle but is not. It
// calls only within a RawConn.Read callback (fd).
func Peek(fd uintptr) (ready bool) {
	return peek(fd)
}
