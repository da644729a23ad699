package deploy_test

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

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
func runApache(t *testing.T, apache, cfg, errorLog string) {
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
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			b, _ := os.ReadFile(errorLog)
			t.Logf("Apache's error log:\n%s", b)
		}
	})
}

// verdictWatch wraps Palisade's handler to count the verdict requests of
// Apache's module and note the X-Palisade-Cache of the last answer.
// standIn makes every 200 answer cacheable for 5 s, as Palisade says of a
// cacheable grant (engine.GrantCache) on the endpoints that send it; stall
// holds every verdict that long first, as an overloaded Palisade would.
type verdictWatch struct {
	h         http.Handler
	asks      atomic.Int64
	lastCache atomic.Value // string
	standIn   atomic.Bool
	stall     atomic.Int64 // time.Duration
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
	w.v.lastCache.Store(w.Header().Get("X-Palisade-Cache"))
	w.ResponseWriter.WriteHeader(code)
}
