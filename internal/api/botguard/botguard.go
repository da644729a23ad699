// Package botguard serves the BotGuard-compatible check API, so that web
// servers and the BotGuard PHP connector can point at Palisade:
//
//	POST /v2.1/check
//	BG-RemoteAddr: <client IP>   BG-RemotePort, BG-ConnAddr, BG-SSLProto (optional)
//	<body: the client's raw HTTP request — request line, headers, blank line,
//	 body — gzip-compressed when Content-Encoding: gzip>
//
// The visitor's body (after the blank line, up to waf.MaxBody bytes) goes
// to the website firewall.
//
// The answer is 200 to serve the request, else 403 (the body is the page to
// show), with BG-X-Mitigation (grant, deny, challenge or redirect),
// BG-X-Reason and, for a redirect, BG-Location. Every BG- header is written
// exactly as BotGuard spells it (BG-X-Mitigation, not Go's canonical
// Bg-X-Mitigation): BotGuard's PHP connector looks names up
// case-sensitively and takes a missing BG-X-Mitigation for grant. A page
// answer (challenge, deny) also carries the page's Content-Type,
// Cache-Control and Content-Security-Policy as BG-Content-Type and so on,
// which the connector passes to the visitor with a challenge page. Palisade's
// captcha is a page, not a URL, and BotGuard's clients send a captcha to
// BG-Location, so a captcha is answered as challenge. Errors are 400, 401
// or 413 with BG-X-Error; the connector reads only 200 and 403 answers, so
// its site serves the request (fails open).
//
// The website is found by the server key in BG-Key (or X-Palisade-Key).
// Without a key, as the BotGuard connector expects, it is found by the Host
// of the raw request, but only for an address the operator listed with
// --web-server (never the loopback default): anyone else without the key
// gets 401, so that nobody can read a site's lists and redirect targets from
// its verdicts, or add requests and events to its statistics, by naming its
// domain. An unknown Host is a grant with BG-X-Reason: unknown website.
package botguard

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/protect"
	"github.com/palisadehq/palisade/internal/routes"
	"github.com/palisadehq/palisade/internal/waf"
)

// MaxBody bounds the request line and headers of the raw request
// (decompressed), which must fit (the visitor sizes them, and Apache passes
// up to 100 lines of 8 KiB, so 1 MiB). After them, the first waf.MaxBody
// bytes of the visitor's body are read for the website firewall
// (Request.Body; BodyTruncated when there is more); the rest is read and
// dropped, up to MaxDrain (beyond that the connection is closed).
const MaxBody = 1 << 20

// MaxDrain is how much of a raw request past MaxBody is read and dropped,
// so that the connector gets its answer on a live connection.
const MaxDrain = 64 << 20

// headOf returns raw up to and with the blank line after the headers, or
// nil when it holds no blank line.
func headOf(raw []byte) []byte {
	i, n := bytes.Index(raw, []byte("\r\n\r\n")), 4
	if j := bytes.Index(raw, []byte("\n\n")); j >= 0 && (i < 0 || j < i) {
		i, n = j, 2
	}
	if i < 0 {
		return nil
	}
	return raw[:i+n]
}

// Handler serves /v2.1/check.
type Handler struct {
	p          *protect.Protector
	webServers protect.Trusted
	log        *slog.Logger
	// decide is p.Decide (tests watch the requests the engine gets).
	decide func(*engine.Policy, *engine.Request) engine.Verdict
}

// New returns the handler; webServers may ask without a server key, naming
// the website by the raw request's Host. They are the --web-server addresses
// the operator listed: nil (the flag not given) lets nobody ask keyless, not
// loopback, because any process on the host (a shared-hosting customer's
// PHP, say) could then read every site's verdicts and add to its statistics.
func New(p *protect.Protector, webServers protect.Trusted, log *slog.Logger) *Handler {
	return &Handler{p: p, webServers: webServers, log: log, decide: p.Decide}
}

// Register adds the endpoint to mux.
func (h *Handler) Register(mux routes.Mux, wrap func(name string, h http.Handler) http.Handler) {
	mux.Handle("POST /v2.1/check", wrap("botguard-check", http.HandlerFunc(h.check)))
}

// setBG sets a header under exactly this name: http.Header.Set would
// write BG-X-Mitigation as Bg-X-Mitigation, which BotGuard's connector
// does not see. net/http writes a map key as it is.
func setBG(h http.Header, name, value string) {
	h.Del(name)
	h[name] = []string{value}
}

func fail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	setBG(w.Header(), "BG-X-Error", msg)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, "palisade: "+msg+"\n")
}

// ParseRaw parses a raw HTTP request (request line, headers, blank line,
// optional body; the body is not read). What Go's strict parser refuses
// but a web server may still pass on (control characters in a value, two
// Content-Lengths, an unknown Transfer-Encoding, two Hosts, "HTTP/2", a
// space in the target) is read leniently: an error here is an answer the
// connector takes for "serve", so a visitor must not be able to cause one.
// Only a body whose first line is not METHOD TARGET HTTP/x is refused. It
// is exported for the fuzz test.
func ParseRaw(raw []byte) (*http.Request, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, errors.New("empty body: send the client's raw request (request line, headers, blank line)")
	}
	// Tolerate a request that ends after its headers without the blank line.
	if !bytes.Contains(raw, []byte("\r\n\r\n")) && !bytes.Contains(raw, []byte("\n\n")) {
		raw = append(raw, "\r\n\r\n"...)
	}
	if req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw))); err == nil {
		return req, nil
	}
	return parseLenient(raw)
}

// parseLenient reads the request line and the header lines of raw,
// skipping lines that are no header.
func parseLenient(raw []byte) (*http.Request, error) {
	head := raw
	if h := headOf(raw); h != nil {
		head = h
	}
	lines := strings.Split(strings.ReplaceAll(string(head), "\r\n", "\n"), "\n")
	first := strings.TrimSpace(lines[0])
	sp, last := strings.IndexByte(first, ' '), strings.LastIndexByte(first, ' ')
	if sp <= 0 || last <= sp {
		return nil, errors.New("the body is not a raw HTTP request: its first line must be METHOD TARGET HTTP/x")
	}
	method, target, proto := first[:sp], strings.TrimSpace(first[sp+1:last]), first[last+1:]
	if !strings.HasPrefix(proto, "HTTP/") || strings.ContainsFunc(method, func(r rune) bool { return r <= ' ' || r >= 0x7f }) || target == "" {
		return nil, errors.New("the body is not a raw HTTP request: its first line must be METHOD TARGET HTTP/x")
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		if u, err = url.ParseRequestURI(escapeOdd(target)); err != nil {
			u = &url.URL{Path: "/"}
		}
	}
	hd := http.Header{}
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(l, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			continue
		}
		hd.Add(http.CanonicalHeaderKey(name), strings.TrimSpace(value))
	}
	req := &http.Request{Method: method, URL: u, Proto: proto, Header: hd, Host: u.Host, RequestURI: target, Body: http.NoBody}
	req.ProtoMajor, req.ProtoMinor, _ = http.ParseHTTPVersion(proto)
	if req.Host == "" {
		req.Host = hd.Get("Host")
	}
	return req, nil
}

// escapeOdd percent-encodes the bytes of a request target that a URL may
// not hold (spaces, control characters, non-ASCII).
func escapeOdd(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' || c == '`' || c == '{' || c == '|' || c == '}' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (h *Handler) check(w http.ResponseWriter, r *http.Request) {
	key := firstNonEmpty(r.Header.Get("BG-Key"), r.Header.Get("X-Palisade-Key"))
	if key == "" && !h.webServers.Contains(protect.PeerAddr(r.RemoteAddr)) {
		// Refused before the body is read: no decision, no statistics.
		fail(w, http.StatusUnauthorized, "send the website's server key in BG-Key (only an address listed with --web-server may name the website by Host alone)")
		return
	}
	// Read the request line and headers (at most MaxBody, decompressed)
	// and the first waf.MaxBody bytes of the visitor's body, and drop the
	// rest, so that a visitor cannot escape the verdict by sending a big
	// body.
	defer func() { _, _ = io.CopyN(io.Discard, r.Body, MaxDrain) }()
	var src io.Reader = r.Body
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			fail(w, http.StatusBadRequest, "Content-Encoding is gzip but the body is not gzip data")
			return
		}
		defer zr.Close()
		src = zr
	}
	raw, err := io.ReadAll(io.LimitReader(src, MaxBody+waf.MaxBody+1))
	if err != nil {
		fail(w, http.StatusBadRequest, "cannot read the raw request: "+err.Error())
		return
	}
	head := headOf(raw[:min(len(raw), MaxBody)])
	if head == nil && len(raw) > MaxBody {
		fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the raw request's request line and headers are larger than %d bytes", MaxBody))
		return
	}
	// The visitor's body is what follows the blank line, as the caller
	// sent it (BotGuard's connector: as PHP received it, de-chunked);
	// a raw request without a blank line has none.
	body, truncated := []byte{}, false
	if head != nil {
		body, raw = raw[len(head):], head
		if len(body) > waf.MaxBody {
			body, truncated = body[:waf.MaxBody], true
		}
	}
	orig, err := ParseRaw(raw)
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	ip, err := netip.ParseAddr(strings.TrimSpace(r.Header.Get("BG-RemoteAddr")))
	if err != nil {
		fail(w, http.StatusBadRequest, "BG-RemoteAddr must be the client's IP address")
		return
	}
	var pol *engine.Policy
	if key != "" {
		if pol, err = h.p.Engine.ByServerKey(key); err != nil {
			fail(w, http.StatusUnauthorized, "unknown server key")
			return
		}
	} else {
		pol = h.p.Engine.ByDomain(orig.Host)
	}
	req := engine.Request{
		IP: ip.Unmap(), Method: orig.Method, Host: orig.Host, Path: orig.URL.EscapedPath(), Query: orig.URL.RawQuery, Proto: orig.Proto,
		UserAgent: orig.UserAgent(), Referer: orig.Referer(), Header: orig.Header, Clearance: protect.Clearance(orig),
	}
	if req.Path == "" {
		req.Path = "/"
	}
	req.Body, req.BodyTruncated = body, truncated
	v := h.decide(pol, &req)
	h.write(w, orig, pol, v, req.IP)
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// Mitigation is the BG-X-Mitigation value of an enforced action: its name,
// but challenge for a captcha (Palisade's captcha is the challenge page;
// BotGuard's clients would redirect a captcha to a BG-Location).
func Mitigation(act engine.Action) string {
	if act == engine.Captcha {
		return engine.Challenge.String()
	}
	return act.String()
}

// write answers a verdict with BotGuard's headers; the 403 body is the page
// the connector shows the visitor (the challenge or the deny page).
func (h *Handler) write(w http.ResponseWriter, orig *http.Request, pol *engine.Policy, v engine.Verdict, ip netip.Addr) {
	act := v.Enforced()
	hd := w.Header()
	setBG(hd, "BG-X-Mitigation", Mitigation(act))
	setBG(hd, "BG-X-Reason", v.Reason)
	hd.Set("Cache-Control", "no-store")
	if act == engine.Grant {
		w.WriteHeader(http.StatusOK)
		return
	}
	if act == engine.Redirect {
		setBG(hd, "BG-Location", v.Location)
	}
	h.p.Page(&pageHeaders{ResponseWriter: w}, orig, pol, v, ip, orig.URL.RequestURI(), http.StatusForbidden)
}

// pageForwarded are the page headers a 403 answer repeats as BG-<Name>:
// the connector sends every BG- header that is not BG-X- to the visitor
// with a challenge page, without the prefix. (X-Robots-Tag cannot go that
// way: the connector keeps BG-X- headers to itself.)
var pageForwarded = []string{"Content-Type", "Cache-Control", "Content-Security-Policy"}

// pageHeaders copies the page's headers to their BG- names as the page
// writes its status.
type pageHeaders struct {
	http.ResponseWriter
	wrote bool
}

func (p *pageHeaders) WriteHeader(status int) {
	if !p.wrote {
		p.wrote = true
		h := p.Header()
		for _, name := range pageForwarded {
			if v := h.Get(name); v != "" {
				setBG(h, "BG-"+name, v)
			}
		}
	}
	p.ResponseWriter.WriteHeader(status)
}

func (p *pageHeaders) Write(b []byte) (int, error) {
	if !p.wrote {
		p.WriteHeader(http.StatusOK)
	}
	return p.ResponseWriter.Write(b)
}
