//go:build linux && (amd64 || arm64)

package reuselog_test

import (
	"context"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/palisadehq/palisade/internal/api/reuselog"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/protect"
	"github.com/palisadehq/palisade/internal/testenv"
)

// batchEnv is a listener on a real UDP socket of 127.0.0.1, trusting
// loopback, and a sender to it.
type batchEnv struct {
	pal  *testenv.Stack
	l    *reuselog.Listener
	pc   *net.UDPConn
	out  *net.UDPConn
	line []byte
}

func newBatchEnv(t *testing.T) *batchEnv {
	t.Helper()
	pal := testenv.New(t)
	site := pal.Website(t, "batch.example.com", engine.Settings{})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	out, err := net.DialUDP("udp", nil, pc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	return &batchEnv{pal: pal, l: reuselog.New(pal.Protector.Engine, pal.Recorder, nil, nil), pc: pc.(*net.UDPConn), out: out,
		line: []byte("<190>palisade_reused: v1 " + site.ServerKey + " humans 1\n")}
}

// serve runs the listener until the test ends; it must stop within 2 s
// of its context's end.
func (e *batchEnv) serve(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.l.Serve(ctx, e.pc) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(2 * time.Second):
			t.Error("Serve did not stop within 2 s of its context's end")
		}
	})
}

// until waits (10 s at most) until every one of sent datagrams is either
// counted or shown as dropped by the kernel.
func (e *batchEnv) until(t *testing.T, sent uint64) reuselog.Stats {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := e.l.Stats()
		if s.Requests+s.Overflow >= sent {
			if s.Requests+s.Overflow != sent {
				t.Fatalf("stats %+v: %d counted or dropped, %d sent", s, s.Requests+s.Overflow, sent)
			}
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v: %d sent, not all counted or shown as dropped after 10 s", s, sent)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBatchedCountsEveryReport: reports arriving in bursts, as from a busy
// nginx (20,000 datagrams at about 40,000 a second), are all counted, into
// the website's counters too, while the listener reads them in batches;
// and counting a datagram sent after an idle pause is not held back.
func TestBatchedCountsEveryReport(t *testing.T) {
	e := newBatchEnv(t)
	e.serve(t)
	const total = 20000
	for i := 0; i < total; i++ {
		if _, err := e.out.Write(e.line); err != nil {
			t.Fatal(err)
		}
		if i%40 == 39 {
			time.Sleep(time.Millisecond)
		}
	}
	s := e.until(t, total)
	if s.Overflow != 0 {
		t.Logf("%d of %d datagrams dropped by the kernel (a loaded machine); all of them are accounted for", s.Overflow, total)
	}
	if n := counted(t, e.pal, "batch.example.com", "humans"); n != int64(s.Requests) {
		t.Errorf("website counters: %d grants, the listener counted %d", n, s.Requests)
	}
	// Idle, then one datagram: counted within Coalesce and scheduling.
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	if _, err := e.out.Write(e.line); err != nil {
		t.Fatal(err)
	}
	e.until(t, total+1)
	if d := time.Since(start); d > time.Second {
		t.Errorf("a lone report took %v to be counted", d)
	}
}

// TestOverflowShown: datagrams the kernel drops because the socket's
// buffer is full (here: a buffer shrunk to its minimum, filled before the
// listener reads) are shown in Stats.Overflow (the metric
// palisade_reuse_datagrams_dropped_total{why="overflow"}), so that every
// report sent is either counted or shown as lost.
func TestOverflowShown(t *testing.T) {
	e := newBatchEnv(t)
	if err := e.pc.SetReadBuffer(1); err != nil { // the kernel's minimum
		t.Fatal(err)
	}
	const total = 2000
	for i := 0; i < total; i++ {
		if _, err := e.out.Write(e.line); err != nil {
			t.Fatal(err)
		}
	}
	e.serve(t)
	s := e.until(t, total)
	if s.Overflow == 0 || s.Requests == 0 {
		t.Errorf("stats %+v: want some datagrams counted and the rest shown as dropped", s)
	}
	t.Logf("%d counted, %d dropped (of %d)", s.Requests, s.Overflow, total)
}

// TestBatchedStops: the listener stops at once when its context ends,
// whether it waits for a datagram or sleeps between batches.
func TestBatchedStops(t *testing.T) {
	for _, traffic := range []bool{false, true} {
		t.Run("traffic="+strconv.FormatBool(traffic), func(t *testing.T) {
			e := newBatchEnv(t)
			e.serve(t) // its cleanup checks the stop
			if traffic {
				for i := 0; i < 10; i++ {
					if _, err := e.out.Write(e.line); err != nil {
						t.Fatal(err)
					}
				}
				e.until(t, 10)
			}
		})
	}
}

// TestBatchedCountsQueuedAtStop: the reports the socket holds when the
// context ends (the kernel took them; while the listener coalesces, up to
// Coalesce of them) are counted before Serve returns, not closed away
// with the descriptor, neither counted nor shown.
func TestBatchedCountsQueuedAtStop(t *testing.T) {
	for round := 0; round < 3; round++ {
		e := newBatchEnv(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.l.Serve(ctx, e.pc) }()
		const steady, burst = 200, 300
		for i := 0; i < steady; i++ { // a steady stream: the listener coalesces
			if _, err := e.out.Write(e.line); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Microsecond)
		}
		for i := 0; i < burst; i++ {
			if _, err := e.out.Write(e.line); err != nil {
				t.Fatal(err)
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Serve: %v", err)
		}
		if s := e.l.Stats(); s.Requests+s.Overflow != steady+burst {
			t.Fatalf("round %d: stats %+v: %d of %d reports sent before the end neither counted nor shown as dropped", round, s, steady+burst-int(s.Requests+s.Overflow), steady+burst)
		}
	}
}

// TestBatchedStopWritesNothingAfterClose: the context's end wakes the
// listener through a pipe; the wake-up must not write to the pipe's
// descriptor number after Serve closed it (here a context already ended,
// one P: the write ran after Serve returned and put a byte into whatever
// the process opened next).
func TestBatchedStopWritesNothingAfterClose(t *testing.T) {
	pal := testenv.New(t)
	l := reuselog.New(pal.Protector.Engine, pal.Recorder, nil, nil)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for i := 0; i < 50; i++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := l.Serve(ctx, pc); err != nil {
			t.Fatal(err)
		}
		// Take the descriptor numbers Serve freed, in sockets that any
		// stray write would show in.
		var pairs [4][2]int
		for j := range pairs {
			p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			pairs[j] = p
		}
		time.Sleep(2 * time.Millisecond)
		for _, p := range pairs {
			for k := 0; k < 2; k++ {
				var b [8]byte
				if n, _ := unix.Read(p[k], b[:]); n > 0 {
					t.Errorf("round %d: %d byte(s) %v written into descriptor %d, opened after Serve returned", i, n, b[:n], p[1-k])
				}
			}
			unix.Close(p[0])
			unix.Close(p[1])
		}
	}
}

// TestBatchedSizes: a datagram of exactly MaxDatagram bytes is counted
// whole; one byte more, or far more, is dropped as oversize; an empty one
// counts nothing and stops nothing.
func TestBatchedSizes(t *testing.T) {
	e := newBatchEnv(t)
	e.serve(t)
	one := string(e.line)
	lines := reuselog.MaxDatagram / len(one)
	exact := strings.Repeat(one, lines)
	exact += strings.Repeat("\n", reuselog.MaxDatagram-len(exact))
	send := func(s string) {
		t.Helper()
		if _, err := e.out.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	send(exact)
	e.until(t, uint64(lines))
	send(exact + "\n")
	send(exact + strings.Repeat("x", 3*reuselog.MaxDatagram))
	send("")
	send(one)
	if s := e.until(t, uint64(lines)+1); s.Oversize != 2 || s.BadLine != 0 {
		t.Errorf("stats %+v: want the 2 long datagrams oversize, nothing else", s)
	}
}

// TestBatchedDualStack: on a listener of [::] (dual-stack), a report from
// 127.0.0.1 arrives as ::ffff:127.0.0.1 and is judged as 127.0.0.1: counted
// when that is a --web-server, refused when only ::1 is, and a report from
// ::1 the other way round.
func TestBatchedDualStack(t *testing.T) {
	pal := testenv.New(t)
	site := pal.Website(t, "dualstack.example.com", engine.Settings{})
	line := []byte("v1 " + site.ServerKey + " humans 1")
	for _, tc := range []struct {
		trust            string
		counted, refused uint64
	}{{"127.0.0.1/32", 2, 1}, {"::1/128", 1, 2}} {
		pc, err := net.ListenPacket("udp", "[::]:0")
		if err != nil {
			t.Skipf("no dual-stack socket: %v", err)
		}
		l := reuselog.New(pal.Protector.Engine, pal.Recorder, protect.Trusted{netip.MustParsePrefix(tc.trust)}, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- l.Serve(ctx, pc) }()
		port := strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
		for _, from := range []string{"127.0.0.1", "::ffff:127.0.0.1", "::1"} {
			c, err := net.Dial("udp", net.JoinHostPort(from, port))
			if err != nil {
				cancel()
				t.Skipf("%s: %v", from, err)
			}
			if _, err := c.Write(line); err != nil {
				t.Fatal(err)
			}
			c.Close()
		}
		deadline := time.Now().Add(10 * time.Second)
		for s := l.Stats(); s.Counted+s.RefusedPeer < 3 && time.Now().Before(deadline); s = l.Stats() {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if s := l.Stats(); s.Counted != tc.counted || s.RefusedPeer != tc.refused {
			t.Errorf("trusting %s: stats %+v, want %d counted, %d refused", tc.trust, s, tc.counted, tc.refused)
		}
	}
}
