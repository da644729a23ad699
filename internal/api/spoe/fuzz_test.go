package spoe

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

type fuzzConn struct {
	net.Conn
	r io.Reader
}

func (c fuzzConn) Read(b []byte) (int, error)      { return c.r.Read(b) }
func (c fuzzConn) Write(b []byte) (int, error)     { return len(b), nil }
func (c fuzzConn) SetReadDeadline(time.Time) error { return nil }

func framed(fs ...[]byte) []byte {
	var out []byte
	for _, f := range fs {
		out = binary.BigEndian.AppendUint32(out, uint32(len(f)))
		out = append(out, f...)
	}
	return out
}

// FuzzServeConn: whatever HAProxy (or anyone on the port) sends ends in
// answers or an error, never a panic or a hang.
func FuzzServeConn(f *testing.F) {
	f.Add(framed(hello(), notify(1, 1, "curl/8")))
	f.Add(framed(hello("healthcheck")))
	f.Add(framed(hello(), []byte{frameNotify, 0, 0, 0, 1, 0xf0, 0xff}))
	body := notifyBody("id=1", true, 4, "")
	f.Add(framed(hello(), fragFrame(frameNotify, 0, 1, 1, body[:20]), fragFrame(frameUnset, flagFin, 1, 1, body[20:])))
	f.Add(framed(hello(), fragFrame(frameNotify, 0, 1, 1, body[:20]), fragFrame(frameUnset, flagFin|flagAbort, 1, 1, nil)))
	a := testAgent(f)
	a.IdleTimeout = 0
	f.Fuzz(func(t *testing.T, in []byte) {
		_ = a.ServeConn(fuzzConn{r: bytes.NewReader(in)})
	})
}
