package spoe

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/protect"
)

func TestVarint(t *testing.T) {
	for _, v := range []uint64{0, 1, 239, 240, 241, 2287, 2288, 264431, 264432, 1 << 32, 1<<63 - 1} {
		b := appendVarint(nil, v)
		got, rest, err := readVarint(b)
		if err != nil || got != v || len(rest) != 0 {
			t.Errorf("%d: encoded %x, decoded %d %v", v, b, got, err)
		}
	}
	// Known encodings from doc/SPOE.txt's ranges.
	if b := appendVarint(nil, 240); !bytes.Equal(b, []byte{0xf0, 0x00}) {
		t.Errorf("240 = %x", b)
	}
	if _, _, err := readVarint([]byte{0xf0, 0x80}); err == nil {
		t.Error("a truncated varint decoded")
	}
}

func testAgent(t testing.TB) *Agent {
	sigs, err := engine.LoadSignatures()
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(engine.NewClassifier(sigs, nil, nil), nil)
	eng.Load([]engine.Site{{ID: 1, PartnerID: 1, Domain: "shop.example.com", Status: "online", ServerKeyHash: strings.Repeat("ab", 32)}}, nil)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return New(protect.New(eng, log), nil, log)
}

type peer struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func (p *peer) send(f []byte) {
	p.t.Helper()
	var lb [4]byte
	binary.BigEndian.PutUint32(lb[:], uint32(len(f)))
	if _, err := p.c.Write(append(lb[:], f...)); err != nil {
		p.t.Fatal(err)
	}
}

func (p *peer) recv() frame {
	p.t.Helper()
	var lb [4]byte
	if _, err := io.ReadFull(p.r, lb[:]); err != nil {
		p.t.Fatal(err)
	}
	b := make([]byte, binary.BigEndian.Uint32(lb[:]))
	if _, err := io.ReadFull(p.r, b); err != nil {
		p.t.Fatal(err)
	}
	f, err := parseFrame(b)
	if err != nil {
		p.t.Fatal(err)
	}
	return f
}

func hello(extra ...string) []byte {
	var p []byte
	p = appendStringValue(appendString(p, "supported-versions"), "2.0")
	p = appendUint32Value(appendString(p, "max-frame-size"), 16380)
	p = appendStringValue(appendString(p, "capabilities"), "pipelining,async")
	for _, e := range extra {
		p = append(appendString(p, e), typeBool|0x10)
	}
	return appendFrame(nil, frameHaproxyHello, 0, 0, p)
}

func notify(stream, id uint64, ua string) []byte {
	var hdrs []byte
	for _, kv := range [][2]string{{"host", "shop.example.com"}, {"user-agent", ua}, {"accept", "text/html"}, {"accept-language", "en"}, {"accept-encoding", "gzip"}, {"", ""}} {
		hdrs = appendString(appendString(hdrs, kv[0]), kv[1])
	}
	p := appendString(nil, "palisade-check")
	p = append(p, 5)
	p = appendStringValue(appendString(p, "method"), "GET")
	p = appendStringValue(appendString(p, "path"), "/")
	p = appendStringValue(appendString(p, "host"), "shop.example.com")
	p = append(appendString(p, "ip"), typeIPv4, 198, 51, 100, 7)
	p = appendString(append(appendString(p, "headers"), typeBinary), string(hdrs))
	return appendFrame(nil, frameNotify, stream, id, p)
}

// actions decodes an ACK's SET-VAR actions.
func actions(t *testing.T, b []byte) map[string]string {
	out := map[string]string{}
	for len(b) > 0 {
		if len(b) < 3 || b[0] != actionSetVar || b[1] != 3 || b[2] != scopeTransaction {
			t.Fatalf("action %x", b)
		}
		name, rest, err := readString(b[3:])
		if err != nil {
			t.Fatal(err)
		}
		v, rest, err := readValue(rest)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = v.s
		b = rest
	}
	return out
}

func TestAgent(t *testing.T) {
	a := testAgent(t)
	x, y := net.Pipe()
	go func() { _ = a.ServeConn(y); y.Close() }()
	defer x.Close()
	_ = x.SetDeadline(time.Now().Add(5 * time.Second))
	p := &peer{t: t, c: x, r: bufio.NewReader(x)}
	p.send(hello())
	f := p.recv()
	kv, err := readKVs(f.payload)
	if f.typ != frameAgentHello || err != nil || kv["version"].s != "2.0" || kv["max-frame-size"].n != 16380 {
		t.Fatalf("hello: %+v %v %v", f, kv, err)
	}
	// Two NOTIFYs pipelined; ACKs carry their stream and frame ids.
	go func() { // net.Pipe is synchronous: send while the ACKs are read
		p.send(notify(7, 1, "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"))
		p.send(notify(9, 300, "sqlmap/1.7"))
	}()
	// They are decided concurrently: the ACKs may come in either order.
	want := map[uint64]struct {
		id     uint64
		action string
	}{7: {1, "grant"}, 9: {300, "deny"}}
	for range 2 {
		f := p.recv()
		w, ok := want[f.streamID]
		if f.typ != frameAck || !ok || f.frameID != w.id {
			t.Fatalf("ack %+v", f)
		}
		delete(want, f.streamID)
		// A deny carries the reference ID its page shows (HAProxy sends it back for the page).
		if acts := actions(t, f.payload); acts["action"] != w.action || (len(acts["ref"]) == 10) != (w.action == "deny") {
			t.Fatalf("stream %d: %v", f.streamID, acts)
		}
	}
	p.send(appendFrame(nil, frameHaproxyDisconnect, 0, 0, nil))
	if f := p.recv(); f.typ != frameAgentDisconnect {
		t.Fatalf("disconnect: %+v", f)
	}
}

func TestAgentRefuses(t *testing.T) {
	a := testAgent(t)
	for name, frames := range map[string][][]byte{
		"notify before hello": {notify(1, 1, "x")},
		"wrong version":       {appendFrame(nil, frameHaproxyHello, 0, 0, appendStringValue(appendString(nil, "supported-versions"), "1.0"))},
		"garbage":             {{0xff, 0xff}},
	} {
		x, y := net.Pipe()
		done := make(chan error, 1)
		go func() { done <- a.ServeConn(y) }()
		p := &peer{t: t, c: x, r: bufio.NewReader(x)}
		_ = x.SetDeadline(time.Now().Add(5 * time.Second))
		for _, f := range frames {
			p.send(f)
		}
		if f := p.recv(); f.typ != frameAgentDisconnect {
			t.Errorf("%s: %+v", name, f)
		}
		if err := <-done; err == nil {
			t.Errorf("%s: accepted", name)
		}
		x.Close()
	}
	// A health check gets its hello, then the connection ends.
	x, y := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- a.ServeConn(y) }()
	p := &peer{t: t, c: x, r: bufio.NewReader(x)}
	p.send(hello("healthcheck"))
	if f := p.recv(); f.typ != frameAgentHello {
		t.Fatalf("healthcheck: %+v", f)
	}
	if err := <-done; err != nil {
		t.Fatalf("healthcheck ended with %v", err)
	}
}
