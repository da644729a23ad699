//go:build unix && !linux

package rawio

import "syscall"

// Raw reads and writes are Linux's here; elsewhere Conn is not offered
// (New returns nil) and Peek makes an ordinary system call.
const supported = false

func (r *Conn) read(fd uintptr) bool  { panic("rawio: not supported") }
func (r *Conn) write(fd uintptr) bool { panic("rawio: not supported") }

func peek(fd uintptr) bool {
	var b [1]byte
	for {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		return true
	}
}
