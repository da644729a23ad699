// Command floor is the least a reverse proxy written in Go can do per
// request: bench/compare.sh measures it beside nginx's proxy_pass and
// `palisade proxy`, so the table shows how much of the gap between the
// two is Go's (its runtime and its system calls on this machine) and how
// much is Palisade's.
//
// It is not a proxy anyone should run. Each client connection gets its
// own upstream connection, opened once; a request is read up to the end
// of its head and written to the upstream byte for byte (no header
// rewritten, added or removed, no decision); the response is read up to
// the end of its body (Content-Length only; 204 and 304 have none) and
// written to the client byte for byte. Two reads and two writes per
// request, as nginx's proxy_pass, and nothing else: a request with a body,
// a chunked response or anything unexpected closes the connection.
package main

import (
	"bytes"
	"flag"
	"log"
	"net"
	"strconv"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18091", "listen address")
	up := flag.String("upstream", "127.0.0.1:18090", "upstream host:port")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go serve(c, *up)
	}
}

func serve(c net.Conn, upstream string) {
	defer c.Close()
	u, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	defer u.Close()
	req := make([]byte, 0, 16<<10)
	res := make([]byte, 0, 16<<10)
	for {
		// The request's head (GET or HEAD: no body).
		n, ok := readHead(c, &req)
		if !ok || n != len(req) {
			return // closed, too long, or pipelined (not handled)
		}
		if _, err := u.Write(req); err != nil {
			return
		}
		head := bytes.HasPrefix(req, []byte("HEAD "))
		// The response: its head, then Content-Length bytes.
		n, ok = readHead(u, &res)
		if !ok {
			return
		}
		want := n + bodyLength(res[:n], head)
		for len(res) < want {
			if cap(res) < want {
				res = append(res[:cap(res)], make([]byte, want-cap(res))...)[:len(res)]
			}
			m, err := u.Read(res[len(res):cap(res)])
			if err != nil {
				return
			}
			res = res[:len(res)+m]
		}
		if len(res) != want {
			return
		}
		if _, err := c.Write(res); err != nil {
			return
		}
	}
}

// readHead reads from c into *b (emptied first) until it holds a whole
// head, and returns the head's length.
func readHead(c net.Conn, b *[]byte) (int, bool) {
	*b = (*b)[:0]
	for {
		if len(*b) == cap(*b) {
			return 0, false
		}
		m, err := c.Read((*b)[len(*b):cap(*b)])
		if err != nil {
			return 0, false
		}
		*b = (*b)[:len(*b)+m]
		if i := bytes.Index(*b, []byte("\r\n\r\n")); i >= 0 {
			return i + 4, true
		}
	}
}

// bodyLength is a response head's Content-Length; -1 (the connection is
// then closed) when it has none and its status allows a body.
func bodyLength(h []byte, head bool) int {
	if head || bytes.HasPrefix(h, []byte("HTTP/1.1 204")) || bytes.HasPrefix(h, []byte("HTTP/1.1 304")) {
		return 0
	}
	for _, line := range bytes.Split(h, []byte("\r\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(k, []byte("Content-Length")) {
			if n, err := strconv.Atoi(string(bytes.TrimSpace(v))); err == nil && n >= 0 {
				return n
			}
		}
	}
	return -1 << 40
}
