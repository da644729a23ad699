//go:build linux && (amd64 || arm64)

package reuselog_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/api/reuselog"
	"github.com/palisadehq/palisade/internal/engine"
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
