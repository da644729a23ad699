package spoe

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/waf"
)

// notifyBody is a NOTIFY payload for a POST with body arguments (body
// "" leaves them out; size < 0 leaves body_size out).
func notifyBody(body string, withBody bool, size int64, te string) []byte {
	var hdrs []byte
	for _, kv := range [][2]string{{"host", "shop.example.com"}, {"user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"}, {"accept", "text/html"}, {"accept-language", "en"}, {"accept-encoding", "gzip"}, {"content-type", "application/x-www-form-urlencoded"}, {"transfer-encoding", te}, {"", ""}} {
		if kv[0] == "transfer-encoding" && te == "" {
			continue
		}
		hdrs = appendString(appendString(hdrs, kv[0]), kv[1])
	}
	n := byte(5)
	if withBody {
		n++
	}
	if size >= 0 {
		n++
	}
	p := appendString(nil, "palisade-check")
	p = append(p, n)
	p = appendStringValue(appendString(p, "method"), "POST")
	p = appendStringValue(appendString(p, "path"), "/login")
	p = appendStringValue(appendString(p, "host"), "shop.example.com")
	p = append(appendString(p, "ip"), typeIPv4, 198, 51, 100, 7)
	p = appendString(append(appendString(p, "headers"), typeBinary), string(hdrs))
	if withBody {
		p = appendString(append(appendString(p, "body"), typeBinary), body)
	}
	if size >= 0 {
		p = appendVarint(append(appendString(p, "body_size"), typeInt64), uint64(size))
	}
	return p
}

type bodySeen struct {
	body      []byte
	isNil     bool
	truncated bool
}

// bodyAgent serves one connection after HELLO (max-frame-size frame) and
// reports each request the engine gets.
func bodyAgent(t *testing.T, frame uint32) (*peer, chan bodySeen, chan error) {
	a := testAgent(t)
	seen := make(chan bodySeen, 8)
	decide := a.Decide
	a.Decide = func(pol *engine.Policy, r *engine.Request) engine.Verdict {
		seen <- bodySeen{bytes.Clone(r.Body), r.Body == nil, r.BodyTruncated}
		return decide(pol, r)
	}
	x, y := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- a.ServeConn(y); y.Close() }()
	t.Cleanup(func() { x.Close() })
	// The firewall (on by default) takes its time over a 128 KiB body,
	// the more so under the race detector.
	_ = x.SetDeadline(time.Now().Add(60 * time.Second))
	p := &peer{t: t, c: x, r: bufio.NewReader(x)}
	var h []byte
	h = appendStringValue(appendString(h, "supported-versions"), "2.0")
	h = appendUint32Value(appendString(h, "max-frame-size"), frame)
	h = appendStringValue(appendString(h, "capabilities"), "pipelining")
	p.send(appendFrame(nil, frameHaproxyHello, 0, 0, h))
	f := p.recv()
	kv, err := readKVs(f.payload)
	if err != nil || kv["max-frame-size"].n != uint64(min(frame, maxFrame)) || !strings.Contains(kv["capabilities"].s, "fragmentation") {
		t.Fatalf("hello: %v %v", kv, err)
	}
	return p, seen, done
}

// fragFrame is a frame with explicit flags.
func fragFrame(typ byte, flags uint32, stream, id uint64, payload []byte) []byte {
	b := []byte{typ}
	b = binary.BigEndian.AppendUint32(b, flags)
	b = appendVarint(b, stream)
	b = appendVarint(b, id)
	return append(b, payload...)
}

// TestAgentBody: the body and body_size arguments (deploy/haproxy's
// optional line) become Request.Body and BodyTruncated.
func TestAgentBody(t *testing.T) {
	const sqli = "id=1' OR '1'='1"
	big := strings.Repeat("a", waf.MaxBody+5)
	p, seen, _ := bodyAgent(t, maxFrame)
	for _, c := range []struct {
		name     string
		payload  []byte
		want     bodySeen
		wantBody string
	}{
		{"form", notifyBody(sqli, true, int64(len(sqli)), ""), bodySeen{truncated: false}, sqli},
		{"HAProxy's buffer held less than announced", notifyBody(sqli, true, 100_000, ""), bodySeen{truncated: true}, sqli},
		{"chunked: more may follow", notifyBody(sqli, true, int64(len(sqli)), "chunked"), bodySeen{truncated: true}, sqli},
		{"over waf.MaxBody", notifyBody(big, true, int64(len(big)), ""), bodySeen{truncated: true}, big[:waf.MaxBody]},
		{"empty", notifyBody("", true, 0, ""), bodySeen{}, ""},
		{"no body argument", notifyBody("", false, -1, ""), bodySeen{isNil: true}, ""},
	} {
		p.send(appendFrame(nil, frameNotify, 1, 1, c.payload))
		if f := p.recv(); f.typ != frameAck {
			t.Fatalf("%s: %+v", c.name, f)
		}
		s := <-seen
		if string(s.body) != c.wantBody || s.isNil != c.want.isNil || s.truncated != c.want.truncated {
			t.Fatalf("%s: engine got %d bytes (nil %v, truncated %v)", c.name, len(s.body), s.isNil, s.truncated)
		}
	}
}

// TestAgentFragments: a NOTIFY in fragments (NOTIFY without FIN, UNSET
// frames, the last with FIN) is put together; ABORT drops it; another
// frame in between, or too much, ends the connection.
func TestAgentFragments(t *testing.T) {
	body := "id=1' OR '1'='1&pad=" + strings.Repeat("x", 3000)
	payload := notifyBody(body, true, int64(len(body)), "")
	send := func(p *peer, stream, id uint64, parts ...[]byte) {
		for i, part := range parts {
			typ, flags := byte(frameUnset), uint32(0)
			if i == 0 {
				typ = frameNotify
			}
			if i == len(parts)-1 {
				flags = flagFin
			}
			p.send(fragFrame(typ, flags, stream, id, part))
		}
	}
	p, seen, _ := bodyAgent(t, 1024)
	var parts [][]byte
	for rest := payload; len(rest) > 0; {
		n := min(len(rest), 1000)
		parts, rest = append(parts, rest[:n]), rest[n:]
	}
	if len(parts) < 3 {
		t.Fatalf("%d fragments", len(parts))
	}
	send(p, 3, 7, parts...)
	if f := p.recv(); f.typ != frameAck || f.streamID != 3 || f.frameID != 7 {
		t.Fatalf("ack: %+v", f)
	}
	if s := <-seen; string(s.body) != body || s.truncated {
		t.Fatalf("engine got %d bytes, want %d", len(s.body), len(body))
	}
	// Aborted: nothing decided, and the next NOTIFY is answered.
	p.send(fragFrame(frameNotify, 0, 4, 1, payload[:1000]))
	p.send(fragFrame(frameUnset, flagFin|flagAbort, 4, 1, nil))
	p.send(appendFrame(nil, frameNotify, 5, 1, notifyBody("a=1", true, 3, "")))
	if f := p.recv(); f.typ != frameAck || f.streamID != 5 {
		t.Fatalf("after an abort: %+v", f)
	}
	if s := <-seen; string(s.body) != "a=1" {
		t.Fatalf("after an abort the engine got %q", s.body)
	}
	// Another frame between fragments: disconnected.
	p2, _, done := bodyAgent(t, 1024)
	go func() {
		p2.send(fragFrame(frameNotify, 0, 6, 1, payload[:1000]))
		p2.send(appendFrame(nil, frameNotify, 7, 1, notifyBody("a=1", true, 3, "")))
	}()
	if f := p2.recv(); f.typ != frameAgentDisconnect {
		t.Fatalf("interleaved: %+v", f)
	}
	if err := <-done; err == nil {
		t.Fatal("interleaved fragments accepted")
	}
	// More than maxPayload in fragments: disconnected (too big).
	p3, _, done3 := bodyAgent(t, 1024)
	go func() {
		chunk := make([]byte, 1000)
		p3.send(fragFrame(frameNotify, 0, 8, 1, chunk))
		for i := 0; i <= maxPayload/1000; i++ {
			if _, err := p3.c.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(chunk)+7)), fragFrame(frameUnset, 0, 8, 1, chunk)...)); err != nil {
				return
			}
		}
	}()
	if f := p3.recv(); f.typ != frameAgentDisconnect {
		t.Fatalf("too big: %+v", f)
	}
	if err := <-done3; err == nil || !strings.Contains(err.Error(), "too big") {
		t.Fatalf("too big: %v", err)
	}
}
