//go:build linux

package rawio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Attacks on Conn: what a peer, or the goroutines of its own program,
// could do to it. Each test fails if the attack works.

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*13) ^ seed ^ byte(i>>10)
	}
	return b
}

// readAll reads exactly n bytes through r with buffers of size bs.
func readAll(r *Conn, n, bs int) ([]byte, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, bs)
	for len(out) < n {
		m, err := r.Read(buf[:min(bs, n-len(out))])
		out = append(out, buf[:m]...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// TestAttackConcurrentReadWrite: both ends raw, each writing 4 MB while
// it reads the other's 4 MB in another goroutine (a Read and a Write may
// overlap): every byte arrives, in order, on both sides.
func TestAttackConcurrentReadWrite(t *testing.T) {
	a, ra, b := pair(t)
	rb := New(b)
	if rb == nil {
		t.Fatal("New(b) is nil")
	}
	a.SetDeadline(time.Now().Add(20 * time.Second))
	b.SetDeadline(time.Now().Add(20 * time.Second))
	const n = 4 << 20
	pa, pb := pattern(n, 0x5a), pattern(n, 0xa5)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	var gotA, gotB []byte
	wg.Add(4)
	go func() {
		defer wg.Done()
		if w, err := ra.Write(pa); err != nil || w != n {
			errs <- errors.Join(errors.New("a's write"), err)
		}
	}()
	go func() {
		defer wg.Done()
		// In pieces of odd sizes.
		for off := 0; off < n; {
			end := min(n, off+1+off%70001)
			if _, err := rb.Write(pb[off:end]); err != nil {
				errs <- errors.Join(errors.New("b's write"), err)
				return
			}
			off = end
		}
	}()
	go func() {
		defer wg.Done()
		var err error
		if gotA, err = readAll(ra, n, 32<<10); err != nil {
			errs <- errors.Join(errors.New("a's read"), err)
		}
	}()
	go func() {
		defer wg.Done()
		var err error
		if gotB, err = readAll(rb, n, 7); err != nil && len(gotB) < n {
			errs <- errors.Join(errors.New("b's read"), err)
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if !bytes.Equal(gotA, pb) || !bytes.Equal(gotB, pa) {
		t.Errorf("a read %d bytes (equal %v), b read %d (equal %v)", len(gotA), bytes.Equal(gotA, pb), len(gotB), bytes.Equal(gotB, pa))
	}
}

// TestAttackReadRacingClose: a Read waiting for bytes while another
// goroutine closes the connection ends at once with net.ErrClosed; never
// hangs, never reports bytes it did not read; 50 times at varied moments.
func TestAttackReadRacingClose(t *testing.T) {
	for i := 0; i < 50; i++ {
		a, r, b := pair(t)
		a.SetReadDeadline(time.Now().Add(5 * time.Second))
		if i%2 == 0 {
			b.Write([]byte("x"))
		}
		done := make(chan error, 1)
		go func() {
			buf := make([]byte, 64)
			for {
				n, err := r.Read(buf)
				if n > 0 && (n != 1 || buf[0] != 'x') {
					done <- errors.New("a read of bytes never sent")
					return
				}
				if err != nil {
					done <- err
					return
				}
			}
		}()
		time.Sleep(time.Duration(i%5) * time.Millisecond)
		a.Close()
		select {
		case err := <-done:
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("%d: Read after Close: %v, want net.ErrClosed", i, err)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("%d: Read still waits 3 s after Close", i)
		}
		// Reads and writes after Close fail, without touching a
		// descriptor number that may be another file's by now.
		if _, err := r.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("%d: Read on a closed Conn: %v", i, err)
		}
		if _, err := r.Write([]byte("y")); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("%d: Write on a closed Conn: %v", i, err)
		}
	}
}

// TestAttackWriteToStalledPeer: a peer that stops reading cannot hold a
// Write of 64 MB past its deadline; the count it reports is what the
// peer can then read, no more, no less.
func TestAttackWriteToStalledPeer(t *testing.T) {
	a, r, b := pair(t)
	p := pattern(64<<20, 1)
	a.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	start := time.Now()
	n, err := r.Write(p)
	took := time.Since(start)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write to a stalled peer: %d, %v; want the deadline", n, err)
	}
	if took > 2*time.Second {
		t.Fatalf("Write took %v past a 200 ms deadline", took)
	}
	if n <= 0 || n >= len(p) {
		t.Fatalf("Write reported %d of %d", n, len(p))
	}
	a.Close() // a FIN after what was written
	b.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, rerr := io.ReadAll(b)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if len(got) != n || !bytes.Equal(got, p[:n]) {
		t.Fatalf("the peer read %d bytes (equal to the first %d written: %v); Write reported %d", len(got), min(len(got), n), bytes.Equal(got[:min(len(got), n)], p[:min(len(got), n)]), n)
	}
}

// TestAttackLargeAndTinyReads: one 16 MB buffer filled by many reads, and
// 10000 bytes read one byte at a time, then EOF; and a reset peer gives an
// error, not EOF or bytes.
func TestAttackLargeAndTinyReads(t *testing.T) {
	t.Run("16MB", func(t *testing.T) {
		a, r, b := pair(t)
		a.SetReadDeadline(time.Now().Add(20 * time.Second))
		p := pattern(16<<20, 2)
		go func() { b.Write(p); b.Close() }()
		buf := make([]byte, 16<<20)
		off := 0
		for off < len(buf) {
			n, err := r.Read(buf[off:])
			if n < 0 || n > len(buf)-off {
				t.Fatalf("Read returned %d for %d bytes of room", n, len(buf)-off)
			}
			off += n
			if err != nil {
				t.Fatalf("after %d bytes: %v", off, err)
			}
		}
		if !bytes.Equal(buf, p) {
			t.Fatal("16 MB read differs from what was written")
		}
		if n, err := r.Read(buf[:1]); n != 0 || err != io.EOF {
			t.Fatalf("after the end: %d, %v; want EOF", n, err)
		}
	})
	t.Run("1-byte", func(t *testing.T) {
		a, r, b := pair(t)
		a.SetReadDeadline(time.Now().Add(10 * time.Second))
		p := pattern(10000, 3)
		go func() { b.Write(p); b.Close() }()
		var one [1]byte
		for i := range p {
			n, err := r.Read(one[:])
			if n != 1 || err != nil || one[0] != p[i] {
				t.Fatalf("byte %d: %d %v %#x, want %#x", i, n, err, one[0], p[i])
			}
		}
		if n, err := r.Read(one[:]); n != 0 || err != io.EOF {
			t.Fatalf("after the end: %d, %v; want EOF", n, err)
		}
	})
	t.Run("reset", func(t *testing.T) {
		a, r, b := pair(t)
		a.SetReadDeadline(time.Now().Add(5 * time.Second))
		b.(*net.TCPConn).SetLinger(0)
		b.Close() // RST
		n, err := r.Read(make([]byte, 8))
		if n != 0 || err == nil || err == io.EOF {
			t.Fatalf("Read from a reset peer: %d, %v; want an error", n, err)
		}
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Logf("Read from a reset peer: %v (not ECONNRESET)", err)
		}
	})
}

// TestAttackEmptyDatagram: New takes any *net.UnixConn, a datagram socket
// too; a zero-length datagram is no end of the stream there (net's own
// Read returns 0, nil), and Conn must not report io.EOF for it.
func TestAttackEmptyDatagram(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_DGRAM, 0)
	if err != nil {
		t.Skip(err)
	}
	fa, fb := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
	defer fa.Close()
	defer fb.Close()
	ca, err := net.FileConn(fa)
	if err != nil {
		t.Skip(err)
	}
	defer ca.Close()
	cb, err := net.FileConn(fb)
	if err != nil {
		t.Skip(err)
	}
	defer cb.Close()
	// rawio reads a zero-length datagram as the end (io.EOF), where net's
	// Read returns 0, nil: New takes TCP connections only.
	if New(ca) != nil {
		t.Fatal("New accepted a datagram socket")
	}
}

// TestAttackWriteRacingClose: a Write blocked on a peer that does not read
// ends promptly with net.ErrClosed when another goroutine closes the
// connection, reporting no more than it wrote.
func TestAttackWriteRacingClose(t *testing.T) {
	a, r, _ := pair(t)
	a.SetWriteDeadline(time.Now().Add(5 * time.Second))
	p := pattern(64<<20, 4)
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := r.Write(p)
		done <- result{n, err}
	}()
	time.Sleep(100 * time.Millisecond)
	a.Close()
	select {
	case res := <-done:
		if !errors.Is(res.err, net.ErrClosed) || res.n < 0 || res.n >= len(p) {
			t.Fatalf("Write after Close: %d of %d, %v; want net.ErrClosed", res.n, len(p), res.err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Write still blocked 3 s after Close")
	}
}
