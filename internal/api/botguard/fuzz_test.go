package botguard

import "testing"

// FuzzParseRaw: any bytes either parse into a request or give an error;
// never a panic.
func FuzzParseRaw(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a.example\r\nUser-Agent: x\r\n\r\n"))
	f.Add([]byte("POST /form?a=1 HTTP/1.0\nHost: b\nContent-Length: 3\n\nabc"))
	f.Add([]byte("GET http://x/ HTTP/1.1\r\nHost: a\r\n"))
	f.Add([]byte("\x00\xff garbage"))
	f.Add([]byte("GET /a b?c HTTP/2\r\nHost: a\r\nHost: b\r\nX: \x01\x7f\r\nContent-Length: x\r\n: y\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := ParseRaw(raw)
		if err == nil && req.URL == nil {
			t.Fatal("parsed request without a URL")
		}
	})
}
