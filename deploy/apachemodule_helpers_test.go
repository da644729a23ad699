package deploy_test

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/api/reuselog"
	"github.com/palisadehq/palisade/internal/testenv"
)

// buildApacheModule compiles deploy/apache/mod_palisade with apxs (Debian's
// apache2-dev) into a temporary directory, warnings as errors, and returns
// the module's path.
func buildApacheModule(t *testing.T) string {
	t.Helper()
	apxs := testenv.NeedBinary(t, "apxs", "/usr/bin/apxs")
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("apache", "mod_palisade", "mod_palisade.c"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mod_palisade.c"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(apxs, "-c", "-Wc,-Wall", "-Wc,-Werror", "mod_palisade.c")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("apxs -c mod_palisade.c: %v\n%s", err, out)
	}
	so := filepath.Join(dir, ".libs", "mod_palisade.so")
	if _, err := os.Stat(so); err != nil {
		t.Fatalf("apxs built no module: %v", err)
	}
	return so
}

// countedServer serves a handler on a fixed loopback address, counting the
// TCP connections it accepts, and can be stopped (every connection closed,
// as when Palisade goes down) and started again on the same address.
type countedServer struct {
	addr     string
	handler  http.Handler
	accepted atomic.Int64
	srv      *http.Server
}

func newCountedServer(t *testing.T, h http.Handler) *countedServer {
	t.Helper()
	c := &countedServer{addr: "127.0.0.1:0", handler: h}
	c.start(t)
	return c
}

func (c *countedServer) start(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", c.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	c.addr = ln.Addr().String()
	srv := &http.Server{Handler: c.handler, ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			c.accepted.Add(1)
		}
	}}
	c.srv = srv
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

func (c *countedServer) stop() { c.srv.Close() }

// runApache starts apache2 on the configuration file cfg in the foreground
// and stops it when the test ends, logging its error log if the test failed.
// Its result stops Apache gracefully (graceful-stop: requests in flight
// finish, every process exits through its cleanups) and waits for it.
func runApache(t *testing.T, apache, cfg, errorLog string) (gracefulStop func()) {
	t.Helper()
	if out, err := exec.Command(apache, "-f", cfg, "-t").CombinedOutput(); err != nil {
		t.Fatalf("apache2 -t: %v\n%s", err, out)
	}
	cmd := exec.Command(apache, "-f", cfg, "-DFOREGROUND")
	cmd.Stderr = os.Stderr
	// Its own process group: prefork's parent stops its children with
	// killpg(getpgrp()), which would otherwise stop the test too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(errorLog)
			t.Logf("Apache's error log:\n%s", b)
		}
	})
	return func() {
		t.Helper()
		_ = cmd.Process.Signal(syscall.SIGWINCH) // Apache's graceful-stop
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("Apache did not stop gracefully")
		}
	}
}

// verdictWatch wraps Palisade's handler to count the verdict requests of
// Apache's module and note the X-Palisade-Cache of the last answer.
// standIn makes every 200 answer cacheable for 5 s, as Palisade says of a
// cacheable grant (engine.GrantCache) on the endpoints that send it; stall
// holds every verdict that long first, as an overloaded Palisade would.
type verdictWatch struct {
	h          http.Handler
	asks       atomic.Int64
	lastCache  atomic.Value // string
	lastReason atomic.Value // string: X-Palisade-Reason of the last answer
	standIn    atomic.Bool
	noReuse    atomic.Bool  // every answer says X-Palisade-Cache: 0
	stall      atomic.Int64 // time.Duration
}

func (v *verdictWatch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/forward-auth/apache" {
		v.h.ServeHTTP(w, r)
		return
	}
	v.asks.Add(1)
	if d := time.Duration(v.stall.Load()); d > 0 {
		time.Sleep(d)
	}
	v.h.ServeHTTP(&watchedWriter{ResponseWriter: w, v: v}, r)
}

type watchedWriter struct {
	http.ResponseWriter
	v *verdictWatch
}

func (w *watchedWriter) WriteHeader(code int) {
	if code == http.StatusOK && w.v.standIn.Load() {
		w.Header().Set("X-Palisade-Cache", "5")
	}
	if w.v.noReuse.Load() {
		w.Header().Set("X-Palisade-Cache", "0")
	}
	w.v.lastCache.Store(w.Header().Get("X-Palisade-Cache"))
	w.v.lastReason.Store(w.Header().Get("X-Palisade-Reason"))
	w.ResponseWriter.WriteHeader(code)
}

// reuseListener is Palisade's report listener (palisade serve
// --reuse-addr) with a witness: a UDP socket on loopback that checks every
// datagram against the wire format itself (at most 8 KiB; lines of an
// optional syslog prefix then "v1 <server key> <reason> <count>", count
// 1..1000000), adds up the counts per server key and reason, and hands the
// datagram to Palisade's own reuselog.Listener, which counts it into the
// website's statistics.
type reuseListener struct {
	conn *net.UDPConn
	pal  *reuselog.Listener
	mu   sync.Mutex
	sums map[string]int64 // "key reason"
	bad  []string         // what did not follow the wire format
	last time.Time        // when the last datagram came
}

var reuseLine = regexp.MustCompile(`^(?:<[0-9]{1,3}>.*palisade_reused: )?v1 ([^ ]+) ([^ ]+) ([0-9]+)$`)

func newReuseListener(t *testing.T, pal *reuselog.Listener) *reuseListener {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	l := &reuseListener{conn: conn, pal: pal, sums: map[string]int64{}}
	done := make(chan struct{})
	t.Cleanup(func() { conn.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			l.add(buf[:n])
			l.pal.Handle(from.Addr(), buf[:n])
		}
	}()
	return l
}

func (l *reuseListener) addr() string { return l.conn.LocalAddr().String() }

func (l *reuseListener) add(d []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last = time.Now()
	if len(d) > 8192 {
		l.bad = append(l.bad, "a datagram of "+strconv.Itoa(len(d))+" bytes")
	}
	for _, line := range regexp.MustCompile("\n").Split(string(d), -1) {
		if line == "" {
			continue
		}
		m := reuseLine.FindStringSubmatch(line)
		if m == nil {
			l.bad = append(l.bad, line)
			continue
		}
		n, err := strconv.ParseInt(m[3], 10, 64)
		if err != nil || n < 1 || n > 1_000_000 {
			l.bad = append(l.bad, line)
			continue
		}
		l.sums[m[1]+" "+m[2]] += n
	}
}

// quiet waits until no datagram has come for 2 s since it was called (the
// module reports about every second), then forgets every count so far and
// returns what it forgot.
func (l *reuseListener) quiet(t *testing.T) map[string]int64 {
	t.Helper()
	start := time.Now()
	deadline := start.Add(30 * time.Second)
	for {
		l.mu.Lock()
		last := l.last
		l.mu.Unlock()
		if last.Before(start) {
			last = start
		}
		if time.Since(last) >= 2*time.Second {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("reports of reused grants never stop")
		}
		time.Sleep(100 * time.Millisecond)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.sums
	l.sums = map[string]int64{}
	return old
}

// snapshot returns the counts so far and the lines that broke the format.
func (l *reuseListener) snapshot() (map[string]int64, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make(map[string]int64, len(l.sums))
	for k, v := range l.sums {
		m[k] = v
	}
	return m, append([]string(nil), l.bad...)
}
