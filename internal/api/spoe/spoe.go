package spoe

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/protect"
	"github.com/palisadehq/palisade/internal/waf"
)

// maxFrame is the largest frame Palisade accepts and announces: room for
// waf.MaxBody of request body and the headers, when HAProxy's tune.bufsize
// is that large (HAProxy's max-frame-size is tune.bufsize-4, and the
// smaller of the two is used). Frame buffers grow to the frames received.
const maxFrame = waf.MaxBody + 32<<10

// maxPayload bounds a NOTIFY payload HAProxy sends in fragments (it
// fragments a message larger than the frame size, such as a request with
// its body, since Palisade announces the capability).
const maxPayload = 4 * maxFrame

// ioBuffer is the connection's read and write buffer size.
const ioBuffer = 16 << 10

// Disconnect status codes (doc/SPOE.txt).
const (
	statusNormal      = 0
	statusInvalid     = 4
	statusNoVersion   = 5
	statusTooBig      = 3
	statusUnsupported = 8
)

// Agent is an SPOE agent deciding through a Protector.
type Agent struct {
	p       *protect.Protector
	trusted protect.Trusted
	log     *slog.Logger
	// IdleTimeout closes a connection that sends nothing for this long.
	IdleTimeout time.Duration
	// Decide decides each request (New sets the Protector's Decide);
	// tests wrap it to watch the requests HAProxy's messages became.
	Decide func(*engine.Policy, *engine.Request) engine.Verdict
}

// New returns an agent; only peers in trusted (default loopback) may
// connect: they are the HAProxy instances, whose client address is believed.
func New(p *protect.Protector, trusted protect.Trusted, log *slog.Logger) *Agent {
	if trusted == nil {
		trusted = protect.Loopback
	}
	if log == nil {
		log = slog.Default()
	}
	return &Agent{p: p, trusted: trusted, log: log, IdleTimeout: 5 * time.Minute, Decide: p.Decide}
}

// Serve accepts HAProxy's connections on ln until ctx ends.
func (a *Agent) Serve(ctx context.Context, ln net.Listener) error {
	return protect.ServeTrusted(ctx, ln, a.trusted, a.log, "SPOE", a.ServeConn)
}

// protoError ends a connection with an AGENT-DISCONNECT.
type protoError struct {
	status uint32
	msg    string
}

func (e *protoError) Error() string { return fmt.Sprintf("spoe: %s (status %d)", e.msg, e.status) }

// ServeConn speaks SPOP on one connection until HAProxy disconnects.
func (a *Agent) ServeConn(c net.Conn) error {
	r := bufio.NewReaderSize(c, ioBuffer)
	w := &frameWriter{w: bufio.NewWriterSize(c, ioBuffer)}
	// NOTIFYs are decided concurrently (a large body can take the firewall
	// a while, and HAProxy pipelines), at most maxInflight at a time; each
	// ACK is written when ready (pipelining lets them come in any order).
	inflight := make(chan struct{}, maxInflight)
	var wg sync.WaitGroup
	defer wg.Wait()
	var buf []byte
	hello := false
	size := uint32(maxFrame) // the frame size agreed in the HELLOs
	// A NOTIFY payload arriving in fragments: its ids and what came so far.
	var frag []byte
	var fragStream, fragID uint64
	fragging := false
	// HAProxy, which sends the client's address as an argument: a client
	// at its address (or loopback) is the site calling itself.
	var server netip.Addr
	if tc, ok := c.(*net.TCPConn); ok {
		server = protect.PeerAddr(tc.RemoteAddr().String())
	}
	for {
		if a.IdleTimeout > 0 {
			_ = c.SetReadDeadline(time.Now().Add(a.IdleTimeout))
		}
		var lb [4]byte
		if _, err := io.ReadFull(r, lb[:]); err != nil {
			return err
		}
		n := binary.BigEndian.Uint32(lb[:])
		if n > size {
			return a.disconnect(w, &protoError{statusTooBig, "frame too big"})
		}
		if uint32(cap(buf)) < n {
			buf = make([]byte, n)
		}
		b := buf[:n]
		if _, err := io.ReadFull(r, b); err != nil {
			return err
		}
		f, err := parseFrame(b)
		if err != nil {
			return a.disconnect(w, &protoError{statusInvalid, err.Error()})
		}
		// Fragments (doc/SPOE.txt 3.2): a NOTIFY without FIN, then UNSET
		// frames with its ids, the last with FIN; ABORT drops them.
		if fragging {
			if f.typ != frameUnset || f.streamID != fragStream || f.frameID != fragID {
				return a.disconnect(w, &protoError{statusInvalid, "a fragmented NOTIFY was interrupted by another frame"})
			}
			if f.flags&flagAbort != 0 {
				fragging, frag = false, frag[:0]
				continue
			}
			if len(frag)+len(f.payload) > maxPayload {
				return a.disconnect(w, &protoError{statusTooBig, "fragmented payload too big"})
			}
			frag = append(frag, f.payload...)
			if f.flags&flagFin == 0 {
				continue
			}
			fragging = false
			f.typ, f.payload = frameNotify, frag
		} else if f.flags&flagFin == 0 {
			if f.typ != frameNotify || !hello {
				return a.disconnect(w, &protoError{statusInvalid, "only a NOTIFY may come in fragments"})
			}
			fragging, fragStream, fragID = true, f.streamID, f.frameID
			frag = append(frag[:0], f.payload...)
			continue
		}
		switch {
		case f.typ == frameHaproxyHello && !hello:
			kv, err := readKVs(f.payload)
			if err != nil {
				return a.disconnect(w, &protoError{statusInvalid, err.Error()})
			}
			if !strings.Contains(kv["supported-versions"].s, "2.0") {
				return a.disconnect(w, &protoError{statusNoVersion, "Palisade speaks SPOP 2.0"})
			}
			if m := kv["max-frame-size"]; m.n > 0 && m.n < uint64(size) {
				size = max(uint32(m.n), 256)
			}
			var p []byte
			p = appendStringValue(appendString(p, "version"), "2.0")
			p = appendUint32Value(appendString(p, "max-frame-size"), size)
			p = appendStringValue(appendString(p, "capabilities"), "pipelining,fragmentation")
			if err := w.write(appendFrame(nil, frameAgentHello, 0, 0, p)); err != nil {
				return err
			}
			if kv["healthcheck"].b {
				return nil
			}
			hello = true
		case f.typ == frameNotify && hello:
			msgs, err := readMessages(f.payload)
			if err != nil {
				return a.disconnect(w, &protoError{statusInvalid, err.Error()})
			}
			inflight <- struct{}{}
			wg.Add(1)
			go func(stream, id uint64) {
				defer func() { <-inflight; wg.Done() }()
				var acts []byte
				for _, m := range msgs {
					acts = a.decide(acts, m.args, server)
				}
				if err := w.write(appendFrame(nil, frameAck, stream, id, acts)); err != nil {
					_ = c.Close() // the reading loop ends with it
				}
			}(f.streamID, f.frameID)
		case f.typ == frameHaproxyDisconnect:
			return a.disconnect(w, &protoError{statusNormal, ""})
		default:
			return a.disconnect(w, &protoError{statusUnsupported, fmt.Sprintf("unexpected frame type %d", f.typ)})
		}
	}
}

// maxInflight bounds the NOTIFYs of one connection being decided at once.
const maxInflight = 64

// frameWriter writes whole frames, one at a time.
type frameWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (fw *frameWriter) write(f []byte) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	var lb [4]byte
	binary.BigEndian.PutUint32(lb[:], uint32(len(f)))
	if _, err := fw.w.Write(lb[:]); err != nil {
		return err
	}
	if _, err := fw.w.Write(f); err != nil {
		return err
	}
	return fw.w.Flush()
}

func (a *Agent) disconnect(w *frameWriter, e *protoError) error {
	var p []byte
	p = appendUint32Value(appendString(p, "status-code"), e.status)
	p = appendStringValue(appendString(p, "message"), e.msg)
	_ = w.write(appendFrame(nil, frameAgentDisconnect, 0, 0, p))
	if e.status == statusNormal {
		return nil
	}
	return e
}

// decide turns one message's arguments into SET-VAR actions: action,
// reason, and location for redirects. Arguments (deploy/haproxy): method,
// path, query, host, ip, headers (req.hdrs_bin), key (optional server key),
// and, with HAProxy's option http-buffer-request, body (req.body) and
// body_size (req.body_size) for the website firewall.
func (a *Agent) decide(acts []byte, args map[string]value, server netip.Addr) []byte {
	h := http.Header{}
	if hb := args["headers"]; hb.typ == typeBinary || hb.typ == typeString {
		_ = parseHeaders(hb.s, func(n, v string) { h.Add(n, v) })
	}
	host := args["host"].s
	if host == "" {
		host = h.Get("Host")
	}
	var pol *engine.Policy
	if key := args["key"].s; key != "" {
		pol, _ = a.p.Engine.ByServerKey(key)
	} else {
		pol = a.p.Engine.ByDomain(host)
	}
	hr := &http.Request{Method: args["method"].s, Host: host, Header: h}
	req := engine.Request{IP: args["ip"].addr, Method: args["method"].s, Host: host, Path: args["path"].s, Query: args["query"].s,
		Proto: "HTTP/1.1", UserAgent: h.Get("User-Agent"), Referer: h.Get("Referer"), Header: h, Clearance: protect.Clearance(hr), Server: protect.SelfCallServer(server, h)}
	if req.Path == "" {
		req.Path = "/"
	}
	if v := args["version"].s; v != "" {
		req.Proto = "HTTP/" + v
	}
	req.Body, req.BodyTruncated = body(args, h)
	v := a.Decide(pol, &req)
	act := v.Enforced()
	acts = appendSetVar(acts, "action", act.String())
	acts = appendSetVar(acts, "reason", v.Reason)
	if v.Ref != "" {
		acts = appendSetVar(acts, "ref", v.Ref) // the page's reference ID (see deploy/haproxy)
	}
	if act == engine.Redirect {
		acts = appendSetVar(acts, "location", v.Location)
	}
	return acts
}

// body is the request body HAProxy passed (nil: no body argument): at
// most waf.MaxBody bytes, truncated when HAProxy had less than the
// Content-Length announced (its buffer, tune.bufsize, was full), or the
// body was chunked (HAProxy then reports what it had, never whether more
// followed), or it is over waf.MaxBody.
func body(args map[string]value, h http.Header) ([]byte, bool) {
	v, ok := args["body"]
	if !ok || (v.typ != typeBinary && v.typ != typeString) {
		return nil, false
	}
	b := []byte(v.s)
	truncated := false
	if sz := args["body_size"]; sz.n > uint64(len(b)) {
		truncated = true
	}
	if len(b) > 0 && strings.Contains(strings.ToLower(h.Get("Transfer-Encoding")), "chunked") {
		truncated = true
	}
	if len(b) > waf.MaxBody {
		b, truncated = b[:waf.MaxBody], true
	}
	return b, truncated
}
