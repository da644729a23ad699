// Package reuselog counts the grants web servers answered from their grant
// cache or on an asset pass without asking Palisade: nginx's
// palisade.conf appends a line per such request to a file that Palisade
// reads (palisade serve --reuse-file, TailFile: file.go says why a file),
// or sends it as a syslog line over UDP (--reuse-addr, for nginx on
// another host); mod_palisade sums them per report over UDP. Plans are
// priced by requests, so a reused grant counts like any other
// (events.Recorder.CountReused).
//
// The wire format (fixed; deploy/nginx and deploy/apache send it): the
// file holds lines ending in "\n" (at most MaxLine bytes each); a UDP
// datagram of at most MaxDatagram bytes holds one or more lines separated
// by "\n". Each line is an optional syslog prefix ("<PRI>" then anything,
// up to and including the tag "palisade_reused: ") followed by
//
//	v1 <server_key> <reason> <count>
//
// where reason is the reused grant's X-Palisade-Reason, a category name
// (engine.ParseCategory), and count an integer 1..events.MaxReusedReport.
// A line with an unknown server key, an unknown reason or a bad count is
// skipped (and counted in palisade_reuse_lines_total by result); a datagram
// from a peer that is not a --web-server, or longer than MaxDatagram, is
// dropped whole. The file's trust is its permissions: whoever can write to
// it can report requests for any server key it knows.
package reuselog

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/events"
	"github.com/palisadehq/palisade/internal/protect"
)

// DefaultAddr is where palisade serve listens unless --reuse-addr says
// otherwise (the address palisade-static.conf sends to).
const DefaultAddr = "127.0.0.1:9514"

// MaxDatagram bounds one report datagram; MaxLine one line of it.
const (
	MaxDatagram = 8 << 10
	MaxLine     = 1 << 10
)

// tag ends the syslog prefix nginx writes ("<190>Nov 30 16:00:00
// palisade_reused: v1 …").
var tag = []byte("palisade_reused: ")

// Counter counts reused grants (events.Recorder).
type Counter interface {
	CountReused(pol *engine.Policy, cat engine.Category, n int64) bool
}

// Websites finds a website by its server key (engine.Engine).
type Websites interface {
	ByServerKey(key string) (*engine.Policy, error)
}

var _ Counter = (*events.Recorder)(nil)

// Stats are the listener's counts since it started.
type Stats struct {
	Counted       uint64 // lines counted
	Requests      uint64 // requests those lines counted
	UnknownKey    uint64 // lines skipped: no website has the server key
	UnknownReason uint64 // lines skipped: the reason is no category
	BadLine       uint64 // lines skipped: not the format, or a bad count
	RefusedPeer   uint64 // datagrams dropped: the peer is not a web server
	Oversize      uint64 // datagrams dropped: longer than MaxDatagram
	Overflow      uint64 // datagrams the kernel dropped: the receive buffer was full (Linux)
	FileFreed     uint64 // bytes of the report file (TailFile) freed after they were counted
}

// Listener reads reports and counts them.
type Listener struct {
	sites   Websites
	rec     Counter
	trusted protect.Trusted
	log     *slog.Logger

	counted, requests, unknownKey, unknownReason, badLine, refusedPeer, oversize atomic.Uint64
	// overflow: datagrams the kernel dropped because the socket's receive
	// buffer was full (Linux: SO_MEMINFO), as last read.
	overflow atomic.Uint64

	freedBytes atomic.Uint64 // bytes of the report file (file.go) freed after counting
}

// New returns a listener that counts into rec the reports of the web
// servers trusted (nil: loopback, as forward-auth's --web-server default).
func New(sites Websites, rec Counter, trusted protect.Trusted, log *slog.Logger) *Listener {
	if trusted == nil {
		trusted = protect.Loopback
	}
	if log == nil {
		log = slog.Default()
	}
	return &Listener{sites: sites, rec: rec, trusted: trusted, log: log}
}

// Stats reports the counts.
func (l *Listener) Stats() Stats {
	return Stats{Counted: l.counted.Load(), Requests: l.requests.Load(), UnknownKey: l.unknownKey.Load(), UnknownReason: l.unknownReason.Load(),
		BadLine: l.badLine.Load(), RefusedPeer: l.refusedPeer.Load(), Oversize: l.oversize.Load(), Overflow: l.overflow.Load(), FileFreed: l.freedBytes.Load()}
}

// Register adds the listener's counters to reg.
func (l *Listener) Register(reg prometheus.Registerer) {
	for _, c := range []struct {
		result string
		v      *atomic.Uint64
	}{{"counted", &l.counted}, {"unknown_key", &l.unknownKey}, {"unknown_reason", &l.unknownReason}, {"bad_line", &l.badLine}} {
		v := c.v
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "palisade_reuse_lines_total", Help: "Lines of grant reuse reports (--reuse-file and --reuse-addr), by result.",
			ConstLabels: prometheus.Labels{"result": c.result}}, func() float64 { return float64(v.Load()) }))
	}
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "palisade_reuse_file_freed_bytes_total", Help: "Bytes of the grant reuse report file (--reuse-file) freed after they were counted."},
		func() float64 { return float64(l.freedBytes.Load()) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "palisade_reuse_requests_total", Help: "Requests served without asking (reused grants, files on an asset pass) counted from reports (--reuse-file and --reuse-addr)."},
		func() float64 { return float64(l.requests.Load()) }))
	for _, c := range []struct {
		why string
		v   *atomic.Uint64
	}{{"peer", &l.refusedPeer}, {"oversize", &l.oversize}, {"overflow", &l.overflow}} {
		v := c.v
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "palisade_reuse_datagrams_dropped_total", Help: "Grant reuse report datagrams dropped whole, by why (peer: not a --web-server; oversize; overflow: the socket's receive buffer was full, Linux).",
			ConstLabels: prometheus.Labels{"why": c.why}}, func() float64 { return float64(v.Load()) }))
	}
}

// Serve reads datagrams from pc until ctx ends (then closes pc).
//
// On Linux a UDP socket is read in batches (serveBatched): nginx sends a
// datagram per asset it serves with a pass, and waking for each one cost
// Palisade (and the nginx worker that woke it) more than the whole rest of
// the asset's request. Elsewhere, or for another kind of PacketConn, one
// datagram is read at a time.
func (l *Listener) Serve(ctx context.Context, pc net.PacketConn) error {
	stop := context.AfterFunc(ctx, func() { pc.Close() })
	defer stop()
	if udp, ok := pc.(*net.UDPConn); ok {
		if done, err := l.serveBatched(ctx, udp); done {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
	}
	buf := make([]byte, MaxDatagram+1)
	// Without the address allocation of ReadFrom where pc is UDP.
	udp, _ := pc.(*net.UDPConn)
	for {
		var (
			n    int
			from net.Addr
			peer netip.Addr
			err  error
		)
		if udp != nil {
			var ap netip.AddrPort
			n, ap, err = udp.ReadFromUDPAddrPort(buf)
			peer = ap.Addr()
		} else {
			n, from, err = pc.ReadFrom(buf)
		}
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		if ua, ok := from.(*net.UDPAddr); ok {
			peer = ua.AddrPort().Addr()
		}
		l.Handle(peer, buf[:n])
	}
}

// Handle counts one datagram from peer.
func (l *Listener) Handle(peer netip.Addr, b []byte) {
	if !l.trusted.Contains(peer.Unmap()) {
		if l.refusedPeer.Add(1) == 1 {
			l.log.Warn("a grant reuse report from an address that is not a --web-server: dropped (further ones are counted in palisade_reuse_datagrams_dropped_total)", "peer", peer.String())
		}
		return
	}
	if len(b) > MaxDatagram {
		l.oversize.Add(1)
		return
	}
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		line = bytes.TrimRight(line, "\r\x00")
		if len(line) == 0 {
			continue
		}
		l.line(line)
	}
}

// line counts one line.
func (l *Listener) line(line []byte) {
	if len(line) > MaxLine {
		l.badLine.Add(1)
		return
	}
	if line[0] == '<' {
		i := bytes.Index(line, tag)
		if i < 0 {
			l.badLine.Add(1)
			return
		}
		line = line[i+len(tag):]
	}
	f := bytes.Split(line, []byte(" "))
	if len(f) != 4 || string(f[0]) != "v1" {
		l.badLine.Add(1)
		return
	}
	n, err := strconv.ParseInt(string(f[3]), 10, 64)
	if err != nil || n < 1 || n > events.MaxReusedReport {
		l.badLine.Add(1)
		return
	}
	pol, err := l.sites.ByServerKey(string(f[1]))
	if err != nil || pol == nil {
		l.unknownKey.Add(1)
		return
	}
	cat, ok := engine.ParseCategory(string(f[2]))
	if !ok {
		l.unknownReason.Add(1)
		return
	}
	if !l.rec.CountReused(pol, cat, n) {
		l.badLine.Add(1)
		return
	}
	l.counted.Add(1)
	l.requests.Add(uint64(n))
}
