package proxy

import (
	"bytes"
	"io"
	"net/http"

	"github.com/palisadehq/palisade/internal/h1"
)

// The raw relay. On the direct path, when the visitor's connection is
// h1's (h1.RawHead) and the upstream's answer is the common kind, its head
// is checked and passed on as bytes, not parsed into an http.Response and
// copied through two header maps: an HTTP/1.1 final status (not 101),
// well-formed header lines that fit the connection's 4 KB buffer, and a
// body framed by one Content-Length (or none: HEAD, 204, 304). The
// hop-by-hop headers are left out as relay leaves them out (Connection,
// Keep-Alive, Proxy-*, TE, Trailer, Upgrade). Anything else (1xx, chunked
// or close-delimited bodies, trailers, an event stream, a Connection
// header naming other headers, obs-folds, control bytes, duplicate
// lengths, a longer head) goes the http.ReadResponse way, which has read
// nothing of it yet.

// rawHead is what tryRaw found in an upstream's head.
type rawHead struct {
	code    int
	headLen int   // the status line, the headers and the blank line
	cl      int64 // -1: none
	hasDate bool
	close   bool // Connection: close
}

// tryRaw relays the upstream's answer on c to w when it can (handled);
// reuse and err are then relay's. When the head could not be read (the
// upstream's silence, its close), it returns that error unhandled, with
// nothing written.
func (px *Proxy) tryRaw(c *upConn, w *clientWriter, rh h1.RawHead, r *http.Request) (handled, reuse bool, err error) {
	head, lines, ok, herr := c.rawHead(r.Method == "HEAD")
	if herr != nil {
		return false, false, herr // nothing was written: the caller answers
	}
	if !ok {
		return false, false, nil
	}
	if !rh.WriteRawHead(head.code, lines, head.hasDate, head.cl) {
		return false, false, nil
	}
	_, _ = c.br.Discard(head.headLen)
	if r.Method == "HEAD" || !bodyAllowedFor(head.code) || head.cl == 0 {
		return true, !head.close, nil
	}
	// The body: what the buffer holds, then reads into a pooled buffer.
	left := head.cl
	for left > 0 && c.br.Buffered() > 0 {
		p, _ := c.br.Peek(int(min(left, int64(c.br.Buffered()))))
		if _, werr := w.Write(p); werr != nil {
			return true, false, nil // the visitor is gone; the upstream did nothing wrong
		}
		_, _ = c.br.Discard(len(p))
		left -= int64(len(p))
	}
	if left == 0 {
		return true, !head.close, nil
	}
	buf := px.buffers.Get()
	defer px.buffers.Put(buf)
	for left > 0 {
		n, rerr := c.br.Read(buf[:min(left, int64(len(buf)))])
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return true, false, nil
			}
			left -= int64(n)
		}
		if rerr != nil && left > 0 {
			return true, false, rerr
		}
	}
	return true, !head.close, nil
}

func bodyAllowedFor(code int) bool {
	return code != http.StatusNoContent && code != http.StatusNotModified
}

// rawHead looks at the head buffered on c (reading more while it is not
// whole and fits the buffer) without consuming it, and returns the header
// lines to pass on (in c.lines); ok false: not a head the raw relay
// takes.
func (c *upConn) rawHead(isHead bool) (h rawHead, lines []byte, ok bool, err error) {
	var b []byte
	end := -1
	for {
		b, _ = c.br.Peek(c.br.Buffered())
		end = bytes.Index(b, crlfcrlf)
		if bareLF(b, end) {
			return h, nil, false, nil // ReadResponse reads bare LFs too: its
		}
		if end >= 0 {
			break
		}
		if len(b) >= c.br.Size() {
			return h, nil, false, nil // longer than the buffer: ReadResponse's
		}
		if _, err := c.br.Peek(len(b) + 1); err != nil {
			// Not ReadResponse's turn: it would wait a second silence.
			if len(b) == 0 && err == io.EOF {
				return h, nil, false, io.EOF
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return h, nil, false, err
		}
	}
	h.headLen = end + 4
	b = b[:end+2] // every line with its CRLF
	// The status line: "HTTP/1.1 NNN[ reason]".
	i := bytes.IndexByte(b, '\n')
	if i < 1 || b[i-1] != '\r' {
		return h, nil, false, nil // a bare LF
	}
	status := b[:i-1]
	if len(status) < 12 || string(status[:9]) != "HTTP/1.1 " || (len(status) > 12 && status[12] != ' ') ||
		!digit(status[9]) || !digit(status[10]) || !digit(status[11]) {
		return h, nil, false, nil
	}
	h.code = int(status[9]-'0')*100 + int(status[10]-'0')*10 + int(status[11]-'0')
	if h.code < 200 || h.code == http.StatusSwitchingProtocols {
		return h, nil, false, nil
	}
	for j := 12; j < len(status); j++ {
		if status[j] < ' ' && status[j] != '\t' || status[j] == 0x7f {
			return h, nil, false, nil
		}
	}
	h.cl = -1
	typed := false
	lines = c.lines[:0]
	for rest := b[i+1:]; len(rest) > 0; {
		k := bytes.IndexByte(rest, '\n')
		if k < 1 || rest[k-1] != '\r' {
			return h, nil, false, nil // a bare LF
		}
		line := rest[:k-1]
		rest = rest[k+1:]
		colon := bytes.IndexByte(line, ':')
		if colon < 1 {
			return h, nil, false, nil // no name, or an obs-fold
		}
		name, value := line[:colon], trimOWS(line[colon+1:])
		for _, ch := range name {
			if !tokenByte[ch] {
				return h, nil, false, nil
			}
		}
		for _, ch := range value {
			if ch < ' ' && ch != '\t' || ch == 0x7f {
				return h, nil, false, nil
			}
		}
		switch {
		case asciiEqualFold(name, "Content-Length"):
			if h.cl >= 0 || len(value) == 0 || len(value) > 18 || (len(value) > 1 && value[0] == '0') {
				return h, nil, false, nil
			}
			var n int64
			for _, ch := range value {
				if !digit(ch) {
					return h, nil, false, nil
				}
				n = n*10 + int64(ch-'0')
			}
			h.cl = n
			continue
		case asciiEqualFold(name, "Connection"):
			switch {
			case asciiEqualFold(value, "close"):
				h.close = true
			case asciiEqualFold(value, "keep-alive"):
			default:
				return h, nil, false, nil // it may name headers to leave out
			}
			continue
		case asciiEqualFold(name, "Transfer-Encoding"), asciiEqualFold(name, "Trailer"):
			return h, nil, false, nil
		case asciiEqualFold(name, "Keep-Alive"), asciiEqualFold(name, "Proxy-Connection"),
			asciiEqualFold(name, "Proxy-Authenticate"), asciiEqualFold(name, "Proxy-Authorization"),
			asciiEqualFold(name, "Te"), asciiEqualFold(name, "Upgrade"):
			continue
		case asciiEqualFold(name, "Content-Type"):
			typed = true
			if h.code == http.StatusNotModified {
				continue // a 304 has none (net/http drops it too)
			}
			if ct, _, _ := bytes.Cut(value, []byte(";")); asciiEqualFold(trimOWS(ct), "text/event-stream") {
				return h, nil, false, nil // flushed as it comes: relay's
			}
		case asciiEqualFold(name, "Content-Encoding"):
			typed = true // net/http sniffs no type for an encoded body
		case asciiEqualFold(name, "Date"):
			h.hasDate = true
		}
		lines = append(lines, name...)
		lines = append(lines, ": "...)
		lines = append(lines, value...)
		lines = append(lines, "\r\n"...)
	}
	if h.cl < 0 && !isHead && bodyAllowedFor(h.code) {
		return h, nil, false, nil // chunked or until the upstream closes: relay's
	}
	if !typed && h.cl > 0 && !isHead && bodyAllowedFor(h.code) {
		return h, nil, false, nil // the server sniffs a Content-Type from the body: relay's
	}
	if isHead || !bodyAllowedFor(h.code) {
		// No body follows whatever the length says; HEAD's length is
		// the GET's and is passed on, 204's and 304's are not (as relay).
		if !bodyAllowedFor(h.code) {
			h.cl = -1
		}
	}
	c.lines = lines
	return h, lines, true, nil
}

var crlfcrlf = []byte("\r\n\r\n")

// bareLF reports whether the head in b (ending at end, or not whole yet:
// end < 0) has a line feed without its carriage return.
func bareLF(b []byte, end int) bool {
	if end >= 0 {
		b = b[:end+4]
	}
	for i := bytes.IndexByte(b, '\n'); i >= 0; {
		if i == 0 || b[i-1] != '\r' {
			return true
		}
		j := bytes.IndexByte(b[i+1:], '\n')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

func digit(b byte) bool { return '0' <= b && b <= '9' }

// tokenByte: RFC 9110's tchar.
var tokenByte = func() (t [256]bool) {
	for _, ch := range "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" {
		t[ch] = true
	}
	return
}()

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// asciiEqualFold compares b with s, which is ASCII, ignoring case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
