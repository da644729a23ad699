//go:build linux && (amd64 || arm64)

package reuselog

import (
	"context"
	"net"
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Reading in batches (Linux).
//
// nginx sends a datagram per asset it serves with a pass. A socket in Go's
// poller wakes the process for every one (the runtime's epoll_wait returns
// on each arrival, even when no goroutine waits on the socket): a context
// switch for Palisade, and a wake-up the sending nginx worker pays for in
// its sendto, per asset. Measured on 2 cores (bench/compare.sh's page case,
// 20 assets a page): Palisade spent 35–55 µs of CPU per request on reports
// alone, most of it in the scheduler, and the page case fell from 0.63 of
// nginx alone without the reports to 0.50 with them.
//
// So the listener takes the socket out of the poller (a duplicate of its
// descriptor, the original closed) and drains whatever the socket holds,
// up to batchSize datagrams a system call (recvmmsg). Then it sleeps before
// it looks again, and the datagrams that arrive meanwhile wait in the
// socket's receive buffer without waking anyone: Coalesce at most, less
// when at the rate of the last drain they would fill more than a quarter
// of the buffer, not at all when the last drain alone did. An empty socket
// is waited on with poll(2). Counting is late by at most Coalesce. Nothing
// is lost unless the buffer fills (ReadBuffer, capped by the kernel's
// net.core.rmem_max: raise it to 4194304 on a busy server): the kernel's
// drops are read at least every second (SO_MEMINFO) and shown as
// palisade_reuse_datagrams_dropped_total{why="overflow"}, with a warning
// in the log the first time.
//
// Measured on the same machine with nginx's reports on: Palisade's CPU per
// request of the page case went from 35–55 µs to 7–10 µs, nginx's from 47
// µs to 42 µs (the sendto no longer wakes anyone), and the case from about
// 15,000 to 20,000 requests a second (bench/README.md).
const (
	// Coalesce is how long the listener sleeps after a drain at most: less
	// when, at the rate the last drain saw, the datagrams arriving
	// meanwhile would fill more than a quarter of the receive buffer.
	Coalesce = 10 * time.Millisecond
	// truesize is what the kernel charges the receive buffer for a report
	// datagram, rounded up (a few hundred bytes of line plus the socket
	// buffer's own overhead).
	truesize = 1024
	// batchSize datagrams are read by one recvmmsg(2).
	batchSize = 32
	// maxDrain bounds one drain, so that a flood cannot hold the read
	// loop (and ctx's end) for long.
	maxDrain = 4096
	// ReadBuffer is the receive buffer asked for (SO_RCVBUF): about
	// 4,000 report datagrams. Linux caps it at net.core.rmem_max.
	ReadBuffer = 4 << 20
)

// soMeminfo is SO_MEMINFO (linux/asm-generic/socket.h), which x/sys/unix
// does not name.
const soMeminfo = 55

// serveBatched reads udp in batches until it fails or ctx ends; done is
// false when batching cannot be set up (Serve then reads one at a time).
// It closes udp: the socket lives on in a duplicate descriptor of its own.
func (l *Listener) serveBatched(ctx context.Context, udp *net.UDPConn) (done bool, err error) {
	rc, err := udp.SyscallConn()
	if err != nil {
		return false, nil
	}
	// ctx's end wakes a poll(2) through a pipe, made before the socket is
	// taken over: should it fail, Serve still reads the socket its way.
	var stopPipe [2]int
	if err := unix.Pipe2(stopPipe[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return false, nil
	}
	defer unix.Close(stopPipe[0])
	defer unix.Close(stopPipe[1])
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil || derr != nil {
		return false, nil
	}
	defer unix.Close(fd)
	// Closing the original takes the socket out of Go's poller (the
	// runtime deletes it from its epoll set before closing it).
	udp.Close()
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, ReadBuffer) // best effort: capped by rmem_max
	// quarter: a quarter of the datagrams the buffer holds (Linux reports
	// twice the size asked for, and charges overhead against it).
	quarter := 16
	if rb, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF); err == nil && rb/truesize/4 > quarter {
		quarter = rb / truesize / 4
	}

	// The write must be over before the pipe is closed: stop() does not wait
	// for a write already started, and one that ran after the deferred
	// closes would put its byte into whatever descriptor took the number.
	woken := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(woken)
		_, _ = unix.Write(stopPipe[1], []byte{1})
	})
	defer func() {
		if !stop() {
			<-woken
		}
	}()

	var r batch
	r.init()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	warned := false
	readDrops := func() {
		if d, ok := drops(fd); ok && d > l.overflow.Load() {
			l.overflow.Store(d)
			if !warned {
				warned = true
				l.log.Warn("grant reuse reports were lost: the socket's receive buffer was full; raise net.core.rmem_max (sysctl) to at least 4194304 (counted in palisade_reuse_datagrams_dropped_total{why=\"overflow\"})", "dropped", d)
			}
		}
	}
	// drain reads and counts what the socket holds, limit datagrams at most.
	drain := func(limit int) (got int, err error) {
		for got < limit {
			n, err := r.read(fd)
			if err == unix.EINTR {
				continue
			}
			if err == unix.EAGAIN {
				break
			}
			if err != nil {
				return got, err
			}
			for i := 0; i < n; i++ {
				// A datagram longer than its buffer is cut to len(buffer)
				// bytes, which Handle drops as oversize.
				l.Handle(r.peer(i), r.bufs[i][:r.msgs[i].n])
			}
			got += n
			if n < batchSize {
				break
			}
		}
		return got, nil
	}
	// finish ends on ctx's end. The datagrams the socket holds were
	// received (the kernel took them: nginx will not send them again) and
	// would go with the descriptor: while the listener coalesces that is up
	// to Coalesce of reports, or a quarter of the buffer. So they are
	// counted first (at most what a full buffer holds, should a flood go
	// on), and the drops read a last time.
	finish := func() (bool, error) {
		_, err := drain(max(maxDrain, 8*4*quarter))
		readDrops()
		return true, err
	}
	var lastDrops time.Time
	last := time.Now() // when the previous drain ended
	for {
		if ctx.Err() != nil {
			return finish()
		}
		got, err := drain(maxDrain)
		if err != nil {
			return true, err
		}
		now := time.Now()
		if now.Sub(lastDrops) >= time.Second || got == 0 {
			lastDrops = now
			readDrops()
		}
		window := now.Sub(last)
		last = now
		switch {
		case got >= quarter:
			continue
		case got > 0:
			// got datagrams arrived in window: sleep no longer than it
			// takes quarter of them to arrive at that rate.
			wait := Coalesce
			if w := window * time.Duration(quarter) / time.Duration(got); w < wait {
				wait = w
			}
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				return finish()
			case <-timer.C:
			}
		default:
			// Empty: wait until a datagram arrives or ctx ends.
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(stopPipe[0]), Events: unix.POLLIN}}
			if _, err := unix.Poll(fds, -1); err != nil && err != unix.EINTR {
				return true, err
			}
			if fds[1].Revents != 0 {
				return finish()
			}
			last = time.Now()
		}
	}
}

// batch is recvmmsg(2)'s arguments: batchSize buffers, each with its
// sender's address.
type batch struct {
	msgs  [batchSize]mmsghdr
	iovs  [batchSize]unix.Iovec
	names [batchSize]unix.RawSockaddrAny
	bufs  [batchSize][]byte
}

// mmsghdr is struct mmsghdr (linux/socket.h), which x/sys/unix does not
// define.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

func (b *batch) init() {
	for i := range b.msgs {
		b.bufs[i] = make([]byte, MaxDatagram+1)
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(len(b.bufs[i]))
		b.msgs[i].hdr.Iov = &b.iovs[i]
		b.msgs[i].hdr.SetIovlen(1)
		b.msgs[i].hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
	}
}

// read receives up to batchSize datagrams without waiting.
func (b *batch) read(fd int) (int, error) {
	for i := range b.msgs {
		b.msgs[i].hdr.Namelen = unix.SizeofSockaddrAny
		b.msgs[i].hdr.Flags = 0
		b.msgs[i].n = 0
	}
	n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&b.msgs[0])), batchSize,
		unix.MSG_DONTWAIT, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// peer is the sender of datagram i.
func (b *batch) peer(i int) netip.Addr {
	switch b.names[i].Addr.Family {
	case unix.AF_INET:
		return netip.AddrFrom4((*unix.RawSockaddrInet4)(unsafe.Pointer(&b.names[i])).Addr)
	case unix.AF_INET6:
		return netip.AddrFrom16((*unix.RawSockaddrInet6)(unsafe.Pointer(&b.names[i])).Addr)
	}
	return netip.Addr{}
}

// drops reads how many datagrams the kernel dropped on the socket.
func drops(fd int) (uint64, bool) {
	var mem [unix.SK_MEMINFO_VARS]uint32
	size := uint32(unsafe.Sizeof(mem))
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, soMeminfo,
		uintptr(unsafe.Pointer(&mem[0])), uintptr(unsafe.Pointer(&size)), 0)
	if errno != 0 {
		return 0, false
	}
	return uint64(mem[unix.SK_MEMINFO_DROPS]), true
}
