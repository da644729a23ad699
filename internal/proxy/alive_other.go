//go:build !unix

package proxy

// alive cannot look on this system: a closed connection shows when it is
// used (a bodiless GET, HEAD, OPTIONS or TRACE is then sent once more).
func (c *upConn) alive() bool { return true }

func (c *upConn) lookFunc() func(fd uintptr) bool { return nil }
