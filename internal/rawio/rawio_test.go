//go:build linux

package rawio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// pair is a connected loopback TCP pair: a (with its raw Conn) and b.
func pair(t *testing.T) (net.Conn, *Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		got <- c
	}()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := <-got
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	r := New(a)
	if r == nil {
		t.Fatal("New returned nil for a TCP connection")
	}
	return a, r, b
}

func TestReadWrite(t *testing.T) {
	a, r, b := pair(t)
	if _, err := r.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(b, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("peer read %q, %v", buf, err)
	}
	// A read waits for bytes that come later.
	go func() {
		time.Sleep(20 * time.Millisecond)
		b.Write([]byte("world"))
	}()
	a.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := r.Read(buf)
	if err != nil || string(buf[:n]) != "world" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	if n, err := r.Read(nil); n != 0 || err != nil {
		t.Fatalf("empty read: %d, %v", n, err)
	}
	if n, err := r.Write(nil); n != 0 || err != nil {
		t.Fatalf("empty write: %d, %v", n, err)
	}
	// The peer's close is io.EOF.
	b.Close()
	if _, err := r.Read(buf); err != io.EOF {
		t.Fatalf("read after the peer closed: %v, want io.EOF", err)
	}
}

// A deadline ends a read with a timeout, as net.Conn's; a past deadline
// set while a read waits ends it at once.
func TestReadDeadline(t *testing.T) {
	a, r, _ := pair(t)
	a.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	start := time.Now()
	_, err := r.Read(make([]byte, 10))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v, want a timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the deadline ended the read after %v", d)
	}
	a.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() { _, err := r.Read(make([]byte, 10)); done <- err }()
	time.Sleep(20 * time.Millisecond)
	a.SetReadDeadline(time.Unix(1, 0))
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read cut by a past deadline: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a past deadline did not end the waiting read")
	}
	// Closing the connection ends a waiting read too.
	a.SetReadDeadline(time.Time{})
	go func() { _, err := r.Read(make([]byte, 10)); done <- err }()
	time.Sleep(20 * time.Millisecond)
	a.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read ended by Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the waiting read")
	}
}

// A write larger than the socket's buffers waits for room while the peer
// reads slowly, and all of it arrives in order.
func TestLargeWrite(t *testing.T) {
	_, r, b := pair(t)
	want := make([]byte, 8<<20)
	for i := range want {
		want[i] = byte(i * 7)
	}
	got := make(chan []byte, 1)
	go func() {
		b.SetReadDeadline(time.Now().Add(20 * time.Second))
		var all bytes.Buffer
		buf := make([]byte, 64<<10)
		for all.Len() < len(want) {
			n, err := b.Read(buf)
			all.Write(buf[:n])
			if err != nil {
				break
			}
			if all.Len() < 1<<20 {
				time.Sleep(time.Millisecond) // slow at first: the writer must wait
			}
		}
		got <- all.Bytes()
	}()
	n, err := r.Write(want)
	if err != nil || n != len(want) {
		t.Fatalf("wrote %d, %v", n, err)
	}
	if g := <-got; !bytes.Equal(g, want) {
		t.Fatalf("the peer got %d bytes, not the %d written in order", len(g), len(want))
	}
}

// A write to a peer that reset the connection fails, and keeps failing.
func TestWriteReset(t *testing.T) {
	_, r, b := pair(t)
	b.(*net.TCPConn).SetLinger(0)
	b.Close()
	var err error
	for i := 0; i < 50 && err == nil; i++ {
		_, err = r.Write(make([]byte, 64<<10))
		time.Sleep(time.Millisecond)
	}
	if err == nil {
		t.Fatal("writes to a reset connection kept succeeding")
	}
}

// Peek sees bytes without consuming them, and the peer's close; it never
// waits.
func TestPeek(t *testing.T) {
	a, r, b := pair(t)
	look := func() bool {
		var ready bool
		rc, _ := a.(*net.TCPConn).SyscallConn()
		rc.Read(func(fd uintptr) bool { ready = Peek(fd); return true })
		return ready
	}
	if look() {
		t.Fatal("Peek saw something on a quiet connection")
	}
	b.Write([]byte("x"))
	deadline := time.Now().Add(5 * time.Second)
	for !look() {
		if time.Now().After(deadline) {
			t.Fatal("Peek never saw the byte")
		}
		time.Sleep(time.Millisecond)
	}
	buf := make([]byte, 4)
	a.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := r.Read(buf); n != 1 || buf[0] != 'x' || err != nil {
		t.Fatalf("the peeked byte was consumed: read %q, %v", buf[:n], err)
	}
	b.Close()
	for !look() {
		if time.Now().After(deadline) {
			t.Fatal("Peek never saw the close")
		}
		time.Sleep(time.Millisecond)
	}
}

// Reads and writes allocate nothing (the reason for the package).
func TestNoAllocs(t *testing.T) {
	a, r, b := pair(t)
	a.SetReadDeadline(time.Now().Add(10 * time.Second))
	b.SetReadDeadline(time.Now().Add(10 * time.Second))
	msg, buf, pbuf := []byte("ping"), make([]byte, 16), make([]byte, 16)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := r.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(b, pbuf[:4]); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(r, buf[:4]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Fatalf("%v allocations per round trip", allocs)
	}
}

func TestNewWithoutDescriptor(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if New(a) != nil {
		t.Fatal("New offered raw calls on a net.Pipe")
	}
	// A wrapper that embeds a TCP connection has its own Read and Write.
	c, _, _ := pair(t)
	if New(struct{ *net.TCPConn }{c.(*net.TCPConn)}) != nil {
		t.Fatal("New went around a wrapper's Read and Write")
	}
}
