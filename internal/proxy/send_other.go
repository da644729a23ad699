//go:build !unix

package proxy

// send writes the request buffered in c.bw. Without raw sockets an idle
// connection the upstream closed shows when it is used (a bodiless GET,
// HEAD, OPTIONS or TRACE is then sent once more).
func (c *upConn) send(reused bool) error { return c.bw.Flush() }

func (c *upConn) sendFunc() func(fd uintptr) bool { return nil }
