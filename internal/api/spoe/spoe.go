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
	"time"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/protect"
)

// maxFrame is the largest frame Palisade accepts and announces.
const maxFrame = 16384

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
	return &Agent{p: p, trusted: trusted, log: log, IdleTimeout: 5 * time.Minute}
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
	r := bufio.NewReaderSize(c, maxFrame+4)
	w := bufio.NewWriterSize(c, maxFrame+4)
	buf := make([]byte, maxFrame)
	hello := false
	var out []byte
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
		if n > maxFrame {
			return a.disconnect(w, &protoError{statusTooBig, "frame too big"})
		}
		b := buf[:n]
		if _, err := io.ReadFull(r, b); err != nil {
			return err
		}
		f, err := parseFrame(b)
		if err != nil {
			return a.disconnect(w, &protoError{statusInvalid, err.Error()})
		}
		if f.flags&flagFin == 0 {
			return a.disconnect(w, &protoError{10, "fragmentation is not supported"})
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
			size := uint32(maxFrame)
			if m := kv["max-frame-size"]; m.n > 0 && m.n < uint64(size) {
				size = uint32(m.n)
			}
			var p []byte
			p = appendStringValue(appendString(p, "version"), "2.0")
			p = appendUint32Value(appendString(p, "max-frame-size"), size)
			p = appendStringValue(appendString(p, "capabilities"), "pipelining")
			if err := writeFrame(w, appendFrame(out[:0], frameAgentHello, 0, 0, p)); err != nil {
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
			var acts []byte
			for _, m := range msgs {
				acts = a.decide(acts, m.args, server)
			}
			out = appendFrame(out[:0], frameAck, f.streamID, f.frameID, acts)
			if err := writeFrame(w, out); err != nil {
				return err
			}
		case f.typ == frameHaproxyDisconnect:
			return a.disconnect(w, &protoError{statusNormal, ""})
		default:
			return a.disconnect(w, &protoError{statusUnsupported, fmt.Sprintf("unexpected frame type %d", f.typ)})
		}
	}
}

func writeFrame(w *bufio.Writer, f []byte) error {
	var lb [4]byte
	binary.BigEndian.PutUint32(lb[:], uint32(len(f)))
	if _, err := w.Write(lb[:]); err != nil {
		return err
	}
	if _, err := w.Write(f); err != nil {
		return err
	}
	return w.Flush()
}

func (a *Agent) disconnect(w *bufio.Writer, e *protoError) error {
	var p []byte
	p = appendUint32Value(appendString(p, "status-code"), e.status)
	p = appendStringValue(appendString(p, "message"), e.msg)
	_ = writeFrame(w, appendFrame(nil, frameAgentDisconnect, 0, 0, p))
	if e.status == statusNormal {
		return nil
	}
	return e
}

// decide turns one message's arguments into SET-VAR actions: action,
// reason, and location for redirects. Arguments (deploy/haproxy): method,
// path, query, host, ip, headers (req.hdrs_bin), key (optional server key).
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
	v := a.p.Decide(pol, &req)
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
