//go:build !unix

package rawio

const supported = false

func (r *Conn) read(fd uintptr) bool  { panic("rawio: not supported") }
func (r *Conn) write(fd uintptr) bool { panic("rawio: not supported") }
func peek(fd uintptr) bool            { panic("rawio: not supported") }
