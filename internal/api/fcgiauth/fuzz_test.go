package fcgiauth

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/protect"
)

// fuzzConn feeds bytes as a connection's input and discards its output.
type fuzzConn struct {
	net.Conn
	r io.Reader
}

func (c fuzzConn) Read(b []byte) (int, error)      { return c.r.Read(b) }
func (c fuzzConn) Write(b []byte) (int, error)     { return len(b), nil }
func (c fuzzConn) SetReadDeadline(time.Time) error { return nil }
func (c fuzzConn) RemoteAddr() net.Addr            { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// FuzzServeConn: any byte stream a peer sends ends in an answer or an
// error, never a panic or a hang.
func FuzzServeConn(f *testing.F) {
	var seed bytes.Buffer
	var begin [8]byte
	begin[1] = roleAuthorizer
	begin[2] = flagKeepConn
	_ = writeRecord(&seed, typeBeginRequest, 1, begin[:])
	p := appendPair(appendPair(nil, "HTTP_HOST", "shop.example.com"), "REMOTE_ADDR", "192.0.2.1")
	_ = writeRecord(&seed, typeParams, 1, p)
	_ = writeRecord(&seed, typeParams, 1, nil)
	f.Add(seed.Bytes())
	f.Add(appendPair(nil, "FCGI_MAX_CONNS", ""))
	f.Add([]byte{1, typeGetValues, 0, 0, 0, 2, 0, 0, 0x80, 0})
	sigs, err := engine.LoadSignatures()
	if err != nil {
		f.Fatal(err)
	}
	eng := engine.New(engine.NewClassifier(sigs, nil, nil), nil)
	eng.Load([]engine.Site{{ID: 1, PartnerID: 1, Domain: "shop.example.com", Status: "online", ServerKeyHash: "ab"}}, nil)
	s := New(protect.New(eng, slog.New(slog.NewTextHandler(io.Discard, nil))), nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.IdleTimeout = 0
	f.Fuzz(func(t *testing.T, in []byte) {
		_ = s.ServeConn(fuzzConn{r: bytes.NewReader(in)})
	})
}
