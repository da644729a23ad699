package fcgiauth

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/protect"
)

// Server answers FastCGI Authorizer requests with the engine's verdicts.
//
// A 200 answer allows the request; its Variable-PALISADE_* headers become
// environment variables in Apache (PALISADE_ACTION, PALISADE_REASON, and
// PALISADE_USER for mod_authnz_fcgi's UserExpr). Any other answer is what
// Apache sends the visitor: 403 with the deny or challenge page, or 302
// for a redirect rule. When the request carries PALISADE_AUTHORITATIVE=off
// (the fail-open snippet), every verdict is a 200 with variables instead.
//
// The website is found by PALISADE_KEY (set with SetEnvIf in the vhost)
// or else by the Host header, so one global snippet serves every vhost.
type Server struct {
	p       *protect.Protector
	trusted protect.Trusted
	log     *slog.Logger
	// IdleTimeout closes a connection that sends nothing for this long.
	IdleTimeout time.Duration
}

// New returns a server deciding through p; only peers in trusted (default
// loopback) may connect: they are the web servers, and the client address
// they send is believed.
func New(p *protect.Protector, trusted protect.Trusted, log *slog.Logger) *Server {
	if trusted == nil {
		trusted = protect.Loopback
	}
	if log == nil {
		log = slog.Default()
	}
	return &Server{p: p, trusted: trusted, log: log, IdleTimeout: 2 * time.Minute}
}

// Serve accepts connections on ln until ctx ends, then closes them.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return protect.ServeTrusted(ctx, ln, s.trusted, s.log, "FastCGI", s.ServeConn)
}

type connBuf struct {
	r   *bufio.Reader
	w   *bufio.Writer
	rec []byte
}

var connBufs = sync.Pool{New: func() any {
	return &connBuf{r: bufio.NewReaderSize(nil, 8<<10), w: bufio.NewWriterSize(nil, 8<<10), rec: make([]byte, 0, 4096)}
}}

// request is one FastCGI request in progress on a connection.
type request struct {
	keepConn bool
	params   []byte
}

// maxInFlight bounds the requests multiplexed on one connection.
const maxInFlight = 64

// ServeConn serves the records of one connection until it ends or a
// request without FCGI_KEEP_CONN is answered.
func (s *Server) ServeConn(c net.Conn) error {
	// mod_authnz_fcgi opens a connection per request: buffers are pooled.
	bufs := connBufs.Get().(*connBuf)
	defer connBufs.Put(bufs)
	bufs.r.Reset(c)
	bufs.w.Reset(c)
	defer bufs.r.Reset(nil)
	defer bufs.w.Reset(nil)
	r, w := bufs.r, bufs.w
	reqs := map[uint16]*request{}
	buf := bufs.rec[:0]
	for {
		if s.IdleTimeout > 0 {
			_ = c.SetReadDeadline(time.Now().Add(s.IdleTimeout))
		}
		h, content, err := readRecord(r, buf)
		if err != nil {
			return err
		}
		buf = content[:0]
		switch h.Type {
		case typeGetValues:
			if err := s.getValues(w, content); err != nil {
				return err
			}
		case typeBeginRequest:
			if len(content) < 8 || h.RequestID == 0 {
				return fmt.Errorf("fastcgi: malformed BEGIN_REQUEST")
			}
			role := binary.BigEndian.Uint16(content[0:2])
			keep := content[2]&flagKeepConn != 0
			switch {
			case role != roleAuthorizer:
				if err := endAndFlush(w, h.RequestID, statusUnknownRole); err != nil {
					return err
				}
				if !keep {
					return nil
				}
			case len(reqs) >= maxInFlight:
				if err := endAndFlush(w, h.RequestID, statusCantMpxConn); err != nil {
					return err
				}
			default:
				reqs[h.RequestID] = &request{keepConn: keep}
			}
		case typeParams:
			req := reqs[h.RequestID]
			if req == nil {
				continue // not ours (refused or finished)
			}
			if len(content) > 0 {
				if len(req.params)+len(content) > maxParams {
					return fmt.Errorf("fastcgi: FCGI_PARAMS larger than %d bytes", maxParams)
				}
				req.params = append(req.params, content...)
				continue
			}
			// The empty record ends the stream: decide and answer. An
			// authorizer gets no FCGI_STDIN to wait for.
			delete(reqs, h.RequestID)
			params := map[string]string{}
			if err := parsePairs(req.params, params); err != nil {
				return err
			}
			if err := s.answer(w, h.RequestID, params); err != nil {
				return err
			}
			if !req.keepConn {
				return nil
			}
		case typeAbortRequest:
			if _, ok := reqs[h.RequestID]; ok {
				delete(reqs, h.RequestID)
				if err := endAndFlush(w, h.RequestID, statusRequestComplete); err != nil {
					return err
				}
			}
		case typeStdin, typeData:
			// Authorizers are sent none; ignore any.
		default:
			if h.RequestID == 0 { // a management record we do not know
				var c [8]byte
				c[0] = h.Type
				if err := writeRecord(w, typeUnknownType, 0, c[:]); err != nil {
					return err
				}
				if err := w.Flush(); err != nil {
					return err
				}
			}
		}
	}
}

func endAndFlush(w *bufio.Writer, id uint16, status uint8) error {
	if err := endRequest(w, id, 0, status); err != nil {
		return err
	}
	return w.Flush()
}

// getValues answers FCGI_GET_VALUES with what this server supports.
func (s *Server) getValues(w *bufio.Writer, content []byte) error {
	asked := map[string]string{}
	if err := parsePairs(content, asked); err != nil {
		return err
	}
	known := map[string]string{"FCGI_MAX_CONNS": "10000", "FCGI_MAX_REQS": "10000", "FCGI_MPXS_CONNS": "1"}
	var out []byte
	for k := range asked {
		if v, ok := known[k]; ok {
			out = appendPair(out, k, v)
		}
	}
	if err := writeRecord(w, typeGetValuesResult, 0, out); err != nil {
		return err
	}
	return w.Flush()
}

// answer decides one request and writes its response and END_REQUEST.
func (s *Server) answer(w *bufio.Writer, id uint16, params map[string]string) error {
	resp := s.Decide(params)
	if err := writeStream(w, typeStdout, id, resp); err != nil {
		return err
	}
	if err := endRequest(w, id, 0, statusRequestComplete); err != nil {
		return err
	}
	return w.Flush()
}

// Decide turns one request's CGI variables into the authorizer's CGI
// response (headers, blank line, body).
func (s *Server) Decide(params map[string]string) []byte {
	hr := httpRequest(params)
	ip, _ := netip.ParseAddr(params["REMOTE_ADDR"])
	var pol *engine.Policy
	if key := params["PALISADE_KEY"]; key != "" {
		var err error
		if pol, err = s.p.Engine.ByServerKey(key); err != nil {
			// A wrong key must not take the site down: allow, and say why
			// in Apache's environment and Palisade's log.
			s.log.Warn("FastCGI request with an unknown server key (SetEnv PALISADE_KEY); allowed", "host", hr.Host)
			return []byte("Status: 200\r\nVariable-PALISADE_ACTION: grant\r\nVariable-PALISADE_USER: palisade\r\nVariable-PALISADE_ERROR: unknown server key\r\n\r\n")
		}
	} else {
		pol = s.p.Engine.ByDomain(hr.Host)
	}
	uri := params["REQUEST_URI"]
	if uri == "" {
		uri = "/"
	}
	path, query := protect.SplitURI(uri)
	req := engine.Request{IP: ip, Method: hr.Method, Host: hr.Host, Path: path, Query: query, Proto: params["SERVER_PROTOCOL"],
		UserAgent: hr.UserAgent(), Referer: hr.Referer(), Header: hr.Header, Clearance: protect.Clearance(hr)}
	// Apache's own address for this request: a client there (or on
	// loopback) is the site calling itself (builtin self_calls), unless a
	// proxy in front of Apache shows in the headers.
	server, _ := netip.ParseAddr(params["SERVER_ADDR"])
	req.Server = protect.SelfCallServer(server, hr.Header)
	v := s.p.Decide(pol, &req)
	act := v.Enforced()
	var b bytes.Buffer
	if strings.EqualFold(params["PALISADE_AUTHORITATIVE"], "off") {
		// Fail-open snippet: mod_authnz_fcgi runs with Authoritative Off,
		// which would ignore a non-200 answer; so every verdict is a 200
		// carrying variables, and Apache's own Require and ErrorDocument
		// enforce it (deploy/apache/palisade-fail-open.conf).
		fmt.Fprintf(&b, "Status: 200\r\nVariable-PALISADE_USER: palisade\r\nVariable-PALISADE_ACTION: %s\r\nVariable-PALISADE_REASON: %s\r\n", act, headerValue(v.Reason))
		if act == engine.Redirect {
			fmt.Fprintf(&b, "Variable-PALISADE_LOCATION: %s\r\n", headerValue(v.Location))
		}
		if v.Ref != "" { // the page's reference ID, which the page request sends back
			fmt.Fprintf(&b, "Variable-PALISADE_REF: %s\r\n", v.Ref)
		}
		b.WriteString("\r\n")
		return b.Bytes()
	}
	switch act {
	case engine.Grant:
		b.WriteString("Status: 200\r\nVariable-PALISADE_ACTION: grant\r\nVariable-PALISADE_USER: palisade\r\n")
		fmt.Fprintf(&b, "Variable-PALISADE_REASON: %s\r\n\r\n", headerValue(v.Reason))
		return b.Bytes()
	case engine.Redirect:
		fmt.Fprintf(&b, "Status: 302\r\nLocation: %s\r\nCache-Control: no-store\r\n\r\n", headerValue(v.Location))
		return b.Bytes()
	}
	rec := &recorder{header: http.Header{}}
	s.p.Page(rec, hr, pol, v, ip, uri, http.StatusForbidden)
	status := rec.status
	if status == 0 {
		status = http.StatusForbidden
	}
	fmt.Fprintf(&b, "Status: %d\r\n", status)
	for k, vs := range rec.header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, headerValue(v))
		}
	}
	fmt.Fprintf(&b, "X-Palisade-Action: %s\r\nX-Palisade-Reason: %s\r\n\r\n", act, headerValue(v.Reason))
	b.Write(rec.body.Bytes())
	return b.Bytes()
}

// headerValue drops what cannot stand in a header line.
func headerValue(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
}

// httpRequest rebuilds the visitor's request from CGI variables: method,
// host, URI and the HTTP_* headers.
func httpRequest(params map[string]string) *http.Request {
	h := http.Header{}
	for k, v := range params {
		if name, ok := strings.CutPrefix(k, "HTTP_"); ok {
			h.Add(http.CanonicalHeaderKey(strings.ReplaceAll(name, "_", "-")), v)
		}
	}
	if ct := params["CONTENT_TYPE"]; ct != "" {
		h.Set("Content-Type", ct)
	}
	method := params["REQUEST_METHOD"]
	if method == "" {
		method = "GET"
	}
	host := params["HTTP_HOST"]
	if host == "" {
		host = params["SERVER_NAME"]
	}
	u, err := url.ParseRequestURI(params["REQUEST_URI"])
	if err != nil {
		u = &url.URL{Path: "/"}
	}
	r := &http.Request{Method: method, Host: host, Header: h, URL: u, RequestURI: params["REQUEST_URI"], Proto: params["SERVER_PROTOCOL"]}
	r.RemoteAddr = net.JoinHostPort(params["REMOTE_ADDR"], strconv.Itoa(0))
	return r
}

// recorder captures the page the protector writes.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
